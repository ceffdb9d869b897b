//! [`BTree`]: a read-only view of one tree at one root, shareable by many threads.

use std::ops::{Bound, RangeBounds};

use folio_pagestore::{PageId, PageStore, PageWriter};

use crate::iter::{Cursor, Direction, Range, owned_bounds};
use crate::node::{LeafView, NodeKind, node_kind};
use crate::pages::Pages;
use crate::search::{DEPTH_MAX, child_for, search_leaf, value_of};
use crate::{Result, Value, error::corrupt};

/// A read-only view of a tree at `root` (`None`: empty). Pages of a committed root never
/// change, so the view is a consistent snapshot for as long as the caller keeps the pages
/// from being reused (the page store's reader horizon). A view of a tree being changed
/// ([`crate::BTreeMut::view`]) borrows it, and also reads the pages its transaction wrote.
#[derive(Debug, Clone)]
pub struct BTree<'a> {
    store: PageStore,
    own: Option<&'a PageWriter>,
    root: Option<PageId>,
}

impl BTree<'static> {
    /// The committed tree at `root` in `store`.
    pub fn new(store: PageStore, root: Option<PageId>) -> Self {
        Self {
            store,
            own: None,
            root,
        }
    }
}

impl BTree<'_> {
    /// [`BTree::get`] on the committed tree at `root` in `store`, without making a view (a
    /// view holds a clone of the store: on a hot read path its reference count is a write
    /// every reader thread shares).
    pub fn get_at(store: &PageStore, root: Option<PageId>, key: &[u8]) -> Result<Option<Value>> {
        get_in(Pages::new(store, None), root, key)
    }
}

/// The value of `key` in the tree at `root`, reading `pages`.
fn get_in(pages: Pages<'_>, root: Option<PageId>, key: &[u8]) -> Result<Option<Value>> {
    let Some(mut id) = root else {
        return Ok(None);
    };
    for _ in 0..DEPTH_MAX {
        let page = pages.read(id)?;
        match node_kind(&page) {
            Some(NodeKind::Branch) => {
                id = child_for(pages, &page, id, key)?.1;
            }
            Some(NodeKind::Leaf) => {
                let view = LeafView::new(&page, id)?;
                return match search_leaf(pages, &view, key)? {
                    Ok(index) => Ok(Some(value_of(pages, &page, &view, index)?)),
                    Err(_) => Ok(None),
                };
            }
            None => return Err(corrupt(id, "not a tree node")),
        }
    }
    Err(corrupt(id, "tree deeper than any valid tree"))
}

impl<'a> BTree<'a> {
    /// The tree at `root` as the transaction of `writer` sees it.
    pub(crate) fn with_writer(writer: &'a PageWriter, root: Option<PageId>) -> Self {
        Self {
            store: writer.store().clone(),
            own: Some(writer),
            root,
        }
    }

    pub(crate) fn pages(&self) -> Pages<'_> {
        Pages::new(&self.store, self.own)
    }

    /// The root page, `None` for an empty tree.
    pub fn root(&self) -> Option<PageId> {
        self.root
    }

    /// The page store.
    pub fn store(&self) -> &PageStore {
        &self.store
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        get_in(self.pages(), self.root, key)
    }

    /// True when `key` is present (its value is not read).
    pub fn contains_key(&self, key: &[u8]) -> Result<bool> {
        let Some(mut id) = self.root else {
            return Ok(false);
        };
        let pages = self.pages();
        for _ in 0..DEPTH_MAX {
            let page = pages.read(id)?;
            match node_kind(&page) {
                Some(NodeKind::Branch) => id = child_for(pages, &page, id, key)?.1,
                Some(NodeKind::Leaf) => {
                    return Ok(search_leaf(pages, &LeafView::new(&page, id)?, key)?.is_ok());
                }
                None => return Err(corrupt(id, "not a tree node")),
            }
        }
        Err(corrupt(id, "tree deeper than any valid tree"))
    }

    /// Entries in `range`, in ascending key order. Keys may be given as anything that
    /// views as bytes: `tree.range(b"a".as_slice()..b"m".as_slice())`, `tree.range(start_vec..)`.
    pub fn range<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Range<'a> {
        Range::new(self.clone(), owned_bounds(&range), Direction::Forward)
    }

    /// Entries in `range`, in descending key order.
    pub fn range_rev<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Range<'a> {
        Range::new(self.clone(), owned_bounds(&range), Direction::Reverse)
    }

    /// A lending cursor over `range`, ascending: the fastest scan (see [`Cursor`]).
    pub fn cursor<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Cursor<'a> {
        Cursor::new(self.clone(), owned_bounds(&range), Direction::Forward)
    }

    /// A lending cursor over every entry, ascending.
    pub fn cursor_all(&self) -> Cursor<'a> {
        self.cursor::<[u8], std::ops::RangeFull>(..)
    }

    /// A lending cursor over `range`, descending.
    pub fn cursor_rev<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Cursor<'a> {
        Cursor::new(self.clone(), owned_bounds(&range), Direction::Reverse)
    }

    /// Every entry, descending.
    pub fn iter_rev(&self) -> Range<'a> {
        self.range_rev::<[u8], std::ops::RangeFull>(..)
    }

    /// Every entry, ascending.
    #[expect(
        clippy::iter_without_into_iter,
        reason = "items are Results read from pages; `for x in &tree` would hide the error handling"
    )]
    pub fn iter(&self) -> Range<'a> {
        self.range::<[u8], std::ops::RangeFull>(..)
    }

    /// Entries whose key starts with `prefix`, ascending.
    pub fn prefix(&self, prefix: &[u8]) -> Range<'a> {
        Range::new(self.clone(), prefix_bounds(prefix), Direction::Forward)
    }

    /// Entries whose key starts with `prefix`, descending.
    pub fn prefix_rev(&self, prefix: &[u8]) -> Range<'a> {
        Range::new(self.clone(), prefix_bounds(prefix), Direction::Reverse)
    }

    /// Entries whose key starts with `prefix` and is greater than `after`, ascending: the
    /// next page of a prefix scan whose previous page ended at key `after`.
    pub fn prefix_after(&self, prefix: &[u8], after: &[u8]) -> Range<'a> {
        let (start, end) = prefix_bounds(prefix);
        let start = if after >= prefix {
            Bound::Excluded(after.to_vec())
        } else {
            start
        };
        Range::new(self.clone(), (start, end), Direction::Forward)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(Vec<u8>, Value)>> {
        self.iter().next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(Vec<u8>, Value)>> {
        self.iter_rev().next().transpose()
    }

    /// Entries in the tree, by walking it (column families keep a count instead).
    pub fn count(&self) -> Result<u64> {
        let mut count = 0;
        for entry in self.iter() {
            entry?;
            count += 1;
        }
        Ok(count)
    }
}

/// The bounds of the keys starting with `prefix` (what [`BTree::prefix`] scans).
pub fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    (
        Bound::Included(prefix.to_vec()),
        prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded),
    )
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
