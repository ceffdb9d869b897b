//! Writers of different column families run in parallel (each with its own page writer)
//! while readers check committed snapshots; after a checkpoint and reopen everything is there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use folio_btree::{BTree, BTreeMut, check_tree};
use folio_io::MemoryStorage;
use folio_pagestore::{PageId, PageStore, PageStoreOptions};
use parking_lot::Mutex;

const WRITERS: u64 = 4;
const TXNS: u64 = 40;
const KEYS_PER_TXN: u64 = 25;

/// Published state: version and, per column family, (root, committed transactions).
#[derive(Default)]
struct Published {
    version: u64,
    trees: BTreeMap<u64, (Option<PageId>, u64)>,
}

fn key(txn: u64, i: u64) -> Vec<u8> {
    format!("{txn:04}-{i:03}").into_bytes()
}

#[test]
fn parallel_writers_on_different_column_families_with_readers() {
    let storage = MemoryStorage::new();
    let store = PageStore::create(Arc::new(storage.clone()), PageStoreOptions::default()).unwrap();
    let published = Mutex::new(Published::default());
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The readers stop once this closure ends, also when a writer's panic unwinds it.
        scopeguard::defer! { done.store(true, Ordering::Release) }
        let writers: Vec<_> = (0..WRITERS)
            .map(|cf| {
                let (store, published) = (&store, &published);
                scope.spawn(move || {
                    let mut tree = BTreeMut::new(store.writer(), None, 0);
                    for txn in 0..TXNS {
                        for i in 0..KEYS_PER_TXN {
                            tree.put(&key(txn, i), &cf.to_le_bytes()).unwrap();
                        }
                        if txn > 0 {
                            // Each transaction also removes one key of the previous one.
                            assert!(tree.delete_key(&key(txn - 1, 0)).unwrap());
                        }
                        let mut published = published.lock();
                        published.version += 1;
                        tree.commit(published.version);
                        published.trees.insert(cf, (tree.root(), txn + 1));
                    }
                })
            })
            .collect();
        for _ in 0..2 {
            let (store, published, done) = (&store, &published, &done);
            scope.spawn(move || {
                let mut checks = 0;
                while !done.load(Ordering::Acquire) || checks < 5 {
                    let snapshot: Vec<(u64, Option<PageId>, u64)> = published
                        .lock()
                        .trees
                        .iter()
                        .map(|(cf, (root, txns))| (*cf, *root, *txns))
                        .collect();
                    for (cf, root, txns) in snapshot {
                        let view = BTree::new(store.clone(), root);
                        let mut count = 0;
                        for entry in view.iter() {
                            let (_, value) = entry.unwrap();
                            assert_eq!(
                                &*value,
                                &cf.to_le_bytes(),
                                "a value from another column family"
                            );
                            count += 1;
                        }
                        // txns * KEYS_PER_TXN inserted, txns - 1 removed.
                        assert_eq!(
                            count,
                            txns * KEYS_PER_TXN - (txns - 1),
                            "snapshot of cf {cf} is inconsistent"
                        );
                    }
                    checks += 1;
                }
            });
        }
        for writer in writers {
            writer.join().unwrap();
        }
    });

    let published = published.into_inner();
    let roots: Vec<u8> = published
        .trees
        .values()
        .flat_map(|(root, _)| root.unwrap().0.to_le_bytes())
        .collect();
    store.checkpoint(published.version, &roots).unwrap();
    drop(store);
    let store = PageStore::open(Arc::new(storage), PageStoreOptions::default()).unwrap();
    for chunk in store.roots().chunks(8) {
        let root = PageId(u64::from_le_bytes(chunk.try_into().unwrap()));
        let report = check_tree(&store, Some(root)).unwrap();
        assert_eq!(report.entries, TXNS * KEYS_PER_TXN - (TXNS - 1));
    }
}
