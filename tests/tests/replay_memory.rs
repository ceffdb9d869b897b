//! Recovery in bounded memory: a log many times larger than the bound replays through
//! sorted runs (temporary files, removed after) with the heap staying under the bound, and
//! gives back every change. Measured with a counting global allocator (peak bytes
//! allocated during the open).
//!
//! Keep this the only test in this binary: tests of one binary run on parallel threads, and
//! another test's allocations would land in the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use folio::{Database, DatabaseOptions, Durability};

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

/// Bytes of keys and values logged.
const LOG_BYTES: usize = 24 << 20;
const VALUE_BYTES: usize = 200;
const BATCH_BYTES: usize = 512 << 10;
/// The heap an open may take above what it held before: cache, runs' windows, the batch,
/// the trees' unspilled pages, and the log reader's window.
const BOUND_BYTES: usize = 8 << 20;

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_on_close: false, // the reopen replays the whole log
        replay_batch_bytes: BATCH_BYTES,
        ..DatabaseOptions::default()
    };
    options.page_store.cache_bytes_max = 2 << 20;
    options.wal.sync_interval = None;
    options
}

#[test]
fn a_log_larger_than_memory_replays_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let count = (LOG_BYTES / (VALUE_BYTES + 8)) as u64;
    {
        // No checkpoint while filling: every change stays in the log.
        let fill = DatabaseOptions {
            checkpoint_dirty_bytes: 1 << 40,
            checkpoint_log_bytes: 1 << 40,
            ..options()
        };
        let db = Database::open_with(dir.path(), fill).unwrap();
        db.create_cf("t").unwrap();
        db.create_cf("gone").unwrap();
        let mut rng = fastrand::Rng::with_seed(9);
        for chunk in 0..count / 1_000 {
            let mut txn = db.begin_write(&["t", "gone"]).unwrap();
            for i in 0..1_000 {
                let key = rng.u64(..count * 4).to_be_bytes();
                txn.put("t", &key, &[(chunk + i) as u8; VALUE_BYTES])
                    .unwrap();
                // Runs of a column family dropped later in the log are discarded.
                txn.put("gone", &key, b"x").unwrap();
            }
            txn.commit_with(Durability::Eventual).unwrap();
        }
        db.drop_cf("gone").unwrap();
        let mut txn = db.begin_write(&["t"]).unwrap();
        txn.put("t", b"last", b"change").unwrap();
        txn.commit_with(Durability::Immediate).unwrap();
    }
    let expected = {
        // What the log holds, by a database that keeps its batches whole (one batch).
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
        }
        let whole = DatabaseOptions {
            replay_batch_bytes: 1 << 30,
            ..options()
        };
        let db = Database::open_with(copy.path(), whole).unwrap();
        let read = db.begin_read();
        let tree = read.tree("t").unwrap();
        (tree.len(), tree.get(b"last").unwrap().map(|v| v.to_vec()))
    };

    let before = ALLOCATED.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let db = Database::open_with(dir.path(), options()).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let report = db.recovery_report();
    assert!(report.replayed_bytes > LOG_BYTES as u64, "{report:?}");
    assert!(
        peak < BOUND_BYTES,
        "peak heap {} MiB replaying {} MiB of log",
        peak >> 20,
        report.replayed_bytes >> 20
    );
    let read = db.begin_read();
    let tree = read.tree("t").unwrap();
    assert_eq!(
        (tree.len(), tree.get(b"last").unwrap().map(|v| v.to_vec())),
        expected
    );
    tree.verify().unwrap();
    assert!(read.tree("gone").is_err());
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("replay-"))
        .collect();
    assert!(leftovers.is_empty(), "runs left behind: {leftovers:?}");
}
