//! The page cache: sharded, no global lock on the hot path.

mod index;
mod page_cache;
mod shard;

pub use page_cache::CacheStats;
pub(crate) use page_cache::PageCache;

/// Whether a lookup adds the page it finds to the cache's lock-free mirror (`index.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mirror {
    /// A reader's lookup: the next ones for this page take no lock.
    Add,
    /// A writer's lookup of a page it is about to replace.
    Skip,
}

#[cfg(all(test, folio_loom))]
mod loom_tests;
