//! The promise of `Durability::Eventual` (README, docs/durability.md): a commit acknowledged
//! before its log record is synced is synced by the log's background flusher within
//! `sync_interval` (10 ms by default), with nothing else syncing; after that a power cut keeps
//! it. Every other simulated suite turns the flusher off, so this is its test, plain and
//! encrypted. The control shows the test can fail: without the flusher the same commit is
//! lost to the same power cut.

use std::sync::Arc;
use std::time::{Duration, Instant};

use folio::{Database, DatabaseOptions, Durability, Lsn};
use folio_io::{CrashPolicy, SimDirectory};
use folio_tests::{AtRest, AtRestOptions};

/// How long the flusher may take before the test calls it stuck: far above the 10 ms it is
/// configured with, because CI runs other tests on the same two cores. The time it took is
/// printed.
const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

fn options(at_rest: AtRest, flusher: bool) -> DatabaseOptions {
    // No background checkpointer (small_options): nothing but the flusher syncs the log.
    let mut options = at_rest.small_options();
    options.wal.sync_interval = flusher.then(|| Duration::from_millis(10));
    options
}

/// Opens a database, commits one `Eventual` write; returns the device, the open database
/// and the commit's LSN.
fn eventual_commit(at_rest: AtRest, flusher: bool) -> (SimDirectory, Database, Lsn) {
    let device = SimDirectory::new(11);
    let db = Database::open_in(Arc::new(device.clone()), options(at_rest, flusher)).unwrap();
    db.create_cf("a").unwrap();
    let mut txn = db.begin_write(&["a"]).unwrap();
    txn.put("a", b"key", b"eventual").unwrap();
    let lsn = txn.commit_with(Durability::Eventual).unwrap();
    (device, db, lsn)
}

/// Cuts the power under the open database and reopens; returns the value of `key`.
fn power_cut_and_read(device: &SimDirectory, db: Database, at_rest: AtRest) -> Option<Vec<u8>> {
    let rebooted = device.crash(CrashPolicy::DropUnsynced);
    drop(db); // its close fails on the dead device: nothing more is synced
    let db = Database::open_in(Arc::new(rebooted), options(at_rest, false)).unwrap();
    db.begin_read()
        .get("a", b"key")
        .unwrap()
        .map(|value| value.to_vec())
}

fn flusher_makes_eventual_commits_durable(at_rest: AtRest) {
    let (device, db, lsn) = eventual_commit(at_rest, true);
    let start = Instant::now();
    // Watch the log's durable LSN without syncing anything: only the flusher can move it.
    while db.stats().wal.durable_lsn < lsn {
        assert!(
            start.elapsed() < FLUSH_DEADLINE,
            "{at_rest:?}: commit {lsn} not synced after {FLUSH_DEADLINE:?} (durable: {})",
            db.stats().wal.durable_lsn
        );
        std::thread::yield_now();
    }
    println!(
        "{at_rest:?}: the flusher synced an Eventual commit after {:?}",
        start.elapsed()
    );
    assert_eq!(
        power_cut_and_read(&device, db, at_rest).as_deref(),
        Some(&b"eventual"[..]),
        "{at_rest:?}: a synced Eventual commit was lost"
    );
}

#[test]
fn the_flusher_makes_eventual_commits_durable() {
    flusher_makes_eventual_commits_durable(AtRest::Plain);
}

#[test]
fn the_flusher_makes_eventual_commits_durable_encrypted() {
    flusher_makes_eventual_commits_durable(AtRest::Encrypted);
}

/// The control: with the flusher off, nothing syncs the commit, and the same cut loses it.
#[test]
fn without_the_flusher_an_unsynced_eventual_commit_is_lost_to_a_power_cut() {
    for at_rest in [AtRest::Plain, AtRest::Encrypted] {
        let (device, db, lsn) = eventual_commit(at_rest, false);
        assert!(
            db.stats().wal.durable_lsn < lsn,
            "{at_rest:?}: synced already"
        );
        assert_eq!(
            power_cut_and_read(&device, db, at_rest),
            None,
            "{at_rest:?}"
        );
    }
}
