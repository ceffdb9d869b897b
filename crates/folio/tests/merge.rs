//! Merge operators: exclusive and concurrent transactions merge without reading first;
//! concurrent merges into one key never conflict and none is lost; a refused merge changes
//! nothing; the log holds merges as their results, so recovery needs no operator.

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability, ErrorKind, MergeOperator};

/// Appends 4-byte operands; refuses the operand `bad!`.
fn append() -> MergeOperator {
    MergeOperator::new(|_key, now, operand| {
        if operand == b"bad!" {
            return Err("a bad operand".to_owned());
        }
        Ok([now.unwrap_or_default(), operand].concat())
    })
}

/// A database whose column family `log` appends.
fn appending_db(path: &std::path::Path) -> Database {
    let db = Database::builder()
        .merge_operator("log", append())
        .open(path)
        .unwrap();
    db.create_cf("log").unwrap();
    db
}

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    };
    options.merge_operators.insert("log".to_owned(), append());
    options
}

#[test]
fn exclusive_merges_apply_at_once_and_recover_without_the_operator() {
    let device = folio_io::SimDirectory::new(11);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("log").unwrap();
    db.create_cf("plain").unwrap();
    db.checkpoint().unwrap();
    let mut txn = db.begin_write(&["log", "plain"]).unwrap();
    txn.merge("log", b"k", b"aaaa").unwrap();
    txn.merge("log", b"k", b"bbbb").unwrap();
    assert_eq!(&*txn.get("log", b"k").unwrap().unwrap(), b"aaaabbbb");
    // Refused: by the operator, or for want of one; nothing changes.
    let refused = txn.merge("log", b"k", b"bad!").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    assert!(refused.to_string().contains("a bad operand"), "{refused}");
    let none = txn.merge("plain", b"k", b"aaaa").unwrap_err();
    assert!(none.to_string().contains("no merge operator"), "{none}");
    assert_eq!(&*txn.get("log", b"k").unwrap().unwrap(), b"aaaabbbb");
    assert!(txn.get("plain", b"k").unwrap().is_none());
    txn.commit_with(Durability::Immediate).unwrap();
    let rebooted = device.crash(folio_io::CrashPolicy::DropUnsynced);
    drop(db);

    // Replayed from the log by a database that has no operator.
    let db = Database::open_in(Arc::new(rebooted), DatabaseOptions::default()).unwrap();
    assert_eq!(db.recovery_report().replayed_records, 1);
    assert_eq!(
        &*db.begin_read().get("log", b"k").unwrap().unwrap(),
        b"aaaabbbb"
    );
}

#[test]
fn concurrent_merges_into_one_key_never_conflict_and_none_is_lost() {
    const THREADS: u32 = 4;
    const MERGES: u32 = 200;
    let dir = tempfile::tempdir().unwrap();
    let db = appending_db(dir.path());
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let db = &db;
            scope.spawn(move || {
                for i in 0..MERGES {
                    let operand = (thread * MERGES + i).to_be_bytes();
                    db.transact(|txn| txn.merge("log", b"k", &operand)).unwrap();
                }
            });
        }
    });
    assert_eq!(db.stats().concurrent.conflicts, 0);
    let value = db.begin_read().get("log", b"k").unwrap().unwrap();
    let mut operands: Vec<u32> = value
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect();
    // Each thread's merges in its own order; all of them once.
    for thread in 0..THREADS {
        let own: Vec<u32> = operands
            .iter()
            .copied()
            .filter(|o| o / MERGES == thread)
            .collect();
        assert!(own.is_sorted(), "thread {thread}'s merges out of order");
    }
    operands.sort_unstable();
    assert_eq!(operands, (0..THREADS * MERGES).collect::<Vec<_>>());
}

#[test]
fn a_concurrent_merge_reads_back_and_a_refused_one_fails_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = appending_db(dir.path());
    let mut txn = db.begin_write(&["log"]).unwrap();
    txn.put("log", b"k", b"0000").unwrap();
    txn.commit().unwrap();

    let mut txn = db.begin_concurrent().unwrap();
    txn.merge("log", b"k", b"1111").unwrap();
    txn.merge("log", b"k", b"2222").unwrap();
    assert_eq!(&*txn.get("log", b"k").unwrap().unwrap(), b"000011112222");
    let entries: Vec<_> = txn
        .iter("log")
        .unwrap()
        .map(|e| e.unwrap().1.to_vec())
        .collect();
    assert_eq!(entries, [b"000011112222".to_vec()]);
    txn.commit().unwrap();

    let mut txn = db.begin_concurrent().unwrap();
    txn.put("log", b"other", b"x").unwrap();
    txn.merge("log", b"k", b"bad!").unwrap(); // buffered: refused at the commit
    let error = txn.commit().unwrap_err();
    assert!(error.to_string().contains("a bad operand"), "{error}");
    let read = db.begin_read();
    assert_eq!(&*read.get("log", b"k").unwrap().unwrap(), b"000011112222");
    assert!(
        read.get("log", b"other").unwrap().is_none(),
        "half a commit"
    );
}
