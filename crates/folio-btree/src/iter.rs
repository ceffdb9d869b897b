//! [`Range`]: iteration over a key range, ascending or descending.

#![allow(
    clippy::cast_possible_wrap,
    reason = "entry indices are below 2^16 (a page holds at most 65536 bytes)"
)]

use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};

use folio_pagestore::{Page, PageId};

use crate::node::{BranchView, KeyRef, LeafView, NodeKind, ValueRef, compare_keys, node_kind};
use crate::overflow::read_chain;
use crate::search::{
    DEPTH_MAX, child_for, key_bytes, plain_value, read_value, search_leaf, value_of,
};
use crate::tree::BTree;
use crate::{Result, Value, error::corrupt};

/// A key range with owned bounds.
pub type OwnedBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The bounds of `range`, owned.
pub fn owned_bounds<K: AsRef<[u8]> + ?Sized, R: RangeBounds<K>>(range: &R) -> OwnedBounds {
    let own = |bound: Bound<&K>| match bound {
        Bound::Included(key) => Bound::Included(key.as_ref().to_vec()),
        Bound::Excluded(key) => Bound::Excluded(key.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (own(range.start_bound()), own(range.end_bound()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Forward,
    Reverse,
}

impl Direction {
    /// True when a key whose order against the previous key is `order` lies further on in
    /// this direction.
    fn moves_on(self, order: Ordering) -> bool {
        match self {
            Direction::Forward => order == Ordering::Less,
            Direction::Reverse => order == Ordering::Greater,
        }
    }
}

/// An iterator over `(key, value)` pairs of a [`BTree`] in a key range, from either end
/// (`next` and `next_back` meet in the middle without yielding an entry twice). Holds the
/// pages of its current paths (a consistent snapshot as long as the tree's root is). Yields
/// an error once and then stops if a page cannot be read.
#[derive(Debug)]
pub struct Range<'a> {
    /// Walks in the range's own direction.
    front: Walker<'a>,
    /// Walks from the other end, for `next_back`.
    back: Walker<'a>,
    done: bool,
}

impl<'a> Range<'a> {
    pub(crate) fn new(tree: BTree<'a>, bounds: OwnedBounds, direction: Direction) -> Self {
        let opposite = match direction {
            Direction::Forward => Direction::Reverse,
            Direction::Reverse => Direction::Forward,
        };
        Self {
            front: Walker::new(tree.clone(), bounds.clone(), direction),
            back: Walker::new(tree, bounds, opposite),
            done: false,
        }
    }

    /// Takes the next entry of `cursor`, ending the range where it meets what `other` yielded.
    fn step(
        cursor: &mut Walker,
        other: &mut Walker,
        done: &mut bool,
    ) -> Option<Result<(Vec<u8>, Value)>> {
        if *done {
            return None;
        }
        match cursor.advance() {
            Ok(Some((key, value))) => {
                let other_last = match other.last_yielded() {
                    Ok(last) => last,
                    Err(error) => {
                        *done = true;
                        return Some(Err(error));
                    }
                };
                let met = other_last.is_some_and(|last| match cursor.direction {
                    Direction::Forward => key.as_slice() >= last,
                    Direction::Reverse => key.as_slice() <= last,
                });
                if met {
                    *done = true;
                    return None;
                }
                Some(Ok((key, value)))
            }
            Ok(None) => {
                *done = true;
                None
            }
            Err(error) => {
                *done = true;
                Some(Err(error))
            }
        }
    }
}

impl Iterator for Range<'_> {
    type Item = Result<(Vec<u8>, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        Self::step(&mut self.front, &mut self.back, &mut self.done)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        Self::step(&mut self.back, &mut self.front, &mut self.done)
    }
}

impl std::iter::FusedIterator for Range<'_> {}

/// Where a [`Walker`] is in its walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not yet descended to its first leaf.
    NotStarted,
    Walking,
    /// Past the last entry in range (or stopped by an error).
    Done,
}

/// One direction of a [`Range`] or a [`Cursor`]: a path from the root to the current leaf.
#[derive(Debug)]
struct Walker<'a> {
    tree: BTree<'a>,
    bounds: OwnedBounds,
    direction: Direction,
    /// Branch pages on the path, with the child index taken at each.
    path: Vec<(Page, PageId, usize)>,
    /// The current leaf and the next index to yield (may be out of range).
    leaf: Option<(Page, PageId, isize)>,
    /// Entries in the current leaf, read (and checked against the page) when the walk
    /// entered it, so each step does not parse the leaf's header again.
    leaf_len: usize,
    phase: Phase,
    /// The last key yielded: keys must move strictly in the iteration direction, which also
    /// guarantees a damaged tree (a child listed twice, a cycle) cannot make us loop. Kept
    /// up to date only when the walk leaves a leaf (within a leaf the previous key is the
    /// neighbouring entry), so yielding an entry copies nothing.
    last_key: Option<Vec<u8>>,
    /// Entries yielded from the current leaf (the previous one is then in this leaf).
    yielded_in_leaf: bool,
    /// Where the previous entry's key lies in the current leaf, when inline (then
    /// `yielded_in_leaf` is true).
    previous_in_leaf: Option<std::ops::Range<usize>>,
    /// Every entry of the current leaf from the walk's position on lies within the range's
    /// far bound: its outermost key does, and keys are checked to move on as they are
    /// yielded. Lets [`Walker::advance_inline`] skip the bound check.
    leaf_inside_bound: bool,
    /// A long (overflow) key read back, for comparisons.
    key_buf: Vec<u8>,
}

