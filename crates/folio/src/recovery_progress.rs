//! What opening a database reports about recovery: progress while it runs (a callback and
//! `tracing` events) and a summary afterwards.

use std::sync::Arc;
use std::time::Duration;

use folio_wal::Lsn;

/// A step of recovery, passed to [`crate::DatabaseOptions::recovery_progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryProgress {
    /// Checking the log's segments (checksums, torn tail).
    ScanningLog {
        /// Segments checked so far.
        segments_done: usize,
        /// Segments to check.
        segments_total: usize,
        /// Bytes checked so far.
        bytes: u64,
    },
    /// Applying logged commits past the data file's checkpoint.
    Replaying {
        /// Records applied so far.
        records_done: u64,
        /// Records to apply.
        records_total: u64,
    },
}

/// A callback receiving [`RecoveryProgress`] (for a progress bar on a large log).
#[derive(Clone)]
pub struct ProgressCallback(pub Arc<dyn Fn(&RecoveryProgress) + Send + Sync>);

impl ProgressCallback {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&RecoveryProgress) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl std::fmt::Debug for ProgressCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressCallback(..)")
    }
}

/// What the last open found and did; see [`crate::Database::recovery_report`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The data file's checkpoint version.
    pub checkpoint: Lsn,
    /// Log records replayed past it.
    pub replayed_records: u64,
    /// Payload bytes of those records.
    pub replayed_bytes: u64,
    /// True when the open checkpointed what it replayed before returning: a replay of at
    /// least `checkpoint_log_bytes` is made durable at once, whatever the checkpointer
    /// setting, so a process killed again and again soon after opening does not replay an
    /// ever longer log.
    pub checkpointed: bool,
    /// Log bytes scanned.
    pub log_bytes_scanned: u64,
    /// Bytes of a torn log tail dropped (a crash during a write; never acknowledged data).
    pub torn_tail_bytes: u64,
    /// The version the database opened at.
    pub version: Lsn,
    /// Time the whole open took.
    pub duration: Duration,
}
