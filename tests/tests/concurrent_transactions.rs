//! Concurrent (optimistic, serializable) transactions: the anomalies they must prevent, a
//! serializability checker (threads running random transactions, and a proptest of random
//! interleavings, both replayed on a `BTreeMap` model in commit order), bank transfers with
//! readers and a power cut, and a power-cut sweep over commits that mix conflicting and
//! non-conflicting transactions (docs/invariants.md, invariant 12).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use folio::{ConcurrentTransaction, Database, DatabaseOptions, Durability, ErrorKind, Lsn};
use folio_io::{CrashPolicy, SimDirectory};
use folio_tests::{AtRest, AtRestOptions};
use proptest::prelude::*;

fn open_with(options: DatabaseOptions, cfs: &[&str]) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(dir.path(), options).unwrap();
    for cf in cfs {
        db.create_cf(cf).unwrap();
    }
    (dir, db)
}

fn open(cfs: &[&str]) -> (tempfile::TempDir, Database) {
    open_with(folio_tests::small_options(), cfs)
}

fn get(db: &Database, cf: &str, key: &[u8]) -> Option<Vec<u8>> {
    db.begin_read().get(cf, key).unwrap().map(|v| v.to_vec())
}

fn conflict_keys(error: &folio::Error) -> Vec<Vec<u8>> {
    assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
    assert!(error.is_retryable());
    match error {
        folio::Error::Conflict { keys, .. } => keys.clone(),
        other => panic!("not a conflict: {other}"),
    }
}

#[test]
fn write_skew_is_refused() {
    let (_dir, db) = open(&["doctors"]);
    let mut setup = db.begin_concurrent().unwrap();
    setup.put("doctors", b"alice", b"on").unwrap();
    setup.put("doctors", b"bob", b"on").unwrap();
    setup.commit().unwrap();
    // Each goes off call if the other stays on: serially, only one can.
    let mut alice = db.begin_concurrent().unwrap();
    let mut bob = db.begin_concurrent().unwrap();
    for (txn, me, other) in [
        (&mut alice, b"alice".as_slice(), b"bob".as_slice()),
        (&mut bob, b"bob", b"alice"),
    ] {
        let on_call = txn
            .iter("doctors")
            .unwrap()
            .filter(|e| e.as_ref().unwrap().1.as_ref() == b"on")
            .count();
        assert_eq!(on_call, 2);
        assert!(txn.get("doctors", other).unwrap().is_some());
        txn.put("doctors", me, b"off").unwrap();
    }
    alice.commit().unwrap();
    let error = bob.commit().unwrap_err();
    assert_eq!(conflict_keys(&error), [b"alice".to_vec()]);
    assert_eq!(
        get(&db, "doctors", b"bob").as_deref(),
        Some(b"on".as_slice())
    );
}

#[test]
fn lost_updates_are_refused_and_transact_retries_them() {
    const THREADS: u64 = 4;
    const EACH: u64 = 50;
    let (_dir, db) = open(&["c"]);
    let mut first = db.begin_concurrent().unwrap();
    let mut second = db.begin_concurrent().unwrap();
    for txn in [&mut first, &mut second] {
        assert!(txn.get("c", b"n").unwrap().is_none());
        txn.put("c", b"n", b"1").unwrap();
    }
    first.commit().unwrap();
    assert_eq!(
        conflict_keys(&second.commit().unwrap_err()),
        [b"n".to_vec()]
    );

    // Four threads incrementing one counter through `transact`: none is lost.
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..EACH {
                    db.transact_with(
                        folio::TransactOptions::with_durability(Durability::Eventual),
                        |txn| {
                            let n = txn.get("c", b"n")?.map_or(0, |v| {
                                std::str::from_utf8(&v).unwrap().parse::<u64>().unwrap()
                            });
                            txn.put("c", b"n", (n + 1).to_string().as_bytes())
                        },
                    )
                    .unwrap();
                }
            });
        }
    });
    let n = get(&db, "c", b"n").unwrap();
    assert_eq!(n, (1 + THREADS * EACH).to_string().into_bytes());
    let stats = db.stats().concurrent;
    assert!(stats.commits > THREADS * EACH, "{stats:?}");
}

#[test]
fn phantoms_in_a_scanned_range_are_refused_even_when_it_was_empty() {
    let (_dir, db) = open(&["t", "log"]);
    let mut scanner = db.begin_concurrent().unwrap();
    assert_eq!(
        scanner
            .range("t", b"b".as_slice()..b"d".as_slice())
            .unwrap()
            .count(),
        0
    );
    scanner.put("log", b"saw", b"0 rows in [b, d)").unwrap();
    let mut inserter = db.begin_concurrent().unwrap();
    inserter.put("t", b"c", b"new").unwrap(); // blind: no read
    inserter.commit().unwrap();
    assert_eq!(
        conflict_keys(&scanner.commit().unwrap_err()),
        [b"c".to_vec()]
    );
    assert!(
        get(&db, "log", b"saw").is_none(),
        "nothing of a conflicted transaction applies"
    );

    // A key outside the range, and a prefix scan beside it.
    let mut scanner = db.begin_concurrent().unwrap();
    assert_eq!(scanner.prefix("t", b"x").unwrap().count(), 0);
    scanner.put("log", b"saw", b"nothing under x").unwrap();
    let mut other = db.begin_concurrent().unwrap();
    other.put("t", b"y", b"outside").unwrap();
    other.commit().unwrap();
    scanner.commit().unwrap();
    let mut scanner = db.begin_concurrent().unwrap();
    assert_eq!(scanner.prefix_rev("t", b"x").unwrap().count(), 0);
    scanner.put("log", b"saw", b"again").unwrap();
    let mut other = db.begin_concurrent().unwrap();
    other.put("t", b"x1", b"inside").unwrap();
    other.commit().unwrap();
    assert_eq!(
        conflict_keys(&scanner.commit().unwrap_err()),
        [b"x1".to_vec()]
    );
}

