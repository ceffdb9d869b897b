//! One cache shard: a map from page id to page, CLOCK eviction of clean pages, exact byte
//! accounting. Dirty pages are pinned: eviction skips them.

use std::collections::{HashMap, VecDeque};

use crate::{Page, PageId};

/// Bookkeeping bytes per cached page beyond the page itself: the map entry, the CLOCK queue
/// entry, the `Arc` header, and the hash table's control byte with its spare capacity.
pub(crate) const SLOT_OVERHEAD_BYTES: usize = std::mem::size_of::<(PageId, Slot)>()
    + std::mem::size_of::<PageId>()
    + 2 * std::mem::size_of::<usize>()
    + 8;

#[derive(Debug)]
pub(crate) struct Slot {
    page: Page,
    /// `Some(generation)` while dirty; a flush marks the page clean only if the generation it
    /// wrote is still current (the page was not replaced meanwhile).
    dirty: Option<u64>,
    /// CLOCK reference bit.
    referenced: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Shard {
    map: HashMap<PageId, Slot, crate::id_hash::IdBuild>,
    /// CLOCK order of *clean* pages: a page joins when it is read in or marked clean, so
    /// eviction never walks pinned dirty pages (which made every insert O(dirty pages) once
    /// the cache was full of them). May hold ids that left `map` or became dirty (skipped
    /// and dropped; the queue is rebuilt when it grows past `2 * map.len() + 64`).
    clock: VecDeque<PageId>,
    pub(crate) budget_bytes: usize,
    pub(crate) clean_bytes: usize,
    pub(crate) dirty_bytes: usize,
    pub(crate) dirty_pages: usize,
    next_generation: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) evictions: u64,
    /// A budget shared with other stores, charged with every byte this shard holds.
    shared: Option<crate::MemoryBudget>,
}

impl Shard {
    pub(crate) fn new(budget_bytes: usize, shared: Option<crate::MemoryBudget>) -> Self {
        Self {
            budget_bytes,
            shared,
            ..Self::default()
        }
    }

    /// The shared budget this shard charges, if any.
    pub(crate) fn shared(&self) -> Option<&crate::MemoryBudget> {
        self.shared.as_ref()
    }

    /// Gives back to the shared budget everything this shard holds (it is being dropped).
    pub(crate) fn release_all(&mut self) {
        self.release(self.clean_bytes + self.dirty_bytes);
    }

    fn charge(&self, bytes: usize) {
        if let Some(shared) = &self.shared {
            shared.charge(bytes);
        }
    }

    fn release(&self, bytes: usize) {
        if let Some(shared) = &self.shared {
            shared.release(bytes);
        }
    }

    /// True while this shard is over its own share or the shared budget is exceeded.
    fn over_budget(&self) -> bool {
        self.clean_bytes + self.dirty_bytes > self.budget_bytes
            || self
                .shared
                .as_ref()
                .is_some_and(crate::MemoryBudget::is_exceeded)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Entries in the eviction queue (for tests).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.clock.len()
    }

    fn cost(page: &Page) -> usize {
        page.memory_bytes() + SLOT_OVERHEAD_BYTES
    }

    pub(crate) fn get(&mut self, id: PageId) -> Option<Page> {
        if let Some(slot) = self.map.get_mut(&id) {
            // Written only when clear: a hot page's slot stays unmodified by its hits.
            if !slot.referenced {
                slot.referenced = true;
            }
            self.hits += 1;
            Some(slot.page.clone())
        } else {
            self.misses += 1;
            None
        }
    }

    /// Inserts a page read from storage, unless the id is already cached (a concurrent reader
    /// or a writer got there first: theirs wins). Returns the cached page.
    pub(crate) fn insert_clean(&mut self, id: PageId, page: Page) -> Page {
        if let Some(slot) = self.map.get(&id) {
            return slot.page.clone();
        }
        let cost = Self::cost(&page);
        self.clean_bytes += cost;
        self.charge(cost);
        self.map.insert(
            id,
            Slot {
                page: page.clone(),
                dirty: None,
                referenced: false,
            },
        );
        self.push_clock(id);
        self.evict_over_budget();
        page
    }

    /// Inserts or replaces a page as dirty (pinned until a flush marks it clean).
    pub(crate) fn put_dirty(&mut self, id: PageId, page: Page) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let cost = Self::cost(&page);
        let slot = Slot {
            page,
            dirty: Some(generation),
            referenced: true,
        };
        if let Some(old) = self.map.insert(id, slot) {
            self.uncount(&old);
        }
        self.dirty_bytes += cost;
        self.dirty_pages += 1;
        self.charge(cost);
        self.evict_over_budget();
    }

    /// Drops a page whatever its state (a rolled-back or freed page's contents are garbage);
    /// returns it.
    pub(crate) fn discard(&mut self, id: PageId) -> Option<Page> {
        let old = self.map.remove(&id)?;
        self.uncount(&old);
        Some(old.page)
    }

    /// Every dirty page with its generation.
    pub(crate) fn collect_dirty(&self, out: &mut Vec<(PageId, Page, u64)>) {
        for (id, slot) in &self.map {
            if let Some(generation) = slot.dirty {
                out.push((*id, slot.page.clone(), generation));
            }
        }
    }

    /// Marks `id` clean if it still holds the flushed `generation`.
    pub(crate) fn mark_clean(&mut self, id: PageId, generation: u64) {
        if let Some(slot) = self.map.get_mut(&id)
            && slot.dirty == Some(generation)
        {
            slot.dirty = None;
            let cost = Self::cost(&slot.page);
            self.dirty_bytes -= cost;
            self.dirty_pages -= 1;
            self.clean_bytes += cost;
            self.push_clock(id);
        }
    }

    pub(crate) fn is_dirty(&self, id: PageId) -> Option<bool> {
        self.map.get(&id).map(|slot| slot.dirty.is_some())
    }

    fn uncount(&mut self, slot: &Slot) {
        let cost = Self::cost(&slot.page);
        self.release(cost);
        if slot.dirty.is_some() {
            self.dirty_bytes -= cost;
            self.dirty_pages -= 1;
        } else {
            self.clean_bytes -= cost;
        }
    }

    fn push_clock(&mut self, id: PageId) {
        self.clock.push_back(id);
        if self.clock.len() > 2 * self.map.len() + 64 {
            self.clock = self
                .map
                .iter()
                .filter(|(_, slot)| slot.dirty.is_none())
                .map(|(id, _)| *id)
                .collect();
        }
    }

    /// Evicts clean pages in CLOCK order until the shard is within budget, no clean page is
    /// left, or two turns of the queue found nothing evictable. Costs O(clean pages) at most.
    pub(crate) fn evict_over_budget(&mut self) {
        let mut budget_turns = 2 * self.clock.len();
        while self.over_budget() && self.clean_bytes > 0 && budget_turns > 0 {
            budget_turns -= 1;
            let Some(id) = self.clock.pop_front() else {
                break;
            };
            let Some(slot) = self.map.get_mut(&id) else {
                continue; // stale queue entry
            };
            if slot.dirty.is_some() {
                // Pinned; it rejoins the queue when a flush marks it clean.
            } else if slot.referenced {
                slot.referenced = false;
                self.clock.push_back(id);
            } else {
                let slot = self.map.remove(&id).expect("slot was just found");
                let cost = Self::cost(&slot.page);
                self.clean_bytes -= cost;
                self.release(cost);
                self.evictions += 1;
            }
        }
    }
}
