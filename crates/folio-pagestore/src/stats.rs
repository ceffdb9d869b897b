//! Counters the page store reports.

use crate::CacheStats;

/// What one checkpoint did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The version checkpointed.
    pub version: u64,
    /// Data pages written (every dirty page in the cache).
    pub pages_written: u64,
    /// Superseded page versions freed before this checkpoint and unreachable by readers:
    /// dropped from the cache without being written.
    pub garbage_pages_dropped: u64,
    /// Pages the free list took.
    pub freelist_pages: u64,
    /// Contiguous runs among all pages written.
    pub runs: u64,
    /// Write calls: one per run (per [`folio_io::IOV_MAX`] pages), plus the header slot.
    pub write_calls: u64,
    /// Data syncs: one after the pages, one after the header slot.
    pub syncs: u64,
    /// Bytes written, header included.
    pub bytes_written: u64,
    /// File length after the checkpoint.
    pub file_bytes: u64,
}

/// A snapshot of the page store's state and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageStoreStats {
    /// The cache.
    pub cache: CacheStats,
    /// Bytes per page.
    pub page_size: usize,
    /// Pages ever allocated (valid page ids are below it).
    pub high_water_pages: u64,
    /// Current file length (preallocated space included).
    pub file_bytes: u64,
    /// Pages writers can take right now without growing the file.
    pub reusable_pages: u64,
    /// Pages committed and freed again between two checkpoints, reused since open without
    /// waiting for a checkpoint (see [`crate::PageStore::set_reader_horizon`]).
    pub young_pages_reused: u64,
    /// Free pages in the last durable checkpoint.
    pub durable_free_pages: u64,
    /// Version of the last durable checkpoint.
    pub durable_version: u64,
    /// Checkpoints completed since open.
    pub checkpoints: u64,
    /// The last completed checkpoint.
    pub last_checkpoint: CheckpointStats,
    /// True after a failed sync (see [`crate::Error::Poisoned`]).
    pub poisoned: bool,
    /// Bytes of pages open transactions hold until they commit
    /// ([`crate::PageStore::private_bytes`]).
    pub private_bytes: usize,
    /// True when clean pages are read through a memory map of the file
    /// ([`crate::PageStoreOptions::memory_map`]); their bytes then live in the operating
    /// system's file cache, outside [`CacheStats`].
    pub memory_mapped: bool,
}
