//! Larger trees than the model test builds: deep trees with branch splits and merges, the
//! sorted-append fill, space returned by deletes, and the size limits.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio_btree::{BTreeMut, check_not_free};
use folio_io::MemoryStorage;
use folio_pagestore::{PageStore, PageStoreOptions};

fn store() -> PageStore {
    PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap()
}

fn key(n: u64) -> Vec<u8> {
    format!("key-{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes()
}

#[test]
fn deep_tree_matches_btreemap_through_inserts_and_removes() {
    let store = store();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    let mut model = BTreeMap::new();
    let mut rng = fastrand::Rng::with_seed(11);
    for n in 0..20_000u64 {
        let value = vec![(n % 251) as u8; rng.usize(0..300)];
        assert_eq!(
            tree.insert(&key(n), &value).unwrap(),
            model.insert(key(n), value)
        );
    }
    let report = tree.check().unwrap();
    assert!(
        report.depth >= 3,
        "expected a deep tree, got depth {}",
        report.depth
    );
    let mut victims: Vec<u64> = (0..20_000).collect();
    rng.shuffle(&mut victims);
    for &n in &victims[..15_000] {
        assert_eq!(tree.remove(&key(n)).unwrap(), model.remove(&key(n)));
    }
    let report = tree.check().unwrap();
    assert_eq!(report.entries, 5_000);
    assert_eq!(tree.len(), 5_000);
    let all: Vec<(Vec<u8>, Vec<u8>)> = tree
        .view()
        .iter()
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all, model.into_iter().collect::<Vec<_>>());
}

#[test]
fn sorted_appends_fill_leaves_completely() {
    let entries = 20_000u64;
    let leaves_for = |sorted: bool| {
        let store = store();
        let mut tree = BTreeMut::new(store.writer(), None, 0);
        let mut order: Vec<u64> = (0..entries).collect();
        if !sorted {
            fastrand::Rng::with_seed(3).shuffle(&mut order);
        }
        for n in order {
            tree.put(format!("{n:012}").as_bytes(), &[7u8; 40]).unwrap();
        }
        tree.check().unwrap().leaves
    };
    let sorted = leaves_for(true);
    let random = leaves_for(false);
    // Each entry takes 2 + 12 + 12 + 40 = 66 bytes: 61 per 4 KiB leaf when full.
    let full = entries.div_ceil(61);
    assert!(
        sorted <= full + 1,
        "sorted appends used {sorted} leaves, {full} would be full"
    );
    assert!(
        random > sorted * 5 / 4,
        "random inserts ({random} leaves) should split half-empty"
    );
}

#[test]
fn deleting_everything_returns_every_page() {
    let store = store();
    let baseline = store.allocation_report();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for n in 0..3_000u64 {
        let value = vec![1u8; if n % 10 == 0 { 5_000 } else { 100 }]; // some overflow values
        tree.put(&key(n), &value).unwrap();
    }
    let long_key = vec![9u8; 3_000];
    tree.put(&long_key, b"long key").unwrap();
    tree.commit(1);
    store.checkpoint(1, b"").unwrap();
    let full = tree.check().unwrap();
    check_not_free(&full, &store.allocation_report()).unwrap();
    assert!(full.overflow_pages > 0);

    for n in 0..3_000u64 {
        assert!(tree.delete_key(&key(n)).unwrap());
    }
    assert!(tree.delete_key(&long_key).unwrap());
    assert_eq!(tree.root(), None);
    tree.commit(2);
    store.checkpoint(2, b"").unwrap();
    // Everything the tree had is free again in the durable state: nothing leaked.
    let after = store.allocation_report();
    let used = after.high_water - after.free.page_count() - after.freelist_pages.len() as u64;
    let used_before =
        baseline.high_water - baseline.free.page_count() - baseline.freelist_pages.len() as u64;
    assert_eq!(
        used, used_before,
        "pages leaked: {used} in use, {used_before} at the start"
    );
}

