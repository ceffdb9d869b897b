//! Regressions found by using the API the way a user writes it: tree handles outliving their
//! read transaction, a database that stayed locked after its last handle was dropped, calls
//! that waited for the calling thread itself, and options that did not do what their docs
//! said.

use std::sync::Arc;
use std::time::Duration;

use folio::{Database, DatabaseOptions, Durability, Error, ErrorKind, WriteBatch};
use folio_io::SimDirectory;

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options
}

fn open() -> Database {
    let db = Database::open_in(Arc::new(SimDirectory::new(7)), options()).unwrap();
    db.create_cf("t").unwrap();
    db
}

/// One transaction: keys 0..2000 (u64 big-endian), value `[round; 100]`.
fn put_all(db: &Database, round: u8) {
    let mut txn = db.begin_write(&["t"]).unwrap();
    for key in 0..2000u64 {
        txn.put("t", &key.to_be_bytes(), &[round; 100]).unwrap();
    }
    txn.commit_with(Durability::Eventual).unwrap();
}

/// The reported bug: the read transaction is a temporary, dropped at the end of the
/// statement; the tree went on reading pages that later commits reused.
#[test]
fn a_tree_outliving_its_read_transaction_reads_its_snapshot() {
    let db = open();
    put_all(&db, 1);
    let tree = db.begin_read().tree("t").unwrap();
    put_all(&db, 2);
    db.checkpoint().unwrap();
    put_all(&db, 3);
    db.checkpoint().unwrap();
    put_all(&db, 4);
    let entries: Vec<_> = tree.iter().collect::<folio::Result<_>>().unwrap();
    assert_eq!(entries.len(), 2000);
    assert!(entries.iter().all(|(_, v)| **v == [1; 100]));
    assert_eq!(&*tree.get(&0u64.to_be_bytes()).unwrap().unwrap(), &[1; 100]);
    // A range made from the tree, with the tree dropped too, still reads the snapshot.
    let mut range = tree.range(5u64.to_be_bytes().as_slice()..);
    drop(tree);
    put_all(&db, 5);
    db.checkpoint().unwrap();
    let (key, value) = range.next().unwrap().unwrap();
    assert_eq!(
        (key, &*value),
        (5u64.to_be_bytes().to_vec(), &[1u8; 100][..])
    );
    assert_eq!(range.next_back().unwrap().unwrap().0, 1999u64.to_be_bytes());
}

#[test]
fn dropping_the_last_handle_closes_and_a_reopen_succeeds_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let options = DatabaseOptions {
        checkpoint_interval: Some(Duration::from_millis(1)),
        ..DatabaseOptions::default()
    };
    for round in 0..20u32 {
        let db = Database::open_with(&path, options.clone()).unwrap();
        db.create_cf_if_missing("t").unwrap();
        let mut txn = db.begin_write(&["t"]).unwrap();
        for key in 0..2_000u32 {
            txn.put("t", &key.to_be_bytes(), &[round as u8; 200])
                .unwrap();
        }
        txn.commit().unwrap();
        db.checkpoint().unwrap();
        let read = db.begin_read();
        let tree = read.tree("t").unwrap();
        drop(db); // the only `Database`: closes, although a reader and a tree are alive
        assert!(matches!(tree.get(b"x"), Err(Error::Closed)));
        assert!(matches!(read.get("t", b"x"), Err(Error::Closed)));
        let db = Database::open_with(&path, options.clone())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        assert_eq!(db.begin_read().len("t").unwrap(), 2_000);
        db.close().unwrap();
    }
}

#[test]
fn close_closes_every_clone_and_reports_closed() {
    let db = open();
    let clone = db.clone();
    let mut writer = clone.begin_write(&["t"]).unwrap();
    writer.put("t", b"k", b"v").unwrap();
    db.close().unwrap();
    assert!(clone.is_closed());
    assert!(matches!(writer.commit(), Err(Error::Closed)));
    assert!(matches!(clone.begin_write(&["t"]), Err(Error::Closed)));
    assert!(matches!(clone.create_cf("u"), Err(Error::Closed)));
    assert!(matches!(clone.checkpoint(), Err(Error::Closed)));
    assert_eq!(
        clone.begin_read().get("t", b"k").unwrap_err().kind(),
        ErrorKind::Closed
    );
    clone.close().unwrap(); // closing twice does nothing
}

