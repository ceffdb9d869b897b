//! Branch nodes: `count` separator keys and `count + 1` children. Child 0 holds keys below
//! separator 0; child `i + 1` holds keys at or above separator `i` (and below `i + 1`).

use folio_pagestore::PageId;

use super::compare::SearchKey;
use super::layout::{
    BRANCH_CHILD_AT, BRANCH_ENTRY_HEADER_BYTES, BRANCH_HEADER_BYTES, FIRST_CHILD_AT,
    FLAG_KEY_OVERFLOW, KIND_BRANCH, KeyRef, OFFSET_BYTES, get_u16, get_u32, get_u64, put_u32,
    put_u64,
};
use super::leaf::StoredRef;
use crate::Result;
use crate::error::corrupt;

/// Reads a branch page (its payload) in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BranchView<'p> {
    bytes: &'p [u8],
    id: PageId,
    count: usize,
}

impl<'p> BranchView<'p> {
    pub(crate) fn new(bytes: &'p [u8], id: PageId) -> Result<Self> {
        if bytes.first() != Some(&KIND_BRANCH) {
            return Err(corrupt(id, "expected a branch"));
        }
        let count = get_u16(bytes, 2).ok_or_else(|| corrupt(id, "header cut off"))? as usize;
        if BRANCH_HEADER_BYTES + count * OFFSET_BYTES > bytes.len() {
            return Err(corrupt(id, "key count exceeds the page"));
        }
        Ok(Self { bytes, id, count })
    }

    /// Separator keys.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Child `index` in `0 ..= len()`.
    pub(crate) fn child(&self, index: usize) -> Result<PageId> {
        let at = if index == 0 {
            FIRST_CHILD_AT
        } else {
            self.entry_start(index - 1)? + BRANCH_CHILD_AT
        };
        get_u64(self.bytes, at)
            .map(PageId)
            .ok_or_else(|| corrupt(self.id, "child pointer cut off"))
    }

    fn entry_start(&self, index: usize) -> Result<usize> {
        let offset = get_u16(self.bytes, BRANCH_HEADER_BYTES + index * OFFSET_BYTES)
            .ok_or_else(|| corrupt(self.id, "offset table cut off"))? as usize;
        if offset + BRANCH_ENTRY_HEADER_BYTES > self.bytes.len() {
            return Err(corrupt(self.id, "entry offset past the page"));
        }
        Ok(offset)
    }

    /// Compares separator `index` with `key` when it is stored inline; `None` otherwise (see
    /// [`super::LeafView::inline_key_cmp`]).
    #[inline]
    pub(crate) fn inline_key_cmp(
        &self,
        index: usize,
        key: &SearchKey<'_>,
    ) -> Option<std::cmp::Ordering> {
        super::compare::inline_key_cmp(
            self.bytes,
            BRANCH_HEADER_BYTES,
            index,
            BRANCH_ENTRY_HEADER_BYTES,
            key,
        )
    }

    /// Separator `index`.
    pub(crate) fn key(&self, index: usize) -> Result<KeyRef<'p>> {
        let start = self.entry_start(index)?;
        let bad = || corrupt(self.id, format!("separator {index} runs past the page"));
        let flags = self.bytes[start];
        let len = get_u32(self.bytes, start + 4).ok_or_else(bad)? as usize;
        let at = start + BRANCH_ENTRY_HEADER_BYTES;
        if flags & FLAG_KEY_OVERFLOW != 0 {
            let first = PageId(get_u64(self.bytes, at).ok_or_else(bad)?);
            Ok(KeyRef::Overflow { first, len })
        } else {
            Ok(KeyRef::Inline(
                self.bytes.get(at..at + len).ok_or_else(bad)?,
            ))
        }
    }
}

/// Bytes of a branch entry for `key` (its slot excluded).
pub(crate) fn branch_entry_len(key: StoredRef<'_>) -> usize {
    BRANCH_ENTRY_HEADER_BYTES + key.node_bytes()
}

/// Encodes a branch entry (separator `key`, `child` to its right) into `out`.
pub(crate) fn write_branch_entry(out: &mut [u8], key: StoredRef<'_>, child: PageId) {
    let flags = if matches!(key, StoredRef::Overflow { .. }) {
        FLAG_KEY_OVERFLOW
    } else {
        0
    };
    out[..4].copy_from_slice(&[flags, 0, 0, 0]);
    put_u32(out, 4, key.len() as u32);
    put_u64(out, BRANCH_CHILD_AT, child.0);
    let at = BRANCH_ENTRY_HEADER_BYTES;
    match key {
        StoredRef::Inline(bytes) => out[at..at + bytes.len()].copy_from_slice(bytes),
        StoredRef::Overflow { first, .. } => put_u64(out, at, first.0),
    }
}

/// The separator key of an encoded branch entry.
pub(crate) fn branch_entry_key(entry: &[u8]) -> KeyRef<'_> {
    let len = get_u32(entry, 4).unwrap_or(0) as usize;
    let at = BRANCH_ENTRY_HEADER_BYTES;
    if entry[0] & FLAG_KEY_OVERFLOW != 0 {
        KeyRef::Overflow {
            first: PageId(get_u64(entry, at).unwrap_or(u64::MAX)),
            len,
        }
    } else {
        KeyRef::Inline(&entry[at..at + len])
    }
}
