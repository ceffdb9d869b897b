//! Key order, made cheap for the binary searches of every descent (the tree's most frequent
//! operation).
//!
//! Keys are ordered byte-wise (`<[u8]>::cmp`). A search compares the same key against many
//! stored ones, so it first turns its key into a [`SearchKey`]: the key with its first 8 bytes
//! as a big-endian word (zero-padded when shorter). A stored key's word is read straight from
//! the page; when the two words differ (random keys almost always do on the first compare)
//! their order is the keys' order, with no `memcmp` call.
//!
//! Why a word comparison is exact: let `i` be the first byte where the padded words differ.
//! Both keys have real bytes there (the order of those bytes is the keys' order), or one key
//! has ended (its padding 0 is below the other's non-zero byte, and a key that is a proper
//! prefix of another sorts first). Equal words fall back to the full comparison, except for
//! two keys of at most 8 bytes: then the shorter is a prefix of the longer (its padding
//! equals the other's remaining bytes), so their lengths decide.

use std::cmp::Ordering;

use super::layout::{FLAG_KEY_OVERFLOW, OFFSET_BYTES, get_u16, get_u32};

/// A key being searched for, with its first 8 bytes as a big-endian word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SearchKey<'k> {
    bytes: &'k [u8],
    word: u64,
}

impl<'k> SearchKey<'k> {
    pub(crate) fn new(bytes: &'k [u8]) -> Self {
        Self {
            bytes,
            word: padded_word(bytes),
        }
    }

    /// Order of `stored` (a key whose first 8 bytes, zero-padded, are `stored_word`)
    /// against this key.
    #[inline]
    fn order_of(&self, stored: &[u8], stored_word: u64) -> Ordering {
        if stored_word != self.word {
            return stored_word.cmp(&self.word);
        }
        if stored.len() <= 8 && self.bytes.len() <= 8 {
            return stored.len().cmp(&self.bytes.len());
        }
        stored.cmp(self.bytes)
    }
}

/// The first 8 bytes of `bytes` as a big-endian word, zero-padded.
#[inline]
fn padded_word(bytes: &[u8]) -> u64 {
    if let Some(first) = bytes.first_chunk::<8>() {
        return u64::from_be_bytes(*first);
    }
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_be_bytes(word)
}

/// Byte-wise order of two keys (as `<[u8]>::cmp`), by the word comparison when it decides.
#[inline]
pub(crate) fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    SearchKey::new(b).order_of(a, padded_word(a))
}

/// Compares the inline key of entry `index` of a node (offset table at `table`, key at
/// `key_at` in the entry) with `key`; `None` for an overflow key or bytes out of range (the
/// caller then takes the general path, which reports damage).
#[inline]
pub(crate) fn inline_key_cmp(
    bytes: &[u8],
    table: usize,
    index: usize,
    key_at: usize,
    key: &SearchKey<'_>,
) -> Option<Ordering> {
    let start = usize::from(get_u16(bytes, table + index * OFFSET_BYTES)?);
    if *bytes.get(start)? & FLAG_KEY_OVERFLOW != 0 {
        return None;
    }
    let len = get_u32(bytes, start + 4)? as usize;
    let at = start + key_at;
    let stored = bytes.get(at..at + len)?;
    // The word straight from the page when 8 bytes follow the key's start (bytes past a short
    // key are masked off), else from the key itself.
    let word = match bytes.get(at..at + 8) {
        Some(chunk) if len < 8 => {
            let raw = u64::from_be_bytes(chunk.try_into().ok()?);
            raw & !(u64::MAX.checked_shr(8 * len as u32).unwrap_or(0))
        }
        _ => padded_word(stored),
    };
    Some(key.order_of(stored, word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn short_key() -> impl Strategy<Value = Vec<u8>> {
        // Small alphabets and lengths around 8 make prefixes, padding zeros and equal words
        // common.
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()],
            0..13,
        )
    }

    proptest! {
        #[test]
        fn word_order_is_byte_order(a in short_key(), b in short_key()) {
            prop_assert_eq!(compare_keys(&a, &b), a.as_slice().cmp(&b));
        }

        #[test]
        fn keys_read_from_a_page_order_like_bytes(
            stored in short_key(),
            key in short_key(),
            tail in prop::collection::vec(any::<u8>(), 0..10),
        ) {
            // A one-entry node: offset table at 0 pointing at an entry at 2, whose key
            // (length at 4..8 of the entry) starts 8 bytes in; random bytes follow it.
            let mut page = vec![2u8, 0, 0, 0, 0, 0];
            page.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            page.extend_from_slice(&stored);
            page.extend_from_slice(&tail);
            let order = inline_key_cmp(&page, 0, 0, 8, &SearchKey::new(&key));
            prop_assert_eq!(order, Some(stored.as_slice().cmp(&key)));
        }
    }
}
