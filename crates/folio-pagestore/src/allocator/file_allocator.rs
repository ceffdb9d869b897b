//! [`FileAllocator`]: the file-level allocator shared by every [`crate::PageWriter`].
//!
//! # How a page moves
//! ```text
//!            take_extent                 allocate                commit(v)
//!  pool ───────────────────▶ writer's ──────────▶ txn-allocated ──────────▶ live
//!   ▲                         local list  ◀───────── (rollback / freed in     │
//!   │                             │        same txn)                         │ free + commit(s)
//!   │ writer dropped ◀────────────┘                                          ▼
//!   │                                            settled(s) ──checkpoint(V >= s) durable──▶ retired(s)
//!   └────────────────────── released when s <= durable version and s <= reader horizon ─────┘
//! ```
//! # Invariants
//! - A page is in at most one of: the pool, one writer's local list, allocated (live or in a
//!   transaction), settled-freed, retired. So no page is handed out twice.
//! - The pool holds only pages that are free in every state a reader or the durable header can
//!   still reach, and that are free in the durable state of every later checkpoint.
//! - The persisted free set of checkpoint `V` is: the previous durable free set, plus pages
//!   allocated since (above the old high water), minus pages allocated by commits `<= V`,
//!   plus pages freed by commits `<= V`, plus the previous freelist pages, minus the new
//!   freelist pages. Pages held by writers or by uncommitted or later (`> V`) transactions
//!   are free in it, so a crash never leaks them; pages freed by commits `> V` are used in
//!   it, so a crash never loses them.
//! - Pages allocated and freed between two checkpoints go straight back to writers once no
//!   reader reaches them ([`super::young`]); each one recycled so cancels one allocation in
//!   the next checkpoint's arithmetic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crossbeam::queue::SegQueue;

use super::ExtentSet;
use super::freelist::pages_needed;
use super::young::{YoungHandover, YoungPages};
use crate::sync::Mutex;
use crate::{Error, PageId, Result};

/// What one committed transaction of one writer allocated and freed, tagged with the
/// caller's commit version.
#[derive(Debug, Default)]
pub(crate) struct Settlement {
    pub(crate) version: u64,
    pub(crate) allocated: Vec<PageId>,
    pub(crate) freed: Vec<PageId>,
}

/// Free pages writers can take now, and the high-water mark of pages ever handed out.
#[derive(Debug)]
struct Pool {
    free: ExtentSet,
    high_water: u64,
}

/// Pages freed by durable versions, waiting until no reader can reach them.
#[derive(Debug)]
struct Retired {
    durable_version: u64,
    by_version: BTreeMap<u64, Vec<PageId>>,
}

/// The allocation state of the last durable checkpoint; touched only by checkpoints.
#[derive(Debug)]
struct DurableState {
    free: ExtentSet,
    high_water: u64,
    freelist_pages: Vec<PageId>,
    /// Settlements drained from the queue but newer than the last checkpoint's version.
    backlog: Vec<Settlement>,
    /// The version of the last finished checkpoint.
    last_version: u64,
    /// The free-list pages of the checkpoint before the last: the older header slot still
    /// names them, so they are reused only once the next checkpoint replaces that slot.
    held_freelist: Vec<PageId>,
    /// Young pages recycled before the checkpoint in progress (or a failed one) started:
    /// each cancels one allocation of the settlements it covers.
    recycled: Vec<PageId>,
}

/// The allocation state a checkpoint will persist, computed without changing anything; the
/// checkpoint then calls [`FileAllocator::finish_checkpoint`] or
/// [`FileAllocator::abort_checkpoint`].
#[derive(Debug)]
pub(crate) struct PreparedCheckpoint {
    pub(crate) version: u64,
    /// Free pages of the checkpointed state, freelist pages excluded.
    pub(crate) free: ExtentSet,
    pub(crate) high_water: u64,
    /// Pages to write the free list into (taken from the pool).
    pub(crate) freelist_pages: Vec<PageId>,
    /// How many of the (version-sorted) backlog settlements this checkpoint covers.
    covered: usize,
    /// Pages freed by covered settlements at or below the reader horizon: free in the
    /// checkpointed state and unreachable by any reader, so their (dirty) contents need not
    /// be written; the checkpoint drops them from the cache instead.
    pub(crate) garbage: Vec<PageId>,
}

