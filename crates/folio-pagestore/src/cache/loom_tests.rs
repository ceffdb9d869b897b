//! Loom models of the cache's flush protocol: a checkpoint snapshots dirty pages, writes
//! them, then marks them clean only if they were not replaced meanwhile. A lost update here
//! would let a rewritten page be evicted unwritten: silent data loss.

use loom::thread;
use std::sync::Arc;

use super::PageCache;
use crate::{Page, PageBuf, PageId};

fn page(id: u64, fill: u8) -> Page {
    let mut buf = PageBuf::zeroed(4096);
    buf.payload_mut()[0] = fill;
    buf.seal(PageId(id))
}

/// One flusher and one writer rewriting the same page: afterwards the page is either clean
/// holding what the flusher wrote, or dirty (so a later flush writes the rewrite).
#[test]
fn loom_rewrite_during_flush_is_never_marked_clean() {
    loom::model(|| {
        let cache = Arc::new(PageCache::new(1 << 20, 2, None));
        cache.put_dirty(PageId(1), page(1, 1));

        let flusher = {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                let snapshot = cache.dirty_pages();
                let written: Vec<(PageId, u8)> = snapshot
                    .iter()
                    .map(|(id, page, _)| (*id, page[0]))
                    .collect();
                let flushed: Vec<_> = snapshot.iter().map(|(id, _, g)| (*id, *g)).collect();
                cache.mark_clean(&flushed);
                written
            })
        };
        let writer = {
            let cache = Arc::clone(&cache);
            thread::spawn(move || cache.put_dirty(PageId(1), page(1, 2)))
        };
        let written = flusher.join().unwrap();
        writer.join().unwrap();

        let current = cache.get(PageId(1)).expect("dirty pages are never evicted")[0];
        if cache.is_dirty(PageId(1)) == Some(false) {
            assert!(
                written.contains(&(PageId(1), current)),
                "page marked clean but its current contents ({current}) were never written"
            );
        }
        assert_eq!(current, 2, "the later write is what the cache holds");
    });
}

/// Two writers on different shards and a concurrent stats reader: accounting stays exact.
#[test]
fn loom_concurrent_writers_keep_accounting_exact() {
    loom::model(|| {
        let cache = Arc::new(PageCache::new(1 << 20, 2, None));
        let handles: Vec<_> = (0..2u64)
            .map(|t| {
                let cache = Arc::clone(&cache);
                thread::spawn(move || {
                    cache.put_dirty(PageId(t), page(t, 1));
                    cache.put_dirty(PageId(t), page(t, 2));
                })
            })
            .collect();
        let _ = cache.stats();
        for handle in handles {
            handle.join().unwrap();
        }
        let stats = cache.stats();
        assert_eq!(stats.pages, 2);
        assert_eq!(stats.dirty_pages, 2);
        assert_eq!(
            stats.dirty_bytes,
            2 * (4096 + super::shard::SLOT_OVERHEAD_BYTES)
        );
    });
}
