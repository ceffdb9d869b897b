//! Splits: a full leaf or branch moves the tail of its entries to a new page, and the
//! separator goes up the path the descent recorded, splitting branches as far as needed (a
//! new root when the root splits).
//!
//! The split point is chosen over the entries *with* the one being inserted, so both halves
//! fit with it. After an insert at the end of a leaf (sorted inserts) the left half keeps
//! every old entry and the right gets only the new one, so sorted loads fill pages.

use folio_pagestore::PageId;

use super::{BTreeMut, OwnedKey, balanced_split, leaf_entry_key_bytes, shortest_separator};
use crate::Result;
use crate::error::corrupt;
use crate::node::{
    LeafEntry, NodeKind, Slotted, StoredRef, branch_entry_key, branch_entry_len, key_inline_max,
    node_entry, table_at, write_branch_entry,
};
use crate::overflow::write_chain;

/// Slot bytes per entry.
const SLOT: usize = 2;

impl BTreeMut {
    /// Splits the owned, full `leaf` while inserting `entry` at position `index`, then
    /// inserts the separator into the parents.
    pub(super) fn split_leaf(
        &mut self,
        leaf: PageId,
        index: usize,
        entry: &LeafEntry<'_>,
    ) -> Result<()> {
        self.epoch += 1;
        let right = self.new_node(NodeKind::Leaf)?;
        let (left_bytes, right_bytes) = self
            .writer
            .private_pair_mut(leaf, right)
            .expect("the leaf and its new sibling are owned and distinct");
        let mut left_node = Slotted::new(left_bytes, NodeKind::Leaf);
        let mut right_node = Slotted::new(right_bytes, NodeKind::Leaf);
        let count = left_node.count();
        let mut sizes: Vec<usize> = (0..count).map(|i| left_node.entry_len(i) + SLOT).collect();
        sizes.insert(index, entry.len() + SLOT);
        let room = left_node.bytes().len() - table_at(NodeKind::Leaf);
        let appended = index == count && sizes[..count].iter().sum::<usize>() <= room;
        let split = if appended {
            count
        } else {
            balanced_split(&sizes, room)
                .ok_or_else(|| corrupt(leaf, "leaf entries too large to split"))?
        };
        // `split` counts the new entry when it goes left.
        let (old_split, new_goes_left) = if index < split {
            (split - 1, true)
        } else {
            (split, false)
        };
        left_node.move_tail(old_split, &mut right_node, &mut self.scratch);
        let (target, at) = if new_goes_left {
            (&mut left_node, index)
        } else {
            (&mut right_node, index - split)
        };
        let start = target
            .insert(at, entry.len(), &mut self.scratch)
            .expect("the split point leaves room for the new entry");
        entry.write(&mut target.bytes_mut()[start..start + entry.len()]);
        // The separator: the shortest key between the halves' last and first keys.
        let last = node_entry(
            self.own_page(leaf),
            NodeKind::Leaf,
            split_last(self.own_page(leaf)),
        );
        let last_left = leaf_entry_key_bytes(self.pages(), last)?;
        let first = node_entry(self.own_page(right), NodeKind::Leaf, 0);
        let first_right = leaf_entry_key_bytes(self.pages(), first)?;
        let separator = shortest_separator(&last_left, &first_right);
        let separator = if separator.len() > key_inline_max(self.payload()) {
            OwnedKey::Overflow {
                first: write_chain(&mut self.writer, &separator)?,
                len: separator.len(),
            }
        } else {
            OwnedKey::Inline(separator)
        };
        self.insert_separator(leaf, separator, right)
    }

