//! Power cut at every I/O operation of a workload whose log records range from a few bytes
//! to several times the log's segment size, so the cut lands in every step of a segment roll
//! (sync of the old segment, creation, preallocation, header, first record). After each cut
//! and reopen: every acknowledged commit is there, as a prefix of the commits, and the
//! database **keeps working**: small and large commits all succeed, and survive a clean
//! reopen and another crash (docs/invariants.md, invariant 10). This is the sweep that found a header-only
//! segment refusing every record larger than itself after a crash.
//!
//! `FOLIO_CRASH_SEEDS=N` runs N seeds per crash policy (`cargo xtask crash`).

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, SimDirectory};
use folio_tests::{AtRest, AtRestOptions, State, read_cf};

const CF: &str = "log";
const COMMITS: u64 = 10;
/// The unit of the commits' sizes: the smallest segment allowed, which is also the size a
/// new log's first segment starts at.
const SEGMENT_BYTES: usize = 64 * 1024;

/// Options with log segments of `segment_bytes`: [`SEGMENT_BYTES`] makes every roll a
/// roll; a larger size makes the first segment grow in place (64 KiB, 256 KiB, ...) before
/// it rolls.
fn options(segment_bytes: u64, at_rest: AtRest) -> DatabaseOptions {
    let mut options = at_rest.small_options();
    assert_eq!(options.wal.segment_bytes, SEGMENT_BYTES as u64);
    options.wal.segment_bytes = segment_bytes;
    options
}

/// Value sizes of the commits for `seed`: mixed from a few bytes to ~4 segments.
fn sizes(seed: u64) -> Vec<usize> {
    const CHOICES: [usize; 7] = [
        8,
        700,
        9_000,
        SEGMENT_BYTES / 2,
        SEGMENT_BYTES - 100,
        SEGMENT_BYTES + 5_000,
        SEGMENT_BYTES * 4,
    ];
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..COMMITS)
        .map(|_| CHOICES[rng.usize(..CHOICES.len())])
        .collect()
}

fn key(i: u64) -> Vec<u8> {
    format!("commit-{i:03}").into_bytes()
}

fn value(i: u64, size: usize) -> Vec<u8> {
    (0..size).map(|at| (i as usize * 31 + at) as u8).collect()
}

/// The states after each commit: `states[0]` is empty.
fn expected_states(sizes: &[usize]) -> Vec<State> {
    let mut states = vec![State::new()];
    let mut state = State::new();
    for (i, size) in (0u64..).zip(sizes) {
        state.insert(key(i), value(i, *size));
        states.push(state.clone());
    }
    states
}

/// Runs the commits; returns whether the column family was acknowledged and how many
/// commits were acknowledged durable (a prefix).
fn workload(db: &Database, sizes: &[usize]) -> (bool, u64) {
    if db.create_cf(CF).is_err() {
        return (false, 0);
    }
    let mut durable = 0;
    for (i, size) in (0u64..).zip(sizes) {
        let durability = if i % 4 == 3 {
            Durability::Eventual
        } else {
            Durability::Immediate
        };
        let outcome = db.begin_write(&[CF]).and_then(|mut txn| {
            txn.put(CF, &key(i), &value(i, *size))?;
            txn.commit_with(durability)
        });
        match outcome {
            Ok(_) if durability == Durability::Immediate => durable = i + 1,
            Ok(_) => {}
            Err(_) => return (true, durable),
        }
        if i == COMMITS / 2 && db.checkpoint().is_err() {
            return (true, durable);
        }
    }
    (true, durable)
}

/// Commits after recovery: small and large, each must succeed.
fn keep_writing(db: &Database, context: &str) -> State {
    let mut written = State::new();
    let later = [
        5,
        SEGMENT_BYTES * 3,
        12,
        SEGMENT_BYTES - 64,
        SEGMENT_BYTES * 5,
        1,
    ];
    for (i, size) in (100u64..).zip(later) {
        let mut txn = db
            .begin_write(&[CF])
            .unwrap_or_else(|e| panic!("{context}: begin_write after recovery failed: {e}"));
        txn.put(CF, &key(i), &value(i, size)).unwrap();
        txn.commit_with(Durability::Immediate).unwrap_or_else(|e| {
            panic!("{context}: a {size}-byte commit after recovery failed: {e}")
        });
        written.insert(key(i), value(i, size));
    }
    written
}

