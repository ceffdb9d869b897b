//! [`WriteTransaction`]: changes to one or more column families, committed atomically.

use std::collections::HashMap;
use std::sync::Arc;

use folio_btree::BTreeMut;
use folio_wal::{Durability, Lsn};

use crate::cf_slot::{CfSlot, Wait, WriterGuard};
use crate::column_family::{CfId, CfName, CfRef};
use crate::commit::Record;
use crate::concurrent::Written;
use crate::log_record::{LogOp, RecordBuilder};
use crate::{Database, Error, Result, Tree, Value};

/// Numbers write transactions, so a savepoint can be checked against its transaction.
static NEXT_TRANSACTION_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A write transaction over the column families named when it began. Its changes are seen by
/// its own reads immediately and by everyone else once it commits; dropping it without
/// committing discards them. It holds the writers of its column families until then (other
/// transactions on them wait), and keeps the database open. It may be moved to another
/// thread.
///
/// A transaction may be far larger than memory. Once its log record passes
/// [`crate::DatabaseOptions::large_transaction_bytes`] it stops logging its data, and its
/// commit writes its pages to the data file (a checkpoint) instead: always durable, whatever
/// durability is asked for. Past the dirty-page bound its pages spill to free space in the
/// data file and are read back when touched again. See `docs/durability.md`.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use folio::Durability;
///
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("accounts")?;
/// db.create_cf("audit")?;
/// let mut txn = db.begin_write(&["accounts", "audit"])?;
/// txn.put("accounts", b"alice", b"90")?;
/// txn.put("audit", b"0001", b"alice -10")?;
/// assert_eq!(&*txn.get("accounts", b"alice")?.unwrap(), b"90"); // sees its own changes
/// txn.commit_with(Durability::Immediate)?; // both column families, atomically, durably
/// # Ok(())
/// # }
/// ```
pub struct WriteTransaction {
    /// Identifies this transaction's savepoints.
    id: u64,
    /// Locked writers, in column-family id order, with their names.
    trees: Vec<(Arc<str>, WriterGuard)>,
    record: RecordBuilder,
    /// Set once the record passed `large_transaction_bytes`: the changes are no longer
    /// logged (the record is dropped) and the commit goes through a checkpoint.
    unlogged: bool,
    /// Whether anything changed (the record says so only while logged).
    changed: bool,
    finished: bool,
    /// Last: the writers are released before a close this handle may run on drop.
    db: Database,
}

impl std::fmt::Debug for WriteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cfs: Vec<&str> = self.trees.iter().map(|(name, _)| &**name).collect();
        f.debug_struct("WriteTransaction")
            .field("column_families", &cfs)
            .field("log_bytes", &self.record.len())
            .field("unlogged", &self.unlogged)
            .finish_non_exhaustive()
    }
}

impl WriteTransaction {
    pub(crate) fn new(db: Database, slots: Vec<Arc<CfSlot>>, wait: Wait) -> Result<Self> {
        // Locks are taken in ascending id order: transactions never deadlock each other.
        let mut trees = Vec::with_capacity(slots.len());
        let spill = db.inner.options.spill_policy();
        for slot in slots {
            let name = slot.name();
            let mut guard = slot.lock_writer(&name, wait)?;
            if slot.dropped.load(std::sync::atomic::Ordering::Acquire) {
                return Err(Error::ColumnFamilyDropped {
                    name: name.to_string(),
                });
            }
            guard.set_spill_policy(Some(spill));
            trees.push((name, guard));
        }
        Ok(Self {
            id: NEXT_TRANSACTION_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            db,
            trees,
            record: RecordBuilder::new(),
            unlogged: false,
            changed: false,
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
                .map(|(_, tree)| tree.savepoint())
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
        for ((_, tree), tree_savepoint) in self.trees.iter_mut().zip(&savepoint.trees) {
            tree.rollback_to(tree_savepoint);
        }
        if !self.unlogged {
            self.record.truncate(savepoint.record);
        }
        Ok(())
    }

    /// Where `cf` is among the transaction's trees.
    fn position(&self, cf: CfRef<'_>) -> Result<usize> {
        let found = match cf {
            CfRef::Name(name) => self.trees.iter().position(|(own, _)| &**own == name),
            CfRef::Handle(handle) => self
                .trees
                .iter()
                .position(|(_, guard)| guard.slot().id == handle.slot.id),
        };
        found.ok_or_else(|| Error::NotInTransaction {
            name: cf.name().into_owned(),
        })
    }

    fn tree<C: CfName + ?Sized>(&self, cf: &C) -> Result<&BTreeMut> {
        let at = self.position(cf.cf_ref())?;
        Ok(&*self.trees[at].1)
    }

    /// Inserts or replaces `key` in `cf`.
    pub fn put<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8], value: &[u8]) -> Result<()> {
        let at = self.position(cf.cf_ref())?;
        self.put_at(at, key, value)
    }

