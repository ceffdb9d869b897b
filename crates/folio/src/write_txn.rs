//! [`WriteTransaction`]: changes to one or more column families, committed atomically.

use std::sync::Arc;

use folio_btree::{BTree, BTreeMut, Value};
use folio_wal::{Durability, Lsn};
use parking_lot::RawMutex;
use parking_lot::lock_api::ArcMutexGuard;

use crate::database::CfSlot;
use crate::log_record::RecordBuilder;
use crate::snapshot::Edit;
use crate::{Database, Error, Result};

type TreeGuard = ArcMutexGuard<RawMutex, BTreeMut>;

/// Numbers write transactions, so a savepoint can be checked against its transaction.
static NEXT_TRANSACTION_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A write transaction over the column families named when it began. Its changes are seen by
/// its own reads immediately and by everyone else once it commits; dropping it without
/// committing discards them.
pub struct WriteTransaction {
    /// Identifies this transaction's savepoints.
    id: u64,
    db: Database,
    /// Locked writers, in column-family id order; name, id, tree.
    trees: Vec<(String, u64, TreeGuard)>,
    record: RecordBuilder,
    finished: bool,
}

impl std::fmt::Debug for WriteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cfs: Vec<&str> = self
            .trees
            .iter()
            .map(|(name, _, _)| name.as_str())
            .collect();
        f.debug_struct("WriteTransaction")
            .field("column_families", &cfs)
            .field("log_bytes", &self.record.len())
            .finish_non_exhaustive()
    }
}

impl WriteTransaction {
    pub(crate) fn new(db: Database, slots: Vec<(String, Arc<CfSlot>)>) -> Result<Self> {
        // Locks are taken in ascending id order: transactions never deadlock.
        let mut trees = Vec::with_capacity(slots.len());
        for (name, slot) in slots {
            let guard = slot.tree.lock_arc();
            if slot.dropped.load(std::sync::atomic::Ordering::Acquire) {
                return Err(Error::ColumnFamilyDropped { name });
            }
            db.settle_unlogged(&slot)?;
            trees.push((name, slot.id, guard));
        }
        Ok(Self {
            id: NEXT_TRANSACTION_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            db,
            trees,
            record: RecordBuilder::new(),
            finished: false,
        })
    }

    /// Marks the transaction's current state; [`WriteTransaction::rollback_to`] returns to it.
    pub fn savepoint(&mut self) -> Savepoint {
        Savepoint {
            transaction: self.id,
            trees: self
                .trees
                .iter_mut()
                .map(|(_, _, tree)| tree.savepoint())
                .collect(),
            record: self.record.mark(),
        }
    }

    /// Undoes every change made since `savepoint` (which must come from this transaction and
    /// not from before an earlier `rollback_to` past it). The savepoint stays valid.
    pub fn rollback_to(&mut self, savepoint: &Savepoint) -> Result<()> {
        if savepoint.transaction != self.id {
            return Err(Error::ForeignSavepoint);
        }
        for ((_, _, tree), tree_savepoint) in self.trees.iter_mut().zip(&savepoint.trees) {
            tree.rollback_to(tree_savepoint);
        }
        self.record.truncate(savepoint.record);
        Ok(())
    }

    fn tree(&mut self, cf: &str) -> Result<(u64, &mut BTreeMut)> {
        self.trees
            .iter_mut()
            .find(|(name, _, _)| name == cf)
            .map(|(_, id, guard)| (*id, &mut **guard))
            .ok_or_else(|| Error::NotInTransaction { name: cf.into() })
    }

    /// Inserts or replaces `key` in `cf`.
    pub fn put(&mut self, cf: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let (id, tree) = self.tree(cf)?;
        tree.put(key, value)?;
        self.record.put(id, key, value);
        Ok(())
    }

    /// Removes `key` from `cf`; returns whether it was there.
    pub fn delete(&mut self, cf: &str, key: &[u8]) -> Result<bool> {
        let (id, tree) = self.tree(cf)?;
        let existed = tree.delete_key(key)?;
        if existed {
            self.record.delete(id, key);
        }
        Ok(existed)
    }

    /// The value of `key` in `cf`, this transaction's changes included.
    pub fn get(&mut self, cf: &str, key: &[u8]) -> Result<Option<Value>> {
        Ok(self.tree(cf)?.1.get(key)?)
    }

    /// A read view of `cf` with this transaction's changes (for ranges and scans).
    pub fn view(&mut self, cf: &str) -> Result<BTree> {
        Ok(self.tree(cf)?.1.view())
    }

    /// Bytes of log this transaction will write.
    pub fn log_bytes(&self) -> usize {
        self.record.len()
    }

    /// Commits with the database's default durability; returns the commit's LSN (0 when
    /// nothing changed).
    pub fn commit(self) -> Result<Lsn> {
        let durability = self.db.inner.options.default_durability;
        self.commit_with(durability)
    }

    /// Commits: logs the changes as one record, makes them visible to new readers in LSN
    /// order, and with `Durability::Immediate` returns only once the record is synced.
    pub fn commit_with(mut self, durability: Durability) -> Result<Lsn> {
        self.finished = true;
        if self.record.is_empty() {
            for (_, _, tree) in &mut self.trees {
                tree.rollback();
            }
            return Ok(0);
        }
        let record = std::mem::take(&mut self.record).finish();
        // Appended while the writers are locked: each column family's commits reach the log
        // in the order they were applied.
        let lsn = match self.db.inner.wal.append_owned(record, Durability::Eventual) {
            Ok(lsn) => lsn,
            Err(error) => {
                for (_, _, tree) in &mut self.trees {
                    tree.rollback();
                }
                return Err(error.into());
            }
        };
        let mut edits = Vec::with_capacity(self.trees.len());
        for (_, id, tree) in &mut self.trees {
            tree.commit(lsn);
            edits.push(Edit::Tree {
                id: *id,
                root: tree.root(),
                len: tree.len(),
            });
        }
        self.trees.clear(); // release the writers for the next transaction
        self.db.inner.publisher.publish(lsn, edits);
        if durability == Durability::Immediate {
            self.db.inner.wal.wait_durable(lsn)?;
        }
        // Back-pressure: past the dirty bound, checkpoint before returning. The commit has
        // happened, so a failed checkpoint must not turn it into an error; the next
        // `begin_write` checks the bound again and reports the failure.
        let _ = self.db.relieve_pressure();
        Ok(lsn)
    }
}

/// A point inside a [`WriteTransaction`] to roll back to.
#[derive(Debug, Clone)]
pub struct Savepoint {
    transaction: u64,
    trees: Vec<folio_btree::TreeSavepoint>,
    record: (usize, u32),
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        if !self.finished {
            for (_, _, tree) in &mut self.trees {
                tree.rollback();
            }
        }
    }
}