fn crash_at(cut: u64, policy: CrashPolicy, seed: u64, segment_bytes: u64, at_rest: AtRest) -> bool {
    let sizes = sizes(seed);
    let states = expected_states(&sizes);
    let device = SimDirectory::new(seed);
    device.cut_power_at(cut);
    let (created, durable) =
        match Database::open_in(Arc::new(device.clone()), options(segment_bytes, at_rest)) {
            Ok(db) => workload(&db, &sizes),
            Err(_) => (false, 0),
        };
    let was_cut = device.power_was_cut();
    let context = format!("cut at {cut}, {policy:?}, seed {seed}, segments of {segment_bytes}");
    let rebooted = device.crash(policy);
    let db = Database::open_in(Arc::new(rebooted.clone()), options(segment_bytes, at_rest))
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    if !db.cf_names().iter().any(|name| name == CF) {
        assert!(
            !created,
            "{context}: the acknowledged column family is lost"
        );
        db.create_cf(CF).unwrap();
    }
    let recovered = read_cf(&db.begin_read(), CF).unwrap();
    let prefix = states
        .iter()
        .position(|s| s == &recovered)
        .unwrap_or_else(|| panic!("{context}: recovered state is not a prefix of the commits"));
    assert!(
        prefix as u64 >= durable,
        "{context}: {durable} commits acknowledged durable, only {prefix} recovered"
    );

    let mut expected = recovered;
    expected.extend(keep_writing(&db, &context));
    drop(db);
    // A clean reopen, more writing, then a crash that drops whatever was not synced: every
    // acknowledged commit is still there.
    let db = Database::open_in(Arc::new(rebooted.clone()), options(segment_bytes, at_rest))
        .unwrap_or_else(|e| panic!("{context}: clean reopen failed: {e}"));
    assert_eq!(
        read_cf(&db.begin_read(), CF).unwrap(),
        expected,
        "{context}"
    );
    let mut txn = db.begin_write(&[CF]).unwrap();
    txn.put(CF, b"last", &value(7, SEGMENT_BYTES * 2)).unwrap();
    txn.commit_with(Durability::Immediate).unwrap();
    expected.insert(b"last".to_vec(), value(7, SEGMENT_BYTES * 2));
    drop(db);
    let db = Database::open_in(
        Arc::new(rebooted.crash(CrashPolicy::DropUnsynced)),
        options(segment_bytes, at_rest),
    )
    .unwrap_or_else(|e| panic!("{context}: reopen after the second crash failed: {e}"));
    assert_eq!(
        read_cf(&db.begin_read(), CF).unwrap(),
        expected,
        "{context}"
    );
    was_cut
}

#[test]
fn power_cut_at_every_operation_of_log_rolls_leaves_a_writable_database() {
    log_roll_sweep(AtRest::Plain);
}

#[test]
fn power_cut_at_every_operation_of_log_rolls_leaves_a_writable_database_encrypted() {
    log_roll_sweep(AtRest::Encrypted);
}

fn log_roll_sweep(at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(3), |cut, policy, seed| {
        crash_at(cut, policy, seed, SEGMENT_BYTES as u64, at_rest)
    });
    assert!(
        report.shortest_scenario > 40,
        "the scenario should span many operations: {report:?}"
    );
    println!("crash points covered: {}", report.points);
}

/// The same with segments that grow in place before they roll (64 KiB -> 256 KiB -> 512
/// KiB): a cut while a non-empty segment grows, or before the growth is synced, keeps every
/// acknowledged commit.
#[test]
fn power_cut_at_every_operation_of_growing_segments_leaves_a_writable_database() {
    growing_segments_sweep(AtRest::Plain);
}

#[test]
fn power_cut_at_every_operation_of_growing_segments_leaves_a_writable_database_encrypted() {
    growing_segments_sweep(AtRest::Encrypted);
}

fn growing_segments_sweep(at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(2), |cut, policy, seed| {
        crash_at(cut, policy, seed, 8 * SEGMENT_BYTES as u64, at_rest)
    });
    assert!(
        report.shortest_scenario > 40,
        "the scenario should span many operations: {report:?}"
    );
    println!("crash points covered: {}", report.points);
}
