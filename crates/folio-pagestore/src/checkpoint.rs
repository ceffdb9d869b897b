//! [`PageStore::checkpoint`]: make one version's pages and allocation state durable.
//!
//! # Steps, and what a crash at each one leaves
//! 1. Compute the version's allocation state and take pages for its free list
//!    (memory only). *Crash: nothing changed on disk.*
//! 2. Grow the file if needed, in large preallocated chunks. *Crash: extra zeroed space past
//!    the old high water, which nothing references.*
//! 3. Write every dirty page and the free-list pages, sorted, one vectored write per
//!    contiguous run. These pages are all free in the durable state (copy-on-write never
//!    overwrites a page the durable header reaches). *Crash: garbage in free pages only.*
//! 4. Sync. *Crash: as above.* A failed sync poisons the store.
//! 5. Write the header slot the durable state is **not** in, with sequence + 1.
//!    *Crash: a torn slot fails its checksum; the other slot, untouched, wins.*
//! 6. Sync. *Crash after it: the new slot wins.* A failed sync poisons the store: the slot
//!    may or may not be durable, so nothing after it may be reported durable.
//! 7. Adopt the new state: mark the written pages clean (those not rewritten meanwhile),
//!    release the old free list's pages and the pages freed by covered versions that no
//!    reader can reach.

use crate::allocator::{PreparedCheckpoint, encode_chain};
use crate::flush::{WriteStrategy, write_pages};
use crate::header::{HeaderSlot, NO_PAGE, slot_offset};
use crate::{CheckpointStats, Error, Page, PageId, PageStore, Result};

impl PageStore {
    /// Makes `version` durable with `roots` (the layer above's root pointers, at most
    /// [`crate::ROOTS_MAX_BYTES`]) stored in the header.
    ///
    /// Every page that `version` references must have been written with a
    /// [`crate::PageWriter`] and every transaction up to `version` committed, before this call;
    /// pages of later versions may be written too (they are free in the checkpointed state).
    /// Writers keep running during the checkpoint; only checkpoints wait for each other.
    pub fn checkpoint(&self, version: u64, roots: &[u8]) -> Result<CheckpointStats> {
        self.checkpoint_then(version, roots, || {})
    }

    /// [`PageStore::checkpoint`], calling `collected` as soon as the checkpoint holds every
    /// page it will write (before its I/O): from then on the caller's reader horizon no longer
    /// needs to protect `version`'s pages for it.
    pub fn checkpoint_then(
        &self,
        version: u64,
        roots: &[u8],
        collected: impl FnOnce(),
    ) -> Result<CheckpointStats> {
        let mut checkpointer = self.checkpointer().lock();
        self.checkpoint_locked(&mut checkpointer, version, roots, collected)
    }

    /// [`PageStore::checkpoint`], first giving up the free pages at the end of the file
    /// (the allocator hands out the lowest free pages, so after a compaction the free space
    /// gathers there), then truncating the file to the new end once the header recording it
    /// is durable. Returns the checkpoint's stats and the bytes the file shrank by.
    pub fn checkpoint_and_shrink(
        &self,
        version: u64,
        roots: &[u8],
        collected: impl FnOnce(),
    ) -> Result<(CheckpointStats, u64)> {
        let mut checkpointer = self.checkpointer().lock();
        self.allocator().trim_tail();
        let stats = self.checkpoint_locked(&mut checkpointer, version, roots, collected)?;
        // Pages handed out since the trim lie below the pool's mark; the next checkpoint
        // (which waits for this lock) grows the file again if they need it.
        let target = self.layout().file_len_for(self.allocator().high_water());
        let before = checkpointer.file_bytes;
        if target >= before {
            return Ok((stats, 0));
        }
        self.file_shrinking_to(target);
        self.storage()?.set_len(target)?;
        self.sync_or_poison()?;
        checkpointer.file_bytes = target;
        self.checkpoint_record().lock().file_bytes = target;
        Ok((stats, before - target))
    }

    fn checkpoint_locked(
        &self,
        checkpointer: &mut crate::store::CheckpointerState,
        version: u64,
        roots: &[u8],
        collected: impl FnOnce(),
    ) -> Result<CheckpointStats> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if self.is_poisoned() {
            return Err(Error::Poisoned);
        }
        let durable = self.durable_header().lock().clone();
        if version < durable.version {
            return Err(Error::VersionRegressed {
                requested: version,
                durable: durable.version,
            });
        }
        if roots.len() > crate::ROOTS_MAX_BYTES {
            return Err(Error::RootsTooLarge {
                len: roots.len(),
                max: crate::ROOTS_MAX_BYTES,
            });
        }
        let prepared = self
            .allocator()
            .prepare_checkpoint(version, |freed_at, pages| self.supersede(freed_at, pages))?;
        // Superseded page versions no reader can reach are free in this state: skip them.
        let garbage: std::collections::HashSet<PageId> = prepared.garbage.iter().copied().collect();
        let dirty: Vec<(PageId, Page, u64)> = self
            .cache()
            .dirty_pages()
            .into_iter()
            .filter(|(id, _, _)| !garbage.contains(id))
            .collect();
        collected();
        let outcome = self.write_state(&prepared, &dirty, &durable, roots, checkpointer.file_bytes);

