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
        for (index, entry) in self.entries.iter().enumerate() {
            let slot = HEADER_BYTES + index * OFFSET_BYTES;
            payload[slot..slot + 2].copy_from_slice(&(at as u16).to_le_bytes());
            let mut flags = 0;
            if entry.key_overflow.is_some() {
                flags |= FLAG_KEY_OVERFLOW;
            }
            if matches!(entry.value, Stored::Overflow { .. }) {
                flags |= FLAG_VALUE_OVERFLOW;
            }
            payload[at] = flags;
            payload[at + 4..at + 8].copy_from_slice(&(entry.key.len() as u32).to_le_bytes());
            payload[at + 8..at + 12].copy_from_slice(&(entry.value.len() as u32).to_le_bytes());
            at += LEAF_ENTRY_HEADER_BYTES;
            if let Some(first) = entry.key_overflow {
                payload[at..at + 8].copy_from_slice(&first.0.to_le_bytes());
                at += OVERFLOW_REF_BYTES;
            } else {
                payload[at..at + entry.key.len()].copy_from_slice(&entry.key);
                at += entry.key.len();
            }
            match &entry.value {
                Stored::Inline(bytes) => {
                    payload[at..at + bytes.len()].copy_from_slice(bytes);
                    at += bytes.len();
                }
                Stored::Overflow { first, .. } => {
                    payload[at..at + 8].copy_from_slice(&first.0.to_le_bytes());
                    at += OVERFLOW_REF_BYTES;
                }
            }
        }
        buf
    }
}
