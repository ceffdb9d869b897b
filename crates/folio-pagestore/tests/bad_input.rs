//! Misuse and foreign files get clear, typed errors and change nothing.

mod common;

use std::sync::Arc;

use common::{small_options, tagged_page};
use folio_io::{FileStorage, MemoryStorage, Storage};
use folio_pagestore::{Error, PageId, PageStore, PageStoreOptions, ROOTS_MAX_BYTES};

fn memory_store() -> (MemoryStorage, PageStore) {
    let storage = MemoryStorage::new();
    let store = PageStore::create(Arc::new(storage.clone()), small_options()).unwrap();
    (storage, store)
}

#[test]
fn empty_and_foreign_files_are_not_folio_files() {
    let empty = Arc::new(MemoryStorage::new());
    assert!(matches!(
        PageStore::open(empty, small_options()),
        Err(Error::NotAFolioFile)
    ));
    let foreign = Arc::new(MemoryStorage::from_bytes(&vec![0x42; 20_000]));
    let error = PageStore::open(foreign, small_options()).unwrap_err();
    assert!(matches!(error, Error::NotAFolioFile));
    assert!(error.to_string().contains("not a folio file"));
    let tiny = Arc::new(MemoryStorage::from_bytes(b"hello"));
    assert!(matches!(
        PageStore::open(tiny, small_options()),
        Err(Error::NotAFolioFile)
    ));
}

#[test]
fn truncated_files_are_reported_as_truncated() {
    let (storage, store) = memory_store();
    let mut writer = store.writer();
    for i in 0..30 {
        let id = writer.allocate().unwrap();
        writer.write(id, tagged_page(&store, id, i));
    }
    writer.commit(1);
    store.checkpoint(1, b"").unwrap();
    drop((writer, store));
    let bytes = storage.to_bytes();
    for cut in [100usize, 8192 + 4096] {
        let cut_storage = Arc::new(MemoryStorage::from_bytes(&bytes[..cut]));
        let error = PageStore::open(cut_storage, small_options()).unwrap_err();
        assert!(
            matches!(error, Error::Truncated { .. }),
            "cut at {cut}: {error}"
        );
    }
}

#[test]
fn a_newer_format_is_named_as_such() {
    let (storage, store) = memory_store();
    drop(store);
    let mut bytes = storage.to_bytes();
    // Slot 1 holds the only valid state; bump its format version (bytes 8..12).
    let slot = folio_pagestore::HEADER_SLOT_BYTES;
    bytes[slot + 8..slot + 12].copy_from_slice(&99u32.to_le_bytes());
    let error =
        PageStore::open(Arc::new(MemoryStorage::from_bytes(&bytes)), small_options()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::NewerFormat {
                found: 99,
                supported: 1
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade"));
}

#[test]
fn create_refuses_storage_with_data() {
    let storage = Arc::new(MemoryStorage::from_bytes(b"precious"));
    assert!(matches!(
        PageStore::create(storage.clone(), small_options()),
        Err(Error::NotEmpty { len: 8 })
    ));
    assert_eq!(storage.to_bytes(), b"precious", "nothing was written");
}

#[test]
fn invalid_options_are_refused_before_anything_is_written() {
    let storage = Arc::new(MemoryStorage::new());
    let options = PageStoreOptions {
        page_size: 1000,
        ..PageStoreOptions::default()
    };
    assert!(matches!(
        PageStore::create(storage.clone(), options),
        Err(Error::InvalidOption {
            name: "page_size",
            ..
        })
    ));
    assert_eq!(storage.len().unwrap(), 0);
}

#[test]
fn checkpoint_misuse_is_refused_without_effect() {
    let (_, store) = memory_store();
    let error = store
        .checkpoint(1, &vec![0u8; ROOTS_MAX_BYTES + 1])
        .unwrap_err();
    assert!(matches!(error, Error::RootsTooLarge { .. }));
    store.checkpoint(5, b"five").unwrap();
    assert!(matches!(
        store.checkpoint(4, b"four"),
        Err(Error::VersionRegressed {
            requested: 4,
            durable: 5
        })
    ));
    assert_eq!(store.roots(), b"five");
    assert!(!store.is_poisoned());
}

#[test]
fn reading_an_unallocated_page_is_out_of_range() {
    let (_, store) = memory_store();
    assert!(matches!(
        store.read(PageId(1_000_000)),
        Err(Error::PageOutOfRange { .. })
    ));
}

#[test]
fn a_second_writer_on_a_file_gets_already_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.folio");
    let storage = Arc::new(FileStorage::open(&path).unwrap());
    let store = PageStore::create(storage, PageStoreOptions::default()).unwrap();
    let error = FileStorage::open(&path).map(|_| ()).unwrap_err();
    let error = Error::from(error);
    assert!(error.to_string().contains("already open"), "{error}");
    drop(store);
    let reopened = PageStore::open(
        Arc::new(FileStorage::open(&path).unwrap()),
        PageStoreOptions::default(),
    );
    assert!(reopened.is_ok());
}

#[test]
fn a_real_file_round_trips_and_reports_its_page_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.folio");
    let options = PageStoreOptions {
        page_size: 16 * 1024,
        ..PageStoreOptions::default()
    };
    let store = PageStore::create(Arc::new(FileStorage::open(&path).unwrap()), options).unwrap();
    let mut writer = store.writer();
    let id = writer.allocate().unwrap();
    writer.write(id, tagged_page(&store, id, 77));
    writer.commit(1);
    store.checkpoint(1, &id.0.to_le_bytes()).unwrap();
    drop((writer, store));
    // Opened with default options (4 KiB pages): the file's page size wins.
    let store = PageStore::open(
        Arc::new(FileStorage::open(&path).unwrap()),
        PageStoreOptions::default(),
    )
    .unwrap();
    assert_eq!(store.page_size(), 16 * 1024);
    common::check_tagged(&store.read(id).unwrap(), id, 77);
}

