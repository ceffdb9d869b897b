//! [`PageStore`]: opening, reading, and the shared state behind every handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use folio_io::Storage;

use crate::allocator::{ExtentSet, FileAllocator, decode_chain};
use crate::cache::PageCache;
use crate::flush::{WriteStrategy, write_pages};
use crate::header::{HEADER_SLOT_BYTES, HeaderSlot, MAGIC, NO_PAGE, select_slot, slot_offset};
use crate::mapped_reads::MappedReads;
use crate::sync::Mutex;
use crate::{
    CheckpointStats, Error, Layout, Page, PageId, PageStoreOptions, PageStoreStats, PageWriter,
    Result, buffer_size,
};
use parking_lot::RwLock;

/// A paged file: a cache of checksummed pages over a [`Storage`], an allocator, and
/// checkpoints that make a state durable atomically. Cheap to clone (handles share state).
#[derive(Debug, Clone)]
pub struct PageStore {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    /// Set at open when the slot older than the durable one still decodes as a state: the
    /// free set read at open includes pages that state reaches, so the first write of pages
    /// into the file retires it first ([`PageStore::retire_older_slot`]). A session that
    /// never writes leaves the file untouched.
    older_slot_live: AtomicBool,
    /// `None` once closed. Reads from storage hold the read lock for their I/O, so
    /// [`PageStore::close`] returns only when no read still uses the file.
    storage: RwLock<Option<Arc<dyn Storage>>>,
    closed: AtomicBool,
    layout: Layout,
    options: PageStoreOptions,
    cache: PageCache,
    allocator: FileAllocator,
    /// The last durable header slot.
    durable_header: Mutex<HeaderSlot>,
    /// Serializes checkpoints (held for a checkpoint's whole I/O).
    checkpointer: Mutex<CheckpointerState>,
    /// What checkpoints report; locked only briefly, so `stats()` never waits for I/O.
    checkpoint_record: Mutex<CheckpointRecord>,
    poisoned: AtomicBool,
    /// Pages freed by commits, by version, until the reader horizon passes it: then no
    /// reader can reach them and their cached versions (dirty ones included: superseded
    /// before any checkpoint wrote them) are dropped. Bounds dirty memory by the live pages.
    superseded: Mutex<std::collections::BTreeMap<u64, Vec<PageId>>>,
    /// Pages freed by commits since the store was opened (a monotonic count).
    freed_pages: std::sync::atomic::AtomicU64,
    /// Bytes of pages open transactions hold privately (see [`PageWriter`]).
    private_bytes: std::sync::atomic::AtomicIsize,
    /// Spare page buffers for copies and new pages.
    pool: crate::pool::PagePool,
    /// Encrypted stores: seals pages on their way to the file, opens them on the way back.
    cipher: Option<Arc<folio_io::Cipher>>,
    /// Plain stores on a mappable file (`PageStoreOptions::memory_map`): clean pages are
    /// read through a memory map instead of the cache (`mapped_reads.rs`).
    mapped: Option<MappedReads>,
}

/// State only checkpoints touch.
#[derive(Debug)]
pub(crate) struct CheckpointerState {
    /// File length as last grown (preallocated space included).
    pub(crate) file_bytes: u64,
}

/// Counters of completed checkpoints, for `stats()`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckpointRecord {
    pub(crate) file_bytes: u64,
    pub(crate) checkpoints: u64,
    pub(crate) last: CheckpointStats,
}

/// The durable allocation state, for integrity checks and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationReport {
    /// Pages the durable state covers (page ids below it).
    pub high_water: u64,
    /// Free pages of the durable state.
    pub free: ExtentSet,
    /// Pages holding the durable free list (in use, not free).
    pub freelist_pages: Vec<PageId>,
}

