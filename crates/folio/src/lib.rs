//! # folio: an embedded, transactional, ordered key-value database
//!
//! One directory holds the data file (copy-on-write B+trees of many column families) and
//! the write-ahead log. Write transactions name the column families they change; writers of
//! different column families run in parallel and a transaction over several commits
//! atomically. Read transactions see one consistent snapshot of every column family.
//! Commits are logged with group commit; checkpoints write data pages later.
//!
//! ```
//! use folio::Database;
//!
//! # fn main() -> folio::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(dir.path())?;
//! db.create_cf("users")?;
//! db.create_cf("emails")?;
//!
//! let mut txn = db.begin_write(&["users", "emails"])?;   // atomic across both
//! txn.put("users", b"alice", b"Alice Liddell")?;
//! txn.put("emails", b"alice@example.com", b"alice")?;
//! txn.commit()?;                                          // durable on return
//!
//! let read = db.begin_read();                             // a snapshot of every CF
//! assert_eq!(&*read.get("users", b"alice")?.unwrap(), b"Alice Liddell");
//! db.checkpoint()?;
//! # Ok(())
//! # }
//! ```
//!
//! # The model
//! - **Column families** are named, ordered keyspaces (bytewise key order) in one file.
//!   Create them with [`Database::create_cf`]; drop and rename them atomically.
//! - **Write transactions** ([`Database::begin_write`]) name the column families they change
//!   and lock their writers: transactions over different column families run in parallel,
//!   one over several commits atomically. Changes are visible to the transaction at once
//!   and to everyone else when it commits. [`WriteBatch`] with [`Database::write`] is the
//!   fire-and-forget form: concurrent batches are merged into group commits.
//! - **Durability**: [`Durability::Immediate`] (the default) returns once the commit's log
//!   record is synced, sharing the sync with concurrent commits; `Eventual` returns at once
//!   and syncs within the log's interval. After any crash the database holds a prefix of the
//!   commit order containing every commit acknowledged as durable.
//! - **Snapshots**: a [`ReadTransaction`] sees one version of every column family for as
//!   long as it (or any [`Tree`] or range from it) lives; readers never block writers.
//! - **Typed tables** ([`TableDefinition`]): a column family as a map from Rust types to
//!   Rust types, with keys encoded so that byte order is their order ([`typed`]).
//! - **Large transactions** stop logging past `large_transaction_bytes` and commit through a
//!   checkpoint; their pages spill to the data file past the dirty bound, so a transaction
//!   may be far larger than memory. [`Database::bulk_load`] fills a column family without
//!   logging, durable chunk by chunk.
//! - **Change feed** ([`Database::changes`]): every committed transaction after an LSN, in
//!   order, for consumers that mirror or index the data; registered subscribers keep the
//!   log they still need. **Backup chains** ([`Database::backup_incremental`],
//!   [`restore_backup`]): incremental backups from the same log, restorable to any LSN.
//! - **Compression** ([`Compression`]): per column family, LZ4 or zstd, each value compressed
//!   on its own (`docs/format.md`), the setting stored with the column family
//!   ([`ColumnFamilyOptions`]). **Encryption at rest** ([`EncryptionKey`]): every data
//!   page and log record sealed with XChaCha20-Poly1305 (`docs/security.md`).
//!
//! ```
//! use folio::{ColumnFamilyOptions, Compression, Database, EncryptionKey};
//!
//! # fn main() -> folio::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let key = EncryptionKey::from_bytes([7; 32]); // from your key store
//! let db = Database::builder().encryption_key(key.clone()).open(dir.path())?;
//! // Stored with the column family: later opens compress its values without being told.
//! db.create_cf_with("events", ColumnFamilyOptions::new().with_compression(Compression::Lz4))?;
//! let event = br#"{"type":"login","user":"alice","ok":true,"note":"login login login"}"#;
//! db.write(folio::WriteBatch::new().put("events", b"e1", event).clone())?;
//! drop(db);
//! // Without the key (or with another) the database does not open; with it, all is there.
//! assert!(Database::open(dir.path()).is_err());
//! let db = Database::builder().encryption_key(key).open(dir.path())?;
//! assert_eq!(&*db.begin_read().get("events", b"e1")?.unwrap(), &event[..]);
//! assert_eq!(db.cf_options("events")?.compression, Compression::Lz4);
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/architecture.md`, `docs/durability.md`, `docs/tuning.md`, `docs/format.md` and
//! `docs/security.md` in the repository.

#![forbid(unsafe_code)]

#[cfg(feature = "async")]
mod async_commit;
mod backup;
mod backup_chain;
mod builder;
mod bulk_load;
mod cf_slot;
mod changes;
mod checkpoint;
mod checkpointer;
mod column_family;
mod commit;
mod commit_queue;
mod compaction;
mod concurrent;
mod database;
mod ddl;
mod error;
#[cfg(test)]
mod error_kind_tests;
mod integrity;
mod log_record;
mod merge;
mod options;
mod read_txn;
mod readers;
mod recovery;
mod recovery_progress;
mod replay_runs;
mod roots;
mod snapshot;
mod tree;
pub mod typed;
mod write_batch;
mod write_txn;

pub use backup::{BackupProgress, BackupReport};
pub use backup_chain::{
    IncrementInfo, IncrementKind, IncrementReport, PruneReport, RestoreOptions, RestoreReport,
    list_backup, list_backup_in, prune_backup, prune_backup_in, restore_backup, restore_backup_in,
};
pub use builder::DatabaseBuilder;
pub use bulk_load::BulkLoad;
pub use bytes::Bytes;
#[cfg(feature = "async")]
pub use changes::ChangeStream;
pub use changes::{
    Change, ChangeOp, Changes, SUBSCRIBER_NAME_BYTES_MAX, SUBSCRIBERS_FILE, SubscriberInfo,
};
pub use column_family::{CfName, ColumnFamily};
pub use commit_queue::CommitQueueStats;
pub use compaction::CompactionReport;
pub use concurrent::{
    ConcurrentSavepoint, ConcurrentStats, ConcurrentTransaction, TransactOptions,
};
pub use database::{DATA_FILE, Database, DatabaseStats};
pub use error::{
    Error, ErrorKind, PageStoreError, Result, StorageError, TreeError, WalError, WalRecoveryError,
};
pub use folio_btree::{Compression, Value};
pub use folio_io::{EncryptionKey, INHERITED_LOCK_WAIT, KeyError, LockHolder};
pub use folio_pagestore::MemoryBudget;
pub use folio_wal::{Durability, DurableWait, Lsn};
pub use integrity::{CfIntegrity, CheckProgress, IntegrityProblem, IntegrityReport};
pub use merge::{MergeFn, MergeOperator};
pub use options::{ColumnFamilyOptions, CompressionOptions, DatabaseOptions};
pub use read_txn::ReadTransaction;
pub use recovery_progress::{ProgressCallback, RecoveryProgress, RecoveryReport};
pub use tree::{Cursor, Range, Tree, TreeReport};
pub use typed::{CodecError, ReadTable, TableDefinition, Tables, WriteTable};
pub use write_batch::WriteBatch;
pub use write_txn::{Savepoint, WriteTransaction};

#[doc(hidden)]
pub mod fuzzing;

/// The README's code blocks, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The Rust blocks of the user documentation in `docs/`, compiled and run as doctests (the
/// other documents hold no Rust, or only sketches marked `ignore` that point to a compiled
/// example).
#[cfg(doctest)]
pub mod docs_doctests {
    #[doc = include_str!("../../../docs/changes.md")]
    pub struct Changes;
    #[doc = include_str!("../../../docs/operations.md")]
    pub struct Operations;
    #[doc = include_str!("../../../docs/security.md")]
    pub struct Security;
    #[doc = include_str!("../../../docs/tuning.md")]
    pub struct Tuning;
    #[doc = include_str!("../../../docs/transactions.md")]
    pub struct Transactions;
}
