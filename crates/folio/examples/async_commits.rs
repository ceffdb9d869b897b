//! Async commits on tokio (`cargo run -p folio --features async --example async_commits`):
//! 1,000 tasks each commit durably; no runtime thread waits for a sync (the log's syncer
//! thread leads the rounds and wakes the tasks).

use folio::{Database, Durability, WriteBatch};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    db.create_cf("events")?;

    let mut tasks = Vec::new();
    for i in 0..1_000u64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            // A transaction: keep it within one poll (no `.await` before the commit).
            let mut txn = db.begin_write_async(&["events"]).await?;
            txn.put("events", &i.to_be_bytes(), b"happened")?;
            txn.commit_async_with(Durability::Immediate).await
        }));
    }
    for task in tasks {
        task.await??;
    }

    // A batch, and a commit made `Eventual` whose durability is awaited later.
    let mut batch = WriteBatch::new();
    batch.put("events", b"last", b"batch");
    let lsn = db.write_async_with(batch, Durability::Eventual).await?;
    db.durable(lsn).await?;

    let count = db.begin_read().tree("events")?.len();
    println!(
        "{count} events, all durable; log syncs: {}",
        db.stats().wal.commit.syncs
    );
    Ok(())
}
