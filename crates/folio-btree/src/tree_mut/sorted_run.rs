//! Runs of changes in key order (a replayed batch, a sorted import): the leaf the last change
//! landed in is kept with the separator above it, so later changes below that separator go
//! straight to the leaf. A run pays one descent per leaf it touches, not one per change.
//!
//! A [`RunHint`] names a leaf this transaction owns, the owned branches down to it (what
//! `descend_owned` leaves in `path`) and the tightest separator above it on that path. It
//! holds while the tree's epoch stands still (`BTreeMut::epoch`: no split or merge moved
//! keys and separators, no commit, rollback or savepoint ended the transaction's ownership
//! of the pages, no spill took them out of memory), and only for keys above
//! the one it was taken for: changes of a run come in increasing key order, and the leaf's
//! lower bound is at or below the key that found it.

use folio_pagestore::PageId;

use super::BTreeMut;
use crate::Result;
use crate::node::{BranchView, KeyRef};

/// The leaf a run of increasing keys is landing in (see the module docs).
#[derive(Debug)]
pub(crate) struct RunHint {
    leaf: PageId,
    path: Vec<(PageId, usize)>,
    /// Keys below this land in `leaf`; `None`: no separator above it (the rightmost leaf).
    high: Option<Vec<u8>>,
    /// `BTreeMut::epoch` when the hint was taken.
    epoch: u64,
}

/// Where the last of a series of puts landed, for [`BTreeMut::put_in_order`]; start with
/// `OrderHint::default()`.
#[derive(Debug, Default)]
pub struct OrderHint {
    hint: Option<RunHint>,
    /// The previous put's key (a hint holds only for keys above it).
    last: Option<Vec<u8>>,
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

    /// [`BTreeMut::put`] for a caller whose keys mostly increase (a bulk load): while they
    /// do, a put lands in the leaf the previous one reached, with no descent; a key at or
    /// below the previous one descends as `put` does. Any mix of calls stays correct: a
    /// change to the tree's shape, a commit or a rollback makes the next put descend.
    pub fn put_in_order(
        &mut self,
        key: &[u8],
        value: &[u8],
        order: &mut OrderHint,
    ) -> Result<bool> {
        if order.last.as_deref().is_some_and(|last| key <= last) {
            order.hint = None;
        }
        let found = self
            .upsert_hinted(key, value, false, Some(&mut order.hint))?
            .found;
        let last = order.last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(key);
        Ok(found)
    }

    /// The owned leaf for `key`: `hint`'s when it still covers `key`, else found by a
    /// descent (which leaves a new hint). Either way `self.path` holds the path to it.
    pub(super) fn hinted_leaf(
        &mut self,
        root: PageId,
        key: &[u8],
        hint: &mut Option<RunHint>,
    ) -> Result<PageId> {
        if let Some(current) = hint.as_ref()
            && current.epoch == self.epoch
            && current.high.as_deref().is_none_or(|high| key < high)
        {
            self.path.clone_from(&current.path);
            return Ok(current.leaf);
        }
        // The tightest separator above the key on the path; `None` inside when a separator
        // is stored in an overflow chain (no hint then: rare, long keys).
        let mut high: Option<Option<Vec<u8>>> = Some(None);
        let leaf = self.descend_owned_with(root, key, |page, id, index| {
            let view = BranchView::new(page, id)?;
            if index < view.len() {
                high = match view.key(index)? {
                    KeyRef::Inline(separator) => Some(Some(separator.to_vec())),
                    KeyRef::Overflow { .. } => None,
                };
            }
            Ok(())
        })?;
        *hint = high.map(|high| RunHint {
            leaf,
            path: self.path.clone(),
            high,
            epoch: self.epoch,
        });
        Ok(leaf)
    }
}
