//! The read API on a small tree: prefix scans (including prefixes of 0xFF bytes, which have
//! no upper bound), first/last, count, contains, ranges from different key types.

use std::sync::Arc;

use folio_btree::{BTree, BTreeMut};
use folio_io::MemoryStorage;
use folio_pagestore::{PageStore, PageStoreOptions};

fn tree(keys: &[&[u8]]) -> BTree<'static> {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for key in keys {
        tree.put(key, &key.len().to_le_bytes()).unwrap();
    }
    tree.commit(1);
    BTree::new(store, tree.root())
}

fn keys(range: folio_btree::Range<'_>) -> Vec<Vec<u8>> {
    range
        .map(|e| e.map(|(k, _)| k))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn prefix_scans_include_exactly_the_prefixed_keys() {
    let view = tree(&[
        b"a",
        b"ab",
        b"abc",
        b"abd",
        b"ac",
        b"b",
        b"\xff",
        b"\xff\xff",
        b"\xff\xff\x01",
    ]);
    assert_eq!(
        keys(view.prefix(b"ab")),
        vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]
    );
    assert_eq!(
        keys(view.prefix(b"\xff\xff")),
        vec![b"\xff\xff".to_vec(), b"\xff\xff\x01".to_vec()]
    );
    assert_eq!(keys(view.prefix(b"")).len(), 9);
    assert!(keys(view.prefix(b"zz")).is_empty());
}

#[test]
fn first_last_count_contains() {
    let empty = tree(&[]);
    assert!(empty.first().unwrap().is_none());
    assert!(empty.last().unwrap().is_none());
    assert_eq!(empty.count().unwrap(), 0);
    let view = tree(&[b"m", b"a", b"z", b"q"]);
    assert_eq!(view.first().unwrap().unwrap().0, b"a");
    assert_eq!(view.last().unwrap().unwrap().0, b"z");
    assert_eq!(view.count().unwrap(), 4);
    assert!(view.contains_key(b"q").unwrap());
    assert!(!view.contains_key(b"b").unwrap());
}

#[test]
fn ranges_accept_slices_vectors_and_literals() {
    let view = tree(&[b"a", b"b", b"c", b"d"]);
    assert_eq!(
        keys(view.range(b"b".as_slice()..b"d".as_slice())),
        vec![b"b".to_vec(), b"c".to_vec()]
    );
    assert_eq!(
        keys(view.range(b"c".to_vec()..)),
        vec![b"c".to_vec(), b"d".to_vec()]
    );
    assert_eq!(
        keys(view.range_rev(..=b"b".as_slice())),
        vec![b"b".to_vec(), b"a".to_vec()]
    );
    assert_eq!(keys(view.iter_rev()).len(), 4);
    // An empty or inverted range yields nothing.
    assert!(keys(view.range(b"c".as_slice()..b"b".as_slice())).is_empty());
    assert!(keys(view.range(b"b".as_slice()..b"b".as_slice())).is_empty());
}
