//! Transactions, snapshots and column families through reopen, with and without
//! checkpoints.

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability, Error};
use folio_io::{CrashPolicy, SimDirectory};

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions::default();
    options.wal.sync_interval = None;
    options.wal.segment_bytes = 64 * 1024;
    options
}

fn value_of(db: &Database, cf: &str, key: &[u8]) -> Option<Vec<u8>> {
    db.begin_read().get(cf, key).unwrap().map(|v| v.to_vec())
}

#[test]
fn committed_writes_survive_reopen_by_replay_and_by_checkpoint() {
    let device = SimDirectory::new(1);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("a").unwrap();
    let mut txn = db.begin_write(&["a"]).unwrap();
    txn.put("a", b"k1", b"v1").unwrap();
    txn.commit().unwrap();
    // Power cut while the database is open (a clean close would checkpoint first).
    let device = device.crash(CrashPolicy::DropUnsynced);
    drop(db);
    // Replayed from the log (no checkpoint yet).
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    assert!(db.recovery_report().replayed_records >= 1);
    assert_eq!(value_of(&db, "a", b"k1").as_deref(), Some(&b"v1"[..]));
    let mut txn = db.begin_write(&["a"]).unwrap();
    txn.put("a", b"k2", b"v2").unwrap();
    txn.commit().unwrap();
    let version = db.checkpoint().unwrap();
    assert!(version >= 3);
    let mut txn = db.begin_write(&["a"]).unwrap();
    txn.delete("a", b"k1").unwrap();
    txn.commit().unwrap();
    let device = device.crash(CrashPolicy::DropUnsynced);
    drop(db);
    // Checkpoint + replay of what came after it (the delete only).
    let db = Database::open_in(Arc::new(device), options()).unwrap();
    assert_eq!(db.recovery_report().replayed_records, 1);
    assert_eq!(value_of(&db, "a", b"k1"), None);
    assert_eq!(value_of(&db, "a", b"k2").as_deref(), Some(&b"v2"[..]));
    assert_eq!(db.begin_read().len("a").unwrap(), 1);
}

#[test]
fn a_transaction_is_atomic_across_column_families() {
    let db = Database::open_in(Arc::new(SimDirectory::new(2)), options()).unwrap();
    db.create_cf("left").unwrap();
    db.create_cf("right").unwrap();
    let before = db.begin_read();
    let mut txn = db.begin_write(&["right", "left"]).unwrap();
    txn.put("left", b"k", b"1").unwrap();
    txn.put("right", b"k", b"1").unwrap();
    // Not visible before commit, to anyone else.
    assert!(db.begin_read().get("left", b"k").unwrap().is_none());
    assert_eq!(
        &*txn.get("left", b"k").unwrap().unwrap(),
        b"1",
        "own writes are visible"
    );
    txn.commit().unwrap();
    let after = db.begin_read();
    assert_eq!(&*after.get("left", b"k").unwrap().unwrap(), b"1");
    assert_eq!(&*after.get("right", b"k").unwrap().unwrap(), b"1");
    assert!(
        before.get("left", b"k").unwrap().is_none(),
        "old snapshot unchanged"
    );
    assert!(after.version() > before.version());
}

#[test]
fn dropping_a_transaction_discards_it_and_unnamed_cfs_are_refused() {
    let db = Database::open_in(Arc::new(SimDirectory::new(3)), options()).unwrap();
    db.create_cf("a").unwrap();
    db.create_cf("b").unwrap();
    {
        let mut txn = db.begin_write(&["a"]).unwrap();
        txn.put("a", b"gone", b"x").unwrap();
        assert!(matches!(
            txn.put("b", b"k", b"v"),
            Err(Error::NotInTransaction { .. })
        ));
    }
    assert!(value_of(&db, "a", b"gone").is_none());
    assert!(matches!(
        db.begin_write(&["missing"]),
        Err(Error::ColumnFamilyNotFound { .. })
    ));
    assert!(matches!(
        db.create_cf("a"),
        Err(Error::ColumnFamilyExists { .. })
    ));
    assert!(db.create_cf("").is_err());
    // An empty commit changes nothing.
    assert_eq!(db.begin_write(&["a"]).unwrap().commit().unwrap(), 0);
}

#[test]
fn snapshots_never_change_under_concurrent_writers() {
    let db = Database::open_in(Arc::new(SimDirectory::new(4)), options()).unwrap();
    for cf in ["x", "y"] {
        db.create_cf(cf).unwrap();
    }
    let snapshot = db.begin_read();
    std::thread::scope(|scope| {
        for cf in ["x", "y"] {
            let db = &db;
            scope.spawn(move || {
                for n in 0..200u32 {
                    let mut txn = db.begin_write(&[cf]).unwrap();
                    txn.put(cf, &n.to_be_bytes(), &[1u8; 64]).unwrap();
                    txn.commit_with(Durability::Eventual).unwrap();
                }
            });
        }
        for _ in 0..50 {
            assert_eq!(snapshot.len("x").unwrap(), 0);
            assert!(snapshot.tree("y").unwrap().first().unwrap().is_none());
        }
    });
    let now = db.begin_read();
    assert_eq!((now.len("x").unwrap(), now.len("y").unwrap()), (200, 200));
    assert_eq!(now.tree("x").unwrap().iter().count(), 200);
}

