//! `WriteBatch` and the commit queue: concurrent batches to one column family all commit,
//! each batch is atomic (alone when it fails, across column families and crashes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use folio::{Database, DatabaseOptions, Durability, Error, WriteBatch};
use folio_io::{CrashPolicy, SimDirectory};

/// How long a test waits for its threads to queue before it fails instead of hanging.
const QUEUE_DEADLINE: Duration = Duration::from_mins(2);

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions::default();
    options.wal.sync_interval = None;
    options.wal.segment_bytes = 256 * 1024;
    options
}

fn get(db: &Database, cf: &str, key: &[u8]) -> Option<Vec<u8>> {
    db.begin_read().get(cf, key).unwrap().map(|v| v.to_vec())
}

#[test]
fn concurrent_batches_to_one_column_family_all_commit_and_survive_a_crash() {
    const THREADS: u64 = 8;
    const BATCHES: u64 = 40;
    let device = SimDirectory::new(7);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("shared").unwrap();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let db = db.clone();
            scope.spawn(move || {
                for b in 0..BATCHES {
                    let mut batch = WriteBatch::new();
                    for k in 0..10u64 {
                        let key = format!("t{t}-b{b:03}-k{k}");
                        batch.put("shared", key.as_bytes(), &t.to_le_bytes());
                    }
                    let durability = if b % 2 == 0 {
                        Durability::Immediate
                    } else {
                        Durability::Eventual
                    };
                    assert!(db.write_with(batch, durability).unwrap() > 0);
                }
            });
        }
    });
    db.flush().unwrap();
    drop(db);
    let db =
        Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options()).unwrap();
    let read = db.begin_read();
    assert_eq!(read.len("shared").unwrap(), THREADS * BATCHES * 10);
    for t in 0..THREADS {
        let key = format!("t{t}-b{:03}-k9", BATCHES - 1);
        assert_eq!(
            get(&db, "shared", key.as_bytes()),
            Some(t.to_le_bytes().to_vec())
        );
    }
}

#[test]
fn a_failing_batch_rolls_back_alone_and_names_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("a").unwrap();
    db.create_cf("b").unwrap();

    let mut bad = WriteBatch::new();
    bad.put("a", b"first", b"1");
    bad.put("a", &vec![7u8; folio_btree::KEY_BYTES_MAX + 1], b"too long");
    assert!(matches!(
        db.write(bad),
        Err(Error::Tree(folio_btree::Error::KeyTooLarge { .. }))
    ));
    assert_eq!(
        get(&db, "a", b"first"),
        None,
        "the failed batch left a change"
    );

    let mut missing = WriteBatch::new();
    missing.put("a", b"k", b"v").put("nope", b"k", b"v");
    assert!(matches!(
        db.write(missing),
        Err(Error::ColumnFamilyNotFound { name }) if name == "nope"
    ));
    assert_eq!(get(&db, "a", b"k"), None);

    let mut good = WriteBatch::new();
    good.put("a", b"x", b"1")
        .put("b", b"x", b"1")
        .delete("a", b"absent");
    assert_eq!(good.len(), 3);
    let lsn = db.write(good).unwrap();
    let read = db.begin_read();
    assert_eq!(read.version(), lsn);
    assert_eq!(&*read.get("a", b"x").unwrap().unwrap(), b"1");
    assert_eq!(&*read.get("b", b"x").unwrap().unwrap(), b"1");
    assert_eq!(
        db.write(WriteBatch::new()).unwrap(),
        0,
        "empty batches log nothing"
    );
}

#[test]
fn batches_waiting_behind_a_busy_writer_commit_as_one_group() {
    const THREADS: u64 = 8;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("a").unwrap();
    let records_before = db.stats().wal.commit.records;
    // Holding the writer blocks the first leader; every other batch queues behind it.
    let mut holder = db.begin_write(&["a"]).unwrap();
    holder.put("a", b"holder", b"1").unwrap();
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let db = db.clone();
                scope.spawn(move || {
                    let mut batch = WriteBatch::new();
                    batch.put("a", &t.to_be_bytes(), b"v");
                    db.write_with(batch, Durability::Eventual).unwrap();
                })
            })
            .collect();
        // Wait until every batch is queued; a writer that finishes first has failed (none
        // can commit past the holder), and a queue stuck past the deadline fails the test
        // too. Either way the holder commits first, so the scope can end.
        let deadline = Instant::now() + QUEUE_DEADLINE;
        let all_queued = loop {
            if db.stats().commit_queue.batches >= THREADS {
                break true;
            }
            if writers
                .iter()
                .any(std::thread::ScopedJoinHandle::is_finished)
                || Instant::now() > deadline
            {
                break false;
            }
            std::thread::yield_now();
        };
        holder.commit().unwrap();
        assert!(
            all_queued,
            "only {} of {THREADS} batches queued behind the holder",
            db.stats().commit_queue.batches
        );
    });
    let stats = db.stats();
    assert_eq!(stats.commit_queue.batches, THREADS);
    // The first leader's group, then at most one group of everything that queued behind it.
    assert!(stats.commit_queue.groups <= 2, "{:?}", stats.commit_queue);
    assert!(stats.wal.commit.records - records_before <= 3);
    assert_eq!(db.begin_read().len("a").unwrap(), THREADS + 1);
}
