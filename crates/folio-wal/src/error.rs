//! Errors of the write-ahead log, and the precise errors of recovery.

use crate::Lsn;

/// Errors of the WAL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage below failed. The log is poisoned if this happened while writing or syncing.
    #[error(transparent)]
    Storage(#[from] folio_io::Error),
    /// A write or sync failed earlier: nothing after it is known to be durable, so every
    /// waiter and every later call gets this error until the log is reopened.
    #[error("the log is poisoned by an earlier failure ({cause}); reopen it to recover")]
    Poisoned {
        /// The failure that poisoned the log.
        cause: String,
    },
    /// The log was closed.
    #[error("the log is closed")]
    Closed,
    /// A record is larger than [`crate::WalOptions::record_bytes_max`].
    #[error(
        "record of {len} bytes exceeds the limit of {max} bytes (WalOptions::record_bytes_max)"
    )]
    RecordTooLarge {
        /// The record's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Records below this LSN were truncated away.
    #[error("LSN {requested} was truncated: the oldest record kept is {oldest}")]
    Truncated {
        /// The LSN asked for.
        requested: Lsn,
        /// The oldest LSN still in the log.
        oldest: Lsn,
    },
    /// An LSN that was never assigned.
    #[error("LSN {requested} is beyond the last record ({last})")]
    BeyondEnd {
        /// The LSN asked for.
        requested: Lsn,
        /// The last assigned LSN.
        last: Lsn,
    },
    /// An option is out of range.
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Why, and what is allowed.
        reason: String,
    },
    /// Recovery found the log damaged in a way that could lose acknowledged records.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
}

/// What recovery refuses to repair silently.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// A record is damaged although a later record was written after it was durable: this is
    /// corruption inside acknowledged log, not a torn tail.
    #[error(
        "record {lsn} in segment {segment} at offset {offset} is corrupt ({reason}) and the later record {witness} proves it had been acknowledged; restore the log from a backup"
    )]
    CorruptRecord {
        /// The damaged record's LSN.
        lsn: Lsn,
        /// The segment file.
        segment: String,
        /// Its byte offset in the segment.
        offset: u64,
        /// What was wrong.
        reason: String,
        /// A later valid record written after `lsn` was durable.
        witness: Lsn,
    },
    /// A segment's header is damaged.
    #[error("segment {segment} has a corrupt header ({reason})")]
    CorruptSegmentHeader {
        /// The segment file.
        segment: String,
        /// What was wrong.
        reason: String,
    },
    /// Records are missing between two segments.
    #[error("records {expected} .. {found} are missing: segment {segment} starts at {found}")]
    Gap {
        /// The segment that starts too late.
        segment: String,
        /// The LSN expected next.
        expected: Lsn,
        /// Where the segment starts.
        found: Lsn,
    },
    /// The segment was written by a newer folio.
    #[error("segment {segment} has format version {found}; this folio reads up to {supported}")]
    NewerFormat {
        /// The segment file.
        segment: String,
        /// Its format version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
}

/// Result alias of the WAL.
pub type Result<T, E = Error> = std::result::Result<T, E>;
