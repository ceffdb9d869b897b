//! Unlogged commits (a large transaction, a bulk-load chunk): their data goes to the data file
//! through a checkpoint instead of through the log, and the log holds only a marker.
//!
//! # The rule that keeps recovery a prefix of the commit order
//! An unlogged commit at LSN `m` is durable only once a checkpoint at a version `>= m` is.
//! Replay skips its marker (a checkpoint past it already holds its data; otherwise it was
//! never acknowledged). So no logged record may follow `m` in the log unless such a
//! checkpoint succeeded first: else a crash could replay that later commit without the
//! earlier unlogged one, a hole in the commit order (docs/invariants.md, invariant 2).
//!
//! [`UnloggedGate`] enforces it: every logged append happens under the gate's read lock and
//! only while no unlogged commit is pending; an unlogged marker is appended under the write
//! lock and marks itself pending. A writer that finds one pending first checkpoints
//! ([`DbInner::settle_unlogged`]), then appends. The unlogged commit itself checkpoints at
//! once, so others rarely wait for more than that checkpoint.

use std::sync::atomic::{AtomicU64, Ordering};

use folio_wal::{Durability, Lsn};
use parking_lot::RwLock;

use crate::Result;
use crate::database::DbInner;

/// The pending unlogged commit and the lock that orders log appends around it.
#[derive(Debug, Default)]
pub(crate) struct UnloggedGate {
    /// LSN of the newest unlogged commit no checkpoint covers yet (0: none).
    pending: AtomicU64,
    gate: RwLock<()>,
}

impl DbInner {
    /// Appends a logged record (a commit's changes, a column-family operation): after a
    /// checkpoint covering any pending unlogged commit, so it never follows one in the log
    /// while that one can still be lost. Only the commit path calls it.
    pub(super) fn append_logged(&self, record: Vec<u8>) -> Result<Lsn> {
        loop {
            {
                let _gate = self.unlogged.gate.read();
                if self.unlogged.pending.load(Ordering::Acquire) == 0 {
                    return Ok(self.wal.append_owned(record, Durability::Eventual)?);
                }
            }
            self.settle_unlogged()?;
        }
    }

    /// Appends the marker of an unlogged commit and makes it pending; the caller commits
    /// and publishes its trees at the returned LSN, then calls
    /// [`DbInner::settle_unlogged`] to make it durable. Only the commit path calls it.
    pub(super) fn append_unlogged(&self, marker: Vec<u8>) -> Result<Lsn> {
        let _gate = self.unlogged.gate.write();
        let lsn = self.wal.append_owned(marker, Durability::Eventual)?;
        let replaced = self.unlogged.pending.swap(lsn, Ordering::AcqRel);
        // Under the write lock nothing else appends: a pending marker it replaces is older.
        assert!(
            replaced < lsn,
            "unlogged marker {lsn} after pending {replaced}"
        );
        Ok(lsn)
    }

    /// Checkpoints until the pending unlogged commit (if any) is durable in the data file.
    /// Its commit must be published (or about to be: this waits for it).
    pub(crate) fn settle_unlogged(&self) -> Result<()> {
        let Some(pending) = self.pending_unlogged() else {
            return Ok(());
        };
        if !self.unlogged_checkpointed(pending) {
            self.checkpoint()?;
        }
        // The commit was published before the checkpoint began, so the checkpoint covers it.
        debug_assert!(self.unlogged_checkpointed(pending));
        self.unlogged_settled(pending);
        Ok(())
    }

    /// The pending unlogged commit, once published (this waits for that).
    pub(crate) fn pending_unlogged(&self) -> Option<Lsn> {
        let pending = self.unlogged.pending.load(Ordering::Acquire);
        if pending == 0 {
            return None;
        }
        self.publisher.wait_published(pending);
        Some(pending)
    }

    /// True once a checkpoint covers the unlogged commit at `pending`.
    pub(crate) fn unlogged_checkpointed(&self, pending: Lsn) -> bool {
        self.checkpoints.durable_version() >= pending
    }

    /// Opens the gate after a checkpoint covered the unlogged commit at `pending`.
    pub(crate) fn unlogged_settled(&self, pending: Lsn) {
        // A newer unlogged commit may have replaced it meanwhile: that one stays pending.
        let _ =
            self.unlogged
                .pending
                .compare_exchange(pending, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}
