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
    /// The log could not take this record (for example no room for a new segment: the disk
    /// is full) and wrote none of it. Nothing durable changed and the log stays usable: the
    /// record can be appended again. The appender whose round failed gets the cause itself.
    #[error(
        "the log could not write this record and wrote nothing of it ({cause}); the log is still usable"
    )]
    Refused {
        /// The failure that made the log refuse the record.
        cause: String,
        /// The failure was `ENOSPC`: the device is full.
        no_space: bool,
    },
    /// The log was closed.
    #[error("the log is closed")]
    Closed,
    /// The operating system could not provide randomness for encryption nonces.
    #[error("log encryption unavailable: {0}")]
    Encryption(String),
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
    /// A record is damaged in a segment the log had already moved past: a segment is synced
    /// before the next one is created, so this is damage to synced log, not a torn write.
    #[error(
        "record {lsn} in segment {segment} at offset {offset} is corrupt ({reason}), but the log had already moved on to segment {next_segment}, which is only created once {segment} is synced; restore the log from a backup"
    )]
    CorruptSealedSegment {
        /// The damaged record's LSN.
        lsn: Lsn,
        /// The segment file.
        segment: String,
        /// Its byte offset in the segment.
        offset: u64,
        /// What was wrong.
        reason: String,
        /// The segment after it.
        next_segment: String,
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

impl Error {
    /// True when the device is out of space (`ENOSPC`), directly or as a refusal's cause.
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::Storage(error) => error.is_no_space(),
            Error::Refused { no_space, .. } => *no_space,
            _ => false,
        }
    }
}

/// Result alias of the WAL.
pub type Result<T, E = Error> = std::result::Result<T, E>;