impl<'a> Walker<'a> {
    fn new(tree: BTree<'a>, bounds: OwnedBounds, direction: Direction) -> Self {
        Self {
            tree,
            bounds,
            direction,
            path: Vec::new(),
            leaf: None,
            leaf_len: 0,
            phase: Phase::NotStarted,
            last_key: None,
            yielded_in_leaf: false,
            previous_in_leaf: None,
            leaf_inside_bound: false,
            key_buf: Vec::new(),
        }
    }

    /// Makes `page` (leaf `id`, `len` entries, read by [`LeafView::new`]) the current leaf,
    /// positioned at `index`.
    fn enter_leaf(&mut self, page: Page, id: PageId, len: usize, index: isize) {
        let outermost = match self.direction {
            Direction::Forward => len.checked_sub(1),
            Direction::Reverse => Some(0),
        };
        // An overflow key or a damaged entry answers false: the general path then checks
        // (and reports) each entry.
        self.leaf_inside_bound = match self.direction {
            Direction::Forward => matches!(self.bounds.1, Bound::Unbounded),
            Direction::Reverse => matches!(self.bounds.0, Bound::Unbounded),
        } || outermost.is_some_and(|outermost| {
            match LeafView::checked_before(&page, id, len).entry(outermost) {
                Ok((KeyRef::Inline(key), _)) => in_bounds(&self.bounds, self.direction, key),
                _ => false,
            }
        });
        self.leaf_len = len;
        self.leaf = Some((page, id, index));
    }

    /// Descends from the root to the leaf where iteration starts.
    fn seek(&mut self) -> Result<()> {
        let Some(mut id) = self.tree.root() else {
            self.phase = Phase::Done;
            return Ok(());
        };
        let tree = self.tree.clone();
        let pages = tree.pages();
        let start = match self.direction {
            Direction::Forward => self.bounds.0.clone(),
            Direction::Reverse => self.bounds.1.clone(),
        };
        for _ in 0..DEPTH_MAX {
            let page = pages.read(id)?;
            match node_kind(&page) {
                Some(NodeKind::Branch) => {
                    let (index, child) = match (&start, self.direction) {
                        (Bound::Unbounded, Direction::Forward) => {
                            (0, BranchView::new(&page, id)?.child(0)?)
                        }
                        (Bound::Unbounded, Direction::Reverse) => {
                            let view = BranchView::new(&page, id)?;
                            (view.len(), view.child(view.len())?)
                        }
                        (Bound::Included(key) | Bound::Excluded(key), _) => {
                            child_for(pages, &page, id, key)?
                        }
                    };
                    self.path.push((page, id, index));
                    id = child;
                }
                Some(NodeKind::Leaf) => {
                    let view = LeafView::new(&page, id)?;
                    let len = view.len() as isize;
                    let index = match (&start, self.direction) {
                        (Bound::Unbounded, Direction::Forward) => 0,
                        (Bound::Unbounded, Direction::Reverse) => len - 1,
                        (Bound::Included(key), Direction::Forward) => {
                            match search_leaf(pages, &view, key)? {
                                Ok(i) | Err(i) => i as isize,
                            }
                        }
                        (Bound::Excluded(key), Direction::Forward) => {
                            match search_leaf(pages, &view, key)? {
                                Ok(i) => i as isize + 1,
                                Err(i) => i as isize,
                            }
                        }
                        (Bound::Included(key), Direction::Reverse) => {
                            match search_leaf(pages, &view, key)? {
                                Ok(i) => i as isize,
                                Err(i) => i as isize - 1,
                            }
                        }
                        (Bound::Excluded(key), Direction::Reverse) => {
                            match search_leaf(pages, &view, key)? {
                                Ok(i) | Err(i) => i as isize - 1,
                            }
                        }
                    };
                    let len = view.len();
                    self.enter_leaf(page, id, len, index);
                    return Ok(());
                }
                None => return Err(corrupt(id, "not a tree node")),
            }
        }
        Err(corrupt(id, "tree deeper than any valid tree"))
    }

