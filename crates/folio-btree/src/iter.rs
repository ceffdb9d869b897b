//! [`Range`]: iteration over a key range, ascending or descending.

#![allow(
    clippy::cast_possible_wrap,
    reason = "entry indices are below 2^16 (a page holds at most 65536 bytes)"
)]

use std::cmp::Ordering;
use std::ops::Bound;

use folio_pagestore::{Page, PageId};

use crate::node::{BranchView, LeafView, NodeKind, node_kind};
use crate::tree::{BTree, DEPTH_MAX, OwnedBounds, child_for, key_bytes, search_leaf, value_of};
use crate::{Result, Value, error::corrupt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Forward,
    Reverse,
}

/// An iterator over `(key, value)` pairs of a [`BTree`] in a key range, from either end
/// (`next` and `next_back` meet in the middle without yielding an entry twice). Holds the
/// pages of its current paths (a consistent snapshot as long as the tree's root is). Yields
/// an error once and then stops if a page cannot be read.
#[derive(Debug)]
pub struct Range<'a> {
    /// Walks in the range's own direction.
    front: Cursor<'a>,
    /// Walks from the other end, for `next_back`.
    back: Cursor<'a>,
    done: bool,
}

impl<'a> Range<'a> {
    pub(crate) fn new(tree: BTree<'a>, bounds: OwnedBounds, direction: Direction) -> Self {
        let opposite = match direction {
            Direction::Forward => Direction::Reverse,
            Direction::Reverse => Direction::Forward,
        };
        Self {
            front: Cursor::new(tree.clone(), bounds.clone(), direction),
            back: Cursor::new(tree, bounds, opposite),
            done: false,
        }
    }

    /// Takes the next entry of `cursor`, ending the range where it meets what `other` yielded.
    fn step(
        cursor: &mut Cursor,
        other: &Cursor,
        done: &mut bool,
    ) -> Option<Result<(Vec<u8>, Value)>> {
        if *done {
            return None;
        }
        match cursor.advance() {
            Ok(Some((key, value))) => {
                let met = other
                    .last_key
                    .as_ref()
                    .is_some_and(|last| match cursor.direction {
                        Direction::Forward => key >= *last,
                        Direction::Reverse => key <= *last,
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
        Self::step(&mut self.front, &self.back, &mut self.done)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        Self::step(&mut self.back, &self.front, &mut self.done)
    }
}

impl std::iter::FusedIterator for Range<'_> {}

/// One direction of a [`Range`]: a path from the root to the current leaf.
#[derive(Debug)]
struct Cursor<'a> {
    tree: BTree<'a>,
    bounds: OwnedBounds,
    direction: Direction,
    /// Branch pages on the path, with the child index taken at each.
    path: Vec<(Page, PageId, usize)>,
    /// The current leaf and the next index to yield (may be out of range).
    leaf: Option<(Page, PageId, isize)>,
    started: bool,
    done: bool,
    /// The last key yielded: keys must move strictly in the iteration direction, which also
    /// guarantees a damaged tree (a child listed twice, a cycle) cannot make us loop.
    last_key: Option<Vec<u8>>,
}

impl<'a> Cursor<'a> {
    fn new(tree: BTree<'a>, bounds: OwnedBounds, direction: Direction) -> Self {
        Self {
            tree,
            bounds,
            direction,
            path: Vec::new(),
            leaf: None,
            started: false,
            done: false,
            last_key: None,
        }
    }

    /// Descends from the root to the leaf where iteration starts.
    fn seek(&mut self) -> Result<()> {
        let Some(mut id) = self.tree.root() else {
            self.done = true;
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
                    self.leaf = Some((page, id, index));
                    return Ok(());
                }
                None => return Err(corrupt(id, "not a tree node")),
            }
        }
        Err(corrupt(id, "tree deeper than any valid tree"))
    }

    /// Moves to the next leaf in the iteration direction; false at the end of the tree.
    fn next_leaf(&mut self) -> Result<bool> {
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
                            self.path.push((page, child, index));
                            child = grandchild;
                        }
                        Some(NodeKind::Leaf) => {
                            let len = LeafView::new(&page, child)?.len() as isize;
                            let index = match self.direction {
                                Direction::Forward => 0,
                                Direction::Reverse => len - 1,
                            };
                            self.leaf = Some((page, child, index));
                            return Ok(true);
                        }
                        None => return Err(corrupt(child, "not a tree node")),
                    }
                }
                return Err(corrupt(child, "tree deeper than any valid tree"));
            }
        }
    }

    fn in_bounds(&self, key: &[u8]) -> bool {
        match self.direction {
            Direction::Forward => match &self.bounds.1 {
                Bound::Included(end) => key <= end.as_slice(),
                Bound::Excluded(end) => key < end.as_slice(),
                Bound::Unbounded => true,
            },
            Direction::Reverse => match &self.bounds.0 {
                Bound::Included(start) => key >= start.as_slice(),
                Bound::Excluded(start) => key > start.as_slice(),
                Bound::Unbounded => true,
            },
        }
    }

    fn advance(&mut self) -> Result<Option<(Vec<u8>, Value)>> {
        if !self.started {
            self.started = true;
            if bounds_nonempty(&self.bounds) {
                self.seek()?;
            } else {
                self.done = true;
            }
        }
        let tree = self.tree.clone();
        let pages = tree.pages();
        while !self.done {
            let Some((page, id, index)) = &self.leaf else {
                self.done = true;
                break;
            };
            let (id, index) = (*id, *index);
            let view = LeafView::new(page, id)?;
            if index < 0 || index >= view.len() as isize {
                if !self.next_leaf()? {
                    self.done = true;
                }
                continue;
            }
            let position = index as usize;
            let key = key_bytes(pages, view.entry(position)?.0)?;
            if !self.in_bounds(&key) {
                self.done = true;
                break;
            }
            if let Some(last) = &self.last_key {
                let moved_on = match self.direction {
                    Direction::Forward => key > *last,
                    Direction::Reverse => key < *last,
                };
                if !moved_on {
                    return Err(corrupt(
                        id,
                        "keys out of order across leaves (a damaged branch)",
                    ));
                }
            }
            let value = value_of(pages, page, &view, position)?;
            // Reuse the buffer: no allocation per entry for the order check.
            let last = self.last_key.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(&key);
            let step = if self.direction == Direction::Forward {
                1
            } else {
                -1
            };
            if let Some((_, _, next)) = &mut self.leaf {
                *next = index + step;
            }
            return Ok(Some((key, value)));
        }
        Ok(None)
    }
}

/// False when the bounds can hold no key (start after end), which a B-tree seek would
/// otherwise misread.
fn bounds_nonempty(bounds: &OwnedBounds) -> bool {
    match (&bounds.0, &bounds.1) {
        (Bound::Included(s), Bound::Included(e)) => s <= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s.as_slice().cmp(e) == Ordering::Less,
        _ => true,
    }
}
