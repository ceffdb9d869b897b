//! [`WalOptions`]: every tunable of the log, validated.

use std::time::Duration;

use crate::{Error, Result};

/// Options of a [`crate::Wal`]. The defaults suit most uses.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Bytes of each segment file, preallocated so a commit's data sync rarely has to
    /// update file metadata. A new log's first segment starts at 64 KiB and grows fourfold in place
    /// up to this size (a small database keeps a small log); a full segment is rolled past
    /// and the next one is preallocated at this size. A record larger than this gets a
    /// segment of its own size. Default: 64 MiB. At least 64 KiB.
    pub segment_bytes: u64,
    /// Largest record accepted. Default: 1 GiB. At most 4 GiB - 1.
    pub record_bytes_max: usize,
    /// How often the background flusher syncs records appended with
    /// [`crate::Durability::Eventual`]; `None` starts no flusher (callers sync with
    /// [`crate::Wal::flush`]). Default: 10 ms.
    pub sync_interval: Option<Duration>,
    /// How long a group-commit leader waits for more appenders before writing its round.
    /// `None` (the default) never waits: followers already batch while a round's sync is in
    /// flight, and on this machine a window only added latency (see `docs/wal.md`). At most
    /// 10 ms.
    pub commit_window: Option<Duration>,
    /// Seals every record's payload with this key (XChaCha20-Poly1305, the record's LSN as
    /// associated data; see `docs/security.md`). Recovery checks records by their checksum
    /// over the sealed bytes, so a wrong key never looks like a torn tail; reading a record
    /// under the wrong key is an error. Default: none.
    pub encryption_key: Option<folio_io::EncryptionKey>,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
            record_bytes_max: 1 << 30,
            sync_interval: Some(Duration::from_millis(10)),
            commit_window: None,
            encryption_key: None,
        }
    }
}

impl WalOptions {
    /// Checks every option, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if self.segment_bytes < 64 * 1024 {
            return Err(Error::InvalidOption {
                name: "segment_bytes",
                reason: format!("{} is less than 64 KiB", self.segment_bytes),
            });
        }
        if self.record_bytes_max == 0 || self.record_bytes_max > u32::MAX as usize {
            return Err(Error::InvalidOption {
                name: "record_bytes_max",
                reason: format!("{} is not in 1 ..= 4 GiB - 1", self.record_bytes_max),
            });
        }
        if self.sync_interval.is_some_and(|d| d.is_zero()) {
            return Err(Error::InvalidOption {
                name: "sync_interval",
                reason: "zero; use None for no background flusher".into(),
            });
        }
        if self
            .commit_window
            .is_some_and(|w| w > Duration::from_millis(10))
        {
            return Err(Error::InvalidOption {
                name: "commit_window",
                reason: "longer than 10 ms".into(),
            });
        }
        Ok(())
    }
}