        match outcome {
            Ok((stats, slot, file_bytes)) => {
                let flushed: Vec<(PageId, u64)> = dirty
                    .iter()
                    .map(|(id, _, generation)| (*id, *generation))
                    .collect();
                self.cache().mark_clean(&flushed);
                // Before `finish_checkpoint` hands these pages out again: after it, a writer
                // could reuse one and we would drop its new contents.
                for &page in &prepared.garbage {
                    self.discard(page);
                }
                *self.durable_header().lock() = slot;
                // Before the allocator may release pages for reuse (see `set_reader_horizon`).
                self.drop_superseded(self.allocator().horizon());
                self.allocator().finish_checkpoint(prepared);
                checkpointer.file_bytes = file_bytes;
                let mut record = self.checkpoint_record().lock();
                record.file_bytes = file_bytes;
                record.checkpoints += 1;
                record.last = stats;
                Ok(stats)
            }
            Err(error) => {
                // The durable header still names the previous state, which nothing above
                // touched; give back what this attempt took.
                self.allocator().abort_checkpoint(prepared);
                if let Ok(len) = self.storage().and_then(|s| Ok(s.len()?)) {
                    self.file_grew_to(len);
                    checkpointer.file_bytes = len;
                    self.checkpoint_record().lock().file_bytes = len;
                }
                Err(error)
            }
        }
    }

    /// Steps 2-6: grow, write the pages and the free list, sync, write the other header slot,
    /// sync. Returns the stats, the new slot and the file length.
    fn write_state(
        &self,
        prepared: &PreparedCheckpoint,
        dirty: &[(PageId, Page, u64)],
        durable: &HeaderSlot,
        roots: &[u8],
        file_bytes: u64,
    ) -> Result<(CheckpointStats, HeaderSlot, u64)> {
        let layout = self.layout();
        let mut pages: Vec<(PageId, Page)> = dirty
            .iter()
            .map(|(id, page, _)| (*id, page.clone()))
            .collect();
        pages.extend(encode_chain(
            &prepared.free,
            &prepared.freelist_pages,
            self.buffer_size(),
        ));
        let pages_end = pages.iter().map(|(id, _)| id.0 + 1).max().unwrap_or(0);
        let file_bytes = self.grow_to(
            file_bytes,
            layout.file_len_for(pages_end.max(prepared.high_water)),
        )?;

        let storage = self.storage()?;
        self.retire_older_slot(&*storage)?;
        // Dirty pages were forgotten when their commits cached them; free-list pages were not.
        self.forget_verified(pages.iter().map(|(id, _)| *id));
        let flush = write_pages(
            &*storage,
            layout,
            &mut pages,
            WriteStrategy::Coalesced,
            self.cipher(),
        )?;
        self.sync_or_poison()?;

        let slot = HeaderSlot {
            key_check: durable.key_check,
            page_size: layout.page_size as u32,
            sequence: durable.sequence + 1,
            version: prepared.version,
            high_water: prepared.high_water,
            freelist_head: prepared.freelist_pages.first().map_or(NO_PAGE, |p| p.0),
            freelist_pages: prepared.freelist_pages.len() as u32,
            free_extents: prepared.free.extent_count() as u64,
            free_pages: prepared.free.page_count(),
            roots: roots.to_vec(),
        };
        let encoded = slot.encode()?;
        storage.write_all_at(&encoded, slot_offset(slot.sequence))?;
        self.sync_or_poison()?;

        let stats = CheckpointStats {
            version: prepared.version,
            pages_written: dirty.len() as u64,
            garbage_pages_dropped: prepared.garbage.len() as u64,
            freelist_pages: prepared.freelist_pages.len() as u64,
            runs: flush.runs,
            write_calls: flush.write_calls + 1,
            syncs: 2,
            bytes_written: flush.bytes + encoded.len() as u64,
            file_bytes,
        };
        Ok((stats, slot, file_bytes))
    }

    /// Grows the file to at least `needed` bytes (doubling while small, then by
    /// `growth_step_bytes` or an eighth), preallocated. Returns the new length.
    fn grow_to(&self, current: u64, needed: u64) -> Result<u64> {
        if needed <= current {
            return Ok(current);
        }
        let target = self.options().grown_len(current, needed);
        self.storage()?.allocate(target)?;
        self.file_grew_to(target);
        Ok(target)
    }

    fn sync_or_poison(&self) -> Result<()> {
        self.storage()?.sync_data().map_err(|error| {
            self.poison();
            Error::from(error)
        })
    }
}
