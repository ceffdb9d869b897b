//! # folio-wal: a durable log with group commit
//!
//! Append opaque records from many threads; each gets a log sequence number (LSN, 1, 2, 3,
//! ...). Durable appends share syncs through leader/follower **group commit**: the first
//! committer that finds no round in flight writes everything queued in one vectored write,
//! syncs once, and releases every record it covered. Records are framed with their length,
//! LSN and an xxh3 checksum in preallocated segment files, so a data sync never updates file
//! metadata. Recovery truncates a torn tail, reports corruption inside acknowledged log as a
//! typed error, and continues LSNs after reopen. Usable on its own, e.g. as a replicated-log
//! store:
//!
//! ```
//! use std::sync::Arc;
//! use folio_io::FsDirectory;
//! use folio_wal::{Durability, Wal, WalOptions};
//!
//! # fn main() -> folio_wal::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let directory = Arc::new(FsDirectory::open(dir.path().join("log"))?);
//! let (log, _) = Wal::open(directory.clone(), WalOptions::default())?;
//! let first = log.append(b"put k1 v1", Durability::Immediate)?; // synced on return
//! log.append(b"put k2 v2", Durability::Eventual)?;               // written; synced soon
//! log.close()?;
//!
//! let (log, report) = Wal::open(directory, WalOptions::default())?;
//! assert_eq!(report.records, 2);
//! let replayed: Vec<Vec<u8>> = log.read_from(first)?.map(|r| r.map(|(_, p)| p)).collect::<Result<_, _>>()?;
//! assert_eq!(replayed, vec![b"put k1 v1".to_vec(), b"put k2 v2".to_vec()]);
//! assert_eq!(log.append(b"next", Durability::Immediate)?, 3, "LSNs continue after reopen");
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/wal.md` for the formats, the protocol's invariants and the recovery rules.

#![forbid(unsafe_code)]

mod durable_wait;
mod error;
mod group_commit;
mod options;
mod reader;
mod recent;
mod record;
mod recovery;
mod segment;
mod stats;
mod sync;
mod wal;

pub use durable_wait::DurableWait;
pub use error::{Error, RecoveryError, Result};
pub use group_commit::Durability;
pub use options::WalOptions;
pub use reader::WalReader;
pub use recent::{KeepRecent, SharedPayload};
pub use record::RECORD_HEADER_BYTES;
pub use recovery::{RecoveryProgress, RecoveryReport};
pub use segment::{SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES, parse_segment_name, segment_name};
pub use stats::{CommitStats, GROUP_SIZE_BUCKETS};
pub use wal::{Wal, WalStats};

/// A log sequence number: records are numbered 1, 2, 3, ... in append order; 0 means none.
pub type Lsn = u64;

/// Internals this workspace's tests reach into to build and damage log files by hand; not
/// part of the API, and free to change in any release.
#[doc(hidden)]
pub mod testing {
    pub use crate::record::{
        Decoded, RECORD_ALIGN, decode as decode_record, fix_checksum as fix_record_checksum,
        framed_len,
    };
    pub use crate::segment::{
        decode_segment_header, encode_segment_header, seal_header as fix_segment_header_checksum,
    };
}
