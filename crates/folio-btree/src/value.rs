//! [`Value`]: a value read from a tree, borrowed from the cached page when it is inline.

use std::fmt;
use std::ops::{Deref, Range};

use folio_pagestore::Page;

/// A value. Inline values point into the cached page (no copy); overflow values, and values
/// of pages read through the data file's memory map, are in a buffer of their own.
/// Dereferences to `[u8]`.
#[derive(Clone)]
pub struct Value {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    InPage { page: Page, range: Range<usize> },
    Owned(Vec<u8>),
}

impl Value {
    pub(crate) fn in_page(page: Page, range: Range<usize>) -> Self {
        Self {
            repr: Repr::InPage { page, range },
        }
    }

    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        Self {
            repr: Repr::Owned(bytes),
        }
    }

    /// True when the value was returned without copying (it lives in a cached page).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.repr, Repr::InPage { .. })
    }
}

impl From<Vec<u8>> for Value {
    /// A value held in its own buffer (a write buffered outside any tree).
    fn from(bytes: Vec<u8>) -> Self {
        Self::owned(bytes)
    }
}

impl Deref for Value {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.repr {
            Repr::InPage { page, range } => &page[range.clone()],
            Repr::Owned(bytes) => bytes,
        }
    }
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value({} bytes)", self.len())
    }
}

impl PartialEq<[u8]> for Value {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}
