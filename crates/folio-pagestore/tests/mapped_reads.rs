//! Reads through the memory map of a real data file (`mapped_reads.rs`): clean pages come
//! from the map and are verified before first use, a page id given new contents is never
//! served with its old ones, a damaged page is an error, and the option turns it off.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{check_tagged, small_options, tagged_page};
use folio_io::{FileStorage, Storage};
use folio_pagestore::{Error, PageId, PageStore, PageStoreOptions};

fn open(path: &std::path::Path, options: PageStoreOptions) -> PageStore {
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::open(path).unwrap());
    PageStore::open_or_create(storage, options).unwrap()
}

/// Writes `count` tagged pages in one commit at `version` and checkpoints them.
fn write_checkpointed(store: &PageStore, count: u64, tag: u64, version: u64) -> Vec<PageId> {
    let mut writer = store.writer();
    let ids: Vec<PageId> = (0..count)
        .map(|i| {
            let id = writer.allocate().unwrap();
            writer.write(id, tagged_page(store, id, tag + i));
            id
        })
        .collect();
    writer.commit(version);
    store.checkpoint(version, &[]).unwrap();
    ids
}

#[test]
fn clean_pages_are_read_through_the_map_and_verified_before_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let store = open(&path, small_options());
    assert!(store.is_memory_mapped());
    let ids = write_checkpointed(&store, 40, 100, 1);
    drop(store);

    let store = open(&path, small_options());
    for (i, id) in ids.iter().enumerate() {
        for _ in 0..2 {
            let page = store.read(*id).unwrap();
            assert!(page.is_mapped(), "{id}: a clean page comes from the map");
            check_tagged(&page, *id, 100 + i as u64);
        }
    }
    let cache = store.stats().cache;
    assert_eq!(cache.pages, 0, "mapped reads leave the cache alone");
    assert_eq!(cache.total_bytes(), 0);
}

#[test]
fn a_damaged_page_is_an_error_through_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let store = open(&path, small_options());
    let ids = write_checkpointed(&store, 4, 7, 1);
    let offset = store.layout().offset(ids[2]) + 100;
    drop(store);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset as usize] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();

    let store = open(&path, small_options());
    check_tagged(&store.read(ids[1]).unwrap(), ids[1], 8);
    for _ in 0..2 {
        match store.read(ids[2]) {
            Err(Error::CorruptPage { page, .. }) => assert_eq!(page, ids[2]),
            other => panic!("a flipped byte must be CorruptPage, got {other:?}"),
        }
    }
}

/// A page id read (and verified) through the map, then freed and reused with new contents:
/// every read after the reuse's commit sees the new contents, while dirty in the cache and
/// after a checkpoint wrote them to the file. Without the verified bit being cleared when the
/// id gets new contents, the map's old verification would be trusted (invariant 1 of the page store's `mapped_reads.rs`).
#[test]
fn a_reused_page_id_is_never_served_with_its_old_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let options = PageStoreOptions {
        extent_pages: 1,
        ..small_options()
    };
    let store = open(&path, options);
    let mut writer = store.writer();
    let mut live: BTreeMap<PageId, u64> = BTreeMap::new();
    let mut version = 0;
    let mut reused = 0;
    for round in 0..30u64 {
        // Free every page of the previous round and write as many new ones.
        for id in std::mem::take(&mut live).into_keys() {
            writer.free(id);
        }
        for i in 0..8 {
            let id = writer.allocate().unwrap();
            let tag = round * 1000 + i;
            writer.write(id, tagged_page(&store, id, tag));
            live.insert(id, tag);
        }
        version += 1;
        writer.commit(version);
        for (id, tag) in &live {
            check_tagged(&store.read(*id).unwrap(), *id, *tag); // dirty: from the cache
        }
        store.checkpoint(version, &[]).unwrap();
        for (id, tag) in &live {
            folio_pagestore::testing::evict_clean(&store, *id);
            let page = store.read(*id).unwrap();
            reused += u64::from(page.is_mapped());
            check_tagged(&page, *id, *tag); // clean: from the map, verified anew
            check_tagged(&store.read(*id).unwrap(), *id, *tag); // by the verified bit
        }
    }
    let high_water = store.allocation_report().high_water;
    assert!(
        high_water < 30 * 8,
        "page ids were reused ({high_water} ever allocated for 240 writes)"
    );
    assert!(reused > 0);
}

#[test]
fn the_option_off_reads_through_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let options = PageStoreOptions {
        memory_map: false,
        ..small_options()
    };
    let store = open(&path, options.clone());
    let ids = write_checkpointed(&store, 4, 1, 1);
    drop(store);
    let store = open(&path, options);
    assert!(!store.is_memory_mapped());
    let page = store.read(ids[0]).unwrap();
    assert!(!page.is_mapped());
    check_tagged(&page, ids[0], 1);
    assert_eq!(store.stats().cache.pages, 1);
}

#[test]
fn encrypted_stores_are_not_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let options = PageStoreOptions {
        encryption_key: folio_io::AtRest::Encrypted.key(),
        ..small_options()
    };
    let store = open(&dir.path().join("data"), options);
    assert!(!store.is_memory_mapped());
}

/// The file shrinks under the map (compaction gives its tail back) and grows again: pages
/// written after the growth read back through the map.
#[test]
fn reads_follow_the_file_as_it_shrinks_and_grows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let store = open(&path, small_options());
    let mut writer = store.writer();
    let mut ids = Vec::new();
    for i in 0..64 {
        let id = writer.allocate().unwrap();
        writer.write(id, tagged_page(&store, id, i));
        ids.push(id);
    }
    writer.commit(1);
    store.checkpoint(1, &[]).unwrap();
    let kept = ids[0];
    for id in &ids[1..] {
        writer.free(*id);
    }
    writer.commit(2);
    drop(writer);
    store.checkpoint(2, &[]).unwrap();
    store.checkpoint(3, &[]).unwrap();
    let (_, shrunk) = store.checkpoint_and_shrink(4, &[], || ()).unwrap();
    assert!(shrunk > 0, "the free tail was given back");
    check_tagged(&store.read(kept).unwrap(), kept, 0);

    let fresh = write_checkpointed(&store, 200, 5_000, 5);
    for (i, id) in fresh.iter().enumerate() {
        folio_pagestore::testing::evict_clean(&store, *id);
        let page = store.read(*id).unwrap();
        assert!(page.is_mapped());
        check_tagged(&page, *id, 5_000 + i as u64);
    }
}
