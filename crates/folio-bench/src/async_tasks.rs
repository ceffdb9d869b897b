//! W2 with async tasks instead of threads: `tasks` tokio tasks, each committing `commits`
//! durable transactions of `batch` inserts to its own column family through
//! [`folio::Database::write_async_with`], on a multi-thread runtime with one worker per core.
//! The thread version is W2 itself; the two rows side by side show what an async service
//! gains by not holding a thread per in-flight sync.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use folio::{Durability, WriteBatch};

use crate::workloads::{Measured, VALUE_BYTES, random_value, timed};
use crate::{BenchResult, FolioEngine, Latencies, Row, SyncMode};

/// Task counts of the comparison: 128 (W2's most threads) and 1,000.
pub const TASK_COUNTS: [usize; 2] = [128, 1_000];

/// The row's variant: W2's, marked as tasks.
pub fn variant(batch: usize) -> String {
    format!("durable, {batch} per txn, tokio tasks")
}

/// Runs W2 with `tasks` tokio tasks on folio opened in `dir` with `cache_bytes` of cache.
pub fn w2_tasks(
    dir: &Path,
    cache_bytes: usize,
    tasks: usize,
    commits: usize,
    batch: usize,
) -> BenchResult<Row> {
    let engine = FolioEngine::open_concrete(dir, cache_bytes)?;
    let folio = engine.database().clone();
    let own = |i: usize| format!("cf-{i}");
    for i in 0..tasks {
        folio.create_cf_if_missing(&own(i))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().build()?;
    timed(
        &engine,
        "W2",
        &variant(batch),
        tasks,
        SyncMode::Sync,
        || {
            let begun = Instant::now();
            let per_task = runtime.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|i| {
                        let db = folio.clone();
                        let name: Arc<str> = own(i).into();
                        tokio::spawn(async move {
                            let mut rng = fastrand::Rng::with_seed(i as u64 + 1);
                            let mut latencies = Latencies::default();
                            for _ in 0..commits {
                                let mut batch_of = WriteBatch::new();
                                for _ in 0..batch {
                                    batch_of.put(
                                        &*name,
                                        &rng.u64(..).to_be_bytes(),
                                        &random_value(&mut rng),
                                    );
                                }
                                let started = Instant::now();
                                db.write_async_with(batch_of, Durability::Immediate).await?;
                                latencies.push(started.elapsed());
                            }
                            Ok::<_, folio::Error>(latencies)
                        })
                    })
                    .collect();
                let mut all = Vec::with_capacity(tasks);
                for handle in handles {
                    all.push(handle.await);
                }
                all
            });
            let elapsed = begun.elapsed();
            let latencies = per_task
                .into_iter()
                .map(|task| -> BenchResult<Latencies> {
                    Ok(task.map_err(|panic| format!("a W2 task panicked: {panic}"))??)
                })
                .collect::<BenchResult<Latencies>>()?;
            Ok(Measured {
                entry_bytes: 8 + VALUE_BYTES as u64,
                ops: (tasks * commits * batch) as u64,
                commits: (tasks * commits) as u64,
                elapsed,
                latencies,
            })
        },
    )
}
