//! [`BTreeMut`]: a tree being changed inside a write transaction (copy-on-write, then in
//! place).
//!
//! # How a change is made
//! 1. Descend from the root to the leaf, making each page on the path the transaction's own
//!    ([`BTreeMut::own_child`]): a page the transaction already owns is used as it is; any
//!    other (committed, shared with readers) is copied to a newly allocated page, the parent's
//!    child pointer (an 8-byte write into the already-owned parent) is pointed at the copy,
//!    and the old page is freed (readers of older snapshots keep reading it until the page
//!    store's reclamation rules let it go).
//! 2. Edit the leaf in place ([`crate::node::Slotted`]): an insert shifts a few offset slots
//!    and writes one entry; nothing is decoded or re-encoded.
//! 3. A leaf (or branch) that is full splits into a new page; the separator goes up the path
//!    the descent recorded (`split.rs`). A leaf or branch left under a quarter full merges with
//!    a neighbour (`remove.rs`).
//!
//! So a transaction copies each page it touches once, however many changes it makes there;
//! its pages stay private to it ([`folio_pagestore::PageWriter`]) until it commits.

use folio_pagestore::{PageId, PageStore, PageWriter};

use crate::node::{
    KEY_BYTES_MAX, KeyRef, LeafEntry, LeafView, NodeKind, Slotted, StoredRef, VALUE_BYTES_MAX,
    ValueRef, check_slotted, entry_key, key_inline_max, node_kind, value_fits_inline,
};
use crate::overflow::{free_chain, write_chain, write_chain_spilling};
use crate::pages::Pages;
use crate::search::{DEPTH_MAX, child_for, read_value, search_leaf};
use crate::tree::BTree;
use crate::{Compression, Error, Result, Value, error::corrupt};

mod free;
mod relocate;
mod remove;
mod remove_range;
mod repack;
mod sorted_run;
mod split;

pub use sorted_run::OrderHint;
pub(crate) use sorted_run::RunHint;

/// When a transaction spills pages to the data file (see [`BTreeMut::set_spill_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillPolicy {
    /// Bound on the store's dirty pages and every open transaction's pages together.
    pub bound_bytes: usize,
    /// A transaction holding at most this many bytes of pages never spills (its share of
    /// the bound never drops below it).
    pub floor_bytes: usize,
}

impl SpillPolicy {
    /// The floor folio uses: 4 MiB (a spill is one large write).
    pub const FLOOR_BYTES: usize = 4 << 20;
}

/// A tree being modified. Owns the [`PageWriter`] of its owner (one per column family), so
/// trees of different owners never contend.
#[derive(Debug)]
pub struct BTreeMut {
    writer: PageWriter,
    root: Option<PageId>,
    len: u64,
    committed_root: Option<PageId>,
    committed_len: u64,
    /// Reused by every edit: the page compaction buffer and the descent's path (each
    /// owned branch with the child index taken), so an edit allocates nothing.
    scratch: Vec<u8>,
    path: Vec<(PageId, usize)>,
    /// When the open transaction spills pages; `None`: never.
    spill: Option<SpillPolicy>,
    /// How values written from now on are compressed.
    compression: Compression,
    /// Changes that move keys between pages or end the transaction's ownership of its
    /// pages (splits, merges, range removals, commits, rollbacks, savepoints, spills): a
    /// [`RunHint`] is good only while this stands still.
    epoch: u64,
}

/// A point inside a transaction a [`BTreeMut`] can roll back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeSavepoint {
    root: Option<PageId>,
    len: u64,
    writer: folio_pagestore::WriterSavepoint,
}

/// What an insert or removal found.
#[derive(Default)]
struct Outcome {
    /// An entry with the key was there (replaced or removed).
    found: bool,
    /// Its value, when asked for.
    old: Option<Vec<u8>>,
}

/// A key or value copied out of a page, to be written elsewhere (a separator going up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OwnedKey {
    Inline(Vec<u8>),
    Overflow { first: PageId, len: usize },
}

impl OwnedKey {
    pub(crate) fn from_ref(key: KeyRef<'_>) -> Self {
        match key {
            KeyRef::Inline(bytes) => OwnedKey::Inline(bytes.to_vec()),
            KeyRef::Overflow { first, len } => OwnedKey::Overflow { first, len },
        }
    }

    pub(crate) fn from_stored(key: StoredRef<'_>) -> Self {
        match key {
            StoredRef::Inline(bytes) => OwnedKey::Inline(bytes.to_vec()),
            StoredRef::Overflow { first, len } => OwnedKey::Overflow { first, len },
        }
    }