    /// Inserts `separator` with `right` (the new right sibling of `left`) into the parent
    /// recorded on the path, splitting branches upward as needed.
    fn insert_separator(
        &mut self,
        mut left: PageId,
        mut separator: OwnedKey,
        mut right: PageId,
    ) -> Result<()> {
        loop {
            let Some((parent, child_index)) = self.path.pop() else {
                // The root split: a new root above the two halves.
                let root = self.new_node(NodeKind::Branch)?;
                let mut node = super::edit(&mut self.writer, root, NodeKind::Branch);
                node.set_child(0, left);
                let key = separator.as_stored();
                let len = branch_entry_len(key);
                let at = node
                    .insert(0, len, &mut self.scratch)
                    .expect("an empty branch holds a separator");
                write_branch_entry(&mut node.bytes_mut()[at..at + len], key, right);
                self.root = Some(root);
                return Ok(());
            };
            let key = separator.as_stored();
            let len = branch_entry_len(key);
            let mut node = super::edit(&mut self.writer, parent, NodeKind::Branch);
            if let Some(at) = node.insert(child_index, len, &mut self.scratch) {
                write_branch_entry(&mut node.bytes_mut()[at..at + len], key, right);
                return Ok(());
            }
            let (up, new_right) = self.split_branch(parent, child_index, key, right)?;
            separator = up;
            left = parent;
            right = new_right;
        }
    }

    /// Splits the owned, full branch `id` while inserting separator `key` (with `child` to
    /// its right) at entry position `index`. The middle separator moves up: returned with the
    /// new right branch.
    fn split_branch(
        &mut self,
        id: PageId,
        index: usize,
        key: StoredRef<'_>,
        child: PageId,
    ) -> Result<(OwnedKey, PageId)> {
        let right = self.new_node(NodeKind::Branch)?;
        let (left_bytes, right_bytes) = self
            .writer
            .private_pair_mut(id, right)
            .expect("the branch and its new sibling are owned and distinct");
        let mut left_node = Slotted::new(left_bytes, NodeKind::Branch);
        let mut right_node = Slotted::new(right_bytes, NodeKind::Branch);
        let count = left_node.count();
        let new_len = branch_entry_len(key);
        let mut sizes: Vec<usize> = (0..count).map(|i| left_node.entry_len(i) + SLOT).collect();
        sizes.insert(index, new_len + SLOT);
        let room = left_node.bytes().len() - table_at(NodeKind::Branch);
        // The middle entry `m` moves up: left = [..m], right = [m + 1..].
        let middle = (1..sizes.len() - 1)
            .filter(|&m| {
                sizes[..m].iter().sum::<usize>() <= room
                    && sizes[m + 1..].iter().sum::<usize>() <= room
            })
            .min_by_key(|&m| {
                sizes[..m]
                    .iter()
                    .sum::<usize>()
                    .abs_diff(sizes[m + 1..].iter().sum::<usize>())
            })
            .ok_or_else(|| corrupt(id, "branch entries too large to split"))?;
        let up = if index == middle {
            // The new separator itself moves up; its child starts the right half.
            right_node.set_child(0, child);
            left_node.move_tail(middle, &mut right_node, &mut self.scratch);
            OwnedKey::from_stored(key)
        } else {
            // An old separator moves up; the new one goes into the half it belongs to.
            let old_middle = if index < middle { middle - 1 } else { middle };
            let up = OwnedKey::from_ref(branch_entry_key(left_node.entry(old_middle)));
            right_node.set_child(0, left_node.child(old_middle + 1));
            left_node.move_tail(old_middle + 1, &mut right_node, &mut self.scratch);
            left_node.truncate(old_middle);
            let (target, at) = if index < middle {
                (&mut left_node, index)
            } else {
                (&mut right_node, index - middle - 1)
            };
            let start = target
                .insert(at, new_len, &mut self.scratch)
                .expect("the split point leaves room for the new separator");
            write_branch_entry(&mut target.bytes_mut()[start..start + new_len], key, child);
            up
        };
        Ok((up, right))
    }
}

/// The index of the last entry of a node.
fn split_last(bytes: &[u8]) -> usize {
    usize::from(u16::from_le_bytes([bytes[2], bytes[3]])).saturating_sub(1)
}
