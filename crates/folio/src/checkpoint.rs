//! Checkpoints: what makes the published version durable in the data file and lets the log
//! drop what it covers. [`Checkpoints`] holds their state (the lock that serializes them,
//! what the last one covered, the column-family catalog they keep in step, the background
//! thread of `checkpointer.rs`); the `DbInner` methods here run one and decide when one is due.
//!
//! A checkpoint at version `v` (docs/invariants.md, invariants 1, 2 and 5):
//! 1. waits until every log record up to `v` is durable (else a crash could lose records the
//!    data file already reflects, and later commits would reuse their LSNs);
//! 2. writes the catalog (each column family's root and length at `v`) and every dirty page,
//!    then the other header slot naming them (`roots.rs`), and syncs (`folio-pagestore`);
//! 3. truncates the log below `v + 1`.
//!
//! The version's pages stay registered like a reader's until the page store holds them, so
//! later commits cannot reuse them meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use folio_btree::{Catalog, CfState};
use folio_wal::Lsn;
use parking_lot::{Mutex, MutexGuard};

use crate::Result;
use crate::checkpointer::CheckpointerHandle;
use crate::database::DbInner;
use crate::roots::Roots;

/// Dirty bytes a database keeps, whatever a shared memory budget says, before the budget makes
/// it checkpoint: checkpoints of a few pages each would cost a sync apiece. With N databases
/// sharing a budget, dirty pages may pass it by at most N times this.
const BUDGET_DIRTY_FLOOR: usize = 256 << 10;

/// What the last checkpoint covered, for the checkpointer's triggers.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LastCheckpoint {
    pub(crate) version: Lsn,
    log_bytes: u64,
}

/// The state of a database's checkpoints.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    /// Serializes checkpoints; holds what the last one covered.
    last: Mutex<LastCheckpoint>,
    /// Kept in step with the published roots at each checkpoint.
    catalog: Mutex<Catalog>,
    /// `PageStore::freed_pages` when the last successful checkpoint started (read by commits
    /// without the checkpoint lock; see `DbInner::freed_bytes`).
    freed_at_start: AtomicU64,
    /// The background checkpointer while it runs; dropping it stops the thread.
    thread: Mutex<Option<CheckpointerHandle>>,
}

impl Checkpoints {
    /// The state after opening: the data file's checkpoint at `version`, with `catalog`.
    pub(crate) fn new(catalog: Catalog, version: Lsn) -> Self {
        Self {
            last: Mutex::new(LastCheckpoint {
                version,
                log_bytes: 0,
            }),
            catalog: Mutex::new(catalog),
            freed_at_start: AtomicU64::new(0),
            thread: Mutex::new(None),
        }
    }

    /// The version the last checkpoint made durable.
    pub(crate) fn durable_version(&self) -> Lsn {
        self.last.lock().version
    }

    /// Holds checkpoints off while the guard lives (an integrity check reads the durable
    /// roots and free list, which a checkpoint would change).
    pub(crate) fn hold(&self) -> MutexGuard<'_, LastCheckpoint> {
        self.last.lock()
    }

    /// The catalog (compaction moves its pages).
    pub(crate) fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock()
    }

    /// Starts the background checkpointer of `db`.
    pub(crate) fn start_thread(db: &Arc<DbInner>, interval: std::time::Duration) {
        *db.checkpoints.thread.lock() = Some(crate::checkpointer::start(db, interval));
    }

    /// Stops the background checkpointer (joins it: at most the checkpoint it runs finishes).
    pub(crate) fn stop_thread(&self) {
        drop(self.thread.lock().take());
    }
}

impl DbInner {
    /// Makes the latest published version durable in the data file and drops the log
    /// segments it covers. Writers keep running meanwhile.
    pub(crate) fn checkpoint(&self) -> Result<Lsn> {
        Ok(self.checkpoint_with(false)?.0)
    }

