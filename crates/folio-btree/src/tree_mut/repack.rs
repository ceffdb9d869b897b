//! [`BTreeMut::repack`]: the tree rewritten in key order.

use super::BTreeMut;
use crate::{BTree, Error, Result};

impl BTreeMut {
    /// Rewrites the committed tree in key order into new pages: every leaf and branch is
    /// packed as appending packs it (full, where random inserts leave leaves about 70 %
    /// full), and every value is re-encoded with the tree's current compression (so values
    /// written before a compression setting changed take it on). The contents do not
    /// change. The old pages are read while the new ones are written, and freed at the
    /// end; committed pages are not reused before the next checkpoint, so they stay intact
    /// meanwhile. Only without uncommitted changes. Part of the open change: commit (or
    /// roll back) as usual. Returns the entries written.
    pub fn repack(&mut self) -> Result<u64> {
        self.epoch += 1; // pages move or go: run hints lapse
        if self.root != self.committed_root || self.len != self.committed_len {
            return Err(Error::UncommittedChanges);
        }
        let old_root = self.root.take();
        self.len = 0;
        let old = BTree::new(self.store().clone(), old_root);
        let mut written = 0;
        for entry in old.iter() {
            let (key, value) = entry?;
            self.put(&key, &value)?;
            written += 1;
        }
        self.free_tree_pages(old_root)?;
        Ok(written)
    }
}
