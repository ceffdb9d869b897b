//! [`ReaderTable`]: the versions live readers see, sharded by thread so that beginning and
//! ending a read touches only the calling thread's shard (no lock or cache line shared by
//! all readers).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam::utils::CachePadded;
use folio_wal::Lsn;
use parking_lot::Mutex;

/// Shards; threads beyond it share (each shard's lock is held for a map update only).
const SHARDS: usize = 32;

/// No reader in a shard.
const NONE: u64 = u64::MAX;

#[derive(Debug, Default)]
struct Shard {
    /// Live readers: (version, count), ascending by version. A shard holds few versions
    /// at a time, and a `Vec` keeps its memory: registering allocates nothing.
    versions: Mutex<Vec<(Lsn, u32)>>,
    /// The oldest version in `versions` (`NONE` when empty), readable without the lock.
    oldest: AtomicU64,
}

/// Live readers' versions in per-thread shards.
#[derive(Debug)]
pub(crate) struct ReaderTable {
    shards: Box<[CachePadded<Shard>]>,
}

/// Assigns threads to shards round-robin, once per thread.
fn this_thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

impl ReaderTable {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    CachePadded::new(Shard {
                        versions: Mutex::new(Vec::new()),
                        oldest: AtomicU64::new(NONE),
                    })
                })
                .collect(),
        }
    }

    /// Registers a reader of `version` in the calling thread's shard; returns the shard.
    pub(crate) fn register(&self, version: Lsn) -> usize {
        let index = this_thread_shard();
        let shard = &self.shards[index];
        let mut versions = shard.versions.lock();
        match versions.binary_search_by_key(&version, |(v, _)| *v) {
            Ok(at) => versions[at].1 += 1,
            Err(at) => versions.insert(at, (version, 1)),
        }
        shard.oldest.store(versions[0].0, Ordering::SeqCst);
        index
    }

    /// Unregisters a reader of `version` from shard `index`.
    pub(crate) fn unregister(&self, index: usize, version: Lsn) {
        let shard = &self.shards[index];
        let mut versions = shard.versions.lock();
        if let Ok(at) = versions.binary_search_by_key(&version, |(v, _)| *v) {
            versions[at].1 -= 1;
            if versions[at].1 == 0 {
                versions.remove(at);
            }
        }
        let oldest = versions.first().map_or(NONE, |(v, _)| *v);
        shard.oldest.store(oldest, Ordering::SeqCst);
    }

    /// The oldest version any live reader sees.
    pub(crate) fn oldest(&self) -> Option<Lsn> {
        self.shards
            .iter()
            .map(|shard| shard.oldest.load(Ordering::SeqCst))
            .min()
            .filter(|&oldest| oldest != NONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_reader_is_found_across_threads_and_shards() {
        let table = std::sync::Arc::new(ReaderTable::new());
        assert_eq!(table.oldest(), None);
        let registered: Vec<(usize, Lsn)> = (0..40u64)
            .map(|i| {
                let table = std::sync::Arc::clone(&table);
                std::thread::spawn(move || (table.register(100 + i), 100 + i))
                    .join()
                    .unwrap()
            })
            .collect();
        assert_eq!(table.oldest(), Some(100));
        let shard_of_100 = registered[0].0;
        table.register(100); // two readers of 100 in this thread's shard
        table.unregister(shard_of_100, 100);
        assert_eq!(table.oldest(), Some(100), "another reader of 100 is live");
        table.unregister(this_thread_shard(), 100);
        assert_eq!(table.oldest(), Some(101));
        for (shard, version) in &registered[1..] {
            table.unregister(*shard, *version);
        }
        assert_eq!(table.oldest(), None);
    }
}