/// The shared allocator. Writers touch the pool's lock once per extent and push one
/// settlement per commit onto a lock-free queue; everything else is the checkpointer's.
#[derive(Debug)]
pub(crate) struct FileAllocator {
    pool: Mutex<Pool>,
    settled: SegQueue<Settlement>,
    young: YoungPages,
    retired: Mutex<Retired>,
    durable: Mutex<DurableState>,
    /// Pages freed by versions `<= horizon` are unreachable by every live reader.
    horizon: AtomicU64,
    /// A horizon was declared: until then readers of older versions may exist unannounced
    /// (they were always safe between checkpoints), so young pages are not recycled.
    horizon_declared: AtomicBool,
    /// While positive, writers take no young pages: a compaction wants the lowest free pages
    /// (the pool's), and young pages may lie anywhere in the file.
    lowest_first: AtomicUsize,
    /// A page was freed twice (see [`FileAllocator::return_pages`]; a checkpoint's state
    /// computation finds it too).
    double_free: AtomicBool,
    page_size: usize,
    /// Debug builds: pages freed by a commit and not yet back in the pool, so a page freed
    /// twice poisons the store at the commit that freed it again, not only later where the
    /// pool refuses it.
    #[cfg(all(debug_assertions, not(folio_loom)))]
    freed_pending: parking_lot::Mutex<std::collections::HashSet<u64>>,
}

impl FileAllocator {
    /// The allocator of a store whose durable state is `free` below `high_water`, with its
    /// free list stored in `freelist_pages`, at `version`.
    pub(crate) fn recovered(
        free: ExtentSet,
        high_water: u64,
        freelist_pages: Vec<PageId>,
        version: u64,
        page_size: usize,
    ) -> Self {
        Self {
            pool: Mutex::new(Pool {
                free: free.clone(),
                high_water,
            }),
            settled: SegQueue::new(),
            young: YoungPages::default(),
            retired: Mutex::new(Retired {
                durable_version: version,
                by_version: BTreeMap::new(),
            }),
            durable: Mutex::new(DurableState {
                free,
                high_water,
                freelist_pages,
                backlog: Vec::new(),
                last_version: version,
                held_freelist: Vec::new(),
                recycled: Vec::new(),
            }),
            horizon: AtomicU64::new(u64::MAX),
            horizon_declared: AtomicBool::new(false),
            lowest_first: AtomicUsize::new(0),
            double_free: AtomicBool::new(false),
            page_size,
            #[cfg(all(debug_assertions, not(folio_loom)))]
            freed_pending: parking_lot::Mutex::default(),
        }
    }

    /// Takes up to `max` contiguous pages: the lowest free extent, or new pages past the
    /// high-water mark. Touches no storage: the checkpoint grows the file before writing.
    pub(crate) fn take_extent(&self, max: u64) -> (u64, u64) {
        let mut pool = self.pool.lock();
        if let Some(extent) = pool.free.take_first(max) {
            return extent;
        }
        let start = pool.high_water;
        pool.high_water += max;
        (start, max)
    }

    /// Gives up the pool's last free extent when it ends at the high-water mark, lowering
    /// the mark to its start (the next checkpoint records the shorter file). Pool pages are
    /// free in every state anyone can reach, so nothing refers to them. Returns the pages
    /// given up.
    pub(crate) fn trim_tail(&self) -> u64 {
        let mut pool = self.pool.lock();
        let Some((start, len)) = pool.free.iter().last() else {
            return 0;
        };
        if start + len != pool.high_water {
            return 0;
        }
        pool.free
            .remove(start, len)
            .expect("the extent was just read from the set");
        pool.high_water = start;
        len
    }

