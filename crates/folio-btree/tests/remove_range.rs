//! Range removal works by pages, not entries: removing most of a committed tree copies only
//! the nodes at the range's two ends, frees every other page of the range whole, and leaves a
//! tree that passes the integrity check with the right entries.

use std::ops::Bound;
use std::sync::Arc;

use folio_btree::{BTreeMut, check_tree};
use folio_io::MemoryStorage;
use folio_pagestore::{PageStore, PageStoreOptions};

fn key(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

/// A committed tree of `count` keys with 100-byte values (three levels at 100,000).
fn committed_tree(count: u32) -> (PageStore, BTreeMut) {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for n in 0..count {
        tree.put(&key(n), &[7u8; 100]).unwrap();
    }
    tree.commit(1);
    (store, tree)
}

#[test]
fn removing_most_of_a_tree_copies_only_the_boundary_paths() {
    let (store, mut tree) = committed_tree(100_000);
    let before = tree.check().unwrap();
    assert!(before.depth >= 3, "depth {}", before.depth);
    let bounds = (
        Bound::Included(key(1_234).to_vec()),
        Bound::Excluded(key(98_765).to_vec()),
    );
    let removed = tree.remove_range(&bounds).unwrap();
    assert_eq!(removed, 98_765 - 1_234);
    assert_eq!(tree.len(), 100_000 - removed);
    // Two paths of copies (root and one node per level at each end), plus at most a merge
    // partner per level: nothing proportional to the ~3,000 leaves removed.
    let copied = tree.private_bytes() / store.page_size();
    assert!(
        copied <= 4 * before.depth,
        "{copied} pages copied for a depth of {}",
        before.depth
    );
    let after = tree.check().unwrap();
    assert_eq!(after.entries, tree.len());
    let keys: Vec<Vec<u8>> = tree.view().iter().map(|entry| entry.unwrap().0).collect();
    let expected: Vec<Vec<u8>> = (0..1_234)
        .chain(98_765..100_000)
        .map(|n| key(n).to_vec())
        .collect();
    assert_eq!(keys, expected);
    tree.commit(2);
    check_tree(&store, tree.root()).unwrap();
}

/// Pages in use in the store's durable state (after a checkpoint).
fn used_pages(store: &PageStore) -> u64 {
    let report = store.allocation_report();
    report.high_water - report.free.page_count() - report.freelist_pages.len() as u64
}

#[test]
fn removed_ranges_return_every_page_they_held() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let baseline = used_pages(&store);
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for n in 0..20_000u32 {
        // Some values and keys in overflow chains, which the freed subtrees must free too.
        let value = vec![1u8; if n % 10 == 0 { 5_000 } else { 100 }];
        let mut long = key(n).to_vec();
        if n % 97 == 0 {
            long.resize(3_000, 9);
        }
        tree.put(&long, &value).unwrap();
    }
    tree.commit(1);
    store.checkpoint(1, b"").unwrap();
    let middle = (
        Bound::Excluded(key(3_000).to_vec()),
        Bound::Included(key(17_000).to_vec()),
    );
    tree.remove_range(&middle).unwrap();
    tree.commit(2);
    store.checkpoint(2, b"").unwrap();
    let report = tree.check().unwrap();
    assert_eq!(report.entries, 3_001 + 2_999);
    assert_eq!(
        used_pages(&store) - baseline,
        report.pages.len() as u64,
        "pages leaked by the removal"
    );
    assert_eq!(
        tree.remove_range(&(Bound::Unbounded, Bound::Unbounded))
            .unwrap(),
        6_000
    );
    assert_eq!((tree.root(), tree.len()), (None, 0));
    tree.commit(3);
    store.checkpoint(3, b"").unwrap();
    assert_eq!(
        used_pages(&store),
        baseline,
        "pages leaked emptying the tree"
    );
}

#[test]
fn a_range_holding_nothing_changes_nothing() {
    let (_store, mut tree) = committed_tree(1_000);
    let root = tree.root();
    let empty = (Bound::Included(key(5_000).to_vec()), Bound::Unbounded);
    assert_eq!(tree.remove_range(&empty).unwrap(), 0);
    let backwards = (
        Bound::Included(key(500).to_vec()),
        Bound::Excluded(key(100).to_vec()),
    );
    assert_eq!(tree.remove_range(&backwards).unwrap(), 0);
    assert_eq!(tree.root(), root, "no page was copied");
    assert_eq!(tree.private_bytes(), 0);
}
