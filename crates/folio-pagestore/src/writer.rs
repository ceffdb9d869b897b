//! [`PageWriter`]: one owner's (one column-family writer's) handle for allocating, writing
//! and freeing pages, without contending with other owners.
//!
//! The pages an open transaction writes are *private*: kept by the writer, not in the
//! shared cache, and edited in place ([`PageWriter::private_mut`]) however often the
//! transaction changes them. Nothing committed refers to them, so no reader can reach them.
//! [`PageWriter::commit`] hands them to the cache as dirty pages; their checksums are
//! computed when a checkpoint writes them.

use std::collections::{HashMap, HashSet};

use crate::allocator::Settlement;
use crate::{Error, Page, PageId, PageStore, Result};

pub(crate) use crate::id_hash::IdBuild;

/// Private pages a writer adds before it updates the store's shared total (so the total
/// lags by at most this many pages per writer; commits and rollbacks settle it exactly).
const PRIVATE_REPORT_STEP: usize = 64;

/// Capacity a transaction's hash tables keep however little it used
/// ([`PageWriter::shrink_tables`]).
const TABLE_CAPACITY_KEPT: usize = 64;

/// Allocates, writes and frees pages for one owner, in transactions.
///
/// Allocation comes from a private list refilled one extent at a time
/// ([`crate::PageStoreOptions::extent_pages`]), so writers of different owners meet on the
/// shared allocator lock only once per extent. Frees and allocations are settled at
/// [`PageWriter::commit`] with the caller's commit version; see `docs/pagestore.md` for when a
/// freed page can be reused.
///
/// Dropping a writer rolls back its open transaction and returns its unused pages.
#[derive(Debug)]
pub struct PageWriter {
    store: PageStore,
    /// Reserved pages, used from the end (stored descending so allocation is ascending).
    local_free: Vec<PageId>,
    txn_allocated: HashSet<PageId, IdBuild>,
    /// `txn_allocated` in allocation order (may hold pages since given back; check the set).
    txn_allocation_order: Vec<PageId>,
    txn_freed: Vec<PageId>,
    /// Pages of this transaction frozen by a savepoint: a savepoint's state refers to them,
    /// so they are no longer edited in place and their frees are deferred to the commit.
    frozen: HashSet<PageId, IdBuild>,
    /// Contents of the pages this transaction wrote (a subset of `txn_allocated`).
    private: HashMap<PageId, Page, IdBuild>,
    /// Pages of this transaction written to their place in the file to bound its memory
    /// ([`PageWriter::spill`]); a subset of `txn_allocated` disjoint from `private`.
    spilled: HashSet<PageId, IdBuild>,
    /// `private.len()` as last added to the store's count of private bytes.
    private_reported: usize,
    /// Pages this writer committed in checkpoint epoch `young_epoch` and has not freed: freed
    /// while the epoch holds, they are reused without waiting for checkpoints
    /// (`allocator/young.rs`).
    young: HashSet<PageId, IdBuild>,
    young_epoch: u64,
}

/// A position in a writer's transaction to roll back to ([`PageWriter::savepoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterSavepoint {
    allocations: usize,
    frees: usize,
}

impl PageWriter {
    pub(crate) fn new(store: PageStore) -> Self {
        Self {
            store,
            local_free: Vec::new(),
            txn_allocated: HashSet::default(),
            txn_allocation_order: Vec::new(),
            txn_freed: Vec::new(),
            frozen: HashSet::default(),
            private: HashMap::default(),
            spilled: HashSet::default(),
            private_reported: 0,
            young: HashSet::default(),
            young_epoch: 0,
        }
    }

    /// The store this writer belongs to.
    pub fn store(&self) -> &PageStore {
        &self.store
    }

