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

/// A store holding one committed tree of keys `0..n` (4-byte) with 40-byte values.
fn committed_tree(n: u32) -> (PageStore, PageId) {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for key in 0..n {
        tree.put(&key.to_be_bytes(), &[5u8; 40]).unwrap();
    }
    tree.commit(1);
    let root = tree.root().unwrap();
    (store, root)
}

/// Rewrites page `id` on disk with `edit` applied to its payload and a valid checksum.
fn rewrite(store: &PageStore, id: PageId, edit: impl FnOnce(&mut [u8])) {
    let mut buf = store.read(id).unwrap().to_buf();
    edit(buf.payload_mut());
    replace_on_disk(store, id, &buf.seal(id));
}

/// Offsets of the entries of a branch payload, in key order.
fn branch_entries(payload: &[u8]) -> Vec<usize> {
    let count = u16::from_le_bytes([payload[2], payload[3]]) as usize;
    (0..count)
        .map(|i| u16::from_le_bytes([payload[16 + 2 * i], payload[17 + 2 * i]]) as usize)
        .collect()
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
    let (store, root) = committed_tree(300);
    // The root is a branch: make every child pointer name child 0.
    rewrite(&store, root, |payload| {
        assert_eq!(payload[0], 2, "expected a branch root");
        let first_child: [u8; 8] = payload[8..16].try_into().unwrap();
        for offset in branch_entries(payload) {
            payload[offset + 8..offset + 16].copy_from_slice(&first_child);
        }
    });
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
        let (store, root) = committed_tree(20);
        rewrite(&store, root, |payload| {
            assert_eq!(payload[0], 1, "expected a leaf root");
            let slot = 8 + 2 * swapped;
            payload[slot..slot + 4].rotate_left(2);
        });

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

/// A branch naming one child twice: an edit through the first name copies the child and
/// frees it; a later commit editing through the second name reaches the freed page and
/// frees it again. That double free must not hand the page out twice: the store is
/// poisoned (no further page is allocated) instead of panicking or corrupting the
/// allocator.
#[test]
fn a_page_freed_twice_through_a_damaged_branch_poisons_the_store() {
    let (store, root) = committed_tree(300);
    let view = BTree::new(store.clone(), Some(root));
    // A key of the root's second child, before the damage makes that child the first.
    let second_child_key = {
        let page = store.read(root).unwrap();
        let separator = branch_entries(&page)[0];
        let len = u32::from_le_bytes(page[separator + 4..separator + 8].try_into().unwrap());
        page[separator + 16..separator + 16 + len as usize].to_vec()
    };
    drop(view);
    rewrite(&store, root, |payload| {
        assert_eq!(payload[0], 2, "expected a branch root");
        let first_child: [u8; 8] = payload[8..16].try_into().unwrap();
        let second = branch_entries(payload)[0];
        payload[second + 8..second + 16].copy_from_slice(&first_child);
    });
    let mut tree = BTreeMut::new(store.writer(), Some(root), 300);
    tree.put(&0u32.to_be_bytes(), b"through the first name")
        .unwrap();
    tree.commit(2);
    let mut tree = BTreeMut::new(store.writer(), tree.root(), tree.len());
    let _ = tree.put(&second_child_key, b"through the second name");
    tree.commit(3);
    // Debug builds find the second free at its commit; every build finds it at the
    // checkpoint that computes the durable free set.
    let _ = store.checkpoint(3, &[]);
    assert!(store.is_poisoned(), "a page freed twice went unnoticed");
    assert!(matches!(
        store.writer().allocate(),
        Err(folio_pagestore::Error::Poisoned)
    ));
}
