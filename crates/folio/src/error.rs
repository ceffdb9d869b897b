//! The error type users of folio see, and [`ErrorKind`] to branch on without matching the
//! lower layers' enums.

use folio_wal::Lsn;

/// Errors of the B-trees and the column-family catalog, carried by [`Error::Tree`].
pub use folio_btree::Error as TreeError;
/// Errors of the storage layer (files, the simulated disk), carried by [`Error::Storage`].
pub use folio_io::Error as StorageError;
/// Errors of the data file, carried by [`Error::PageStore`].
pub use folio_pagestore::Error as PageStoreError;
/// Errors of the write-ahead log, carried by [`Error::Wal`].
pub use folio_wal::Error as WalError;
/// What recovery of the write-ahead log refused to repair, carried by [`WalError::Recovery`].
pub use folio_wal::RecoveryError as WalRecoveryError;

/// Errors of the database. Lower layers' errors are wrapped with their source; use
/// [`Error::kind`] to branch on what happened without matching them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening or using a file or directory failed.
    #[error(transparent)]
    Storage(StorageError),
    /// The data file.
    #[error(transparent)]
    PageStore(PageStoreError),
    /// The write-ahead log.
    #[error(transparent)]
    Wal(WalError),
    /// A tree or the column-family catalog.
    #[error(transparent)]
    Tree(TreeError),
    /// The database was closed ([`crate::Database::close`], or its last handle dropped).
    /// Read transactions, trees and iterators do not keep a database open.
    #[error("the database is closed")]
    Closed,
    /// A column family's writer is held by another transaction and the caller asked not to
    /// wait ([`crate::Database::try_begin_write`]) or not that long
    /// ([`crate::Database::begin_write_timeout`]).
    #[error("column family {cf:?} is being written by another transaction")]
    Busy {
        /// The column family whose writer was busy.
        cf: String,
    },
    /// The calling thread already holds the writer of this column family (an open write
    /// transaction, write batch leader or bulk load of its own) and the call would wait for
    /// it forever. Commit or drop that first.
    #[error(
        "this thread already holds the writer of column family {cf:?} (an open write transaction or bulk load): waiting for it would never end; commit or drop it first"
    )]
    WouldDeadlock {
        /// The column family.
        cf: String,
    },
    /// No column family has this name.
    #[error("no column family named {name:?}; create it first (Database::create_cf)")]
    ColumnFamilyNotFound {
        /// The name.
        name: String,
    },
    /// A column family with this name exists.
    #[error("column family {name:?} already exists")]
    ColumnFamilyExists {
        /// The name.
        name: String,
    },
    /// A write transaction used a column family it did not name when it began.
    #[error("column family {name:?} is not part of this write transaction; name it in begin_write")]
    NotInTransaction {
        /// The name.
        name: String,
    },
    /// A savepoint was used with a transaction other than the one that made it.
    #[error("this savepoint belongs to another write transaction")]
    ForeignSavepoint,
    /// A typed table read bytes its key or value type cannot decode (the column family was
    /// written with other types, or through the byte API), or serde could not encode a
    /// value.
    #[error(
        "table {cf:?}: cannot encode or decode a {expected} ({source}); does the column family hold other types than this table definition names?"
    )]
    Codec {
        /// The column family.
        cf: String,
        /// The Rust type the table definition names for the key or value that failed.
        expected: &'static str,
        /// What did not decode.
        source: crate::typed::CodecError,
    },
    /// The column family was dropped after this handle was obtained.
    #[error("column family {name:?} was dropped")]
    ColumnFamilyDropped {
        /// The name.
        name: String,
    },
    /// A record of the write-ahead log does not decode: the log is damaged.
    #[error("write-ahead log record {lsn} is malformed: {reason}; restore from a backup")]
    CorruptLogRecord {
        /// The record.
        lsn: Lsn,
        /// What was wrong.
        reason: String,
    },
    /// The log is missing records the data file needs (the log was deleted or replaced).
    #[error(
        "the write-ahead log ends at {wal_last} but the data file was checkpointed at {checkpoint}: the log is missing or from another database"
    )]
    LogBehindData {
        /// The log's last LSN.
        wal_last: Lsn,
        /// The data file's checkpoint LSN.
        checkpoint: Lsn,
    },
    /// The log's oldest segment starts after the first record the data file needs: segments
    /// were deleted.
    #[error(
        "the data file was checkpointed at {checkpoint}, so the write-ahead log must hold every record from {} on, but its oldest segment {oldest_segment} starts at {oldest_lsn}: log segments are missing; restore from a backup", checkpoint + 1
    )]
    LogMissing {
        /// The data file's checkpoint LSN.
        checkpoint: Lsn,
        /// The first LSN the log still holds.
        oldest_lsn: Lsn,
        /// The oldest segment file.
        oldest_segment: String,
    },
    /// The group commit a batch was merged into failed (the batch did not commit).
    #[error("the group commit this batch joined failed: {reason}")]
    CommitFailed {
        /// The error the group's commit met.
        reason: String,
        /// Its kind.
        kind: ErrorKind,
    },
    /// A backup's target already exists.
    #[error("the backup target {path:?} already exists; choose a new directory")]
    BackupTargetExists {
        /// The target.
        path: std::path::PathBuf,
    },
    /// An option is out of range.
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Why, and what is allowed.
        reason: String,
    },
    /// The data file's roots are not folio's.
    #[error("the data file's roots are malformed ({reason})")]
    CorruptRoots {
        /// What was wrong.
        reason: String,
    },
    /// An increment ([`crate::WriteTransaction::increment`],
    /// [`crate::ConcurrentTransaction::increment`]) found a value that is not a counter (8
    /// bytes, a little-endian `i64`), or would overflow it. Nothing of the transaction was
    /// applied.
    #[error("cannot add to key {} of column family {cf:?}: {reason}", String::from_utf8_lossy(&key.escape_ascii().collect::<Vec<u8>>()))]
    NotACounter {
        /// The column family.
        cf: String,
        /// The key.
        key: Vec<u8>,
        /// What is wrong.
        reason: String,
    },
    /// A merge ([`crate::WriteTransaction::merge`], [`crate::ConcurrentTransaction::merge`])
    /// could not be applied: no operator is registered for the column family, the operator
    /// refused the operand, or the merged value is over the size limits. In a concurrent
    /// transaction the commit fails and nothing of it is applied.
    #[error("cannot merge into key {} of column family {cf:?}: {reason}", String::from_utf8_lossy(&key.escape_ascii().collect::<Vec<u8>>()))]
    MergeFailed {
        /// The column family.
        cf: String,
        /// The key.
        key: Vec<u8>,
        /// What went wrong.
        reason: String,
    },
    /// A concurrent transaction ([`crate::Database::begin_concurrent`]) read something
    /// another transaction changed after its snapshot was taken, so committing it would not
    /// be serializable. Nothing of it was applied. Retryable: run it again from a fresh
    /// snapshot ([`crate::Database::transact`] does).
    #[error("{}", conflict_message(cf, keys))]
    Conflict {
        /// The column family where the conflict was found.
        cf: String,
        /// Keys the transaction read (or that fall in ranges it scanned) that were written
        /// since its snapshot, at most 8. Empty when the column family changed in a way not
        /// tracked key by key (a bulk load, a transaction past `large_transaction_bytes`, or
        /// the transaction is older than `concurrent_history_bytes` keeps).
        keys: Vec<Vec<u8>>,
    },
    /// A change feed ([`crate::Database::changes`]) asked for commits the log no longer
    /// holds: checkpoints dropped them (no registered subscriber kept them, or the
    /// subscriber fell further behind than `change_retention_bytes`). Nothing is skipped
    /// silently: resynchronise from a snapshot and resume from its
    /// [`crate::ReadTransaction::version`].
    #[error(
        "the changes after LSN {after} are no longer in the log (it starts at {oldest}): resynchronise from a snapshot and resume from its version"
    )]
    ChangesTruncated {
        /// The feed's position: changes after it were asked for.
        after: Lsn,
        /// The first LSN the log still holds.
        oldest: Lsn,
    },
    /// A change feed was asked to start after a commit this database has not made (a
    /// position saved from another database, or from a newer copy of this one).
    #[error(
        "a change feed cannot start after LSN {after}: the latest commit is {published}; the position is from another database or a newer copy"
    )]
    ChangesAhead {
        /// The position asked for.
        after: Lsn,
        /// The latest published version.
        published: Lsn,
    },
    /// No change-feed subscriber of this name is registered
    /// ([`crate::Database::register_subscriber`]).
    #[error("no change-feed subscriber named {name:?} is registered")]
    SubscriberNotFound {
        /// The name asked for.
        name: String,
    },
    /// The file of change-feed subscribers (`subscribers.folio`) is damaged.
    #[error(
        "the change-feed subscribers file is damaged ({reason}); remove subscribers.folio to drop every registration, then register them again"
    )]
    CorruptSubscribers {
        /// What was wrong.
        reason: String,
    },
    /// A backup chain ([`crate::restore_backup`], [`crate::Database::backup_incremental`]) is
    /// broken: an increment is missing, damaged, or does not continue the one before it.
    #[error("{}", backup_chain_message(*increment, reason))]
    BackupChain {
        /// The increment's number (0 when the chain has none to name).
        increment: u64,
        /// What is wrong.
        reason: String,
    },
}

