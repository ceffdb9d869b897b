//! Helpers shared by the log's integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use folio_io::cipher::SEAL_OVERHEAD;
use folio_wal::WalOptions;

pub use folio_io::AtRest;

/// The log's options for a suite kept [`AtRest`].
pub trait WalAtRest {
    /// `options` stored this way.
    fn apply(self, options: WalOptions) -> WalOptions;
    /// Bytes a record of `payload` bytes stores (sealing adds the nonce and the tag).
    fn stored_len(self, payload: usize) -> usize;
}

impl WalAtRest for AtRest {
    fn apply(self, options: WalOptions) -> WalOptions {
        WalOptions {
            encryption_key: self.key(),
            ..options
        }
    }

    fn stored_len(self, payload: usize) -> usize {
        match self {
            AtRest::Plain => payload,
            AtRest::Encrypted => payload + SEAL_OVERHEAD,
        }
    }
}