    /// A fresh page id for this transaction; its contents are whatever [`PageWriter::write`]
    /// puts there.
    pub fn allocate(&mut self) -> Result<PageId> {
        if self.store.is_poisoned() {
            return Err(Error::Poisoned);
        }
        if self.local_free.is_empty() {
            // Young pages first: superseded since the last checkpoint, they keep the file
            // from growing by a path per commit.
            self.local_free = self.store.take_young_pages();
            self.local_free.sort_unstable_by(|a, b| b.cmp(a));
        }
        if self.local_free.is_empty() {
            let extent_pages = u64::from(self.store.options().extent_pages);
            let (start, len) = self.store.allocator().take_extent(extent_pages);
            self.local_free
                .extend((start..start + len).rev().map(PageId));
        }
        let id = self
            .local_free
            .pop()
            .expect("the local list was just refilled with at least one page");
        self.txn_allocated.insert(id);
        self.txn_allocation_order.push(id);
        Ok(id)
    }

    /// Stores `page` as the contents of `id`, a page this transaction allocated: private
    /// until the commit, then dirty in the cache until a checkpoint writes it.
    pub fn write(&mut self, id: PageId, page: Page) {
        debug_assert!(
            self.txn_allocated.contains(&id),
            "{id} is not this transaction's"
        );
        // Kept past this transaction's snapshot (in the cache until a checkpoint): a page
        // borrowed from the memory map must not be (see `Page::detached`).
        self.private.insert(id, page.detached());
        // The store's total is shared by every writer: carried over in steps, not per page.
        if self.private.len() >= self.private_reported + PRIVATE_REPORT_STEP {
            self.report_private();
        }
    }

    /// Carries the change in private pages into the store's total
    /// ([`PageStore::private_bytes`]).
    fn report_private(&mut self) {
        let now = self.private.len();
        if now != self.private_reported {
            let page = self.store.page_size().cast_signed();
            let delta = now.cast_signed() - self.private_reported.cast_signed();
            self.store.add_private_bytes(delta * page);
            self.private_reported = now;
        }
    }

    /// Reads a page: this transaction's own version of it (in memory or spilled), or the
    /// store's.
    pub fn read(&self, id: PageId) -> Result<Page> {
        match self.private.get(&id) {
            Some(page) => Ok(page.clone()),
            None if self.is_spilled(id) => self.store.read_spilled(id),
            None => self.store.read(id),
        }
    }

    /// Writes the pages `ids` (this transaction's, in memory) to their places in the file
    /// and drops them from memory: a transaction larger than memory keeps going. They stay
    /// the transaction's own: [`PageWriter::read`] reads them back, and
    /// [`PageWriter::make_resident`] brings one back for editing. Nothing refers to them
    /// before the commit, and any header that will is written after the data file is
    /// synced, so a crash or rollback simply leaves them free. On an error nothing changed.
    pub fn spill(&mut self, ids: &[PageId]) -> Result<()> {
        let mut pages: Vec<(PageId, Page)> = ids
            .iter()
            .filter_map(|id| self.private.remove(id).map(|page| (*id, page)))
            .collect();
        if let Err(error) = self.store.write_spilled(&mut pages) {
            self.private.extend(pages);
            return Err(error);
        }
        for (id, page) in pages {
            self.spilled.insert(id);
            self.store.recycle(page);
        }
        self.report_private();
        Ok(())
    }

    /// True when page `id` of this transaction is spilled (in the file, not in memory).
    pub fn is_spilled(&self, id: PageId) -> bool {
        !self.spilled.is_empty() && self.spilled.contains(&id)
    }

    /// Pages of this transaction now spilled.
    pub fn spilled_pages(&self) -> usize {
        self.spilled.len()
    }

    /// Brings page `id` back into memory if it is spilled, so it can be edited in place.
    pub fn make_resident(&mut self, id: PageId) -> Result<()> {
        if self.is_spilled(id) {
            let page = self.store.read_spilled(id)?;
            self.spilled.remove(&id);
            self.private.insert(id, page);
            if self.private.len() >= self.private_reported + PRIVATE_REPORT_STEP {
                self.report_private();
            }
        }
        Ok(())
    }

