//! The error type users of folio see.

use folio_wal::Lsn;

/// Errors of the database. Lower layers' errors are wrapped with their source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening or using a file or directory failed.
    #[error(transparent)]
    Storage(#[from] folio_io::Error),
    /// The data file.
    #[error(transparent)]
    PageStore(#[from] folio_pagestore::Error),
    /// The write-ahead log.
    #[error(transparent)]
    Wal(#[from] folio_wal::Error),
    /// A tree or the column-family catalog.
    #[error(transparent)]
    Tree(#[from] folio_btree::Error),
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
    /// The group commit a batch was merged into failed (the batch did not commit).
    #[error("the group commit this batch joined failed: {reason}")]
    CommitFailed {
        /// The error the group's commit met.
        reason: String,
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
}

/// Result alias of folio.
pub type Result<T, E = Error> = std::result::Result<T, E>;