#[test]
fn a_thread_waiting_for_a_writer_it_holds_gets_would_deadlock() {
    let db = open();
    db.create_cf("u").unwrap();
    let txn = db.begin_write(&["t"]).unwrap();
    let deadlock = |result: folio::Result<()>, what: &str| match result {
        Err(Error::WouldDeadlock { cf }) => assert_eq!(cf, "t", "{what}"),
        other => panic!("{what}: {other:?}"),
    };
    deadlock(db.begin_write(&["u", "t"]).map(drop), "begin_write");
    deadlock(db.try_begin_write(&["t"]).map(drop), "try_begin_write");
    deadlock(db.compact().map(drop), "compact");
    deadlock(db.drop_cf("t"), "drop_cf");
    deadlock(db.bulk_load("t").map(drop), "bulk_load");
    let mut batch = WriteBatch::new();
    batch.put("t", b"k", b"v");
    deadlock(db.write(batch).map(drop), "write");
    // Other column families and other threads are unaffected.
    db.begin_write(&["u"]).unwrap().commit().unwrap();
    drop(txn);
    db.compact().unwrap();

    let load = db.bulk_load("u").unwrap();
    assert!(matches!(
        db.begin_write(&["u"]),
        Err(Error::WouldDeadlock { .. })
    ));
    load.finish().unwrap();
    db.begin_write(&["u"]).unwrap();
}

#[test]
fn try_and_timeout_variants_return_busy_instead_of_waiting() {
    let db = open();
    let held = db.begin_write(&["t"]).unwrap();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                assert!(matches!(db.try_begin_write(&["t"]), Err(Error::Busy { cf }) if cf == "t"));
                let error = db
                    .begin_write_timeout(&["t"], Duration::from_millis(5))
                    .unwrap_err();
                assert_eq!(error.kind(), ErrorKind::Busy);
            })
            .join()
            .unwrap();
    });
    drop(held);
    db.try_begin_write(&["t"]).unwrap().commit().unwrap();
    db.begin_write_timeout(&["t"], Duration::from_mins(1))
        .unwrap();
}

#[test]
fn a_write_transaction_can_move_to_another_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let db = open();
    let mut txn = db.begin_write(&["t"]).unwrap();
    assert_send(&txn);
    txn.put("t", b"k", b"v").unwrap();
    std::thread::spawn(move || txn.commit().unwrap())
        .join()
        .unwrap();
    assert_eq!(&*db.begin_read().get("t", b"k").unwrap().unwrap(), b"v");
}

#[test]
fn dirty_bytes_max_follows_checkpoint_dirty_bytes_when_not_set() {
    let builder = Database::builder().checkpoint_dirty_bytes(512 << 20);
    let options = builder.options();
    options.validate().unwrap();
    assert_eq!(options.dirty_bytes_bound(), 2 << 30);
    assert_eq!(DatabaseOptions::default().dirty_bytes_bound(), 256 << 20);
}

#[test]
fn errors_have_kinds_and_lower_layer_types_are_reachable() {
    let db = open();
    let missing = db.begin_write(&["nope"]).unwrap_err();
    assert!(missing.is_not_found());
    let mut txn = db.begin_write(&["t"]).unwrap();
    let too_long = txn.put("t", &vec![0; 20 << 20], b"v").unwrap_err();
    assert_eq!(too_long.kind(), ErrorKind::InvalidInput);
    assert!(matches!(
        too_long,
        Error::Tree(folio::TreeError::KeyTooLarge { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let _first = Database::open(dir.path()).unwrap();
    let second = Database::open(dir.path()).unwrap_err();
    assert!(second.is_already_open(), "{second}");
    assert!(matches!(
        second,
        Error::Storage(folio::StorageError::AlreadyOpen { .. })
    ));
}

fn keys(range: impl Iterator<Item = folio::Result<(Vec<u8>, folio::Value)>>) -> Vec<String> {
    range
        .map(|e| String::from_utf8(e.unwrap().0).unwrap())
        .collect()
}

#[test]
fn ranges_run_from_both_ends_and_prefix_scans_resume() {
    let db = open();
    let mut txn = db.begin_write(&["t"]).unwrap();
    for key in ["a1", "a2", "a3", "a4", "b1", "b2"] {
        txn.put("t", key.as_bytes(), b"").unwrap();
    }
    txn.commit().unwrap();
    let tree = db.begin_read().tree("t").unwrap();
    assert_eq!(keys(tree.prefix_rev(b"a")), ["a4", "a3", "a2", "a1"]);
    assert_eq!(keys(tree.prefix_after(b"a", b"a2")), ["a3", "a4"]);
    assert_eq!(keys(tree.prefix_after(b"b", b"a9")), ["b1", "b2"]);
    let mut both = tree.iter();
    let mut seen = Vec::new();
    while let Some(front) = both.next() {
        seen.push(front.unwrap().0);
        let Some(back) = both.next_back() else { break };
        seen.push(back.unwrap().0);
    }
    seen.sort();
    assert_eq!(seen.len(), 6, "every entry once");
    seen.dedup();
    assert_eq!(seen.len(), 6);
    assert_eq!(
        keys(tree.iter().rev()),
        ["b2", "b1", "a4", "a3", "a2", "a1"]
    );
}