#[test]
fn column_family_operations_survive_reopen() {
    let device = SimDirectory::new(5);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    for cf in ["keep", "drop-me", "old-name"] {
        db.create_cf(cf).unwrap();
        let mut txn = db.begin_write(&[cf]).unwrap();
        txn.put(cf, b"k", cf.as_bytes()).unwrap();
        txn.commit().unwrap();
    }
    db.checkpoint().unwrap();
    db.drop_cf("drop-me").unwrap();
    db.rename_cf("old-name", "new-name").unwrap();
    assert!(matches!(
        db.drop_cf("drop-me"),
        Err(Error::ColumnFamilyNotFound { .. })
    ));
    drop(db);
    let device = device.crash(CrashPolicy::DropUnsynced);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    assert_eq!(
        db.cf_names(),
        vec!["keep".to_owned(), "new-name".to_owned()]
    );
    assert_eq!(
        value_of(&db, "new-name", b"k").as_deref(),
        Some(&b"old-name"[..])
    );
    db.checkpoint().unwrap();
    drop(db);
    let db =
        Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options()).unwrap();
    assert_eq!(
        db.cf_names(),
        vec!["keep".to_owned(), "new-name".to_owned()]
    );
    assert_eq!(db.stats().column_families, 2);
}

#[test]
fn opens_a_real_directory() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_cf("cf").unwrap();
        let mut txn = db.begin_write(&["cf"]).unwrap();
        txn.put("cf", b"key", b"value").unwrap();
        txn.commit().unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(value_of(&db, "cf", b"key").as_deref(), Some(&b"value"[..]));
    // A second open of the same directory is refused while the first is alive.
    assert!(Database::open(dir.path()).is_err());
}

#[test]
fn savepoints_roll_back_part_of_a_transaction_across_column_families() {
    let device = SimDirectory::new(6);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("a").unwrap();
    db.create_cf("b").unwrap();
    let mut txn = db.begin_write(&["a", "b"]).unwrap();
    txn.put("a", b"kept", b"1").unwrap();
    let savepoint = txn.savepoint();
    txn.put("a", b"undone", b"2").unwrap();
    txn.put("b", b"undone", b"2").unwrap();
    txn.delete("a", b"kept").unwrap();
    txn.rollback_to(&savepoint).unwrap();
    assert!(txn.get("a", b"undone").unwrap().is_none());
    assert_eq!(&*txn.get("a", b"kept").unwrap().unwrap(), b"1");
    txn.put("b", b"after", b"3").unwrap();
    txn.commit().unwrap();
    // The log replays exactly what was committed.
    drop(db);
    let db =
        Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options()).unwrap();
    let read = db.begin_read();
    assert_eq!(read.len("a").unwrap(), 1);
    assert_eq!(read.len("b").unwrap(), 1);
    assert_eq!(&*read.get("b", b"after").unwrap().unwrap(), b"3");
}

#[test]
fn a_savepoint_from_another_transaction_is_refused() {
    let db = Database::open_in(Arc::new(SimDirectory::new(7)), options()).unwrap();
    db.create_cf("a").unwrap();
    db.create_cf("b").unwrap();
    let mut first = db.begin_write(&["a"]).unwrap();
    let savepoint = first.savepoint();
    let mut second = db.begin_write(&["b"]).unwrap();
    assert!(matches!(
        second.rollback_to(&savepoint),
        Err(Error::ForeignSavepoint)
    ));
}

#[test]
fn reopening_reports_recovery_progress_and_a_summary() {
    let device = SimDirectory::new(11);
    let mut opts = options();
    opts.checkpoint_interval = None;
    opts.checkpoint_on_close = false;
    let db = Database::open_in(Arc::new(device.clone()), opts.clone()).unwrap();
    db.create_cf("a").unwrap();
    for i in 0..5_000u32 {
        let mut txn = db.begin_write(&["a"]).unwrap();
        txn.put("a", &i.to_be_bytes(), b"v").unwrap();
        txn.commit_with(Durability::Eventual).unwrap();
    }
    let last = db.flush().unwrap();
    drop(db);
    let steps = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&steps);
    opts.recovery_progress = Some(folio::ProgressCallback::new(move |step| {
        sink.lock().unwrap().push(step.clone());
    }));
    let db = Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), opts).unwrap();
    let report = db.recovery_report();
    assert_eq!(report.checkpoint, 0);
    assert_eq!(report.replayed_records, last);
    assert_eq!(report.version, last);
    assert!(report.log_bytes_scanned > 5_000 * 20);
    let steps = steps.lock().unwrap();
    assert!(matches!(
        steps.first(),
        Some(folio::RecoveryProgress::ScanningLog { .. })
    ));
    assert_eq!(
        steps.last(),
        Some(&folio::RecoveryProgress::Replaying {
            records_done: last,
            records_total: last
        })
    );
    assert_eq!(db.begin_read().len("a").unwrap(), 5_000);
}

#[test]
fn closing_checkpoints_so_the_next_open_replays_nothing() {
    let device = SimDirectory::new(12);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("a").unwrap();
    let mut txn = db.begin_write(&["a"]).unwrap();
    txn.put("a", b"k", b"v").unwrap();
    txn.commit().unwrap();
    drop(db);
    let db =
        Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options()).unwrap();
    assert_eq!(db.recovery_report().replayed_records, 0);
    assert_eq!(db.recovery_report().checkpoint, 2);
    assert_eq!(value_of(&db, "a", b"k").as_deref(), Some(&b"v"[..]));
}
