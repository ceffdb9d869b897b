//! A bit flip in any page of a tree gives a typed error on read and from the integrity
//! check: never wrong data, never a panic. Plain, encrypted, and with compressed values.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio_btree::{BTree, BTreeMut, Compression, Error, check_tree};
use folio_io::{CrashPolicy, EncryptionKey, SimStorage};
use folio_pagestore::{Layout, PageId, PageStore, PageStoreOptions};

fn options(encrypted: bool) -> PageStoreOptions {
    PageStoreOptions {
        encryption_key: encrypted.then(|| EncryptionKey::from_bytes([0x11; 32])),
        ..PageStoreOptions::default()
    }
}

#[test]
fn a_flip_in_any_tree_page_is_a_typed_error() {
    flip_every_page(false, Compression::None);
}

#[test]
fn a_flip_in_any_tree_page_is_a_typed_error_encrypted() {
    flip_every_page(true, Compression::None);
}

#[test]
fn a_flip_in_any_tree_page_is_a_typed_error_compressed() {
    flip_every_page(false, Compression::Lz4);
}

fn flip_every_page(encrypted: bool, compression: Compression) {
    let disk = SimStorage::new(1);
    let store = PageStore::create(Arc::new(disk.clone()), options(encrypted)).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    tree.set_compression(compression);
    let mut model = BTreeMap::new();
    for n in 0..600u32 {
        let value = vec![(n % 256) as u8; if n % 50 == 0 { 6_000 } else { 60 }];
        tree.put(&n.to_be_bytes(), &value).unwrap();
        model.insert(n.to_be_bytes().to_vec(), value);
    }
    tree.commit(1);
    let root = tree.root().unwrap();
    store.checkpoint(1, &root.0.to_le_bytes()).unwrap();
    let pages = check_tree(&store, Some(root)).unwrap().pages;
    drop((tree, store));
    let image = disk.crash(CrashPolicy::DropUnsynced).durable_image();
    let layout = Layout::new(4096);

    for (n, page) in pages.iter().enumerate() {
        let copy = SimStorage::from_image(image.clone(), n as u64);
        copy.flip_bit(layout.offset(*page) + (n as u64 * 97) % 4096, (n % 8) as u8);
        let store = PageStore::open(Arc::new(copy), options(encrypted)).unwrap();
        let view = BTree::new(store.clone(), Some(PageId(root.0)));
        let mut failed = false;
        for entry in view.iter() {
            match entry {
                Ok((key, value)) => assert_eq!(
                    model.get(&key).map(Vec::as_slice),
                    Some(&*value),
                    "wrong data"
                ),
                Err(error) => {
                    assert!(
                        matches!(error, Error::PageStore(_) | Error::CorruptNode { .. }),
                        "{error}"
                    );
                    failed = true;
                }
            }
        }
        assert!(failed, "flip in page {page} went unnoticed by a full scan");
        assert!(
            check_tree(&store, Some(root)).is_err(),
            "integrity check missed page {page}"
        );
    }
}
