//! `cargo run -p folio-raft --example replicated_kv`: three openraft nodes, each on its own
//! folio database and (simulated) disk, in one process over an in-memory network. Elects a
//! leader, writes through it, kills it with a power cut, writes through the new leader,
//! restarts the killed node from what its disk kept and checks that every node holds every
//! acknowledged put.

mod cluster;

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    let report = cluster::run_scenario(50).await?;
    println!(
        "leader {} elected, then killed; node {} took over; {} acknowledged puts on all three \
         nodes after the killed one restarted from its disk{}",
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