#[test]
fn read_only_and_blind_transactions_never_conflict() {
    let (_dir, db) = open(&["t"]);
    let reader = db.begin_concurrent().unwrap();
    assert!(reader.get("t", b"k").unwrap().is_none());
    let mut blind_a = db.begin_concurrent().unwrap();
    let mut blind_b = db.begin_concurrent().unwrap();
    blind_a.put("t", b"k", b"a").unwrap();
    blind_b.put("t", b"k", b"b").unwrap();
    let a = blind_a.commit().unwrap();
    let b = blind_b.commit().unwrap();
    assert!(a > 0 && b > a);
    assert_eq!(reader.commit().unwrap(), 0, "read-only: nothing to commit");
    assert_eq!(
        get(&db, "t", b"k").as_deref(),
        Some(b"b".as_slice()),
        "last committer wins"
    );
}

#[test]
fn exclusive_transactions_batches_and_bulk_loads_are_seen_by_validation() {
    let (_dir, db) = open(&["t", "u"]);
    // An exclusive transaction writes what a concurrent one read.
    let mut concurrent = db.begin_concurrent().unwrap();
    concurrent.get("t", b"k").unwrap();
    concurrent.put("u", b"k", b"1").unwrap();
    let mut exclusive = db.begin_write(&["t"]).unwrap();
    exclusive.put("t", b"k", b"x").unwrap();
    exclusive.commit().unwrap();
    assert_eq!(
        conflict_keys(&concurrent.commit().unwrap_err()),
        [b"k".to_vec()]
    );

    // A write batch.
    let mut concurrent = db.begin_concurrent().unwrap();
    concurrent.get("t", b"j").unwrap();
    concurrent.put("u", b"j", b"1").unwrap();
    let mut batch = folio::WriteBatch::new();
    batch.put("t", b"j", b"x");
    db.write(batch).unwrap();
    assert_eq!(
        conflict_keys(&concurrent.commit().unwrap_err()),
        [b"j".to_vec()]
    );

    // A bulk load: not tracked key by key, so any reader of the column family conflicts.
    let mut concurrent = db.begin_concurrent().unwrap();
    concurrent.get("t", b"zzz").unwrap();
    concurrent.put("u", b"z", b"1").unwrap();
    let mut load = db.bulk_load("t").unwrap();
    load.put(b"zz", b"loaded").unwrap();
    load.finish().unwrap();
    assert!(conflict_keys(&concurrent.commit().unwrap_err()).is_empty());

    // A commit that waits for an exclusive writer, then commits after it.
    let mut concurrent = db.begin_concurrent().unwrap();
    concurrent.put("t", b"after", b"1").unwrap();
    let mut exclusive = db.begin_write(&["t"]).unwrap();
    std::thread::scope(|scope| {
        let waiting = scope.spawn(move || concurrent.commit());
        exclusive.put("t", b"before", b"1").unwrap();
        let first = exclusive.commit().unwrap();
        let second = waiting.join().unwrap().unwrap();
        assert!(second > first);
    });
    // And within one thread: waiting for its own writer would never end.
    let mut concurrent = db.begin_concurrent().unwrap();
    concurrent.put("t", b"x", b"1").unwrap();
    let held = db.begin_write(&["t"]).unwrap();
    assert_eq!(
        concurrent.commit().unwrap_err().kind(),
        ErrorKind::WouldDeadlock
    );
    drop(held);
}

#[test]
fn old_transactions_past_the_history_bound_conflict_without_keys() {
    let options = DatabaseOptions {
        concurrent_history_bytes: 256,
        ..folio_tests::small_options()
    };
    let (_dir, db) = open_with(options, &["t"]);
    let mut old = db.begin_concurrent().unwrap();
    old.get("t", b"mine").unwrap();
    old.put("t", b"mine", b"1").unwrap();
    for i in 0..100u32 {
        let mut txn = db.begin_concurrent().unwrap();
        txn.put("t", &i.to_be_bytes(), b"v").unwrap();
        txn.commit().unwrap();
    }
    let error = old.commit().unwrap_err();
    assert!(conflict_keys(&error).is_empty(), "{error}");
    assert!(get(&db, "t", b"mine").is_none());
}

