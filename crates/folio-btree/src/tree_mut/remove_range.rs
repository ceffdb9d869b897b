//! Range removal ([`BTreeMut::remove_range`]): every entry with a key in a range goes, for
//! work proportional to the pages involved rather than to the entries.
//!
//! A child whose key bounds (the separators around it) lie inside the range is freed whole
//! (`free.rs`: its pages are read once, to find overflow chains and count entries, and never
//! copied or edited). Only the nodes the range cuts through (at most two per level, on the
//! paths to its two ends) are made the transaction's own and edited: their entries in the
//! range removed, their emptied children dropped with a separator each, and a child left
//! under a quarter full merged with a neighbour as a single removal does. An emptied root
//! collapses. Every leaf stays at one depth: only whole subtrees leave a branch.

use std::collections::HashSet;
use std::ops::Bound;

use folio_pagestore::PageId;

use super::BTreeMut;
use crate::Result;
use crate::error::corrupt;
use crate::iter::{OwnedBounds, bounds_contain, bounds_nonempty};
use crate::node::{
    BranchView, KeyRef, LeafView, NodeKind, Slotted, ValueRef, branch_entry_key, node_kind,
};
use crate::overflow::free_chain;
use crate::search::{DEPTH_MAX, key_bytes};

/// An overflow chain: its first page and the bytes it holds.
type Chain = (PageId, usize);

/// How the keys a node may hold (`low <= key < high`) meet the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    /// No key it may hold is in the range.
    Disjoint,
    /// Every key it may hold is in the range: freed whole.
    Inside,
    /// Some may be: descended into.
    Partial,
}

fn overlap(bounds: &OwnedBounds, low: Option<&[u8]>, high: Option<&[u8]>) -> Overlap {
    let ends_before = match (&bounds.1, low) {
        (Bound::Included(end), Some(low)) => end.as_slice() < low,
        (Bound::Excluded(end), Some(low)) => end.as_slice() <= low,
        _ => false,
    };
    let starts_after = match (&bounds.0, high) {
        (Bound::Included(start) | Bound::Excluded(start), Some(high)) => start.as_slice() >= high,
        _ => false,
    };
    if ends_before || starts_after {
        return Overlap::Disjoint;
    }
    let from_start = match (&bounds.0, low) {
        (Bound::Unbounded, _) => true,
        (Bound::Included(start), Some(low)) => low >= start.as_slice(),
        (Bound::Excluded(start), Some(low)) => low > start.as_slice(),
        (_, None) => false,
    };
    // Keys stay below `high`: a range ending at or past it holds them all.
    let to_end = match (&bounds.1, high) {
        (Bound::Unbounded, _) => true,
        (Bound::Included(end) | Bound::Excluded(end), Some(high)) => high <= end.as_slice(),
        (_, None) => false,
    };
    if from_start && to_end {
        Overlap::Inside
    } else {
        Overlap::Partial
    }
}

impl BTreeMut {
    /// Removes every entry with a key in `bounds`; returns how many there were. Subtrees
    /// inside the range are freed whole (their pages read once, never copied); only the
    /// nodes at the range's two ends are edited. A range holding nothing changes nothing.
    pub fn remove_range(&mut self, bounds: &OwnedBounds) -> Result<u64> {
        if !bounds_nonempty(bounds) {
            return Ok(0);
        }
        let Some(root) = self.root else {
            return Ok(0);
        };
        // Nothing to remove: copy no page.
        if self
            .view()
            .range::<Vec<u8>, _>(bounds.clone())
            .next()
            .transpose()?
            .is_none()
        {
            return Ok(0);
        }
        self.bound_memory()?;
        self.epoch += 1;
        let root = self.own_root(root)?;
        let mut freed = HashSet::new();
        let (removed, emptied) = self.remove_range_in(root, bounds, None, None, 0, &mut freed)?;
        self.len = self.len.saturating_sub(removed);
        if emptied {
            self.writer.free(root);
            self.root = None;
        }
        self.collapse_root()?;
        Ok(removed)
    }

