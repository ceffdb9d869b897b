//! [`Database`]: opening (with recovery), column families, transactions, checkpoints.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use folio_io::{Directory, FsDirectory};
use folio_pagestore::{PageStore, PageStoreStats};
use folio_wal::{Durability, Lsn, Wal, WalStats};
use parking_lot::Mutex;

use crate::cf_slot::Wait;
use crate::checkpoint::Checkpoints;
use crate::column_family::{CfName, CfRegistry};
use crate::commit_queue::CommitQueues;
use crate::recovery::Recovered;
use crate::snapshot::Publisher;
use crate::{
    BulkLoad, DatabaseOptions, Error, ReadTransaction, RecoveryReport, Result, WriteBatch,
    WriteTransaction,
};

/// Name of the data file inside the database directory (the log's segments sit beside it).
pub const DATA_FILE: &str = "data.folio";
/// The data file while it is being created.
pub(crate) const DATA_FILE_NEW: &str = "data.folio.new";
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

#[derive(Debug)]
pub(crate) struct DbInner {
    pub(crate) store: PageStore,
    pub(crate) wal: Wal,
    pub(crate) options: DatabaseOptions,
    /// Live column families.
    pub(crate) cfs: CfRegistry,
    pub(crate) publisher: Publisher,
    /// Serializes compactions.
    pub(crate) compaction: Mutex<()>,
    /// Checkpoints: their lock, the catalog, the background thread (`checkpoint.rs`).
    pub(crate) checkpoints: Checkpoints,
    /// What the open found.
    recovery: RecoveryReport,
    /// Merge concurrent [`Database::write`] batches, one queue per set of column families.
    commit_queues: CommitQueues<WriteBatch>,
    /// Set once by [`DbInner::close`].
    closed: AtomicBool,
    /// Orders logged appends after unlogged commits (`commit/unlogged.rs`).
    pub(crate) unlogged: crate::commit::UnloggedGate,
    /// Running concurrent transactions, their commit queues and counters (`concurrent/`).
    pub(crate) concurrent: crate::concurrent::ConcurrentState,
    /// Change-feed subscribers, for whom checkpoints keep the log (`changes/`).
    pub(crate) subscribers: crate::changes::Subscribers,
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
    /// Commits and conflicts of concurrent transactions.
    pub concurrent: crate::ConcurrentStats,
    /// The version (LSN) readers see.
    pub published_version: Lsn,
    /// Column families.
    pub column_families: usize,
}

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

/// A cipher for `key` (the subscribers file, backup increments), when there is one.
pub(crate) fn cipher_for(
    key: Option<&folio_io::EncryptionKey>,
) -> Result<Option<Arc<folio_io::Cipher>>> {
    key.map(|key| {
        folio_io::Cipher::new(key)
            .map(Arc::new)
            .map_err(|error| Error::InvalidOption {
                name: "encryption_key",
                reason: error.to_string(),
            })
    })
    .transpose()
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
        let Recovered {
            store,
            wal,
            catalog,
            cfs,
            snapshot,
            report: recovery,
        } = crate::recovery::recover(Arc::clone(&directory), &options, opened_at)?;
        // After recovery: the data file is locked, so no other process writes the file.
        let subscribers = crate::changes::Subscribers::open(
            directory,
            cipher_for(options.encryption_key.as_ref())?,
            snapshot.version,
        )?;
        let checkpoint = recovery.checkpoint;
        // Checked before anything changes (`ddl.rs`), applied once the database is built.
        let compression_changes = crate::ddl::compression_changes_at_open(&options, &snapshot)?;
        // A long replay is made durable before the open returns, whatever the checkpointer
        // setting: a process killed again soon after each open would otherwise replay the
        // whole log every time while the log only grows (a crash loop).
        let checkpoint_replay = recovery.replayed_bytes >= options.checkpoint_log_bytes;
        let publisher = Publisher::new(snapshot, store.clone());
        let mut inner = Arc::new(DbInner {
            store,
            wal,
            options,
            cfs: CfRegistry::new(cfs),
            publisher,
            checkpoints: Checkpoints::new(catalog, checkpoint),
            commit_queues: CommitQueues::default(),
            compaction: Mutex::new(()),
            recovery,
            closed: AtomicBool::new(false),
            unlogged: crate::commit::UnloggedGate::default(),
            concurrent: crate::concurrent::ConcurrentState::default(),
            subscribers,
        });
        if !compression_changes.is_empty() {
            inner.set_compressions(&compression_changes)?;
            for (cf, compression) in &compression_changes {
                let to = compression.label();
                tracing::info!(target: "folio", cf, to, "compression setting changed by the open's options");
            }
        }
        if checkpoint_replay {
            checkpoint_after_replay(&mut inner, opened_at);
        }
        if let Some(interval) = inner.options.checkpoint_interval {
            Checkpoints::start_thread(&inner, interval);
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
        let slots = self.inner.cfs.writer_slots(cfs)?;
        self.check_writable()?;
        self.relieve_pressure()?;
        WriteTransaction::new(self.clone(), slots, wait)
    }

    /// [`Database::begin_write`] without the back-pressure checkpoint (a commit-queue group:
    /// each submitter relieves the pressure itself).
    pub(crate) fn begin_write_unrelieved<C: CfName>(&self, cfs: &[C]) -> Result<WriteTransaction> {
        let slots = self.inner.cfs.writer_slots(cfs)?;
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
        let names = batch.cf_names().iter().map(|cf| (*cf).to_owned()).collect();
        let queue = self.inner.commit_queues.queue_for(names);
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
        match self.inner.cfs.held_by_this_thread() {
            Some(cf) => Err(Error::WouldDeadlock { cf }),
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
            concurrent: self.inner.concurrent.stats(),
            column_families: self.inner.cfs.len(),
        }
    }
}

impl DbInner {
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

    /// Closes the database (see [`Database::close`]); the first call does the work, later
    /// ones return `Ok`.
    pub(crate) fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Joins the checkpointer: it holds only a weak reference and checks `closed`, so at
        // most the checkpoint it is running finishes first.
        self.checkpoints.stop_thread();
        // Change feeds waiting for commits see the close and end.
        self.publisher.wake_all();
        let mut result = Ok(());
        if self.options.checkpoint_on_close
            && !self.store.is_poisoned()
            && self.publisher.current().version > self.checkpoints.durable_version()
        {
            result = self.checkpoint().map(|_| ());
        }
        if result.is_ok() && !self.store.is_poisoned() {
            // Acknowledgements since the last checkpoint (one that ran above saved them).
            result = self.subscribers.save_and_keep_from().map(|_| ());
        }
        // Drains the log (every commit appended so far becomes durable) and closes it; then
        // the data file. A commit still in flight elsewhere fails from here on.
        let log = self.wal.shut_down().map_err(Error::from);
        self.store.close();
        result.and(log)
    }
}
