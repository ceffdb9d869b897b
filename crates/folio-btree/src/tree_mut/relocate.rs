//! [`BTreeMut::relocate_from`]: moving a tree's pages below a boundary (compaction).

use std::collections::HashSet;

use folio_pagestore::PageId;

use super::BTreeMut;
use crate::node::{BranchView, check_slotted};
use crate::node::{KeyRef, NodeKind, Slotted, ValueRef, entry_key, entry_value, node_kind};
use crate::overflow::{chain_pages, free_chain, read_chain, write_chain};
use crate::search::DEPTH_MAX;
use crate::{Result, error::corrupt};

/// Bytes of an overflow reference (a page id) inside an entry.
const REF_BYTES: usize = 8;

impl BTreeMut {
    /// Copies every page of the tree at or above page `boundary` (nodes, overflow chains of
    /// keys and values) to newly allocated pages, rewriting the path from each to the root;
    /// the old pages are freed. The page store hands out the lowest free pages first, so
    /// after this (and a checkpoint) the end of the file holds no page of the tree. Returns
    /// the pages moved. Part of the open transaction: commit or roll back as usual.
    pub fn relocate_from(&mut self, boundary: u64) -> Result<u64> {
        self.epoch += 1; // pages move or go: run hints lapse
        let Some(root) = self.root else {
            return Ok(0);
        };
        let mut moved = 0;
        let mut visited = HashSet::new();
        let new_root = self.relocate_node(root, boundary, 0, &mut moved, &mut visited)?;
        self.root = Some(new_root);
        Ok(moved)
    }

    /// Relocates `chain` (of `len` bytes) when any of its pages is at or above `boundary`;
    /// returns its (possibly new) first page.
    fn relocate_chain(
        &mut self,
        first: PageId,
        len: usize,
        boundary: u64,
        moved: &mut u64,
    ) -> Result<PageId> {
        let pages = chain_pages(self.pages(), first, len)?;
        if pages.iter().all(|page| page.0 < boundary) {
            return Ok(first);
        }
        let bytes = read_chain(self.pages(), first, len)?;
        free_chain(&mut self.writer, first, len)?;
        *moved += pages.len() as u64;
        write_chain(&mut self.writer, &bytes)
    }

    /// Relocates the node at `id` and everything below it; returns its (possibly new) id.
    fn relocate_node(
        &mut self,
        id: PageId,
        boundary: u64,
        depth: usize,
        moved: &mut u64,
        visited: &mut HashSet<PageId>,
    ) -> Result<PageId> {
        if depth > DEPTH_MAX {
            return Err(corrupt(id, "tree deeper than any valid tree"));
        }
        if !visited.insert(id) {
            return Err(corrupt(id, "page reached twice"));
        }
        let page = self.pages().read(id)?;
        let kind = node_kind(&page).ok_or_else(|| corrupt(id, "not a tree node"))?;
        check_slotted(&page, id, kind)?;
        let mut node = id;
        if id.0 >= boundary {
            node = self.own(id)?;
            *moved += 1;
        }
        let count = Slotted::new(&page[..], kind).count();
        if kind == NodeKind::Branch {
            let view = BranchView::new(&page, id)?;
            for index in 0..=count {
                let child = view.child(index)?;
                let new = self.relocate_node(child, boundary, depth + 1, moved, visited)?;
                if new != child {
                    node = self.own(node)?;
                    self.node_mut(node, kind).set_child(index, new);
                }
            }
        }
        // Overflow chains of keys (and of leaf values), rewritten in the owned copy.
        for index in 0..count {
            let entry = Slotted::new(&page[..], kind).entry(index).to_vec();
            let key_at = match kind {
                NodeKind::Leaf => crate::node::LEAF_KEY_AT,
                NodeKind::Branch => crate::node::BRANCH_KEY_AT,
            };
            let key = match kind {
                NodeKind::Leaf => entry_key(&entry),
                NodeKind::Branch => crate::node::branch_entry_key(&entry),
            };
            if let KeyRef::Overflow { first, len } = key {
                let new = self.relocate_chain(first, len, boundary, moved)?;
                if new != first {
                    node = self.own(node)?;
                    self.node_mut(node, kind).entry_mut(index)[key_at..key_at + REF_BYTES]
                        .copy_from_slice(&new.0.to_le_bytes());
                }
            }
            if kind == NodeKind::Leaf
                && let ValueRef::Overflow { first, len, .. } = entry_value(&entry)
            {
                let new = self.relocate_chain(first, len as usize, boundary, moved)?;
                if new != first {
                    let value_at = key_at + crate::node::stored_key_bytes(key);
                    node = self.own(node)?;
                    self.node_mut(node, kind).entry_mut(index)[value_at..value_at + REF_BYTES]
                        .copy_from_slice(&new.0.to_le_bytes());
                }
            }
        }
        Ok(node)
    }
}
