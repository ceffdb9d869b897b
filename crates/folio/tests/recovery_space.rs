//! Recovery copies each page once: replaying a long log of small commits must not leave a
//! data file many times the data. (Replay used to commit once per log record; with no
//! checkpoint during replay to make freed pages reusable, every record's copies of the same
//! leaves took new space: 220 MB for 4.3 MB of data here.)

use folio::{Database, Durability};

#[test]
fn replaying_many_small_commits_leaves_a_file_near_the_data_size() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Database::builder()
            .checkpoint_interval(None)
            .checkpoint_log_bytes(1 << 30)
            .checkpoint_dirty_bytes(1 << 30)
            .checkpoint_on_close(false)
            .open(dir.path())
            .unwrap()
    };
    let db = open();
    db.create_cf("t").unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut data_bytes = 0;
    for _ in 0..2_000 {
        let mut txn = db.begin_write(&["t"]).unwrap();
        for _ in 0..20 {
            txn.put("t", &rng.u64(..).to_be_bytes(), &[7u8; 100])
                .unwrap();
            data_bytes += 108;
        }
        txn.commit_with(Durability::Eventual).unwrap();
    }
    drop(db); // no checkpoint: the next open replays all 2,000 records
    let db = open();
    assert_eq!(db.recovery_report().replayed_records, 2_001);
    assert_eq!(db.begin_read().len("t").unwrap(), 40_000);
    db.checkpoint().unwrap();
    let file = std::fs::metadata(dir.path().join("data.folio"))
        .unwrap()
        .len();
    assert!(
        file < 4 * data_bytes,
        "a {file}-byte data file for {data_bytes} bytes of keys and values"
    );
}

/// A crash loop: each round opens the database (replaying the log), commits a little, and
/// loses power with the database still open, with no checkpointer and no explicit
/// checkpoint. Once a replay covers `checkpoint_log_bytes`, the open checkpoints it, so the
/// log, the replay and the open stay bounded however many rounds pass. (Without that, 40
/// SIGKILL rounds once left 979 MB of log, every open replaying all of it.)
#[test]
fn a_crash_loop_keeps_the_replay_and_the_log_bounded() {
    use std::sync::Arc;

    use folio::DatabaseOptions;
    use folio_io::{CrashPolicy, Directory, SimDirectory, Storage};

    const ROUNDS: u64 = 40;
    const LOG_BOUND: u64 = 256 * 1024;
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_log_bytes: LOG_BOUND,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options.wal.segment_bytes = 64 * 1024;
    let mut device = SimDirectory::new(11);
    let mut per_round = 0;
    let mut checkpointed_opens = 0;
    for round in 0..ROUNDS {
        let db = Database::open_in(Arc::new(device.clone()), options.clone()).unwrap();
        let report = db.recovery_report().clone();
        checkpointed_opens += u64::from(report.checkpointed);
        // What one open may replay: below the bound, plus one round of commits.
        assert!(
            report.replayed_bytes < LOG_BOUND + 2 * per_round.max(1),
            "round {round}: replayed {} bytes",
            report.replayed_bytes
        );
        db.create_cf_if_missing("t").unwrap();
        let before = db.stats().wal.commit.bytes;
        for i in 0..40u64 {
            let mut txn = db.begin_write(&["t"]).unwrap();
            txn.put("t", &(round * 100 + i).to_be_bytes(), &[round as u8; 1000])
                .unwrap();
            txn.commit().unwrap();
        }
        per_round = db.stats().wal.commit.bytes - before;
        let log_bytes: u64 = device
            .list()
            .unwrap()
            .iter()
            .filter(|name| std::path::Path::new(name).extension() == Some("wal".as_ref()))
            .map(|name| device.file(name).unwrap().len().unwrap())
            .sum();
        assert!(
            log_bytes < 4 * LOG_BOUND + 2 * per_round,
            "round {round}: {log_bytes} bytes of log"
        );
        // Power goes with the database open: nothing is checkpointed on the way out.
        device = device.crash(CrashPolicy::DropUnsynced);
        drop(db);
    }
    assert!(checkpointed_opens > 0, "some opens had to checkpoint");
    let db = Database::open_in(Arc::new(device), options).unwrap();
    assert_eq!(db.begin_read().len("t").unwrap(), ROUNDS * 40);
}

/// Replay gathers each column family's changes, sorts them by key and applies the last of
/// each key: the result must equal applying the log in order, across overwrites, deletes,
/// renames, drops and re-creations of a name, and across more than one gathered batch.
#[test]
fn replay_in_key_order_equals_replay_in_log_order() {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use folio::DatabaseOptions;
    use folio_io::{CrashPolicy, SimDirectory};

    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_log_bytes: 1 << 40,
        checkpoint_dirty_bytes: 1 << 30,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    let device = SimDirectory::new(5);
    let db = Database::open_in(Arc::new(device.clone()), options.clone()).unwrap();
    let mut model: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>> = BTreeMap::new();
    let mut rng = fastrand::Rng::with_seed(9);
    let mut commit =
        |db: &Database, model: &mut BTreeMap<_, BTreeMap<_, _>>, cf: &str, n: usize| {
            let mut txn = db.begin_write(&[cf]).unwrap();
            let entries: &mut BTreeMap<Vec<u8>, Vec<u8>> = model.entry(cf.to_owned()).or_default();
            for _ in 0..n {
                let key = rng.u32(0..3_000).to_be_bytes().to_vec();
                if rng.u8(..) < 40 {
                    txn.delete(cf, &key).unwrap();
                    entries.remove(&key);
                } else {
                    let value = vec![rng.u8(..); rng.usize(1..1400)];
                    txn.put(cf, &key, &value).unwrap();
                    entries.insert(key, value);
                }
            }
            txn.commit().unwrap();
        };
    db.create_cf("a").unwrap();
    db.create_cf("b").unwrap();
    // Column family `a` alone logs more than one replay batch (16 MiB).
    for _ in 0..120 {
        commit(&db, &mut model, "a", 300);
        commit(&db, &mut model, "b", 100);
    }
    db.rename_cf("a", "c").unwrap();
    let moved = model.remove("a").unwrap();
    model.insert("c".to_owned(), moved);
    commit(&db, &mut model, "c", 500);
    db.drop_cf("b").unwrap();
    model.remove("b");
    db.create_cf("b").unwrap();
    commit(&db, &mut model, "b", 300);
    db.create_cf("a").unwrap();
    commit(&db, &mut model, "a", 300);
    // Power goes with the database open: the next open replays everything.
    let device = device.crash(CrashPolicy::DropUnsynced);
    drop(db);
    let db = Database::open_in(Arc::new(device), options).unwrap();
    assert!(
        db.recovery_report().replayed_bytes > 24 << 20,
        "more than one batch"
    );
    let read = db.begin_read();
    for (cf, entries) in &model {
        let tree = read.tree(cf).unwrap();
        let got: BTreeMap<Vec<u8>, Vec<u8>> = tree
            .iter()
            .map(|e| e.map(|(k, v)| (k, v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(&got, entries, "column family {cf}");
    }
    assert_eq!(read.cf_names().len(), model.len());
    assert!(db.check_integrity().unwrap().is_ok());
}