    /// Moves to the next leaf in the iteration direction; false at the end of the tree.
    fn next_leaf(&mut self) -> Result<bool> {
        self.remember_last_key()?;
        let tree = self.tree.clone();
        let pages = tree.pages();
        // Climb until a branch has a further child in our direction.
        loop {
            let Some((page, id, index)) = self.path.pop() else {
                return Ok(false);
            };
            let view = BranchView::new(&page, id)?;
            let next = match self.direction {
                Direction::Forward if index < view.len() => Some(index + 1),
                Direction::Reverse if index > 0 => Some(index - 1),
                _ => None,
            };
            if let Some(next) = next {
                let mut child = view.child(next)?;
                self.path.push((page, id, next));
                // Descend to the outermost leaf of that child.
                for _ in 0..DEPTH_MAX {
                    let page = pages.read(child)?;
                    match node_kind(&page) {
                        Some(NodeKind::Branch) => {
                            let view = BranchView::new(&page, child)?;
                            let index = match self.direction {
                                Direction::Forward => 0,
                                Direction::Reverse => view.len(),
                            };
                            let grandchild = view.child(index)?;
                            if self.path.len() >= DEPTH_MAX {
                                // A branch naming one of its ancestors: the path would grow
                                // at every step.
                                return Err(corrupt(child, "tree deeper than any valid tree"));
                            }
                            self.path.push((page, child, index));
                            child = grandchild;
                        }
                        Some(NodeKind::Leaf) => {
                            let len = LeafView::new(&page, child)?.len();
                            if len == 0 {
                                // Only a root leaf is ever empty. Refusing others also bounds
                                // a walk of a damaged tree: every leaf it enters yields a key
                                // greater than the last, so it cannot go round forever.
                                return Err(corrupt(child, "empty non-root leaf"));
                            }
                            let index = match self.direction {
                                Direction::Forward => 0,
                                Direction::Reverse => len as isize - 1,
                            };
                            self.enter_leaf(page, child, len, index);
                            return Ok(true);
                        }
                        None => return Err(corrupt(child, "not a tree node")),
                    }
                }
                return Err(corrupt(child, "tree deeper than any valid tree"));
            }
        }
    }

    /// Copies the last key yielded from the current leaf into `last_key` (when the walk
    /// leaves the leaf, and when the range's other end needs it).
    fn remember_last_key(&mut self) -> Result<()> {
        if !self.yielded_in_leaf {
            return Ok(());
        }
        let Some((page, id, next)) = &self.leaf else {
            return Ok(());
        };
        let previous = *next - self.step();
        let view = LeafView::new(page, *id)?;
        match view.entry(previous as usize)?.0 {
            // Into the buffer the previous leaf's key used: no allocation per leaf.
            KeyRef::Inline(key) => {
                let last = self.last_key.get_or_insert_with(Vec::new);
                last.clear();
                last.extend_from_slice(key);
            }
            stored @ KeyRef::Overflow { .. } => {
                self.last_key = Some(key_bytes(self.tree.pages(), stored)?);
            }
        }
        self.yielded_in_leaf = false;
        self.previous_in_leaf = None;
        Ok(())
    }

    fn step(&self) -> isize {
        if self.direction == Direction::Forward {
            1
        } else {
            -1
        }
    }

