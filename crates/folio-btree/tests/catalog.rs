//! The column-family catalog: create, get, update, rename, drop, list; any number of column
//! families; dropping frees pages; the catalog survives a checkpoint and reopen.

use std::sync::Arc;

use folio_btree::{BTreeMut, Catalog, Error, check_tree};
use folio_io::MemoryStorage;
use folio_pagestore::{PageId, PageStore, PageStoreOptions};

fn roots_of(root: Option<PageId>) -> Vec<u8> {
    root.map_or(u64::MAX, |p| p.0).to_le_bytes().to_vec()
}

fn root_from(roots: &[u8]) -> Option<PageId> {
    let raw = u64::from_le_bytes(roots.try_into().unwrap());
    (raw != u64::MAX).then_some(PageId(raw))
}

#[test]
fn lifecycle_and_persistence() {
    let storage = MemoryStorage::new();
    let store = PageStore::create(Arc::new(storage.clone()), PageStoreOptions::default()).unwrap();
    let mut catalog = Catalog::open(store.writer(), None).unwrap();
    let users = catalog.create("users").unwrap();
    let orders = catalog.create("orders").unwrap();
    assert_ne!(users.id, orders.id);
    assert!(matches!(
        catalog.create("users"),
        Err(Error::ColumnFamilyExists { .. })
    ));
    assert!(matches!(catalog.create(""), Err(Error::InvalidName { .. })));

    let mut tree = BTreeMut::new(store.writer(), None, 0);
    tree.put(b"alice", b"admin").unwrap();
    tree.commit(1);
    catalog.update("users", tree.root(), tree.len()).unwrap();
    catalog.rename("orders", "purchases").unwrap();
    assert!(matches!(
        catalog.rename("nope", "x"),
        Err(Error::ColumnFamilyNotFound { .. })
    ));
    assert!(matches!(
        catalog.rename("users", "purchases"),
        Err(Error::ColumnFamilyExists { .. })
    ));
    catalog.commit(1);
    store.checkpoint(1, &roots_of(catalog.root())).unwrap();
    drop((catalog, tree, store));

    let store = PageStore::open(Arc::new(storage), PageStoreOptions::default()).unwrap();
    let catalog = Catalog::open(store.writer(), root_from(&store.roots())).unwrap();
    let names: Vec<String> = catalog
        .list()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, vec!["purchases".to_owned(), "users".to_owned()]);
    let users = catalog.get("users").unwrap().unwrap();
    assert_eq!(users.len, 1);
    let view = folio_btree::BTree::new(store.clone(), users.root);
    assert_eq!(&*view.get(b"alice").unwrap().unwrap(), b"admin");
    assert_eq!(
        catalog.get("purchases").unwrap().unwrap().id,
        orders.id,
        "rename keeps the id"
    );
}

#[test]
fn thousands_of_column_families_fit() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut catalog = Catalog::open(store.writer(), None).unwrap();
    for n in 0..2_000 {
        catalog.create(&format!("cf-{n:05}")).unwrap();
    }
    let list = catalog.list().unwrap();
    assert_eq!(list.len(), 2_000);
    let ids: std::collections::BTreeSet<u64> = list.iter().map(|(_, s)| s.id).collect();
    assert_eq!(ids.len(), 2_000, "ids are unique");
    catalog.commit(1);
    let report = check_tree(&store, catalog.root()).unwrap();
    assert!(report.leaves > 1, "the catalog spans many pages");
}

#[test]
fn dropping_a_column_family_frees_its_pages_and_ids_are_not_reused() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut catalog = Catalog::open(store.writer(), None).unwrap();
    let first = catalog.create("big").unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for n in 0..5_000u32 {
        tree.put(&n.to_be_bytes(), &[5u8; 200]).unwrap();
    }
    tree.put(b"huge", &vec![1u8; 100_000]).unwrap();
    tree.commit(1);
    catalog.update("big", tree.root(), tree.len()).unwrap();
    catalog.commit(1);
    store.checkpoint(1, &roots_of(catalog.root())).unwrap();
    let tree_pages = tree.check().unwrap().pages.len() as u64;
    let used = |store: &PageStore| {
        let r = store.allocation_report();
        r.high_water - r.free.page_count() - r.freelist_pages.len() as u64
    };
    let used_with_tree = used(&store);

    let dropped = catalog.drop_cf("big").unwrap();
    assert_eq!(dropped.id, first.id);
    assert!(matches!(
        catalog.drop_cf("big"),
        Err(Error::ColumnFamilyNotFound { .. })
    ));
    catalog.commit(2);
    store.checkpoint(2, &roots_of(catalog.root())).unwrap();
    assert!(
        used(&store) + tree_pages <= used_with_tree,
        "dropping freed fewer than the tree's {tree_pages} pages"
    );
    assert!(
        catalog.create("again").unwrap().id > first.id,
        "ids are not reused"
    );
}
