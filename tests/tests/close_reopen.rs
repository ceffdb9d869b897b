//! Closing releases the database's files before it returns, whatever is running: a reopen
//! right after `close()` or after dropping the last handle never finds the files locked,
//! with the background checkpointer running every millisecond and another thread
//! checkpointing through a clone at the same time.

use std::time::Duration;

use folio::{Database, DatabaseOptions, Durability, Error};

const ROUNDS: u32 = 1_000;

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: Some(Duration::from_millis(1)),
        ..DatabaseOptions::default()
    };
    options.wal.segment_bytes = 64 * 1024;
    options
}

#[test]
fn reopen_right_after_close_or_drop_never_finds_the_files_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let db = match Database::open_with(&path, options()) {
            Ok(db) => db,
            Err(error) => {
                failures.push(format!("round {round}: {error}"));
                continue;
            }
        };
        db.create_cf_if_missing("t").unwrap();
        let mut txn = db.begin_write(&["t"]).unwrap();
        for key in 0..100u32 {
            txn.put("t", &(round * 100 + key).to_be_bytes(), &[round as u8; 200])
                .unwrap();
        }
        txn.commit_with(Durability::Eventual).unwrap();
        std::thread::scope(|scope| {
            // A checkpoint in flight through a clone while the database closes.
            let clone = db.clone();
            let checkpointing = scope.spawn(move || {
                loop {
                    match clone.checkpoint() {
                        Ok(_) => {}
                        Err(Error::Closed) => break,
                        Err(other) => panic!("{other}"),
                    }
                }
            });
            if round % 2 == 0 {
                db.close().unwrap();
            } else {
                // Not the last handle (the checkpointing thread has one): close, not drop,
                // is what ends it; then this drop is a no-op.
                db.clone().close().unwrap();
                drop(db);
            }
            // The checkpointing thread may still hold its clone: the files are free anyway.
            match Database::open_with(&path, options()) {
                Ok(reopened) => drop(reopened),
                Err(error) => failures.push(format!("round {round}: {error}")),
            }
            checkpointing.join().unwrap();
        });
    }
    let db = Database::open_with(&path, options()).unwrap();
    assert_eq!(db.begin_read().len("t").unwrap(), u64::from(ROUNDS) * 100);
    assert!(
        failures.is_empty(),
        "{} failures: {failures:?}",
        failures.len()
    );
}

#[test]
fn dropping_the_last_handle_during_background_checkpoints_releases_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut failures = 0;
    for round in 0..ROUNDS / 4 {
        let db = Database::open_with(&path, options()).unwrap();
        db.create_cf_if_missing("t").unwrap();
        let mut txn = db.begin_write(&["t"]).unwrap();
        for key in 0..400u32 {
            txn.put("t", &key.to_be_bytes(), &[round as u8; 200])
                .unwrap();
        }
        txn.commit_with(Durability::Eventual).unwrap();
        drop(db); // the checkpointer (1 ms) is likely mid-checkpoint
        if Database::open_with(&path, options()).is_err() {
            failures += 1;
        }
    }
    assert_eq!(failures, 0);
}