impl PageStore {
    /// Creates a new store on empty `storage`: preallocates the header, writes the first
    /// slot and syncs.
    pub fn create(storage: Arc<dyn Storage>, options: PageStoreOptions) -> Result<Self> {
        options.validate()?;
        let len = storage.len()?;
        if len != 0 {
            return Err(Error::NotEmpty { len });
        }
        let layout = Layout::new(options.page_size);
        let cipher = make_cipher(&options)?;
        let slot = HeaderSlot {
            key_check: cipher.as_ref().map(|c| c.key_check()),
            page_size: options.page_size as u32,
            sequence: 1,
            version: 0,
            high_water: 0,
            freelist_head: NO_PAGE,
            freelist_pages: 0,
            free_extents: 0,
            free_pages: 0,
            roots: Vec::new(),
        };
        storage.allocate(layout.data_offset)?;
        storage.write_all_at(&slot.encode()?, slot_offset(slot.sequence))?;
        storage.sync_data()?;
        let buffer = buffer_size(options.page_size, cipher.is_some());
        let allocator = FileAllocator::recovered(ExtentSet::new(), 0, Vec::new(), 0, buffer);
        Ok(Self::assemble(
            storage,
            layout,
            options,
            allocator,
            slot,
            layout.data_offset,
            false,
            cipher,
        ))
    }

    /// Opens an existing store: the newest valid header slot, then its free list. Open time
    /// depends on the free list's length, not on the file's size. The file's page size wins
    /// over `options.page_size`.
    pub fn open(storage: Arc<dyn Storage>, mut options: PageStoreOptions) -> Result<Self> {
        let len = storage.len()?;
        let (slot, older_slot_live) = read_header(&*storage, len)?;
        options.page_size = slot.page_size as usize;
        options.validate()?;
        let layout = Layout::new(options.page_size);
        let cipher = check_key(&slot, &options)?;
        let expected = layout.file_len_for(slot.high_water);
        if len < expected {
            return Err(Error::Truncated { len, expected });
        }
        let buffer = buffer_size(options.page_size, cipher.is_some());
        let (free, freelist_pages) = decode_chain(
            slot.freelist_head,
            slot.freelist_pages,
            slot.free_extents,
            slot.free_pages,
            slot.high_water,
            |id| read_uncached(&*storage, layout, id, cipher.as_deref()),
        )?;
        let allocator =
            FileAllocator::recovered(free, slot.high_water, freelist_pages, slot.version, buffer);
        Ok(Self::assemble(
            storage,
            layout,
            options,
            allocator,
            slot,
            len,
            older_slot_live,
            cipher,
        ))
    }

    /// Opens `storage` if it holds data, creates a store on it if it is empty.
    pub fn open_or_create(storage: Arc<dyn Storage>, options: PageStoreOptions) -> Result<Self> {
        if storage.len()? == 0 {
            Self::create(storage, options)
        } else {
            Self::open(storage, options)
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the parts create and open each work out, assembled once"
    )]
    fn assemble(
        storage: Arc<dyn Storage>,
        layout: Layout,
        options: PageStoreOptions,
        allocator: FileAllocator,
        slot: HeaderSlot,
        file_bytes: u64,
        older_slot_live: bool,
        cipher: Option<Arc<folio_io::Cipher>>,
    ) -> Self {
        let buffer = buffer_size(layout.page_size, cipher.is_some());
        let cache = PageCache::new(
            options.cache_bytes_max,
            options.cache_shards,
            options.memory_budget.as_ref(),
        );
        let pool = crate::pool::PagePool::new(buffer, options.memory_budget.clone());
        let mapped = (options.memory_map && cipher.is_none())
            .then(|| map_data_file(&*storage, file_bytes))
            .flatten();
        Self {
            inner: Arc::new(StoreInner {
                older_slot_live: AtomicBool::new(older_slot_live),
                storage: RwLock::new(Some(storage)),
                closed: AtomicBool::new(false),
                layout,
                options,
                cache,
                allocator,
                durable_header: Mutex::new(slot),
                checkpointer: Mutex::new(CheckpointerState { file_bytes }),
                checkpoint_record: Mutex::new(CheckpointRecord {
                    file_bytes,
                    checkpoints: 0,
                    last: CheckpointStats::default(),
                }),
                poisoned: AtomicBool::new(false),
                superseded: Mutex::new(std::collections::BTreeMap::new()),
                freed_pages: std::sync::atomic::AtomicU64::new(0),
                private_bytes: std::sync::atomic::AtomicIsize::new(0),
                pool,
                cipher,
                mapped,
            }),
        }
    }

