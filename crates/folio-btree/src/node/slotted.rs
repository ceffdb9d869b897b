//! [`Slotted`]: the offset table and data area that leaves and branches share, edited in
//! place (see `layout.rs` for the bytes).
//!
//! # Invariants (of every page a [`Slotted`] edits)
//! - `table + 2 * count <= data_start <= payload length`;
//! - every offset is at or above `data_start`, and its entry ends within the payload;
//! - the live entries' bytes plus `dead` are at most `payload length - data_start`.
//!
//! [`check_slotted`] verifies them before a page read from the store is edited; pages this
//! module builds keep them by construction. So the free space computed from the header is
//! never larger than the truth, and an edit never overwrites a live entry.

use folio_pagestore::PageId;

use super::layout::{
    BRANCH_CHILD_AT, COUNT_AT, DATA_START_AT, DEAD_AT, FIRST_CHILD_AT, NodeKind, OFFSET_BYTES,
    entry_len, get_u16, get_u64, put_u16, put_u64, table_at,
};
use crate::Result;
use crate::error::corrupt;

/// Entry `index` of a node page of `kind` that keeps the invariants (an owned page).
pub(crate) fn node_entry(bytes: &[u8], kind: NodeKind, index: usize) -> &[u8] {
    let offset = usize::from(get_u16(bytes, table_at(kind) + index * OFFSET_BYTES).unwrap_or(0));
    let len = entry_len(kind, bytes, offset).unwrap_or(0);
    &bytes[offset..offset + len]
}

/// A node page (its payload): read-only over `&[u8]`, editable over `&mut [u8]`.
pub(crate) struct Slotted<B> {
    bytes: B,
    kind: NodeKind,
    table: usize,
}

/// Checks the invariants of a node page of `kind` before it is edited (or its entries are
/// copied into an edited one). One pass over the offset table, reading each entry's header:
/// cheap enough to run on every page a transaction copies.
pub(crate) fn check_slotted(bytes: &[u8], id: PageId, kind: NodeKind) -> Result<()> {
    let bad = |what: &str| corrupt(id, format!("slotted page: {what}"));
    let len = bytes.len();
    let table = table_at(kind);
    if len < table {
        return Err(bad("header cut off"));
    }
    let count = usize::from(u16::from_le_bytes([bytes[COUNT_AT], bytes[COUNT_AT + 1]]));
    let data_start = usize::from(u16::from_le_bytes([
        bytes[DATA_START_AT],
        bytes[DATA_START_AT + 1],
    ]));
    let dead = usize::from(u16::from_le_bytes([bytes[DEAD_AT], bytes[DEAD_AT + 1]]));
    let table_end = table + count * OFFSET_BYTES;
    if table_end > data_start || data_start > len {
        return Err(bad("offset table overlaps the data area"));
    }
    let (header, value_len_at) = match kind {
        NodeKind::Leaf => (super::layout::LEAF_ENTRY_HEADER_BYTES, Some(8)),
        NodeKind::Branch => (super::layout::BRANCH_ENTRY_HEADER_BYTES, None),
    };
    let mut live = 0usize;
    for slot in bytes[table..table_end].chunks_exact(OFFSET_BYTES) {
        let offset = usize::from(u16::from_le_bytes([slot[0], slot[1]]));
        if offset < data_start || offset + header > len {
            return Err(bad("an entry outside the data area"));
        }
        let entry = &bytes[offset..offset + header];
        let flags = entry[0];
        let inline = |at: usize, overflow_flag: u8| -> usize {
            if flags & overflow_flag == 0 {
                u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]])
                    as usize
            } else {
                super::layout::OVERFLOW_REF_BYTES
            }
        };
        let key = inline(4, super::layout::FLAG_KEY_OVERFLOW);
        let value = value_len_at.map_or(0, |at| inline(at, super::layout::FLAG_VALUE_OVERFLOW));
        let entry_len = header + key + value;
        if offset + entry_len > len {
            return Err(bad("an entry runs past the page"));
        }
        live += entry_len;
    }
    if live + dead > len - data_start {
        return Err(bad("entries and dead bytes exceed the data area"));
    }
    Ok(())
}

