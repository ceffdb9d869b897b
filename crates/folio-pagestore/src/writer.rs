//! [`PageWriter`]: one owner's (one column-family writer's) handle for allocating, writing
//! and freeing pages, without contending with other owners.

use std::collections::HashSet;

use crate::allocator::Settlement;
use crate::{Error, Page, PageId, PageStore, Result};

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
    txn_allocated: HashSet<PageId>,
    /// `txn_allocated` in allocation order (may hold pages since given back; check the set).
    txn_allocation_order: Vec<PageId>,
    txn_freed: Vec<PageId>,
    /// Pages of this transaction frozen by a savepoint: a savepoint's state refers to them,
    /// so they are no longer edited in place and their frees are deferred to the commit.
    frozen: HashSet<PageId>,
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
            txn_allocated: HashSet::new(),
            txn_allocation_order: Vec::new(),
            txn_freed: Vec::new(),
            frozen: HashSet::new(),
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

    /// Stores `page` (sealed for `id`) as page `id`'s new contents: dirty and pinned in the
    /// cache until a checkpoint writes it.
    pub fn write(&mut self, id: PageId, page: Page) {
        debug_assert!(
            page.verify(id).is_ok(),
            "page sealed for another id than {id}"
        );
        self.store.cache().put_dirty(id, page);
    }

    /// Reads a page (through the cache).
    pub fn read(&self, id: PageId) -> Result<Page> {
        self.store.read(id)
    }

    /// Frees `id`. A page allocated in this transaction is reusable at once; a page from an
    /// earlier commit stays intact until the commit that frees it is checkpointed and no
    /// reader can reach it.
    pub fn free(&mut self, id: PageId) {
        if !self.frozen.contains(&id) && self.txn_allocated.remove(&id) {
            self.store.cache().discard(id);
            self.local_free.push(id);
        } else {
            self.txn_freed.push(id);
        }
    }

    /// True when `id` was allocated by the open transaction: nothing committed refers to it,
    /// so a copy-on-write structure may edit it in place instead of copying it again.
    pub fn allocated_in_txn(&self, id: PageId) -> bool {
        self.txn_allocated.contains(&id) && !self.frozen.contains(&id)
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
                self.store.cache().discard(id);
                self.local_free.push(id);
            }
        }
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
    /// all writers must be distinct and increase in the order commits become visible).
    pub fn commit(&mut self, version: u64) {
        self.txn_allocation_order.clear();
        self.frozen.clear();
        if self.txn_allocated.is_empty() && self.txn_freed.is_empty() {
            return;
        }
        let mut allocated: Vec<PageId> = self.txn_allocated.drain().collect();
        allocated.sort_unstable();
        self.store.allocator().settle(Settlement {
            version,
            allocated,
            freed: std::mem::take(&mut self.txn_freed),
        });
    }

    /// Ends the transaction as aborted: its pages are discarded and reusable, its frees
    /// forgotten.
    pub fn rollback(&mut self) {
        for id in self.txn_allocated.drain() {
            self.store.cache().discard(id);
            self.local_free.push(id);
        }
        self.txn_allocation_order.clear();
        self.frozen.clear();
        self.txn_freed.clear();
    }
}

impl Drop for PageWriter {
    fn drop(&mut self) {
        self.rollback();
        self.store.allocator().return_pages(&self.local_free);
    }
}
