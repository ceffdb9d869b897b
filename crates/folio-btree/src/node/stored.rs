//! Keys and values as stored: inline bytes or an overflow chain.

use folio_pagestore::PageId;

use crate::Result;

/// A value (or a key) as a node stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored {
    /// The bytes, in the node.
    Inline(Vec<u8>),
    /// `len` bytes in the overflow chain starting at `first`.
    Overflow { first: PageId, len: u32 },
}

impl Stored {
    /// Bytes this takes in a node.
    pub(crate) fn node_bytes(&self) -> usize {
        match self {
            Stored::Inline(bytes) => bytes.len(),
            Stored::Overflow { .. } => super::layout::OVERFLOW_REF_BYTES,
        }
    }

    /// The length of the stored value.
    pub(crate) fn len(&self) -> usize {
        match self {
            Stored::Inline(bytes) => bytes.len(),
            Stored::Overflow { len, .. } => *len as usize,
        }
    }
}

/// Loads a key kept in an overflow chain (decoding needs full keys to compare).
pub(crate) type KeyLoader<'a> = dyn Fn(PageId, usize) -> Result<Vec<u8>> + 'a;
