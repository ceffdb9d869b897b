//! Column-family handles: accepted wherever a name is; bound to their column family, never
//! to a name: a dropped one gives `ColumnFamilyDropped` (even when a new column family took
//! its name), a renamed one keeps working.

use folio::{Database, ErrorKind, WriteBatch};

fn open() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    (dir, db)
}

#[test]
fn handles_work_wherever_names_do() {
    let (_dir, db) = open();
    db.create_cf("a").unwrap();
    db.create_cf("b").unwrap();
    let (a, b) = (db.cf("a").unwrap(), db.cf("b").unwrap());
    let mut txn = db.begin_write(&[&a, &b]).unwrap();
    txn.put(&a, b"k", b"1").unwrap();
    txn.put("b", b"k", b"2").unwrap(); // names and handles mix
    assert_eq!(&*txn.get(&b, b"k").unwrap().unwrap(), b"2");
    assert_eq!(txn.view(&a).unwrap().len(), 1);
    txn.commit().unwrap();
    let mut batch = WriteBatch::new();
    batch.put(&a, b"j", b"3").delete(&b, b"k");
    db.write(batch).unwrap();
    let read = db.begin_read();
    assert_eq!(read.len(&a).unwrap(), 2);
    assert_eq!(read.len(&b).unwrap(), 0);
    assert_eq!(read.tree(&a).unwrap().iter().count(), 2);
    let mut load = db.bulk_load(&b).unwrap();
    load.put(b"x", b"y").unwrap();
    load.finish().unwrap();
    assert_eq!(db.begin_read().len(&b).unwrap(), 1);
    // A handle not in the transaction is refused like a name.
    let mut txn = db.begin_write(&[&a]).unwrap();
    let error = txn.put(&b, b"k", b"v").unwrap_err();
    assert!(
        matches!(error, folio::Error::NotInTransaction { .. }),
        "{error}"
    );
}

#[test]
fn a_handle_survives_a_rename_and_never_reaches_a_successor() {
    let (_dir, db) = open();
    db.create_cf("old").unwrap();
    let handle = db.cf("old").unwrap();
    let mut txn = db.begin_write(&[&handle]).unwrap();
    txn.put(&handle, b"k", b"before").unwrap();
    txn.commit().unwrap();

    db.rename_cf("old", "new").unwrap();
    assert_eq!(&*handle.name(), "new");
    assert_eq!(
        &*db.begin_read().get(&handle, b"k").unwrap().unwrap(),
        b"before"
    );
    let mut txn = db.begin_write(&[&handle]).unwrap();
    txn.put(&handle, b"k", b"renamed").unwrap();
    txn.commit().unwrap();

    db.drop_cf("new").unwrap();
    db.create_cf("new").unwrap(); // same name, another column family
    assert!(handle.is_dropped());
    for error in [
        db.begin_read().get(&handle, b"k").unwrap_err(),
        db.begin_write(&[&handle]).map(|_| ()).unwrap_err(),
        db.bulk_load(&handle).map(|_| ()).unwrap_err(),
    ] {
        assert!(
            matches!(error, folio::Error::ColumnFamilyDropped { .. }),
            "{error}"
        );
        assert_eq!(error.kind(), ErrorKind::NotFound);
    }
    assert_eq!(
        db.begin_read().len("new").unwrap(),
        0,
        "the successor was touched"
    );
}

#[test]
fn a_snapshot_older_than_a_handle_does_not_see_its_column_family() {
    let (_dir, db) = open();
    let read = db.begin_read();
    db.create_cf("later").unwrap();
    let later = db.cf("later").unwrap();
    let error = read.get(&later, b"k").unwrap_err();
    assert!(
        matches!(error, folio::Error::ColumnFamilyNotFound { .. }),
        "{error}"
    );
    assert!(db.begin_read().get(&later, b"k").unwrap().is_none());
}