    /// Bytes per page in the file.
    pub fn page_size(&self) -> usize {
        self.inner.layout.page_size
    }

    /// Bytes per page in memory: [`PageStore::page_size`], less the seal's nonce and tag
    /// when the store is encrypted. Buffers of new pages have this length.
    pub fn buffer_size(&self) -> usize {
        buffer_size(self.page_size(), self.is_encrypted())
    }

    /// Whether pages are encrypted in the file.
    pub fn is_encrypted(&self) -> bool {
        self.inner.cipher.is_some()
    }

    pub(crate) fn cipher(&self) -> Option<&folio_io::Cipher> {
        self.inner.cipher.as_deref()
    }

    /// Usable bytes per page (the page minus its checksum trailer).
    pub fn payload_size(&self) -> usize {
        self.buffer_size() - crate::PAGE_TRAILER_BYTES
    }

    /// Where pages live in the file.
    pub fn layout(&self) -> Layout {
        self.inner.layout
    }

    /// The options in force.
    pub fn options(&self) -> &PageStoreOptions {
        &self.inner.options
    }

    /// The storage below ([`Error::Closed`] once the store is closed).
    pub fn storage(&self) -> Result<Arc<dyn Storage>> {
        self.inner.storage.read().clone().ok_or(Error::Closed)
    }

