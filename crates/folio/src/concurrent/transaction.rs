//! [`ConcurrentTransaction`]: a write transaction that holds no writer while it runs, and is
//! validated at commit (see the module docs of `concurrent`).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use folio_wal::{Durability, Lsn};

use super::group::Submission;
use super::merged::Merged;
use super::read_set::{KeyRange, ReadSet};
use super::write::{self, Write, Writes};
use crate::cf_slot::CfSlot;
use crate::column_family::{CfId, CfName, CfRef};
use crate::snapshot::CfRoot;
use crate::{Database, Error, Range, ReadTransaction, Result, Value};

/// Nothing buffered: the range of a column family this transaction did not write.
static NO_WRITES: Writes = BTreeMap::new();

/// Numbers concurrent transactions, so a savepoint can be checked against its transaction.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A column family the transaction wrote.
#[derive(Debug)]
struct Written {
    name: Arc<str>,
    slot: Arc<CfSlot>,
    writes: Writes,
}

/// A column family the transaction read.
#[derive(Debug)]
struct Read {
    name: Arc<str>,
    slot: Arc<CfSlot>,
    reads: ReadSet,
}

/// A write transaction that takes no lock while it runs: many of them may read and write the
/// same column families at once. It reads its snapshot (taken at
/// [`crate::Database::begin_concurrent`]) plus its own writes, which it keeps in memory
/// until it commits, and records what it read: keys, and the key ranges its scans covered.
/// Its commit checks that nothing it read was written by a transaction that committed
/// after its snapshot; if something was, the commit fails with [`Error::Conflict`] and
/// applies nothing, else it applies its writes and commits (first committer wins). So
/// committed transactions are **serializable**: each behaves as if it ran alone at its
/// commit's place in the log, write skew and phantoms included.
///
/// It can touch any column family without naming it first. Most code should run it through
/// [`crate::Database::transact`], which retries conflicts.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("doctors")?;
/// let mut setup = db.begin_concurrent()?;
/// setup.put("doctors", b"alice", b"on call")?;
/// setup.put("doctors", b"bob", b"on call")?;
/// setup.commit()?;
///
/// // Both check that someone else stays on call, then go off call themselves.
/// let mut alice = db.begin_concurrent()?;
/// let mut bob = db.begin_concurrent()?;
/// assert_eq!(&*alice.get("doctors", b"bob")?.unwrap(), b"on call");
/// alice.put("doctors", b"alice", b"off")?;
/// assert_eq!(&*bob.get("doctors", b"alice")?.unwrap(), b"on call");
/// bob.put("doctors", b"bob", b"off")?;
/// alice.commit()?;
/// let refused = bob.commit().unwrap_err(); // it read alice's row, which changed
/// assert_eq!(refused.kind(), folio::ErrorKind::Conflict);
/// assert_eq!(&*db.begin_read().get("doctors", b"bob")?.unwrap(), b"on call");
/// # Ok(())
/// # }
/// ```
///
/// # Costs and limits
/// Its writes are buffered in memory until the commit (a transaction past
/// [`crate::DatabaseOptions::large_transaction_bytes`] still commits, through a checkpoint,
/// but the buffer holds all of it: use [`crate::Database::begin_write`] or a bulk load for
/// writes larger than memory). A scan counts as a read of its whole range even when it
/// stops early. Validation is by key, not value: writing a key it read, even with the same
/// value, is a conflict. See `docs/transactions.md`.
pub struct ConcurrentTransaction {
    id: u64,
    db: Database,
    snapshot: ReadTransaction,
    version: Lsn,
    written: HashMap<CfId, Written>,
    read: RefCell<HashMap<CfId, Read>>,
}

impl std::fmt::Debug for ConcurrentTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrentTransaction")
            .field("version", &self.version)
            .field("written_cfs", &self.written.len())
            .finish_non_exhaustive()
    }
}

