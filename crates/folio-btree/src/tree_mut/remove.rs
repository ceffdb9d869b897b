//! Removals: the entry goes from its (owned) leaf; a node left under a quarter full merges
//! with a neighbour when the two fit in one page (for branches the parent's separator moves
//! down between them), up the path as far as needed; an empty root collapses.

use folio_pagestore::PageId;

use super::{BTreeMut, Outcome};
use crate::Result;
use crate::error::corrupt;
use crate::node::{
    KeyRef, LeafView, NodeKind, Slotted, branch_entry_key, branch_entry_len, check_slotted,
    node_kind, write_branch_entry,
};
use crate::overflow::free_chain;
use crate::search::search_leaf;

impl BTreeMut {
    pub(super) fn delete(&mut self, key: &[u8], want_old: bool) -> Result<Outcome> {
        self.bound_memory()?;
        let mut outcome = Outcome::default();
        let Some(root) = self.root else {
            return Ok(outcome);
        };
        // A missing key changes nothing: look before copying the path.
        if !self.view().contains_key(key)? {
            return Ok(outcome);
        }
        let leaf = self.descend_owned(root, key)?;
        let (index, stored_key, stored_value) = {
            let view = LeafView::new(self.own_page(leaf), leaf)?;
            let Ok(index) = search_leaf(self.pages(), &view, key)? else {
                return Err(corrupt(
                    leaf,
                    "a key found by a read is missing from its leaf",
                ));
            };
            let (stored_key, stored_value) = view.entry(index)?;
            let stored_key = match stored_key {
                KeyRef::Overflow { first, len } => Some((first, len)),
                KeyRef::Inline(_) => None,
            };
            (index, stored_key, stored_value)
        };
        if let Some((first, len)) = stored_key {
            free_chain(&mut self.writer, first, len)?;
        }
        outcome.found = true;
        outcome.old = self.release_value(leaf, &stored_value, want_old)?;
        self.node_mut(leaf, NodeKind::Leaf).remove(index);
        // Saturating: a length recorded by a damaged catalog must not panic here.
        self.len = self.len.saturating_sub(1);
        self.rebalance(leaf)?;
        self.collapse_root()?;
        Ok(outcome)
    }

    /// Merges underfull nodes up the path, starting at `node` (owned, just shrunk).
    fn rebalance(&mut self, mut node: PageId) -> Result<()> {
        while let Some((parent, index)) = self.path.pop() {
            if !self.is_underfull(node)? || self.node_mut(parent, NodeKind::Branch).count() == 0 {
                return Ok(());
            }
            self.merge_children(parent, index)?;
            node = parent;
        }
        Ok(())
    }

    /// True when node `id` holds under a quarter of a page (a candidate for a merge).
    pub(super) fn is_underfull(&self, id: PageId) -> Result<bool> {
        let underfull = |page: &[u8]| {
            let kind = node_kind(page).ok_or_else(|| corrupt(id, "not a tree node"))?;
            Ok(Slotted::new(page, kind).used_bytes() < self.payload() / 4)
        };
        match self.writer.private(id) {
            Some(page) => underfull(page),
            None => underfull(&self.pages().read(id)?),
        }
    }

    /// Merges child `index` of the owned branch `parent` with a neighbour when both fit in
    /// one page: the right one's entries move into the left one, which the transaction
    /// owns; the right page is freed and its separator leaves the parent.
    pub(super) fn merge_children(&mut self, parent: PageId, index: usize) -> Result<()> {
        self.epoch += 1;
        let left_index = index.saturating_sub(1);
        let right_id = self
            .node_mut(parent, NodeKind::Branch)
            .child(left_index + 1);
        let right = self.pages().read(right_id)?;
        let kind = node_kind(&right).ok_or_else(|| corrupt(right_id, "not a tree node"))?;
        check_slotted(&right, right_id, kind)?;
        let separator = self
            .node_mut(parent, NodeKind::Branch)
            .entry(left_index)
            .to_vec();
        let left = self.node_mut(parent, NodeKind::Branch).child(left_index);
        let left_id = self.own_child(parent, left_index, left)?;
        {
            let left_bytes = self.writer.private_mut(left_id).expect("owned just now");
            let left = Slotted::new(left_bytes, kind);
            let right_view = Slotted::new(&right[..], kind);
            // A branch also takes the separator, pulled down above the right's first child.
            let pulled = match kind {
                NodeKind::Leaf => 0,
                NodeKind::Branch => branch_entry_len(stored(branch_entry_key(&separator))) + 2,
            };
            let needed = right_view.live_bytes() + pulled;
            if left.free_bytes() < needed {
                return Ok(());
            }
        }
        let mut left = super::edit(&mut self.writer, left_id, kind);
        if kind == NodeKind::Branch {
            // The separator moves down with its overflow chain (if any): still one owner.
            let key = stored(branch_entry_key(&separator));
            let len = branch_entry_len(key);
            let at = left
                .insert(left.count(), len, &mut self.scratch)
                .expect("checked to fit");
            write_branch_entry(
                &mut left.bytes_mut()[at..at + len],
                key,
                Slotted::new(&right[..], NodeKind::Branch).child(0),
            );
        }
        let right_view = Slotted::new(&right[..], kind);
        for entry in 0..right_view.count() {
            assert!(
                left.push(right_view.entry(entry), &mut self.scratch),
                "checked to fit"
            );
        }
        let mut parent_node = self.node_mut(parent, NodeKind::Branch);
        parent_node.remove(left_index);
        drop(right);
        self.writer.free(right_id);
        if kind == NodeKind::Leaf {
            // The separator disappears: free its own overflow chain.
            if let KeyRef::Overflow { first, len } = branch_entry_key(&separator) {
                free_chain(&mut self.writer, first, len)?;
            }
        }
        Ok(())
    }

    /// Removes empty roots: an empty leaf root empties the tree, a branch root with one child
    /// is replaced by that child.
    pub(super) fn collapse_root(&mut self) -> Result<()> {
        while let Some(root) = self.root {
            self.epoch += 1; // counted even when nothing collapses: cheap, and always safe
            let page = self.pages().read(root)?;
            let count = u16::from_le_bytes([page[2], page[3]]);
            match node_kind(&page) {
                Some(NodeKind::Leaf) if count == 0 => {
                    self.writer.free(root);
                    self.root = None;
                }
                Some(NodeKind::Branch) if count == 0 => {
                    let child = Slotted::new(&page[..], NodeKind::Branch).child(0);
                    self.writer.free(root);
                    self.root = Some(child);
                }
                _ => break,
            }
        }
        Ok(())
    }
}

/// A key reference as the stored form a branch entry writes.
fn stored(key: KeyRef<'_>) -> crate::node::StoredRef<'_> {
    match key {
        KeyRef::Inline(bytes) => crate::node::StoredRef::Inline(bytes),
        KeyRef::Overflow { first, len } => crate::node::StoredRef::Overflow { first, len },
    }
}