    /// Closes the store: waits for a checkpoint in flight, then releases the storage (for a
    /// file: its descriptor and lock, so it can be opened again at once) and every cached
    /// page. Dirty pages are dropped, not written: checkpoint first to keep them. Every
    /// later read, write or checkpoint through any handle is [`Error::Closed`]. Closing
    /// twice does nothing.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let _no_checkpoint_in_flight = self.inner.checkpointer.lock();
        // Waits for reads in flight: they hold the read lock during their I/O.
        let storage = self.inner.storage.write().take();
        drop(storage);
        self.inner.cache.clear();
    }

    /// True once [`PageStore::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// A new writer (one per owner, e.g. per column family).
    pub fn writer(&self) -> PageWriter {
        PageWriter::new(self.clone())
    }

    /// Reads page `id`: from the cache, or from storage with its checksum verified (through
    /// the memory map when there is one: `mapped_reads.rs`).
    pub fn read(&self, id: PageId) -> Result<Page> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let mapped = self.inner.mapped.as_ref();
        if let Some(page) = mapped.and_then(|m| m.verified_page(id, self.inner.layout)) {
            return Ok(page);
        }
        if let Some(page) = self.inner.cache.get(id) {
            return Ok(page);
        }
        let high_water = self.inner.allocator.high_water();
        if id.0 >= high_water {
            return Err(Error::PageOutOfRange {
                page: id,
                high_water,
            });
        }
        if let Some(mapped) = mapped
            && let Some(page) = mapped.read_and_verify(id, self.inner.layout)?
        {
            return Ok(page);
        }
        let storage = self.inner.storage.read();
        let storage = storage.as_ref().ok_or(Error::Closed)?;
        let page = self.read_into_spare(&**storage, id)?;
        Ok(self.inner.cache.insert_clean(id, page))
    }

    /// Retires the header slot older than the durable one if open found it still naming a
    /// state, before the first write of pages into the file: pages free in the durable
    /// state may be pages the older one reaches. Write and sync; a failed write leaves it to
    /// the next attempt, a failed sync poisons.
    pub(crate) fn retire_older_slot(&self, storage: &dyn Storage) -> Result<()> {
        if !self.inner.older_slot_live.load(Ordering::Acquire) {
            return Ok(());
        }
        let durable = self.durable_header().lock().clone();
        let retired = HeaderSlot::encode_retired(durable.page_size, durable.sequence);
        storage.write_all_at(&retired, slot_offset(durable.sequence + 1))?;
        storage.sync_data().map_err(|error| {
            self.poison();
            Error::from(error)
        })?;
        self.inner.older_slot_live.store(false, Ordering::Release);
        Ok(())
    }

    /// Writes pages a transaction spills ([`PageWriter::spill`]) to their places, growing
    /// the file when they lie past its end. Any cached copy of those ids is dropped first
    /// (a page id is only reused once no reader can reach its old contents, but a clean copy
    /// may linger in the cache). Does not sync.
    pub(crate) fn write_spilled(&self, pages: &mut [(PageId, Page)]) -> Result<()> {
        if self.is_poisoned() {
            return Err(Error::Poisoned);
        }
        if pages.is_empty() {
            return Ok(());
        }
        let storage = self.storage()?;
        let layout = self.layout();
        let end = pages.iter().map(|(id, _)| id.0 + 1).max().unwrap_or(0);
        let needed = layout.file_len_for(end);
        let current = storage.len()?;
        if current < needed {
            // `allocate` never shrinks, so racing a checkpoint's growth is harmless.
            let grown = self.options().grown_len(current, needed);
            storage.allocate(grown)?;
            self.file_grew_to(grown);
        }
        self.retire_older_slot(&*storage)?;
        self.forget_verified(pages.iter().map(|(id, _)| *id));
        for (id, _) in pages.iter() {
            self.discard(*id);
        }
        write_pages(
            &*storage,
            layout,
            pages,
            WriteStrategy::Coalesced,
            self.cipher(),
        )?;
        Ok(())
    }

    /// Reads a page a transaction spilled, straight from the file (never the cache), verified.
    pub(crate) fn read_spilled(&self, id: PageId) -> Result<Page> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let storage = self.inner.storage.read();
        let storage = storage.as_ref().ok_or(Error::Closed)?;
        self.read_into_spare(&**storage, id)
    }

    /// Reads and verifies page `id` into a spare buffer of the pool (no allocation when one
    /// is at hand; a failed read or check gives the buffer back).
    fn read_into_spare(&self, storage: &dyn Storage, id: PageId) -> Result<Page> {
        if let Some(cipher) = self.cipher() {
            let mut stored = vec![0u8; self.page_size()];
            storage.read_exact_at(&mut stored, self.inner.layout.offset(id))?;
            return Page::from_sealed(&stored, id, cipher, self.inner.pool.buffer());
        }
        let mut buffer = self.inner.pool.buffer();
        let bytes = Arc::get_mut(&mut buffer).expect("pooled buffers are unique");
        if let Err(error) = storage.read_exact_at(bytes, self.inner.layout.offset(id)) {
            self.inner.pool.give_buffer(buffer);
            return Err(error.into());
        }
        Page::from_stored_buffer(buffer, id)
    }

    /// Pages `ids` are about to get new contents (in memory or in the file): reads stop
    /// trusting what the file held for them (invariant 1 of `mapped_reads.rs`).
    pub(crate) fn forget_verified(&self, ids: impl IntoIterator<Item = PageId>) {
        if let Some(mapped) = &self.inner.mapped {
            mapped.forget(ids);
        }
    }

    /// The file holds at least `len` bytes now (it grew).
    pub(crate) fn file_grew_to(&self, len: u64) {
        if let Some(mapped) = &self.inner.mapped {
            mapped.grew_to(len);
        }
    }

    /// The file is about to be cut to `len` bytes.
    pub(crate) fn file_shrinking_to(&self, len: u64) {
        if let Some(mapped) = &self.inner.mapped {
            mapped.shrinking_to(len);
        }
    }

    /// True when clean pages are read through a memory map of the file
    /// ([`PageStoreOptions::memory_map`]).
    pub fn is_memory_mapped(&self) -> bool {
        self.inner.mapped.is_some()
    }

    /// A new page holding a copy of `page`'s payload (copy-on-write), in a spare buffer when
    /// one is at hand.
    pub fn copy_page(&self, page: &Page) -> Page {
        self.inner.pool.copy(page)
    }

    /// A new zeroed page, in a spare buffer when one is at hand.
    pub fn zeroed_page(&self) -> crate::PageBuf {
        self.inner.pool.zeroed()
    }

    /// Drops page `id` from the cache whatever its state, keeping its buffer for reuse.
    pub(crate) fn discard(&self, id: PageId) {
        if let Some(page) = self.inner.cache.discard(id) {
            self.recycle(page);
        }
    }

    /// Keeps a dropped page's buffer for reuse when nothing else holds it.
    pub(crate) fn recycle(&self, page: Page) {
        self.inner.pool.give(page);
    }

    /// Drops a page from the cache if it is clean (a no-op for dirty pages).
    pub(crate) fn evict_clean(&self, id: PageId) {
        if self.inner.cache.is_dirty(id) == Some(false) {
            self.discard(id);
        }
    }

    /// The roots blob of the last durable checkpoint (empty for a new store).
    pub fn roots(&self) -> Vec<u8> {
        self.inner.durable_header.lock().roots.clone()
    }

    /// The version of the last durable checkpoint (0 for a new store).
    pub fn durable_version(&self) -> u64 {
        self.inner.durable_header.lock().version
    }

    /// Declares that no live reader can reach pages freed by versions `<= horizon` (the
    /// oldest live snapshot's version), and that no reader will start below it (readers
    /// start at the latest version). Default: readers of any version committed since the
    /// last checkpoint are safe, and pages reachable only by the durable checkpoint are
    /// reusable once a newer checkpoint is durable. Once a horizon is declared, pages
    /// committed and freed again between two checkpoints are reused as soon as the horizon
    /// passes their freeing, without waiting for a checkpoint; a caller must then keep the
    /// horizon at or below every version it still reads or checkpoints.
    pub fn set_reader_horizon(&self, horizon: u64) {
        // Before the allocator may release pages for reuse: a reused page's new contents
        // must never be dropped.
        self.drop_superseded(horizon);
        self.inner.allocator.set_reader_horizon(horizon);
    }

    /// Until the returned guard is dropped, writers allocate the lowest free pages (the
    /// pool's, lowest first) and leave young pages waiting: what a compaction moving pages
    /// down the file needs. The young pages become ordinary frees at the next checkpoint.
    pub fn lowest_pages_first(&self) -> LowestPagesFirst {
        self.inner.allocator.set_lowest_first(true);
        LowestPagesFirst {
            store: self.clone(),
        }
    }

    /// The pages committed and freed again since the last checkpoint that no reader can
    /// reach, for a writer to reuse (`allocator/young.rs`), their cached contents dropped
    /// first: the next checkpoint must not write them over a new owner's.
    pub(crate) fn take_young_pages(&self) -> Vec<PageId> {
        self.inner
            .allocator
            .take_young(|pages| self.forget_contents(pages))
    }

    /// Holds `pages` (freed by commit `version`, committed by their writer in `epoch`) as
    /// young pages and takes those now due, as [`PageStore::take_young_pages`]. Returns the
    /// pages that are ordinary frees instead, and those taken.
    pub(crate) fn hold_and_take_young_pages(
        &self,
        version: u64,
        epoch: u64,
        pages: Vec<PageId>,
    ) -> (Vec<PageId>, Vec<PageId>) {
        self.inner
            .allocator
            .hold_and_take_young(version, epoch, pages, |pages| self.forget_contents(pages))
    }

    /// Drops the cached contents of `pages` (superseded, or about to get new owners) and
    /// keeps their buffers for reuse. Reorders `pages`.
    fn forget_contents(&self, pages: &mut [PageId]) {
        if pages.is_empty() {
            return;
        }
        for page in self.inner.cache.discard_batch(pages) {
            self.recycle(page);
        }
    }

    /// Records the pages commit `version` freed: their cached versions go once the reader
    /// horizon passes `version` (see `set_reader_horizon`). The caller must keep every state
    /// it still needs (a checkpoint in progress) covered by the horizon.
    pub(crate) fn supersede(&self, version: u64, freed: &[PageId]) {
        if !freed.is_empty() {
            self.inner
                .freed_pages
                .fetch_add(freed.len() as u64, Ordering::Relaxed);
            self.inner
                .superseded
                .lock()
                .entry(version)
                .or_default()
                .extend_from_slice(freed);
        }
    }

    /// Pages freed by commits since the store was opened that wait for a checkpoint before
    /// they are reused, so a caller that checkpoints when dirty bytes grow should also count
    /// these: copy-on-write commits free pages fast while dirty bytes stay low (a page
    /// superseded before a checkpoint is never written), and until a checkpoint such pages
    /// are not reused and the file grows. Young pages (committed and freed again between
    /// two checkpoints, see [`PageStore::set_reader_horizon`]) are reused without one and
    /// count only when a checkpoint starts before they were.
    pub fn freed_pages(&self) -> u64 {
        self.inner.freed_pages.load(Ordering::Relaxed)
    }

    /// Drops the cached versions of pages freed by versions `<= horizon`.
    pub(crate) fn drop_superseded(&self, horizon: u64) {
        let mut pages = Vec::new();
        {
            let mut superseded = self.inner.superseded.lock();
            while let Some(entry) = superseded.first_entry() {
                if *entry.key() > horizon {
                    break;
                }
                pages.extend(entry.remove());
            }
        }
        self.forget_contents(&mut pages);
    }

    /// True after a failed sync, or once a damaged tree freed a page twice; see
    /// [`Error::Poisoned`].
    pub fn is_poisoned(&self) -> bool {
        self.inner.poisoned.load(Ordering::Acquire) || self.inner.allocator.saw_double_free()
    }

    /// The durable allocation state.
    pub fn allocation_report(&self) -> AllocationReport {
        let (free, high_water, freelist_pages) = self.inner.allocator.durable_free();
        AllocationReport {
            high_water,
            free,
            freelist_pages,
        }
    }

    /// Bytes of dirty (not yet checkpointed) pages in the cache. Cheap: no shard is locked,
    /// so it can be checked on every commit.
    pub fn dirty_bytes(&self) -> usize {
        self.inner.cache.dirty_bytes()
    }

    /// Bytes of pages that open transactions wrote and hold until they commit (not in the
    /// cache yet). With [`PageStore::dirty_bytes`], the memory of everything not in the file.
    pub fn private_bytes(&self) -> usize {
        self.inner.private_bytes.load(Ordering::Relaxed).max(0) as usize
    }

    pub(crate) fn add_private_bytes(&self, delta: isize) {
        self.inner.private_bytes.fetch_add(delta, Ordering::Relaxed);
    }

    /// Counters and sizes.
    pub fn stats(&self) -> PageStoreStats {
        let header = self.inner.durable_header.lock().clone();
        let record = *self.inner.checkpoint_record.lock();
        PageStoreStats {
            cache: self.inner.cache.stats(),
            page_size: self.page_size(),
            high_water_pages: self.inner.allocator.high_water(),
            file_bytes: record.file_bytes,
            reusable_pages: self.inner.allocator.pool_free_pages(),
            young_pages_reused: self.inner.allocator.young_pages_reused(),
            durable_free_pages: header.free_pages,
            durable_version: header.version,
            checkpoints: record.checkpoints,
            last_checkpoint: record.last,
            poisoned: self.is_poisoned(),
            private_bytes: self.private_bytes(),
            memory_mapped: self.is_memory_mapped(),
        }
    }

    pub(crate) fn cache(&self) -> &PageCache {
        &self.inner.cache
    }

    pub(crate) fn allocator(&self) -> &FileAllocator {
        &self.inner.allocator
    }

    pub(crate) fn checkpointer(&self) -> &Mutex<CheckpointerState> {
        &self.inner.checkpointer
    }

    pub(crate) fn checkpoint_record(&self) -> &Mutex<CheckpointRecord> {
        &self.inner.checkpoint_record
    }

    pub(crate) fn durable_header(&self) -> &Mutex<HeaderSlot> {
        &self.inner.durable_header
    }

    pub(crate) fn poison(&self) {
        self.inner.poisoned.store(true, Ordering::Release);
    }
}

