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