fn backup_chain_message(increment: u64, reason: &str) -> String {
    if increment == 0 {
        format!("backup chain: {reason}")
    } else {
        format!("backup chain increment {increment}: {reason}")
    }
}

fn conflict_message(cf: &str, keys: &[Vec<u8>]) -> String {
    if keys.is_empty() {
        return format!(
            "conflict in column family {cf:?}: it changed since the transaction's snapshot (in a way not tracked key by key); retry the transaction"
        );
    }
    let shown: Vec<String> = keys
        .iter()
        .map(|key| String::from_utf8_lossy(&key.escape_ascii().collect::<Vec<u8>>()).into_owned())
        .collect();
    format!(
        "conflict in column family {cf:?}: key(s) {} read by the transaction were written since its snapshot; retry the transaction",
        shown.join(", ")
    )
}

/// Result alias of folio.
pub type Result<T, E = Error> = std::result::Result<T, E>;

// Conversions from the layers below turn "closed" into [`Error::Closed`] so callers see one
// error for it whichever layer noticed.
impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

impl From<PageStoreError> for Error {
    fn from(error: PageStoreError) -> Self {
        match error {
            PageStoreError::Closed => Self::Closed,
            other => Self::PageStore(other),
        }
    }
}

impl From<WalError> for Error {
    fn from(error: WalError) -> Self {
        match error {
            WalError::Closed => Self::Closed,
            other => Self::Wal(other),
        }
    }
}

