//! Range deletions at the database level: the space they free is reused after checkpoints
//! (repeated fill and range-delete rounds keep the file bounded), they survive a power cut
//! whose recovery replays them between the changes logged around them, and a concurrent transaction that
//! read the column family before one committed conflicts instead of missing it.

use std::ops::Bound;

use folio::{Database, Durability, ErrorKind};

fn key(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

#[test]
fn space_freed_by_range_deletes_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .checkpoint_interval(None)
        .open(dir.path())
        .unwrap();
    db.create_cf("t").unwrap();
    let file = || {
        std::fs::metadata(dir.path().join("data.folio"))
            .unwrap()
            .len()
    };
    let mut after_first = 0;
    for round in 0..6 {
        let mut txn = db.begin_write(&["t"]).unwrap();
        for n in 0..20_000 {
            txn.put("t", &key(n), &[round as u8; 200]).unwrap();
        }
        txn.commit().unwrap();
        db.checkpoint().unwrap();
        let mut txn = db.begin_write(&["t"]).unwrap();
        assert_eq!(txn.delete_range::<_, [u8], _>("t", ..).unwrap(), 20_000);
        txn.commit().unwrap();
        db.checkpoint().unwrap();
        if round == 0 {
            after_first = file();
        }
    }
    // Each round's pages come from the ones the previous round's range delete freed.
    assert!(
        file() <= after_first * 5 / 4,
        "the file grew from {after_first} to {} bytes",
        file()
    );
    assert!(db.begin_read().tree("t").unwrap().is_empty());
}

#[test]
fn a_power_cut_replays_range_deletes_in_log_order() {
    let device = folio_io::SimDirectory::new(7);
    let options = || folio::DatabaseOptions {
        checkpoint_interval: None,
        ..folio::DatabaseOptions::default()
    };
    let db = Database::open_in(std::sync::Arc::new(device.clone()), options()).unwrap();
    db.create_cf("t").unwrap();
    db.checkpoint().unwrap(); // everything below is in the log only
    let mut txn = db.begin_write(&["t"]).unwrap();
    for n in 0..1_000 {
        txn.put("t", &key(n), b"before").unwrap();
    }
    // Removes 100..900, then 500 comes back: replay must keep that order.
    let middle = (Bound::Included(key(100)), Bound::Excluded(key(900)));
    assert_eq!(txn.delete_range("t", middle).unwrap(), 800);
    txn.put("t", &key(500), b"after").unwrap();
    txn.commit_with(Durability::Immediate).unwrap();
    let mut txn = db.begin_write(&["t"]).unwrap();
    assert_eq!(txn.delete_range("t", key(950)..).unwrap(), 50);
    txn.commit_with(Durability::Immediate).unwrap();
    let rebooted = device.crash(folio_io::CrashPolicy::DropUnsynced);
    drop(db);

    let db = Database::open_in(std::sync::Arc::new(rebooted), options()).unwrap();
    assert_eq!(db.recovery_report().replayed_records, 2);
    let read = db.begin_read();
    let tree = read.tree("t").unwrap();
    assert_eq!(tree.len(), 100 + 1 + 50);
    assert_eq!(&*tree.get(&key(500)).unwrap().unwrap(), b"after");
    assert!(tree.get(&key(100)).unwrap().is_none());
    assert!(tree.get(&key(960)).unwrap().is_none());
    assert_eq!(&*tree.get(&key(949)).unwrap().unwrap(), b"before");
    tree.verify().unwrap();
}

#[test]
fn a_range_delete_conflicts_with_concurrent_readers_of_its_column_family() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("t").unwrap();
    let mut txn = db.begin_write(&["t"]).unwrap();
    for n in 0..10 {
        txn.put("t", &key(n), b"v").unwrap();
    }
    txn.commit().unwrap();

    let mut reader = db.begin_concurrent().unwrap();
    assert!(reader.get("t", &key(3)).unwrap().is_some());
    reader.put("t", &key(100), b"seen 3").unwrap();
    let mut txn = db.begin_write(&["t"]).unwrap();
    assert_eq!(txn.delete_range("t", key(2)..key(5)).unwrap(), 3);
    txn.commit().unwrap();
    let error = reader.commit().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
}
