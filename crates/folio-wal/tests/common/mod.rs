//! Helpers shared by the log's integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use folio_io::EncryptionKey;
use folio_io::cipher::SEAL_OVERHEAD;
use folio_wal::WalOptions;

/// How a suite's log is stored: the crash, fault and corruption suites run both ways (the
/// same scenarios, the options differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtRest {
    /// Plain records.
    Plain,
    /// Records sealed with a test key.
    Encrypted,
}

impl AtRest {
    /// `options` stored this way.
    pub fn apply(self, mut options: WalOptions) -> WalOptions {
        if self == Self::Encrypted {
            options.encryption_key = Some(EncryptionKey::from_bytes([0x33; 32]));
        }
        options
    }

    /// Bytes a record of `payload` bytes stores (sealing adds the nonce and the tag).
    pub fn stored_len(self, payload: usize) -> usize {
        match self {
            Self::Plain => payload,
            Self::Encrypted => payload + SEAL_OVERHEAD,
        }
    }
}

/// Defines `$name` (plain) and `$encrypted` tests, each calling `$body(AtRest::..)`.
#[macro_export]
macro_rules! both_ways {
    ($name:ident, $encrypted:ident, $body:path) => {
        #[test]
        fn $name() {
            $body($crate::common::AtRest::Plain);
        }

        #[test]
        fn $encrypted() {
            $body($crate::common::AtRest::Encrypted);
        }
    };
}
