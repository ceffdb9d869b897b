//! The one commit path: every change readers can see (a transaction, a bulk-load chunk, a
//! compaction's page moves, a column-family creation, drop or rename) reaches them through
//! [`DbInner::append_commit`] and [`Appended::publish`], in three steps:
//!
//! ```text
//!  1. append   the record to the log: logged (changes, a DDL operation, a `Moved` marker)
//!              or the marker of an unlogged commit, ordered by the unlogged gate
//!              (`commit/unlogged.rs`). Fails => every tree it changed is rolled back,
//!              nothing is published, nothing durable names the changes.
//!  2. commit   each changed tree at the record's LSN (its freed pages become reusable once
//!              no snapshot at or below that LSN is live).
//!  3. publish  the new roots: visible to new readers once every earlier LSN is published.
//! ```
//!
//! Invariants kept here (docs/invariants.md, "Commit path"):
//! - **Log before publish.** A change is visible only once its record is in the log (written;
//!   synced per its durability), so what readers see is always a prefix of the log's commit
//!   order, and recovery rebuilds that prefix (invariant 2).
//! - **Publish in LSN order, each LSN once.** Every LSN step 1 hands out is published exactly
//!   once (later commits wait for it, `Publisher::publish` asserts the order). So nothing that
//!   can fail happens between steps 1 and 3, and an [`Appended`] dropped unpublished (a
//!   panic) publishes what it holds rather than stall every later commit.
//! - **Per column family, log order = apply order.** Callers append while they hold the
//!   writers of the trees they changed, so two commits of one column family reach the log in
//!   the order their changes were made.
//! - **The unlogged gate.** No logged record follows an unlogged marker in the log until a
//!   checkpoint covers it (`commit/unlogged.rs`).

mod unlogged;

use folio_btree::BTreeMut;
use folio_wal::Lsn;

use crate::Result;
use crate::cf_slot::CfSlot;
use crate::column_family::CfId;
use crate::concurrent::Written;
use crate::database::DbInner;
use crate::snapshot::Edit;

pub(crate) use unlogged::UnloggedGate;

/// What a commit writes to the log.
#[derive(Debug)]
pub(crate) enum Record {
    /// A record replay applies (or skips, for `Moved`): ordinary commits, DDL, compaction.
    Logged(Vec<u8>),
    /// The marker of an unlogged commit, whose data reaches the data file through a
    /// checkpoint ([`DbInner::settle_unlogged`] makes it durable).
    Unlogged(Vec<u8>),
}

/// A commit whose record is in the log at [`Appended::lsn`], not yet visible: commit its
/// trees, then [`Appended::publish`].
#[must_use = "an appended commit must be published: every later commit waits for its LSN"]
pub(crate) struct Appended<'a> {
    db: &'a DbInner,
    lsn: Lsn,
    /// `None` once published.
    edits: Option<Vec<Edit>>,
}

impl DbInner {
    /// Step 1: appends `record`. When the append fails, every tree in `changed` (those the
    /// commit changed) is rolled back and the error returned.
    pub(crate) fn append_commit<'t>(
        &self,
        record: Record,
        changed: impl IntoIterator<Item = &'t mut BTreeMut>,
    ) -> Result<Appended<'_>> {
        let appended = match record {
            Record::Logged(record) => self.append_logged(record),
            Record::Unlogged(marker) => self.append_unlogged(marker),
        };
        match appended {
            Ok(lsn) => Ok(Appended {
                db: self,
                lsn,
                edits: Some(Vec::new()),
            }),
            Err(error) => {
                for tree in changed {
                    tree.rollback();
                }
                Err(error)
            }
        }
    }
}

impl Appended<'_> {
    fn edits(&mut self) -> &mut Vec<Edit> {
        self.edits.as_mut().expect("not published yet")
    }

    /// Step 2: commits `tree` (the column family of `slot`, whose writer the caller holds)
    /// at this LSN; its new root is published. `written` goes to the column family's write
    /// history, which concurrent transactions are validated against.
    pub(crate) fn commit_tree(&mut self, slot: &CfSlot, tree: &mut BTreeMut, written: Written) {
        tree.commit(self.lsn);
        let horizon = self.db.concurrent.active.horizon();
        slot.history.lock().record(
            self.lsn,
            written,
            horizon,
            self.db.options.concurrent_history_bytes,
        );
        let edit = Edit::Tree {
            id: slot.id,
            root: tree.root(),
            len: tree.len(),
        };
        self.edits().push(edit);
    }

    /// Step 2 for a dropped column family: commits its cleared `tree` (freeing its pages at
    /// this LSN); the column family disappears from the published snapshot.
    pub(crate) fn commit_dropped(&mut self, id: CfId, tree: &mut BTreeMut) {
        debug_assert!(
            tree.is_empty(),
            "a dropped column family's tree is cleared first"
        );
        tree.commit(self.lsn);
        self.edits().push(Edit::Drop { id });
    }

    /// Adds a change of the column-family set (create, rename) to publish.
    pub(crate) fn edit(&mut self, edit: Edit) {
        self.edits().push(edit);
    }

    /// Step 3: publishes the commit; returns once it is visible (every earlier LSN too).
    /// Callers release the writers they hold first where others may wait on them.
    pub(crate) fn publish(mut self) -> Lsn {
        self.publish_now();
        self.lsn
    }

    fn publish_now(&mut self) {
        if let Some(edits) = self.edits.take() {
            self.db.publisher.publish(self.lsn, edits);
        }
    }
}

impl Drop for Appended<'_> {
    fn drop(&mut self) {
        // Only on a panic between the steps: publishing what is known keeps later commits
        // from waiting forever for this LSN.
        self.publish_now();
    }
}
