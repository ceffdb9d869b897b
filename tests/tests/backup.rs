//! `backup_to`: a consistent copy at one snapshot while a writer keeps committing,
//! openable as a normal database.

use std::sync::atomic::{AtomicBool, Ordering};

use folio::{Database, Durability, Error};
use folio_tests::read_cf;

#[test]
fn a_backup_taken_during_commits_is_one_consistent_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("live")).unwrap();
    for cf in ["a", "b"] {
        db.create_cf(cf).unwrap();
    }
    let mut load = db.bulk_load("a").unwrap();
    for i in 0..20_000u32 {
        load.put(&i.to_be_bytes(), &[7; 100]).unwrap();
    }
    load.finish().unwrap();
    let stop = AtomicBool::new(false);
    let target = dir.path().join("backup");
    let mut steps = Vec::new();
    let report = std::thread::scope(|scope| {
        // The writer stops once this closure ends, also when the backup's panic unwinds it.
        scopeguard::defer! { stop.store(true, Ordering::Release) }
        scope.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Acquire) {
                let mut txn = db.begin_write(&["a", "b"]).unwrap();
                for cf in ["a", "b"] {
                    txn.put(cf, b"counter", &n.to_be_bytes()).unwrap();
                }
                txn.commit_with(Durability::Eventual).unwrap();
                n += 1;
            }
        });
        db.backup_to_with_progress(&target, |p| steps.push(*p))
            .unwrap()
    });
    assert_eq!(report.column_families, 2);
    assert!(steps.len() >= 2 && steps.last().unwrap().entries_done == report.entries);

    let copy = Database::open(&target).unwrap();
    let read = copy.begin_read();
    let a = read_cf(&read, "a").unwrap();
    let b = read_cf(&read, "b").unwrap();
    assert_eq!(
        a.len(),
        20_000 + usize::from(a.contains_key(&b"counter"[..]))
    );
    assert_eq!(
        a.get(&b"counter"[..]),
        b.get(&b"counter"[..]),
        "torn snapshot"
    );
    assert_eq!(report.entries, (a.len() + b.len()) as u64);
    let check = copy.check_integrity().unwrap();
    assert!(check.is_ok(), "{:?}", check.problems);

    assert!(matches!(
        db.backup_to(&target),
        Err(Error::BackupTargetExists { .. })
    ));
}
