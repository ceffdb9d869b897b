//! Invariants 5 and 7 through the database: pages a live snapshot can reach are not reused
//! however many commits and checkpoints follow; a failed log sync poisons the database
//! until it is reopened.

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability, Error};
use folio_io::{CrashPolicy, Directory, FaultRule, SimDirectory};

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions::default();
    options.wal.sync_interval = None;
    options.checkpoint_interval = None;
    options
}

fn contents(read: &folio::ReadTransaction) -> Vec<(Vec<u8>, Vec<u8>)> {
    read.tree("cf")
        .unwrap()
        .iter()
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_snapshot_survives_rewrites_and_checkpoints_that_free_its_pages() {
    let db = Database::open_in(Arc::new(SimDirectory::new(1)), options()).unwrap();
    db.create_cf("cf").unwrap();
    let write_all = |round: u8| {
        let mut txn = db.begin_write(&["cf"]).unwrap();
        for n in 0..400u32 {
            txn.put("cf", &n.to_be_bytes(), &[round; 120]).unwrap();
        }
        txn.commit_with(Durability::Eventual).unwrap();
    };
    write_all(1);
    db.checkpoint().unwrap();
    let snapshot = db.begin_read();
    let expected = contents(&snapshot);
    // Every later round rewrites (so frees) every page the snapshot reaches, and each
    // checkpoint makes freed pages reusable unless the horizon protects them.
    for round in 2..12 {
        write_all(round);
        db.checkpoint().unwrap();
    }
    assert_eq!(
        contents(&snapshot),
        expected,
        "the snapshot changed under it"
    );
    let reuse_before = db.stats().page_store.high_water_pages;
    drop(snapshot);
    // Once the snapshot is gone its pages are reused: the file stops growing.
    for round in 12..20 {
        write_all(round);
        db.checkpoint().unwrap();
    }
    let settled = db.stats().page_store.high_water_pages;
    for round in 20..30 {
        write_all(round);
        db.checkpoint().unwrap();
    }
    assert_eq!(
        db.stats().page_store.high_water_pages,
        settled,
        "space is not reused"
    );
    assert!(
        settled <= reuse_before + reuse_before / 2,
        "{settled} pages vs {reuse_before}"
    );
}

#[test]
fn a_failed_log_sync_poisons_the_database_until_reopened() {
    let device = SimDirectory::new(2);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("cf").unwrap();
    let mut txn = db.begin_write(&["cf"]).unwrap();
    txn.put("cf", b"durable", b"1").unwrap();
    txn.commit().unwrap();
    let segment = device
        .list()
        .unwrap()
        .into_iter()
        .find(|name| folio_wal::parse_segment_name(name).is_some())
        .unwrap();
    device
        .file(&segment)
        .unwrap()
        .install_fault(FaultRule::sync_once(0));
    let mut txn = db.begin_write(&["cf"]).unwrap();
    txn.put("cf", b"lost", b"2").unwrap();
    assert!(
        txn.commit().is_err(),
        "a commit whose sync failed was reported durable"
    );
    // The disk works again, but nothing more is reported durable.
    let mut txn = db.begin_write(&["cf"]).unwrap();
    txn.put("cf", b"later", b"3").unwrap();
    assert!(matches!(
        txn.commit(),
        Err(Error::Wal(folio_wal::Error::Poisoned { .. }))
    ));
    assert!(db.checkpoint().is_err());
    drop(db);
    let db =
        Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options()).unwrap();
    let read = db.begin_read();
    assert_eq!(&*read.get("cf", b"durable").unwrap().unwrap(), b"1");
    assert!(read.get("cf", b"later").unwrap().is_none());
}
