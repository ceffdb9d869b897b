//! [`Tree`]: one column family as a read transaction (or a write transaction's view) sees
//! it, and [`Range`], its iterator.
//!
//! # Lifetimes
//! A tree from [`crate::ReadTransaction::tree`] and every range made from it keep the
//! transaction's snapshot registered: the pages they can reach are never reused while any
//! of them lives, even after the transaction itself is dropped, so they keep reading exactly
//! that snapshot. A tree from [`crate::WriteTransaction::view`] borrows the transaction
//! instead: the compiler keeps it from outliving the transaction or from living across a
//! change to it. Neither keeps the database open: after [`crate::Database::close`] they
//! return [`Error::Closed`].

use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::sync::Arc;

use crate::snapshot::ReadPin;
use crate::{Error, Result, Value};

/// A column family at one snapshot: point reads, ranges both ways, prefix scans. Cheap to
/// clone (clones share the snapshot).
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("users")?;
/// let mut txn = db.begin_write(&["users"])?;
/// for (key, value) in [("ada", "1815"), ("alan", "1912"), ("grace", "1906")] {
///     txn.put("users", key.as_bytes(), value.as_bytes())?;
/// }
/// txn.commit()?;
///
/// let users = db.begin_read().tree("users")?; // keeps its snapshot
/// assert_eq!(&*users.get(b"alan")?.unwrap(), b"1912");
/// let names: Vec<Vec<u8>> = users.prefix(b"a").map(|e| e.map(|(k, _)| k)).collect::<folio::Result<_>>()?;
/// assert_eq!(names, [b"ada".to_vec(), b"alan".to_vec()]);
/// let last = users.iter().next_back().transpose()?.unwrap();
/// assert_eq!(last.0, b"grace");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Tree<'txn> {
    btree: folio_btree::BTree<'txn>,
    len: u64,
    /// The snapshot registration of a read transaction's tree; `None` for a write
    /// transaction's view, which borrows the transaction instead.
    pin: Option<Arc<ReadPin>>,
    _txn: PhantomData<&'txn ()>,
}

impl<'txn> Tree<'txn> {
    pub(crate) fn new(tree: folio_btree::BTree<'txn>, len: u64, pin: Option<Arc<ReadPin>>) -> Self {
        Self {
            btree: tree,
            len,
            pin,
            _txn: PhantomData,
        }
    }

    /// The tree below, for the database's own checks.
    pub(crate) fn btree(&self) -> &folio_btree::BTree<'txn> {
        &self.btree
    }

    /// Entries in the column family at this snapshot.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the column family is empty at this snapshot.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// [`Error::Closed`] once the database is closed (also for an empty tree, which reads no
    /// page that could say so).
    fn check_open(&self) -> Result<()> {
        match &self.pin {
            Some(pin) => pin.holder().check_open(),
            None => Ok(()),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.check_open()?;
        Ok(self.btree.get(key)?)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Entries in `range`, ascending (and from the top with `next_back`). Keys may be
    /// anything that views as bytes: `tree.range(b"a".as_slice()..b"m".as_slice())`.
    pub fn range<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Range<'txn> {
        self.wrap(self.btree.range(range))
    }

    /// Entries in `range`, descending.
    pub fn range_rev<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Range<'txn> {
        self.wrap(self.btree.range_rev(range))
    }

    /// Every entry, ascending.
    #[expect(
        clippy::iter_without_into_iter,
        reason = "items are Results read from pages; `for x in &tree` would hide the error handling"
    )]
    pub fn iter(&self) -> Range<'txn> {
        self.wrap(self.btree.iter())
    }

    /// A lending cursor over `range`, ascending: each key and value is borrowed from the
    /// page it is on, so a scan allocates and copies nothing per entry. The fastest way to
    /// scan.
    ///
    /// ```
    /// # fn main() -> folio::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = folio::Database::open(dir.path())?;
    /// # db.create_cf("t")?;
    /// # let mut txn = db.begin_write(&["t"])?;
    /// # for i in 0u32..10 { txn.put("t", &i.to_be_bytes(), b"xy")?; }
    /// # txn.commit()?;
    /// let tree = db.begin_read().tree("t")?;
    /// let mut cursor = tree.cursor(3u32.to_be_bytes().as_slice()..);
    /// let mut bytes = 0;
    /// while let Some(entry) = cursor.next() {
    ///     let (_key, value) = entry?;
    ///     bytes += value.len();
    /// }
    /// assert_eq!(bytes, 7 * 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cursor<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Cursor<'txn> {
        self.wrap_cursor(self.btree.cursor(range))
    }

    /// A lending cursor over `range`, descending.
    pub fn cursor_rev<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(&self, range: R) -> Cursor<'txn> {
        self.wrap_cursor(self.btree.cursor_rev(range))
    }

    /// Every entry, descending.
    pub fn iter_rev(&self) -> Range<'txn> {
        self.wrap(self.btree.iter_rev())
    }

    /// Entries whose key starts with `prefix`, ascending.
    pub fn prefix(&self, prefix: &[u8]) -> Range<'txn> {
        self.wrap(self.btree.prefix(prefix))
    }

    /// Entries whose key starts with `prefix`, descending.
    pub fn prefix_rev(&self, prefix: &[u8]) -> Range<'txn> {
        self.wrap(self.btree.prefix_rev(prefix))
    }

    /// Entries whose key starts with `prefix` and is greater than `after`, ascending: the
    /// next page of a prefix scan whose previous page ended at `after`.
    pub fn prefix_after(&self, prefix: &[u8], after: &[u8]) -> Range<'txn> {
        self.wrap(self.btree.prefix_after(prefix, after))
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(Vec<u8>, Value)>> {
        self.iter().next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(Vec<u8>, Value)>> {
        self.iter_rev().next().transpose()
    }

    /// Reads every page of the tree (verifying each checksum) and checks its structure:
    /// keys in order within and across pages, balanced depth, overflow chains whole, no page
    /// reached twice. Returns what it counted; the first problem found is an error.
    pub fn verify(&self) -> Result<TreeReport> {
        let report = folio_btree::check_tree(self.btree.store(), self.btree.root())?;
        Ok(TreeReport {
            entries: report.entries,
            leaves: report.leaves,
            branches: report.branches,
            overflow_pages: report.overflow_pages,
            depth: report.depth,
            page_ids: report.pages.iter().map(|page| page.0).collect(),
            compressed_values: report.compressed_values,
            value_bytes: report.value_bytes,
            stored_value_bytes: report.stored_value_bytes,
        })
    }

    fn wrap_cursor(&self, cursor: folio_btree::Cursor<'txn>) -> Cursor<'txn> {
        Cursor {
            entries: cursor,
            pin: self.pin.clone(),
            closed_reported: false,
            _txn: PhantomData,
        }
    }

    fn wrap(&self, range: folio_btree::Range<'txn>) -> Range<'txn> {
        Range {
            entries: Entries::Tree(range),
            pin: self.pin.clone(),
            closed_reported: false,
            _txn: PhantomData,
        }
    }
}

/// What [`Tree::verify`] counted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeReport {
    /// Entries.
    pub entries: u64,
    /// Leaf pages.
    pub leaves: u64,
    /// Branch pages.
    pub branches: u64,
    /// Overflow pages (long keys and values).
    pub overflow_pages: u64,
    /// Levels (0 for an empty tree).
    pub depth: usize,
    /// Every page the tree reaches, ascending (for diagnostics and tools).
    pub page_ids: Vec<u64>,
    /// Values stored compressed.
    pub compressed_values: u64,
    /// Bytes of all values as written.
    pub value_bytes: u64,
    /// Bytes of all values as stored (compressed ones as their frames).
    pub stored_value_bytes: u64,
}

impl TreeReport {
    /// Bytes of values as written per byte stored (1.0 without compression).
    pub fn compression_ratio(&self) -> f64 {
        if self.stored_value_bytes == 0 {
            1.0
        } else {
            self.value_bytes as f64 / self.stored_value_bytes as f64
        }
    }
}

/// Entries of a [`Tree`] in a key range, from either end: `next` and `next_back` meet in
/// the middle without yielding an entry twice. Yields an error once and then stops if a page
/// cannot be read.
#[derive(Debug)]
pub struct Range<'txn> {
    entries: Entries<'txn>,
    pin: Option<Arc<ReadPin>>,
    /// `Error::Closed` was yielded (once; then the range ends).
    closed_reported: bool,
    _txn: PhantomData<&'txn ()>,
}

