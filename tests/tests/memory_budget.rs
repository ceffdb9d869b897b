//! One memory budget for many databases: 50 databases share a 32 MiB `MemoryBudget` and
//! together take in more than three times that; the heap stays within the budget plus a
//! stated overhead, and the per-database figures add up to what the budget counts.
//! Measured with a counting global allocator (peak bytes allocated).
//!
//! Keep this the only test in this binary: tests of one binary run on parallel threads, and
//! another test's allocations would land in the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use folio::{Database, DatabaseOptions, Durability, MemoryBudget};

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

const DATABASES: usize = 50;
const BUDGET_BYTES: usize = 32 << 20;
/// Bytes of keys and values each database takes in.
const DATA_PER_DATABASE: usize = 2 << 20;

fn options(budget: Option<&MemoryBudget>) -> DatabaseOptions {
    let mut options = DatabaseOptions {
        memory_budget: budget.cloned(),
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options
}

/// Opens the databases, writes `DATA_PER_DATABASE` into each (round robin, 10 KiB commits
/// of random keys), and returns the peak heap above what the open databases held before.
/// The peak heap while writing to the databases, the databases, and one temporary directory
/// holding all of them (removed when the caller drops it, after the databases).
fn peak_while_writing(budget: Option<&MemoryBudget>) -> (usize, Vec<Database>, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<std::path::PathBuf> = (0..DATABASES)
        .map(|i| root.path().join(format!("db-{i}")))
        .collect();
    let databases: Vec<Database> = dirs
        .iter()
        .map(|dir| {
            let db = Database::open_with(dir, options(budget)).unwrap();
            db.create_cf("t").unwrap();
            db
        })
        .collect();
    let before = ALLOCATED.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut rng = fastrand::Rng::with_seed(3);
    let value = [7u8; 200];
    let commits = DATA_PER_DATABASE / (50 * (8 + value.len()));
    for _ in 0..commits {
        for db in &databases {
            let mut txn = db.begin_write(&["t"]).unwrap();
            for _ in 0..50 {
                txn.put("t", &rng.u64(..).to_be_bytes(), &value).unwrap();
            }
            txn.commit_with(Durability::Eventual).unwrap();
        }
    }
    let peak = PEAK.load(Ordering::Relaxed) - before;
    (peak, databases, root)
}

#[test]
fn fifty_databases_stay_within_one_shared_budget() {
    let budget = MemoryBudget::new(BUDGET_BYTES);
    let (peak, databases, root) = peak_while_writing(Some(&budget));
    // What the budget cannot hold back: each database's dirty pages below the floor at
    // which a budget checkpoint is worth a sync (256 KiB), its one open transaction's
    // pages, and the log records being built (a few hundred KiB across all of them).
    let overhead = DATABASES * (512 << 10);
    assert!(
        peak <= BUDGET_BYTES + overhead,
        "peak heap {} MiB with a {} MiB budget ({} MiB overhead allowed)",
        peak >> 20,
        BUDGET_BYTES >> 20,
        overhead >> 20
    );
    let cached: usize = databases
        .iter()
        .map(|db| db.stats().page_store.cache.total_bytes())
        .sum();
    assert!(
        cached <= budget.used_bytes(),
        "the budget counts every cached byte ({cached} cached, {} counted)",
        budget.used_bytes()
    );
    drop(databases);
    drop(root);
    assert_eq!(
        budget.used_bytes(),
        0,
        "closed databases give their bytes back"
    );

    // The same load without a shared budget passes it: the test measures something.
    let (unbounded, databases, root) = peak_while_writing(None);
    drop(databases);
    drop(root);
    assert!(
        unbounded > BUDGET_BYTES + overhead,
        "without the budget the peak was only {} MiB",
        unbounded >> 20
    );
    println!(
        "peak heap: {} MiB with the shared budget, {} MiB without",
        peak >> 20,
        unbounded >> 20
    );
}
