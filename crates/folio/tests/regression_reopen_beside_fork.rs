//! Regression: a database closed and reopened by one thread while another thread spawns
//! subprocesses. Each spawn forks, and the child holds a copy of every descriptor (the
//! database's locked files among them) until it calls `exec`; a reopen in that window found
//! the files locked (`AlreadyOpen`). This made the two SIGKILL tests fail each other on a
//! loaded machine. The reopen now waits out a lock kept only by this process's own children
//! (`folio_io::INHERITED_LOCK_WAIT`), while a real second opener still fails at once.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use folio::{Database, DatabaseOptions};

/// Opens, writes, checkpoints and closes: every file the database locks is opened and
/// released each round.
const ROUNDS: u32 = 150;

#[test]
fn reopening_while_another_thread_spawns_processes_never_finds_the_files_locked() {
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut spawned = 0u32;
            while !stop.load(Ordering::Relaxed) {
                Command::new("true")
                    .stdin(Stdio::null())
                    .status()
                    .expect("spawn true(1)");
                spawned += 1;
            }
            spawned
        }
    });
    let options = DatabaseOptions {
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    };
    let outcome = (0..ROUNDS).try_for_each(|round| {
        let db = Database::open_with(dir.path(), options.clone())
            .map_err(|e| format!("round {round}: open: {e}"))?;
        db.create_cf_if_missing("t").map_err(|e| e.to_string())?;
        let mut txn = db.begin_write(&["t"]).map_err(|e| e.to_string())?;
        txn.put("t", &round.to_be_bytes(), b"v")
            .map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())?;
        db.close().map_err(|e| format!("round {round}: close: {e}"))
    });
    stop.store(true, Ordering::Relaxed);
    let spawns = spawner.join().unwrap();
    outcome.unwrap();
    assert!(spawns > 0, "the spawner ran beside the reopen loop");
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.begin_read().len("t").unwrap(), u64::from(ROUNDS));

    // A real second opener is still refused, at once.
    let second = Database::open(dir.path()).unwrap_err();
    assert!(second.is_already_open(), "{second}");
    assert!(
        matches!(
            second,
            folio::Error::Storage(folio::StorageError::AlreadyOpen {
                holder: folio::LockHolder::ThisProcess,
                ..
            })
        ),
        "{second}"
    );
}
