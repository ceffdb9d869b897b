//! Misuse and foreign files give typed errors and change nothing.

use std::sync::Arc;

use folio::{Compression, DATA_FILE, Database, DatabaseOptions, Error};
use folio_io::{Directory, SimDirectory};

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions::default();
    options.wal.sync_interval = None;
    options
}

#[test]
fn oversize_keys_and_unknown_column_families_are_refused() {
    let db = Database::open_in(Arc::new(SimDirectory::new(1)), options()).unwrap();
    db.create_cf("cf").unwrap();
    let mut txn = db.begin_write(&["cf"]).unwrap();
    let error = txn
        .put("cf", &vec![0u8; folio_btree::KEY_BYTES_MAX + 1], b"v")
        .unwrap_err();
    assert!(
        matches!(error, Error::Tree(folio_btree::Error::KeyTooLarge { .. })),
        "{error}"
    );
    txn.put("cf", b"ok", b"v").unwrap();
    txn.commit().unwrap();
    assert_eq!(
        db.begin_read().len("cf").unwrap(),
        1,
        "the refused put changed nothing"
    );
    assert!(matches!(
        db.begin_read().get("nope", b"k"),
        Err(Error::ColumnFamilyNotFound { .. })
    ));
    assert!(matches!(
        db.rename_cf("nope", "x"),
        Err(Error::ColumnFamilyNotFound { .. })
    ));
}

#[test]
fn a_foreign_data_file_is_not_opened() {
    let device = SimDirectory::new(2);
    let file = device.open(DATA_FILE, true).unwrap();
    file.write_all_at(&vec![0x42; 20_000], 0).unwrap();
    drop(file); // the simulated directory locks open files as a real one does
    let error = Database::open_in(Arc::new(device), options()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::PageStore(folio_pagestore::Error::NotAFolioFile)
        ),
        "{error}"
    );
}

#[test]
fn a_missing_log_is_detected() {
    let device = SimDirectory::new(3);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("cf").unwrap();
    let mut txn = db.begin_write(&["cf"]).unwrap();
    txn.put("cf", b"k", b"v").unwrap();
    txn.commit().unwrap();
    db.checkpoint().unwrap();
    drop(db);
    for name in device.list().unwrap() {
        if folio_wal::parse_segment_name(&name).is_some() {
            device.remove(&name).unwrap();
        }
    }
    let error = Database::open_in(Arc::new(device), options()).unwrap_err();
    assert!(matches!(error, Error::LogBehindData { .. }), "{error}");
}

#[test]
fn the_builder_validates_every_option_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, folio::DatabaseBuilder)> = vec![
        ("page_size", Database::builder().page_size(1000)),
        ("cache_bytes_max", Database::builder().cache_bytes(1)),
        ("dirty_bytes_max", Database::builder().dirty_bytes_max(1)),
        (
            "checkpoint_interval",
            Database::builder().checkpoint_interval(Some(std::time::Duration::ZERO)),
        ),
        ("segment_bytes", Database::builder().wal_segment_bytes(10)),
        (
            "zstd level 30",
            Database::builder().compression(Compression::Zstd { level: 30 }),
        ),
        (
            "zstd level 0",
            Database::builder().compression(Compression::Zstd { level: 0 }),
        ),
        (
            "\"orders\": zstd level -5",
            Database::builder().cf_compression("orders", Compression::Zstd { level: -5 }),
        ),
    ];
    for (option, builder) in cases {
        let error = builder.open(dir.path()).unwrap_err();
        assert_eq!(error.kind(), folio::ErrorKind::InvalidInput, "{option}");
        let error = error.to_string();
        assert!(error.contains(option), "{option}: {error}");
    }
    // Nothing was created by the refused opens.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let db = Database::builder()
        .cache_bytes(1 << 20)
        .file_handles(std::num::NonZeroUsize::new(2).unwrap())
        .open(dir.path())
        .unwrap();
    db.create_cf("ok").unwrap();
}