/// A header slot's checksum is not a MAC: anyone who knows the format can forge one. The
/// sizes it names must be checked before they size anything.
fn forge_header_field(bytes: &mut [u8], offset: usize, value: &[u8]) {
    use folio_pagestore::HEADER_SLOT_BYTES;
    // Both slots, so whichever is newest carries the forgery.
    for slot in 0..2 {
        let start = slot * HEADER_SLOT_BYTES;
        let slot_bytes = &mut bytes[start..start + HEADER_SLOT_BYTES];
        slot_bytes[offset..offset + value.len()].copy_from_slice(value);
        let checksum =
            xxhash_rust::xxh3::xxh3_64(&slot_bytes[..HEADER_SLOT_BYTES - 8]).to_le_bytes();
        slot_bytes[HEADER_SLOT_BYTES - 8..].copy_from_slice(&checksum);
    }
}

#[test]
fn forged_header_sizes_are_typed_errors_not_overflows_or_huge_allocations() {
    let (storage, store) = memory_store();
    let mut writer = store.writer();
    let id = writer.allocate().unwrap();
    writer.write(id, tagged_page(&store, id, 1));
    writer.commit(1);
    store.checkpoint(1, b"").unwrap();
    store.checkpoint(2, b"").unwrap(); // both slots decode
    drop((writer, store));
    let clean = storage.to_bytes();

    // high_water (offset 32): pages * page_size overflows u64.
    let mut bytes = clean.clone();
    forge_header_field(&mut bytes, 32, &(u64::MAX / 2).to_le_bytes());
    let error =
        PageStore::open(Arc::new(MemoryStorage::from_bytes(&bytes)), small_options()).unwrap_err();
    assert!(matches!(error, Error::Truncated { .. }), "{error}");

    // freelist_pages (offset 48): four billion chain pages, each 8 bytes to remember.
    let mut bytes = clean;
    forge_header_field(&mut bytes, 48, &u32::MAX.to_le_bytes());
    let error =
        PageStore::open(Arc::new(MemoryStorage::from_bytes(&bytes)), small_options()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::CorruptPage { .. } | Error::CorruptHeader { .. }
        ),
        "{error}"
    );
}
