//! Replay through sorted runs (temporary files a large replay writes and merges): a power
//! cut at any I/O operation of such a replay leaves a database that the next open recovers
//! completely, with no run file left behind; run files left by a crash are removed.

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, Directory, SimDirectory};

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_on_close: false,
        replay_batch_bytes: 1024, // every replay of more than 8 KiB goes through runs
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options
}

fn runs_in(directory: &dyn Directory) -> Vec<String> {
    let mut names = directory.list().unwrap();
    names.retain(|name| name.starts_with("replay-"));
    names
}

/// Every entry of a column family.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn contents(db: &Database) -> Entries {
    let read = db.begin_read();
    read.tree("t")
        .unwrap()
        .iter()
        .map(|entry| entry.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A database whose log holds 40 commits past its checkpoint, crashed (only what was
/// synced survives), and what it holds.
fn logged_device() -> (SimDirectory, Entries) {
    let device = SimDirectory::new(5);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf("t").unwrap();
    db.checkpoint().unwrap();
    let mut rng = fastrand::Rng::with_seed(5);
    for round in 0..40u8 {
        let mut txn = db.begin_write(&["t"]).unwrap();
        for _ in 0..20 {
            txn.put("t", &rng.u16(..300).to_be_bytes(), &[round; 40])
                .unwrap();
        }
        txn.delete("t", &rng.u16(..300).to_be_bytes()).unwrap();
        txn.commit_with(Durability::Immediate).unwrap();
    }
    let expected = contents(&db);
    let logged = device.crash(CrashPolicy::DropUnsynced);
    drop(db);
    (logged, expected)
}

#[test]
fn a_power_cut_anywhere_in_a_replay_through_runs_loses_nothing() {
    let mut cut = 1;
    loop {
        let (attempt, expected) = logged_device();
        attempt.cut_power_at(attempt.operations() + cut);
        let opened = Database::open_in(Arc::new(attempt.clone()), options());
        let was_cut = attempt.power_was_cut();
        drop(opened);
        let rebooted = attempt.crash(CrashPolicy::Random);
        let db = Database::open_in(Arc::new(rebooted.clone()), options())
            .unwrap_or_else(|e| panic!("cut at {cut}: reopen failed: {e}"));
        assert_eq!(contents(&db), expected, "cut at {cut}");
        assert!(runs_in(&rebooted).is_empty(), "cut at {cut}: runs left");
        if !was_cut {
            assert!(db.recovery_report().replayed_records > 0);
            break; // the open finished before the cut: every operation was swept
        }
        cut += 1;
    }
    assert!(cut > 10, "only {cut} operations swept");
}

#[test]
fn run_files_left_by_a_crash_are_removed_at_open() {
    let device = SimDirectory::new(6);
    drop(Database::open_in(Arc::new(device.clone()), options()).unwrap());
    let stale = device.open("replay-3-0.run", true).unwrap();
    stale.write_all_at(b"half a run", 0).unwrap();
    drop(stale);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    assert!(runs_in(&device).is_empty());
    drop(db);
}