/// A point inside a [`ConcurrentTransaction`] to roll back to: a copy of its buffered writes.
#[derive(Debug, Clone)]
pub struct ConcurrentSavepoint {
    transaction: u64,
    writes: Vec<(CfId, Writes)>,
}

impl ConcurrentTransaction {
    pub(crate) fn new(db: Database) -> Self {
        let inner = Arc::clone(&db.inner);
        let (snapshot, version) = db.inner.concurrent.active.register(|| {
            let snapshot = ReadTransaction::new(inner);
            let version = snapshot.version();
            (snapshot, version)
        });
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            db,
            snapshot,
            version,
            written: HashMap::new(),
            read: RefCell::new(HashMap::new()),
        }
    }

    /// The version (LSN) of the snapshot this transaction reads.
    pub fn snapshot_version(&self) -> Lsn {
        self.version
    }

    /// `cf`'s id, root in the snapshot, and writer slot. The slot must still be the
    /// snapshot's column family: one dropped (or renamed away and replaced) since is a
    /// conflict.
    fn resolve(&self, cf: CfRef<'_>) -> Result<(CfId, CfRoot, Arc<CfSlot>)> {
        let (id, root) = self.snapshot.resolve(cf)?;
        if let Some(written) = self.written.get(&id) {
            return Ok((id, root, Arc::clone(&written.slot)));
        }
        if let Some(read) = self.read.borrow().get(&id) {
            return Ok((id, root, Arc::clone(&read.slot)));
        }
        let slot = match self.db.inner.cfs.slot(cf) {
            Ok(slot) if slot.id == id => slot,
            Ok(_) | Err(Error::ColumnFamilyNotFound { .. } | Error::ColumnFamilyDropped { .. }) => {
                return Err(Error::ColumnFamilyDropped {
                    name: cf.name().into_owned(),
                });
            }
            Err(error) => return Err(error),
        };
        Ok((id, root, slot))
    }

    /// [`Error::ColumnFamilyNotFound`] (or dropped) unless `cf` is in the snapshot and live.
    pub(crate) fn check_cf(&self, cf: &str) -> Result<()> {
        self.resolve(CfRef::Name(cf)).map(|_| ())
    }

    /// Records a read of `cf` (`record` adds to its read set).
    fn record_read(&self, id: CfId, slot: &Arc<CfSlot>, record: impl FnOnce(&mut ReadSet)) {
        let mut read = self.read.borrow_mut();
        let entry = read.entry(id).or_insert_with(|| Read {
            name: slot.name(),
            slot: Arc::clone(slot),
            reads: ReadSet::default(),
        });
        record(&mut entry.reads);
    }

    fn buffered(&self, id: CfId) -> &Writes {
        self.written.get(&id).map_or(&NO_WRITES, |w| &w.writes)
    }

    /// The value of `key` in `cf`: this transaction's own write if it made one, else the
    /// snapshot's (a read validation checks).
    pub fn get<C: CfName + ?Sized>(&self, cf: &C, key: &[u8]) -> Result<Option<Value>> {
        let (id, root, slot) = self.resolve(cf.cf_ref())?;
        let pending = match self.buffered(id).get(key) {
            Some(Write::Put(value)) => return Ok(Some(Value::from(value.clone()))),
            Some(Write::Delete) => return Ok(None),
            Some(update) => Some(update.clone()),
            None => None,
        };
        self.record_read(id, &slot, |reads| reads.point(key));
        let stored = self.snapshot.get_at(root, key)?;
        match pending {
            None => Ok(stored),
            Some(update) => {
                let name = slot.name();
                let operator = self.db.inner.options.merge_operators.get(&*name);
                let value = write::after(&name, key, stored.as_deref(), &update, operator)?;
                Ok(value.map(Value::from))
            }
        }
    }

    /// True when `key` is present in `cf`.
    pub fn contains_key<C: CfName + ?Sized>(&self, cf: &C, key: &[u8]) -> Result<bool> {
        Ok(self.get(cf, key)?.is_some())
    }

    /// Entries of `cf` with keys in `range`, ascending (and from the top with `next_back`),
    /// this transaction's writes included. The whole range counts as read.
    pub fn range<C, K, R>(&self, cf: &C, range: R) -> Result<Range<'_>>
    where
        C: CfName + ?Sized,
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        self.scan(cf.cf_ref(), folio_btree::owned_bounds(&range), false)
    }

    /// Entries of `cf` with keys in `range`, descending.
    pub fn range_rev<C, K, R>(&self, cf: &C, range: R) -> Result<Range<'_>>
    where
        C: CfName + ?Sized,
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        self.scan(cf.cf_ref(), folio_btree::owned_bounds(&range), true)
    }

    /// Entries of `cf` whose key starts with `prefix`, ascending.
    pub fn prefix<C: CfName + ?Sized>(&self, cf: &C, prefix: &[u8]) -> Result<Range<'_>> {
        self.scan(cf.cf_ref(), folio_btree::prefix_bounds(prefix), false)
    }

    /// Entries of `cf` whose key starts with `prefix`, descending.
    pub fn prefix_rev<C: CfName + ?Sized>(&self, cf: &C, prefix: &[u8]) -> Result<Range<'_>> {
        self.scan(cf.cf_ref(), folio_btree::prefix_bounds(prefix), true)
    }

    /// Every entry of `cf`, ascending.
    #[expect(
        clippy::iter_not_returning_iterator,
        reason = "resolving the column family can fail; the entries are the iterator"
    )]
    pub fn iter<C: CfName + ?Sized>(&self, cf: &C) -> Result<Range<'_>> {
        self.scan(cf.cf_ref(), (Bound::Unbounded, Bound::Unbounded), false)
    }

    pub(crate) fn scan(&self, cf: CfRef<'_>, bounds: KeyRange, reverse: bool) -> Result<Range<'_>> {
        let (id, root, slot) = self.resolve(cf)?;
        self.record_read(id, &slot, |reads| reads.range(bounds.clone()));
        // `BTreeMap::range` panics on bounds that hold no key.
        let own = if folio_btree::bounds_nonempty(&bounds) {
            self.buffered(id).range::<Vec<u8>, _>(bounds.clone())
        } else {
            NO_WRITES.range::<Vec<u8>, _>(..)
        };
        let base = self.snapshot.tree_at(root).range::<Vec<u8>, _>(bounds);
        let name = slot.name();
        let operator = self.db.inner.options.merge_operators.get(&*name).cloned();
        Ok(Range::merged(Merged::new(
            base, own, reverse, name, operator,
        )))
    }

    /// Entries in `cf`, this transaction's writes included. Counts as a read of all of `cf`.
    pub fn len<C: CfName + ?Sized>(&self, cf: &C) -> Result<u64> {
        let (id, root, slot) = self.resolve(cf.cf_ref())?;
        self.record_read(id, &slot, |reads| {
            reads.range((Bound::Unbounded, Bound::Unbounded));
        });
        let mut len = root.len;
        for (key, write) in self.buffered(id) {
            let existed = self.snapshot.get_at(root, key)?.is_some();
            match (existed, !matches!(write, Write::Delete)) {
                (false, true) => len += 1,
                (true, false) => len -= 1,
                _ => {}
            }
        }
        Ok(len)
    }

    /// Inserts or replaces `key` in `cf` (buffered until the commit; not a read).
    pub fn put<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8], value: &[u8]) -> Result<()> {
        check_sizes(key.len(), value.len())?;
        let (id, _, slot) = self.resolve(cf.cf_ref())?;
        self.written_mut(id, slot)
            .insert(key.to_vec(), Write::Put(value.to_vec()));
        Ok(())
    }

    /// Adds `delta` to the counter at `key` in `cf` (an `i64`, 8 bytes little-endian: what
    /// a typed table's `i64` value is; an absent key counts as 0) at the commit, to the
    /// value the key has then. Not a read: concurrent increments of one counter never
    /// conflict (reading the counter in the same transaction is a read, as always). A value
    /// that is not a counter, or an overflow, fails the commit with
    /// [`Error::NotACounter`] (when it is buffered already, at once).
    pub fn increment<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8], delta: i64) -> Result<()> {
        check_sizes(key.len(), write::COUNTER_BYTES)?;
        let (id, _, slot) = self.resolve(cf.cf_ref())?;
        let name = slot.name();
        let writes = self.written_mut(id, slot);
        let next = match writes.get(key) {
            None => Write::Add(delta),
            Some(Write::Add(pending)) => Write::Add(write::add(&name, key, *pending, delta)?),
            Some(Write::Delete) => Write::Put(write::encode(delta)),
            Some(Write::Put(value)) => Write::Put(write::added(&name, key, Some(value), delta)?),
            Some(Write::Merge(_)) => {
                return Err(Error::NotACounter {
                    cf: name.to_string(),
                    key: key.to_vec(),
                    reason: "this transaction merges into it already".to_owned(),
                });
            }
        };
        writes.insert(key.to_vec(), next);
        Ok(())
    }

    /// Merges `operand` into the value of `key` in `cf` with the column family's merge
    /// operator ([`crate::MergeOperator`]) at the commit, into the value the key has then.
    /// Not a read: concurrent merges into one key never conflict, and each applies in
    /// commit order (reading the key in the same transaction is a read, as always). Several
    /// merges of one key apply in the order they were made. [`Error::MergeFailed`] at once
    /// when no operator is registered, and at the commit (failing it, nothing applied) when
    /// the operator refuses the operand.
    pub fn merge<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8], operand: &[u8]) -> Result<()> {
        check_sizes(key.len(), operand.len())?;
        let (id, _, slot) = self.resolve(cf.cf_ref())?;
        let name = slot.name();
        let operator =
            crate::merge::operator_for(&self.db.inner.options.merge_operators, &name, key)?.clone();
        let writes = self.written_mut(id, slot);
        let next = match writes.get(key) {
            None => Write::Merge(vec![operand.to_vec()]),
            Some(Write::Merge(operands)) => {
                let mut operands = operands.clone();
                operands.push(operand.to_vec());
                Write::Merge(operands)
            }
            Some(Write::Delete) => Write::Put(operator.apply(&name, key, None, operand)?),
            Some(Write::Put(value)) => {
                Write::Put(operator.apply(&name, key, Some(value), operand)?)
            }
            Some(Write::Add(_)) => {
                return Err(Error::MergeFailed {
                    cf: name.to_string(),
                    key: key.to_vec(),
                    reason: "this transaction increments it already".to_owned(),
                });
            }
        };
        writes.insert(key.to_vec(), next);
        Ok(())
    }

    /// Removes `key` from `cf`; returns whether it was there (so it reads the key).
    pub fn delete<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8]) -> Result<bool> {
        check_sizes(key.len(), 0)?;
        let existed = self.get(cf, key)?.is_some();
        let (id, _, slot) = self.resolve(cf.cf_ref())?;
        self.written_mut(id, slot)
            .insert(key.to_vec(), Write::Delete);
        Ok(existed)
    }

    fn written_mut(&mut self, id: CfId, slot: Arc<CfSlot>) -> &mut Writes {
        &mut self
            .written
            .entry(id)
            .or_insert_with(|| Written {
                name: slot.name(),
                slot,
                writes: Writes::new(),
            })
            .writes
    }

    /// Marks the transaction's writes so far; [`ConcurrentTransaction::rollback_to`] returns
    /// to them. Costs a copy of the buffered writes. Reads made after it still count at the
    /// commit (they were seen).
    pub fn savepoint(&self) -> ConcurrentSavepoint {
        ConcurrentSavepoint {
            transaction: self.id,
            writes: self
                .written
                .iter()
                .map(|(id, written)| (*id, written.writes.clone()))
                .collect(),
        }
    }

    /// Undoes every write made since `savepoint` (which must come from this transaction).
    pub fn rollback_to(&mut self, savepoint: &ConcurrentSavepoint) -> Result<()> {
        if savepoint.transaction != self.id {
            return Err(Error::ForeignSavepoint);
        }
        for (id, written) in &mut self.written {
            written.writes = savepoint
                .writes
                .iter()
                .find(|(saved, _)| saved == id)
                .map(|(_, writes)| writes.clone())
                .unwrap_or_default();
        }
        Ok(())
    }

    /// Commits with the database's default durability; returns the commit's LSN (0 when
    /// nothing was written: a read-only transaction never conflicts).
    pub fn commit(self) -> Result<Lsn> {
        let durability = self.db.inner.options.default_durability;
        self.commit_with(durability)
    }

    /// Commits (see the type's docs): validates, applies and logs the writes as one record,
    /// publishes them, and with [`Durability::Immediate`] returns once they are durable. On
    /// [`Error::Conflict`] nothing was applied.
    ///
    /// Commits go through a commit queue: one thread validates and applies a group of
    /// concurrent commits in one write transaction and one log record (`docs/transactions.md`).
    pub fn commit_with(mut self, durability: Durability) -> Result<Lsn> {
        if !self.has_writes() {
            return Ok(0);
        }
        self.check_committable()?;
        let submission = self.submission();
        let queue = self
            .db
            .inner
            .concurrent
            .queues
            .queue_for(submission.cf_ids());
        let lsn = queue.submit(&self.db, submission)?;
        if durability == Durability::Immediate && lsn > 0 {
            self.db.inner.wal.wait_durable(lsn)?;
        }
        // The commit has happened: a failed checkpoint is reported by the next write.
        let _ = self.db.relieve_pressure();
        Ok(lsn)
    }

    /// True when the transaction buffered any write.
    pub(crate) fn has_writes(&self) -> bool {
        self.written.values().any(|w| !w.writes.is_empty())
    }

    /// Refuses a commit that could never be made: the database closed or poisoned, or a
    /// writer it needs held by the calling thread (the group's leader may be this thread:
    /// it would wait for itself).
    pub(crate) fn check_committable(&self) -> Result<()> {
        self.db.check_writable()?;
        for slot in self.commit_slots() {
            if slot.held_by_this_thread() {
                return Err(Error::WouldDeadlock {
                    cf: slot.name().to_string(),
                });
            }
        }
        Ok(())
    }

    /// What the commit queue needs of this transaction (its buffers move there; it stays
    /// registered, holding back the history it is validated against, until dropped).
    pub(crate) fn submission(&mut self) -> Submission {
        let reads = self
            .read
            .borrow_mut()
            .drain()
            .map(|(_, read)| (read.slot, read.name, read.reads))
            .collect();
        let writes = std::mem::take(&mut self.written)
            .into_values()
            .filter(|written| !written.writes.is_empty())
            .map(|written| (written.slot, written.name, written.writes))
            .collect();
        Submission {
            version: self.version,
            reads,
            writes,
        }
    }

    /// The writers a commit locks: of every column family read or written, in id order.
    pub(crate) fn commit_slots(&self) -> Vec<Arc<CfSlot>> {
        let mut slots: Vec<Arc<CfSlot>> =
            self.written.values().map(|w| Arc::clone(&w.slot)).collect();
        for entry in self.read.borrow().values() {
            if !slots.iter().any(|slot| slot.id == entry.slot.id) {
                slots.push(Arc::clone(&entry.slot));
            }
        }
        slots.sort_by_key(|slot| slot.id);
        slots
    }

    /// The database this transaction writes to.
    #[cfg(feature = "async")]
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }
}

impl Drop for ConcurrentTransaction {
    fn drop(&mut self) {
        self.db.inner.concurrent.active.unregister(self.version);
    }
}

/// Refuses a key or value over the limits when it is written, not at the commit.
fn check_sizes(key: usize, value: usize) -> Result<()> {
    folio_btree::check_entry_sizes(key, value).map_err(Error::Tree)
}