    /// True when `id` lies in the pool of free pages: no tree may point at it.
    pub(crate) fn is_free(&self, id: PageId) -> bool {
        self.pool.lock().free.contains(id.0)
    }

    /// Returns pages (reserved but never used, or released by the reader horizon) to the
    /// pool. A page already there was freed twice, which only a damaged tree can cause (one
    /// pointing at a free page, or at one page twice): it is kept once, and the store is
    /// poisoned so nothing more is written over pages whose owner is in doubt.
    pub(crate) fn return_pages(&self, pages: &[PageId]) {
        let mut ids: Vec<u64> = pages.iter().map(|page| page.0).collect();
        let mut pool = self.pool.lock();
        if pool.free.insert_pages(&mut ids).is_ok() {
            return;
        }
        // `insert_pages` stopped at the first conflict: add the rest one by one.
        for id in ids {
            if !pool.free.contains(id) {
                let _ = pool.free.insert(id, 1);
            }
        }
        drop(pool);
        self.double_free.store(true, Ordering::Release);
    }

    /// True once a page freed twice was found (at its release, at a checkpoint, or in debug
    /// builds at the second free).
    pub(crate) fn saw_double_free(&self) -> bool {
        self.double_free.load(Ordering::Acquire)
    }

    /// Records a committed transaction's allocations and frees (lock-free).
    pub(crate) fn settle(&self, settlement: Settlement) {
        #[cfg(all(debug_assertions, not(folio_loom)))]
        {
            // A page freed again before its earlier free released it: a bug, or a damaged
            // tree naming a page twice. Poisoned, like a double free found at release (which
            // builds without this set rely on), so it shows in any test as failed writes.
            let mut pending = self.freed_pending.lock();
            for page in &settlement.freed {
                if !pending.insert(page.0) {
                    self.double_free.store(true, Ordering::Release);
                }
            }
        }
        self.settled.push(settlement);
    }

    /// The checkpoint epoch a writer tags the pages it commits with (see [`super::young`]).
    pub(crate) fn young_epoch(&self) -> u64 {
        self.young.epoch()
    }

    /// Holds `pages`, freed by commit `version` and committed by their writer in `epoch`,
    /// for early reuse, and takes the young pages now due (see
    /// [`FileAllocator::take_young`]). Returns the pages that must be settled as ordinary
    /// frees instead, and those taken.
    pub(crate) fn hold_and_take_young(
        &self,
        version: u64,
        epoch: u64,
        pages: Vec<PageId>,
        forget: impl FnOnce(&mut [PageId]),
    ) -> (Vec<PageId>, Vec<PageId>) {
        self.young
            .hold_and_take(version, epoch, pages, self.declared_horizon(), forget)
    }

    /// Takes the young pages freed at or below the reader horizon for a writer to reuse,
    /// after `forget` has dropped whatever the store keeps of their old contents.
    pub(crate) fn take_young(&self, forget: impl FnOnce(&mut [PageId])) -> Vec<PageId> {
        match self.declared_horizon() {
            Some(horizon) => self.young.take(horizon, forget),
            None => Vec::new(),
        }
    }

    /// The reader horizon young pages may be taken below: none until one was declared, nor
    /// while the lowest pages must go first.
    fn declared_horizon(&self) -> Option<u64> {
        let may_take = self.horizon_declared.load(Ordering::Acquire)
            && self.lowest_first.load(Ordering::Acquire) == 0;
        may_take.then(|| self.horizon.load(Ordering::Acquire))
    }

