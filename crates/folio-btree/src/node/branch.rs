//! Branch nodes: `count` separator keys and `count + 1` children. Child 0 holds keys below
//! separator 0; child `i + 1` holds keys at or above separator `i` (and below `i + 1`).

use folio_pagestore::{Page, PageBuf, PageId};

use super::layout::{
    BRANCH_ENTRY_HEADER_BYTES, BRANCH_HEADER_BYTES, FLAG_KEY_OVERFLOW, HEADER_BYTES, KIND_BRANCH,
    OFFSET_BYTES, OVERFLOW_REF_BYTES, get_u16, get_u32, get_u64,
};
use super::leaf::KeyRef;
use super::stored::KeyLoader;
use crate::Result;
use crate::error::corrupt;

/// Reads a branch page in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BranchView<'p> {
    bytes: &'p [u8],
    id: PageId,
    count: usize,
}

impl<'p> BranchView<'p> {
    pub(crate) fn new(page: &'p Page, id: PageId) -> Result<Self> {
        let bytes: &[u8] = page;
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
            HEADER_BYTES
        } else {
            self.entry_start(index - 1)? + 8
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

/// A separator and the child to its right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BranchEntry {
    pub(crate) key: Vec<u8>,
    pub(crate) key_overflow: Option<PageId>,
    pub(crate) child: PageId,
}

impl BranchEntry {
    pub(crate) fn node_bytes(&self) -> usize {
        let key = if self.key_overflow.is_some() {
            OVERFLOW_REF_BYTES
        } else {
            self.key.len()
        };
        OFFSET_BYTES + BRANCH_ENTRY_HEADER_BYTES + key
    }
}

/// A branch being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BranchNode {
    pub(crate) first_child: PageId,
    pub(crate) entries: Vec<BranchEntry>,
}

impl BranchNode {
    pub(crate) fn encoded_len(&self) -> usize {
        BRANCH_HEADER_BYTES
            + self
                .entries
                .iter()
                .map(BranchEntry::node_bytes)
                .sum::<usize>()
    }

    /// Child `index` in `0 ..= entries.len()`.
    pub(crate) fn child(&self, index: usize) -> PageId {
        if index == 0 {
            self.first_child
        } else {
            self.entries[index - 1].child
        }
    }

    pub(crate) fn set_child(&mut self, index: usize, child: PageId) {
        if index == 0 {
            self.first_child = child;
        } else {
            self.entries[index - 1].child = child;
        }
    }

    pub(crate) fn decode(page: &Page, id: PageId, load_key: &KeyLoader<'_>) -> Result<Self> {
        let view = BranchView::new(page, id)?;
        let mut entries = Vec::with_capacity(view.len());
        for index in 0..view.len() {
            let (key, key_overflow) = match view.key(index)? {
                KeyRef::Inline(bytes) => (bytes.to_vec(), None),
                KeyRef::Overflow { first, len } => (load_key(first, len)?, Some(first)),
            };
            entries.push(BranchEntry {
                key,
                key_overflow,
                child: view.child(index + 1)?,
            });
        }
        Ok(Self {
            first_child: view.child(0)?,
            entries,
        })
    }

    pub(crate) fn encode(&self, page_size: usize) -> PageBuf {
        let mut buf = PageBuf::zeroed(page_size);
        let payload = buf.payload_mut();
        assert!(
            self.encoded_len() <= payload.len(),
            "branch does not fit its page"
        );
        payload[0] = KIND_BRANCH;
        payload[2..4].copy_from_slice(&(self.entries.len() as u16).to_le_bytes());
        payload[8..16].copy_from_slice(&self.first_child.0.to_le_bytes());
        let mut at = BRANCH_HEADER_BYTES + self.entries.len() * OFFSET_BYTES;
        for (index, entry) in self.entries.iter().enumerate() {
            let slot = BRANCH_HEADER_BYTES + index * OFFSET_BYTES;
            payload[slot..slot + 2].copy_from_slice(&(at as u16).to_le_bytes());
            payload[at] = if entry.key_overflow.is_some() {
                FLAG_KEY_OVERFLOW
            } else {
                0
            };
            payload[at + 4..at + 8].copy_from_slice(&(entry.key.len() as u32).to_le_bytes());
            payload[at + 8..at + 16].copy_from_slice(&entry.child.0.to_le_bytes());
            at += BRANCH_ENTRY_HEADER_BYTES;
            if let Some(first) = entry.key_overflow {
                payload[at..at + 8].copy_from_slice(&first.0.to_le_bytes());
                at += OVERFLOW_REF_BYTES;
            } else {
                payload[at..at + entry.key.len()].copy_from_slice(&entry.key);
                at += entry.key.len();
            }
        }
        buf
    }
}
