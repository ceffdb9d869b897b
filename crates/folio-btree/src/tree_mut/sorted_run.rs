//! Runs of changes in key order (a replayed batch, a sorted import): the leaf the last change
//! landed in is kept with the separator above it, so later changes below that separator go
//! straight to the leaf. A run pays one descent per leaf it touches, not one per change, and
//! that descent starts from the deepest branch of the previous path whose subtree holds the
//! key, not from the root.
//!
//! A [`RunHint`] names a leaf this transaction owns, the owned branches down to it (what
//! `descend_owned` leaves in `path`) and the tightest separator above each of them. It
//! holds while no leaf has split since it was taken (`BTreeMut::splits`: a split moves keys
//! and separators) and nothing was spilled (its pages may have left memory), and only for
//! keys above the one it was taken for: changes of a run come in increasing key order, and
//! the leaf's lower bound is at or below the key that found it.

use folio_pagestore::PageId;

use super::BTreeMut;
use crate::Result;
use crate::node::{BranchView, KeyRef};

/// The leaf a run of increasing keys is landing in (see the module docs).
#[derive(Debug)]
pub(crate) struct RunHint {
    leaf: PageId,
    path: Vec<(PageId, usize)>,
    /// For each branch of `path`, then for the leaf: keys below this lie in its subtree
    /// (its lower bound is below the key that found it); `None`: no separator above it.
    highs: Vec<Option<Vec<u8>>>,
    /// `BTreeMut::splits` when the hint was taken.
    splits: u64,
}

impl BTreeMut {
    /// Applies `changes`, a put for each `Some(value)` and a delete for each `None`, whose
    /// keys strictly increase (panics in debug builds if they do not; in release builds
    /// misordered keys are still applied correctly, only without the shortcut). The same
    /// result as calling [`BTreeMut::put`] and [`BTreeMut::delete_key`] in turn, with one
    /// descent per leaf reached instead of one per change.
    pub fn apply_sorted_run<'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) -> Result<()> {
        let mut hint: Option<RunHint> = None;
        let mut previous: Option<&[u8]> = None;
        for (key, value) in changes {
            let increasing = previous.is_none_or(|previous| previous < key);
            debug_assert!(increasing, "a sorted run's keys must strictly increase");
            if !increasing {
                hint = None;
            }
            previous = Some(key);
            if let Some(value) = value {
                self.upsert_hinted(key, value, false, Some(&mut hint))?;
            } else {
                hint = None; // a removal may merge leaves
                self.delete_key(key)?;
            }
        }
        Ok(())
    }

    /// The owned leaf for `key`: `hint`'s when it still covers `key`, else found by a
    /// descent from the deepest branch of the hint's path whose subtree holds `key` (the
    /// root when there is no hint), which leaves a new hint. Either way `self.path` holds
    /// the path to it.
    pub(super) fn hinted_leaf(
        &mut self,
        root: PageId,
        key: &[u8],
        hint: &mut Option<RunHint>,
    ) -> Result<PageId> {
        let mut highs = Vec::new();
        let start = match hint.take() {
            Some(current) if current.splits == self.splits => {
                let below = |high: &Option<Vec<u8>>| high.as_deref().is_none_or(|high| key < high);
                if current.highs.last().is_some_and(below) {
                    self.path.clone_from(&current.path);
                    let leaf = current.leaf;
                    *hint = Some(current);
                    return Ok(leaf);
                }
                // The deepest branch whose subtree holds the key (the root's always does):
                // its pages down from the root are the transaction's own already.
                let depth = current.highs.iter().rposition(below).unwrap_or(0);
                self.path.clone_from(&current.path);
                self.path.truncate(depth);
                highs = current.highs;
                highs.truncate(depth + 1);
                current.path[depth].0
            }
            _ => {
                self.path.clear();
                highs.push(None);
                self.own_root(root)?
            }
        };
        // The tightest separator above each node on the way down; no hint when one is
        // stored in an overflow chain (rare: long keys).
        let mut usable = true;
        let leaf = self.descend_owned_from(start, key, |page, id, index| {
            let view = BranchView::new(page, id)?;
            let parent = highs.last().cloned().flatten();
            highs.push(if index < view.len() {
                match view.key(index)? {
                    KeyRef::Inline(separator) => Some(separator.to_vec()),
                    KeyRef::Overflow { .. } => {
                        usable = false;
                        None
                    }
                }
            } else {
                parent
            });
            Ok(())
        })?;
        *hint = usable.then(|| RunHint {
            leaf,
            path: self.path.clone(),
            highs,
            splits: self.splits,
        });
        Ok(leaf)
    }
}