    /// Starts (`true`) or ends (`false`) a period in which writers take no young pages.
    pub(crate) fn set_lowest_first(&self, on: bool) {
        if on {
            self.lowest_first.fetch_add(1, Ordering::AcqRel);
        } else {
            self.lowest_first.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Young pages recycled since open.
    pub(crate) fn young_pages_reused(&self) -> u64 {
        self.young.reused()
    }

    /// Pages ever handed out: every valid page id is below it.
    pub(crate) fn high_water(&self) -> u64 {
        self.pool.lock().high_water
    }

    /// Pages writers can take right now.
    pub(crate) fn pool_free_pages(&self) -> u64 {
        self.pool.lock().free.page_count()
    }

    /// The free set and high water of the last durable checkpoint.
    pub(crate) fn durable_free(&self) -> (ExtentSet, u64, Vec<PageId>) {
        let durable = self.durable.lock();
        (
            durable.free.clone(),
            durable.high_water,
            durable.freelist_pages.clone(),
        )
    }

    /// Declares that no live reader can reach pages freed by versions `<= horizon`, and
    /// releases those whose freeing version is also durable.
    pub(crate) fn set_reader_horizon(&self, horizon: u64) {
        self.horizon.store(horizon, Ordering::Release);
        self.horizon_declared.store(true, Ordering::Release);
        self.release_retired();
    }

    /// The reader horizon last declared.
    pub(crate) fn horizon(&self) -> u64 {
        self.horizon.load(Ordering::Acquire)
    }

    fn release_retired(&self) {
        let released: Vec<PageId> = {
            let mut retired = self.retired.lock();
            let limit = retired
                .durable_version
                .min(self.horizon.load(Ordering::Acquire));
            let mut released = Vec::new();
            while let Some(entry) = retired.by_version.first_entry() {
                if *entry.key() > limit {
                    break;
                }
                released.extend(entry.remove());
            }
            released
        };
        if !released.is_empty() {
            #[cfg(all(debug_assertions, not(folio_loom)))]
            {
                let mut pending = self.freed_pending.lock();
                for page in &released {
                    if !pending.remove(&page.0) {
                        self.double_free.store(true, Ordering::Release);
                    }
                }
            }
            self.return_pages(&released);
        }
    }

    /// Computes the allocation state of version `version` (see the module docs) and takes
    /// the pages its free list needs. Young pages not recycled become ordinary frees here:
    /// `superseded` is called with each batch, by freeing version. Callers serialize
    /// checkpoints, and finish or abort each one prepared.
    pub(crate) fn prepare_checkpoint(
        &self,
        version: u64,
        superseded: impl FnMut(u64, &[PageId]),
    ) -> Result<PreparedCheckpoint> {
        let Some(handover) = self.young.begin_checkpoint(version) else {
            return Err(Error::VersionReused {
                requested: version,
                floor: self.young.floor(),
            });
        };
        let prepared = self.prepare_state(version, handover, superseded);
        if prepared.is_err() {
            self.young.end_checkpoint();
        }
        prepared
    }

    fn prepare_state(
        &self,
        version: u64,
        handover: YoungHandover,
        mut superseded: impl FnMut(u64, &[PageId]),
    ) -> Result<PreparedCheckpoint> {
        let mut durable = self.durable.lock();
        while let Some(settlement) = self.settled.pop() {
            durable.backlog.push(settlement);
        }
        durable.recycled.extend(handover.recycled);
        for (freed_at, freed) in handover.freed {
            superseded(freed_at, &freed);
            #[cfg(all(debug_assertions, not(folio_loom)))]
            self.freed_pending
                .lock()
                .extend(freed.iter().map(|page| page.0));
            durable.backlog.push(Settlement {
                version: freed_at,
                allocated: Vec::new(),
                freed,
            });
        }
        durable.backlog.sort_by_key(|s| s.version);
        let covered = durable.backlog.partition_point(|s| s.version <= version);

        let mut free = durable.free.clone();
        let mut high_water = self.high_water();
        if high_water >= durable.high_water {
            free.insert(durable.high_water, high_water - durable.high_water)
                .map_err(|_| invariant("pages above the durable high water were already free"))?;
        } else {
            // `trim_tail` gave up the end of the file: those pages leave the free set.
            free.remove(high_water, durable.high_water - high_water)
                .map_err(|_| invariant("trimmed pages were not free in the durable state"))?;
        }
        // Every page a covered commit allocated was free before (pages it freed stay retired
        // until a checkpoint covering it finishes, so none is allocated again in between),
        // except young pages recycled: each cancels one of their allocations (both covered:
        // a recycled page was freed at or below the floor, which `version` is not below).
        // Removing what remains, then adding all frees, equals replaying them in order.
        let settled = &durable.backlog[..covered];
        let allocated: Vec<u64> = settled
            .iter()
            .flat_map(|s| s.allocated.iter().map(|page| page.0))
            .collect();
        let mut allocated = cancel_recycled(allocated, &durable.recycled)?;
        free.remove_pages(&mut allocated).map_err(|conflict| {
            invariant(&format!(
                "page {} allocated twice, or never free",
                conflict.start
            ))
        })?;
        let mut freed: Vec<u64> = settled
            .iter()
            .flat_map(|s| s.freed.iter().map(|page| page.0))
            .collect();
        free.insert_pages(&mut freed).map_err(|conflict| {
            // A damaged tree freed a page twice (as `return_pages` finds it): poisoned alike.
            self.double_free.store(true, Ordering::Release);
            invariant(&format!("page {} freed twice", conflict.start))
        })?;
        let mut old_freelist: Vec<u64> = durable.freelist_pages.iter().map(|p| p.0).collect();
        free.insert_pages(&mut old_freelist).map_err(|conflict| {
            invariant(&format!("freelist page {} was also free", conflict.start))
        })?;

        // Take pages for the new free list; each one taken leaves the free set (which may
        // split an extent, so recount until the list fits).
        let mut freelist_pages = Vec::new();
        while freelist_pages.len() < pages_needed(free.extent_count(), self.page_size) {
            let (page, _) = self.take_extent(1);
            let pool_high_water = self.high_water();
            if pool_high_water > high_water {
                free.insert(high_water, pool_high_water - high_water)
                    .map_err(|_| invariant("new pages were already free"))?;
                high_water = pool_high_water;
            }
            free.remove(page, 1)
                .map_err(|_| invariant(&format!("pool page {page} is not free at checkpoint")))?;
            freelist_pages.push(PageId(page));
        }
        let horizon = self.horizon.load(Ordering::Acquire);
        let garbage = durable.backlog[..covered]
            .iter()
            .filter(|settlement| settlement.version <= horizon)
            .flat_map(|settlement| settlement.freed.iter().copied())
            .collect();
        Ok(PreparedCheckpoint {
            version,
            free,
            high_water,
            freelist_pages,
            covered,
            garbage,
        })
    }

    /// The checkpoint's header is durable: adopt its state, release the old free list's
    /// pages, retire the pages its settlements freed, and release what readers no longer need.
    pub(crate) fn finish_checkpoint(&self, prepared: PreparedCheckpoint) {
        let old_freelist = {
            let mut durable = self.durable.lock();
            let covered: Vec<Settlement> = durable.backlog.drain(..prepared.covered).collect();
            // All cancelled in this state; none was recycled since (the checkpoint ran).
            durable.recycled.clear();
            let mut retired = self.retired.lock();
            for settlement in covered {
                if !settlement.freed.is_empty() {
                    retired
                        .by_version
                        .entry(settlement.version)
                        .or_default()
                        .extend(settlement.freed);
                }
            }
            // Reuse waits one checkpoint more than durability needs: the older header slot
            // names the state before this one, so pages that state reached (freed by the
            // commits this checkpoint covers, and its free-list pages) stay untouched until
            // the next checkpoint writes over that slot. A slot that decodes as a state thus
            // always names intact pages, so a rotten newest slot can never lead to reused
            // pages read as the older state's.
            retired.durable_version = retired.durable_version.max(durable.last_version);
            durable.last_version = prepared.version;
            durable.free = prepared.free;
            durable.high_water = prepared.high_water;
            let previous = std::mem::replace(&mut durable.freelist_pages, prepared.freelist_pages);
            std::mem::replace(&mut durable.held_freelist, previous)
        };
        self.return_pages(&old_freelist);
        self.young.end_checkpoint();
        self.release_retired();
    }

    /// The checkpoint failed: give back the pages taken for its free list.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "taking it by value ends the prepared checkpoint: it cannot also be finished"
    )]
    pub(crate) fn abort_checkpoint(&self, prepared: PreparedCheckpoint) {
        self.return_pages(&prepared.freelist_pages);
        self.young.end_checkpoint();
    }
}

