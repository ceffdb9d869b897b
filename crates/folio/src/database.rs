//! [`Database`]: opening (with recovery), column families, transactions, checkpoints.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use folio_btree::{BTreeMut, Catalog, CfState};
use folio_io::{Directory, FsDirectory};
use folio_pagestore::{PageStore, PageStoreStats};
use folio_wal::{Durability, Lsn, Wal, WalStats};
use parking_lot::{Mutex, RwLock};

use crate::cf_slot::{CfSlot, Wait};
use crate::column_family::{CfName, ColumnFamily, live_slot};
use crate::commit::Record;
use crate::commit_queue::CommitQueues;
use crate::log_record::RecordBuilder;
use crate::options::CompressionOptions;
use crate::roots::Roots;
use crate::snapshot::{Edit, Publisher, Snapshot};
use crate::{
    BulkLoad, DatabaseOptions, Error, ReadTransaction, RecoveryProgress, RecoveryReport, Result,
    WriteBatch, WriteTransaction,
};

/// Name of the data file inside the database directory (the log's segments sit beside it).
pub const DATA_FILE: &str = "data.folio";
/// The data file while it is being created.
const DATA_FILE_NEW: &str = "data.folio.new";
/// An embedded, transactional, ordered key-value database: many column families in one
/// data file, a shared write-ahead log with group commit, snapshots across column families.
/// Cheap to clone; all clones share one database.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use std::time::Duration;
///
/// let db = folio::Database::builder()
///     .cache_bytes(128 << 20)
///     .checkpoint_interval(Some(Duration::from_secs(10)))
///     .open(dir.path())?;
/// db.create_cf("events")?;
/// let writer = {
///     let db = db.clone(); // clones share the database; move one to another thread
///     std::thread::spawn(move || -> folio::Result<()> {
///         let mut txn = db.begin_write(&["events"])?;
///         txn.put("events", b"0001", b"started")?;
///         txn.commit()?;
///         Ok(())
///     })
/// };
/// writer.join().unwrap()?;
/// assert_eq!(db.begin_read().len("events")?, 1);
/// db.close()?; // or drop every clone
/// # Ok(())
/// # }
/// ```
///
/// # Closing
/// The database closes when [`Database::close`] is called on any clone, or when the last
/// clone (and the last write transaction or bulk load, which hold one) is dropped: it
/// checkpoints (with [`DatabaseOptions::checkpoint_on_close`]), stops its background
/// threads, makes the log durable and releases its files, so the same process or another
/// can open it again at once. Read transactions, trees and iterators do not keep it open:
/// once it is closed they return [`Error::Closed`]. Dropping closes synchronously too and
/// logs a failure with `tracing`; call `close` to see it.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) inner: Arc<DbInner>,
    /// Shared by the clones: the last one dropped closes the database. Background threads
    /// hold only `inner`, never this, so a close never runs on one of them.
    _open: Arc<OpenGuard>,
}

/// Closes the database when the last [`Database`] clone goes.
#[derive(Debug)]
struct OpenGuard {
    inner: Arc<DbInner>,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if let Err(error) = self.inner.close() {
            tracing::error!(target: "folio", %error, "closing the database failed; the next open recovers from the log");
        }
    }
}

/// Live column families by name (hashed: a lookup costs the same with 10,000 of them).
pub(crate) type CfMap = std::collections::HashMap<String, Arc<CfSlot>>;

#[derive(Debug)]
pub(crate) struct DbInner {
    pub(crate) store: PageStore,
    pub(crate) wal: Wal,
    pub(crate) options: DatabaseOptions,
    /// Live column families by name.
    pub(crate) cfs: RwLock<CfMap>,
    /// Serializes column-family creation, drop and rename; holds the next id.
    ddl: Mutex<u64>,
    pub(crate) publisher: Publisher,
    /// Kept in step with the published roots at each checkpoint.
    pub(crate) catalog: Mutex<Catalog>,
    /// Serializes compactions.
    pub(crate) compaction: Mutex<()>,
    /// Serializes checkpoints; holds the version and log bytes of the last one.
    pub(crate) checkpoint_lock: Mutex<LastCheckpoint>,
    /// `PageStore::freed_pages` when the last successful checkpoint started (read by
    /// commits without the checkpoint lock; see `DbInner::freed_bytes`).
    freed_at_checkpoint: std::sync::atomic::AtomicU64,
    /// What the open found.
    recovery: RecoveryReport,
    /// Merge concurrent [`Database::write`] batches, one queue per set of column families.
    commit_queues: CommitQueues,
    /// Stops the background checkpointer when the database goes away.
    checkpointer: Mutex<Option<crate::checkpointer::CheckpointerHandle>>,
    /// Set once by [`DbInner::close`].
    closed: AtomicBool,
    /// Orders logged appends after unlogged commits (`commit/unlogged.rs`).
    pub(crate) unlogged: crate::commit::UnloggedGate,
}

