//! Node page layout (all integers little-endian), in the page payload:
//!
//! ```text
//! common header (8 bytes)
//!   0  kind        u8    1 = leaf, 2 = branch, 3 = overflow
//!   1  flags       u8    zero
//!   2  count       u16   entries (leaf) or separator keys (branch)
//!   4  data_start  u16   lowest byte used by an entry (the payload length when empty)
//!   6  dead        u16   bytes at or above data_start that no entry uses any more
//! leaf:    8 offsets [u16; count]
//! branch:  8 first_child u64, 16 offsets [u16; count]
//! then free space, then (from data_start to the end of the payload) the entries, in any
//! order, with the dead bytes of removed entries between them
//!
//! leaf entry                          branch entry
//!   0  flags u8 (1: key overflow,       0  flags u8 (1: key overflow)
//!               2: value overflow,      1  reserved [u8; 3]
//!               4: value compressed)
//!   1  reserved [u8; 3]                 4  key_len u32
//!   4  key_len u32                      8  child u64 (keys >= this key)
//!   8  value_len u32                   16  key: bytes, or first overflow page u64
//!  12  key: bytes, or first overflow page u64
//!  ..  value: bytes, or first overflow page u64
//! ```
//! Offsets are in key order (bytewise); the entries they point at may lie anywhere in the
//! data area. A slotted page is edited in place: an insert shifts the offsets after it by
//! one slot and writes the entry at the bottom of the data area; a removal closes its slot
//! and counts its bytes as dead; when the free space between the offsets and the data area
//! runs out, the live entries are packed again (see `slotted.rs`).

use folio_pagestore::PageId;

/// Longest key accepted (keys longer than a fraction of a page go to overflow pages).
pub const KEY_BYTES_MAX: usize = 16 << 20;
/// Longest value accepted.
pub const VALUE_BYTES_MAX: usize = u32::MAX as usize;

pub(crate) const HEADER_BYTES: usize = 8;
pub(crate) const COUNT_AT: usize = 2;
pub(crate) const DATA_START_AT: usize = 4;
pub(crate) const DEAD_AT: usize = 6;
pub(crate) const FIRST_CHILD_AT: usize = 8;
pub(crate) const BRANCH_HEADER_BYTES: usize = 16;
pub(crate) const OFFSET_BYTES: usize = 2;
pub(crate) const LEAF_ENTRY_HEADER_BYTES: usize = 12;
pub(crate) const BRANCH_ENTRY_HEADER_BYTES: usize = 16;
/// Where a branch entry's child pointer is, from the entry's start.
pub(crate) const BRANCH_CHILD_AT: usize = 8;
pub(crate) const OVERFLOW_REF_BYTES: usize = 8;
pub(crate) const FLAG_KEY_OVERFLOW: u8 = 1;
pub(crate) const FLAG_VALUE_OVERFLOW: u8 = 2;
/// The value (inline or in its chain) is a compression frame (`compression.rs`).
pub(crate) const FLAG_VALUE_COMPRESSED: u8 = 4;

/// The kinds of pages a tree is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Leaf,
    Branch,
}

pub(crate) const KIND_LEAF: u8 = 1;
pub(crate) const KIND_BRANCH: u8 = 2;
pub(crate) const KIND_OVERFLOW: u8 = 3;

/// The kind of a node page (its payload), if it is one.
pub(crate) fn node_kind(payload: &[u8]) -> Option<NodeKind> {
    match payload.first() {
        Some(&KIND_LEAF) => Some(NodeKind::Leaf),
        Some(&KIND_BRANCH) => Some(NodeKind::Branch),
        _ => None,
    }
}

/// Where a node's offset table starts.
pub(crate) fn table_at(kind: NodeKind) -> usize {
    match kind {
        NodeKind::Leaf => HEADER_BYTES,
        NodeKind::Branch => BRANCH_HEADER_BYTES,
    }
}

/// Keys up to this many bytes are stored in the node; longer ones in overflow pages. An
/// eighth of the payload keeps at least 7 keys in every branch.
pub(crate) fn key_inline_max(payload: usize) -> usize {
    payload / 8
}

/// Whether a value of `value_len` bytes is stored in the leaf beside a key taking
/// `key_bytes` there (its length inline, or an overflow reference); longer ones go to
/// overflow pages. An entry (header, offset, key, value) may take at most half the leaf's
/// room, so any two fit in one leaf: a full leaf plus one entry always splits into two halves
/// that fit (the left takes entries while they fit, so it holds more than the room less one
/// entry, and the right at most two entries' worth). With short keys that is a value of
/// about 2 KB in a 4 KiB page (it was a quarter page, so 1-2 KB values took an overflow
/// page each).
pub(crate) fn value_fits_inline(payload: usize, key_bytes: usize, value_len: usize) -> bool {
    let half_room = (payload - HEADER_BYTES) / 2;
    LEAF_ENTRY_HEADER_BYTES + OFFSET_BYTES + key_bytes + value_len <= half_room
}

pub(crate) use folio_io::le::{get_u16, get_u32, get_u64, put_u16, put_u32, put_u64};

/// The bytes of an entry at `start` of a page of `kind`, read from its header, if they lie
/// within `bytes`. Inline keys and values take their length; overflow ones a page id.
pub(crate) fn entry_len(kind: NodeKind, bytes: &[u8], start: usize) -> Option<usize> {
    let flags = *bytes.get(start)?;
    let key_len = get_u32(bytes, start + 4)? as usize;
    let key = if flags & FLAG_KEY_OVERFLOW == 0 {
        key_len
    } else {
        OVERFLOW_REF_BYTES
    };
    let len = match kind {
        NodeKind::Leaf => {
            let value_len = get_u32(bytes, start + 8)? as usize;
            let value = if flags & FLAG_VALUE_OVERFLOW == 0 {
                value_len
            } else {
                OVERFLOW_REF_BYTES
            };
            LEAF_ENTRY_HEADER_BYTES
                .checked_add(key)?
                .checked_add(value)?
        }
        NodeKind::Branch => BRANCH_ENTRY_HEADER_BYTES.checked_add(key)?,
    };
    (start.checked_add(len)? <= bytes.len()).then_some(len)
}

/// A key as a node stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRef<'p> {
    Inline(&'p [u8]),
    Overflow { first: PageId, len: usize },
}

const _: () = assert!(LEAF_ENTRY_HEADER_BYTES + 2 * OVERFLOW_REF_BYTES < 64);
const _: () = assert!(BRANCH_HEADER_BYTES == FIRST_CHILD_AT + 8);
