//! [`BTreeMut::relocate_from`]: moving a tree's pages below a boundary (compaction).

use std::collections::HashSet;

use folio_pagestore::PageId;

use super::BTreeMut;
use crate::node::{NodeKind, Stored};
use crate::overflow::{chain_pages, free_chain, read_chain, write_chain};
use crate::tree::DEPTH_MAX;
use crate::{Result, error::corrupt};

impl BTreeMut {
    /// Copies every page of the tree at or above page `boundary` (nodes, overflow chains of
    /// keys and values) to newly allocated pages, rewriting the path from each to the root;
    /// the old pages are freed. The page store hands out the lowest free pages first, so
    /// after this (and a checkpoint) the end of the file holds no page of the tree. Returns
    /// the pages moved. Part of the open transaction: commit or roll back as usual.
    pub fn relocate_from(&mut self, boundary: u64) -> Result<u64> {
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
        let pages = chain_pages(self.store(), first, len)?;
        if pages.iter().all(|page| page.0 < boundary) {
            return Ok(first);
        }
        let bytes = read_chain(self.store(), first, len)?;
        free_chain(&mut self.writer, first, len)?;
        *moved += pages.len() as u64;
        write_chain(&mut self.writer, &bytes)
    }

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
        let page_size = self.store().page_size();
        let mut changed = id.0 >= boundary;
        let encoded = match self.kind(id)? {
            NodeKind::Leaf => {
                let mut node = self.decode_leaf(id)?;
                for entry in &mut node.entries {
                    if let Some(first) = entry.key_overflow {
                        let new = self.relocate_chain(first, entry.key.len(), boundary, moved)?;
                        changed |= new != first;
                        entry.key_overflow = Some(new);
                    }
                    if let Stored::Overflow { first, len } = entry.value {
                        let new = self.relocate_chain(first, len as usize, boundary, moved)?;
                        changed |= new != first;
                        entry.value = Stored::Overflow { first: new, len };
                    }
                }
                changed.then(|| node.encode(page_size))
            }
            NodeKind::Branch => {
                let mut node = self.decode_branch(id)?;
                for index in 0..=node.entries.len() {
                    let child = node.child(index);
                    let new = self.relocate_node(child, boundary, depth + 1, moved, visited)?;
                    if new != child {
                        node.set_child(index, new);
                        changed = true;
                    }
                }
                for entry in &mut node.entries {
                    if let Some(first) = entry.key_overflow {
                        let new = self.relocate_chain(first, entry.key.len(), boundary, moved)?;
                        changed |= new != first;
                        entry.key_overflow = Some(new);
                    }
                }
                changed.then(|| node.encode(page_size))
            }
        };
        match encoded {
            Some(buf) => {
                if id.0 >= boundary {
                    *moved += 1;
                }
                self.write_node(Some(id), buf)
            }
            None => Ok(id),
        }
    }
}
