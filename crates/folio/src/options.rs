//! [`DatabaseOptions`]: every option of a database, with the layers' own options inside.

use std::num::NonZeroUsize;
use std::time::Duration;

use std::collections::BTreeMap;

use folio_btree::Compression;
use folio_pagestore::PageStoreOptions;
use folio_wal::{Durability, WalOptions};

use crate::{Error, Result};

/// Options of a [`crate::Database`]. `DatabaseOptions::default()` suits most uses.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// The data file: page size, cache bytes, extent size, growth step.
    pub page_store: PageStoreOptions,
    /// The write-ahead log: segment size, record limit, background sync interval, batching
    /// window.
    pub wal: WalOptions,
    /// Durability of [`crate::WriteTransaction::commit`]. Default: `Immediate` (the commit
    /// returns after its log record is synced, sharing the sync with concurrent commits).
    pub default_durability: Durability,
    /// The background checkpointer starts a checkpoint once this many bytes of pages are
    /// dirty (written by commits, not yet in the data file); also once the dirty bound's
    /// worth ([`DatabaseOptions::dirty_bytes_bound`]) of pages were freed since the last
    /// checkpoint (freed pages are reused only after checkpoints). Default: 64 MiB.
    pub checkpoint_dirty_bytes: usize,
    /// ... or once this many bytes of log were written since the last checkpoint (bounding
    /// replay, hence open time). Default: 256 MiB.
    pub checkpoint_log_bytes: u64,
    /// ... or after this long with commits since the last checkpoint. `None` disables the
    /// background checkpointer (call [`crate::Database::checkpoint`] yourself). Default: 5 s.
    pub checkpoint_interval: Option<Duration>,
    /// Back-pressure: a commit that finds more dirty bytes than this checkpoints before it
    /// returns, so memory stays bounded even when commits outrun the checkpointer. `None`
    /// (the default) means 4 x `checkpoint_dirty_bytes`, whatever that is set to; see
    /// [`DatabaseOptions::dirty_bytes_bound`].
    pub dirty_bytes_max: Option<usize>,
    /// A transaction whose log record grows past this many bytes stops logging its data and
    /// commits through a checkpoint instead (its pages go to the data file once, not to the
    /// log and later to the file; the log holds only a marker). Its memory is bounded too:
    /// past the dirty bound its pages spill to free space in the data file. Default: 64 MiB.
    pub large_transaction_bytes: usize,
    /// Memory each column family may keep of the keys recent commits wrote, while
    /// concurrent transactions ([`crate::Database::begin_concurrent`]) run: what their
    /// commits are validated against. A transaction older than what is kept gets
    /// [`crate::Error::Conflict`] (and is retried by [`crate::Database::transact`]).
    /// Nothing is kept while no concurrent transaction runs. Default: 4 MiB.
    pub concurrent_history_bytes: usize,
    /// Bytes of changes replay gathers per column family before it sorts them: applied
    /// at once when they are all there is, else written as a sorted run to a temporary file
    /// (`replay-*.run`, removed when the open ends) and merged with the others at the end,
    /// so a log of any size replays in bounded memory (about three times this per column
    /// family replayed, plus the cache; an encrypted database keeps its batches in memory
    /// instead of writing keys and values in the clear). Default: 16 MiB.
    pub replay_batch_bytes: usize,
    /// Called with recovery progress while the database opens (log scan, replay). The same
    /// steps are also emitted as `tracing` events (target `folio::recovery`). Default: none.
    pub recovery_progress: Option<crate::ProgressCallback>,
    /// File descriptors per file for parallel reads ([`crate::Database::open_with`] only).
    /// Default: 1 (more measured no gain on 2 cores; see `docs/pagestore.md`).
    pub file_handles: NonZeroUsize,
    /// How long an open waits for another process to release the database's files before it
    /// returns [`crate::ErrorKind::AlreadyOpen`] ([`crate::Database::open_with`] only): for a
    /// service that restarts while its previous instance is still exiting. Default: zero
    /// (fail at once). A lock kept only by a child process this process forked (a copy of a
    /// closed handle, alive until the child calls `exec`) is always waited out, up to
    /// [`crate::INHERITED_LOCK_WAIT`]; see `docs/operations.md`, "Locking".
    pub lock_wait: Duration,
    /// Checkpoint when the last handle is dropped, so the next open replays nothing.
    /// Default: true.
    pub checkpoint_on_close: bool,
    /// Changes to how column families compress the values they write. Each column family's
    /// setting is stored in the database, so leaving this empty keeps them as they are.
    /// Default: no change.
    pub compression: CompressionOptions,
    /// Encrypts the data file's pages and the log's records with this key (see
    /// `docs/security.md`); a new database is created encrypted, an existing one must be
    /// opened with the key it was created with. Overrides the keys in `page_store` and
    /// `wal`. Default: none.
    pub encryption_key: Option<folio_io::EncryptionKey>,
    /// A memory bound shared with other databases (and page stores) opened with the same
    /// [`crate::MemoryBudget`]: their cached pages, clean and dirty, and spare page buffers
    /// together stay under it. Past it, caches evict their own clean pages and databases
    /// holding dirty pages checkpoint (see `docs/tuning.md`, "One memory budget for many
    /// databases"). `cache_bytes_max` still bounds each one. Overrides
    /// `page_store.memory_budget`. Default: none.
    pub memory_budget: Option<crate::MemoryBudget>,
    /// Merge operators by column-family name ([`crate::MergeOperator`]). Merges are logged
    /// as their results, so a database opens without them. Default: none.
    pub merge_operators: BTreeMap<String, crate::MergeOperator>,
    /// Log bytes (segment files on disk) that checkpoints keep for registered change-feed
    /// subscribers ([`crate::Database::register_subscriber`]) at most. A subscriber further
    /// behind than this loses the oldest changes it has not acknowledged and gets
    /// [`crate::Error::ChangesTruncated`]; without subscribers nothing is kept. Every open
    /// reads the kept log to check it. Default: 256 MiB.
    pub change_retention_bytes: u64,
}

