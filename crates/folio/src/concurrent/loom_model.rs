//! Loom model of the commit protocol of concurrent transactions: snapshot, validate, apply,
//! record in the history, publish. The real [`WriteHistory`] and [`ReadSet`] decide; the
//! database around them is a model (one column family: a map behind a writer lock, a
//! published version and snapshot), because the facade's locks are `parking_lot`'s. Each
//! model checks serializability of the outcome, and the stale variant (validation before the
//! writer is taken, so against a version that may move on before the apply) is checked to
//! fail: loom finds the interleaving that loses an update. Run with `cargo xtask loom`.

use std::collections::BTreeMap;

use loom::sync::{Arc, Mutex};
use loom::thread;

use super::history::{WriteHistory, Written};
use super::read_set::ReadSet;

type State = BTreeMap<Vec<u8>, u64>;

/// The modelled database: what the writer lock guards, and the published snapshot.
#[derive(Default)]
struct Db {
    /// The column family's writer: its tree (the state) and its write history.
    writer: Mutex<(State, WriteHistory)>,
    /// The published version and state (readers take both together).
    published: Mutex<(u64, State)>,
}

/// A transaction: reads keys of its snapshot, writes `f(values read)` to `writes`.
struct Txn {
    reads: Vec<&'static [u8]>,
    writes: Vec<&'static [u8]>,
}

/// Whether validation runs under the writer (the protocol) or before it (broken).
#[derive(Clone, Copy, PartialEq)]
enum Validation {
    UnderWriter,
    Stale,
}

/// Runs `txn`: snapshot, then commit. Each write stores the sum of the values read plus 1.
/// Returns whether it committed.
fn run(db: &Db, txn: &Txn, validation: Validation) -> bool {
    let (version, snapshot) = db.published.lock().unwrap().clone();
    let mut reads = ReadSet::default();
    let mut sum = 0;
    for key in &txn.reads {
        reads.point(key);
        sum += snapshot.get(*key).copied().unwrap_or(0);
    }
    let valid_early = validation == Validation::Stale
        && db
            .writer
            .lock()
            .unwrap()
            .1
            .validate(version, &reads)
            .is_ok();
    let mut writer = db.writer.lock().unwrap();
    let valid = match validation {
        Validation::UnderWriter => writer.1.validate(version, &reads).is_ok(),
        Validation::Stale => valid_early,
    };
    if !valid {
        return false;
    }
    for key in &txn.writes {
        writer.0.insert(key.to_vec(), sum + 1);
    }
    // The append: the next LSN, taken under the writer (per column family, log order is
    // apply order).
    let mut published = db.published.lock().unwrap();
    let lsn = published.0 + 1;
    writer.1.record(
        lsn,
        Written::Keys(txn.writes.iter().map(|key| Box::from(*key)).collect()),
        Some(0),
        1 << 20,
    );
    *published = (lsn, writer.0.clone());
    true
}

/// Two transactions run on two threads; returns (committed flags, final state).
fn race(a: Txn, b: Txn, validation: Validation) -> ([bool; 2], State) {
    let db = Arc::new(Db::default());
    let other = {
        let db = Arc::clone(&db);
        thread::spawn(move || run(&db, &b, validation))
    };
    let first = run(&db, &a, validation);
    let second = other.join().unwrap();
    let state = db.published.lock().unwrap().1.clone();
    ([first, second], state)
}

/// Two read-modify-writes of one counter: both commit only if the result counts both.
fn counter_model(validation: Validation) {
    loom::model(move || {
        let increment = || Txn {
            reads: vec![b"x"],
            writes: vec![b"x"],
        };
        let (committed, state) = race(increment(), increment(), validation);
        let x = state.get(b"x".as_slice()).copied().unwrap_or(0);
        let expected = committed.iter().filter(|c| **c).count() as u64;
        assert_eq!(x, expected, "lost update: {committed:?} committed, x = {x}");
    });
}

/// Write skew: each reads both rows and writes its own; serially the second sees the
/// first's write, so both committing with a snapshot each is not serializable.
fn skew_model(validation: Validation) {
    loom::model(move || {
        let (committed, state) = race(
            Txn {
                reads: vec![b"a", b"b"],
                writes: vec![b"a"],
            },
            Txn {
                reads: vec![b"a", b"b"],
                writes: vec![b"b"],
            },
            validation,
        );
        if committed == [true, true] {
            // Serially, the later one read the earlier one's value (1): it wrote 2.
            let (a, b) = (state[b"a".as_slice()], state[b"b".as_slice()]);
            assert!(
                a == 2 || b == 2,
                "write skew: both wrote from the empty snapshot"
            );
        }
    });
}

/// Disjoint transactions never conflict.
#[test]
fn loom_disjoint_transactions_both_commit() {
    loom::model(|| {
        let (committed, state) = race(
            Txn {
                reads: vec![b"a"],
                writes: vec![b"a"],
            },
            Txn {
                reads: vec![b"b"],
                writes: vec![b"b"],
            },
            Validation::UnderWriter,
        );
        assert_eq!(committed, [true, true]);
        assert_eq!(state.len(), 2);
    });
}

#[test]
fn loom_validation_under_the_writer_loses_no_update() {
    counter_model(Validation::UnderWriter);
}

#[test]
fn loom_validation_under_the_writer_refuses_write_skew() {
    skew_model(Validation::UnderWriter);
}

/// The model can fail: validating before the writer is held (against a history that moves
/// on before the apply) loses an update in some interleaving, and loom finds it.
#[test]
fn loom_stale_validation_is_caught() {
    let caught = std::panic::catch_unwind(|| counter_model(Validation::Stale));
    assert!(
        caught.is_err(),
        "loom found no lost update with stale validation"
    );
}