    /// The background checkpointer's control, while it runs.
    #[cfg(feature = "async")]
    pub(crate) fn checkpointer_control(&self) -> Option<Arc<crate::checkpointer::Control>> {
        self.checkpoints
            .thread
            .lock()
            .as_ref()
            .map(crate::checkpointer::CheckpointerHandle::control)
    }

    /// True when a trigger asks for a checkpoint: dirty bytes, log bytes since the last one,
    /// or (`interval_passed`) any commit since the last one.
    pub(crate) fn checkpoint_due(&self, interval_passed: bool) -> bool {
        let options = &self.options;
        let last = *self.checkpoints.last.lock();
        let published = self.publisher.current().version;
        if published == last.version {
            return false;
        }
        let dirty = self.store.dirty_bytes();
        let log = self.wal.stats().commit.bytes.saturating_sub(last.log_bytes);
        // Pages freed since the last checkpoint that wait for checkpoints to be reused (young
        // pages do not count: they are reused at once), so until one every copy-on-write of
        // such a page takes new file space. Bounded by the dirty bound, not the
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

    /// Bytes of pages freed since the last checkpoint started that wait for checkpoints to be
    /// reused (`PageStore::freed_pages`), so until one every copy-on-write takes new file
    /// space: the
    /// background checkpointer runs at the dirty bound's worth, and a commit that finds
    /// twice that (the checkpointer fell behind) checkpoints before it returns, so the file
    /// stays bounded for a bounded data set, as memory does.
    pub(crate) fn freed_bytes(&self) -> usize {
        let since = self
            .store
            .freed_pages()
            .saturating_sub(self.checkpoints.freed_at_start.load(Ordering::Relaxed));
        usize::try_from(since).unwrap_or(usize::MAX) * self.store.page_size()
    }

    /// The first LSN the log keeps after a checkpoint at `version`: `version + 1`, or less
    /// for change-feed subscribers (`changes/subscribers.rs`), whose acknowledgements are
    /// made durable first so the log kept is never less than a reopen asks for. When they
    /// cannot be (the subscribers file cannot be written), nothing is truncated: the data
    /// file's checkpoint stands, and the next checkpoint tries again.
    fn log_to_keep_from(&self, version: Lsn) -> Result<Lsn> {
        let keep_from = match self.subscribers.save_and_keep_from() {
            Ok(keep_from) => keep_from,
            Err(error) => {
                tracing::warn!(target: "folio", %error, "saving change-feed subscribers failed; the log is kept whole until a checkpoint saves them");
                return Ok(self.wal.oldest_lsn());
            }
        };
        if keep_from.is_none_or(|keep| keep > version) {
            return Ok(version + 1);
        }
        Ok(crate::changes::truncate_below(
            version + 1,
            keep_from,
            &self.wal.segment_sizes()?,
            self.options.change_retention_bytes,
        ))
    }

    /// A checkpoint; with `shrink`, the free pages at the end of the data file are given
    /// back to the file system. Returns the version and the bytes given back.
    pub(crate) fn checkpoint_with(&self, shrink: bool) -> Result<(Lsn, u64)> {
        let mut last = self.checkpoints.last.lock();
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
            let mut catalog = self.checkpoints.catalog.lock();
            let listed: Vec<String> = catalog.list()?.into_iter().map(|(name, _)| name).collect();
            for name in listed {
                if snapshot.find(&name).is_none() {
                    catalog.forget(&name)?;
                }
            }
            for (id, name, cf) in snapshot.iter() {
                let state = CfState {
                    id: id.0,
                    root: cf.root,
                    len: cf.len,
                    // None recorded (a file from before settings were stored) stays so.
                    compression: snapshot.recorded_compression(id),
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
        self.wal.truncate_below(self.log_to_keep_from(version)?)?;
        *last = LastCheckpoint { version, log_bytes };
        self.checkpoints
            .freed_at_start
            .store(freed_pages, Ordering::Relaxed);
        Ok((version, released))
    }
}