/// `allocated` less one occurrence of each recycled page (a recycled page may have been
/// allocated again since, so it can occur twice).
fn cancel_recycled(mut allocated: Vec<u64>, recycled: &[PageId]) -> Result<Vec<u64>> {
    if recycled.is_empty() {
        return Ok(allocated);
    }
    let mut cancel: Vec<u64> = recycled.iter().map(|page| page.0).collect();
    cancel.sort_unstable();
    allocated.sort_unstable();
    let mut cancel = cancel.into_iter().peekable();
    let mut kept = Vec::with_capacity(allocated.len().saturating_sub(recycled.len()));
    for page in allocated {
        if cancel.next_if_eq(&page).is_none() {
            kept.push(page);
        }
    }
    match cancel.next() {
        Some(page) => Err(invariant(&format!(
            "recycled page {page} was not allocated since the last checkpoint"
        ))),
        None => Ok(kept),
    }
}

fn invariant(what: &str) -> Error {
    Error::AllocatorInvariant {
        what: what.to_owned(),
    }
}

#[cfg(all(test, debug_assertions, not(folio_loom)))]
mod tests {
    use super::*;

    fn settlement(version: u64, freed: &[u64]) -> Settlement {
        Settlement {
            version,
            allocated: Vec::new(),
            freed: freed.iter().copied().map(PageId).collect(),
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    fn a_page_freed_twice_poisons_at_the_second_free() {
        let allocator = FileAllocator::recovered(ExtentSet::new(), 16, Vec::new(), 0, 4096);
        allocator.settle(settlement(1, &[7]));
        assert!(!allocator.saw_double_free());
        allocator.settle(settlement(2, &[7]));
        assert!(allocator.saw_double_free());
    }

    /// A damaged tree can make a commit free a page that is free already; returning it to
    /// the pool a second time keeps it once and poisons the store instead of panicking.
    #[test]
    fn a_page_returned_to_the_pool_twice_poisons_instead_of_panicking() {
        let allocator = FileAllocator::recovered(ExtentSet::new(), 16, Vec::new(), 0, 4096);
        allocator.return_pages(&[PageId(3), PageId(7)]);
        assert!(!allocator.saw_double_free());
        allocator.return_pages(&[PageId(2), PageId(7), PageId(9)]);
        assert!(allocator.saw_double_free());
        let pool = allocator.pool.lock();
        for page in [2, 3, 7, 9] {
            assert!(pool.free.contains(page), "page {page} is free once");
        }
        assert_eq!(pool.free.page_count(), 4);
    }

    #[test]
    fn a_page_may_be_freed_again_once_released() {
        let allocator = FileAllocator::recovered(ExtentSet::new(), 16, Vec::new(), 0, 4096);
        allocator.settle(settlement(1, &[7]));
        allocator.set_reader_horizon(u64::MAX);
        // Two checkpoints: reuse waits until the older header slot no longer names it.
        for version in [1, 2] {
            let prepared = allocator.prepare_checkpoint(version, |_, _| ()).unwrap();
            allocator.finish_checkpoint(prepared);
        }
        assert!(
            allocator.pool.lock().free.contains(7),
            "released to the pool"
        );
        allocator.settle(settlement(3, &[7]));
    }
}
