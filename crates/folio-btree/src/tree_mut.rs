//! [`BTreeMut`]: a tree being changed inside a write transaction (copy-on-write).
//!
//! Every change rewrites the path from the changed leaf to the root. A page the open
//! transaction allocated is rewritten in place (nothing committed refers to it); any other
//! page is copied to a new page and the old one freed (it stays readable by older snapshots
//! until the page store's reclamation rules let it go).

use std::collections::HashSet;

use folio_pagestore::{PageBuf, PageId, PageStore, PageWriter};

use crate::node::{
    BranchEntry, BranchNode, KEY_BYTES_MAX, KeyRef, LeafEntry, LeafNode, LeafView, NodeKind,
    Stored, VALUE_BYTES_MAX, ValueRef, key_inline_max, node_kind, splice_leaf, value_inline_max,
};
use crate::overflow::{free_chain, read_chain, write_chain};
use crate::tree::{BTree, DEPTH_MAX, child_for, search_leaf};
use crate::{Error, Result, Value, error::corrupt};

mod relocate;

/// A tree being modified. Owns the [`PageWriter`] of its owner (one per column family), so
/// trees of different owners never contend.
#[derive(Debug)]
pub struct BTreeMut {
    writer: PageWriter,
    root: Option<PageId>,
    len: u64,
    committed_root: Option<PageId>,
    committed_len: u64,
}

/// A point inside a transaction a [`BTreeMut`] can roll back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeSavepoint {
    root: Option<PageId>,
    len: u64,
    writer: folio_pagestore::WriterSavepoint,
}

/// How a subtree changed after an insert.
enum Grown {
    Same(PageId),
    /// Split in two: `left`, and the separator whose child is the right half.
    Split {
        left: PageId,
        separator: BranchEntry,
    },
}

/// A subtree after a removal: its (possibly new) page and whether it is underfull.
struct Shrunk {
    id: PageId,
    underfull: bool,
}

#[derive(Default)]
struct Outcome {
    replaced: bool,
    old: Option<Vec<u8>>,
}

impl BTreeMut {
    /// A tree at `root` holding `len` entries, changed through `writer`.
    pub fn new(writer: PageWriter, root: Option<PageId>, len: u64) -> Self {
        Self {
            writer,
            root,
            len,
            committed_root: root,
            committed_len: len,
        }
    }

    /// The page store.
    pub fn store(&self) -> &PageStore {
        self.writer.store()
    }

    /// The current root (uncommitted changes included).
    pub fn root(&self) -> Option<PageId> {
        self.root
    }

    /// Entries in the tree (uncommitted changes included).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the tree holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A read view of the current state (uncommitted changes included).
    pub fn view(&self) -> BTree {
        BTree::new(self.store().clone(), self.root)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.view().get(key)
    }