impl From<TreeError> for Error {
    fn from(error: TreeError) -> Self {
        match error {
            TreeError::PageStore(inner) => inner.into(),
            other => Self::Tree(other),
        }
    }
}

/// What kind of failure an [`Error`] is, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A column family (or another named thing: a subscriber, a file such as a backup
    /// chain's directory) does not exist, or was dropped.
    NotFound,
    /// A column family or backup target exists already.
    AlreadyExists,
    /// The database's files are open in another process or handle.
    AlreadyOpen,
    /// Stored data failed verification or is missing (bit rot, a damaged or deleted file):
    /// restore from a backup.
    Corruption,
    /// The device is full (`ENOSPC`). Nothing was changed; free space and retry.
    NoSpace,
    /// Another I/O failure of the device or file system.
    Io,
    /// An earlier failed sync poisoned the database: reopen it.
    Poisoned,
    /// The database was closed.
    Closed,
    /// The writer was busy and the caller asked not to wait.
    Busy,
    /// The call would wait for the calling thread itself.
    WouldDeadlock,
    /// A concurrent transaction conflicted with another commit and applied nothing: retry it.
    Conflict,
    /// Bad input: an oversize key or value, an invalid name or option, a misused handle.
    InvalidInput,
    /// The files were written by a newer folio, or are not folio files.
    Incompatible,
    /// A change feed asked for commits the log no longer holds: resynchronise from a
    /// snapshot.
    Truncated,
    /// The encryption key does not fit the database: none was given for an encrypted one,
    /// it is not the key the database was encrypted with, or one was given for a database
    /// that is not encrypted. Nothing is damaged: open again with the right key (or none).
    EncryptionKey,
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage(error) => storage_kind(error),
            Error::PageStore(error) => page_store_kind(error),
            Error::Wal(error) => wal_kind(error),
            Error::Tree(error) => tree_kind(error),
            Error::Closed => ErrorKind::Closed,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::WouldDeadlock { .. } => ErrorKind::WouldDeadlock,
            Error::ColumnFamilyNotFound { .. }
            | Error::ColumnFamilyDropped { .. }
            | Error::SubscriberNotFound { .. } => ErrorKind::NotFound,
            Error::ChangesTruncated { .. } => ErrorKind::Truncated,
            Error::ColumnFamilyExists { .. } | Error::BackupTargetExists { .. } => {
                ErrorKind::AlreadyExists
            }
            Error::NotInTransaction { .. }
            | Error::ForeignSavepoint
            | Error::Codec { .. }
            | Error::NotACounter { .. }
            | Error::MergeFailed { .. }
            | Error::ChangesAhead { .. }
            | Error::InvalidOption { .. } => ErrorKind::InvalidInput,
            Error::CorruptLogRecord { .. }
            | Error::LogBehindData { .. }
            | Error::LogMissing { .. }
            | Error::CorruptRoots { .. }
            | Error::CorruptSubscribers { .. }
            | Error::BackupChain { .. } => ErrorKind::Corruption,
            Error::CommitFailed { kind, .. } => *kind,
            Error::Conflict { .. } => ErrorKind::Conflict,
        }
    }

    /// True when running the same work again may succeed ([`ErrorKind::Conflict`] and
    /// [`ErrorKind::Busy`]): nothing of the failed attempt was applied.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Conflict | ErrorKind::Busy)
    }

    /// True when the database's files are open elsewhere ([`ErrorKind::AlreadyOpen`]).
    pub fn is_already_open(&self) -> bool {
        self.kind() == ErrorKind::AlreadyOpen
    }

    /// True when a column family, a subscriber or a file does not exist
    /// ([`ErrorKind::NotFound`]).
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// True when stored data failed verification or is missing ([`ErrorKind::Corruption`]).
    pub fn is_corruption(&self) -> bool {
        self.kind() == ErrorKind::Corruption
    }
}

