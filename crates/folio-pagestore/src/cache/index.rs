//! [`Index`]: a lock-free mirror of the cached pages, for the read path.
//!
//! The shards stay the authority (eviction order, dirty state, byte accounting, all under
//! their locks). A page joins the mirror when a reader first finds it in its shard or reads
//! it in (writers' puts do not add pages: a commit would pay for an entry no one may read);
//! once mirrored, every change to it in its shard is mirrored too, under the shard's lock. Lookups read the mirror without a lock (`papaya`: readers never block and write no
//! shared cache line, except a page's reference bit, set only when it is clear). A hit on
//! the hottest pages (roots, upper branches) then costs no lock round trip between cores.
//!
//! A lookup racing a change sees the page before or after it; either is right for the
//! reader: a page id's contents change only when the page is reused, which waits until no
//! reader can reach its old contents.
//!
//! Under `--cfg folio_loom` the mirror is empty (papaya is not modelled) and every lookup
//! goes through the shards, whose protocol the loom models check.

use std::sync::atomic::AtomicBool;
#[cfg(not(folio_loom))]
use std::sync::atomic::Ordering;

use crate::{Page, PageId};

/// Bookkeeping bytes of a mirrored page: the entry and its table slot.
pub(crate) const INDEX_OVERHEAD_BYTES: usize =
    std::mem::size_of::<(PageId, Cached)>() + 2 * std::mem::size_of::<usize>();

/// A mirrored page and its CLOCK reference bit.
#[derive(Debug)]
#[cfg_attr(folio_loom, allow(dead_code))]
pub(crate) struct Cached {
    page: Page,
    referenced: AtomicBool,
}

#[cfg(not(folio_loom))]
type IdBuild = std::hash::BuildHasherDefault<IdHasher>;

/// Page ids are dense integers: Fibonacci hashing spreads them.
#[cfg(not(folio_loom))]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

#[cfg(not(folio_loom))]
impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The mirror.
#[derive(Debug, Default)]
pub(crate) struct Index {
    #[cfg(not(folio_loom))]
    map: papaya::HashMap<PageId, Cached, IdBuild>,
}

impl Index {
    /// Page `id`, marking it referenced.
    pub(crate) fn get(&self, id: PageId) -> Option<Page> {
        self.with(id, Page::clone)
    }

    /// Calls `read` with page `id` borrowed (no reference count touched), marking it
    /// referenced.
    #[cfg_attr(folio_loom, allow(clippy::unused_self, unused_variables))]
    pub(crate) fn with<R>(&self, id: PageId, read: impl FnOnce(&Page) -> R) -> Option<R> {
        #[cfg(not(folio_loom))]
        {
            let map = self.map.pin();
            let cached = map.get(&id)?;
            if !cached.referenced.load(Ordering::Relaxed) {
                cached.referenced.store(true, Ordering::Relaxed);
            }
            Some(read(&cached.page))
        }
        #[cfg(folio_loom)]
        None
    }

    /// Mirrors a page put into a shard (under its lock).
    #[cfg_attr(folio_loom, allow(clippy::unused_self, unused_variables))]
    pub(crate) fn insert(&self, id: PageId, page: Page, referenced: bool) {
        #[cfg(not(folio_loom))]
        self.map.pin().insert(
            id,
            Cached {
                page,
                referenced: AtomicBool::new(referenced),
            },
        );
    }

    /// Mirrors a page leaving a shard (under its lock).
    #[cfg_attr(folio_loom, allow(clippy::unused_self, unused_variables))]
    pub(crate) fn remove(&self, id: PageId) {
        #[cfg(not(folio_loom))]
        self.map.pin().remove(&id);
    }

    /// Whether lookups referenced `id` since the last call (which clears the bit).
    #[cfg_attr(folio_loom, allow(clippy::unused_self, unused_variables))]
    pub(crate) fn take_referenced(&self, id: PageId) -> bool {
        #[cfg(not(folio_loom))]
        {
            self.map
                .pin()
                .get(&id)
                .is_some_and(|cached| cached.referenced.swap(false, Ordering::Relaxed))
        }
        #[cfg(folio_loom)]
        false
    }

    /// Drops every page.
    #[cfg_attr(folio_loom, allow(clippy::unused_self))]
    pub(crate) fn clear(&self) {
        #[cfg(not(folio_loom))]
        self.map.pin().clear();
    }
}