    /// Removes the range's entries below the owned node `id`, whose keys lie in
    /// `low..high`; returns the entries removed and whether the node is left empty (a leaf
    /// with no entry, a branch with no child: the caller frees its page). `freed` holds the
    /// pages freed so far, so a damaged tree naming one twice is an error.
    fn remove_range_in(
        &mut self,
        id: PageId,
        bounds: &OwnedBounds,
        low: Option<&[u8]>,
        high: Option<&[u8]>,
        depth: usize,
        freed: &mut HashSet<PageId>,
    ) -> Result<(u64, bool)> {
        if depth > DEPTH_MAX {
            return Err(corrupt(id, "tree deeper than any valid tree"));
        }
        let kind = node_kind(self.own_page(id)).ok_or_else(|| corrupt(id, "not a tree node"))?;
        if kind == NodeKind::Leaf {
            return self.remove_range_in_leaf(id, bounds);
        }
        // A branch: each child inside the range is freed whole, each one it cuts descended
        // into.

        let (separators, children) = {
            let view = BranchView::new(self.own_page(id), id)?;
            let separators = (0..view.len())
                .map(|index| key_bytes(self.pages(), view.key(index)?))
                .collect::<Result<Vec<_>>>()?;
            let children = (0..=view.len())
                .map(|index| view.child(index))
                .collect::<Result<Vec<_>>>()?;
            (separators, children)
        };
        let mut removed = 0;
        let mut gone = vec![false; children.len()];
        let mut kept_partial = Vec::new();
        for (index, &child) in children.iter().enumerate() {
            let child_low = index.checked_sub(1).map_or(low, |s| Some(&*separators[s]));
            let child_high = separators.get(index).map_or(high, |s| Some(s.as_slice()));
            match overlap(bounds, child_low, child_high) {
                Overlap::Disjoint => {}
                Overlap::Inside => {
                    removed += self.free_subtree(child, depth + 1, freed)?;
                    gone[index] = true;
                }
                Overlap::Partial => {
                    let child = self.own_child(id, index, child)?;
                    let (count, emptied) = self.remove_range_in(
                        child,
                        bounds,
                        child_low,
                        child_high,
                        depth + 1,
                        freed,
                    )?;
                    removed += count;
                    if emptied {
                        self.writer.free(child);
                        gone[index] = true;
                    } else {
                        kept_partial.push(index);
                    }
                }
            }
        }
        // From the right, so the indices still to come stay valid.
        for index in (0..children.len()).rev().filter(|&index| gone[index]) {
            if self.remove_child(id, index)? {
                return Ok((removed, true));
            }
        }
        // A child the range cut into may be left nearly empty: merge it with a neighbour
        // (from the right again; a merge moves only the children after its own).
        for &old in kept_partial.iter().rev() {
            let index = old - gone[..old].iter().filter(|&&g| g).count();
            let child = self.node_mut(id, NodeKind::Branch).child(index);
            if self.node_mut(id, NodeKind::Branch).count() > 0 && self.is_underfull(child)? {
                self.merge_children(id, index)?;
            }
        }
        Ok((removed, false))
    }

    fn remove_range_in_leaf(&mut self, id: PageId, bounds: &OwnedBounds) -> Result<(u64, bool)> {
        // Collected first: freeing needs the writer mutably.
        let mut doomed: Vec<(usize, Option<Chain>, ValueRef)> = Vec::new();
        let count = {
            let view = LeafView::new(self.own_page(id), id)?;
            for index in 0..view.len() {
                let (key, value) = view.entry(index)?;
                if bounds_contain(bounds, &key_bytes(self.pages(), key)?) {
                    let chain = match key {
                        KeyRef::Overflow { first, len } => Some((first, len)),
                        KeyRef::Inline(_) => None,
                    };
                    doomed.push((index, chain, value));
                }
            }
            view.len()
        };
        for (index, chain, value) in doomed.iter().rev() {
            if let Some((first, len)) = *chain {
                free_chain(&mut self.writer, first, len)?;
            }
            self.release_value(id, value, false)?;
            self.node_mut(id, NodeKind::Leaf).remove(*index);
        }
        Ok((doomed.len() as u64, doomed.len() == count))
    }

    /// Takes child `index` out of the owned branch `id` with the separator beside it
    /// (before it; after it for child 0). Returns true when it was the only child, which
    /// leaves the branch with none.
    fn remove_child(&mut self, id: PageId, index: usize) -> Result<bool> {
        let node = self.node_mut(id, NodeKind::Branch);
        let count = node.count();
        if count == 0 {
            return Ok(true);
        }
        // Entry `i` is separator `i` with child `i + 1` to its right.
        let entry = index.saturating_sub(1);
        if index == 0 {
            let next = node.child(1);
            let mut node = self.node_mut(id, NodeKind::Branch);
            node.set_child(0, next);
        }
        let separator = Slotted::new(self.own_page(id), NodeKind::Branch)
            .entry(entry)
            .to_vec();
        if let KeyRef::Overflow { first, len } = branch_entry_key(&separator) {
            free_chain(&mut self.writer, first, len)?;
        }
        self.node_mut(id, NodeKind::Branch).remove(entry);
        Ok(false)
    }
}