/// What the last checkpoint covered, for the checkpointer's triggers.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LastCheckpoint {
    pub(crate) version: Lsn,
    log_bytes: u64,
}

/// Counters and sizes of a database.
#[derive(Debug, Clone)]
pub struct DatabaseStats {
    /// The data file: cache, dirty bytes, allocation, checkpoints.
    pub page_store: PageStoreStats,
    /// The log: records, syncs, group sizes, positions.
    pub wal: WalStats,
    /// Batches and group commits of [`Database::write`].
    pub commit_queue: crate::CommitQueueStats,
    /// The version (LSN) readers see.
    pub published_version: Lsn,
    /// Column families.
    pub column_families: usize,
}

/// Dirty bytes a database keeps, whatever a shared memory budget says, before the budget makes
/// it checkpoint: checkpoints of a few pages each would cost a sync apiece. With N databases
/// sharing a budget, dirty pages may pass it by at most N times this.
pub(crate) const BUDGET_DIRTY_FLOOR: usize = 256 << 10;

/// Makes a long replay durable before the open returns (see `open_in`). The database works
/// without it (the replayed state is in memory and in the log), so a failure is reported,
/// not fatal; the next checkpoint tries again.
fn checkpoint_after_replay(inner: &mut Arc<DbInner>, opened_at: Instant) {
    let checkpointed = inner.checkpoint().map_err(|error| {
        tracing::warn!(target: "folio::recovery", %error, "checkpoint after replay failed");
    });
    let report = &mut Arc::get_mut(inner)
        .expect("no other handle exists before the checkpointer starts")
        .recovery;
    report.checkpointed = checkpointed.is_ok();
    report.duration = opened_at.elapsed();
}

