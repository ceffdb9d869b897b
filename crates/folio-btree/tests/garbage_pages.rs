//! Pages with valid checksums but nonsense contents (a bug elsewhere, or a page reused while
//! something still pointed at it) must give errors from every operation, never a panic or a
//! hang. Random payloads, plus random "almost valid" nodes built from real ones with bytes
//! overwritten, are sealed and fed to reads, writes and the integrity check.

use std::sync::Arc;

use folio_btree::{BTree, BTreeMut, check_tree};
use folio_io::MemoryStorage;
use folio_pagestore::{Page, PageBuf, PageId, PageStore, PageStoreOptions};
use proptest::prelude::*;

fn exercise(store: &PageStore, root: PageId, len: u64) {
    let view = BTree::new(store.clone(), Some(root));
    let _ = view.get(b"some key");
    let _ = view.iter().take(1000).count();
    let _ = view.iter_rev().take(1000).count();
    let _ = view.first();
    let _ = check_tree(store, Some(root));
    let mut tree = BTreeMut::new(store.writer(), Some(root), len);
    for n in 0u32..40 {
        let _ = tree.put(&n.to_be_bytes(), &[1u8; 300]);
        let _ = tree.delete_key(&(n / 2).to_be_bytes());
    }
    let _ = tree.clear();
}

/// Makes `page` (sealed for `id`) what the file holds at `id`, as damage (or a stale page)
/// would: checkpoints the committed state, overwrites the page in the file, evicts it.
fn replace_on_disk(store: &PageStore, id: PageId, page: &Page) {
    store.checkpoint(1, &[]).unwrap();
    store
        .storage()
        .unwrap()
        .write_all_at(page.stored_bytes(), store.layout().offset(id))
        .unwrap();
    folio_pagestore::testing::evict_clean(store, id);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn random_sealed_pages_never_panic(
        pages in prop::collection::vec(prop::collection::vec(any::<u8>(), 4088), 1..4),
        kinds in prop::collection::vec(0u8..4, 4),
        len in any::<u64>(),
    ) {
        let store = PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
        let mut writer = store.writer();
        let mut ids = Vec::new();
        for (i, payload) in pages.iter().enumerate() {
            let id = writer.allocate().unwrap();
            let mut buf = PageBuf::zeroed(4096);
            buf.payload_mut().copy_from_slice(payload);
            // Mostly plausible node kinds with a small count, so decoding goes deep.
            let bytes = buf.payload_mut();
            bytes[0] = kinds[i % kinds.len()];
            bytes[2] %= 8;
            bytes[3] = 0;
            writer.write(id, buf.seal(id));
            ids.push(id);
        }
        writer.commit(1);
        exercise(&store, ids[0], len);
    }

    #[test]
    fn damaged_real_nodes_never_panic(seed in any::<u64>(), edits in prop::collection::vec((0usize..4088, any::<u8>()), 1..12)) {
        let store = PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
        let mut tree = BTreeMut::new(store.writer(), None, 0);
        let mut rng = fastrand::Rng::with_seed(seed);
        for n in 0..400u32 {
            let value = vec![7u8; rng.usize(0..1500)];
            tree.put(&n.to_be_bytes(), &value).unwrap();
        }
        tree.commit(1);
        let root = tree.root().unwrap();
        let pages: Vec<PageId> = check_tree(&store, Some(root)).unwrap().pages.into_iter().collect();
        let victim = pages[rng.usize(0..pages.len())];
        // Rewrite the victim with some bytes changed and a fresh, valid checksum.
        let mut buf = store.read(victim).unwrap().to_buf();
        for (at, byte) in edits {
            buf.payload_mut()[at] = byte;
        }
        replace_on_disk(&store, victim, &buf.seal(victim));
        exercise(&store, root, 400);
    }
}

/// A branch that lists the same leaf twice (or itself): scans stop with an error instead of
/// looping, clearing refuses instead of freeing twice, the integrity check names the page.
#[test]
fn a_branch_pointing_at_one_child_twice_is_an_error_not_a_loop() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for n in 0..300u32 {
        tree.put(&n.to_be_bytes(), &[5u8; 40]).unwrap();
    }
    tree.commit(1);
    let root = tree.root().unwrap();
    // The root is a branch: make every child pointer name child 0.
    let page = store.read(root).unwrap();
    assert_eq!(page[0], 2, "expected a branch root");
    let first_child = u64::from_le_bytes(page[8..16].try_into().unwrap());
    let count = u16::from_le_bytes([page[2], page[3]]) as usize;
    let mut buf = page.to_buf();
    for i in 0..count {
        let offset =
            u16::from_le_bytes(buf.payload()[16 + 2 * i..18 + 2 * i].try_into().unwrap()) as usize;
        buf.payload_mut()[offset + 8..offset + 16].copy_from_slice(&first_child.to_le_bytes());
    }
    replace_on_disk(&store, root, &buf.seal(root));
    let view = BTree::new(store.clone(), Some(root));
    assert!(
        view.iter().any(|e| e.is_err()),
        "the scan must report the damage"
    );
    assert!(view.count().is_err());
    assert!(check_tree(&store, Some(root)).is_err());
    let mut damaged = BTreeMut::new(store.writer(), Some(root), 300);
    assert!(damaged.clear().is_err());
}

/// Drains a cursor, returning the error it ended with (if any).
fn cursor_error(mut cursor: folio_btree::Cursor<'_>) -> Option<folio_btree::Error> {
    while let Some(entry) = cursor.next() {
        if let Err(error) = entry {
            return Some(error);
        }
    }
    None
}

/// A leaf whose offset table lists two neighbouring entries in the wrong order (a valid
/// checksum over a damaged node): every scan, in both directions, owned or lent, reports it
/// when it reaches them, wherever in the leaf they are (the first entry of a leaf and the
/// ones after it take different paths through the walk).
#[test]
fn a_leaf_with_keys_out_of_order_is_an_error_in_every_scan() {
    for swapped in [0usize, 1, 5] {
        let store =
            PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
        let mut tree = BTreeMut::new(store.writer(), None, 0);
        for n in 0..20u32 {
            tree.put(&n.to_be_bytes(), &[5u8; 40]).unwrap();
        }
        tree.commit(1);
        let root = tree.root().unwrap();
        let page = store.read(root).unwrap();
        assert_eq!(page[0], 1, "expected a leaf root");
        let mut buf = page.to_buf();
        let slot = 8 + 2 * swapped;
        buf.payload_mut()[slot..slot + 4].rotate_left(2);
        replace_on_disk(&store, root, &buf.seal(root));

        let view = BTree::new(store.clone(), Some(root));
        let message = |error: folio_btree::Error| error.to_string();
        for (name, error) in [
            ("iter", view.iter().find_map(Result::err)),
            ("iter_rev", view.iter_rev().find_map(Result::err)),
            ("cursor", cursor_error(view.cursor_all())),
            ("cursor_rev", cursor_error(view.cursor_rev::<[u8], _>(..))),
        ] {
            let error = error.unwrap_or_else(|| panic!("{name} (swap at {swapped}) saw no damage"));
            assert!(
                message(error).contains("out of order"),
                "{name} (swap at {swapped})"
            );
        }
    }
}