#[test]
fn column_family_changes_meet_running_transactions() {
    let (_dir, db) = open(&["t", "gone"]);
    let mut txn = db.begin_concurrent().unwrap();
    txn.put("gone", b"k", b"v").unwrap();
    db.drop_cf("gone").unwrap();
    assert_eq!(txn.commit().unwrap_err().kind(), ErrorKind::NotFound);

    // A rename keeps the column family: writes land in it under its new name.
    let mut txn = db.begin_concurrent().unwrap();
    txn.put("t", b"k", b"v").unwrap();
    db.rename_cf("t", "renamed").unwrap();
    txn.commit().unwrap();
    assert_eq!(get(&db, "renamed", b"k").as_deref(), Some(b"v".as_slice()));
    assert_eq!(
        db.begin_concurrent()
            .unwrap()
            .get("t", b"k")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    // Compaction and checkpoints change no content: no conflict.
    let mut txn = db.begin_concurrent().unwrap();
    txn.get("renamed", b"k").unwrap();
    txn.put("renamed", b"k", b"w").unwrap();
    db.compact().unwrap();
    db.checkpoint().unwrap();
    txn.commit().unwrap();
}

#[test]
fn own_writes_savepoints_and_large_commits() {
    let options = DatabaseOptions {
        large_transaction_bytes: 64 << 10,
        ..folio_tests::small_options()
    };
    let (_dir, db) = open_with(options, &["t"]);
    let mut txn = db.begin_concurrent().unwrap();
    txn.put("t", b"a", b"1").unwrap();
    let mark = txn.savepoint();
    txn.put("t", b"b", b"2").unwrap();
    assert!(txn.delete("t", b"a").unwrap());
    assert_eq!(txn.len("t").unwrap(), 1);
    txn.rollback_to(&mark).unwrap();
    assert_eq!(txn.len("t").unwrap(), 1);
    assert_eq!(
        txn.get("t", b"a").unwrap().as_deref(),
        Some(b"1".as_slice())
    );
    assert!(txn.get("t", b"b").unwrap().is_none());
    let other = db.begin_concurrent().unwrap();
    assert_eq!(
        txn.rollback_to(&other.savepoint()).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // Past `large_transaction_bytes`: committed through a checkpoint, all of it.
    let value = vec![7u8; 1000];
    for i in 0..200u32 {
        txn.put("t", &i.to_be_bytes(), &value).unwrap();
    }
    txn.commit().unwrap();
    assert_eq!(db.begin_read().len("t").unwrap(), 201);
}

#[test]
fn typed_tables_work_inside_transact() {
    const ORDERS: folio::TableDefinition<(String, u32), u64> =
        folio::TableDefinition::new("orders");
    let (_dir, db) = open(&["orders"]);
    db.transact(|txn| {
        let mut orders = txn.table(ORDERS)?;
        for n in 0..5 {
            orders.insert(&("alice".to_owned(), n), &(u64::from(n) * 10))?;
        }
        orders.insert(&("bob".to_owned(), 1), &7)?;
        assert_eq!(orders.len()?, 6);
        Ok(())
    })
    .unwrap();
    let total = db
        .transact(|txn| {
            let mut orders = txn.table(ORDERS)?;
            orders.remove(&("alice".to_owned(), 0))?;
            let alice: Vec<u64> = orders
                .prefix_rev("alice")?
                .map(|e| e.map(|(_, v)| v))
                .collect::<folio::Result<_>>()?;
            assert_eq!(alice, [40, 30, 20, 10]);
            Ok(alice.iter().sum::<u64>())
        })
        .unwrap();
    assert_eq!(total, 100);
    assert_eq!(db.begin_read().table(ORDERS).unwrap().len(), 5);
}

// ---------------------------------------------------------------------------------------
// The serializability checker.

const CHECK_CFS: [&str; 2] = ["x", "y"];
const CHECK_KEYS: u8 = 6;

/// One operation of a random transaction (keys are `[b'k', n]`).
#[derive(Debug, Clone)]
enum Op {
    Get(usize, u8),
    /// A scan of `[lo, hi)`, forward or reverse.
    Scan(usize, u8, u8, bool),
    Len(usize),
    Put(usize, u8),
    Delete(usize, u8),
}

/// What an operation saw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Value(Option<Vec<u8>>),
    Entries(Vec<(Vec<u8>, Vec<u8>)>),
    Count(u64),
    Existed(bool),
    Wrote,
}

type Model = [BTreeMap<Vec<u8>, Vec<u8>>; 2];

fn key(n: u8) -> Vec<u8> {
    vec![b'k', n]
}

/// Runs `op` against the transaction; `value` is the unique value a put writes.
fn run_op(txn: &mut ConcurrentTransaction, op: &Op, value: &[u8]) -> folio::Result<Seen> {
    Ok(match *op {
        Op::Get(cf, k) => Seen::Value(txn.get(CHECK_CFS[cf], &key(k))?.map(|v| v.to_vec())),
        Op::Scan(cf, lo, hi, reverse) => {
            let bounds = (Bound::Included(key(lo)), Bound::Excluded(key(hi)));
            let range = if reverse {
                txn.range_rev(CHECK_CFS[cf], bounds)?
            } else {
                txn.range(CHECK_CFS[cf], bounds)?
            };
            let mut entries = range
                .map(|e| e.map(|(k, v)| (k, v.to_vec())))
                .collect::<folio::Result<Vec<_>>>()?;
            if reverse {
                entries.reverse();
            }
            Seen::Entries(entries)
        }
        Op::Len(cf) => Seen::Count(txn.len(CHECK_CFS[cf])?),
        Op::Put(cf, k) => {
            txn.put(CHECK_CFS[cf], &key(k), value)?;
            Seen::Wrote
        }
        Op::Delete(cf, k) => Seen::Existed(txn.delete(CHECK_CFS[cf], &key(k))?),
    })
}

/// What `op` sees in `model` (and its effect on it).
fn model_op(model: &mut Model, op: &Op, value: &[u8]) -> Seen {
    match *op {
        Op::Get(cf, k) => Seen::Value(model[cf].get(&key(k)).cloned()),
        Op::Scan(cf, lo, hi, _) => Seen::Entries(if lo >= hi {
            Vec::new()
        } else {
            model[cf]
                .range(key(lo)..key(hi))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        Op::Len(cf) => Seen::Count(model[cf].len() as u64),
        Op::Put(cf, k) => {
            model[cf].insert(key(k), value.to_vec());
            Seen::Wrote
        }
        Op::Delete(cf, k) => Seen::Existed(model[cf].remove(&key(k)).is_some()),
    }
}

/// A transaction as it ran: its operations with what each saw, and how it ended.
#[derive(Debug, Clone)]
struct Ran {
    id: u64,
    ops: Vec<(Op, Seen)>,
    /// The commit's LSN (0: read-only), or `None` when it conflicted.
    committed: Option<Lsn>,
    /// The version its snapshot showed.
    snapshot: Lsn,
}

fn unique_value(txn: u64, op: usize) -> Vec<u8> {
    format!("t{txn}-{op}").into_bytes()
}

/// Replays the committed transactions in LSN order on a model and checks that every
/// operation of each saw the model's state at its place in that order (read-only ones at
/// their snapshot), and that the database ends equal to the model.
fn check_serializable(db: &Database, ran: &[Ran]) {
    let mut writers: Vec<&Ran> = ran
        .iter()
        .filter(|r| matches!(r.committed, Some(lsn) if lsn > 0))
        .collect();
    writers.sort_by_key(|r| r.committed);
    let mut model: Model = Default::default();
    let mut states: Vec<(Lsn, Model)> = vec![(0, model.clone())];
    for txn in &writers {
        for (index, (op, seen)) in txn.ops.iter().enumerate() {
            let expected = model_op(&mut model, op, &unique_value(txn.id, index));
            assert_eq!(
                seen, &expected,
                "transaction {} (commit {:?}) op {index} {op:?} is not serializable",
                txn.id, txn.committed
            );
        }
        states.push((txn.committed.unwrap(), model.clone()));
    }
    for txn in ran.iter().filter(|r| r.committed == Some(0)) {
        let at = states.partition_point(|(lsn, _)| *lsn <= txn.snapshot) - 1;
        let mut view = states[at].1.clone();
        for (index, (op, seen)) in txn.ops.iter().enumerate() {
            assert_eq!(
                seen,
                &model_op(&mut view, op, &unique_value(txn.id, index)),
                "read-only transaction {} saw something no serial order shows",
                txn.id
            );
        }
    }
    let read = db.begin_read();
    for (cf, expected) in CHECK_CFS.iter().zip(&model) {
        assert_eq!(&folio_tests::read_cf(&read, cf).unwrap(), expected, "{cf}");
    }
}

fn random_op(rng: &mut fastrand::Rng) -> Op {
    let cf = rng.usize(0..CHECK_CFS.len());
    let k = rng.u8(0..CHECK_KEYS);
    match rng.u8(0..10) {
        0..=2 => Op::Get(cf, k),
        3 => Op::Scan(cf, k, rng.u8(k..=CHECK_KEYS), rng.bool()),
        4 => Op::Len(cf),
        5..=8 => Op::Put(cf, k),
        _ => Op::Delete(cf, k),
    }
}

/// Threads run random transactions over a few keys (conflicts are frequent); every
/// committed one must fit the serial order of the commits.
#[test]
fn threads_of_random_transactions_are_serializable() {
    const THREADS: u64 = 4;
    const TXNS: u64 = 150;
    let (_dir, db) = open(&CHECK_CFS);
    // Every round, the threads begin together and commit together: their snapshots overlap,
    // so conflicts are certain to occur (the checker is not vacuous).
    let round = std::sync::Barrier::new(THREADS as usize);
    let ran: Vec<Ran> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (db, round) = (&db, &round);
                scope.spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(thread);
                    let mut ran = Vec::new();
                    for n in 0..TXNS {
                        let id = thread * TXNS + n;
                        round.wait();
                        let mut txn = db.begin_concurrent().unwrap();
                        let snapshot = txn.snapshot_version();
                        let ops: Vec<(Op, Seen)> = (0..rng.usize(1..6))
                            .map(|index| {
                                let op = random_op(&mut rng);
                                let seen = run_op(&mut txn, &op, &unique_value(id, index)).unwrap();
                                (op, seen)
                            })
                            .collect();
                        round.wait();
                        let committed = match txn.commit_with(Durability::Eventual) {
                            Ok(lsn) => Some(lsn),
                            Err(error) if error.kind() == ErrorKind::Conflict => None,
                            Err(error) => panic!("{error}"),
                        };
                        ran.push(Ran {
                            id,
                            ops,
                            committed,
                            snapshot,
                        });
                    }
                    ran
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let conflicts = ran.iter().filter(|r| r.committed.is_none()).count();
    assert!(conflicts > 0, "the key space is small enough for conflicts");
    check_serializable(&db, &ran);
}

/// A random program: transactions of random operations, and a schedule interleaving their
/// steps (a transaction commits at its step after its last operation).
fn programs() -> impl Strategy<Value = (Vec<Vec<Op>>, Vec<usize>)> {
    let op = prop_oneof![
        (0..2usize, 0..CHECK_KEYS).prop_map(|(cf, k)| Op::Get(cf, k)),
        (0..2usize, 0..CHECK_KEYS, 0..=CHECK_KEYS, any::<bool>())
            .prop_map(|(cf, lo, hi, rev)| Op::Scan(cf, lo, hi, rev)),
        (0..2usize).prop_map(Op::Len),
        (0..2usize, 0..CHECK_KEYS).prop_map(|(cf, k)| Op::Put(cf, k)),
        (0..2usize, 0..CHECK_KEYS).prop_map(|(cf, k)| Op::Delete(cf, k)),
    ];
    let txns = prop::collection::vec(prop::collection::vec(op, 1..5), 2..6);
    (txns, prop::collection::vec(0..6usize, 10..60))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Random interleavings of a few transactions in one thread: the checker's model replay
    /// must explain every committed one.
    #[test]
    fn random_interleavings_are_serializable((txns, schedule) in programs()) {
        let (_dir, db) = open(&CHECK_CFS);
        let mut running: Vec<Option<(ConcurrentTransaction, Ran)>> =
            (0..txns.len()).map(|_| None).collect();
        let mut next_op = vec![0usize; txns.len()];
        let mut ran = Vec::new();
        let steps = schedule.iter().map(|s| s % txns.len()).chain((0..txns.len()).flat_map(|t| std::iter::repeat_n(t, 6)));
        for t in steps {
            if next_op[t] > txns[t].len() {
                continue; // finished
            }
            let (txn, record) = running[t].get_or_insert_with(|| {
                let txn = db.begin_concurrent().unwrap();
                let snapshot = txn.snapshot_version();
                (txn, Ran { id: t as u64, ops: Vec::new(), committed: None, snapshot })
            });
            if let Some(op) = txns[t].get(next_op[t]) {
                let seen = run_op(txn, op, &unique_value(t as u64, next_op[t])).unwrap();
                record.ops.push((op.clone(), seen));
            } else {
                let (txn, mut record) = running[t].take().unwrap();
                record.committed = match txn.commit_with(Durability::Eventual) {
                    Ok(lsn) => Some(lsn),
                    Err(error) if error.kind() == ErrorKind::Conflict => None,
                    Err(error) => panic!("{error}"),
                };
                ran.push(record);
            }
            next_op[t] += 1;
        }
        check_serializable(&db, &ran);
    }
}

// ---------------------------------------------------------------------------------------
// Bank transfers.

const ACCOUNTS: u32 = 40;
const OPENING: u64 = 1000;

fn balance(value: &[u8]) -> u64 {
    u64::from_be_bytes(value.try_into().unwrap())
}

fn total(read: &folio::ReadTransaction) -> u64 {
    let tree = read.tree("accounts").unwrap();
    tree.iter().map(|e| balance(&e.unwrap().1)).sum()
}

fn transfer(db: &Database, rng: &mut fastrand::Rng) -> folio::Result<()> {
    let from = rng.u32(0..ACCOUNTS).to_be_bytes();
    let to = rng.u32(0..ACCOUNTS).to_be_bytes();
    let amount = rng.u64(1..50);
    db.transact(|txn| {
        let have = balance(&txn.get("accounts", &from)?.unwrap());
        if from == to || have < amount {
            return Ok(());
        }
        let other = balance(&txn.get("accounts", &to)?.unwrap());
        txn.put("accounts", &from, &(have - amount).to_be_bytes())?;
        txn.put("accounts", &to, &(other + amount).to_be_bytes())
    })
}

fn open_bank(directory: &SimDirectory, at_rest: AtRest) -> Database {
    let db = Database::open_in(Arc::new(directory.clone()), at_rest.small_options()).unwrap();
    db.create_cf("accounts").unwrap();
    let mut txn = db.begin_concurrent().unwrap();
    for account in 0..ACCOUNTS {
        txn.put("accounts", &account.to_be_bytes(), &OPENING.to_be_bytes())
            .unwrap();
    }
    txn.commit().unwrap();
    db
}

/// Threads move money between accounts of one table while a reader checks that every
/// snapshot holds the same total; then the power is cut and the recovered total is checked.
fn bank_transfers(at_rest: AtRest) {
    let directory = SimDirectory::new(7);
    let db = open_bank(&directory, at_rest);
    let expected = u64::from(ACCOUNTS) * OPENING;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut snapshots = 0u64;
            while !done.load(std::sync::atomic::Ordering::Acquire) || snapshots == 0 {
                assert_eq!(total(&db.begin_read()), expected, "a snapshot lost money");
                snapshots += 1;
            }
            snapshots
        });
        let writers: Vec<_> = (0..3u64)
            .map(|seed| {
                let db = &db;
                scope.spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(seed);
                    for _ in 0..150 {
                        transfer(db, &mut rng).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    });
    std::mem::forget(db); // a power cut, not a close
    let policy = *CrashPolicy::ALL.last().unwrap();
    let db = Database::open_in(Arc::new(directory.crash(policy)), at_rest.small_options()).unwrap();
    assert_eq!(total(&db.begin_read()), expected, "after the power cut");
}

folio_io::plain_and_encrypted!(
    bank_transfers_keep_the_total_in_every_snapshot_and_after_a_power_cut,
    bank_transfers_keep_the_total_in_every_snapshot_and_after_a_power_cut_encrypted,
    bank_transfers
);

// ---------------------------------------------------------------------------------------
// Power cuts.

const ROUNDS: u64 = 6;

/// One round: `a` reads and increments the counter; `b` read the counter before `a`
/// committed and writes its own key (always a conflict); `c` writes a key of its own blind.
/// Returns the rounds whose `a` and `c` commits were acknowledged (durable).
fn rounds(db: &Database) -> Vec<u64> {
    let mut acknowledged = Vec::new();
    for round in 0..ROUNDS {
        let outcome = (|| -> folio::Result<()> {
            let mut a = db.begin_concurrent()?;
            let mut b = db.begin_concurrent()?;
            let mut c = db.begin_concurrent()?;
            let n = a.get("t", b"counter")?.map_or(0, |v| balance(&v));
            a.put("t", b"counter", &(n + 1).to_be_bytes())?;
            b.get("t", b"counter")?;
            b.put("t", format!("b{round}").as_bytes(), b"conflicted")?;
            // Two column families: a commit group is atomic across them (invariant 3).
            c.put("t", format!("c{round}").as_bytes(), &vec![round as u8; 300])?;
            c.put("u", format!("c{round}").as_bytes(), &vec![round as u8; 300])?;
            a.commit_with(Durability::Immediate)?;
            match b.commit_with(Durability::Immediate) {
                Ok(lsn) => panic!("b read a stale counter and committed at {lsn}"),
                Err(refused) if refused.kind() == ErrorKind::Conflict => {}
                Err(failed) => return Err(failed), // the power is out
            }
            c.commit_with(Durability::Immediate)?;
            Ok(())
        })();
        if outcome.is_err() {
            break;
        }
        acknowledged.push(round);
    }
    acknowledged
}

fn power_cut_at(cut: u64, policy: CrashPolicy, seed: u64, at_rest: AtRest) -> bool {
    let directory = SimDirectory::new(seed);
    let db = Database::open_in(Arc::new(directory.clone()), at_rest.small_options()).unwrap();
    db.create_cf("t").unwrap();
    db.create_cf("u").unwrap();
    directory.cut_power_at(directory.operations() + cut);
    let acknowledged = rounds(&db);
    let was_cut = directory.power_was_cut();
    std::mem::forget(db);
    let context = format!("cut at {cut}, {policy:?}, seed {seed}");
    let db = Database::open_in(Arc::new(directory.crash(policy)), at_rest.small_options())
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    let state = folio_tests::read_cf(&db.begin_read(), "t").unwrap();
    let other = folio_tests::read_cf(&db.begin_read(), "u").unwrap();
    let counter = state.get(b"counter".as_slice()).map_or(0, |v| balance(v));
    // A prefix of the commits in log order: a0 c0 a1 c1 ...
    for round in 0..ROUNDS {
        let c_present = state.contains_key(format!("c{round}").as_bytes());
        assert_eq!(
            c_present,
            other.contains_key(format!("c{round}").as_bytes()),
            "{context}: c{round} is in one column family only"
        );
        assert!(
            !state.contains_key(format!("b{round}").as_bytes()),
            "{context}: a conflicted transaction is visible"
        );
        if acknowledged.contains(&round) {
            assert!(
                c_present && counter > round,
                "{context}: round {round} was acknowledged and lost"
            );
        }
        if c_present {
            assert!(
                counter > round,
                "{context}: c{round} without the a before it"
            );
        }
        if counter > round + 1 {
            assert!(
                c_present,
                "{context}: a{} without c{round} before it",
                round + 1
            );
        }
    }
    if !was_cut {
        assert_eq!(acknowledged.len() as u64, ROUNDS, "{context}");
    }
    was_cut
}

fn power_cut_sweep(at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(1), |cut, policy, seed| {
        power_cut_at(cut, policy, seed, at_rest)
    });
    assert!(report.shortest_scenario > 10, "{report:?}");
}

folio_io::plain_and_encrypted!(
    a_power_cut_anywhere_recovers_a_prefix_of_validated_commits,
    a_power_cut_anywhere_recovers_a_prefix_of_validated_commits_encrypted,
    power_cut_sweep
);

// ---------------------------------------------------------------------------------------
// Ranges that merge the snapshot with the transaction's own writes.

/// What a transaction buffered for a key: increments and merges of one key cannot be mixed
/// (a put or delete in between resolves them).
#[derive(Clone, Copy, PartialEq)]
enum Pending {
    Resolved,
    Added,
    Merged,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    /// Committed entries (counters), then buffered puts, deletes, increments and merges
    /// (the column family's operator keeps the larger counter); a range walked from both
    /// ends in a random order yields what the model's range does, each entry once.
    #[test]
    fn merged_ranges_match_the_model_from_both_ends(
        committed in prop::collection::btree_map(0u8..20, any::<i8>(), 0..15),
        writes in prop::collection::vec((0u8..20, 0u8..4, any::<i8>()), 0..15),
        lo in 0u8..21,
        hi in 0u8..21,
        ends in prop::collection::vec(any::<bool>(), 40),
    ) {
        let mut options = folio_tests::small_options();
        let as_counter = |bytes: &[u8]| i64::from_le_bytes(bytes.try_into().unwrap());
        options.merge_operators.insert(
            "t".to_owned(),
            folio::MergeOperator::new(move |_, now, operand| {
                let larger = now.map_or(as_counter(operand), |now| as_counter(now).max(as_counter(operand)));
                Ok(larger.to_le_bytes().to_vec())
            }),
        );
        let (_dir, db) = open_with(options, &["t"]);
        let counter = |n: i64| n.to_le_bytes().to_vec();
        let mut pending: BTreeMap<u8, Pending> = BTreeMap::new();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut setup = db.begin_concurrent().unwrap();
        for (k, v) in &committed {
            setup.put("t", &[*k], &counter(i64::from(*v))).unwrap();
            model.insert(vec![*k], counter(i64::from(*v)));
        }
        setup.commit().unwrap();
        let mut txn = db.begin_concurrent().unwrap();
        for (k, kind, v) in &writes {
            let v = i64::from(*v);
            match kind {
                0 => {
                    txn.put("t", &[*k], &counter(v)).unwrap();
                    model.insert(vec![*k], counter(v));
                    pending.insert(*k, Pending::Resolved);
                }
                1 => {
                    txn.delete("t", &[*k]).unwrap();
                    model.remove(&vec![*k]);
                    pending.insert(*k, Pending::Resolved);
                }
                2 if pending.get(k) == Some(&Pending::Merged) => {
                    prop_assert!(txn.increment("t", &[*k], v).is_err());
                }
                2 => {
                    txn.increment("t", &[*k], v).unwrap();
                    let old = model.get(&vec![*k]).map_or(0, |b| as_counter(b));
                    model.insert(vec![*k], counter(old + v));
                    pending.entry(*k).or_insert(Pending::Added);
                }
                _ if pending.get(k) == Some(&Pending::Added) => {
                    prop_assert!(txn.merge("t", &[*k], &counter(v)).is_err());
                }
                _ => {
                    txn.merge("t", &[*k], &counter(v)).unwrap();
                    let merged = model.get(&vec![*k]).map_or(v, |b| as_counter(b).max(v));
                    model.insert(vec![*k], counter(merged));
                    pending.entry(*k).or_insert(Pending::Merged);
                }
            }
        }
        prop_assert_eq!(txn.len("t").unwrap(), model.len() as u64);
        let bounds = (Bound::Included(vec![lo]), Bound::Excluded(vec![hi]));
        let expected: Vec<(Vec<u8>, Vec<u8>)> = if lo < hi {
            model.range(bounds.clone()).map(|(k, v)| (k.clone(), v.clone())).collect()
        } else {
            Vec::new()
        };
        for reverse in [false, true] {
            let mut range = if reverse {
                txn.range_rev("t", bounds.clone()).unwrap()
            } else {
                txn.range("t", bounds.clone()).unwrap()
            };
            let mut want = expected.clone();
            if reverse {
                want.reverse();
            }
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for &from_front in &ends {
                let entry = if from_front { range.next() } else { range.next_back() };
                match entry {
                    Some(entry) => {
                        let (k, v) = entry.unwrap();
                        if from_front { front.push((k, v.to_vec())) } else { back.push((k, v.to_vec())) }
                    }
                    None => break,
                }
            }
            front.extend(range.map(|e| { let (k, v) = e.unwrap(); (k, v.to_vec()) }));
            back.reverse();
            front.extend(back);
            prop_assert_eq!(&front, &want);
        }
        txn.commit().unwrap();
        prop_assert_eq!(folio_tests::read_cf(&db.begin_read(), "t").unwrap(), model);
    }
}

// ---------------------------------------------------------------------------------------
// Group apply.

/// Waits (yielding, no sleep) until `count` concurrent commits were submitted.
fn await_submitted(db: &Database, count: u64) {
    while db.stats().concurrent.queue.batches < count {
        std::thread::yield_now();
    }
}

/// Commits queued behind a busy leader form one group of those that commute; one that read
/// what a group member wrote waits for the next group and conflicts there.
#[test]
fn queued_commits_form_groups_of_commuting_transactions() {
    let (_dir, db) = open(&["t"]);
    let exclusive = db.begin_write(&["t"]).unwrap();
    let commit = |txn: ConcurrentTransaction| txn.commit_with(Durability::Eventual);
    std::thread::scope(|scope| {
        let mut leader = db.begin_concurrent().unwrap();
        leader.put("t", b"first", b"1").unwrap();
        let leader = scope.spawn(move || commit(leader)); // waits for the exclusive writer
        await_submitted(&db, 1);
        let mut reader = db.begin_concurrent().unwrap();
        assert!(reader.get("t", b"x").unwrap().is_none());
        reader.put("t", b"y", b"read x as absent").unwrap();
        let mut blind_x = db.begin_concurrent().unwrap();
        blind_x.put("t", b"x", b"1").unwrap();
        let mut blind_z = db.begin_concurrent().unwrap();
        blind_z.put("t", b"z", b"1").unwrap();
        let blind_x = scope.spawn(move || commit(blind_x));
        await_submitted(&db, 2);
        let reader = scope.spawn(move || commit(reader));
        await_submitted(&db, 3);
        let blind_z = scope.spawn(move || commit(blind_z));
        await_submitted(&db, 4);
        drop(exclusive);
        let first = leader.join().unwrap().unwrap();
        let (x, z) = (
            blind_x.join().unwrap().unwrap(),
            blind_z.join().unwrap().unwrap(),
        );
        assert!(first > 0 && x > first);
        assert_eq!(x, z, "commuting commits share one group and one LSN");
        let error = reader.join().unwrap().unwrap_err();
        assert_eq!(conflict_keys(&error), [b"x".to_vec()]);
    });
    let stats = db.stats().concurrent;
    assert_eq!(stats.queue.batches, 4);
    assert_eq!(stats.queue.groups, 3, "{stats:?}");
    assert!(get(&db, "t", b"y").is_none());
}

// ---------------------------------------------------------------------------------------
// Async.

/// Tasks increment one counter with `transact_async`: none is lost; and an async commit
/// waits for a writer another thread holds without blocking its (single) runtime thread.
#[test]
fn async_transactions_retry_and_wait_without_blocking() {
    let (_dir, db) = open(&["c"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                async move {
                    for _ in 0..25 {
                        db.transact_async(folio::TransactOptions::default(), |txn| {
                            let n = txn.get("c", b"n")?.map_or(0, |v| balance(&v));
                            txn.put("c", b"n", &(n + 1).to_be_bytes())
                        })
                        .await
                        .unwrap();
                    }
                }
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(balance(&get(&db, "c", b"n").unwrap()), 100);

    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held, holding) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let db_ref = &db;
        let holder = scope.spawn(move || {
            let mut exclusive = db_ref.begin_write(&["c"]).unwrap();
            held.send(()).unwrap();
            released.recv().unwrap();
            exclusive.put("c", b"holder", b"1").unwrap();
            exclusive.commit().unwrap()
        });
        holding.recv().unwrap();
        let lsn = runtime.block_on(async {
            let mut txn = db.begin_concurrent().unwrap();
            txn.put("c", b"async", b"1").unwrap();
            let commit = txn.commit_async();
            // The release is sent from the same runtime thread: a blocking commit would
            // never let it run.
            let release_task = async move {
                release.send(()).unwrap();
            };
            let (lsn, ()) = tokio::join!(commit, release_task);
            lsn.unwrap()
        });
        assert!(lsn > holder.join().unwrap());
    });
}

