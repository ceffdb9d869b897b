//! Dirty memory stays bounded (docs/tuning.md, `dirty_bytes_max`): past `dirty_bytes_max`, a commit
//! checkpoints before it returns, whatever the background checkpointer is doing.

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::SimDirectory;

#[test]
fn commits_never_leave_more_dirty_bytes_than_the_bound() {
    let mut options = DatabaseOptions::default();
    options.wal.sync_interval = None;
    options.checkpoint_interval = None; // only back-pressure here
    options.checkpoint_dirty_bytes = 256 << 10;
    options.dirty_bytes_max = Some(1 << 20);
    let device = SimDirectory::new(1);
    let db = Database::open_in(Arc::new(device.clone()), options.clone()).unwrap();
    db.create_cf("cf").unwrap();
    let mut max_seen = 0;
    for txn_index in 0..150u64 {
        let mut txn = db.begin_write(&["cf"]).unwrap();
        for i in 0..100u64 {
            let key = (txn_index * 7919 + i * 104_729)
                .wrapping_mul(0x9E37_79B9)
                .to_be_bytes();
            txn.put("cf", &key, &[i as u8; 150]).unwrap();
        }
        txn.commit_with(Durability::Eventual).unwrap();
        let dirty = db.stats().page_store.cache.dirty_bytes;
        max_seen = max_seen.max(dirty);
        assert!(
            dirty <= options.dirty_bytes_bound(),
            "{dirty} dirty bytes after commit {txn_index}"
        );
    }
    let stats = db.stats();
    assert!(
        stats.page_store.checkpoints >= 2,
        "back-pressure never checkpointed"
    );
    assert!(
        max_seen > options.checkpoint_dirty_bytes,
        "the test never built up dirty pages"
    );
    drop(db);
    let db = Database::open_in(Arc::new(device), options).unwrap();
    assert_eq!(db.begin_read().len("cf").unwrap(), 15_000);
}

#[test]
fn invalid_checkpoint_options_are_refused() {
    let options = DatabaseOptions {
        dirty_bytes_max: Some(1),
        ..DatabaseOptions::default()
    };
    let error = Database::open_in(Arc::new(SimDirectory::new(2)), options).unwrap_err();
    assert!(
        matches!(
            error,
            folio::Error::InvalidOption {
                name: "dirty_bytes_max",
                ..
            }
        ),
        "{error}"
    );
}