    /// The pages this transaction holds in memory, in no particular order.
    pub fn private_pages(&self) -> impl Iterator<Item = (PageId, &Page)> {
        self.private.iter().map(|(id, page)| (*id, page))
    }

    /// This transaction's own version of page `id`, if it wrote one.
    pub fn private(&self, id: PageId) -> Option<&Page> {
        self.private.get(&id)
    }

    /// The payload of page `id` for editing in place, if this transaction wrote it and no
    /// savepoint froze it (a handle someone still holds from [`PageWriter::read`] keeps the
    /// old bytes: the page is copied first then).
    pub fn private_mut(&mut self, id: PageId) -> Option<&mut [u8]> {
        if self.is_frozen(id) {
            return None;
        }
        self.private.get_mut(&id).map(Page::make_mut)
    }

    /// Two of this transaction's pages for editing at once (see [`PageWriter::private_mut`]);
    /// `None` unless both are editable and distinct.
    pub fn private_pair_mut(&mut self, a: PageId, b: PageId) -> Option<(&mut [u8], &mut [u8])> {
        if a == b || self.is_frozen(a) || self.is_frozen(b) {
            return None;
        }
        let [first, second] = self.private.get_disjoint_mut([&a, &b]);
        Some((first?.make_mut(), second?.make_mut()))
    }

    /// Bytes of the pages this transaction wrote and holds privately.
    pub fn private_bytes(&self) -> usize {
        self.private.len() * self.store.page_size()
    }

    /// Frees `id`. A page allocated in this transaction is reusable at once; a page from an
    /// earlier commit stays intact until the commit that frees it is checkpointed and no
    /// reader can reach it.
    pub fn free(&mut self, id: PageId) {
        if !self.is_frozen(id) && self.txn_allocated.remove(&id) {
            if let Some(page) = self.private.remove(&id) {
                self.store.recycle(page);
            }
            self.spilled.remove(&id);
            self.local_free.push(id);
        } else {
            self.txn_freed.push(id);
        }
    }

    /// True when `id` is in the store's pool of free pages: a pointer to it comes from a
    /// damaged page, and copying it would free it a second time. (Pages this writer reserved
    /// and has not allocated are not checked: [`PageWriter::allocate`] hands them out.)
    pub fn is_free(&self, id: PageId) -> bool {
        self.store.allocator().is_free(id)
    }

    /// True when `id` was allocated by the open transaction and no savepoint froze it:
    /// nothing committed refers to it, so a copy-on-write structure may edit it in place
    /// instead of copying it again.
    pub fn allocated_in_txn(&self, id: PageId) -> bool {
        self.txn_allocated.contains(&id) && !self.is_frozen(id)
    }

    /// True when `id` is one of this transaction's pages, in memory and editable in place:
    /// [`PageWriter::allocated_in_txn`] and not spilled, in one lookup (the hot path of a
    /// descent, where the private pages far outnumber the cache lines at hand).
    pub fn owns_resident(&self, id: PageId) -> bool {
        self.private.contains_key(&id) && !self.is_frozen(id)
    }

    /// True when a savepoint froze `id` (cheap when no savepoint did: the common case).
    fn is_frozen(&self, id: PageId) -> bool {
        !self.frozen.is_empty() && self.frozen.contains(&id)
    }

    /// Marks the current point of the transaction: every page it wrote so far is frozen
    /// (copied on its next change, freed only at commit), so [`PageWriter::rollback_to`] can
    /// return to exactly this state.
    pub fn savepoint(&mut self) -> WriterSavepoint {
        self.frozen.extend(self.txn_allocated.iter().copied());
        WriterSavepoint {
            allocations: self.txn_allocation_order.len(),
            frees: self.txn_freed.len(),
        }
    }

