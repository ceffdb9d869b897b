//! [`AtRest`]: the two ways a test suite keeps its data, so every crash, fault and
//! corruption suite of every layer runs both ways with the same code
//! ([`crate::plain_and_encrypted`]).

use crate::EncryptionKey;

/// Plain or encrypted (with [`AtRest::TEST_KEY`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtRest {
    /// Nothing sealed.
    Plain,
    /// Pages and log records sealed with [`AtRest::TEST_KEY`].
    Encrypted,
}

impl AtRest {
    /// The key encrypted suites use (tests only: a real key comes from a key store).
    pub const TEST_KEY: [u8; 32] = [0x5a; 32];

    /// The key to open with: `None` when plain.
    pub fn key(self) -> Option<EncryptionKey> {
        match self {
            Self::Plain => None,
            Self::Encrypted => Some(EncryptionKey::from_bytes(Self::TEST_KEY)),
        }
    }
}

/// Defines two tests, `$plain` and `$encrypted`, calling `$body(AtRest::Plain)` and
/// `$body(AtRest::Encrypted)`.
#[macro_export]
macro_rules! plain_and_encrypted {
    ($plain:ident, $encrypted:ident, $body:path) => {
        #[test]
        fn $plain() {
            $body($crate::AtRest::Plain);
        }

        #[test]
        fn $encrypted() {
            $body($crate::AtRest::Encrypted);
        }
    };
}