/// Where a [`Range`]'s entries come from.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a tree's range is the common case and stays inline; the merged one is boxed"
)]
enum Entries<'txn> {
    /// A tree.
    Tree(folio_btree::Range<'txn>),
    /// A concurrent transaction's snapshot merged with its buffered writes (the snapshot's
    /// range inside checks for a close itself).
    Merged(Box<crate::concurrent::Merged<'txn>>),
}

impl<'txn> Range<'txn> {
    /// A concurrent transaction's merged range.
    pub(crate) fn merged(merged: crate::concurrent::Merged<'txn>) -> Self {
        Range {
            entries: Entries::Merged(Box::new(merged)),
            pin: None,
            closed_reported: false,
            _txn: PhantomData,
        }
    }
}

impl Range<'_> {
    /// Maps an entry's error, and ends the range with [`Error::Closed`] once the database
    /// is closed.
    fn yield_entry(
        &mut self,
        entry: Option<folio_btree::Result<(Vec<u8>, Value)>>,
    ) -> Option<Result<(Vec<u8>, Value)>> {
        if let Some(pin) = &self.pin
            && pin.holder().is_closed()
        {
            let first = !std::mem::replace(&mut self.closed_reported, true);
            return first.then_some(Err(Error::Closed));
        }
        entry.map(|entry| entry.map_err(Error::from))
    }
}

impl Iterator for Range<'_> {
    type Item = Result<(Vec<u8>, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match &mut self.entries {
            Entries::Tree(entries) => entries.next(),
            Entries::Merged(merged) => return merged.next_entry(),
        };
        self.yield_entry(entry)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let entry = match &mut self.entries {
            Entries::Tree(entries) => entries.next_back(),
            Entries::Merged(merged) => return merged.next_back_entry(),
        };
        self.yield_entry(entry)
    }
}

impl std::iter::FusedIterator for Range<'_> {}

/// A lending cursor over a [`Tree`] ([`Tree::cursor`]): keys and values borrowed from the
/// page they are on until the next call. Ends with one error if a page cannot be read (or
/// with [`Error::Closed`] once the database is closed).
#[derive(Debug)]
pub struct Cursor<'txn> {
    entries: folio_btree::Cursor<'txn>,
    pin: Option<Arc<ReadPin>>,
    closed_reported: bool,
    _txn: PhantomData<&'txn ()>,
}

impl Cursor<'_> {
    /// The next entry, borrowed until the next call; `None` at the end.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending cursor: the entry borrows the cursor, which `Iterator` cannot express"
    )]
    pub fn next(&mut self) -> Option<Result<(&[u8], &[u8])>> {
        if let Some(pin) = &self.pin
            && pin.holder().is_closed()
        {
            let first = !std::mem::replace(&mut self.closed_reported, true);
            return first.then_some(Err(Error::Closed));
        }
        self.entries.next().map(|entry| entry.map_err(Error::from))
    }
}