impl Database {
    /// Opens (creating if needed) the database in directory `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, DatabaseOptions::default())
    }

    /// Opens the database in directory `path` with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: DatabaseOptions) -> Result<Self> {
        options.validate()?; // before touching the file system
        let file_options = folio_io::FileOptions {
            handles: options.file_handles,
            lock_wait: options.lock_wait,
            ..folio_io::FileOptions::default()
        };
        Self::open_in(
            Arc::new(FsDirectory::open_with(path, file_options)?),
            options,
        )
    }

    /// Opens the database in `directory` (a real or simulated one): the data file's newest
    /// checkpoint, then the log replayed past it.
    pub fn open_in(directory: Arc<dyn Directory>, mut options: DatabaseOptions) -> Result<Self> {
        options.validate()?;
        options.pass_down_to_layers();
        let opened_at = Instant::now();
        if !directory.list()?.iter().any(|name| name == DATA_FILE) {
            // Create under a temporary name and rename: a crash during creation leaves no
            // half-made data file, only a temporary one the next open replaces.
            directory.remove(DATA_FILE_NEW)?;
            let fresh = directory.open(DATA_FILE_NEW, true)?;
            drop(PageStore::create(fresh, options.page_store.clone())?);
            directory.rename(DATA_FILE_NEW, DATA_FILE)?;
        }
        let data = directory.open(DATA_FILE, false)?;
        let store = PageStore::open(data, options.page_store.clone())?;
        let Roots {
            catalog: catalog_root,
            version: checkpoint,
        } = Roots::decode(&store.roots())?;
        let catalog = Catalog::open(store.writer(), catalog_root)?;
        let (mut cfs, mut snapshot) =
            load_column_families(&store, &catalog, checkpoint, &options.compression)?;
        let progress = |step: &RecoveryProgress| {
            tracing::debug!(target: "folio::recovery", ?step, "recovery progress");
            if let Some(callback) = &options.recovery_progress {
                (callback.0)(step);
            }
        };
        let (wal, wal_report) =
            Wal::open_with_progress(directory, options.wal.clone(), &mut |scan| {
                progress(&RecoveryProgress::ScanningLog {
                    segments_done: scan.segments_done,
                    segments_total: scan.segments_total,
                    bytes: scan.bytes,
                });
            })?;
        check_log_covers(&wal, checkpoint)?;
        let (replayed, replayed_bytes) = crate::recovery::replay(
            &store,
            &wal,
            checkpoint,
            &mut cfs,
            &mut snapshot,
            &progress,
            &options.compression,
        )?;
        let recovery = RecoveryReport {
            checkpoint,
            replayed_records: replayed,
            replayed_bytes,
            checkpointed: false,
            log_bytes_scanned: wal_report.bytes_read,
            torn_tail_bytes: wal_report.torn_tail_bytes,
            version: snapshot.version,
            duration: opened_at.elapsed(),
        };
        tracing::info!(
            target: "folio::recovery",
            checkpoint,
            replayed,
            version = snapshot.version,
            torn_tail_bytes = wal_report.torn_tail_bytes,
            duration_ms = recovery.duration.as_millis() as u64,
            "database opened"
        );
        let next_id = snapshot.max_id().map_or(0, |id| id + 1);
        // A long replay is made durable before the open returns, whatever the checkpointer
        // setting: a process killed again soon after each open would otherwise replay the
        // whole log every time while the log only grows (a crash loop).
        let checkpoint_replay = replayed_bytes >= options.checkpoint_log_bytes;
        let publisher = Publisher::new(snapshot, store.clone());
        let mut inner = Arc::new(DbInner {
            store,
            wal,
            options,
            cfs: RwLock::new(cfs),
            ddl: Mutex::new(next_id),
            publisher,
            catalog: Mutex::new(catalog),
            checkpoint_lock: Mutex::new(LastCheckpoint {
                version: checkpoint,
                log_bytes: 0,
            }),
            freed_at_checkpoint: std::sync::atomic::AtomicU64::new(0),
            commit_queues: CommitQueues::default(),
            compaction: Mutex::new(()),
            recovery,
            checkpointer: Mutex::new(None),
            closed: AtomicBool::new(false),
            unlogged: crate::commit::UnloggedGate::default(),
        });
        if checkpoint_replay {
            checkpoint_after_replay(&mut inner, opened_at);
        }
        if let Some(interval) = inner.options.checkpoint_interval {
            *inner.checkpointer.lock() = Some(crate::checkpointer::start(&inner, interval));
        }
        Ok(Self {
            _open: Arc::new(OpenGuard {
                inner: Arc::clone(&inner),
            }),
            inner,
        })
    }

    /// Closes the database: checkpoints (with [`DatabaseOptions::checkpoint_on_close`]),
    /// stops the background checkpointer, makes every commit durable in the log, and
    /// releases the files. Every clone is closed with it: later calls on any of them, and
    /// on read transactions, trees and iterators, return [`Error::Closed`]. A write
    /// transaction still open elsewhere fails to commit. Once this returns the database can
    /// be opened again, in this process or another. Closing twice does nothing.
    pub fn close(self) -> Result<()> {
        self.inner.close()
    }

    /// True once the database was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether the database is encrypted at rest.
    pub fn is_encrypted(&self) -> bool {
        self.inner.store.is_encrypted()
    }

    /// Creates an empty column family; durable when this returns.
    pub fn create_cf(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        let mut next_id = self.inner.ddl.lock();
        check_name(name)?;
        if self.inner.cfs.read().contains_key(name) {
            return Err(Error::ColumnFamilyExists { name: name.into() });
        }
        let id = *next_id;
        let mut record = RecordBuilder::new();
        record.create_cf(id, name);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), std::iter::empty())?;
        *next_id += 1;
        let mut tree = BTreeMut::new(self.inner.store.writer(), None, 0);
        tree.set_compression(self.inner.options.compression.for_cf(name));
        self.inner
            .cfs
            .write()
            .insert(name.to_owned(), CfSlot::new(id, name, tree));
        appended.edit(Edit::Create {
            id,
            name: name.to_owned(),
        });
        let lsn = appended.publish();
        drop(next_id);
        self.inner.wal.wait_durable(lsn)?;
        Ok(())
    }

    /// Creates column family `name` if it does not exist yet.
    pub fn create_cf_if_missing(&self, name: &str) -> Result<()> {
        match self.create_cf(name) {
            Err(Error::ColumnFamilyExists { .. }) => Ok(()),
            other => other,
        }
    }

    /// Drops a column family: waits for its writer, then frees all its pages (readers of
    /// older snapshots keep seeing it until they end).
    pub fn drop_cf(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        let _ddl = self.inner.ddl.lock();
        let slot = self.slot(name)?;
        let mut tree = slot.lock_writer(name, Wait::Forever)?;
        // Cleared before the record is appended: nothing that can fail may come between the
        // append and the publish (`commit.rs`).
        if let Err(error) = tree.clear() {
            tree.rollback();
            return Err(error.into());
        }
        let mut record = RecordBuilder::new();
        record.drop_cf(slot.id, name);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), [&mut *tree])?;
        appended.commit_dropped(slot.id, &mut tree);
        slot.dropped.store(true, Ordering::Release);
        self.inner.cfs.write().remove(name);
        drop(tree);
        let lsn = appended.publish();
        self.inner.wal.wait_durable(lsn)?;
        Ok(())
    }

    /// Renames a column family.
    pub fn rename_cf(&self, from: &str, to: &str) -> Result<()> {
        self.check_writable()?;
        let _ddl = self.inner.ddl.lock();
        check_name(to)?;
        let mut cfs = self.inner.cfs.write();
        if cfs.contains_key(to) {
            return Err(Error::ColumnFamilyExists { name: to.into() });
        }
        let slot = cfs
            .get(from)
            .cloned()
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: from.into() })?;
        let mut record = RecordBuilder::new();
        record.rename_cf(slot.id, from, to);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), std::iter::empty())?;
        cfs.remove(from);
        slot.set_name(to);
        cfs.insert(to.to_owned(), Arc::clone(&slot));
        drop(cfs);
        appended.edit(Edit::Rename {
            id: slot.id,
            to: to.to_owned(),
        });
        let lsn = appended.publish();
        self.inner.wal.wait_durable(lsn)?;
        Ok(())
    }

    /// A handle on column family `cf` (see [`ColumnFamily`]): cheap to clone, accepted
    /// wherever a name is, bound to this column family (not to the name).
    pub fn cf(&self, cf: &str) -> Result<ColumnFamily> {
        Ok(ColumnFamily::new(self.slot(cf)?))
    }

    /// The writer slot of live column family `name`.
    pub(crate) fn slot(&self, name: &str) -> Result<Arc<CfSlot>> {
        self.inner
            .cfs
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: name.into() })
    }

    /// The names of all column families, sorted.
    pub fn cf_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.cfs.read().keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// A write transaction over the column families `cfs` (their writers are locked in one
    /// global order, so transactions over overlapping sets never deadlock each other;
    /// transactions over disjoint sets run in parallel). It waits while another write
    /// transaction holds one of them; when the calling thread holds one itself (a write
    /// transaction or bulk load it has not finished), waiting would never end, so it
    /// returns [`Error::WouldDeadlock`] instead.
    pub fn begin_write<C: CfName>(&self, cfs: &[C]) -> Result<WriteTransaction> {
        self.begin_write_waiting(cfs, Wait::Forever)
    }

    /// [`Database::begin_write`] without waiting: [`Error::Busy`] when another transaction
    /// holds one of the column families.
    pub fn try_begin_write<C: CfName>(&self, cfs: &[C]) -> Result<WriteTransaction> {
        self.begin_write_waiting(cfs, Wait::No)
    }

    /// [`Database::begin_write`] waiting at most `timeout` for the column families' writers:
    /// [`Error::Busy`] after that.
    pub fn begin_write_timeout<C: CfName>(
        &self,
        cfs: &[C],
        timeout: std::time::Duration,
    ) -> Result<WriteTransaction> {
        self.begin_write_waiting(cfs, Wait::at_most(timeout))
    }

    fn begin_write_waiting<C: CfName>(&self, cfs: &[C], wait: Wait) -> Result<WriteTransaction> {
        let slots = self.writer_slots(cfs)?;
        self.check_writable()?;
        self.relieve_pressure()?;
        WriteTransaction::new(self.clone(), slots, wait)
    }

    /// The live slots of `cfs`, without repeats, in the global lock order.
    fn writer_slots<C: CfName>(&self, cfs: &[C]) -> Result<Vec<Arc<CfSlot>>> {
        let mut slots: Vec<Arc<CfSlot>> = Vec::with_capacity(cfs.len());
        {
            let live = self.inner.cfs.read();
            for cf in cfs {
                let slot = live_slot(&live, cf.cf_ref())?;
                if !slots.iter().any(|s| s.id == slot.id) {
                    slots.push(slot);
                }
            }
        }
        slots.sort_by_key(|slot| slot.id);
        Ok(slots)
    }

    /// [`Database::begin_write`] without the back-pressure checkpoint (a commit-queue group:
    /// each submitter relieves the pressure itself).
    pub(crate) fn begin_write_unrelieved<C: CfName>(&self, cfs: &[C]) -> Result<WriteTransaction> {
        let slots = self.writer_slots(cfs)?;
        self.check_writable()?;
        WriteTransaction::new(self.clone(), slots, Wait::Forever)
    }

    /// Commits `batch` atomically with the default durability; returns its LSN (0 for an
    /// empty batch). Concurrent calls are merged into group commits by the commit queue.
    pub fn write(&self, batch: WriteBatch) -> Result<Lsn> {
        self.write_with(batch, self.inner.options.default_durability)
    }

    /// Commits `batch` atomically with `durability`.
    pub fn write_with(&self, batch: WriteBatch, durability: Durability) -> Result<Lsn> {
        if batch.is_empty() {
            return Ok(0);
        }
        self.relieve_pressure()?;
        let lsn = self.submit_batch(batch)?;
        if durability == Durability::Immediate && lsn > 0 {
            self.inner.wal.wait_durable(lsn)?;
        }
        // As after a transaction's commit: the batch has committed, so only the next write
        // reports a failed checkpoint.
        let _ = self.relieve_pressure();
        Ok(lsn)
    }

    /// Hands a non-empty batch to its commit queue; returns its LSN once written to the log
    /// and published (not yet synced).
    pub(crate) fn submit_batch(&self, batch: WriteBatch) -> Result<Lsn> {
        self.check_writable()?;
        for name in batch.cf_names() {
            // The group's leader may be this thread: it would wait for itself.
            if let Ok(slot) = self.slot(name)
                && slot.held_by_this_thread()
            {
                return Err(Error::WouldDeadlock { cf: name.into() });
            }
        }
        let queue = self.inner.commit_queues.queue_for(&batch.cf_names());
        queue.submit(self, batch)
    }

    /// Makes every commit so far durable (syncs the log); returns the last LSN synced. Use it
    /// after `Eventual` commits when a point of durability is needed.
    pub fn flush(&self) -> Result<Lsn> {
        self.inner.check_open()?;
        Ok(self.inner.wal.flush()?)
    }

    /// A read-only snapshot of every column family at the latest published version.
    pub fn begin_read(&self) -> ReadTransaction {
        ReadTransaction::new(Arc::clone(&self.inner))
    }

    /// Makes the latest published version durable in the data file and drops the log
    /// segments it covers. Writers keep running meanwhile.
    pub fn checkpoint(&self) -> Result<Lsn> {
        self.inner.check_open()?;
        self.inner.checkpoint()
    }

    /// Loads entries into column family `cf` without logging them; see [`BulkLoad`]. Holds
    /// the column family's writer until finished or dropped.
    pub fn bulk_load<C: CfName + ?Sized>(&self, cf: &C) -> Result<BulkLoad> {
        BulkLoad::new(self.clone(), cf.cf_ref())
    }

    /// Refuses writes after a close, and after a failed sync of the data file: then nothing
    /// is known about what reached the disk, so writes wait for a reopen (the log is
    /// poisoned by its own failures the same way).
    pub(crate) fn check_writable(&self) -> Result<()> {
        self.inner.check_open()?;
        if self.inner.store.is_poisoned() {
            return Err(Error::PageStore(folio_pagestore::Error::Poisoned));
        }
        Ok(())
    }

    /// [`Error::WouldDeadlock`] when the calling thread holds the writer of any column family:
    /// for calls that take every writer in turn (compaction).
    pub(crate) fn refuse_held_writers(&self) -> Result<()> {
        let cfs = self.inner.cfs.read();
        match cfs.iter().find(|(_, slot)| slot.held_by_this_thread()) {
            Some((name, _)) => Err(Error::WouldDeadlock { cf: name.clone() }),
            None => Ok(()),
        }
    }

    /// Back-pressure before a write transaction starts: past `dirty_bytes_max`, checkpoint
    /// first (an error then leaves nothing half done).
    pub(crate) fn relieve_pressure(&self) -> Result<()> {
        if self.under_pressure() {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// True past the bounds that make writers checkpoint: dirty pages over the dirty bound,
    /// twice its worth of pages freed since the last checkpoint, or a shared memory budget
    /// exceeded while this database holds dirty pages.
    pub(crate) fn under_pressure(&self) -> bool {
        let bound = self.inner.options.dirty_bytes_bound();
        self.inner.store.dirty_bytes() > bound
            || self.inner.freed_bytes() > 2 * bound
            || self.inner.budget_wants_checkpoint()
    }

    /// What recovery found and did when this database was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// Counters and sizes.
    pub fn stats(&self) -> DatabaseStats {
        DatabaseStats {
            page_store: self.inner.store.stats(),
            wal: self.inner.wal.stats(),
            published_version: self.inner.publisher.current().version,
            commit_queue: self.inner.commit_queues.stats(),
            column_families: self.inner.cfs.read().len(),
        }
    }
}

impl DbInner {
    /// Makes the latest published version durable in the data file and drops the log
    /// segments it covers. Writers keep running meanwhile.
    pub(crate) fn checkpoint(&self) -> Result<Lsn> {
        Ok(self.checkpoint_with(false)?.0)
    }

    /// [`Error::Closed`] once closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The background checkpointer's control, while it runs.
    #[cfg(feature = "async")]
    pub(crate) fn checkpointer_control(&self) -> Option<Arc<crate::checkpointer::Control>> {
        self.checkpointer
            .lock()
            .as_ref()
            .map(crate::checkpointer::CheckpointerHandle::control)
    }

    /// Closes the database (see [`Database::close`]); the first call does the work, later
    /// ones return `Ok`.
    pub(crate) fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Joins the checkpointer: it holds only a weak reference and checks `closed`, so at
        // most the checkpoint it is running finishes first.
        drop(self.checkpointer.lock().take());
        let mut result = Ok(());
        if self.options.checkpoint_on_close
            && !self.store.is_poisoned()
            && self.publisher.current().version > self.checkpoint_lock.lock().version
        {
            result = self.checkpoint().map(|_| ());
        }
        // Drains the log (every commit appended so far becomes durable) and closes it; then
        // the data file. A commit still in flight elsewhere fails from here on.
        let log = self.wal.shut_down().map_err(Error::from);
        self.store.close();
        result.and(log)
    }

    /// True when a trigger asks for a checkpoint: dirty bytes, log bytes since the last one,
    /// or (`interval_passed`) any commit since the last one.
    pub(crate) fn checkpoint_due(&self, interval_passed: bool) -> bool {
        let options = &self.options;
        let last = *self.checkpoint_lock.lock();
        let published = self.publisher.current().version;
        if published == last.version {
            return false;
        }
        let dirty = self.store.dirty_bytes();
        let log = self.wal.stats().commit.bytes.saturating_sub(last.log_bytes);
        // Pages freed since the last checkpoint: reused only after checkpoints, so until one
        // every copy-on-write takes new file space. Bounded by the dirty bound, not the
        // checkpoint trigger: checking at the trigger made small-commit workloads checkpoint
        // several times as often and cost 10-30 % at 4-128 threads.
        let freed = self.freed_bytes();
        interval_passed
            || self.budget_wants_checkpoint()
            || dirty >= options.checkpoint_dirty_bytes
            || freed >= options.dirty_bytes_bound()
            || log >= options.checkpoint_log_bytes
    }

    /// True when the shared memory budget (`DatabaseOptions::memory_budget`) is exceeded and
    /// this database holds at least [`BUDGET_DIRTY_FLOOR`] of dirty pages: a checkpoint makes
    /// them clean, hence evictable.
    pub(crate) fn budget_wants_checkpoint(&self) -> bool {
        self.options
            .page_store
            .memory_budget
            .as_ref()
            .is_some_and(folio_pagestore::MemoryBudget::is_exceeded)
            && self.store.dirty_bytes() >= BUDGET_DIRTY_FLOOR
    }

    /// Bytes of pages freed since the last checkpoint started. Freed pages are reused only
    /// after checkpoints, so until one every copy-on-write takes new file space: the
    /// background checkpointer runs at the dirty bound's worth, and a commit that finds
    /// twice that (the checkpointer fell behind) checkpoints before it returns, so the file
    /// stays bounded for a bounded data set, as memory does.
    fn freed_bytes(&self) -> usize {
        let since = self.store.freed_pages().saturating_sub(
            self.freed_at_checkpoint
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        usize::try_from(since).unwrap_or(usize::MAX) * self.store.page_size()
    }

    /// A checkpoint; with `shrink`, the free pages at the end of the data file are given
    /// back to the file system. Returns the version and the bytes given back.
    pub(crate) fn checkpoint_with(&self, shrink: bool) -> Result<(Lsn, u64)> {
        let mut last = self.checkpoint_lock.lock();
        // Readers that ended since the last commit let the horizon move on (ending a read
        // does not recompute it).
        self.publisher.refresh_horizon();
        // Registered like a reader until the page store has written it: the pages of this
        // version stay cached even when later commits supersede them.
        let reading = self.publisher.read_latest();
        let snapshot = Arc::clone(reading.snapshot());
        let version = snapshot.version;
        let log_bytes = self.wal.stats().commit.bytes;
        let freed_pages = self.store.freed_pages();
        // Every record up to `version` must be durable in the log first: otherwise a crash
        // could lose some, and later commits would reuse their LSNs below the checkpoint.
        if version > 0 {
            self.wal.wait_durable(version)?;
        }
        let catalog_root = {
            let mut catalog = self.catalog.lock();
            let listed: Vec<String> = catalog.list()?.into_iter().map(|(name, _)| name).collect();
            for name in listed {
                if snapshot.find(&name).is_none() {
                    catalog.forget(&name)?;
                }
            }
            for (id, name, cf) in snapshot.iter() {
                let state = CfState {
                    id,
                    root: cf.root,
                    len: cf.len,
                };
                if catalog.get(name)? != Some(state) {
                    catalog.set(name, state)?;
                }
            }
            catalog.commit(version);
            catalog.root()
        };
        let roots = Roots {
            catalog: catalog_root,
            version,
        }
        .encode();
        // Once the page store holds the pages it writes, later commits may drop the
        // versions they supersede again.
        let collected = move || drop(reading);
        let released = if shrink {
            self.store
                .checkpoint_and_shrink(version, &roots, collected)?
                .1
        } else {
            self.store.checkpoint_then(version, &roots, collected)?;
            0
        };
        // Its own registration is gone and the durable version moved: pages the checkpoint
        // made reusable become so now, not at the next commit.
        self.publisher.refresh_horizon();
        self.wal.truncate_below(version + 1)?;
        *last = LastCheckpoint { version, log_bytes };
        self.freed_at_checkpoint
            .store(freed_pages, std::sync::atomic::Ordering::Relaxed);
        Ok((version, released))
    }
}

/// The column families of the checkpoint: their writers and the snapshot readers start from.
fn load_column_families(
    store: &PageStore,
    catalog: &Catalog,
    checkpoint: Lsn,
    compression: &CompressionOptions,
) -> Result<(CfMap, Snapshot)> {
    let mut cfs = CfMap::default();
    let mut snapshot = Snapshot::at(checkpoint);
    for (name, state) in catalog.list()? {
        let mut tree = BTreeMut::new(store.writer(), state.root, state.len);
        tree.set_compression(compression.for_cf(&name));
        snapshot.add(state.id, &name, state.root, state.len);
        let slot = CfSlot::new(state.id, &name, tree);
        cfs.insert(name, slot);
    }
    Ok((cfs, snapshot))
}

/// The log must hold every record after the data file's checkpoint: none missing at its
/// start (deleted segments) and none at its end (a log that ends before the checkpoint).
fn check_log_covers(wal: &Wal, checkpoint: Lsn) -> Result<()> {
    let oldest_lsn = wal.stats().oldest_lsn;
    if oldest_lsn > checkpoint + 1 {
        return Err(Error::LogMissing {
            checkpoint,
            oldest_lsn,
            oldest_segment: folio_wal::segment_name(oldest_lsn),
        });
    }
    if wal.last_lsn() < checkpoint {
        return Err(Error::LogBehindData {
            wal_last: wal.last_lsn(),
            checkpoint,
        });
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > folio_btree::CF_NAME_BYTES_MAX {
        return Err(Error::Tree(folio_btree::Error::InvalidName {
            reason: format!(
                "names must have 1 to {} bytes",
                folio_btree::CF_NAME_BYTES_MAX
            ),
        }));
    }
    Ok(())
}