    /// Inserts or replaces `key`; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.upsert(key, value, true)?.old)
    }

    /// Inserts or replaces `key` without reading the previous value (cheaper when it is
    /// large); returns whether a value was replaced.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        Ok(self.upsert(key, value, false)?.replaced)
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.delete(key, true)?.old)
    }

    /// Removes `key` without reading its value; returns whether it was present.
    pub fn delete_key(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.delete(key, false)?.replaced)
    }

    /// Makes the changes part of commit `version` (see [`PageWriter::commit`]); the caller
    /// publishes [`BTreeMut::root`] with that version.
    pub fn commit(&mut self, version: u64) {
        self.writer.commit(version);
        self.committed_root = self.root;
        self.committed_len = self.len;
    }

    /// Marks the current state of the tree; [`BTreeMut::rollback_to`] returns to it.
    pub fn savepoint(&mut self) -> TreeSavepoint {
        TreeSavepoint {
            root: self.root,
            len: self.len,
            writer: self.writer.savepoint(),
        }
    }

    /// Returns the tree to `savepoint` (taken in the current transaction), undoing every
    /// change since; the savepoint stays valid.
    pub fn rollback_to(&mut self, savepoint: &TreeSavepoint) {
        self.writer.rollback_to(savepoint.writer);
        self.root = savepoint.root;
        self.len = savepoint.len;
    }

    /// Gives the pages its writer reserved but has not used back to the page store's pool.
    pub fn return_unused_pages(&mut self) {
        self.writer.return_unused();
    }

    /// Drops every change since the last commit.
    pub fn rollback(&mut self) {
        self.writer.rollback();
        self.root = self.committed_root;
        self.len = self.committed_len;
    }

    /// Frees every page of the tree (nodes and overflow chains) and empties it.
    pub fn clear(&mut self) -> Result<()> {
        if let Some(root) = self.root.take() {
            self.free_subtree(root, 0, &mut HashSet::new())?;
        }
        self.len = 0;
        Ok(())
    }

    /// Frees every page of *another* tree (at `root`) through this tree's writer, so the
    /// frees are settled with this tree's next commit (dropping a column family).
    pub fn free_tree_pages(&mut self, root: Option<PageId>) -> Result<()> {
        match root {
            Some(root) => self.free_subtree(root, 0, &mut HashSet::new()),
            None => Ok(()),
        }
    }

    /// Gives the writer back (for example to open another tree with it).
    pub fn into_writer(self) -> PageWriter {
        self.writer
    }

    fn payload(&self) -> usize {
        self.store().payload_size()
    }

    fn check_sizes(key: &[u8], value: &[u8]) -> Result<()> {
        if key.len() > KEY_BYTES_MAX {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                max: KEY_BYTES_MAX,
            });
        }
        if value.len() > VALUE_BYTES_MAX {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                max: VALUE_BYTES_MAX,
            });
        }
        Ok(())
    }

    fn upsert(&mut self, key: &[u8], value: &[u8], want_old: bool) -> Result<Outcome> {
        Self::check_sizes(key, value)?;
        let mut outcome = Outcome::default();
        match self.root {
            None => {
                let entry = self.new_entry(key, value)?;
                let node = LeafNode {
                    entries: vec![entry],
                };
                self.root = Some(self.write_node(None, node.encode(self.store().page_size()))?);
            }
            Some(root) => match self.insert_into(root, key, value, want_old, &mut outcome, 0)? {
                Grown::Same(id) => self.root = Some(id),
                Grown::Split { left, separator } => {
                    let node = BranchNode {
                        first_child: left,
                        entries: vec![separator],
                    };
                    self.root = Some(self.write_node(None, node.encode(self.store().page_size()))?);
                }
            },
        }
        if !outcome.replaced {
            self.len = self.len.saturating_add(1);
        }
        Ok(outcome)
    }

    fn delete(&mut self, key: &[u8], want_old: bool) -> Result<Outcome> {
        let mut outcome = Outcome::default();
        let Some(root) = self.root else {
            return Ok(outcome);
        };
        let Some(shrunk) = self.remove_from(root, key, want_old, &mut outcome, 0)? else {
            return Ok(outcome);
        };
        // Saturating: a length recorded by a damaged catalog must not panic here.
        self.len = self.len.saturating_sub(1);
        self.root = Some(shrunk.id);
        self.collapse_root()?;
        Ok(outcome)
    }

    /// Removes empty roots: an empty leaf root empties the tree, a branch root with one child
    /// is replaced by that child.
    fn collapse_root(&mut self) -> Result<()> {
        while let Some(root) = self.root {
            let page = self.store().read(root)?;
            let count = u16::from_le_bytes([page[2], page[3]]);
            match node_kind(&page) {
                Some(NodeKind::Leaf) if count == 0 => {
                    self.writer.free(root);
                    self.root = None;
                }
                Some(NodeKind::Branch) if count == 0 => {
                    let node =
                        BranchNode::decode(&page, root, &|f, l| read_chain(self.store(), f, l))?;
                    self.writer.free(root);
                    self.root = Some(node.first_child);
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Writes a node: in place if this transaction allocated `old`, else to a new page
    /// (freeing `old`).
    fn write_node(&mut self, old: Option<PageId>, buf: PageBuf) -> Result<PageId> {
        let id = match old {
            Some(id) if self.writer.allocated_in_txn(id) => id,
            Some(id) => {
                self.writer.free(id);
                self.writer.allocate()?
            }
            None => self.writer.allocate()?,
        };
        self.writer.write(id, buf.seal(id));
        Ok(id)
    }

    fn new_entry(&mut self, key: &[u8], value: &[u8]) -> Result<LeafEntry> {
        let key_overflow = if key.len() > key_inline_max(self.payload()) {
            Some(write_chain(&mut self.writer, key)?)
        } else {
            None
        };
        Ok(LeafEntry {
            key: key.to_vec(),
            key_overflow,
            value: self.store_value(value)?,
        })
    }

    fn store_value(&mut self, value: &[u8]) -> Result<Stored> {
        if value.len() > value_inline_max(self.payload()) {
            Ok(Stored::Overflow {
                first: write_chain(&mut self.writer, value)?,
                len: value.len() as u32,
            })
        } else {
            Ok(Stored::Inline(value.to_vec()))
        }
    }

    /// Frees a stored value, first reading it if `want` is set.
    fn release(&mut self, stored: Stored, want: bool) -> Result<Option<Vec<u8>>> {
        match stored {
            Stored::Inline(bytes) => Ok(want.then_some(bytes)),
            Stored::Overflow { first, len } => {
                let bytes = if want {
                    Some(read_chain(self.store(), first, len as usize)?)
                } else {
                    None
                };
                free_chain(&mut self.writer, first, len as usize)?;
                Ok(bytes)
            }
        }
    }

    fn decode_leaf(&self, id: PageId) -> Result<LeafNode> {
        let page = self.store().read(id)?;
        LeafNode::decode(&page, id, &|f, l| read_chain(self.store(), f, l))
    }

    fn decode_branch(&self, id: PageId) -> Result<BranchNode> {
        let page = self.store().read(id)?;
        BranchNode::decode(&page, id, &|f, l| read_chain(self.store(), f, l))
    }

    fn kind(&self, id: PageId) -> Result<NodeKind> {
        node_kind(&self.store().read(id)?).ok_or_else(|| corrupt(id, "not a tree node"))
    }

    fn insert_into(
        &mut self,
        id: PageId,
        key: &[u8],
        value: &[u8],
        want_old: bool,
        outcome: &mut Outcome,
        depth: usize,
    ) -> Result<Grown> {
        if depth > DEPTH_MAX {
            return Err(corrupt(id, "tree deeper than any valid tree"));
        }
        let page = self.store().read(id)?;
        match node_kind(&page).ok_or_else(|| corrupt(id, "not a tree node"))? {
            NodeKind::Leaf => {
                let view = LeafView::new(&page, id)?;
                let (index, replacing, entry) = match search_leaf(self.store(), &view, key)? {
                    Ok(index) => {
                        let (stored_key, stored_value) = view.entry(index)?;
                        let previous = stored_of(&page, stored_value);
                        let key_overflow = match stored_key {
                            KeyRef::Overflow { first, .. } => Some(first),
                            KeyRef::Inline(_) => None,
                        };
                        let value = self.store_value(value)?;
                        outcome.replaced = true;
                        outcome.old = self.release(previous, want_old)?;
                        let entry = LeafEntry {
                            key: key.to_vec(),
                            key_overflow,
                            value,
                        };
                        (index, true, entry)
                    }
                    Err(index) => (index, false, self.new_entry(key, value)?),
                };
                let appended = !replacing && index == view.len();
                let mut encoded = Vec::new();
                entry.encode_into(&mut encoded);
                let page_size = self.store().page_size();
                // Fast path: splice the entry's bytes into the page without decoding it.
                if let Some((buf, _)) =
                    splice_leaf(&page, id, index, replacing, Some(&encoded), page_size)?
                {
                    return Ok(Grown::Same(self.write_node(Some(id), buf)?));
                }
                // It no longer fits: decode and split.
                let mut node = self.decode_leaf(id)?;
                if replacing {
                    node.entries[index] = entry;
                } else {
                    node.entries.insert(index, entry);
                }
                self.write_leaf(id, node, appended)
            }
            NodeKind::Branch => {
                let (index, child) = child_for(self.store(), &page, id, key)?;
                drop(page);
                match self.insert_into(child, key, value, want_old, outcome, depth + 1)? {
                    Grown::Same(new_child) if new_child == child => Ok(Grown::Same(id)),
                    Grown::Same(new_child) => {
                        let mut node = self.decode_branch(id)?;
                        node.set_child(index, new_child);
                        self.write_branch(id, node)
                    }
                    Grown::Split { left, separator } => {
                        let mut node = self.decode_branch(id)?;
                        node.set_child(index, left);
                        node.entries.insert(index, separator);
                        self.write_branch(id, node)
                    }
                }
            }
        }
    }

    /// Writes a leaf, splitting it if it no longer fits. After an append at the end the left
    /// half keeps everything but the new entry, so sorted inserts fill pages completely.
    fn write_leaf(&mut self, id: PageId, mut node: LeafNode, appended: bool) -> Result<Grown> {
        let payload = self.payload();
        let page_size = self.store().page_size();
        if node.encoded_len() <= payload {
            return Ok(Grown::Same(
                self.write_node(Some(id), node.encode(page_size))?,
            ));
        }
        let sizes: Vec<usize> = node.entries.iter().map(LeafEntry::node_bytes).collect();
        let last = node.entries.len() - 1;
        let split = if appended
            && crate::node::leaf_header_bytes() + sizes[..last].iter().sum::<usize>() <= payload
        {
            last
        } else {
            balanced_split(&sizes, crate::node::leaf_header_bytes(), payload)
                .ok_or_else(|| corrupt(id, "leaf entries too large to split"))?
        };
        let right = LeafNode {
            entries: node.entries.split_off(split),
        };
        let separator_key = shortest_separator(&node.entries[split - 1].key, &right.entries[0].key);
        let key_overflow = if separator_key.len() > key_inline_max(payload) {
            Some(write_chain(&mut self.writer, &separator_key)?)
        } else {
            None
        };
        let left = self.write_node(Some(id), node.encode(page_size))?;
        let right = self.write_node(None, right.encode(page_size))?;
        Ok(Grown::Split {
            left,
            separator: BranchEntry {
                key: separator_key,
                key_overflow,
                child: right,
            },
        })
    }

    /// Writes a branch, splitting it around a middle separator (which moves up) if needed.
    fn write_branch(&mut self, id: PageId, mut node: BranchNode) -> Result<Grown> {
        let payload = self.payload();
        let page_size = self.store().page_size();
        if node.encoded_len() <= payload {
            return Ok(Grown::Same(
                self.write_node(Some(id), node.encode(page_size))?,
            ));
        }
        let sizes: Vec<usize> = node.entries.iter().map(BranchEntry::node_bytes).collect();
        // The middle entry moves up: left = entries[..middle], right = entries[middle + 1..].
        let header = crate::node::branch_header_bytes();
        let middle = (1..sizes.len() - 1)
            .filter(|&m| {
                header + sizes[..m].iter().sum::<usize>() <= payload
                    && header + sizes[m + 1..].iter().sum::<usize>() <= payload
            })
            .min_by_key(|&m| {
                let left: usize = sizes[..m].iter().sum();
                let right: usize = sizes[m + 1..].iter().sum();
                left.abs_diff(right)
            })
            .ok_or_else(|| corrupt(id, "branch entries too large to split"))?;
        let mut right_entries = node.entries.split_off(middle);
        let mut separator = right_entries.remove(0);
        let right = BranchNode {
            first_child: separator.child,
            entries: right_entries,
        };
        let left = self.write_node(Some(id), node.encode(page_size))?;
        separator.child = self.write_node(None, right.encode(page_size))?;
        Ok(Grown::Split { left, separator })
    }

    fn remove_from(
        &mut self,
        id: PageId,
        key: &[u8],
        want_old: bool,
        outcome: &mut Outcome,
        depth: usize,
    ) -> Result<Option<Shrunk>> {
        if depth > DEPTH_MAX {
            return Err(corrupt(id, "tree deeper than any valid tree"));
        }
        let page = self.store().read(id)?;
        let quarter = self.payload() / 4;
        match node_kind(&page).ok_or_else(|| corrupt(id, "not a tree node"))? {
            NodeKind::Leaf => {
                let view = LeafView::new(&page, id)?;
                let Ok(index) = search_leaf(self.store(), &view, key)? else {
                    return Ok(None);
                };
                let (stored_key, stored_value) = view.entry(index)?;
                if let KeyRef::Overflow { first, len } = stored_key {
                    free_chain(&mut self.writer, first, len)?;
                }
                outcome.replaced = true;
                outcome.old = self.release(stored_of(&page, stored_value), want_old)?;
                let (buf, used) =
                    splice_leaf(&page, id, index, true, None, self.store().page_size())?
                        .expect("a leaf with one entry fewer fits its page");
                let id = self.write_node(Some(id), buf)?;
                Ok(Some(Shrunk {
                    id,
                    underfull: used < quarter,
                }))
            }
            NodeKind::Branch => {
                let (index, child) = child_for(self.store(), &page, id, key)?;
                drop(page);
                let Some(shrunk) = self.remove_from(child, key, want_old, outcome, depth + 1)?
                else {
                    return Ok(None);
                };
                if shrunk.id == child && !shrunk.underfull {
                    return Ok(Some(Shrunk {
                        id,
                        underfull: false,
                    }));
                }
                let mut node = self.decode_branch(id)?;
                node.set_child(index, shrunk.id);
                if shrunk.underfull && !node.entries.is_empty() {
                    self.merge_children(&mut node, index)?;
                }
                let underfull = node.encoded_len() < quarter;
                let id = self.write_node(Some(id), node.encode(self.store().page_size()))?;
                Ok(Some(Shrunk { id, underfull }))
            }
        }
    }

    /// Merges child `index` of `node` with a neighbour when both fit in one page.
    fn merge_children(&mut self, node: &mut BranchNode, index: usize) -> Result<()> {
        let left_index = if index > 0 { index - 1 } else { 0 };
        let (left_id, right_id) = (node.child(left_index), node.child(left_index + 1));
        let payload = self.payload();
        let page_size = self.store().page_size();
        let merged = match self.kind(left_id)? {
            NodeKind::Leaf => {
                let mut left = self.decode_leaf(left_id)?;
                let right = self.decode_leaf(right_id)?;
                left.entries.extend(right.entries);
                if left.encoded_len() > payload {
                    return Ok(());
                }
                // The separator disappears: free its own overflow chain.
                let separator = node.entries.remove(left_index);
                if let Some(first) = separator.key_overflow {
                    free_chain(&mut self.writer, first, separator.key.len())?;
                }
                left.encode(page_size)
            }
            NodeKind::Branch => {
                let mut left = self.decode_branch(left_id)?;
                let right = self.decode_branch(right_id)?;
                let separator = &node.entries[left_index];
                let pulled_down = BranchEntry {
                    key: separator.key.clone(),
                    key_overflow: separator.key_overflow,
                    child: right.first_child,
                };
                left.entries.push(pulled_down);
                left.entries.extend(right.entries);
                if left.encoded_len() > payload {
                    return Ok(());
                }
                // The separator moved down into the merged node, with its overflow chain.
                node.entries.remove(left_index);
                left.encode(page_size)
            }
        };
        let merged_id = self.write_node(Some(left_id), merged)?;
        self.writer.free(right_id);
        node.set_child(left_index, merged_id);
        Ok(())
    }

    /// Frees a subtree: nodes, values' and keys' overflow chains, separators' chains.
    /// `visited` makes a damaged tree that reaches a page twice an error, not a double free
    /// or an exponential walk.
    fn free_subtree(
        &mut self,
        id: PageId,
        depth: usize,
        visited: &mut HashSet<PageId>,
    ) -> Result<()> {
        if depth > DEPTH_MAX {
            return Err(corrupt(id, "tree deeper than any valid tree"));
        }
        if !visited.insert(id) {
            return Err(corrupt(id, "page reached twice"));
        }
        match self.kind(id)? {
            NodeKind::Leaf => {
                for entry in self.decode_leaf(id)?.entries {
                    if let Some(first) = entry.key_overflow {
                        free_chain(&mut self.writer, first, entry.key.len())?;
                    }
                    self.release(entry.value, false)?;
                }
            }
            NodeKind::Branch => {
                let node = self.decode_branch(id)?;
                for index in 0..=node.entries.len() {
                    self.free_subtree(node.child(index), depth + 1, visited)?;
                }
                for entry in node.entries {
                    if let Some(first) = entry.key_overflow {
                        free_chain(&mut self.writer, first, entry.key.len())?;
                    }
                }
            }
        }
        self.writer.free(id);
        Ok(())
    }
}

/// A stored value as an owned [`Stored`] (copying inline bytes out of the page).
fn stored_of(page: &folio_pagestore::Page, value: ValueRef) -> Stored {
    match value {
        ValueRef::Inline(range) => Stored::Inline(page[range].to_vec()),
        ValueRef::Overflow { first, len } => Stored::Overflow { first, len },
    }
}

/// The split index `k` (left = entries[..k]) with both halves fitting `payload` and the
/// halves closest in size. Exists whenever every entry is at most half a page.
fn balanced_split(sizes: &[usize], header: usize, payload: usize) -> Option<usize> {
    let total: usize = sizes.iter().sum();
    let mut left = 0;
    let mut best: Option<(usize, usize)> = None;
    for k in 1..sizes.len() {
        left += sizes[k - 1];
        let right = total - left;
        if header + left <= payload && header + right <= payload {
            let imbalance = left.abs_diff(right);
            if best.is_none_or(|(_, b)| imbalance < b) {
                best = Some((k, imbalance));
            }
        }
    }
    best.map(|(k, _)| k)
}

/// The shortest key `s` with `left < s <= right` (for `left < right`): keeps branch
/// separators short, so branches hold more children.
fn shortest_separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..(common + 1).min(right.len())].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_separator_is_between_its_keys() {
        for (left, right) in [
            (&b"apple"[..], &b"banana"[..]),
            (b"abc", b"abd"),
            (b"ab", b"abc"),
            (b"", b"a"),
            (b"abc\xff", b"abd"),
        ] {
            let s = shortest_separator(left, right);
            assert!(
                left < s.as_slice() && s.as_slice() <= right,
                "{left:?} {s:?} {right:?}"
            );
        }
        assert_eq!(shortest_separator(b"apple", b"banana"), b"b");
    }

    #[test]
    fn balanced_split_keeps_both_halves_within_a_page() {
        let sizes = [500, 500, 500, 500, 3000];
        let k = balanced_split(&sizes, 8, 4088).unwrap();
        let left: usize = sizes[..k].iter().sum();
        assert!(8 + left <= 4088 && 8 + sizes.iter().sum::<usize>() - left <= 4088);
    }
}
