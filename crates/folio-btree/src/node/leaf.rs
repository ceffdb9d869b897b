//! Leaf nodes: a zero-copy view for reads and an owned node for edits.

use folio_pagestore::{Page, PageBuf, PageId};

use super::layout::{
    FLAG_KEY_OVERFLOW, FLAG_VALUE_OVERFLOW, HEADER_BYTES, KIND_LEAF, LEAF_ENTRY_HEADER_BYTES,
    OFFSET_BYTES, OVERFLOW_REF_BYTES, get_u16, get_u32, get_u64,
};
use super::stored::{KeyLoader, Stored};
use crate::Result;
use crate::error::corrupt;

/// A key as a node holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRef<'p> {
    Inline(&'p [u8]),
    Overflow { first: PageId, len: usize },
}

/// Where an entry's value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueRef {
    /// Byte range within the page payload.
    Inline(std::ops::Range<usize>),
    Overflow {
        first: PageId,
        len: u32,
    },
}

/// Reads a leaf page in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeafView<'p> {
    bytes: &'p [u8],
    id: PageId,
    count: usize,
}

impl<'p> LeafView<'p> {
    pub(crate) fn new(page: &'p Page, id: PageId) -> Result<Self> {
        let bytes: &[u8] = page;
        if bytes.first() != Some(&KIND_LEAF) {
            return Err(corrupt(id, "expected a leaf"));
        }
        let count = get_u16(bytes, 2).ok_or_else(|| corrupt(id, "header cut off"))? as usize;
        if HEADER_BYTES + count * OFFSET_BYTES > bytes.len() {
            return Err(corrupt(id, "entry count exceeds the page"));
        }
        Ok(Self { bytes, id, count })
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    fn entry_start(&self, index: usize) -> Result<usize> {
        let offset = get_u16(self.bytes, HEADER_BYTES + index * OFFSET_BYTES)
            .ok_or_else(|| corrupt(self.id, "offset table cut off"))? as usize;
        if offset + LEAF_ENTRY_HEADER_BYTES > self.bytes.len() {
            return Err(corrupt(self.id, "entry offset past the page"));
        }
        Ok(offset)
    }

    /// The byte just past entry `index`.
    pub(crate) fn entry_end(&self, index: usize) -> Result<usize> {
        let start = self.entry_start(index)?;
        let bytes = self.bytes;
        let bad = || corrupt(self.id, format!("entry {index} runs past the page"));
        let flags = bytes[start];
        let key_len = get_u32(bytes, start + 4).ok_or_else(bad)? as usize;
        let value_len = get_u32(bytes, start + 8).ok_or_else(bad)? as usize;
        let key = if flags & FLAG_KEY_OVERFLOW == 0 {
            key_len
        } else {
            OVERFLOW_REF_BYTES
        };
        let value = if flags & FLAG_VALUE_OVERFLOW == 0 {
            value_len
        } else {
            OVERFLOW_REF_BYTES
        };
        let end = start + LEAF_ENTRY_HEADER_BYTES + key + value;
        if end > bytes.len() {
            return Err(bad());
        }
        Ok(end)
    }

    /// Entry `index`: its key and where its value is.
    pub(crate) fn entry(&self, index: usize) -> Result<(KeyRef<'p>, ValueRef)> {
        let start = self.entry_start(index)?;
        let bytes = self.bytes;
        let bad = || corrupt(self.id, format!("entry {index} runs past the page"));
        let flags = bytes[start];
        let key_len = get_u32(bytes, start + 4).ok_or_else(bad)? as usize;
        let value_len = get_u32(bytes, start + 8).ok_or_else(bad)?;
        let mut at = start + LEAF_ENTRY_HEADER_BYTES;
        let key = if flags & FLAG_KEY_OVERFLOW != 0 {
            let first = PageId(get_u64(bytes, at).ok_or_else(bad)?);
            at += OVERFLOW_REF_BYTES;
            KeyRef::Overflow {
                first,
                len: key_len,
            }
        } else {
            let key = bytes.get(at..at + key_len).ok_or_else(bad)?;
            at += key_len;
            KeyRef::Inline(key)
        };
        let value = if flags & FLAG_VALUE_OVERFLOW != 0 {
            ValueRef::Overflow {
                first: PageId(get_u64(bytes, at).ok_or_else(bad)?),
                len: value_len,
            }
        } else {
            let end = at + value_len as usize;
            if end > bytes.len() {
                return Err(bad());
            }
            ValueRef::Inline(at..end)
        };
        Ok((key, value))
    }
}

/// One entry of an owned leaf. `key` is always the full key (loaded from overflow if needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafEntry {
    pub(crate) key: Vec<u8>,
    /// Where the key's bytes live when it is too long for the node.
    pub(crate) key_overflow: Option<PageId>,
    pub(crate) value: Stored,
}

impl LeafEntry {
    /// Appends the entry's encoded bytes (its offset slot excluded).
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        if self.key_overflow.is_some() {
            flags |= FLAG_KEY_OVERFLOW;
        }
        if matches!(self.value, Stored::Overflow { .. }) {
            flags |= FLAG_VALUE_OVERFLOW;
        }
        out.extend_from_slice(&[flags, 0, 0, 0]);
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.value.len() as u32).to_le_bytes());
        match self.key_overflow {
            Some(first) => out.extend_from_slice(&first.0.to_le_bytes()),
            None => out.extend_from_slice(&self.key),
        }
        match &self.value {
            Stored::Inline(bytes) => out.extend_from_slice(bytes),
            Stored::Overflow { first, .. } => out.extend_from_slice(&first.0.to_le_bytes()),
        }
    }

    /// Bytes this entry takes in a node, its offset slot included.
    pub(crate) fn node_bytes(&self) -> usize {
        let key = if self.key_overflow.is_some() {
            OVERFLOW_REF_BYTES
        } else {
            self.key.len()
        };
        OFFSET_BYTES + LEAF_ENTRY_HEADER_BYTES + key + self.value.node_bytes()
    }
}