// ---------------------------------------------------------------------------------------
// Counters.

fn counter_value(db: &Database, cf: &str, key: &[u8]) -> Option<i64> {
    get(db, cf, key).map(|v| i64::from_le_bytes(v.try_into().unwrap()))
}

/// Increments are applied at the commit and are not reads: threads incrementing one
/// counter through `transact` never conflict and lose nothing.
#[test]
fn increments_never_conflict_and_lose_nothing() {
    let (_dir, db) = open(&["c"]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..100 {
                    db.transact_with(
                        folio::TransactOptions::with_durability(Durability::Eventual),
                        |txn| txn.increment("c", b"hits", 2),
                    )
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(counter_value(&db, "c", b"hits"), Some(800));
    assert_eq!(db.stats().concurrent.conflicts, 0);

    // Reading the counter is a read, as always: a stale read conflicts.
    let mut reader = db.begin_concurrent().unwrap();
    reader.increment("c", b"hits", 1).unwrap();
    let seen = reader.get("c", b"hits").unwrap().unwrap();
    assert_eq!(i64::from_le_bytes(seen.as_ref().try_into().unwrap()), 801);
    let mut other = db.begin_concurrent().unwrap();
    other.increment("c", b"hits", 1).unwrap();
    other.commit().unwrap();
    assert_eq!(
        conflict_keys(&reader.commit().unwrap_err()),
        [b"hits".to_vec()]
    );
}

#[test]
fn increments_combine_with_puts_deletes_ranges_and_typed_tables() {
    const HITS: folio::TableDefinition<String, i64> = folio::TableDefinition::new("c");
    let (_dir, db) = open(&["c"]);
    let mut txn = db.begin_concurrent().unwrap();
    txn.increment("c", b"a", 5).unwrap();
    txn.increment("c", b"a", -2).unwrap();
    txn.put("c", b"b", &10i64.to_le_bytes()).unwrap();
    txn.increment("c", b"b", 1).unwrap();
    txn.delete("c", b"d").unwrap();
    txn.increment("c", b"d", 7).unwrap();
    let seen: Vec<(Vec<u8>, i64)> = txn
        .iter("c")
        .unwrap()
        .map(|e| {
            let (k, v) = e.unwrap();
            (k, i64::from_le_bytes(v.as_ref().try_into().unwrap()))
        })
        .collect();
    assert_eq!(
        seen,
        [(b"a".to_vec(), 3), (b"b".to_vec(), 11), (b"d".to_vec(), 7)]
    );
    assert_eq!(txn.len("c").unwrap(), 3);
    txn.commit().unwrap();
    assert_eq!(counter_value(&db, "c", b"a"), Some(3));
    assert_eq!(counter_value(&db, "c", b"b"), Some(11));

    db.transact(|txn| {
        let mut hits = txn.table(HITS)?;
        hits.increment("a", 10)?;
        assert_eq!(hits.get("a")?, Some(13));
        Ok(())
    })
    .unwrap();
    let mut exclusive = db.begin_write(&["c"]).unwrap();
    assert_eq!(exclusive.increment("c", b"a", 1).unwrap(), 14);
    exclusive.table(HITS).unwrap().increment("new", -4).unwrap();
    exclusive.commit().unwrap();
    let read = db.begin_read();
    let table = read.table(HITS).unwrap();
    assert_eq!(
        (table.get("a").unwrap(), table.get("new").unwrap()),
        (Some(14), Some(-4))
    );
}

/// A value that is not a counter, or an overflow, fails that commit alone and leaves the
/// database unchanged; the other commits of its group go on.
#[test]
fn a_bad_counter_fails_its_own_commit_only() {
    let (_dir, db) = open(&["c"]);
    let mut setup = db.begin_concurrent().unwrap();
    setup.put("c", b"text", b"not a number").unwrap();
    setup.put("c", b"max", &i64::MAX.to_le_bytes()).unwrap();
    setup.commit().unwrap();

    let mut bad = db.begin_concurrent().unwrap();
    bad.put("c", b"side", b"effect").unwrap();
    bad.increment("c", b"text", 1).unwrap(); // not known until the commit reads it
    let error = bad.commit().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert!(matches!(error, folio::Error::NotACounter { .. }), "{error}");
    assert!(
        get(&db, "c", b"side").is_none(),
        "nothing of it was applied"
    );

    let mut overflow = db.begin_concurrent().unwrap();
    overflow.increment("c", b"max", 1).unwrap();
    assert!(matches!(
        overflow.commit().unwrap_err(),
        folio::Error::NotACounter { .. }
    ));
    let mut buffered = db.begin_concurrent().unwrap();
    buffered.put("c", b"short", b"xy").unwrap();
    assert!(matches!(
        buffered.increment("c", b"short", 1).unwrap_err(),
        folio::Error::NotACounter { .. }
    ));

    // In one group: the good commit commits, the bad one fails alone.
    let exclusive = db.begin_write(&["c"]).unwrap();
    std::thread::scope(|scope| {
        let mut leader = db.begin_concurrent().unwrap();
        leader.put("c", b"first", b"1").unwrap();
        let leader = scope.spawn(move || leader.commit());
        await_submitted(&db, 4); // three above, and this one
        let mut bad = db.begin_concurrent().unwrap();
        bad.increment("c", b"text", 1).unwrap();
        let mut good = db.begin_concurrent().unwrap();
        good.increment("c", b"n", 1).unwrap();
        let bad = scope.spawn(move || bad.commit());
        await_submitted(&db, 5);
        let good = scope.spawn(move || good.commit());
        await_submitted(&db, 6);
        drop(exclusive);
        leader.join().unwrap().unwrap();
        assert!(bad.join().unwrap().is_err());
        good.join().unwrap().unwrap();
    });
    assert_eq!(counter_value(&db, "c", b"n"), Some(1));
    assert_eq!(get(&db, "c", b"text").unwrap(), b"not a number");
}