    /// Removes `key` from `cf`; returns whether it was there.
    pub fn delete<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8]) -> Result<bool> {
        let at = self.position(cf.cf_ref())?;
        self.delete_at(at, key)
    }

    /// [`WriteTransaction::put`] into the column family with id `id` (whatever its name is
    /// now: a concurrent transaction applies its writes by id).
    pub(crate) fn put_by_id(&mut self, id: CfId, key: &[u8], value: &[u8]) -> Result<()> {
        let at = self.position_of_id(id)?;
        self.put_at(at, key, value)
    }

    /// [`WriteTransaction::delete`] by column-family id.
    pub(crate) fn delete_by_id(&mut self, id: CfId, key: &[u8]) -> Result<bool> {
        let at = self.position_of_id(id)?;
        self.delete_at(at, key)
    }

    fn position_of_id(&self, id: CfId) -> Result<usize> {
        self.trees
            .iter()
            .position(|(_, guard)| guard.slot().id == id)
            .ok_or_else(|| Error::NotInTransaction {
                name: id.to_string(),
            })
    }

    fn put_at(&mut self, at: usize, key: &[u8], value: &[u8]) -> Result<()> {
        let guard = &mut self.trees[at].1;
        let id = guard.slot().id;
        guard.put(key, value)?;
        self.changed = true;
        if !self.unlogged {
            // Checked before the copy: one huge value alone switches to unlogged without
            // ever sitting in the record.
            self.check_log_size(key.len() + value.len());
            if !self.unlogged {
                self.record.put(id, key, value);
            }
        }
        Ok(())
    }

    fn delete_at(&mut self, at: usize, key: &[u8]) -> Result<bool> {
        let guard = &mut self.trees[at].1;
        let id = guard.slot().id;
        let existed = guard.delete_key(key)?;
        if existed {
            self.changed = true;
            self.check_log_size(key.len());
            if !self.unlogged {
                self.record.delete(id, key);
            }
        }
        Ok(existed)
    }

    /// Removes every key of `cf` in `range`; returns how many there were. The work is by
    /// pages, not keys: subtrees inside the range are freed whole (each page read once to
    /// find long values' pages and count entries, never copied), only the nodes at the two
    /// ends of the range are edited, and the log records the range, not its keys. Freed
    /// pages are reused once no snapshot needs them, as any other.
    ///
    /// ```
    /// # fn main() -> folio::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = folio::Database::open(dir.path())?;
    /// db.create_cf("events")?;
    /// let mut txn = db.begin_write(&["events"])?;
    /// for day in 1..=9u8 {
    ///     txn.put("events", &[b'd', b'0' + day], b"...")?;
    /// }
    /// assert_eq!(txn.delete_range("events", &b"d3"[..]..&b"d7"[..])?, 4); // d3..=d6
    /// txn.commit()?;
    /// assert_eq!(db.begin_read().tree("events")?.len(), 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete_range<C, K, R>(&mut self, cf: &C, range: R) -> Result<u64>
    where
        C: CfName + ?Sized,
        K: AsRef<[u8]> + ?Sized,
        R: std::ops::RangeBounds<K>,
    {
        let at = self.position(cf.cf_ref())?;
        let bounds = folio_btree::owned_bounds(&range);
        let guard = &mut self.trees[at].1;
        let id = guard.slot().id;
        let removed = guard.remove_range(&bounds)?;
        if removed > 0 {
            self.changed = true;
            let logged = |bound: &std::ops::Bound<Vec<u8>>| match bound {
                std::ops::Bound::Included(key) | std::ops::Bound::Excluded(key) => key.len() + 1,
                std::ops::Bound::Unbounded => 1,
            };
            self.check_log_size(logged(&bounds.0) + logged(&bounds.1));
            if !self.unlogged {
                self.record.delete_range(id, &bounds);
            }
        }
        Ok(removed)
    }

    /// When `more` bytes would take the record past `large_transaction_bytes`, stops
    /// logging: the record is dropped (its memory with it) and the commit will go through a
    /// checkpoint.
    fn check_log_size(&mut self, more: usize) {
        if self.record.len() + more > self.db.inner.options.large_transaction_bytes {
            self.record = RecordBuilder::new();
            self.unlogged = true;
        }
    }

    /// True once the transaction stopped logging its data (see the type's docs).
    pub fn is_unlogged(&self) -> bool {
        self.unlogged
    }

    /// Adds `delta` to the counter at `key` in `cf` (an `i64`, 8 bytes little-endian: what
    /// a typed table's `i64` value is; an absent key counts as 0); returns the new value.
    /// [`Error::NotACounter`] when the value there is not 8 bytes or the sum overflows.
    pub fn increment<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8], delta: i64) -> Result<i64> {
        let at = self.position(cf.cf_ref())?;
        let name = cf.cf_ref().name().into_owned();
        let now = self.trees[at].1.get(key)?;
        let sum = crate::concurrent::add_to_counter(&name, key, now.as_deref(), delta)?;
        self.put_at(at, key, &sum.to_le_bytes())?;
        Ok(sum)
    }

    /// Merges `operand` into the value of `key` in `cf` with the column family's merge
    /// operator ([`crate::MergeOperator`]) and writes the result (logged as a put). The
    /// transaction holds the column family's writer, so nothing changes the value between
    /// the read and the write. [`Error::MergeFailed`] when no operator is registered, it
    /// refuses the operand, or the result is too large; nothing is written then.
    pub fn merge<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8], operand: &[u8]) -> Result<()> {
        let at = self.position(cf.cf_ref())?;
        let name = cf.cf_ref().name().into_owned();
        let operator =
            crate::merge::operator_for(&self.db.inner.options.merge_operators, &name, key)?;
        let now = self.trees[at].1.get(key)?;
        let merged = operator.apply(&name, key, now.as_deref(), operand)?;
        self.put_at(at, key, &merged)
    }

    /// [`WriteTransaction::get`] by column-family id.
    pub(crate) fn get_by_id(&self, id: CfId, key: &[u8]) -> Result<Option<Value>> {
        let at = self.position_of_id(id)?;
        Ok(self.trees[at].1.get(key)?)
    }

    /// The value of `key` in `cf`, this transaction's changes included.
    pub fn get<C: CfName + ?Sized>(&self, cf: &C, key: &[u8]) -> Result<Option<Value>> {
        Ok(self.tree(cf)?.get(key)?)
    }

    /// A read view of `cf` with this transaction's changes so far (for ranges and scans). It
    /// borrows the transaction: no change can be made while it lives, and it cannot outlive
    /// the transaction.
    ///
    /// ```
    /// # fn main() -> folio::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = folio::Database::open(dir.path())?;
    /// # db.create_cf("t")?;
    /// let mut txn = db.begin_write(&["t"])?;
    /// txn.put("t", b"a", b"1")?;
    /// txn.put("t", b"b", b"2")?;
    /// let view = txn.view("t")?;
    /// assert_eq!(view.iter().count(), 2);
    /// drop(view); // before the next change
    /// txn.put("t", b"c", b"3")?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A view cannot outlive its transaction (its pages would be freed under it):
    ///
    /// ```compile_fail
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = folio::Database::open(dir.path()).unwrap();
    /// # db.create_cf("t").unwrap();
    /// let view = {
    ///     let txn = db.begin_write(&["t"]).unwrap();
    ///     txn.view("t").unwrap()
    /// }; // `txn` does not live long enough
    /// view.get(b"a").unwrap();
    /// ```
    pub fn view<C: CfName + ?Sized>(&self, cf: &C) -> Result<Tree<'_>> {
        let tree = self.tree(cf)?;
        Ok(Tree::new(tree.view(), tree.len(), None))
    }

    /// Makes room in the log record for about `bytes` more of keys and values (a commit
    /// queue group knows its size up front).
    pub(crate) fn reserve_log(&mut self, bytes: usize) {
        if bytes <= self.db.inner.options.large_transaction_bytes {
            self.record.reserve(bytes);
        }
    }

    /// The database this transaction writes to.
    #[cfg(feature = "async")]
    pub(crate) fn database(&self) -> &Database {
        &self.db
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
    /// order, and with `Durability::Immediate` returns only once the record is synced. An
    /// unlogged (large) transaction returns once the checkpoint holding it is synced; if that
    /// checkpoint fails the error is returned but the changes stay visible, and become
    /// durable with the next checkpoint that succeeds (as a commit whose log sync failed,
    /// they are not acknowledged).
    pub fn commit_with(mut self, durability: Durability) -> Result<Lsn> {
        match self.commit_published()? {
            Committed::Logged(lsn) => {
                if durability == Durability::Immediate && lsn > 0 {
                    self.db.inner.wal.wait_durable(lsn)?;
                }
                // Back-pressure: past the dirty bound, checkpoint before returning. The
                // commit has happened, so a failed checkpoint must not turn it into an error;
                // the next `begin_write` checks the bound again and reports the failure.
                let _ = self.db.relieve_pressure();
                Ok(lsn)
            }
            Committed::Unlogged(lsn) => {
                self.db.inner.settle_unlogged()?;
                Ok(lsn)
            }
        }
    }

    /// The commit up to what waits for disks: applies, logs (written, not yet synced) and
    /// publishes the changes. A logged commit is durable once its LSN is; an unlogged one
    /// once `settle_unlogged` returns. No back-pressure checkpoint: the caller relieves it.
    pub(crate) fn commit_published(&mut self) -> Result<Committed> {
        self.finished = true;
        if !self.changed {
            for (_, tree) in &mut self.trees {
                tree.rollback();
            }
            return Ok(Committed::Logged(0));
        }
        // An unlogged (large) transaction logs only a marker naming its column families; the
        // caller then settles it with a checkpoint that writes its pages.
        let (record, mut written) = if self.unlogged {
            let mut marker = RecordBuilder::new();
            for (_, tree) in &self.trees {
                marker.unlogged(tree.slot().id);
            }
            (Record::Unlogged(marker.finish()), None)
        } else {
            let record = std::mem::take(&mut self.record).finish();
            let written = self.written_keys(&record);
            (Record::Logged(record), written)
        };
        // Appended while the writers are locked: each column family's commits reach the log
        // in the order they were applied.
        let mut appended = self
            .db
            .inner
            .append_commit(record, self.trees.iter_mut().map(|(_, tree)| &mut **tree))?;
        for (_, tree) in &mut self.trees {
            let slot = Arc::clone(tree.slot());
            let written = match &mut written {
                Some(keys) => keys.remove(&slot.id).unwrap_or(Written::Nothing),
                None => Written::Everything,
            };
            appended.commit_tree(&slot, tree, written);
        }
        self.trees.clear(); // release the writers for the next transaction
        let lsn = appended.publish();
        Ok(if self.unlogged {
            Committed::Unlogged(lsn)
        } else {
            Committed::Logged(lsn)
        })
    }
}

