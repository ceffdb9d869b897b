//! [`YoungPages`]: pages allocated *and* freed between two checkpoints go back to writers
//! as soon as no reader can reach them, instead of after two checkpoints.
//!
//! A copy-on-write commit frees the previous versions of the pages it changes. When those
//! versions were themselves written after the last checkpoint began, no header slot names
//! them and no checkpoint will ever write them, so only readers can still need them. Without
//! this fast path every such page waited for a covering checkpoint and one more (the reuse
//! rule in `docs/pagestore.md`), and a steady stream of small commits grew the file by
//! several copies of its working set between checkpoints.
//!
//! # When a page is young
//! Its writer committed it while the checkpoint epoch was `e` ([`YoungPages::epoch`], read
//! before the commit is published) and frees it while the epoch is still `e`. Every
//! checkpoint bumps the epoch when it starts ([`YoungPages::begin_checkpoint`]), so:
//! - a checkpoint that started before the allocating commit was published is of an older
//!   version, and its state does not hold the page;
//! - no checkpoint has started since, so no header slot names the page.
//!
//! # When a young page is recycled
//! A writer takes the due ones at each commit ([`YoungPages::hold_and_take`], under the
//! lock that records its own) and when its reserved pages run out ([`YoungPages::take`]):
//! those whose freeing version is at or below the reader horizon, while no checkpoint is
//! running (one that is may hold the page's contents among the pages it writes, and would
//! write them over the page's next owner; meanwhile only their cached contents are dropped).
//! Each recycled page cancels one allocation in the next checkpoint's arithmetic, and raises
//! the floor below which no checkpoint may be taken (its state would name a page given
//! away). The pool's lock is not involved.
//!
//! A young page still waiting when a checkpoint starts becomes an ordinary free of its
//! freeing version: the checkpoint covers it like any other.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::PageId;
use crate::sync::Mutex;

/// The young pages freed and not yet recycled, and what checkpoints must know of the rest.
#[derive(Debug, Default)]
pub(crate) struct YoungPages {
    /// Bumped (under `state`'s lock) by every checkpoint as it starts.
    epoch: AtomicU64,
    state: Mutex<YoungState>,
    /// Pages recycled since open.
    reused: AtomicU64,
}

#[derive(Debug, Default)]
struct YoungState {
    /// Young pages with the version of the commit that freed them (a flat list: it holds
    /// the last few commits' pages, and a map entry per commit cost the commit path more).
    waiting: Vec<(u64, PageId)>,
    /// Young pages past the horizon whose cached contents were dropped while a checkpoint
    /// ran (so they were not handed out): no reader needs those contents, and a checkpoint
    /// writing hundreds of megabytes must not pin every page superseded meanwhile.
    dropped: Vec<(u64, PageId)>,
    /// Pages recycled since the last checkpoint started: each cancels one allocation.
    recycled: Vec<PageId>,
    /// A checkpoint is between its start and its end.
    checkpoint_running: bool,
    /// The newest freeing version recycled: a checkpoint of an older version would name a
    /// page that may have a new owner.
    floor: u64,
}

/// What a starting checkpoint takes over from the young pages.
#[derive(Debug, Default)]
pub(crate) struct YoungHandover {
    /// Pages recycled since the last checkpoint started; their allocations cancel out.
    pub(crate) recycled: Vec<PageId>,
    /// Young pages not recycled: ordinary frees from now on, by freeing version.
    pub(crate) freed: BTreeMap<u64, Vec<PageId>>,
}

impl YoungPages {
    /// The current checkpoint epoch: a writer tags the pages it commits with it.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Holds `pages`, freed by commit `version` and committed by their writer in `epoch`,
    /// for recycling, then (with a `horizon`) takes what is due as [`YoungPages::take`]
    /// does, under one lock. Returns the pages that are ordinary frees instead (a
    /// checkpoint started since `epoch`), and those taken.
    pub(crate) fn hold_and_take(
        &self,
        version: u64,
        epoch: u64,
        mut pages: Vec<PageId>,
        horizon: Option<u64>,
        forget: impl FnOnce(&mut [PageId]),
    ) -> (Vec<PageId>, Vec<PageId>) {
        let mut state = self.state.lock();
        if !pages.is_empty() && self.epoch.load(Ordering::Acquire) == epoch {
            state
                .waiting
                .extend(pages.drain(..).map(|page| (version, page)));
        }
        let taken = match horizon {
            Some(horizon) => self.take_locked(&mut state, horizon, forget),
            None => Vec::new(),
        };
        (pages, taken)
    }

    /// Takes the held pages freed at or below `horizon`, unless a checkpoint is running,
    /// calling `forget` with them while no checkpoint can start (it must drop their cached
    /// contents, which a checkpoint would otherwise write over their next owner's).
    pub(crate) fn take(&self, horizon: u64, forget: impl FnOnce(&mut [PageId])) -> Vec<PageId> {
        let mut state = self.state.lock();
        self.take_locked(&mut state, horizon, forget)
    }