/// Compression settings given at open. Each column family's setting is stored in the
/// database (with the column family, see [`ColumnFamilyOptions`]); an open that names a
/// column family in `column_families` changes its stored setting (durably, before the open
/// returns); `default` only fills in for column families that have none yet. A setting decides how values are *written*; every stored value says how it
/// is stored, so changing one affects only values written afterwards (see
/// `docs/format.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompressionOptions {
    /// For column families created by [`crate::Database::create_cf`] and not named in
    /// `column_families` (`None`: uncompressed), and at open for column families of files
    /// written before settings were stored. It never changes a stored setting: a column
    /// family created with its own setting keeps it whatever later opens say here.
    pub default: Option<Compression>,
    /// By column-family name. Each must name an existing column family when the database
    /// opens: an unknown name (a misspelling) is [`Error::InvalidOption`]. To create a
    /// column family with a setting, use [`crate::Database::create_cf_with`].
    pub column_families: BTreeMap<String, Compression>,
}

impl CompressionOptions {
    /// The setting [`crate::Database::create_cf`] gives a new column family `name`.
    pub fn for_new_cf(&self, name: &str) -> Compression {
        self.at_open(name, None)
    }

    /// The setting an open gives existing column family `name`, whose stored setting is
    /// `stored` (`None`: none recorded, a file from before settings were stored).
    pub(crate) fn at_open(&self, name: &str, stored: Option<Compression>) -> Compression {
        let named = self.column_families.get(name).copied();
        named.or(stored).or(self.default).unwrap_or_default()
    }

    /// [`Error::InvalidOption`] when `column_families` names a column family that does not
    /// `exist`; `names` lists those that do, for the message.
    pub(crate) fn check_names(
        &self,
        exists: impl Fn(&str) -> bool,
        names: impl FnOnce() -> Vec<String>,
    ) -> Result<()> {
        match self.column_families.keys().find(|name| !exists(name)) {
            None => Ok(()),
            Some(unknown) => Err(Error::InvalidOption {
                name: "compression",
                reason: format!(
                    "column family {unknown:?} does not exist (column families: {:?}); \
                     to create one with a setting, use Database::create_cf_with",
                    names()
                ),
            }),
        }
    }
}

/// What is stored with one column family ([`crate::Database::create_cf_with`],
/// [`crate::Database::set_cf_options`], [`crate::Database::cf_options`]): every open and
/// every process that writes to it uses these, whatever options it was opened with
/// (unless it changes them, see [`CompressionOptions`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ColumnFamilyOptions {
    /// How it compresses the values it writes. Default: none.
    pub compression: Compression,
}

impl ColumnFamilyOptions {
    /// The defaults: no compression.
    pub fn new() -> Self {
        Self::default()
    }

