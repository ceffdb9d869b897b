//! The I/O-error loop (the method of `SQLite`): fail the Nth storage operation of the device (data
//! file and log together) once, or from the Nth on, with EIO, ENOSPC or a failed sync, for
//! N = 0, 1, 2, ... until the workload completes without meeting the fault. Each time: an
//! error is returned (nothing panics or hangs), the live state is exactly before or after the
//! failing step, a failed sync poisons the database until reopened, and after a reopen every
//! acknowledged commit is there, the state is a prefix of the commits, and the integrity
//! check (allocator included: no page leaked or used twice) is clean. The crash before that
//! reopen keeps unsynced writes as each crash policy does in turn (one per fault index). The workload commits,
//! checkpoints, writes a batch, bulk-loads, checks integrity and compacts.

use std::sync::Arc;

use folio::{Database, Durability, WriteBatch};
use folio_io::{CrashPolicy, FaultKind, FaultOps, FaultRule, SimDirectory};
use folio_tests::{AtRest, AtRestOptions, State, read_cf, rolling_key, rolling_states};

const CFS: [&str; 2] = ["a", "b"];
const TXNS: u64 = 8;
const BULK: u64 = 30;

fn value(i: u64) -> Vec<u8> {
    vec![i as u8; 200 + (i as usize * 53) % 700]
}

/// `states[i]`: the column families' contents after `i` transactions.
fn expected_states() -> Vec<State> {
    rolling_states(TXNS, value)
}

/// What the workload got acknowledged before its first error.
#[derive(Debug, Default)]
struct Acked {
    cfs: bool,
    /// Transactions committed (any durability).
    committed: u64,
    /// Transactions acknowledged durable (a prefix).
    durable: u64,
    bulk: bool,
    /// The version a finished backup holds.
    backup: Option<u64>,
    finished: bool,
}

fn workload(db: &Database, backup: &SimDirectory, acked: &mut Acked) -> folio::Result<()> {
    for cf in CFS {
        db.create_cf(cf)?;
    }
    db.create_cf("bulk")?;
    acked.cfs = true;
    for i in 0..TXNS {
        let durability = if i % 3 == 1 {
            Durability::Eventual
        } else {
            Durability::Immediate
        };
        if i == 5 {
            // One transaction as a write batch through the commit queue.
            let mut batch = WriteBatch::new();
            for cf in CFS {
                batch
                    .put(cf, &rolling_key(i), &value(i))
                    .delete(cf, &rolling_key(i - 3));
            }
            db.write_with(batch, durability)?;
        } else {
            let mut txn = db.begin_write(&CFS)?;
            for cf in CFS {
                txn.put(cf, &rolling_key(i), &value(i))?;
                if i >= 3 {
                    txn.delete(cf, &rolling_key(i - 3))?;
                }
            }
            txn.commit_with(durability)?;
        }
        acked.committed = i + 1;
        if durability == Durability::Immediate {
            acked.durable = i + 1;
        }
        if i == 2 {
            db.checkpoint()?;
        }
        if i == 4 {
            let mut load = db.bulk_load("bulk")?;
            for n in 0..BULK {
                load.put(&rolling_key(n), &value(n))?;
            }
            load.finish()?;
            acked.bulk = true;
        }
    }
    db.check_integrity()?;
    db.compact()?;
    acked.backup = Some(db.backup_into(Arc::new(backup.clone()), |_| {})?.version);
    db.checkpoint()?;
    acked.finished = true;
    Ok(())
}

fn cf_states(db: &Database) -> Vec<State> {
    let read = db.begin_read();
    CFS.iter().map(|cf| read_cf(&read, cf).unwrap()).collect()
}

