//! The cache's reported byte count matches what the process really allocates for it
//! (the memory bound of docs/tuning.md), measured with a counting global allocator.
//!
//! Keep this the only test in this binary: tests of one binary run on parallel threads, and
//! another test's allocations would land in the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use folio_io::MemoryStorage;
use folio_pagestore::{PageBuf, PageId, PageStore, PageStoreOptions};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
#[allow(
    unsafe_code,
    reason = "a global allocator cannot be written without unsafe"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn reported_cache_bytes_match_allocated_bytes() {
    const PAGES: u64 = 3000;
    let storage = MemoryStorage::new();
    let options = PageStoreOptions {
        cache_bytes_max: 8 << 20,
        ..PageStoreOptions::default()
    };
    {
        let store = PageStore::create(Arc::new(storage.clone()), options.clone()).unwrap();
        let mut writer = store.writer();
        for _ in 0..PAGES {
            let id = writer.allocate().unwrap();
            writer.write(id, PageBuf::zeroed(4096).seal(id));
        }
        writer.commit(1);
        store.checkpoint(1, b"").unwrap();
    }
    let store = PageStore::open(Arc::new(storage), options).unwrap();
    let before = ALLOCATED.load(Ordering::Relaxed);
    for id in 0..PAGES {
        store.read(PageId(id)).unwrap();
    }
    let allocated = ALLOCATED.load(Ordering::Relaxed).wrapping_sub(before) as f64;
    let stats = store.stats().cache;
    let reported = stats.total_bytes() as f64;
    assert!(stats.total_bytes() <= stats.budget_bytes, "{stats:?}");
    assert!(
        stats.evictions > 0,
        "the budget should have forced evictions"
    );
    let ratio = allocated / reported;
    assert!(
        (0.9..1.15).contains(&ratio),
        "cache reports {reported} bytes but {allocated} were allocated (ratio {ratio:.3})"
    );
}
