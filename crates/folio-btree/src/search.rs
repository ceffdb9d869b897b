//! Descending a tree: where a key is in a branch and in a leaf (one binary search for both),
//! stored keys compared and read back from overflow chains, values read and decoded. Every
//! reader (point lookups, ranges, cursors) and writer (`tree_mut`) descends through these.

use std::cmp::Ordering;

use folio_pagestore::{Page, PageId};

use crate::compression::decode;
use crate::node::{BranchView, KeyRef, LeafView, SearchKey, ValueRef, compare_keys};
use crate::overflow::read_chain;
use crate::pages::Pages;
use crate::{Result, Value};

/// Deepest tree accepted while descending: a bound on corrupt (cyclic) pages. A tree of
/// 4 KiB pages holding 2^64 keys is far shallower.
pub(crate) const DEPTH_MAX: usize = 64;

/// Compares a stored key with `key`, loading it from overflow if needed.
pub(crate) fn compare_key(pages: Pages<'_>, stored: KeyRef<'_>, key: &[u8]) -> Result<Ordering> {
    Ok(match stored {
        KeyRef::Inline(bytes) => compare_keys(bytes, key),
        KeyRef::Overflow { first, len } => compare_keys(&read_chain(pages, first, len)?, key),
    })
}

/// The full bytes of a stored key.
pub(crate) fn key_bytes(pages: Pages<'_>, stored: KeyRef<'_>) -> Result<Vec<u8>> {
    match stored {
        KeyRef::Inline(bytes) => Ok(bytes.to_vec()),
        KeyRef::Overflow { first, len } => read_chain(pages, first, len),
    }
}

/// The child of a branch (its payload) to descend into for `key`: the number of separators
/// `<= key`.
pub(crate) fn child_for(
    pages: Pages<'_>,
    page: &[u8],
    id: PageId,
    key: &[u8],
) -> Result<(usize, PageId)> {
    let view = BranchView::new(page, id)?;
    let search = SearchKey::new(key);
    // Separators are strictly increasing: one equal to `key` is the last one `<= key`.
    let child = match binary_search(view.len(), |at| match view.inline_key_cmp(at, &search) {
        Some(order) => Ok(order),
        None => compare_key(pages, view.key(at)?, key),
    })? {
        Ok(equal) => equal + 1,
        Err(greater) => greater,
    };
    Ok((child, view.child(child)?))
}

/// Binary search in a leaf: `Ok(index)` of `key`, or `Err(insertion point)`.
pub(crate) fn search_leaf(
    pages: Pages<'_>,
    view: &LeafView<'_>,
    key: &[u8],
) -> Result<Result<usize, usize>> {
    let search = SearchKey::new(key);
    binary_search(view.len(), |at| match view.inline_key_cmp(at, &search) {
        Some(order) => Ok(order),
        None => compare_key(pages, view.entry(at)?.0, key),
    })
}

/// Binary search over `len` entries sorted by key, `order(i)` comparing entry `i` with the
/// key sought: `Ok(index)` of an equal entry, or `Err(number of entries less than it)`.
fn binary_search(
    len: usize,
    mut order: impl FnMut(usize) -> Result<Ordering>,
) -> Result<Result<usize, usize>> {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = usize::midpoint(low, high);
        match order(mid)? {
            Ordering::Less => low = mid + 1,
            Ordering::Greater => high = mid,
            Ordering::Equal => return Ok(Ok(mid)),
        }
    }
    Ok(Err(low))
}

/// The value of entry `index` of a leaf: borrowed from the page when it is stored there as
/// written, else in a buffer ([`read_value`]). A page borrowed from the data file's memory
/// map is only valid while its snapshot lives, and a value may outlive it: such a value is
/// copied (a few hundred bytes, beside the `pread` and page copy the map saved).
pub(crate) fn value_of(
    pages: Pages<'_>,
    page: &Page,
    view: &LeafView<'_>,
    index: usize,
) -> Result<Value> {
    Ok(match view.entry(index)?.1 {
        ValueRef::Inline {
            range,
            compressed: false,
        } => plain_value(page, range),
        value => Value::owned(read_value(pages, page, view.id(), &value)?),
    })
}

/// The value stored as written at `range` of `page`: borrowed from the page, or copied when
/// the page is mapped (see [`value_of`]).
pub(crate) fn plain_value(page: &Page, range: std::ops::Range<usize>) -> Value {
    if page.is_mapped() {
        Value::owned(page[range].to_vec())
    } else {
        Value::in_page(page.clone(), range)
    }
}

/// A leaf's value as the application wrote it, in a buffer: copied from the leaf (`page`,
/// page `leaf`), read from its overflow chain, and decoded when it is a compression frame.
pub(crate) fn read_value(
    pages: Pages<'_>,
    page: &[u8],
    leaf: PageId,
    value: &ValueRef,
) -> Result<Vec<u8>> {
    match value {
        ValueRef::Inline {
            range,
            compressed: true,
        } => decode(&page[range.clone()], leaf),
        ValueRef::Inline {
            range,
            compressed: false,
        } => Ok(page[range.clone()].to_vec()),
        ValueRef::Overflow {
            first,
            len,
            compressed,
        } => {
            let stored = read_chain(pages, *first, *len as usize)?;
            if *compressed {
                decode(&stored, leaf)
            } else {
                Ok(stored)
            }
        }
    }
}
