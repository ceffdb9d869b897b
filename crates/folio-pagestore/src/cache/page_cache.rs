//! [`PageCache`]: pages sharded by id over independently locked shards.

use super::shard::{SLOT_OVERHEAD_BYTES, Shard};
use crate::sync::Mutex;
use crate::{Page, PageId};

/// A snapshot of the cache's counters. Byte figures are exact sums over cached pages (page
/// bytes plus a fixed bookkeeping cost per page, [`CacheStats::overhead_bytes_per_page`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Cached pages.
    pub pages: usize,
    /// Bytes held by clean (evictable) pages.
    pub clean_bytes: usize,
    /// Bytes held by dirty (pinned) pages.
    pub dirty_bytes: usize,
    /// Dirty pages.
    pub dirty_pages: usize,
    /// The configured budget.
    pub budget_bytes: usize,
    /// Lookups that found their page.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Clean pages evicted for space.
    pub evictions: u64,
    /// Bookkeeping bytes counted per page on top of its contents.
    pub overhead_bytes_per_page: usize,
}

impl CacheStats {
    /// All bytes the cache holds.
    pub fn total_bytes(&self) -> usize {
        self.clean_bytes + self.dirty_bytes
    }
}

/// The page cache. A page's shard is chosen by a hash of its id; each operation locks one
/// shard, except the flush's dirty-page collection, which visits them one at a time.
#[derive(Debug)]
pub(crate) struct PageCache {
    shards: Box<[Mutex<Shard>]>,
    shard_mask: u64,
    budget_bytes: usize,
    /// Sum of the shards' dirty bytes, kept in step under each shard's lock, so the layer
    /// above can check its dirty bound on every commit without locking every shard.
    dirty_bytes: std::sync::atomic::AtomicUsize,
}

