//! [`MappedReads`]: clean pages of a plain data file read through a read-only memory map: no
//! system call, no copy, no cache entry, and a checksum verified once per page contents
//! instead of once per read.
//!
//! ## The verified bit
//! One bit per page id says: *the file holds this page's current contents, and they passed
//! their checksum*. A read finds the bit set and borrows the mapped bytes directly; else it
//! looks in the cache (a page written by a commit is there, dirty, until a checkpoint wrote
//! it and eviction dropped it), and failing that verifies the mapped bytes and sets the bit.
//!
//! ## Invariants (who keeps them)
//! 1. The bit of a page id is cleared before that id gets new contents: in memory (a commit
//!    hands its pages to the cache: `PageWriter::commit`) and in the file (every page write
//!    of the store: checkpoints, spills). A commit publishes its pages after handing them
//!    over, so a reader of the new contents never sees the old bit.
//! 2. A page id's file bytes change only when no live snapshot reaches its old contents (the
//!    allocator's reader horizon), so a set bit, and mapped bytes borrowed under it, stay
//!    true for every reader that can ask for that id; the module contract of
//!    [`folio_io::FileMap`] (no write under borrowed bytes) follows from the same rule. What
//!    must outlive its snapshot copies the page ([`crate::Page::detached`]).
//! 3. Only pages wholly below [`MappedReads::file_bytes`] are touched through the map (past
//!    the file's end a mapped read kills the process with `SIGBUS`): the length grows after
//!    the file does and shrinks before the file does.
//!
//! ## What the map gives up
//! A page verified once is not verified again while its contents stand: if the operating
//! system drops it from its cache and the device returns different bytes later, the map
//! serves them. An I/O error while the kernel fetches a mapped page is `SIGBUS`, not an
//! error value. `PageStoreOptions::memory_map = false` keeps every read a verified `pread`
//! (see `docs/pagestore.md`, "Reads through a memory map").

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use folio_io::FileMap;

use crate::{Layout, Page, PageId, Result};

/// Pages covered by one lazily allocated block of verified bits (32 KiB of bits).
const BITS_PER_BLOCK: u64 = 64 * BLOCK_WORDS as u64;
const BLOCK_WORDS: usize = 4096;
/// Blocks of verified bits at most: 64 Mi pages (256 GiB of 4 KiB pages). Pages past them
/// are read like unmapped ones (through the cache), so nothing breaks, only slows.
const BLOCKS_MAX: usize = 256;

/// Reads through a memory map of the data file (plain stores on real files).
#[derive(Debug)]
pub(crate) struct MappedReads {
    map: FileMap,
    /// Bytes the file is known to hold (invariant 3 above).
    file_bytes: AtomicU64,
    /// The verified bits, by page id, in blocks allocated on first use.
    verified: Box<[OnceLock<Box<[AtomicU64]>>]>,
}

impl MappedReads {
    pub(crate) fn new(map: FileMap, file_bytes: u64) -> Self {
        Self {
            map,
            file_bytes: AtomicU64::new(file_bytes),
            verified: (0..BLOCKS_MAX).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Page `id` when its bit is set and it lies inside the file: the fast path of a read.
    pub(crate) fn verified_page(&self, id: PageId, layout: Layout) -> Option<Page> {
        if !self.is_verified(id) || !self.inside_file(id, layout) {
            return None;
        }
        self.map
            .bytes(layout.offset(id), layout.page_size)
            .ok()
            .map(Page::mapped)
    }

    /// Page `id` read through the map and verified (its bit set once it passes); `None`
    /// when it lies past the known end of the file or the map cannot reach it.
    pub(crate) fn read_and_verify(&self, id: PageId, layout: Layout) -> Result<Option<Page>> {
        if !self.inside_file(id, layout) {
            return Ok(None);
        }
        let Ok(bytes) = self.map.bytes(layout.offset(id), layout.page_size) else {
            return Ok(None);
        };
        let page = Page::mapped(bytes);
        page.verify(id)?;
        self.set_verified(id);
        Ok(Some(page))
    }

    /// Invariant 1: `ids` are about to get new contents.
    pub(crate) fn forget(&self, ids: impl IntoIterator<Item = PageId>) {
        for id in ids {
            if let Some((block, word, bit)) = Self::locate(id)
                && let Some(words) = self.verified[block].get()
            {
                words[word].fetch_and(!bit, Ordering::Release);
            }
        }
    }

    /// Invariant 3: the file now holds at least `len` bytes (after it grew).
    pub(crate) fn grew_to(&self, len: u64) {
        self.file_bytes.fetch_max(len, Ordering::Release);
    }

    /// Invariant 3: the file is about to be cut to `len` bytes.
    pub(crate) fn shrinking_to(&self, len: u64) {
        self.file_bytes.store(len, Ordering::Release);
    }

    fn inside_file(&self, id: PageId, layout: Layout) -> bool {
        layout.offset(id) + layout.page_size as u64 <= self.file_bytes.load(Ordering::Acquire)
    }

    fn is_verified(&self, id: PageId) -> bool {
        let Some((block, word, bit)) = Self::locate(id) else {
            return false;
        };
        self.verified[block]
            .get()
            .is_some_and(|words| words[word].load(Ordering::Acquire) & bit != 0)
    }

    fn set_verified(&self, id: PageId) {
        if let Some((block, word, bit)) = Self::locate(id) {
            let words = self.verified[block]
                .get_or_init(|| (0..BLOCK_WORDS).map(|_| AtomicU64::new(0)).collect());
            words[word].fetch_or(bit, Ordering::Release);
        }
    }

    /// Block, word within it and bit mask of `id`'s verified bit; `None` past the last block.
    fn locate(id: PageId) -> Option<(usize, usize, u64)> {
        let block = usize::try_from(id.0 / BITS_PER_BLOCK).ok()?;
        if block >= BLOCKS_MAX {
            return None;
        }
        let within = id.0 % BITS_PER_BLOCK;
        Some((block, (within / 64) as usize, 1u64 << (within % 64)))
    }
}