/// A leaf being edited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeafNode {
    pub(crate) entries: Vec<LeafEntry>,
}

impl LeafNode {
    /// Bytes the encoded node takes.
    pub(crate) fn encoded_len(&self) -> usize {
        HEADER_BYTES
            + self
                .entries
                .iter()
                .map(LeafEntry::node_bytes)
                .sum::<usize>()
    }

    /// Reads a leaf page into an owned node.
    pub(crate) fn decode(page: &Page, id: PageId, load_key: &KeyLoader<'_>) -> Result<Self> {
        let view = LeafView::new(page, id)?;
        let mut entries = Vec::with_capacity(view.len());
        for index in 0..view.len() {
            let (key, value) = view.entry(index)?;
            let (key, key_overflow) = match key {
                KeyRef::Inline(bytes) => (bytes.to_vec(), None),
                KeyRef::Overflow { first, len } => (load_key(first, len)?, Some(first)),
            };
            let value = match value {
                ValueRef::Inline(range) => Stored::Inline(page[range].to_vec()),
                ValueRef::Overflow { first, len } => Stored::Overflow { first, len },
            };
            entries.push(LeafEntry {
                key,
                key_overflow,
                value,
            });
        }
        Ok(Self { entries })
    }

    /// Encodes into a page of `page_size` bytes (the caller seals it). The node must fit.
    pub(crate) fn encode(&self, page_size: usize) -> PageBuf {
        let mut buf = PageBuf::zeroed(page_size);
        let payload = buf.payload_mut();
        assert!(
            self.encoded_len() <= payload.len(),
            "leaf does not fit its page"
        );
        payload[0] = KIND_LEAF;
        payload[2..4].copy_from_slice(&(self.entries.len() as u16).to_le_bytes());
        let mut at = HEADER_BYTES + self.entries.len() * OFFSET_BYTES;
        let mut bytes = Vec::with_capacity(payload.len());
        for (index, entry) in self.entries.iter().enumerate() {
            let slot = HEADER_BYTES + index * OFFSET_BYTES;
            payload[slot..slot + 2].copy_from_slice(&(at as u16).to_le_bytes());
            bytes.clear();
            entry.encode_into(&mut bytes);
            payload[at..at + bytes.len()].copy_from_slice(&bytes);
            at += bytes.len();
        }
        buf
    }
}

/// Rebuilds a leaf with entry `index` removed (when `remove`) and `insert` (encoded entry
/// bytes) placed at `index`, copying the other entries as byte runs without decoding them.
/// Returns the page and its encoded length, or `None` if the result does not fit.
pub(crate) fn splice_leaf(
    page: &Page,
    id: PageId,
    index: usize,
    remove: bool,
    insert: Option<&[u8]>,
    page_size: usize,
) -> Result<Option<(PageBuf, usize)>> {
    let view = LeafView::new(page, id)?;
    let count = view.len();
    let bytes: &[u8] = page;
    let data_start = HEADER_BYTES + count * OFFSET_BYTES;
    let mut offsets = Vec::with_capacity(count + 1);
    for k in 0..count {
        offsets.push(view.entry_start(k)?);
    }
    let data_end = if count == 0 {
        data_start
    } else {
        view.entry_end(count - 1)?
    };
    offsets.push(data_end);
    // Entries are contiguous and in order (the encoder's invariant); verify before relying on it.
    if offsets[0] != data_start || offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(corrupt(id, "leaf entries are not contiguous"));
    }
    let removed = usize::from(remove);
    let inserted = usize::from(insert.is_some());
    let new_count = count - removed + inserted;
    let new_data_start = HEADER_BYTES + new_count * OFFSET_BYTES;
    let before = &bytes[data_start..offsets[index]];
    let after = &bytes[offsets[index + removed]..data_end];
    let new_entry = insert.unwrap_or(&[]);
    let used = new_data_start + before.len() + new_entry.len() + after.len();
    let mut buf = PageBuf::zeroed(page_size);
    let payload = buf.payload_mut();
    if used > payload.len() {
        return Ok(None);
    }
    payload[0] = KIND_LEAF;
    payload[2..4].copy_from_slice(&(new_count as u16).to_le_bytes());
    let mut slot = HEADER_BYTES;
    let mut put_offset = |payload: &mut [u8], offset: usize| {
        payload[slot..slot + 2].copy_from_slice(&(offset as u16).to_le_bytes());
        slot += OFFSET_BYTES;
    };
    for &offset in &offsets[..index] {
        put_offset(payload, offset - data_start + new_data_start);
    }
    if insert.is_some() {
        put_offset(payload, new_data_start + before.len());
    }
    let shift_from = offsets[index + removed];
    for &offset in &offsets[index + removed..count] {
        put_offset(
            payload,
            offset - shift_from + new_data_start + before.len() + new_entry.len(),
        );
    }
    let mut at = new_data_start;
    for run in [before, new_entry, after] {
        payload[at..at + run.len()].copy_from_slice(run);
        at += run.len();
    }
    Ok(Some((buf, used)))
}
