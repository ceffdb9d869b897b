//! Several owners allocate, write and free pages in parallel while a checkpointer runs and
//! readers verify pages that never change; everything is consistent after reopen.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{check_allocation, check_contents, check_tagged, small_options, tagged_page};
use folio_io::{CrashPolicy, SimStorage};
use folio_pagestore::{PageId, PageStore, PageStoreOptions};
use parking_lot::Mutex;

/// The commit order: versions are handed out and settled under one lock, as the facade's
/// publish step will do, so a checkpoint of version V covers every commit up to V.
struct Published {
    version: u64,
    live: BTreeMap<PageId, u64>,
    history: BTreeMap<u64, BTreeMap<PageId, u64>>,
}

/// One owner: each transaction allocates and writes 5 pages and frees one older page of its
/// own, then commits in the shared order.
fn run_owner(thread: u64, txns: u64, store: &PageStore, published: &Mutex<Published>) {
    let mut writer = store.writer();
    let mut mine: Vec<PageId> = Vec::new();
    for txn in 0..txns {
        let mut added = Vec::new();
        for i in 0..5 {
            let id = writer.allocate().unwrap();
            let tag = (thread << 32) | (txn << 8) | i;
            writer.write(id, tagged_page(store, id, tag));
            added.push((id, tag));
        }
        let freed = (mine.len() > 10).then(|| mine.remove(txn as usize % mine.len()));
        if let Some(id) = freed {
            writer.free(id);
        }
        let mut published = published.lock();
        published.version += 1;
        let version = published.version;
        writer.commit(version);
        for (id, tag) in added {
            published.live.insert(id, tag);
            mine.push(id);
        }
        if let Some(id) = freed {
            published.live.remove(&id);
        }
        let snapshot = published.live.clone();
        published.history.insert(version, snapshot);
    }
}

#[test]
fn parallel_owners_with_checkpoints_and_readers() {
    const THREADS: u64 = 4;
    const TXNS: u64 = 60;
    let disk = SimStorage::new(9);
    let options = PageStoreOptions {
        cache_bytes_max: 64 * 4096, // small: readers cause evictions and re-reads
        ..small_options()
    };
    let store = PageStore::create(Arc::new(disk.clone()), options).unwrap();

    // Pages that never change, for the readers.
    let mut stable = BTreeMap::new();
    let mut setup = store.writer();
    for i in 0..32 {
        let id = setup.allocate().unwrap();
        setup.write(id, tagged_page(&store, id, 1_000_000 + i));
        stable.insert(id, 1_000_000 + i);
    }
    setup.commit(1);
    drop(setup);
    let published = Mutex::new(Published {
        version: 1,
        live: stable.clone(),
        history: BTreeMap::new(),
    });
    let writers_done = AtomicBool::new(false);

    std::thread::scope(|scope| {
        // The checkpointer and readers stop once this closure ends, also when a writer's
        // panic unwinds it.
        scopeguard::defer! { writers_done.store(true, Ordering::Release) }
        let writers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (store, published) = (&store, &published);
                scope.spawn(move || run_owner(thread, TXNS, store, published))
            })
            .collect();
        {
            let (store, published, done) = (&store, &published, &writers_done);
            scope.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    let version = published.lock().version;
                    store.checkpoint(version, &version.to_le_bytes()).unwrap();
                }
            });
        }
        for _ in 0..2 {
            let (store, stable, done) = (&store, &stable, &writers_done);
            scope.spawn(move || {
                let mut rounds = 0;
                while !done.load(Ordering::Acquire) || rounds < 3 {
                    for (&id, &tag) in stable {
                        check_tagged(&store.read(id).unwrap(), id, tag);
                    }
                    rounds += 1;
                }
            });
        }
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(published.lock().version, 1 + THREADS * TXNS);
    });

    let final_version = 1 + THREADS * TXNS;
    store
        .checkpoint(final_version, &final_version.to_le_bytes())
        .unwrap();
    let live = published.lock().live.clone();
    assert!(store.stats().checkpoints >= 1);
    drop(store);
    let store = common::reopen(
        Arc::new(disk.crash(CrashPolicy::Random)),
        common::AtRest::Plain,
    );
    assert_eq!(store.durable_version(), final_version);
    check_contents(&store, &live);
    check_allocation(&store, &live);
}