impl<'a> Slotted<&'a mut [u8]> {
    /// Makes `bytes` an empty node of `kind` (a branch's first child is set separately).
    pub(crate) fn init(bytes: &'a mut [u8], kind: NodeKind) -> Self {
        bytes[..table_at(kind)].fill(0);
        bytes[0] = match kind {
            NodeKind::Leaf => super::layout::KIND_LEAF,
            NodeKind::Branch => super::layout::KIND_BRANCH,
        };
        let len = bytes.len() as u16;
        put_u16(bytes, DATA_START_AT, len);
        Self::new(bytes, kind)
    }
}

impl<B: AsRef<[u8]>> Slotted<B> {
    /// Wraps a page that keeps the invariants (checked, or built here).
    pub(crate) fn new(bytes: B, kind: NodeKind) -> Self {
        Self {
            bytes,
            kind,
            table: table_at(kind),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    pub(crate) fn count(&self) -> usize {
        usize::from(get_u16(self.bytes(), COUNT_AT).unwrap_or(0))
    }

    fn data_start(&self) -> usize {
        usize::from(get_u16(self.bytes(), DATA_START_AT).unwrap_or(0))
    }

    fn dead(&self) -> usize {
        usize::from(get_u16(self.bytes(), DEAD_AT).unwrap_or(0))
    }

    fn table_end(&self) -> usize {
        self.table + self.count() * OFFSET_BYTES
    }

    /// Where entry `index` starts.
    pub(crate) fn offset(&self, index: usize) -> usize {
        usize::from(get_u16(self.bytes(), self.table + index * OFFSET_BYTES).unwrap_or(0))
    }

    /// The bytes of entry `index`.
    pub(crate) fn entry_len(&self, index: usize) -> usize {
        entry_len(self.kind, self.bytes(), self.offset(index)).unwrap_or(0)
    }

    /// The bytes of entry `index`.
    pub(crate) fn entry(&self, index: usize) -> &[u8] {
        let start = self.offset(index);
        &self.bytes()[start..start + self.entry_len(index)]
    }

    /// Bytes an insert can use: the gap between table and data, plus the dead bytes.
    pub(crate) fn free_bytes(&self) -> usize {
        self.data_start() - self.table_end() + self.dead()
    }

    /// Bytes in use: header, table and live entries.
    pub(crate) fn used_bytes(&self) -> usize {
        self.bytes().len() - self.free_bytes()
    }

    /// Bytes the live entries take with their slots.
    pub(crate) fn live_bytes(&self) -> usize {
        self.used_bytes() - self.table
    }

    /// Child `index` in `0 ..= count()` of a branch.
    pub(crate) fn child(&self, index: usize) -> PageId {
        let at = if index == 0 {
            FIRST_CHILD_AT
        } else {
            self.offset(index - 1) + BRANCH_CHILD_AT
        };
        PageId(get_u64(self.bytes(), at).unwrap_or(u64::MAX))
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Slotted<B> {
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        self.bytes.as_mut()
    }

    fn set_count(&mut self, count: usize) {
        put_u16(self.bytes_mut(), COUNT_AT, count as u16);
    }

    fn set_data_start(&mut self, at: usize) {
        put_u16(self.bytes_mut(), DATA_START_AT, at as u16);
    }

    fn set_dead(&mut self, dead: usize) {
        put_u16(self.bytes_mut(), DEAD_AT, dead as u16);
    }

    /// Entry `index`, mutably (its length must not change).
    pub(crate) fn entry_mut(&mut self, index: usize) -> &mut [u8] {
        let start = self.offset(index);
        let len = self.entry_len(index);
        &mut self.bytes_mut()[start..start + len]
    }

    /// Points child `index` of a branch at `child`.
    pub(crate) fn set_child(&mut self, index: usize, child: PageId) {
        let at = if index == 0 {
            FIRST_CHILD_AT
        } else {
            self.offset(index - 1) + BRANCH_CHILD_AT
        };
        put_u64(self.bytes_mut(), at, child.0);
    }

    /// Room for an entry of `len` bytes at position `index`: returns where to write it (the
    /// caller fills exactly `len` bytes there), or `None` when it does not fit even with the
    /// entries packed.
    pub(crate) fn insert(
        &mut self,
        index: usize,
        len: usize,
        scratch: &mut Vec<u8>,
    ) -> Option<usize> {
        let need = len + OFFSET_BYTES;
        if self.free_bytes() < need {
            return None;
        }
        if self.data_start() - self.table_end() < need {
            self.compact(scratch);
        }
        let count = self.count();
        let slot = self.table + index * OFFSET_BYTES;
        let table_end = self.table_end();
        self.bytes_mut()
            .copy_within(slot..table_end, slot + OFFSET_BYTES);
        let start = self.data_start() - len;
        put_u16(self.bytes_mut(), slot, start as u16);
        self.set_count(count + 1);
        self.set_data_start(start);
        Some(start)
    }

    /// Removes entry `index`: its slot closes, its bytes become dead.
    pub(crate) fn remove(&mut self, index: usize) {
        let start = self.offset(index);
        let len = self.entry_len(index);
        let slot = self.table + index * OFFSET_BYTES;
        let table_end = self.table_end();
        self.bytes_mut()
            .copy_within(slot + OFFSET_BYTES..table_end, slot);
        self.set_count(self.count() - 1);
        if start == self.data_start() {
            // The lowest entry: the data area shrinks instead.
            self.set_data_start(start + len);
        } else {
            self.set_dead(self.dead() + len);
        }
    }

    /// Removes entries `from..` (their bytes become dead).
    pub(crate) fn truncate(&mut self, from: usize) {
        let dead: usize = (from..self.count())
            .map(|index| self.entry_len(index))
            .sum();
        self.set_count(from);
        self.set_dead(self.dead() + dead);
    }

    /// Packs the live entries at the end of the page, in offset order: the free space
    /// becomes one gap and `dead` zero.
    pub(crate) fn compact(&mut self, scratch: &mut Vec<u8>) {
        let len = self.bytes().len();
        // Only the part below `at` that is written is read back: no need to clear it.
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        let mut at = len;
        for index in 0..self.count() {
            let start = self.offset(index);
            let entry_len = self.entry_len(index);
            at -= entry_len;
            scratch[at..at + entry_len].copy_from_slice(&self.bytes()[start..start + entry_len]);
            let slot = self.table + index * OFFSET_BYTES;
            put_u16(self.bytes_mut(), slot, at as u16);
        }
        self.bytes_mut()[at..].copy_from_slice(&scratch[at..len]);
        self.set_data_start(at);
        self.set_dead(0);
    }

    /// Appends a copy of `entry` after the last one; false when it does not fit.
    pub(crate) fn push(&mut self, entry: &[u8], scratch: &mut Vec<u8>) -> bool {
        match self.insert(self.count(), entry.len(), scratch) {
            Some(start) => {
                self.bytes_mut()[start..start + entry.len()].copy_from_slice(entry);
                true
            }
            None => false,
        }
    }

    /// Moves entries `from..` to the end of `other` (same kind), in order; `other` must have
    /// room for them.
    pub(crate) fn move_tail<O: AsRef<[u8]> + AsMut<[u8]>>(
        &mut self,
        from: usize,
        other: &mut Slotted<O>,
        scratch: &mut Vec<u8>,
    ) {
        for index in from..self.count() {
            assert!(
                other.push(self.entry(index), scratch),
                "the caller checked that the entries fit"
            );
        }
        self.truncate(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::layout::{LEAF_ENTRY_HEADER_BYTES, put_u32};

    /// Writes a leaf entry with an inline key and value of `value_len` bytes.
    fn leaf_entry(key: &[u8], value_len: usize) -> Vec<u8> {
        let mut entry = vec![0u8; LEAF_ENTRY_HEADER_BYTES + key.len() + value_len];
        put_u32(&mut entry, 4, key.len() as u32);
        put_u32(&mut entry, 8, value_len as u32);
        entry[LEAF_ENTRY_HEADER_BYTES..LEAF_ENTRY_HEADER_BYTES + key.len()].copy_from_slice(key);
        entry
    }

    fn keys(page: &Slotted<&mut [u8]>) -> Vec<Vec<u8>> {
        (0..page.count())
            .map(|index| {
                let entry = page.entry(index);
                let key_len = u32::from_le_bytes(entry[4..8].try_into().unwrap()) as usize;
                entry[LEAF_ENTRY_HEADER_BYTES..LEAF_ENTRY_HEADER_BYTES + key_len].to_vec()
            })
            .collect()
    }

    #[test]
    fn inserts_removes_and_compaction_keep_every_entry_and_the_invariants() {
        let mut bytes = vec![0u8; 512];
        let mut scratch = Vec::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut rng = 7u64;
        for round in 0..2_000u32 {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mut page = if round == 0 {
                Slotted::init(&mut bytes, NodeKind::Leaf)
            } else {
                check_slotted(&bytes, PageId(1), NodeKind::Leaf).unwrap();
                Slotted::new(&mut bytes[..], NodeKind::Leaf)
            };
            if rng.is_multiple_of(3) && !model.is_empty() {
                let index = (rng >> 8) as usize % model.len();
                page.remove(index);
                model.remove(index);
            } else {
                let key = format!("{:05}", rng >> 40).into_bytes();
                let index = model.partition_point(|k| k < &key);
                let entry = leaf_entry(&key, (rng >> 20) as usize % 40);
                if let Some(at) = page.insert(index, entry.len(), &mut scratch) {
                    page.bytes_mut()[at..at + entry.len()].copy_from_slice(&entry);
                    model.insert(index, key);
                } else {
                    assert!(page.free_bytes() < entry.len() + OFFSET_BYTES);
                }
            }
            assert_eq!(keys(&page), model, "round {round}");
        }
    }

    #[test]
    fn moving_the_tail_splits_a_page_in_order() {
        let (mut left, mut right) = (vec![0u8; 256], vec![0u8; 256]);
        let mut scratch = Vec::new();
        let mut page = Slotted::init(&mut left, NodeKind::Leaf);
        for key in ["a", "b", "c", "d", "e"] {
            assert!(page.push(&leaf_entry(key.as_bytes(), 10), &mut scratch));
        }
        let mut other = Slotted::init(&mut right, NodeKind::Leaf);
        page.move_tail(3, &mut other, &mut scratch);
        assert_eq!(keys(&page), [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(keys(&other), [b"d".to_vec(), b"e".to_vec()]);
        check_slotted(&left, PageId(1), NodeKind::Leaf).unwrap();
        check_slotted(&right, PageId(2), NodeKind::Leaf).unwrap();
    }

    #[test]
    fn pages_breaking_the_invariants_are_refused() {
        let mut bytes = vec![0u8; 256];
        let mut scratch = Vec::new();
        let mut page = Slotted::init(&mut bytes, NodeKind::Leaf);
        assert!(page.push(&leaf_entry(b"k", 4), &mut scratch));
        let good = bytes.clone();
        for (at, value) in [
            (COUNT_AT, 200u16),
            (DATA_START_AT, 4),
            (DATA_START_AT, 1000),
            (DEAD_AT, 250),
            (8, 255),
        ] {
            let mut bad = good.clone();
            put_u16(&mut bad, at, value);
            assert!(
                check_slotted(&bad, PageId(1), NodeKind::Leaf).is_err(),
                "{at} = {value}"
            );
        }
    }
}