    /// Undoes everything since `savepoint`: pages allocated since are given back and
    /// discarded, frees since are forgotten. Earlier savepoints stay valid.
    pub fn rollback_to(&mut self, savepoint: WriterSavepoint) {
        for id in self
            .txn_allocation_order
            .drain(savepoint.allocations.min(self.txn_allocation_order.len())..)
        {
            if !self.frozen.contains(&id) && self.txn_allocated.remove(&id) {
                if let Some(page) = self.private.remove(&id) {
                    self.store.recycle(page);
                }
                self.spilled.remove(&id);
                self.local_free.push(id);
            }
        }
        self.report_private();
        self.txn_freed.truncate(savepoint.frees);
    }

    /// Gives the pages this writer reserved but has not used back to the shared pool (a
    /// compaction calls it so every free page can be handed out lowest first, and the end of
    /// the file can be given back). Pages of the open transaction stay.
    pub fn return_unused(&mut self) {
        let unused = std::mem::take(&mut self.local_free);
        self.store.allocator().return_pages(&unused);
    }

    /// Pages allocated in the open transaction.
    pub fn pending_allocations(&self) -> usize {
        self.txn_allocated.len()
    }

    /// Ends the transaction as committed at `version` (the caller's commit order: versions of
    /// all writers must be distinct and increase in the order commits become visible). Its
    /// pages join the cache as dirty pages, before the caller publishes the commit.
    pub fn commit(&mut self, version: u64) {
        self.txn_allocation_order.clear();
        // Spilled pages are in the file already; the next checkpoint's sync covers them.
        self.spilled.clear();
        let used = self.txn_allocated.len();
        if self.txn_allocated.is_empty() && self.txn_freed.is_empty() {
            self.frozen.clear();
            self.shrink_tables(used);
            return;
        }
        // Pages frozen by a savepoint and freed later are garbage from the start.
        let freed_here: HashSet<PageId, IdBuild> = if self.frozen.is_empty() {
            HashSet::default()
        } else {
            self.txn_freed
                .iter()
                .copied()
                .filter(|id| self.frozen.contains(id))
                .collect()
        };
        self.frozen.clear();
        // Their ids get new contents: reads must stop trusting the file's (mapped_reads.rs).
        self.store.forget_verified(self.private.keys().copied());
        self.store.cache().put_dirty_batch(
            self.private
                .drain()
                .filter(|(id, _)| !freed_here.contains(id)),
        );
        self.report_private();
        let mut allocated: Vec<PageId> = self.txn_allocated.drain().collect();
        allocated.sort_unstable();
        let mut freed = std::mem::take(&mut self.txn_freed);
        // A valid tree frees each page once; a damaged one (a page named twice) may reach a
        // page twice in one transaction, and freeing it twice would hand it out twice.
        freed.sort_unstable();
        freed.dedup();
        // Read before the caller publishes this commit (the epoch's invariant).
        let epoch = self.store.allocator().young_epoch();
        if epoch != self.young_epoch {
            self.young.clear();
            self.young_epoch = epoch;
        }
        let mut young = Vec::new();
        if !self.young.is_empty() {
            freed.retain(|id| {
                let is_young = self.young.remove(id);
                if is_young {
                    young.push(*id);
                }
                !is_young
            });
        }
        // The pages of earlier commits that became reusable are taken now: their cached
        // contents go at once (as superseded pages' do once readers pass them), and this
        // writer's next allocations need no extent.
        let (ordinary, reusable) = self.store.hold_and_take_young_pages(version, epoch, young);
        freed.extend(ordinary);
        self.keep_reserved(reusable);
        self.young.reserve(allocated.len());
        if freed_here.is_empty() {
            self.young.extend(allocated.iter().copied());
        } else {
            self.young.extend(
                allocated
                    .iter()
                    .copied()
                    .filter(|id| !freed_here.contains(id)),
            );
        }
        self.store.supersede(version, &freed);
        self.store.allocator().settle(Settlement {
            version,
            allocated,
            freed,
        });
        self.shrink_tables(used);
    }