    pub(crate) fn as_stored(&self) -> StoredRef<'_> {
        match self {
            OwnedKey::Inline(bytes) => StoredRef::Inline(bytes),
            OwnedKey::Overflow { first, len } => StoredRef::Overflow {
                first: *first,
                len: *len,
            },
        }
    }
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
            scratch: Vec::new(),
            epoch: 0,
            path: Vec::new(),
            spill: None,
            compression: Compression::None,
        }
    }

    /// Compresses values written from now on with `compression` (values already stored
    /// keep their form; reads decode each value by its own flag).
    pub fn set_compression(&mut self, compression: Compression) {
        self.compression = compression;
    }

    /// How this tree compresses the values it writes.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Bounds the memory this tree's open transactions hold: before each change, when the
    /// store's dirty pages and every open transaction's pages pass the policy's bound (and
    /// this transaction holds more than its floor), the transaction spills leaves and
    /// overflow pages to the data file (see [`PageWriter::spill`]) until it is back under
    /// its share. Branches stay in memory: every descent reads them.
    pub fn set_spill_policy(&mut self, policy: Option<SpillPolicy>) {
        self.spill = policy;
    }

    /// Pages of the open transaction now spilled to the data file.
    pub fn spilled_pages(&self) -> usize {
        self.writer.spilled_pages()
    }

    /// Pages per spill while writing the overflow chain of `value`: a value larger than the
    /// spill floor is spilled as it is written, 1 MiB at a time.
    fn chain_spill_batch(&self, value: &[u8]) -> Option<usize> {
        let policy = self.spill?;
        (value.len() > policy.floor_bytes).then(|| ((1 << 20) / self.store().page_size()).max(1))
    }

    /// Spills pages when the bound is passed (see [`BTreeMut::set_spill_policy`]).
    fn bound_memory(&mut self) -> Result<()> {
        let Some(policy) = self.spill else {
            return Ok(());
        };
        let own = self.writer.private_bytes();
        if own <= policy.floor_bytes {
            return Ok(());
        }
        let store = self.store();
        let others = (store.dirty_bytes() + store.private_bytes()).saturating_sub(own);
        let share = policy
            .bound_bytes
            .saturating_sub(others)
            .max(policy.floor_bytes);
        if own <= share {
            return Ok(());
        }
        // Down to three quarters of the share: a spill is one large write, not one per page.
        let page = self.store().page_size();
        let excess = (own - share * 3 / 4).div_ceil(page);
        let victims: Vec<PageId> = self
            .writer
            .private_pages()
            .filter(|(_, page)| node_kind(page) != Some(NodeKind::Branch))
            .map(|(id, _)| id)
            .take(excess)
            .collect();
        if !victims.is_empty() {
            self.epoch += 1; // their pages leave memory: hints lapse
        }
        Ok(self.writer.spill(&victims)?)
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

    /// A read view of the current state (uncommitted changes included). It borrows the tree:
    /// no change can be made while it lives.
    pub fn view(&self) -> BTree<'_> {
        BTree::with_writer(&self.writer, self.root)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>> {
        self.view().get(key)
    }

    /// [`crate::check_tree`] of the current state (uncommitted changes included).
    pub fn check(&self) -> Result<crate::IntegrityReport> {
        crate::integrity::check_pages(self.pages(), self.root)
    }

    /// Inserts or replaces `key`; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.upsert(key, value, true)?.old)
    }

    /// Inserts or replaces `key` without reading the previous value (cheaper when it is
    /// large); returns whether a value was replaced.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        Ok(self.upsert(key, value, false)?.found)
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.delete(key, true)?.old)
    }

    /// Removes `key` without reading its value; returns whether it was present.
    pub fn delete_key(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.delete(key, false)?.found)
    }

    /// Makes the changes part of commit `version` (see [`PageWriter::commit`]); the caller
    /// publishes [`BTreeMut::root`] with that version.
    pub fn commit(&mut self, version: u64) {
        self.epoch += 1;
        self.writer.commit(version);
        self.committed_root = self.root;
        self.committed_len = self.len;
    }

    /// Marks the current state of the tree; [`BTreeMut::rollback_to`] returns to it.
    pub fn savepoint(&mut self) -> TreeSavepoint {
        self.epoch += 1; // its pages are frozen: edits copy them again, hints lapse
        TreeSavepoint {
            root: self.root,
            len: self.len,
            writer: self.writer.savepoint(),
        }
    }

    /// Returns the tree to `savepoint` (taken in the current transaction), undoing every
    /// change since; the savepoint stays valid.
    pub fn rollback_to(&mut self, savepoint: &TreeSavepoint) {
        self.epoch += 1;
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
        self.epoch += 1;
        self.writer.rollback();
        self.root = self.committed_root;
        self.len = self.committed_len;
    }

    /// Bytes of pages the open transaction wrote and holds until it commits.
    pub fn private_bytes(&self) -> usize {
        self.writer.private_bytes()
    }

    /// Gives the writer back (for example to open another tree with it).
    pub fn into_writer(self) -> PageWriter {
        self.writer
    }

    fn payload(&self) -> usize {
        self.store().payload_size()
    }

    /// Where this tree reads pages: its transaction's own first.
    fn pages(&self) -> Pages<'_> {
        Pages::new(self.writer.store(), Some(&self.writer))
    }

    fn check_sizes(key: &[u8], value: &[u8]) -> Result<()> {
        check_entry_sizes(key.len(), value.len())
    }

    /// A new, empty node of `kind`, owned by the transaction.
    fn new_node(&mut self, kind: NodeKind) -> Result<PageId> {
        let id = self.writer.allocate()?;
        let page = self.store().zeroed_page().into_page();
        self.writer.write(id, page);
        Slotted::init(self.node_bytes(id), kind);
        Ok(id)
    }

    /// The bytes of a node the transaction owns, for editing.
    fn node_bytes(&mut self, id: PageId) -> &mut [u8] {
        self.writer
            .private_mut(id)
            .expect("the node was made the transaction's own before it is edited")
    }

    /// A node the transaction owns, as an editable page of `kind`.
    fn node_mut(&mut self, id: PageId, kind: NodeKind) -> Slotted<&mut [u8]> {
        edit(&mut self.writer, id, kind)
    }

    /// The payload of a page the transaction owns, to read.
    fn own_page(&self, id: PageId) -> &[u8] {
        self.writer
            .private(id)
            .expect("the node was made the transaction's own before it is read as such")
    }

    /// Makes node `id` the transaction's own: returns it when it is already, else copies it
    /// to a new page and frees it (see [`BTreeMut::copy_to_own`]).
    fn own(&mut self, id: PageId) -> Result<PageId> {
        if self.writer.owns_resident(id) {
            return Ok(id);
        }
        if self.writer.allocated_in_txn(id) {
            self.writer.make_resident(id)?;
            return Ok(id);
        }
        self.copy_to_own(id)
    }

    /// Copies node `id` (not the transaction's own) to a new page and frees it. The page is
    /// checked first: an edit must never trust a damaged page (whether the file or a bug
    /// elsewhere damaged it), nor free a page that is free already.
    fn copy_to_own(&mut self, id: PageId) -> Result<PageId> {
        if self.writer.is_free(id) {
            return Err(corrupt(id, "a child pointer names a free page"));
        }
        let page = self.pages().read(id)?;
        let kind = node_kind(&page).ok_or_else(|| corrupt(id, "not a tree node"))?;
        check_slotted(&page, id, kind)?;
        let copy = self.writer.allocate()?;
        if copy == id {
            // The page was one this writer had reserved: free, so no tree may name it.
            self.writer.free(copy);
            return Err(corrupt(id, "a child pointer names a free page"));
        }
        let bytes = self.store().copy_page(&page);
        self.writer.write(copy, bytes);
        self.writer.free(id);
        Ok(copy)
    }

    /// Makes `child`, child `index` of the owned branch `parent`, the transaction's own,
    /// pointing the parent at the copy when one was made; returns the child's (new) id.
    fn own_child(&mut self, parent: PageId, index: usize, child: PageId) -> Result<PageId> {
        let owned = self.own(child)?;
        if owned == child {
            return Ok(child);
        }
        self.node_mut(parent, NodeKind::Branch)
            .set_child(index, owned);
        Ok(owned)
    }

    /// Makes the root the transaction's own.
    fn own_root(&mut self, root: PageId) -> Result<PageId> {
        let owned = self.own(root)?;
        self.root = Some(owned);
        Ok(owned)
    }

    /// Descends from the root to the leaf for `key`, making every page on the way the
    /// transaction's own and recording the branches in `self.path`; returns the leaf.
    fn descend_owned(&mut self, root: PageId, key: &[u8]) -> Result<PageId> {
        self.descend_owned_with(root, key, |_, _, _| Ok(()))
    }

    /// [`BTreeMut::descend_owned`], showing `at_branch` each branch (its bytes, id, and the
    /// child index taken) before descending from it.
    #[inline]
    fn descend_owned_with(
        &mut self,
        root: PageId,
        key: &[u8],
        mut at_branch: impl FnMut(&[u8], PageId, usize) -> Result<()>,
    ) -> Result<PageId> {
        self.path.clear();
        let mut id = self.own_root(root)?;
        for _ in 0..DEPTH_MAX {
            let page = self.own_page(id);
            match node_kind(page) {
                // Only a root leaf is ever empty; an edit of another (a damaged page) could
                // leave a split with an empty half.
                Some(NodeKind::Leaf)
                    if !self.path.is_empty() && LeafView::new(page, id)?.len() == 0 =>
                {
                    return Err(corrupt(id, "empty non-root leaf"));
                }
                Some(NodeKind::Leaf) => return Ok(id),
                Some(NodeKind::Branch) => {
                    let (index, child) = child_for(self.pages(), page, id, key)?;
                    at_branch(page, id, index)?;
                    let child = self.own_child(id, index, child)?;
                    self.path.push((id, index));
                    id = child;
                }
                None => return Err(corrupt(id, "not a tree node")),
            }
        }
        Err(corrupt(id, "tree deeper than any valid tree"))
    }

    /// The key as a leaf stores it: inline, or in a new overflow chain when long.
    fn store_key<'k>(&mut self, key: &'k [u8]) -> Result<StoredRef<'k>> {
        Ok(if key.len() > key_inline_max(self.payload()) {
            StoredRef::Overflow {
                first: write_chain(&mut self.writer, key)?,
                len: key.len(),
            }
        } else {
            StoredRef::Inline(key)
        })
    }

    /// The value as a leaf stores it beside `key` (as stored): inline, or in a new overflow
    /// chain when the entry would take more than half a leaf.
    fn store_value<'v>(&mut self, key: &StoredRef<'_>, value: &'v [u8]) -> Result<StoredRef<'v>> {
        if value_fits_inline(self.payload(), key.node_bytes(), value.len()) {
            return Ok(StoredRef::Inline(value));
        }
        let spill_batch = self.chain_spill_batch(value);
        Ok(StoredRef::Overflow {
            first: write_chain_spilling(&mut self.writer, value, spill_batch)?,
            len: value.len(),
        })
    }

    /// Frees a stored value (its overflow chain), first reading it if `want` is set.
    fn release_value(
        &mut self,
        leaf: PageId,
        value: &ValueRef,
        want: bool,
    ) -> Result<Option<Vec<u8>>> {
        let old = if want {
            Some(read_value(self.pages(), self.own_page(leaf), leaf, value)?)
        } else {
            None
        };
        if let ValueRef::Overflow { first, len, .. } = *value {
            free_chain(&mut self.writer, first, len as usize)?;
        }
        Ok(old)
    }

    fn upsert(&mut self, key: &[u8], value: &[u8], want_old: bool) -> Result<Outcome> {
        self.upsert_hinted(key, value, want_old, None)
    }

    /// [`BTreeMut::upsert`], taking the leaf from `hint` when it covers `key` (a run of
    /// changes in key order: `sorted_run.rs`) and leaving in it the leaf this key landed in.
    fn upsert_hinted(
        &mut self,
        key: &[u8],
        value: &[u8],
        want_old: bool,
        hint: Option<&mut Option<RunHint>>,
    ) -> Result<Outcome> {
        Self::check_sizes(key, value)?;
        self.bound_memory()?; // a spill moves the epoch on: the hint lapses
        let frame = self.compression.encode(value);
        let value_compressed = frame.is_some();
        let value = frame.as_deref().unwrap_or(value);
        let Some(root) = self.root else {
            let stored_key = self.store_key(key)?;
            let entry = LeafEntry {
                value: self.store_value(&stored_key, value)?,
                key: stored_key,
                value_compressed,
            };
            let leaf = self.new_node(NodeKind::Leaf)?;
            let mut node = edit(&mut self.writer, leaf, NodeKind::Leaf);
            let at = node
                .insert(0, entry.len(), &mut self.scratch)
                .expect("an empty leaf holds any entry");
            entry.write(&mut node.bytes_mut()[at..at + entry.len()]);
            self.root = Some(leaf);
            self.len = self.len.saturating_add(1);
            return Ok(Outcome::default());
        };
        let leaf = match hint {
            None => self.descend_owned(root, key)?,
            Some(hint) => self.hinted_leaf(root, key, hint)?,
        };
        let found = {
            let view = LeafView::new(self.own_page(leaf), leaf)?;
            match search_leaf(self.pages(), &view, key)? {
                Ok(index) => {
                    let (stored_key, stored_value) = view.entry(index)?;
                    Ok((index, OwnedKey::from_ref(stored_key), stored_value))
                }
                Err(index) => Err(index),
            }
        };
        let mut outcome = Outcome::default();
        match found {
            Ok((index, stored_key, old_value)) => {
                outcome.found = true;
                outcome.old = self.release_value(leaf, &old_value, want_old)?;
                // The key keeps its form (and its overflow chain, if any).
                let key = match &stored_key {
                    OwnedKey::Inline(_) => StoredRef::Inline(key),
                    OwnedKey::Overflow { first, len } => StoredRef::Overflow {
                        first: *first,
                        len: *len,
                    },
                };
                let entry = LeafEntry {
                    value: self.store_value(&key, value)?,
                    key,
                    value_compressed,
                };
                self.replace_entry(leaf, index, &entry)?;
            }
            Err(index) => {
                let stored_key = self.store_key(key)?;
                let entry = LeafEntry {
                    value: self.store_value(&stored_key, value)?,
                    key: stored_key,
                    value_compressed,
                };
                self.insert_entry(leaf, index, &entry)?;
                self.len = self.len.saturating_add(1);
            }
        }
        Ok(outcome)
    }

    /// Writes `entry` at position `index` of the owned leaf, splitting it when it is full.
    fn insert_entry(&mut self, leaf: PageId, index: usize, entry: &LeafEntry<'_>) -> Result<()> {
        let mut node = edit(&mut self.writer, leaf, NodeKind::Leaf);
        if let Some(at) = node.insert(index, entry.len(), &mut self.scratch) {
            entry.write(&mut node.bytes_mut()[at..at + entry.len()]);
            return Ok(());
        }
        self.split_leaf(leaf, index, entry)
    }

    /// Replaces entry `index` of the owned leaf with `entry` (same key).
    fn replace_entry(&mut self, leaf: PageId, index: usize, entry: &LeafEntry<'_>) -> Result<()> {
        let mut node = edit(&mut self.writer, leaf, NodeKind::Leaf);
        let old_len = node.entry_len(index);
        if old_len == entry.len() {
            entry.write(node.entry_mut(index));
            return Ok(());
        }
        node.remove(index);
        self.insert_entry(leaf, index, entry)
    }
}

