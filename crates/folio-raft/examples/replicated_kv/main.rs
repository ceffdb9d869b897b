//! `cargo run -p folio-raft --example replicated_kv`: three openraft nodes, each on its own
//! folio database, in one process over an in-memory network. Elects a leader, writes
//! through it, kills it, writes through the new leader, restarts the killed node from its
//! directory and checks that every node holds every acknowledged put.

mod cluster;

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    let dir = tempfile::tempdir()?;
    let report = cluster::run_scenario(dir.path(), 50).await?;
    println!(
        "leader {} elected, then killed; node {} took over; {} acknowledged puts on all three \
         nodes after the killed one restarted from its directory{}",
        report.first_leader,
        report.second_leader,
        report.acknowledged,
        if report.restarted_installed_snapshot {
            " (it caught up by installing a snapshot)"
        } else {
            ""
        }
    );
    Ok(())
}