    /// Shrinks the transaction's hash tables when they are far larger than the `used`
    /// entries this transaction needed. A drained or cleared table keeps its capacity, and
    /// draining, iterating or clearing one costs its capacity, not its length: after one
    /// large transaction (a bulk load's chunk) every small commit scanned the large one's
    /// empty tables (an eighth of the CPU of W6's single-put updates at full size).
    fn shrink_tables(&mut self, used: usize) {
        let keep = (2 * used).max(TABLE_CAPACITY_KEPT);
        let oversized = |capacity: usize| capacity > 4 * keep;
        if oversized(self.txn_allocated.capacity()) {
            self.txn_allocated.shrink_to(keep);
        }
        if oversized(self.private.capacity()) {
            self.private.shrink_to(keep);
        }
        if oversized(self.frozen.capacity()) {
            self.frozen.shrink_to(keep);
        }
        if oversized(self.spilled.capacity()) {
            self.spilled.shrink_to(keep);
        }
    }

    /// Adds young pages taken for reuse to the reserved pages, giving the pool what exceeds
    /// two extents (a writer that frees more than it allocates must not hoard them).
    fn keep_reserved(&mut self, mut pages: Vec<PageId>) {
        if pages.is_empty() {
            return;
        }
        self.local_free.append(&mut pages);
        let keep = 2 * self.store.options().extent_pages as usize;
        if self.local_free.len() > keep {
            // Reserved pages are handed out from the end: give back the front.
            let excess: Vec<PageId> = self
                .local_free
                .drain(..self.local_free.len() - keep)
                .collect();
            self.store.allocator().return_pages(&excess);
        }
    }

    /// Ends the transaction as aborted: its pages are discarded and reusable, its frees
    /// forgotten.
    pub fn rollback(&mut self) {
        for (_, page) in self.private.drain() {
            self.store.recycle(page);
        }
        self.report_private();
        let used = self.txn_allocated.len();
        for id in self.txn_allocated.drain() {
            self.local_free.push(id);
        }
        self.txn_allocation_order.clear();
        self.spilled.clear();
        self.frozen.clear();
        self.txn_freed.clear();
        self.shrink_tables(used);
    }
}

impl Drop for PageWriter {
    fn drop(&mut self) {
        self.rollback();
        self.store.allocator().return_pages(&self.local_free);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{PageBuf, PageStore, PageStoreOptions};

    /// A large transaction's tables do not stay large: the next small commit or rollback
    /// shrinks them, so small commits do not scan them.
    #[test]
    fn a_large_transaction_leaves_no_large_tables_behind() {
        let store = PageStore::create(
            Arc::new(folio_io::MemoryStorage::new()),
            PageStoreOptions::default(),
        )
        .unwrap();
        let mut writer = store.writer();
        let write_pages = |writer: &mut super::PageWriter, count: usize| {
            for _ in 0..count {
                let id = writer.allocate().unwrap();
                writer.write(id, PageBuf::zeroed(store.buffer_size()).seal(id));
            }
        };
        let assert_small = |w: &super::PageWriter, after: &str| {
            let capacities = [w.txn_allocated.capacity(), w.private.capacity()];
            assert!(
                capacities
                    .iter()
                    .all(|&c| c <= 4 * super::TABLE_CAPACITY_KEPT),
                "after {after}: {capacities:?}"
            );
        };
        write_pages(&mut writer, 20_000);
        writer.commit(1);
        write_pages(&mut writer, 1);
        writer.commit(2);
        assert_small(&writer, "a small commit");
        write_pages(&mut writer, 20_000);
        writer.rollback();
        write_pages(&mut writer, 1);
        writer.rollback();
        assert_small(&writer, "a small rollback");
    }
}