    fn take_locked(
        &self,
        state: &mut YoungState,
        horizon: u64,
        forget: impl FnOnce(&mut [PageId]),
    ) -> Vec<PageId> {
        let due = split_due(&mut state.waiting, horizon);
        let mut pages: Vec<PageId> = due.iter().map(|&(_, page)| page).collect();
        if !pages.is_empty() {
            forget(&mut pages);
        }
        if state.checkpoint_running {
            // Not handed out now, but their contents went (the checkpoint holds its own
            // copies of what it writes).
            state.dropped.extend(due);
            return Vec::new();
        }
        let dropped = split_due(&mut state.dropped, horizon);
        pages.extend(dropped.iter().map(|&(_, page)| page));
        if let Some(newest) = due
            .iter()
            .chain(&dropped)
            .map(|&(freed_at, _)| freed_at)
            .max()
        {
            state.floor = state.floor.max(newest);
        }
        state.recycled.extend_from_slice(&pages);
        self.reused.fetch_add(pages.len() as u64, Ordering::Relaxed);
        pages
    }

    /// A checkpoint of `version` starts: bumps the epoch, and hands over the recycled and the
    /// still waiting pages. `None` when `version` is below the floor (a page its state names
    /// was recycled).
    pub(crate) fn begin_checkpoint(&self, version: u64) -> Option<YoungHandover> {
        let mut state = self.state.lock();
        if version < state.floor {
            return None;
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        state.checkpoint_running = true;
        let mut freed: BTreeMap<u64, Vec<PageId>> = BTreeMap::new();
        let waiting = std::mem::take(&mut state.waiting);
        for (freed_at, page) in waiting.into_iter().chain(state.dropped.drain(..)) {
            freed.entry(freed_at).or_default().push(page);
        }
        Some(YoungHandover {
            recycled: std::mem::take(&mut state.recycled),
            freed,
        })
    }

    /// The checkpoint that began last has finished or failed: recycling may go on.
    pub(crate) fn end_checkpoint(&self) {
        self.state.lock().checkpoint_running = false;
    }

    /// Pages recycled since open.
    pub(crate) fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// The lowest version a checkpoint may be taken of.
    pub(crate) fn floor(&self) -> u64 {
        self.state.lock().floor
    }
}

/// Removes and returns the entries of `list` freed at or below `horizon`.
fn split_due(list: &mut Vec<(u64, PageId)>, horizon: u64) -> Vec<(u64, PageId)> {
    if list.iter().all(|&(freed_at, _)| freed_at > horizon) {
        return Vec::new();
    }
    let mut due = Vec::new();
    list.retain(|&entry| {
        let later = entry.0 > horizon;
        if !later {
            due.push(entry);
        }
        later
    });
    due
}

#[cfg(all(test, not(folio_loom)))]
mod tests {
    use super::*;

    fn ids(pages: &[u64]) -> Vec<PageId> {
        pages.iter().copied().map(PageId).collect()
    }

    #[test]
    fn pages_of_an_older_epoch_are_ordinary_frees() {
        let young = YoungPages::default();
        let epoch = young.epoch();
        young.begin_checkpoint(0).unwrap();
        young.end_checkpoint();
        let hold = |version, epoch, pages| young.hold_and_take(version, epoch, pages, None, |_| ());
        assert_eq!(hold(3, epoch, ids(&[7])), (ids(&[7]), Vec::new()));
        assert_eq!(hold(3, young.epoch(), ids(&[8])), (Vec::new(), Vec::new()));
    }

    #[test]
    fn recycling_waits_for_the_horizon_and_for_a_running_checkpoint() {
        let young = YoungPages::default();
        let hold = |version, pages| {
            let epoch = young.epoch();
            young.hold_and_take(version, epoch, pages, None, |_| ())
        };
        hold(5, ids(&[1, 2]));
        hold(9, ids(&[3]));
        let mut forgotten = Vec::new();
        assert_eq!(young.take(4, |_| unreachable!()), Vec::new());
        let taken = young.take(5, |pages| forgotten.extend_from_slice(pages));
        assert_eq!(taken, ids(&[1, 2]));
        assert_eq!(forgotten, taken);
        assert_eq!(young.floor(), 5);
        // A checkpoint below the floor would name pages given away.
        assert!(young.begin_checkpoint(4).is_none());
        let handover = young.begin_checkpoint(5).unwrap();
        assert_eq!(handover.recycled, ids(&[1, 2]));
        assert_eq!(handover.freed, BTreeMap::from([(9, ids(&[3]))]));
        hold(10, ids(&[4]));
        let mut forgotten = Vec::new();
        let taken = young.take(u64::MAX, |pages| forgotten.extend_from_slice(pages));
        assert_eq!(taken, Vec::new(), "a checkpoint is running");
        assert_eq!(forgotten, ids(&[4]), "but the contents go");
        young.end_checkpoint();
        let taken = young.take(u64::MAX, |_| panic!("their contents went already"));
        assert_eq!(taken, ids(&[4]));
        // Dropped and waiting pages both pass to the next checkpoint as ordinary frees.
        young.begin_checkpoint(10).unwrap();
        hold(11, ids(&[5]));
        assert_eq!(young.take(11, |_| ()), Vec::new());
        young.end_checkpoint();
        hold(12, ids(&[6]));
        let handover = young.begin_checkpoint(12).unwrap();
        assert_eq!(
            handover.freed,
            BTreeMap::from([(11, ids(&[5])), (12, ids(&[6]))])
        );
    }
}
