//! Opening and reading a large log takes bounded memory: recovery checks every segment
//! through a sliding window instead of reading segments whole, and the reader holds one
//! chunk. Measured with a counting global allocator (peak bytes allocated during the step).
//!
//! Keep this the only test in this binary: tests of one binary run on parallel threads, and
//! another test's allocations would land in the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use folio_io::{Directory, FsDirectory};
use folio_wal::{Durability, Wal, WalOptions};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
#[allow(
    unsafe_code,
    reason = "a global allocator cannot be written without unsafe"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
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

/// Peak bytes allocated while `step` runs, above what was allocated when it started.
fn peak_during<T>(step: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let value = step();
    (value, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

#[test]
fn a_log_many_times_the_bound_opens_and_replays_within_it() {
    const RECORD_BYTES: usize = 64 * 1024;
    const RECORDS: usize = 2048; // 128 MiB of log
    const BOUND: usize = 8 << 20;
    let dir = tempfile::tempdir().unwrap();
    let directory: Arc<dyn Directory> = Arc::new(FsDirectory::open(dir.path()).unwrap());
    let options = WalOptions {
        segment_bytes: 16 << 20,
        sync_interval: None,
        ..WalOptions::default()
    };
    {
        let (wal, _) = Wal::open(Arc::clone(&directory), options.clone()).unwrap();
        for i in 0..RECORDS {
            wal.append(&vec![i as u8; RECORD_BYTES], Durability::Eventual)
                .unwrap();
        }
        wal.close().unwrap();
    }

    let ((wal, report), opened) =
        peak_during(|| Wal::open(Arc::clone(&directory), options.clone()).unwrap());
    assert_eq!(report.records, RECORDS as u64);
    assert!(
        report.bytes_read >= (RECORDS * RECORD_BYTES) as u64,
        "every record was checked"
    );
    assert!(
        opened < BOUND,
        "opening a {} MiB log allocated {opened} bytes at peak",
        (RECORDS * RECORD_BYTES) >> 20
    );

    let (count, replayed) = peak_during(|| {
        let mut count = 0usize;
        for (i, record) in wal.read_from(1).unwrap().enumerate() {
            let (_, payload) = record.unwrap();
            assert_eq!(payload, vec![i as u8; RECORD_BYTES]);
            count += 1;
        }
        count
    });
    assert_eq!(count, RECORDS);
    assert!(
        replayed < BOUND,
        "reading the log back allocated {replayed} bytes at peak"
    );
}