    /// The next entry in the common case, which a scan meets at almost every step: in the
    /// current leaf after an entry already yielded from it, key and value inline and not
    /// compressed, inside the bounds, after the previous key. Says where its key and value
    /// lie in the leaf. `None` leaves the walk unchanged, for [`Walker::advance_position`]
    /// to take the step (and report any damage).
    #[inline]
    fn advance_inline(&mut self) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        let step = self.step();
        let direction = self.direction;
        let previous = self.previous_in_leaf.as_ref()?;
        let (page, id, index) = self.leaf.as_mut()?;
        let position = usize::try_from(*index)
            .ok()
            .filter(|&position| position < self.leaf_len)?;
        let (key, value) =
            LeafView::checked_before(page, *id, self.leaf_len).plain_entry(position)?;
        let bytes: &[u8] = page;
        let key_bytes = &bytes[key.clone()];
        if !self.leaf_inside_bound && !in_bounds(&self.bounds, self.direction, key_bytes) {
            return None;
        }
        if !direction.moves_on(compare_keys(bytes.get(previous.clone())?, key_bytes)) {
            return None;
        }
        *index += step;
        self.previous_in_leaf = Some(key.clone());
        Some((key, value))
    }

    /// Moves to the next entry in range and says where it is in the current leaf (whose page
    /// is `self.leaf`), checking bounds and that keys move strictly on; nothing is copied
    /// unless a key is long (overflow, read into `key_buf`).
    fn advance_position(&mut self) -> Result<Option<Found>> {
        if self.phase == Phase::NotStarted {
            self.phase = Phase::Walking;
            if bounds_nonempty(&self.bounds) {
                self.seek()?;
            } else {
                self.phase = Phase::Done;
            }
        }
        while self.phase == Phase::Walking {
            let Some((page, id, index)) = &self.leaf else {
                self.phase = Phase::Done;
                break;
            };
            let (id, index) = (*id, *index);
            let view = LeafView::checked_before(page, id, self.leaf_len);
            if index < 0 || index >= view.len() as isize {
                if !self.next_leaf()? {
                    self.phase = Phase::Done;
                }
                continue;
            }
            let position = index as usize;
            let pages = self.tree.pages();
            let (stored_key, value) = view.entry(position)?;
            let (key, span): (&[u8], Span) = match stored_key {
                KeyRef::Inline(key) => (key, Span::Page(offset_in(page, key))),
                KeyRef::Overflow { first, len } => {
                    self.key_buf = read_chain(pages, first, len)?;
                    (&self.key_buf, Span::Buffer)
                }
            };
            if !in_bounds(&self.bounds, self.direction, key) {
                self.phase = Phase::Done;
                break;
            }
            let previous_order = match (&self.previous_in_leaf, self.yielded_in_leaf) {
                // The previous entry of this leaf, straight from the page.
                (Some(previous), true) => Some(page[previous.clone()].cmp(key)),
                (None, true) => {
                    let previous = (index - self.step()) as usize;
                    Some(
                        key_bytes(pages, view.entry(previous)?.0)?
                            .as_slice()
                            .cmp(key),
                    )
                }
                (_, false) => self.last_key.as_deref().map(|last| compare_keys(last, key)),
            };
            let moved_on = previous_order.is_none_or(|order| self.direction.moves_on(order));
            if !moved_on {
                return Err(corrupt(id, "keys out of order (a damaged leaf or branch)"));
            }
            self.previous_in_leaf = match &span {
                Span::Page(range) => Some(range.clone()),
                Span::Buffer => None,
            };
            self.yielded_in_leaf = true;
            let step = self.step();
            if let Some((_, _, next)) = &mut self.leaf {
                *next = index + step;
            }
            return Ok(Some(Found {
                position,
                key: span,
                value,
            }));
        }
        Ok(None)
    }

    /// The next entry, owned.
    fn advance(&mut self) -> Result<Option<(Vec<u8>, Value)>> {
        if let Some((key, value)) = self.advance_inline() {
            let (page, _, _) = self
                .leaf
                .as_ref()
                .expect("a step stays in the current leaf");
            return Ok(Some((page[key].to_vec(), plain_value(page, value))));
        }
        let Some(found) = self.advance_position()? else {
            return Ok(None);
        };
        let (page, id, _) = self
            .leaf
            .as_ref()
            .expect("a position is in the current leaf");
        let key = match found.key {
            Span::Page(range) => page[range].to_vec(),
            Span::Buffer => self.key_buf.clone(),
        };
        let view = LeafView::new(page, *id)?;
        let value = value_of(self.tree.pages(), page, &view, found.position)?;
        Ok(Some((key, value)))
    }

    /// The last key yielded (for the range's other end to stop at).
    fn last_yielded(&mut self) -> Result<Option<&[u8]>> {
        self.remember_last_key()?;
        // `remember_last_key` leaves `yielded_in_leaf` false; the next yield compares with
        // `last_key`, which is that same key.
        Ok(self.last_key.as_deref())
    }
}

fn in_bounds(bounds: &OwnedBounds, direction: Direction, key: &[u8]) -> bool {
    match direction {
        Direction::Forward => match &bounds.1 {
            Bound::Included(end) => key <= end.as_slice(),
            Bound::Excluded(end) => key < end.as_slice(),
            Bound::Unbounded => true,
        },
        Direction::Reverse => match &bounds.0 {
            Bound::Included(start) => key >= start.as_slice(),
            Bound::Excluded(start) => key > start.as_slice(),
            Bound::Unbounded => true,
        },
    }
}