#[expect(
    clippy::match_same_arms,
    reason = "every variant is named with its kind; the wildcard only serves #[non_exhaustive]"
)]
fn storage_kind(error: &StorageError) -> ErrorKind {
    match error {
        StorageError::AlreadyOpen { .. } => ErrorKind::AlreadyOpen,
        StorageError::NotADirectory { .. } | StorageError::ReadOnly { .. } => {
            ErrorKind::InvalidInput
        }
        StorageError::ReadPastEnd { .. } => ErrorKind::Corruption,
        error if error.is_no_space() => ErrorKind::NoSpace,
        StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ErrorKind::NotFound
        }
        StorageError::Io { .. } | StorageError::Crashed => ErrorKind::Io,
        // `#[non_exhaustive]`: see `page_store_kind`.
        _ => ErrorKind::Io,
    }
}

#[expect(
    clippy::match_same_arms,
    reason = "every variant is named with its kind; the wildcard only serves #[non_exhaustive]"
)]
fn page_store_kind(error: &PageStoreError) -> ErrorKind {
    match error {
        PageStoreError::Storage(error) => storage_kind(error),
        PageStoreError::Poisoned => ErrorKind::Poisoned,
        PageStoreError::Closed => ErrorKind::Closed,
        PageStoreError::KeyRequired | PageStoreError::WrongKey | PageStoreError::NotEncrypted => {
            ErrorKind::EncryptionKey
        }
        // The operating system gave no randomness for nonces: nothing on disk is wrong.
        PageStoreError::Encryption(_) => ErrorKind::Io,
        PageStoreError::NotAFolioFile | PageStoreError::NewerFormat { .. } => {
            ErrorKind::Incompatible
        }
        PageStoreError::InvalidOption { .. }
        | PageStoreError::RootsTooLarge { .. }
        | PageStoreError::NotEmpty { .. } => ErrorKind::InvalidInput,
        PageStoreError::CorruptPage { .. }
        | PageStoreError::CorruptHeader { .. }
        | PageStoreError::Truncated { .. }
        | PageStoreError::AllocatorInvariant { .. }
        | PageStoreError::PageOutOfRange { .. }
        | PageStoreError::VersionRegressed { .. }
        | PageStoreError::VersionReused { .. } => ErrorKind::Corruption,
        // The enum is `#[non_exhaustive]`; `error_kind_tests.rs` lists every variant, so a
        // new one is classified there before it can fall here unnoticed.
        _ => ErrorKind::Corruption,
    }
}