impl WriteTransaction {
    /// The keys `record` writes, by column family, for the write histories concurrent
    /// transactions are validated against; `None` (meaning "everything") while no concurrent
    /// transaction runs, when nobody needs them (`concurrent/history.rs`).
    fn written_keys(&self, record: &[u8]) -> Option<HashMap<CfId, Written>> {
        if !self.db.inner.concurrent.active.any() {
            return None;
        }
        // The record was built by this transaction: it decodes (a failure would be a bug;
        // "everything" is then the safe answer).
        let ops = crate::log_record::decode(0, record).ok()?;
        let mut keys: HashMap<CfId, Written> = HashMap::new();
        for op in ops {
            match op {
                LogOp::Put { cf, key, .. } | LogOp::Delete { cf, key } => {
                    let written = keys.entry(cf).or_insert(Written::Keys(Vec::new()));
                    if let Written::Keys(list) = written {
                        list.push(Box::from(key));
                    }
                }
                // Its keys are not listed: every older snapshot that read the column
                // family conflicts (conservative, never a missed conflict).
                LogOp::DeleteRange { cf, .. } => {
                    keys.insert(cf, Written::Everything);
                }
                _ => {}
            }
        }
        Some(keys)
    }
}

/// How a commit reached the log (see [`WriteTransaction::commit_published`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Committed {
    /// Its record is written at this LSN (0: nothing changed); durable once the LSN is.
    Logged(Lsn),
    /// Its marker is at this LSN; durable once the pending unlogged commit is settled.
    Unlogged(Lsn),
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
            for (_, tree) in &mut self.trees {
                tree.rollback();
            }
        }
    }
}