    /// With values compressed as `compression` says.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Checks every setting, naming column family `cf` in the error.
    pub fn validate(&self, cf: &str) -> Result<()> {
        self.compression
            .check()
            .map_err(|reason| Error::InvalidOption {
                name: "compression",
                reason: format!("column family {cf:?}: {reason}"),
            })
    }
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            page_store: PageStoreOptions::default(),
            wal: WalOptions::default(),
            default_durability: Durability::Immediate,
            checkpoint_dirty_bytes: 64 << 20,
            checkpoint_log_bytes: 256 << 20,
            checkpoint_interval: Some(Duration::from_secs(5)),
            dirty_bytes_max: None,
            large_transaction_bytes: 64 << 20,
            concurrent_history_bytes: 4 << 20,
            replay_batch_bytes: 16 << 20,
            recovery_progress: None,
            file_handles: NonZeroUsize::MIN,
            lock_wait: Duration::ZERO,
            checkpoint_on_close: true,
            compression: CompressionOptions::default(),
            encryption_key: None,
            memory_budget: None,
            merge_operators: BTreeMap::new(),
            change_retention_bytes: 256 << 20,
        }
    }
}

impl DatabaseOptions {
    /// The dirty-byte bound in force: `dirty_bytes_max`, or 4 x `checkpoint_dirty_bytes`
    /// when it is not set.
    pub fn dirty_bytes_bound(&self) -> usize {
        self.dirty_bytes_max
            .unwrap_or_else(|| self.checkpoint_dirty_bytes.saturating_mul(4))
    }

    /// How a transaction (or a rewrite) spills its pages: past the dirty bound, keeping at
    /// least the floor (an eighth of the bound at most) in memory.
    pub(crate) fn spill_policy(&self) -> folio_btree::SpillPolicy {
        let bound_bytes = self.dirty_bytes_bound();
        folio_btree::SpillPolicy {
            bound_bytes,
            floor_bytes: folio_btree::SpillPolicy::FLOOR_BYTES.min(bound_bytes / 8),
        }
    }

    /// Passes the database-wide options down: `encryption_key` overrides the layers' own
    /// keys (the data file and the log are keyed together), `memory_budget` the page
    /// store's.
    pub(crate) fn pass_down_to_layers(&mut self) {
        if self.encryption_key.is_some() {
            self.page_store
                .encryption_key
                .clone_from(&self.encryption_key);
            self.wal.encryption_key.clone_from(&self.encryption_key);
        }
        if self.memory_budget.is_some() {
            self.page_store
                .memory_budget
                .clone_from(&self.memory_budget);
        }
    }

    /// Checks every option, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        self.page_store.validate().map_err(Error::from)?;
        self.wal.validate().map_err(Error::from)?;
        if let Some(max) = self.dirty_bytes_max
            && max < self.checkpoint_dirty_bytes
        {
            return Err(Error::InvalidOption {
                name: "dirty_bytes_max",
                reason: format!(
                    "{max} is below checkpoint_dirty_bytes ({})",
                    self.checkpoint_dirty_bytes
                ),
            });
        }
        if self.replay_batch_bytes < 1024 {
            return Err(Error::InvalidOption {
                name: "replay_batch_bytes",
                reason: format!("{} is below 1 KiB", self.replay_batch_bytes),
            });
        }
        if self.large_transaction_bytes > self.wal.record_bytes_max {
            return Err(Error::InvalidOption {
                name: "large_transaction_bytes",
                reason: format!(
                    "{} is above the log's record limit ({})",
                    self.large_transaction_bytes, self.wal.record_bytes_max
                ),
            });
        }
        if self.encryption_key.is_none()
            && self.page_store.encryption_key != self.wal.encryption_key
        {
            // Pages sealed but log records not (or the reverse) would leak what the other
            // protects.
            return Err(Error::InvalidOption {
                name: "encryption_key",
                reason: "page_store and wal carry different keys; set \
                         DatabaseOptions::encryption_key, which keys both"
                    .into(),
            });
        }
        let compressions = self
            .compression
            .default
            .map(|c| (None, c))
            .into_iter()
            .chain(
                self.compression
                    .column_families
                    .iter()
                    .map(|(cf, c)| (Some(cf), *c)),
            );
        for (cf, compression) in compressions {
            compression.check().map_err(|reason| Error::InvalidOption {
                name: "compression",
                reason: match cf {
                    Some(cf) => format!("column family {cf:?}: {reason}"),
                    None => format!("default: {reason}"),
                },
            })?;
        }
        if self.checkpoint_interval.is_some_and(|d| d.is_zero()) {
            return Err(Error::InvalidOption {
                name: "checkpoint_interval",
                reason: "zero; use None to disable the background checkpointer".into(),
            });
        }
        Ok(())
    }
}
