//! Freeing whole trees: [`BTreeMut::clear`] and [`BTreeMut::free_tree_pages`] (dropping a
//! column family).

use std::collections::HashSet;

use folio_pagestore::PageId;

use super::BTreeMut;
use crate::node::{BranchView, KeyRef, LeafView, NodeKind, ValueRef, node_kind};
use crate::overflow::free_chain;
use crate::search::DEPTH_MAX;
use crate::{Result, error::corrupt};

impl BTreeMut {
    /// Frees every page of the tree (nodes and overflow chains) and empties it.
    pub fn clear(&mut self) -> Result<()> {
        self.epoch += 1; // pages move or go: run hints lapse
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
            Some(root) => self.free_subtree(root, 0, &mut HashSet::new()).map(drop),
            None => Ok(()),
        }
    }

    /// Frees a subtree: nodes, values' and keys' overflow chains, separators' chains;
    /// returns the entries its leaves held. `visited` makes a damaged tree that reaches a page twice an error, not a double free
    /// or an exponential walk.
    pub(super) fn free_subtree(
        &mut self,
        id: PageId,
        depth: usize,
        visited: &mut HashSet<PageId>,
    ) -> Result<u64> {
        if depth > DEPTH_MAX {
            return Err(corrupt(id, "tree deeper than any valid tree"));
        }
        if !visited.insert(id) {
            return Err(corrupt(id, "page reached twice"));
        }
        let page = self.pages().read(id)?;
        // Chains and children first (collected: freeing needs the writer mutably).
        let mut chains = Vec::new();
        let mut children = Vec::new();
        let mut entries = 0;
        match node_kind(&page).ok_or_else(|| corrupt(id, "not a tree node"))? {
            NodeKind::Leaf => {
                let view = LeafView::new(&page, id)?;
                entries = view.len() as u64;
                for index in 0..view.len() {
                    let (key, value) = view.entry(index)?;
                    if let KeyRef::Overflow { first, len } = key {
                        chains.push((first, len));
                    }
                    if let ValueRef::Overflow { first, len, .. } = value {
                        chains.push((first, len as usize));
                    }
                }
            }
            NodeKind::Branch => {
                let view = BranchView::new(&page, id)?;
                for index in 0..=view.len() {
                    children.push(view.child(index)?);
                }
                for index in 0..view.len() {
                    if let KeyRef::Overflow { first, len } = view.key(index)? {
                        chains.push((first, len));
                    }
                }
            }
        }
        drop(page);
        for child in children {
            entries += self.free_subtree(child, depth + 1, visited)?;
        }
        for (first, len) in chains {
            free_chain(&mut self.writer, first, len)?;
        }
        self.writer.free(id);
        Ok(entries)
    }
}
