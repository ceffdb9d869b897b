//! # folio-pagestore: a paged file
//!
//! The layer between raw storage ([`folio_io`]) and the B+trees: fixed-size pages with xxh3
//! checksums, a sharded page cache, a per-owner page allocator, and checkpoints that make a
//! state durable atomically through a two-slot header.
//!
//! - **Pages** are sealed ([`PageBuf::seal`]) into immutable, shared [`Page`]s whose checksum is
//!   verified before every write and after every read from storage; a mismatch is
//!   [`Error::CorruptPage`] naming the page.
//! - **The cache** is sharded by page id: a lookup locks one shard. Clean pages are evicted
//!   (CLOCK) to stay within [`PageStoreOptions::cache_bytes_max`]; dirty pages are pinned until
//!   a checkpoint writes them. [`CacheStats`] counts bytes exactly.
//! - **Allocation**: each owner (a column-family writer) holds a [`PageWriter`] that takes
//!   whole extents from the shared file-level allocator and settles its allocations and
//!   frees per commit on a lock-free queue, so owners do not contend.
//! - **Checkpoints** ([`PageStore::checkpoint`]) write all dirty pages sorted into one vectored
//!   write per contiguous run, then the free list, sync, then the other header slot, sync.
//!   The allocation state commits atomically with the roots; a crash at any point recovers
//!   the previous or the new state, never a mix, never a leaked or doubly used page.
//!
//! ```
//! use std::sync::Arc;
//! use folio_io::MemoryStorage;
//! use folio_pagestore::{PageBuf, PageStore, PageStoreOptions};
//!
//! # fn main() -> folio_pagestore::Result<()> {
//! let storage = Arc::new(MemoryStorage::new());
//! let store = PageStore::create(storage.clone(), PageStoreOptions::default())?;
//!
//! let mut writer = store.writer();
//! let id = writer.allocate()?;
//! let mut page = PageBuf::zeroed(store.page_size());
//! page.payload_mut()[..5].copy_from_slice(b"hello");
//! writer.write(id, page.seal(id));
//! writer.commit(1);
//! store.checkpoint(1, &id.0.to_le_bytes())?; // roots: where the layer above starts
//! drop((writer, store));
//!
//! let reopened = PageStore::open(storage, PageStoreOptions::default())?;
//! let root = u64::from_le_bytes(reopened.roots().try_into().unwrap());
//! assert_eq!(&reopened.read(folio_pagestore::PageId(root))?[..5], b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/pagestore.md` for the file format byte by byte and the crash analysis.

#![deny(unsafe_code)] // one site: mapping the data file (`store.rs`, `map_data_file`)

mod allocator;
mod budget;
mod cache;
mod checkpoint;
mod error;
mod flush;
mod header;
mod id_hash;
mod layout;
mod mapped_reads;
mod options;
mod page;
mod pool;
mod stats;
mod store;
mod sync;
mod writer;

pub use allocator::ExtentSet;
pub use budget::MemoryBudget;
pub use cache::CacheStats;
pub use error::{Error, Result};
pub use header::{FORMAT_VERSION, HEADER_SLOT_BYTES, ROOTS_MAX_BYTES};
pub use layout::Layout;
pub use options::{PAGE_SIZE_MAX, PAGE_SIZE_MIN, PageStoreOptions};
pub use page::{PAGE_TRAILER_BYTES, Page, PageBuf, PageId, buffer_size};
pub use stats::{CheckpointStats, PageStoreStats};
pub use store::{AllocationReport, LowestPagesFirst, PageStore};
pub use writer::{PageWriter, WriterSavepoint};

/// Internals this workspace's tests and benchmarks reach into; not part of the API, and free
/// to change in any release.
#[doc(hidden)]
pub mod testing {
    pub use crate::flush::{FlushStats, WriteStrategy, write_pages};

    /// Drops page `id` from `store`'s cache if it is clean (a no-op for dirty pages), so the
    /// next read goes to the file.
    pub fn evict_clean(store: &crate::PageStore, id: crate::PageId) {
        store.evict_clean(id);
    }

    /// Decodes a header slot after rewriting its checksum to match (so a fuzzer's input
    /// reaches the fields behind it); returns the roots it holds, or why it was refused.
    pub fn decode_slot_with_fixed_checksum(bytes: &mut [u8]) -> Result<Vec<u8>, String> {
        crate::header::seal_slot(bytes);
        crate::header::HeaderSlot::decode(bytes)
            .map(|slot| slot.roots.clone())
            .map_err(|error| format!("{error:?}"))
    }

    /// Rewrites every checksum of a plain data file's bytes (pages of `page_size`) to match
    /// its contents: both header slots and each page's trailer, so a fuzzer's edits reach
    /// the fields behind them.
    pub fn reseal_file(bytes: &mut [u8], page_size: usize) {
        for index in 0..2 {
            let at = crate::header::slot_offset(index) as usize;
            if let Some(slot) = bytes.get_mut(at..at + crate::HEADER_SLOT_BYTES) {
                crate::header::seal_slot(slot);
            }
        }
        let layout = crate::Layout::new(page_size);
        for id in 0.. {
            let at = layout.offset(crate::PageId(id)) as usize;
            let Some(page) = bytes.get_mut(at..at + page_size) else {
                break;
            };
            crate::page::seal_trailer(page, crate::PageId(id));
        }
    }
}