#[expect(
    clippy::match_same_arms,
    reason = "every variant is named with its kind; the wildcard only serves #[non_exhaustive]"
)]
fn wal_kind(error: &WalError) -> ErrorKind {
    match error {
        WalError::Storage(error) => storage_kind(error),
        WalError::Poisoned { .. } => ErrorKind::Poisoned,
        WalError::Closed => ErrorKind::Closed,
        error if error.is_no_space() => ErrorKind::NoSpace,
        WalError::Refused { .. } => ErrorKind::Io,
        // The operating system gave no randomness for nonces: nothing on disk is wrong.
        WalError::Encryption(_) => ErrorKind::Io,
        WalError::RecordTooLarge { .. } | WalError::InvalidOption { .. } => ErrorKind::InvalidInput,
        WalError::Recovery(WalRecoveryError::NewerFormat { .. }) => ErrorKind::Incompatible,
        // The facade reads the log only from LSNs its data file needs: a log that lacks them
        // (truncated away, or ending before them) is a damaged or replaced log.
        WalError::Truncated { .. } | WalError::BeyondEnd { .. } | WalError::Recovery(_) => {
            ErrorKind::Corruption
        }
        // `#[non_exhaustive]`: see `page_store_kind`.
        _ => ErrorKind::Corruption,
    }
}

#[expect(
    clippy::match_same_arms,
    reason = "every variant is named with its kind; the wildcard only serves #[non_exhaustive]"
)]
fn tree_kind(error: &TreeError) -> ErrorKind {
    match error {
        TreeError::PageStore(error) => page_store_kind(error),
        TreeError::CorruptNode { .. } => ErrorKind::Corruption,
        TreeError::ColumnFamilyExists { .. } => ErrorKind::AlreadyExists,
        TreeError::ColumnFamilyNotFound { .. } => ErrorKind::NotFound,
        TreeError::KeyTooLarge { .. }
        | TreeError::ValueTooLarge { .. }
        | TreeError::UncommittedChanges
        | TreeError::InvalidName { .. } => ErrorKind::InvalidInput,
        // `#[non_exhaustive]`: see `page_store_kind`.
        _ => ErrorKind::InvalidInput,
    }
}