/// Reads and verifies page `id` straight from storage.
pub(crate) fn read_uncached(
    storage: &dyn Storage,
    layout: Layout,
    id: PageId,
    cipher: Option<&folio_io::Cipher>,
) -> Result<Page> {
    let mut bytes = vec![0u8; layout.page_size];
    storage.read_exact_at(&mut bytes, layout.offset(id))?;
    match cipher {
        Some(cipher) => {
            let buffer = std::iter::repeat_n(0u8, buffer_size(layout.page_size, true)).collect();
            Page::from_sealed(&bytes, id, cipher, buffer)
        }
        None => Page::from_stored(bytes, id),
    }
}

/// A memory map of the data file for [`MappedReads`], when its storage can be mapped; a
/// store that cannot map reads through the cache instead, so a failure here is not an error.
#[allow(unsafe_code)]
fn map_data_file(storage: &dyn Storage, file_bytes: u64) -> Option<MappedReads> {
    // SAFETY: the contract of `folio_io::FileMap` (no write to a range while mapped bytes of
    // it live) is the page store's reuse rule: a page id's file bytes are written only once
    // no live snapshot reaches its old contents (invariant 5 of the allocator), so no reader
    // holds mapped bytes of a page being written; pages kept past their snapshot are copied
    // (`PageWriter::write`, `Page::detached`); and the file's exclusive lock keeps other
    // processes from writing it (invariant 2 of `mapped_reads.rs`).
    let map = unsafe { storage.memory_map() }.ok().flatten()?;
    Some(MappedReads::new(map, file_bytes))
}