/// Node `id` (the transaction's own) of `writer`, as an editable page of `kind`; borrows
/// only the writer, so the tree's scratch buffer can be used alongside.
fn edit(writer: &mut PageWriter, id: PageId, kind: NodeKind) -> Slotted<&mut [u8]> {
    Slotted::new(
        writer
            .private_mut(id)
            .expect("the node was made the transaction's own before it is edited"),
        kind,
    )
}

/// The full bytes of the key of an encoded leaf entry.
pub(crate) fn leaf_entry_key_bytes(pages: Pages<'_>, entry: &[u8]) -> Result<Vec<u8>> {
    crate::search::key_bytes(pages, entry_key(entry))
}

/// The shortest key `s` with `left < s <= right` (for `left < right`): keeps branch
/// separators short, so branches hold more children.
pub(crate) fn shortest_separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..(common + 1).min(right.len())].to_vec()
}

/// The split index `k` (left = entries[..k]) with both halves fitting `room` and the halves
/// closest in size; `sizes` include each entry's slot. Exists whenever every entry is at
/// most half of `room`.
pub(crate) fn balanced_split(sizes: &[usize], room: usize) -> Option<usize> {
    let total: usize = sizes.iter().sum();
    let mut left = 0;
    let mut best: Option<(usize, usize)> = None;
    for k in 1..sizes.len() {
        left += sizes[k - 1];
        let right = total - left;
        if left <= room && right <= room {
            let imbalance = left.abs_diff(right);
            if best.is_none_or(|(_, b)| imbalance < b) {
                best = Some((k, imbalance));
            }
        }
    }
    best.map(|(k, _)| k)
}

/// [`Error::KeyTooLarge`] or [`Error::ValueTooLarge`] for an entry over the limits: what a put
/// checks, for callers that check before they write (a buffered or batched write).
pub fn check_entry_sizes(key: usize, value: usize) -> Result<()> {
    if key > KEY_BYTES_MAX {
        return Err(Error::KeyTooLarge {
            len: key,
            max: KEY_BYTES_MAX,
        });
    }
    if value > VALUE_BYTES_MAX {
        return Err(Error::ValueTooLarge {
            len: value,
            max: VALUE_BYTES_MAX,
        });
    }
    Ok(())
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
        let k = balanced_split(&sizes, 4080).unwrap();
        let left: usize = sizes[..k].iter().sum();
        assert!(left <= 4080 && sizes.iter().sum::<usize>() - left <= 4080);
    }
}
