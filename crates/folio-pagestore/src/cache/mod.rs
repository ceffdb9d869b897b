//! The page cache: sharded, no global lock on the hot path.

mod page_cache;
mod shard;

pub use page_cache::CacheStats;
pub(crate) use page_cache::PageCache;

#[cfg(all(test, folio_loom))]
mod loom_tests;
