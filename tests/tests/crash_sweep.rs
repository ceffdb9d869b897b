//! Power cut at every I/O operation (data file and log on one simulated device) of a
//! workload of cross-column-family transactions (puts, deletes and range deletes) with both
//! durabilities and a checkpoint.
//! After each cut and reopen: all column families agree (atomicity, docs/invariants.md invariant 3), the state
//! is the state after some prefix of the commits (invariant 2) that includes every commit
//! acknowledged as durable (invariant 1), and every tree passes the integrity check.
//! Readers run meanwhile: a thread checks that every snapshot shows all column families
//! equal (no torn commit is ever visible), and a snapshot held across the checkpoint and
//! later commits keeps showing its version.
//!
//! `FOLIO_CRASH_SEEDS=N` runs N seeds per crash policy (`cargo xtask crash --full`).

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, SimDirectory};
use folio_tests::{AtRest, AtRestOptions, State, rolling_key, rolling_states};

const CFS: [&str; 3] = ["a", "b", "c"];
const TXNS: u64 = 12;

fn options(at_rest: AtRest) -> DatabaseOptions {
    // The background checkpointer stays on here: it runs during the sweep too.
    DatabaseOptions {
        checkpoint_interval: DatabaseOptions::default().checkpoint_interval,
        ..at_rest.small_options()
    }
}

fn value(i: u64) -> Vec<u8> {
    vec![i as u8; 100 + (i as usize * 37) % 900]
}

/// The states after each commit: `states[0]` is empty, `states[i + 1]` follows txn `i`.
fn expected_states() -> Vec<State> {
    rolling_states(TXNS, value)
}

/// Contents of every column family in one snapshot (None once the database fails).
fn snapshot_contents(read: &folio::ReadTransaction) -> Option<Vec<State>> {
    CFS.iter()
        .map(|cf| {
            let tree = read.tree(cf).ok()?;
            tree.iter()
                .map(|e| e.map(|(k, v)| (k, v.to_vec())))
                .collect::<Result<State, _>>()
                .ok()
        })
        .collect()
}

/// Runs the workload with a concurrent reader thread; returns what [`workload`] does.
fn workload_with_readers(db: &Database, states: &[State]) -> (usize, u64) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The reader stops when the workload ends, also when it panics.
        scopeguard::defer! { done.store(true, std::sync::atomic::Ordering::Release) }
        scope.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let read = db.begin_read();
                if read.cf_names().len() == CFS.len()
                    && let Some(contents) = snapshot_contents(&read)
                {
                    assert!(
                        contents.iter().all(|c| c == &contents[0]),
                        "a snapshot saw column families disagree at version {}",
                        read.version()
                    );
                }
                std::thread::yield_now();
            }
        });
        workload(db, states)
    })
}

/// Runs the workload; returns how many column families were acknowledged created and the
/// number of transactions acknowledged durable (a prefix).
fn workload(db: &Database, states: &[State]) -> (usize, u64) {
    let mut held = None;
    let mut created = 0;
    for cf in CFS {
        if db.create_cf(cf).is_err() {
            return (created, 0);
        }
        created += 1;
    }
    let mut durable = 0;
    for i in 0..TXNS {
        let Ok(mut txn) = db.begin_write(&CFS) else {
            return (created, durable);
        };
        for cf in CFS {
            if txn.put(cf, &rolling_key(i), &value(i)).is_err() {
                return (created, durable);
            }
            // Every other transaction removes the old key as a range: everything up to it,
            // which is that key alone (the keys before it are gone already).
            let removed = match i {
                0..3 => Ok(()),
                _ if i % 2 == 1 => txn.delete_range(cf, ..=rolling_key(i - 3)).map(drop),
                _ => txn.delete(cf, &rolling_key(i - 3)).map(drop),
            };
            if removed.is_err() {
                return (created, durable);
            }
        }
        let durability = if i % 3 == 2 {
            Durability::Eventual
        } else {
            Durability::Immediate
        };
        match txn.commit_with(durability) {
            // An Immediate commit is durable with everything logged before it.
            Ok(_) if durability == Durability::Immediate => durable = i + 1,
            Ok(_) => {}
            Err(_) => return (created, durable),
        }
        if i == 4 {
            // Held across the checkpoint and five more commits: pages it reaches must not
            // be reused under it.
            held = Some(db.begin_read());
        }
        if i == 5 && db.checkpoint().is_err() {
            return (created, durable);
        }
    }
    if let Some(read) = held
        && let Some(contents) = snapshot_contents(&read)
    {
        for content in contents {
            assert!(content == states[5], "a held snapshot changed");
        }
    }
    (created, durable)
}

fn read_state(db: &Database, cf: &str) -> State {
    let read = db.begin_read();
    let tree = read.tree(cf).unwrap();
    tree.verify().unwrap();
    tree.iter()
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn crash_at(cut: u64, policy: CrashPolicy, seed: u64, states: &[State], at_rest: AtRest) -> bool {
    let device = SimDirectory::new(seed);
    device.cut_power_at(cut);
    let (created, durable) = match Database::open_in(Arc::new(device.clone()), options(at_rest)) {
        Ok(db) => workload_with_readers(&db, states),
        Err(_) => (0, 0),
    };
    let was_cut = device.power_was_cut();
    let context = format!("cut at {cut}, {policy:?}, seed {seed}");
    let rebooted = device.crash(policy);
    let db = Database::open_in(Arc::new(rebooted.clone()), options(at_rest))
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    let names = db.cf_names();
    assert!(
        names.len() >= created,
        "{context}: acknowledged column families lost: {names:?}"
    );
    if names.len() < CFS.len() {
        // Column families are created before any transaction: none can have data yet.
        for cf in &names {
            assert!(read_state(&db, cf).is_empty(), "{context}");
        }
        return was_cut;
    }
    let contents: Vec<State> = CFS.iter().map(|cf| read_state(&db, cf)).collect();
    assert!(
        contents.iter().all(|c| c == &contents[0]),
        "{context}: column families disagree"
    );
    let prefix = states
        .iter()
        .position(|s| s == &contents[0])
        .unwrap_or_else(|| panic!("{context}: recovered state is not a prefix of the commits"));
    assert!(
        prefix as u64 >= durable,
        "{context}: {durable} transactions acknowledged durable, only {prefix} recovered"
    );
    // The recovered database keeps working and survives another crash.
    let mut txn = db.begin_write(&CFS).unwrap();
    for cf in CFS {
        txn.put(cf, b"after", b"recovery").unwrap();
    }
    txn.commit().unwrap();
    drop(db);
    let db = Database::open_in(
        Arc::new(rebooted.crash(CrashPolicy::DropUnsynced)),
        options(at_rest),
    )
    .unwrap();
    for cf in CFS {
        assert_eq!(
            &*db.begin_read().get(cf, b"after").unwrap().unwrap(),
            b"recovery",
            "{context}"
        );
    }
    was_cut
}

#[test]
fn power_cut_at_every_operation_keeps_every_invariant() {
    sweep(AtRest::Plain);
}

#[test]
fn power_cut_at_every_operation_keeps_every_invariant_encrypted() {
    sweep(AtRest::Encrypted);
}

fn sweep(at_rest: AtRest) {
    let states = expected_states();
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(10), |cut, policy, seed| {
        crash_at(cut, policy, seed, &states, at_rest)
    });
    assert!(
        report.shortest_scenario > 40,
        "the scenario should span many operations: {report:?}"
    );
    assert!(report.points >= 2000, "only {} crash points", report.points);
    println!("crash points covered: {}", report.points);
}
