//! Encryption at rest: [`EncryptionKey`] and the [`Cipher`] that seals data pages and log
//! records with XChaCha20-Poly1305 (the `chacha20poly1305` crate of `RustCrypto`).
//!
//! ```text
//! sealed bytes (what reaches the disk for one page payload or log record)
//!   0  nonce       [u8; 24]  16 random bytes per opened cipher + a 64-bit counter
//!  24  ciphertext  [u8; n]   as long as the plaintext
//! 24+n tag         [u8; 16]  Poly1305 over the ciphertext and the associated data
//! ```
//! **Nonces are never reused for a key**: each [`Cipher`] (one per open file) draws a fresh
//! 128-bit prefix from the operating system and counts seals under it, so two seals share a
//! nonce only if two opens drew the same 128 random bits. Nothing depends on state surviving
//! a crash: a page rewritten at the same id, or a log record at an LSN reused after a crash
//! lost the unsynced tail, gets a new nonce like any other seal.
//!
//! The caller binds where the bytes belong as associated data (a page's id, a record's LSN),
//! so sealed bytes copied to another place fail to open. Keys are wiped from memory when
//! dropped (`zeroize`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 24;
/// Bytes of an authentication tag.
pub const TAG_BYTES: usize = 16;
/// Bytes sealing adds to what it seals.
pub const SEAL_OVERHEAD: usize = NONCE_BYTES + TAG_BYTES;
/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
/// The algorithm's id in headers: 1 = XChaCha20-Poly1305.
pub const CIPHER_XCHACHA20_POLY1305: u8 = 1;
/// What [`Cipher::key_check`] seals: proves a key right without revealing anything of it.
const KEY_CHECK_CONTEXT: &[u8] = b"folio key check v1";

/// A 256-bit key. Wiped from memory on drop; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey([u8; KEY_BYTES]);

impl Drop for EncryptionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl EncryptionKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(bytes)
    }

    /// A key from a slice, which must hold exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; KEY_BYTES] = bytes
            .try_into()
            .map_err(|_| KeyError::Length { len: bytes.len() })?;
        Ok(Self(bytes))
    }

    /// A key from a key file's contents: 32 raw bytes, or 64 hexadecimal digits (surrounding
    /// whitespace ignored).
    pub fn from_file_contents(contents: &[u8]) -> Result<Self, KeyError> {
        if contents.len() == KEY_BYTES {
            return Self::from_slice(contents);
        }
        let text = Zeroizing::new(String::from_utf8_lossy(contents).trim().to_owned());
        if text.len() != 2 * KEY_BYTES || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Format);
        }
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        for (i, byte) in key.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| KeyError::Format)?;
        }
        Ok(Self(*key))
    }

    /// A new random key from the operating system.
    pub fn generate() -> Result<Self, KeyError> {
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self(key))
    }

    /// The key's bytes (for writing a key file).
    pub fn as_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

/// A key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Raw keys are 32 bytes.
    #[error("an encryption key is 32 bytes, got {len}")]
    Length {
        /// Bytes given.
        len: usize,
    },
    /// A key file holds neither 32 raw bytes nor 64 hex digits.
    #[error("a key file holds 32 raw bytes or 64 hexadecimal digits")]
    Format,
    /// The operating system's random source failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// Sealed bytes that do not open: tampered with, moved from another place, or sealed under
/// another key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("authentication failed (damaged, moved, or written under another key)")]
pub struct SealError;

/// Seals and opens with one key; see the module docs for the format and the nonce rule.
pub struct Cipher {
    aead: XChaCha20Poly1305,
    prefix: [u8; NONCE_BYTES - 8],
    counter: AtomicU64,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(XChaCha20-Poly1305)")
    }
}

