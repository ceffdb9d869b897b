//! `BTreeMut::repack`: the same contents in fewer, full pages, values re-encoded with the
//! current compression; refused with uncommitted changes; snapshots of the old tree intact.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio_btree::{BTree, BTreeMut, Compression, Error, check_tree};
use folio_io::MemoryStorage;
use folio_pagestore::{PageStore, PageStoreOptions};

fn contents(tree: &BTree) -> BTreeMap<Vec<u8>, Vec<u8>> {
    tree.iter()
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn repack_packs_leaves_and_recompresses_without_changing_contents() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    let mut rng = fastrand::Rng::with_seed(3);
    let mut model = BTreeMap::new();
    for i in 0..4_000u32 {
        let key = rng.u64(..).to_be_bytes().to_vec();
        let value = format!("{{\"n\":{i},\"text\":\"repeated repeated repeated {i}\"}}")
            .repeat(1 + (i % 40) as usize)
            .into_bytes();
        tree.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    tree.commit(1);
    let before = check_tree(&store, tree.root()).unwrap();
    let old = BTree::new(store.clone(), tree.root());

    tree.set_compression(Compression::Lz4);
    tree.put(b"uncommitted", b"x").unwrap();
    assert!(matches!(tree.repack(), Err(Error::UncommittedChanges)));
    tree.rollback();

    assert_eq!(tree.repack().unwrap(), model.len() as u64);
    tree.commit(2);
    let after = check_tree(&store, tree.root()).unwrap();
    assert_eq!(contents(&BTree::new(store.clone(), tree.root())), model);
    assert_eq!(
        contents(&old),
        model,
        "a snapshot of the old tree still reads it"
    );
    assert_eq!(after.entries, before.entries);
    assert!(
        after.leaves * 10 < before.leaves * 8,
        "leaves {} -> {}: random inserts leave them part full, appends fill them",
        before.leaves,
        after.leaves
    );
    assert_eq!(before.compressed_values, 0);
    assert!(after.compressed_values > 3_000, "{after:?}");
    assert_eq!(after.value_bytes, before.value_bytes);
    assert!(after.stored_value_bytes * 2 < before.stored_value_bytes);
}