/// A cursor over a key range that lends each key and value from the page it sits on: no
/// allocation and no copy per entry (long keys and values in overflow chains are read into
/// a buffer the cursor keeps). The fastest way to scan; [`Range`] gives owned entries.
///
/// ```
/// # let store = folio_pagestore::PageStore::create(
/// #     std::sync::Arc::new(folio_io::MemoryStorage::new()),
/// #     folio_pagestore::PageStoreOptions::default(),
/// # ).unwrap();
/// # let mut tree = folio_btree::BTreeMut::new(store.writer(), None, 0);
/// # for i in 0u32..100 { tree.put(&i.to_be_bytes(), b"v").unwrap(); }
/// let view = tree.view();
/// let mut cursor = view.cursor_all();
/// let mut total = 0;
/// while let Some(entry) = cursor.next() {
///     let (key, value) = entry?;
///     total += key.len() + value.len();
/// }
/// assert_eq!(total, 100 * 5);
/// # Ok::<(), folio_btree::Error>(())
/// ```
#[derive(Debug)]
pub struct Cursor<'a> {
    walker: Walker<'a>,
    value_buf: Vec<u8>,
    /// Where the current entry's key and value are: in the current leaf page, or in a buffer.
    key: Span,
    value: Span,
    failed: bool,
}

/// An entry a walk moved to: its index in the current leaf, where its key is, its value.
struct Found {
    position: usize,
    key: Span,
    value: ValueRef,
}

/// The range `part` (a sub-slice of `page`) takes in `page`.
fn offset_in(page: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = part.as_ptr() as usize - page.as_ptr() as usize;
    start..start + part.len()
}

/// Where a lent key or value lies.
#[derive(Debug, Clone)]
enum Span {
    /// In the current leaf's payload.
    Page(std::ops::Range<usize>),
    /// In the cursor's buffer (a long key in the walker's, a long value in the cursor's).
    Buffer,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(tree: BTree<'a>, bounds: OwnedBounds, direction: Direction) -> Self {
        Self {
            walker: Walker::new(tree, bounds, direction),
            value_buf: Vec::new(),
            key: Span::Buffer,
            value: Span::Buffer,
            failed: false,
        }
    }

    /// The next entry: its key and value, borrowed until the next call; `None` at the end.
    /// After an error it yields nothing more.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending cursor: the entry borrows the cursor, which `Iterator` cannot express"
    )]
    pub fn next(&mut self) -> Option<Result<(&[u8], &[u8])>> {
        if self.failed {
            return None;
        }
        if let Some((key, value)) = self.walker.advance_inline() {
            let page: &[u8] = &self.walker.leaf.as_ref()?.0;
            return Some(Ok((&page[key], &page[value])));
        }
        match self.locate() {
            Ok(true) => Some(Ok(self.lend())),
            Ok(false) => None,
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }

    /// Moves to the next entry and records where its key and value are (reading long ones
    /// into buffers); false at the end.
    fn locate(&mut self) -> Result<bool> {
        let Some(found) = self.walker.advance_position()? else {
            return Ok(false);
        };
        self.key = found.key;
        self.value = match found.value {
            ValueRef::Inline {
                range,
                compressed: false,
            } => Span::Page(range),
            value => {
                let (page, id, _) = self
                    .walker
                    .leaf
                    .as_ref()
                    .expect("a position is in the current leaf");
                self.value_buf = read_value(self.walker.tree.pages(), page, *id, &value)?;
                Span::Buffer
            }
        };
        Ok(true)
    }

    /// The entry `locate` found.
    fn lend(&self) -> (&[u8], &[u8]) {
        let page: &[u8] = self.walker.leaf.as_ref().map_or(&[], |(page, _, _)| page);
        let key = match &self.key {
            Span::Page(range) => &page[range.clone()],
            Span::Buffer => &self.walker.key_buf,
        };
        let value = match &self.value {
            Span::Page(range) => &page[range.clone()],
            Span::Buffer => &self.value_buf,
        };
        (key, value)
    }
}

/// True when `key` lies within `bounds`.
pub fn bounds_contain(bounds: &OwnedBounds, key: &[u8]) -> bool {
    in_bounds(bounds, Direction::Forward, key) && in_bounds(bounds, Direction::Reverse, key)
}

/// False when the bounds can hold no key (start after end), which a B-tree seek would
/// otherwise misread.
pub fn bounds_nonempty(bounds: &OwnedBounds) -> bool {
    match (&bounds.0, &bounds.1) {
        (Bound::Included(s), Bound::Included(e)) => s <= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s.as_slice().cmp(e) == Ordering::Less,
        _ => true,
    }
}
