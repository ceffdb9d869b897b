//! Node page layout (all integers little-endian), in the page payload:
//!
//! ```text
//! common header (8 bytes)
//!   0  kind      u8    1 = leaf, 2 = branch, 3 = overflow
//!   1  flags     u8    zero
//!   2  count     u16   entries (leaf) or keys (branch)
//!   4  reserved  u32   zero
//! leaf:    8 offsets [u16; count]   then the entries they point at
//! branch:  8 first_child u64, 16 offsets [u16; count], then the entries
//!
//! leaf entry                          branch entry
//!   0  flags u8 (1: key overflow,       0  flags u8 (1: key overflow)
//!               2: value overflow)      1  reserved [u8; 3]
//!   1  reserved [u8; 3]                 4  key_len u32
//!   4  key_len u32                      8  child u64 (keys >= this key)
//!   8  value_len u32                   16  key: bytes, or first overflow page u64
//!  12  key: bytes, or first overflow page u64
//!  ..  value: bytes, or first overflow page u64
//! ```
//! Entries are sorted by key (bytewise); offsets are in entry order.

use folio_pagestore::Page;

/// Longest key accepted (keys longer than a fraction of a page go to overflow pages).
pub const KEY_BYTES_MAX: usize = 16 << 20;
/// Longest value accepted.
pub const VALUE_BYTES_MAX: usize = u32::MAX as usize;

pub(crate) const HEADER_BYTES: usize = 8;
pub(crate) const BRANCH_HEADER_BYTES: usize = 16;
pub(crate) const OFFSET_BYTES: usize = 2;
pub(crate) const LEAF_ENTRY_HEADER_BYTES: usize = 12;
pub(crate) const BRANCH_ENTRY_HEADER_BYTES: usize = 16;
pub(crate) const OVERFLOW_REF_BYTES: usize = 8;
pub(crate) const FLAG_KEY_OVERFLOW: u8 = 1;
pub(crate) const FLAG_VALUE_OVERFLOW: u8 = 2;

/// The kinds of pages a tree is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Leaf,
    Branch,
}

pub(crate) const KIND_LEAF: u8 = 1;
pub(crate) const KIND_BRANCH: u8 = 2;
pub(crate) const KIND_OVERFLOW: u8 = 3;

/// The kind of a node page, if it is one.
pub(crate) fn node_kind(page: &Page) -> Option<NodeKind> {
    match page.first() {
        Some(&KIND_LEAF) => Some(NodeKind::Leaf),
        Some(&KIND_BRANCH) => Some(NodeKind::Branch),
        _ => None,
    }
}

/// Keys up to this many bytes are stored in the node; longer ones in overflow pages. An
/// eighth of the payload keeps at least 7 keys in every branch.
pub(crate) fn key_inline_max(payload: usize) -> usize {
    payload / 8
}

/// Values up to this many bytes are stored in the leaf; longer ones in overflow pages. With
/// inline keys of at most an eighth, two entries always fit in one leaf, so a split always
/// produces two non-empty halves.
pub(crate) fn value_inline_max(payload: usize) -> usize {
    payload / 4
}

pub(crate) fn get_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn get_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn get_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

const _: () = assert!(LEAF_ENTRY_HEADER_BYTES + 2 * OVERFLOW_REF_BYTES < 64);
