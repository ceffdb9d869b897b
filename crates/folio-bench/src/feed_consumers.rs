//! Change-feed consumers running beside a workload (`folio bench --subscribers N`): each is
//! a registered subscriber whose thread follows the feed, acknowledges as it goes, and
//! records how far behind the latest commit it fell.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use folio::Database;

/// Changes between acknowledgements.
const ACK_EVERY: u64 = 256;
/// Changes between two samples of the lag (a read transaction each).
const LAG_EVERY: u64 = 16;

/// The consumer threads; dropping them stops and joins them.
#[derive(Debug)]
pub(crate) struct FeedConsumers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The most commits any consumer was behind the published version when it sampled.
    max_lag: Arc<AtomicU64>,
    /// Changes delivered, all consumers together.
    delivered: Arc<AtomicU64>,
    consumers: usize,
}

impl FeedConsumers {
    /// Registers `count` subscribers of `db` and starts a thread following each one's feed.
    pub(crate) fn start(db: &Database, count: usize) -> folio::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let max_lag = Arc::new(AtomicU64::new(0));
        let delivered = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for index in 0..count {
            let name = format!("bench-{index}");
            let start = db.register_subscriber(&name)?;
            let feed = db.changes(start)?;
            let (db, stop, max_lag, delivered) = (
                db.clone(),
                Arc::clone(&stop),
                Arc::clone(&max_lag),
                Arc::clone(&delivered),
            );
            let thread = std::thread::Builder::new()
                .name(format!("feed-{index}"))
                .spawn(move || follow(&db, &name, feed, &stop, &max_lag, &delivered))
                .expect("spawning a change-feed consumer");
            threads.push(thread);
        }
        Ok(Self {
            stop,
            threads,
            max_lag,
            delivered,
            consumers: count,
        })
    }
}

fn follow(
    db: &Database,
    name: &str,
    mut feed: folio::Changes,
    stop: &AtomicBool,
    max_lag: &AtomicU64,
    delivered: &AtomicU64,
) {
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        match feed.next_timeout(Duration::from_millis(20)) {
            Ok(Some(change)) => {
                count += 1;
                if count.is_multiple_of(LAG_EVERY) {
                    let lag = db.begin_read().version().saturating_sub(change.lsn);
                    max_lag.fetch_max(lag, Ordering::Relaxed);
                }
                if count.is_multiple_of(ACK_EVERY) {
                    let _ = db.acknowledge(name, change.lsn);
                }
            }
            Ok(None) => {}
            Err(error) => {
                eprintln!("change-feed consumer {name} stopped: {error}");
                break;
            }
        }
    }
    delivered.fetch_add(count, Ordering::Relaxed);
}

impl Drop for FeedConsumers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        eprintln!(
            "change feed: {} consumers, {} changes delivered, at most {} commits behind",
            self.consumers,
            self.delivered.load(Ordering::Relaxed),
            self.max_lag.load(Ordering::Relaxed)
        );
    }
}
