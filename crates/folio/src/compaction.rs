//! [`Database::compact`]: online compaction. Moves every page above the packed size of the
//! live data lower (copy-on-write relocation: the allocator hands out the lowest free pages),
//! then gives the free end of the data file back to the file system. [`Database::repack`]
//! first rewrites every tree in key order (full pages, values re-encoded).
//!
//! Both change pages, never contents: each column family's change is committed as a logged
//! marker (`Moved`) that replay skips, and made durable by the checkpoints that follow. A
//! crash before those leaves the last checkpoint's pages, which neither touches.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::cf_slot::{CfSlot, Wait};
use crate::commit::Record;
use crate::concurrent::Written;
use crate::log_record::RecordBuilder;
use crate::{Database, Result};

/// What [`Database::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionReport {
    /// Pages copied lower.
    pub pages_moved: u64,
    /// Data file length before.
    pub bytes_before: u64,
    /// Data file length after.
    pub bytes_after: u64,
}

impl CompactionReport {
    /// Bytes given back to the file system.
    pub fn bytes_reclaimed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

impl Database {
    /// Compacts the data file while readers and writers continue: checkpoints, moves the
    /// pages of every column family (and of the catalog) that lie above the space the live
    /// pages need, each column family under its own writer lock for the time of its move,
    /// checkpoints again and truncates the file's free end. Space still reachable by a
    /// snapshot older than the compaction is freed only once that snapshot ends (run it
    /// again then).
    pub fn compact(&self) -> Result<CompactionReport> {
        self.check_writable()?;
        self.refuse_held_writers()?;
        let _one_at_a_time = self.inner.compaction.lock();
        // Pages move to the lowest free ones, not to young pages anywhere in the file.
        let _lowest_first = self.inner.store.lowest_pages_first();
        let bytes_before = self.inner.store.stats().file_bytes;
        // Frees from earlier commits become durable and return to the pool.
        self.checkpoint()?;
        let mut pages_moved = 0;
        // Pages above a boundary move down, leaving room above the live pages' count for
        // the copies of the paths above moved pages and for the free list: an eighth in the
        // first pass; in the second, with the first one's old pages free, a 64th pulls down
        // what the first left in its room (a tree rewritten above the old one by `repack`
        // left up to an eighth of the file there).
        for room_divisor in [8, 64] {
            let allocation = self.inner.store.allocation_report();
            let used = allocation.high_water - allocation.free.page_count();
            let boundary = used + used / room_divisor + 16;
            if boundary >= allocation.high_water {
                continue;
            }
            for (name, slot) in &self.inner.cfs.sorted() {
                pages_moved += self.relocate_cf(name, slot, boundary)?;
            }
            pages_moved += self.inner.checkpoints.catalog().relocate_from(boundary)?;
            // The first checkpoint makes the moved trees durable; their old pages are free
            // from the second on (until then the older header slot still names a state
            // reaching them).
            self.checkpoint()?;
            self.checkpoint()?;
        }
        // Records the shorter file, then truncates it.
        self.inner.checkpoint_with(true)?;
        Ok(CompactionReport {
            pages_moved,
            bytes_before,
            bytes_after: self.inner.store.stats().file_bytes,
        })
    }

    /// Rewrites every column family in key order, then compacts: every leaf and branch
    /// packed full (a load in random key order leaves leaves about 70 % full), every value
    /// re-encoded with the current compression settings (values written before a column
    /// family's compression changed take it on), and the file shrunk to what the packed
    /// trees need. The contents never change. Each column family's writers wait while it is
    /// rewritten (a full rewrite of its data); readers never wait. Run it after a large
    /// import or a compression change. `pages_moved` counts the compaction's moves.
    pub fn repack(&self) -> Result<CompactionReport> {
        self.check_writable()?;
        self.refuse_held_writers()?;
        {
            let _one_at_a_time = self.inner.compaction.lock();
            for (name, slot) in &self.inner.cfs.sorted() {
                self.repack_cf(name, slot)?;
            }
        }
        // The rewritten trees' old pages are free once two checkpoints cover the rewrite
        // (see `compact`): then the compaction moves the new pages down into them.
        self.checkpoint()?;
        self.checkpoint()?;
        self.compact()
    }

    /// Rewrites one column family in key order, committed as a logged no-op.
    fn repack_cf(&self, name: &str, slot: &Arc<CfSlot>) -> Result<()> {
        let mut tree = slot.lock_writer(name, Wait::Forever)?;
        if slot.dropped.load(Ordering::Acquire) {
            return Ok(());
        }
        // A rewrite of a large column family spills past the dirty bound like any large
        // transaction.
        tree.set_spill_policy(Some(self.inner.options.spill_policy()));
        let repacked = tree.repack();
        tree.set_spill_policy(None);
        if let Err(error) = repacked {
            tree.rollback();
            return Err(error.into());
        }
        self.commit_moved(slot, &mut tree)
    }

    /// Moves one column family's pages at or above `boundary`, committed as a logged no-op.
    fn relocate_cf(&self, name: &str, slot: &Arc<CfSlot>, boundary: u64) -> Result<u64> {
        let mut tree = slot.lock_writer(name, Wait::Forever)?;
        if slot.dropped.load(Ordering::Acquire) {
            return Ok(0);
        }
        tree.return_unused_pages();
        let moved = match tree.relocate_from(boundary) {
            Ok(0) => return Ok(0),
            Ok(moved) => moved,
            Err(error) => {
                tree.rollback();
                return Err(error.into());
            }
        };
        self.commit_moved(slot, &mut tree)?;
        Ok(moved)
    }

    /// Commits `tree`'s page changes (contents unchanged) as a `Moved` marker, published.
    fn commit_moved(&self, slot: &CfSlot, tree: &mut folio_btree::BTreeMut) -> Result<()> {
        let mut record = RecordBuilder::new();
        record.moved(slot.id);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), [&mut *tree])?;
        appended.commit_tree(slot, tree, Written::Nothing);
        appended.publish();
        Ok(())
    }
}