/// Runs the workload with `rule` installed; returns whether the fault fired.
fn run_with_fault(rule: FaultRule, seed: u64, states: &[State], at_rest: AtRest) -> bool {
    let device = SimDirectory::new(seed);
    device.install_fault(rule);
    // The backup goes to a second device failing the same way.
    let backup = SimDirectory::new(seed + 1);
    backup.install_fault(rule);
    // Each fault index crashes under another policy, so the loop covers all of them.
    let policy = CrashPolicy::ALL[(seed % CrashPolicy::ALL.len() as u64) as usize];
    let context = format!("{rule:?}, then a crash {policy:?}");
    let mut acked = Acked::default();
    let outcome = Database::open_in(Arc::new(device.clone()), at_rest.small_options())
        .map(|db| (workload(&db, &backup, &mut acked), db));
    let fired = device.fault_fired() || backup.fault_fired();
    if let Ok((result, db)) = &outcome {
        if !fired {
            assert!(
                result.is_ok() && acked.finished,
                "{context}: failed without a fault"
            );
        }
        // The live state is exactly before or after the failing transaction.
        if acked.cfs && db.cf_names().len() == 3 {
            let live = cf_states(db);
            let ok = (acked.committed..=(acked.committed + 1).min(TXNS))
                .any(|n| live.iter().all(|s| *s == states[n as usize]));
            assert!(
                ok,
                "{context}: live state is not before or after a transaction"
            );
        }
        if rule.ops == FaultOps::Syncs && fired {
            // A failed sync poisons: nothing more is acknowledged until reopen.
            let attempt = db.begin_write(&CFS).and_then(|mut txn| {
                txn.put("a", b"after-poison", b"x")?;
                txn.commit_with(Durability::Immediate)
            });
            assert!(
                attempt.is_err(),
                "{context}: commit acknowledged after a failed sync"
            );
        }
    }
    drop(outcome);
    let device = device.crash(policy);
    let db = Database::open_in(Arc::new(device), at_rest.small_options())
        .unwrap_or_else(|e| panic!("{context}: reopen after the fault failed: {e}"));
    let names = db.cf_names();
    if acked.cfs {
        assert_eq!(names.len(), 3, "{context}: column families lost");
    }
    if names.len() == 3 {
        let recovered = cf_states(&db);
        assert_eq!(recovered[0], recovered[1], "{context}: torn transaction");
        let prefix = states
            .iter()
            .position(|s| *s == recovered[0])
            .unwrap_or_else(|| panic!("{context}: not a prefix of the commits"));
        assert!(
            prefix as u64 >= acked.durable,
            "{context}: durable commit lost"
        );
        let bulk = db.begin_read().len("bulk").unwrap();
        assert!(bulk == 0 || bulk == BULK, "{context}: half a bulk chunk");
        assert!(
            bulk == BULK || !acked.bulk,
            "{context}: acknowledged bulk chunk lost"
        );
    }
    db.checkpoint().unwrap();
    let report = db.check_integrity().unwrap();
    assert!(report.is_ok(), "{context}: {:?}", report.problems);
    assert!(report.allocator_checked, "{context}");
    if acked.backup.is_some() {
        let copy = Database::open_in(
            Arc::new(backup.crash(CrashPolicy::DropUnsynced)),
            at_rest.small_options(),
        )
        .unwrap_or_else(|e| panic!("{context}: the finished backup does not open: {e}"));
        assert_eq!(
            cf_states(&copy),
            vec![states[TXNS as usize].clone(); 2],
            "{context}"
        );
    }
    fired
}

fn sweep(kind: FaultKind, ops: FaultOps, persistent: bool, at_rest: AtRest) -> u64 {
    let states = expected_states();
    let mut nth = 0;
    while run_with_fault(
        FaultRule {
            kind,
            ops,
            nth,
            persistent,
        },
        nth,
        &states,
        at_rest,
    ) {
        nth += 1;
    }
    assert!(nth > 5, "the workload met only {nth} {ops:?} operations");
    nth
}

/// Each fault sweep runs on a plain and on an encrypted database.
macro_rules! both_ways {
    ($plain:ident, $encrypted:ident, $kind:expr, $ops:expr, $persistent:expr) => {
        #[test]
        fn $plain() {
            println!("points: {}", sweep($kind, $ops, $persistent, AtRest::Plain));
        }

        #[test]
        fn $encrypted() {
            println!(
                "points: {}",
                sweep($kind, $ops, $persistent, AtRest::Encrypted)
            );
        }
    };
}

both_ways!(
    eio_once_at_every_operation,
    eio_once_at_every_operation_encrypted,
    FaultKind::Io,
    FaultOps::Any,
    false
);
both_ways!(
    eio_from_every_operation_on,
    eio_from_every_operation_on_encrypted,
    FaultKind::Io,
    FaultOps::Any,
    true
);
both_ways!(
    enospc_from_every_write_on,
    enospc_from_every_write_on_encrypted,
    FaultKind::NoSpace,
    FaultOps::Mutations,
    true
);
both_ways!(
    failed_sync_at_every_sync,
    failed_sync_at_every_sync_encrypted,
    FaultKind::Io,
    FaultOps::Syncs,
    false
);