#[test]
fn megabyte_keys_and_large_values_round_trip() {
    let store = store();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    let big_key: Vec<u8> = (0..(1 << 20)).map(|i| (i % 253) as u8).collect();
    let big_value: Vec<u8> = (0..(32 << 20)).map(|i| (i % 241) as u8).collect();
    tree.put(&big_key, &big_value).unwrap();
    tree.put(b"small", b"value").unwrap();
    let mut other_key = big_key.clone();
    *other_key.last_mut().unwrap() ^= 1; // shares a 1 MiB prefix: a long separator
    tree.put(&other_key, b"neighbour").unwrap();
    for n in 0..200u64 {
        tree.put(&key(n), &[3u8; 500]).unwrap();
    }
    assert_eq!(&*tree.get(&big_key).unwrap().unwrap(), &big_value[..]);
    assert_eq!(&*tree.get(&other_key).unwrap().unwrap(), b"neighbour");
    let report = tree.check().unwrap();
    assert!(report.overflow_pages > (32 << 20) / 4096);
    assert_eq!(
        tree.remove(&big_key).unwrap().unwrap().len(),
        big_value.len()
    );
    tree.check().unwrap();
    assert!(tree.get(&big_key).unwrap().is_none());
}

#[test]
fn oversize_keys_are_refused_without_change() {
    let store = store();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    tree.put(b"a", b"1").unwrap();
    let error = tree
        .put(&vec![0u8; folio_btree::KEY_BYTES_MAX + 1], b"x")
        .unwrap_err();
    assert!(
        matches!(error, folio_btree::Error::KeyTooLarge { .. }),
        "{error}"
    );
    assert_eq!(tree.len(), 1);
    assert_eq!(tree.check().unwrap().entries, 1);
}

#[test]
fn inline_values_are_borrowed_from_the_cached_page() {
    let store = store();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    tree.put(b"k", b"small").unwrap();
    tree.put(b"big", &vec![1u8; 10_000]).unwrap();
    assert!(tree.get(b"k").unwrap().unwrap().is_borrowed());
    assert!(!tree.get(b"big").unwrap().unwrap().is_borrowed());
}

/// The inline rule at its boundary: a value whose entry (12-byte header, 2-byte offset, key,
/// value) takes exactly half the leaf's room stays in the leaf, one byte more goes to an
/// overflow page; with keys short and at the longest inline length, in random order, every
/// split still yields halves that fit and the tree reads back whole.
#[test]
fn entries_of_half_a_leaf_stay_inline_and_splits_still_fit() {
    let store = store();
    let payload = store.payload_size();
    let half_room = (payload - 8) / 2;
    for key_len in [1usize, 16, payload / 8] {
        let mut tree = BTreeMut::new(store.writer(), None, 0);
        let mut model = BTreeMap::new();
        let mut rng = fastrand::Rng::with_seed(key_len as u64);
        let largest_inline = half_room - 12 - 2 - key_len;
        let mut numbers: Vec<u16> = (0..if key_len == 1 { 256 } else { 400 }).collect();
        rng.shuffle(&mut numbers);
        let mut overflowing = 0;
        for n in numbers {
            let mut key = if key_len == 1 {
                vec![n as u8]
            } else {
                n.to_be_bytes().to_vec()
            };
            key.resize(key_len, b'k');
            let over = rng.bool();
            overflowing += u64::from(over);
            let value = vec![(n % 251) as u8; largest_inline + usize::from(over)];
            assert!(tree.insert(&key, &value).unwrap().is_none());
            model.insert(key, value);
        }
        let report = tree.check().unwrap();
        assert_eq!(report.entries, model.len() as u64, "key length {key_len}");
        assert_eq!(
            report.overflow_pages, overflowing,
            "key length {key_len}: one overflow page per value past the inline limit"
        );
        for (key, value) in &model {
            assert_eq!(tree.get(key).unwrap().as_deref(), Some(&value[..]));
        }
    }
}