impl Cipher {
    /// A cipher for `key` with a fresh random nonce prefix.
    pub fn new(key: &EncryptionKey) -> Result<Self, KeyError> {
        let mut prefix = [0u8; NONCE_BYTES - 8];
        getrandom::fill(&mut prefix).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self {
            aead: XChaCha20Poly1305::new((&key.0).into()),
            prefix,
            counter: AtomicU64::new(0),
        })
    }

    fn next_nonce(&self) -> [u8; NONCE_BYTES] {
        let mut nonce = [0u8; NONCE_BYTES];
        nonce[..NONCE_BYTES - 8].copy_from_slice(&self.prefix);
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        nonce[NONCE_BYTES - 8..].copy_from_slice(&count.to_le_bytes());
        nonce
    }

    /// Seals `plaintext` into `out` (exactly `plaintext.len() + SEAL_OVERHEAD` bytes), bound
    /// to `aad`.
    pub fn seal_into(&self, aad: &[u8], plaintext: &[u8], out: &mut [u8]) {
        assert_eq!(out.len(), plaintext.len() + SEAL_OVERHEAD, "sealed length");
        let nonce = self.next_nonce();
        let (nonce_out, rest) = out.split_at_mut(NONCE_BYTES);
        nonce_out.copy_from_slice(&nonce);
        let (body, tag_out) = rest.split_at_mut(plaintext.len());
        body.copy_from_slice(plaintext);
        let tag = self
            .aead
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, body)
            .expect("XChaCha20-Poly1305 seals any length a page or record has");
        tag_out.copy_from_slice(&tag);
    }

    /// `plaintext` sealed to `aad`, as a new buffer.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; plaintext.len() + SEAL_OVERHEAD];
        self.seal_into(aad, plaintext, &mut out);
        out
    }

    /// Opens `sealed` (bound to `aad`) into `out` (exactly `sealed.len() - SEAL_OVERHEAD`
    /// bytes). On failure `out` holds nothing of the plaintext.
    pub fn open_into(&self, aad: &[u8], sealed: &[u8], out: &mut [u8]) -> Result<(), SealError> {
        if sealed.len() < SEAL_OVERHEAD || out.len() != sealed.len() - SEAL_OVERHEAD {
            return Err(SealError);
        }
        let (nonce, rest) = sealed.split_at(NONCE_BYTES);
        let (body, tag) = rest.split_at(rest.len() - TAG_BYTES);
        out.copy_from_slice(body);
        let opened = self.aead.decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            aad,
            out,
            Tag::from_slice(tag),
        );
        if opened.is_err() {
            out.fill(0);
            return Err(SealError);
        }
        Ok(())
    }

    /// `sealed` opened, as a new buffer.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut out = vec![0u8; sealed.len().saturating_sub(SEAL_OVERHEAD)];
        self.open_into(aad, sealed, &mut out)?;
        Ok(out)
    }

    /// A key check for a file header: an empty plaintext sealed to a fixed context. Opening
    /// it succeeds only under the same key; it reveals nothing else.
    pub fn key_check(&self) -> [u8; SEAL_OVERHEAD] {
        let mut out = [0u8; SEAL_OVERHEAD];
        self.seal_into(KEY_CHECK_CONTEXT, &[], &mut out);
        out
    }

    /// Whether `check` (from [`Cipher::key_check`]) was made with this cipher's key.
    pub fn verify_key_check(&self, check: &[u8; SEAL_OVERHEAD]) -> bool {
        self.open_into(KEY_CHECK_CONTEXT, check, &mut []).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_bytes([byte; KEY_BYTES])
    }

    #[test]
    fn sealed_bytes_open_only_with_the_key_and_place_they_were_sealed_for() {
        let cipher = Cipher::new(&key(1)).unwrap();
        let sealed = cipher.seal(b"page 7", b"hello world");
        assert_eq!(sealed.len(), 11 + SEAL_OVERHEAD);
        assert!(
            !sealed.windows(5).any(|w| w == b"hello"),
            "ciphertext hides the text"
        );
        assert_eq!(cipher.open(b"page 7", &sealed).unwrap(), b"hello world");
        assert_eq!(cipher.open(b"page 8", &sealed), Err(SealError), "moved");
        let other = Cipher::new(&key(2)).unwrap();
        assert_eq!(other.open(b"page 7", &sealed), Err(SealError), "wrong key");
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert_eq!(cipher.open(b"page 7", &flipped), Err(SealError), "tampered");
        assert_eq!(
            cipher.open(b"page 7", &sealed[..10]),
            Err(SealError),
            "cut short"
        );
    }

    #[test]
    fn nonces_differ_within_and_across_ciphers_of_one_key() {
        let a = Cipher::new(&key(1)).unwrap();
        let b = Cipher::new(&key(1)).unwrap();
        let first = a.seal(b"x", b"same");
        let second = a.seal(b"x", b"same");
        let third = b.seal(b"x", b"same");
        assert_ne!(first[..NONCE_BYTES], second[..NONCE_BYTES]);
        assert_ne!(first[..NONCE_BYTES], third[..NONCE_BYTES]);
        assert_ne!(first, second, "same plaintext, different bytes");
    }

    #[test]
    fn key_checks_tell_keys_apart() {
        let check = Cipher::new(&key(1)).unwrap().key_check();
        assert!(Cipher::new(&key(1)).unwrap().verify_key_check(&check));
        assert!(!Cipher::new(&key(2)).unwrap().verify_key_check(&check));
    }

    #[test]
    fn generated_keys_are_random_and_round_trip_through_a_key_file() {
        let (a, b) = (
            EncryptionKey::generate().unwrap(),
            EncryptionKey::generate().unwrap(),
        );
        assert_ne!(a, b);
        assert_eq!(EncryptionKey::from_file_contents(a.as_bytes()).unwrap(), a);
    }

    #[test]
    fn key_files_hold_raw_bytes_or_hex() {
        let raw = [7u8; 32];
        assert_eq!(EncryptionKey::from_file_contents(&raw).unwrap(), key(7));
        let hex = format!("{}\n", "07".repeat(32));
        assert_eq!(
            EncryptionKey::from_file_contents(hex.as_bytes()).unwrap(),
            key(7)
        );
        assert_eq!(
            EncryptionKey::from_file_contents(b"short"),
            Err(KeyError::Format)
        );
        assert_eq!(
            EncryptionKey::from_slice(&[0; 5]),
            Err(KeyError::Length { len: 5 })
        );
        assert_eq!(format!("{:?}", key(7)), "EncryptionKey(..)");
    }
}