impl PageCache {
    /// A cache of `budget_bytes` over `shards` shards (a power of two); each shard gets an
    /// equal share of the budget, and charges `shared` (when given) with what it holds.
    pub(crate) fn new(
        budget_bytes: usize,
        shards: usize,
        shared: Option<&crate::MemoryBudget>,
    ) -> Self {
        debug_assert!(shards.is_power_of_two());
        let per_shard = budget_bytes / shards;
        Self {
            shards: (0..shards)
                .map(|_| Mutex::new(Shard::new(per_shard, shared.cloned())))
                .collect(),
            shard_mask: shards as u64 - 1,
            budget_bytes,
            dirty_bytes: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Runs `op` on `id`'s shard and carries the change of its dirty bytes into the total.
    fn with_shard<R>(&self, id: PageId, op: impl FnOnce(&mut Shard) -> R) -> R {
        use std::sync::atomic::Ordering;
        let mut shard = self.shard(id).lock();
        let before = shard.dirty_bytes;
        let result = op(&mut shard);
        let after = shard.dirty_bytes;
        if after > before {
            self.dirty_bytes
                .fetch_add(after - before, Ordering::Relaxed);
        } else if before > after {
            self.dirty_bytes
                .fetch_sub(before - after, Ordering::Relaxed);
        }
        result
    }

    /// Bytes held by dirty pages, without locking the shards.
    pub(crate) fn dirty_bytes(&self) -> usize {
        self.dirty_bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn shard(&self, id: PageId) -> &Mutex<Shard> {
        &self.shards[self.shard_index(id)]
    }

    fn shard_index(&self, id: PageId) -> usize {
        // Fibonacci hashing spreads consecutive ids (the common case) over all shards.
        let hash = id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        (hash & self.shard_mask) as usize
    }

    pub(crate) fn get(&self, id: PageId) -> Option<Page> {
        self.shard(id).lock().get(id)
    }

    pub(crate) fn insert_clean(&self, id: PageId, page: Page) -> Page {
        self.shard(id).lock().insert_clean(id, page)
    }

    #[cfg(test)]
    pub(crate) fn put_dirty(&self, id: PageId, page: Page) {
        self.with_shard(id, |shard| shard.put_dirty(id, page));
    }

    /// [`PageCache::put_dirty`] for each page, locking each shard once (a commit hands
    /// over hundreds of pages; writers contend on the shards and the dirty total otherwise).
    pub(crate) fn put_dirty_batch(&self, pages: impl Iterator<Item = (PageId, Page)>) {
        let mut pages: Vec<(usize, PageId, Page)> = pages
            .map(|(id, page)| (self.shard_index(id), id, page))
            .collect();
        pages.sort_unstable_by_key(|(shard, _, _)| *shard);
        let mut pages = pages.into_iter().peekable();
        let (mut added, mut removed) = (0, 0);
        while let Some((shard_index, id, page)) = pages.next() {
            let mut shard = self.shards[shard_index].lock();
            let before = shard.dirty_bytes;
            shard.put_dirty(id, page);
            while let Some((_, id, page)) = pages.next_if(|(s, _, _)| *s == shard_index) {
                shard.put_dirty(id, page);
            }
            let after = shard.dirty_bytes;
            if after >= before {
                added += after - before;
            } else {
                removed += before - after;
            }
        }
        self.adjust_dirty(added, removed);
    }

    /// Drops `ids` from the cache, locking each shard once; returns the pages dropped.
    pub(crate) fn discard_batch(&self, ids: &mut [PageId]) -> Vec<Page> {
        ids.sort_unstable_by_key(|id| self.shard_index(*id));
        let mut dropped = Vec::with_capacity(ids.len());
        let (mut added, mut removed) = (0, 0);
        for run in ids.chunk_by(|a, b| self.shard_index(*a) == self.shard_index(*b)) {
            let mut shard = self.shards[self.shard_index(run[0])].lock();
            let before = shard.dirty_bytes;
            dropped.extend(run.iter().filter_map(|id| shard.discard(*id)));
            let after = shard.dirty_bytes;
            if after >= before {
                added += after - before;
            } else {
                removed += before - after;
            }
        }
        self.adjust_dirty(added, removed);
        dropped
    }

    fn adjust_dirty(&self, added: usize, removed: usize) {
        use std::sync::atomic::Ordering;
        if added > removed {
            self.dirty_bytes
                .fetch_add(added - removed, Ordering::Relaxed);
        } else if removed > added {
            self.dirty_bytes
                .fetch_sub(removed - added, Ordering::Relaxed);
        }
    }

    /// Drops page `id` from the cache; returns it.
    pub(crate) fn discard(&self, id: PageId) -> Option<Page> {
        self.with_shard(id, |shard| shard.discard(id))
    }

    /// Every dirty page with the generation a later [`PageCache::mark_clean`] must match.
    pub(crate) fn dirty_pages(&self) -> Vec<(PageId, Page, u64)> {
        let mut out = Vec::new();
        for shard in &*self.shards {
            shard.lock().collect_dirty(&mut out);
        }
        out
    }

    pub(crate) fn mark_clean(&self, flushed: &[(PageId, u64)]) {
        for &(id, generation) in flushed {
            self.with_shard(id, |shard| shard.mark_clean(id, generation));
        }
        for shard in &*self.shards {
            shard.lock().evict_over_budget();
        }
    }

    /// Drops every page, dirty ones included (the store is closing).
    pub(crate) fn clear(&self) {
        for shard in &*self.shards {
            let mut locked = shard.lock();
            locked.release_all();
            let (share, budget) = (locked.budget_bytes, locked.shared().cloned());
            *locked = Shard::new(share, budget);
        }
        self.dirty_bytes
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// `Some(true)` when `id` is cached and dirty, `Some(false)` when cached and clean.
    pub(crate) fn is_dirty(&self, id: PageId) -> Option<bool> {
        self.shard(id).lock().is_dirty(id)
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            budget_bytes: self.budget_bytes,
            overhead_bytes_per_page: SLOT_OVERHEAD_BYTES,
            ..CacheStats::default()
        };
        for shard in &*self.shards {
            let shard = shard.lock();
            stats.pages += shard.len();
            stats.clean_bytes += shard.clean_bytes;
            stats.dirty_bytes += shard.dirty_bytes;
            stats.dirty_pages += shard.dirty_pages;
            stats.hits += shard.hits;
            stats.misses += shard.misses;
            stats.evictions += shard.evictions;
        }
        stats
    }
}

impl Drop for PageCache {
    /// Gives the shared budget back what this cache held.
    fn drop(&mut self) {
        for shard in &*self.shards {
            shard.lock().release_all();
        }
    }
}

#[cfg(all(test, not(folio_loom)))]
mod tests {
    use super::*;
    use crate::PageBuf;

    fn page(id: u64, fill: u8) -> Page {
        let mut buf = PageBuf::zeroed(4096);
        buf.payload_mut().fill(fill);
        buf.seal(PageId(id))
    }

    #[test]
    fn caches_sharing_a_budget_stay_within_it_together_and_give_it_back() {
        let page_cost = 4096 + SLOT_OVERHEAD_BYTES;
        let shared = crate::MemoryBudget::new(32 * page_cost);
        let a = PageCache::new(1 << 30, 4, Some(&shared));
        let b = PageCache::new(1 << 30, 4, Some(&shared));
        for id in 0..200 {
            a.insert_clean(PageId(id), page(id, 1));
            b.insert_clean(PageId(id), page(id, 2));
            assert!(shared.used_bytes() <= 32 * page_cost, "over at {id}");
        }
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!(sa.total_bytes() + sb.total_bytes(), shared.used_bytes());
        assert!(sa.evictions > 0 && sb.evictions > 0);
        // Dirty pages are pinned: they may pass the budget, and are counted.
        for id in 1000..1040 {
            a.put_dirty(PageId(id), page(id, 3));
        }
        assert_eq!(a.stats().dirty_pages, 40);
        assert_eq!(
            a.stats().total_bytes() + b.stats().total_bytes(),
            shared.used_bytes()
        );
        drop(a);
        b.clear();
        assert_eq!(shared.used_bytes(), 0);
    }

    #[test]
    fn clean_pages_are_evicted_to_the_budget_and_dirty_ones_are_pinned() {
        let cache = PageCache::new(16 * (4096 + SLOT_OVERHEAD_BYTES), 1, None);
        for id in 0..8 {
            cache.put_dirty(PageId(id), page(id, 1));
        }
        for id in 8..100 {
            cache.insert_clean(PageId(id), page(id, 2));
        }
        let stats = cache.stats();
        assert!(stats.total_bytes() <= stats.budget_bytes, "{stats:?}");
        assert_eq!(stats.dirty_pages, 8);
        for id in 0..8 {
            assert_eq!(
                cache.is_dirty(PageId(id)),
                Some(true),
                "dirty page {id} evicted"
            );
        }
        assert!(stats.evictions >= 100 - 16);
    }

    #[test]
    fn all_dirty_cache_exceeds_budget_rather_than_losing_data() {
        let cache = PageCache::new(16 * (4096 + SLOT_OVERHEAD_BYTES), 1, None);
        for id in 0..40 {
            cache.put_dirty(PageId(id), page(id, 1));
        }
        let stats = cache.stats();
        assert_eq!(stats.dirty_pages, 40);
        assert!(stats.total_bytes() > stats.budget_bytes);
        let flushed: Vec<_> = cache
            .dirty_pages()
            .into_iter()
            .map(|(id, _, generation)| (id, generation))
            .collect();
        cache.mark_clean(&flushed);
        let stats = cache.stats();
        assert_eq!(stats.dirty_pages, 0);
        assert!(
            stats.total_bytes() <= stats.budget_bytes,
            "evicted after flush"
        );
    }

    /// Regression (found by the W1 benchmark collapsing from 21K to 4K ops/s): with the
    /// cache over budget and full of dirty pages, every insert walked all of them looking
    /// for something to evict. Dirty pages must stay out of the eviction queue.
    #[test]
    fn dirty_pages_never_enter_the_eviction_queue() {
        let cache = PageCache::new(16 * (4096 + SLOT_OVERHEAD_BYTES), 1, None);
        for id in 0..2_000 {
            cache.put_dirty(PageId(id), page(id, 1));
        }
        assert_eq!(cache.shards[0].lock().queued(), 0);
        cache.insert_clean(PageId(5_000), page(5_000, 2));
        assert!(cache.shards[0].lock().queued() <= 1);
        let flushed: Vec<_> = cache
            .dirty_pages()
            .into_iter()
            .map(|(id, _, g)| (id, g))
            .collect();
        cache.mark_clean(&flushed);
        let stats = cache.stats();
        assert!(
            stats.total_bytes() <= stats.budget_bytes,
            "clean pages evictable again"
        );
    }

    #[test]
    fn a_page_replaced_during_a_flush_stays_dirty() {
        let cache = PageCache::new(1 << 20, 4, None);
        cache.put_dirty(PageId(1), page(1, 1));
        let snapshot = cache.dirty_pages();
        cache.put_dirty(PageId(1), page(1, 2)); // rewritten while the flush writes
        let flushed: Vec<_> = snapshot.iter().map(|(id, _, g)| (*id, *g)).collect();
        cache.mark_clean(&flushed);
        assert_eq!(cache.is_dirty(PageId(1)), Some(true));
        assert_eq!(cache.get(PageId(1)).unwrap()[0], 2);
    }

    #[test]
    fn byte_accounting_is_exact_through_every_transition() {
        let cache = PageCache::new(1 << 30, 8, None);
        let cost = 4096 + SLOT_OVERHEAD_BYTES;
        for id in 0..10 {
            cache.insert_clean(PageId(id), page(id, 0));
        }
        for id in 5..15 {
            cache.put_dirty(PageId(id), page(id, 1));
        }
        cache.discard(PageId(0));
        cache.discard(PageId(14));
        let stats = cache.stats();
        assert_eq!(stats.pages, 13);
        assert_eq!(stats.dirty_pages, 9);
        assert_eq!(stats.dirty_bytes, 9 * cost);
        assert_eq!(stats.clean_bytes, 4 * cost);
        // Reinserting a cached id as clean keeps the existing (dirty) page.
        let kept = cache.insert_clean(PageId(5), page(5, 9));
        assert_eq!(kept[0], 1);
        assert_eq!(
            cache.dirty_bytes(),
            stats.dirty_bytes,
            "the lock-free total agrees"
        );
        assert_eq!(cache.stats(), stats.with_lookups(&cache.stats()));
    }

    impl CacheStats {
        fn with_lookups(mut self, other: &CacheStats) -> CacheStats {
            self.hits = other.hits;
            self.misses = other.misses;
            self
        }
    }
}
