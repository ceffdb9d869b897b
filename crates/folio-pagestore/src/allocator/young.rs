//! [`YoungPages`]: pages allocated *and* freed between two checkpoints go back to the pool
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
//! [`YoungPages::recycle`] hands it back once its freeing version is at or below the reader
//! horizon, while no checkpoint is running (one that is may hold the page's contents among
//! the pages it writes, and would write them over the page's next owner). Each recycled
//! page cancels one allocation in the next checkpoint's arithmetic, and raises the floor
//! below which no checkpoint may be taken (its state would name a page given away).
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
    /// Young pages by the version of the commit that freed them.
    waiting: BTreeMap<u64, Vec<PageId>>,
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
    /// for recycling. Returns them instead when a checkpoint started since: they are
    /// ordinary frees.
    pub(crate) fn hold(&self, version: u64, epoch: u64, pages: Vec<PageId>) -> Vec<PageId> {
        if pages.is_empty() {
            return pages;
        }
        let mut state = self.state.lock();
        if self.epoch.load(Ordering::Acquire) != epoch {
            return pages;
        }
        state.waiting.entry(version).or_default().extend(pages);
        Vec::new()
    }

    /// Takes the held pages freed at or below `horizon`, unless a checkpoint is running, and
    /// calls `give_away` with them while no checkpoint can start (it must drop their cached
    /// contents before handing them out). Returns how many pages it recycled.
    pub(crate) fn recycle(&self, horizon: u64, give_away: impl FnOnce(&mut Vec<PageId>)) -> usize {
        let mut state = self.state.lock();
        if state.checkpoint_running {
            return 0;
        }
        let Some((&oldest, _)) = state.waiting.first_key_value() else {
            return 0;
        };
        if oldest > horizon {
            return 0;
        }
        let later = state.waiting.split_off(&horizon.saturating_add(1));
        let due = std::mem::replace(&mut state.waiting, later);
        let mut pages = Vec::new();
        for (freed_at, freed) in due {
            state.floor = state.floor.max(freed_at);
            pages.extend(freed);
        }
        state.recycled.extend_from_slice(&pages);
        let count = pages.len();
        self.reused.fetch_add(count as u64, Ordering::Relaxed);
        give_away(&mut pages);
        count
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
        Some(YoungHandover {
            recycled: std::mem::take(&mut state.recycled),
            freed: std::mem::take(&mut state.waiting),
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
        assert_eq!(young.hold(3, epoch, ids(&[7])), ids(&[7]));
        assert_eq!(young.hold(3, young.epoch(), ids(&[8])), Vec::new());
    }

    #[test]
    fn recycling_waits_for_the_horizon_and_for_a_running_checkpoint() {
        let young = YoungPages::default();
        young.hold(5, young.epoch(), ids(&[1, 2]));
        young.hold(9, young.epoch(), ids(&[3]));
        let mut given = Vec::new();
        assert_eq!(young.recycle(4, |pages| given.append(pages)), 0);
        assert_eq!(young.recycle(5, |pages| given.append(pages)), 2);
        assert_eq!(given, ids(&[1, 2]));
        assert_eq!(young.floor(), 5);
        // A checkpoint below the floor would name pages given away.
        assert!(young.begin_checkpoint(4).is_none());
        let handover = young.begin_checkpoint(5).unwrap();
        assert_eq!(handover.recycled, ids(&[1, 2]));
        assert_eq!(handover.freed, BTreeMap::from([(9, ids(&[3]))]));
        young.hold(10, young.epoch(), ids(&[4]));
        assert_eq!(
            young.recycle(u64::MAX, |_| ()),
            0,
            "a checkpoint is running"
        );
        young.end_checkpoint();
        assert_eq!(young.recycle(u64::MAX, |_| ()), 1);
    }
}
