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
//! Also: [`WriteBatch`] with [`Database::write`] (concurrent batches merged by a commit
//! queue), [`Database::bulk_load`] (no logging, durable by checkpoint), savepoints,
//! `Eventual` durability, recovery progress. See `docs/architecture.md` and
//! `docs/durability.md`.

#![forbid(unsafe_code)]

mod backup;
mod builder;
mod bulk_load;
mod cf_slot;
mod checkpointer;
mod commit_queue;
mod compaction;
mod database;
mod error;
mod integrity;
mod log_record;
mod options;
mod read_txn;
mod recovery;
mod recovery_progress;
mod snapshot;
mod tree;
pub mod typed;
mod unlogged;
mod write_batch;
mod write_txn;

pub use backup::{BackupProgress, BackupReport};
pub use builder::DatabaseBuilder;
pub use bulk_load::BulkLoad;
pub use commit_queue::CommitQueueStats;
pub use compaction::CompactionReport;
pub use database::{DATA_FILE, Database, DatabaseStats};
pub use error::{
    Error, ErrorKind, PageStoreError, Result, StorageError, TreeError, WalError, WalRecoveryError,
};
pub use folio_btree::Value;
pub use folio_wal::{Durability, Lsn};
pub use integrity::{CfIntegrity, CheckProgress, IntegrityProblem, IntegrityReport};
pub use options::DatabaseOptions;
pub use read_txn::ReadTransaction;
pub use recovery_progress::{ProgressCallback, RecoveryProgress, RecoveryReport};
pub use tree::{Range, Tree, TreeReport};
pub use typed::{CodecError, ReadTable, TableDefinition, WriteTable};
pub use write_batch::WriteBatch;
pub use write_txn::{Savepoint, WriteTransaction};

/// The README's code blocks, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
