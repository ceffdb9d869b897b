//! Concurrent write transactions: optimistic, validated at commit, serializable.
//!
//! ```text
//!  begin     register the snapshot (ActiveSnapshots), no writer taken
//!  run       reads: own buffered write, else the snapshot (recorded in a ReadSet per
//!            column family: keys, and whole scanned ranges)
//!            writes: buffered per column family
//!  commit    1. lock the writers of every column family read or written (id order)
//!            2. validate: for each column family read, no commit after the snapshot wrote a
//!               key the transaction read or a key inside a range it scanned
//!               (WriteHistory, complete above `complete_above`) -> else Error::Conflict
//!            3. apply the buffered writes to the locked trees, append the record, record
//!               the written keys in each history, release, publish (the one commit path)
//! ```
//!
//! Why this is serializable: a committed transaction's reads equal the state just before
//! its commit's LSN (nothing it read changed between its snapshot and its validation, and
//! nothing can change it between its validation and its append, because it holds the
//! writers of everything it read), and its writes take effect at that LSN. So the commit
//! order in the log is a serial order. Blind writes need no validation.
//!
//! Invariant 12 (docs/invariants.md) is stated in `history.rs`.

mod group;
mod history;
#[cfg(all(test, folio_loom))]
mod loom_model;
mod merged;
mod read_set;
mod retry;
mod transaction;
mod write;

use std::sync::atomic::AtomicU64;

pub(crate) use group::Submission;
#[cfg(feature = "async")]
pub(crate) use group::commit_jobs;
pub(crate) use history::{WriteHistory, Written};
pub(crate) use merged::Merged;
pub use retry::TransactOptions;
pub use transaction::{ConcurrentSavepoint, ConcurrentTransaction};
pub(crate) use write::add_to_counter;

use crate::commit_queue::CommitQueues;
use crate::{Database, Result};

/// Counters of concurrent transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConcurrentStats {
    /// Concurrent transactions that wrote something and passed validation.
    pub commits: u64,
    /// Commits refused with [`crate::Error::Conflict`].
    pub conflicts: u64,
    /// Their commit queues: `batches` commits submitted, `groups` group commits made of
    /// them.
    pub queue: crate::CommitQueueStats,
}

/// The database's concurrent-transaction state.
#[derive(Debug, Default)]
pub(crate) struct ConcurrentState {
    /// Snapshots of running concurrent transactions.
    pub(crate) active: history::ActiveSnapshots,
    /// Their commit queues, one per set of column families (ids).
    pub(crate) queues: CommitQueues<Submission, Vec<u64>>,
    pub(crate) commits: AtomicU64,
    pub(crate) conflicts: AtomicU64,
}

impl ConcurrentState {
    pub(crate) fn stats(&self) -> ConcurrentStats {
        use std::sync::atomic::Ordering::Relaxed;
        ConcurrentStats {
            commits: self.commits.load(Relaxed),
            conflicts: self.conflicts.load(Relaxed),
            queue: self.queues.stats(),
        }
    }
}

impl Database {
    /// A [`ConcurrentTransaction`]: takes no writer, so any number run at once over the same
    /// column families; validated at commit (serializable, [`crate::Error::Conflict`] when
    /// it read something another transaction changed since). Prefer
    /// [`Database::transact`], which retries conflicts.
    pub fn begin_concurrent(&self) -> Result<ConcurrentTransaction> {
        self.check_writable()?;
        self.relieve_pressure()?;
        Ok(ConcurrentTransaction::new(self.clone()))
    }
}