/// The cipher of a new store, when its options carry a key.
fn make_cipher(options: &PageStoreOptions) -> Result<Option<Arc<folio_io::Cipher>>> {
    options
        .encryption_key
        .as_ref()
        .map(|key| {
            folio_io::Cipher::new(key)
                .map(Arc::new)
                .map_err(|e| Error::Encryption(e.to_string()))
        })
        .transpose()
}

/// The cipher of an existing store: the key given must match the file's (encrypted or not)
/// before anything else is read or written.
fn check_key(
    slot: &HeaderSlot,
    options: &PageStoreOptions,
) -> Result<Option<Arc<folio_io::Cipher>>> {
    let cipher = make_cipher(options)?;
    match (&slot.key_check, &cipher) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::KeyRequired),
        (None, Some(_)) => Err(Error::NotEncrypted),
        (Some(check), Some(cipher)) if cipher.verify_key_check(check) => Ok(Some(cipher.clone())),
        (Some(_), Some(_)) => Err(Error::WrongKey),
    }
}

/// Reads both header slots: the newest valid one, and whether the other one also decodes
/// as a state.
fn read_header(storage: &dyn Storage, len: u64) -> Result<(HeaderSlot, bool)> {
    let header_bytes = 2 * HEADER_SLOT_BYTES as u64;
    if len < header_bytes {
        let mut magic = [0u8; MAGIC.len()];
        if len >= magic.len() as u64 {
            storage.read_exact_at(&mut magic, 0)?;
        }
        return if magic == MAGIC {
            Err(Error::Truncated {
                len,
                expected: header_bytes,
            })
        } else {
            Err(Error::NotAFolioFile)
        };
    }
    let mut bytes = vec![0u8; 2 * HEADER_SLOT_BYTES];
    storage.read_exact_at(&mut bytes, 0)?;
    let (first, second) = bytes.split_at(HEADER_SLOT_BYTES);
    let (first, second) = (HeaderSlot::decode(first), HeaderSlot::decode(second));
    let both = first.is_ok() && second.is_ok();
    Ok((select_slot(first, second)?, both))
}

/// While alive, writers take the lowest free pages first ([`PageStore::lowest_pages_first`]).
#[derive(Debug)]
#[must_use = "the lowest pages go first only while the guard lives"]
pub struct LowestPagesFirst {
    store: PageStore,
}

impl Drop for LowestPagesFirst {
    fn drop(&mut self) {
        self.store.inner.allocator.set_lowest_first(false);
    }
}
