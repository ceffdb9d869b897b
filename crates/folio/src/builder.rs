//! [`DatabaseBuilder`]: the options of a database set one by one, then opened.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use folio_io::Directory;
use folio_wal::Durability;

use crate::{Compression, Database, DatabaseOptions, ProgressCallback, RecoveryProgress, Result};

/// Sets a database's options (each documented on [`DatabaseOptions`], validated on open) and
/// opens it.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use std::time::Duration;
/// let db = folio::Database::builder()
///     .cache_bytes(256 << 20)
///     .dirty_bytes_max(512 << 20)
///     .checkpoint_interval(Some(Duration::from_secs(10)))
///     .default_durability(folio::Durability::Eventual)
///     .open(dir.path())?;
/// # drop(db);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct DatabaseBuilder {
    options: DatabaseOptions,
}

impl DatabaseBuilder {
    /// Starts from `options`.
    pub fn from_options(options: DatabaseOptions) -> Self {
        Self { options }
    }

    /// The options set so far.
    pub fn options(&self) -> &DatabaseOptions {
        &self.options
    }

    /// Bytes of page cache (`page_store.cache_bytes_max`).
    #[must_use]
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.options.page_store.cache_bytes_max = bytes;
        self
    }

    /// Page size of a new data file (`page_store.page_size`); an existing file keeps its own.
    #[must_use]
    pub fn page_size(mut self, bytes: usize) -> Self {
        self.options.page_store.page_size = bytes;
        self
    }

    /// Bound on dirty page bytes before commits checkpoint (`dirty_bytes_max`).
    #[must_use]
    pub fn dirty_bytes_max(mut self, bytes: usize) -> Self {
        self.options.dirty_bytes_max = Some(bytes);
        self
    }

    /// Log bytes past which a transaction commits unlogged, through a checkpoint
    /// (`large_transaction_bytes`).
    #[must_use]
    pub fn large_transaction_bytes(mut self, bytes: usize) -> Self {
        self.options.large_transaction_bytes = bytes;
        self
    }

    /// Memory per column family for validating concurrent transactions
    /// (`concurrent_history_bytes`).
    #[must_use]
    pub fn concurrent_history_bytes(mut self, bytes: usize) -> Self {
        self.options.concurrent_history_bytes = bytes;
        self
    }

    /// Dirty bytes that start a background checkpoint (`checkpoint_dirty_bytes`).
    #[must_use]
    pub fn checkpoint_dirty_bytes(mut self, bytes: usize) -> Self {
        self.options.checkpoint_dirty_bytes = bytes;
        self
    }

    /// Log bytes since the last checkpoint that start one (`checkpoint_log_bytes`).
    #[must_use]
    pub fn checkpoint_log_bytes(mut self, bytes: u64) -> Self {
        self.options.checkpoint_log_bytes = bytes;
        self
    }

    /// Time with new commits that starts a checkpoint; `None` stops the background
    /// checkpointer (`checkpoint_interval`).
    #[must_use]
    pub fn checkpoint_interval(mut self, interval: Option<Duration>) -> Self {
        self.options.checkpoint_interval = interval;
        self
    }

    /// Log bytes kept for change-feed subscribers at most (`change_retention_bytes`).
    #[must_use]
    pub fn change_retention_bytes(mut self, bytes: u64) -> Self {
        self.options.change_retention_bytes = bytes;
        self
    }

    /// Checkpoint when the last handle is dropped (`checkpoint_on_close`).
    #[must_use]
    pub fn checkpoint_on_close(mut self, enabled: bool) -> Self {
        self.options.checkpoint_on_close = enabled;
        self
    }

    /// Size of each log segment (`wal.segment_bytes`).
    #[must_use]
    pub fn wal_segment_bytes(mut self, bytes: u64) -> Self {
        self.options.wal.segment_bytes = bytes;
        self
    }

    /// How often `Eventual` commits are synced in the background (`wal.sync_interval`).
    #[must_use]
    pub fn eventual_sync_interval(mut self, interval: Option<Duration>) -> Self {
        self.options.wal.sync_interval = interval;
        self
    }

    /// The group-commit batching window (`wal.commit_window`; measured no gain, see
    /// `docs/wal.md`).
    #[must_use]
    pub fn commit_window(mut self, window: Option<Duration>) -> Self {
        self.options.wal.commit_window = window;
        self
    }

    /// File descriptors per file for parallel reads (`file_handles`).
    #[must_use]
    pub fn file_handles(mut self, handles: NonZeroUsize) -> Self {
        self.options.file_handles = handles;
        self
    }

    /// Reads clean pages through a memory map of the data file (`page_store.memory_map`,
    /// default on; see `docs/pagestore.md`, "Reads through a memory map").
    #[must_use]
    pub fn memory_map(mut self, enabled: bool) -> Self {
        self.options.page_store.memory_map = enabled;
        self
    }

    /// Shares `budget` with the other databases opened with it (`memory_budget`).
    #[must_use]
    pub fn memory_budget(mut self, budget: &crate::MemoryBudget) -> Self {
        self.options.memory_budget = Some(budget.clone());
        self
    }

    /// How long an open waits for another process to let go of the files (`lock_wait`).
    #[must_use]
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.options.lock_wait = wait;
        self
    }

    /// Encrypts the database at rest with `key` (`encryption_key`).
    #[must_use]
    pub fn encryption_key(mut self, key: folio_io::EncryptionKey) -> Self {
        self.options.encryption_key = Some(key);
        self
    }

    /// The compression of column families [`Database::create_cf`] creates (and of those in
    /// files written before settings were stored): `compression.default`. Stored with each
    /// one, so later opens keep it without being told; it never changes a column family's
    /// stored setting (use [`DatabaseBuilder::cf_compression`] or
    /// [`Database::set_cf_options`]).
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.options.compression.default = Some(compression);
        self
    }

    /// The merge operator of column family `name` ([`crate::MergeOperator`]).
    #[must_use]
    pub fn merge_operator(mut self, name: &str, operator: crate::MergeOperator) -> Self {
        self.options
            .merge_operators
            .insert(name.to_owned(), operator);
        self
    }

    /// Sets the compression of existing column family `name` at open (overrides
    /// [`DatabaseBuilder::compression`]); stored, so later opens keep it. A name that is
    /// not a column family when the database opens is [`crate::Error::InvalidOption`]: to
    /// create one with a setting, use [`Database::create_cf_with`].
    #[must_use]
    pub fn cf_compression(mut self, name: &str, compression: Compression) -> Self {
        self.options
            .compression
            .column_families
            .insert(name.to_owned(), compression);
        self
    }

    /// Durability of `commit()` and `write()` (`default_durability`).
    #[must_use]
    pub fn default_durability(mut self, durability: Durability) -> Self {
        self.options.default_durability = durability;
        self
    }

    /// Called with recovery progress while opening (`recovery_progress`).
    #[must_use]
    pub fn recovery_progress(
        mut self,
        callback: impl Fn(&RecoveryProgress) + Send + Sync + 'static,
    ) -> Self {
        self.options.recovery_progress = Some(ProgressCallback::new(callback));
        self
    }

    /// Opens (creating if needed) the database in directory `path`.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Database> {
        Database::open_with(path, self.options)
    }

    /// Opens the database in `directory` (a real or simulated one).
    pub fn open_in(self, directory: Arc<dyn Directory>) -> Result<Database> {
        Database::open_in(directory, self.options)
    }
}

impl Database {
    /// A builder of the database's options.
    pub fn builder() -> DatabaseBuilder {
        DatabaseBuilder::default()
    }
}
