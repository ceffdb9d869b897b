//! Large transactions: past `large_transaction_bytes` a transaction stops logging its data
//! and commits through a checkpoint; past the dirty bound its pages spill to free space in
//! the data file. Its contents stay exact (against a `BTreeMap`), its memory stays bounded,
//! a power cut at any operation keeps it all or nothing and in commit order, and a commit
//! after one whose checkpoint failed never overtakes it.

use folio_tests::{AtRest, AtRestOptions};
use std::collections::BTreeMap;
use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, FaultKind, FaultOps, FaultRule, SimDirectory};

fn options() -> DatabaseOptions {
    let mut options = folio_tests::small_options();
    options.large_transaction_bytes = 8 * 1024;
    options.checkpoint_dirty_bytes = 32 * 1024;
    options.dirty_bytes_max = Some(128 * 1024);
    options
}

/// Unlogged past 8 KiB, but a dirty bound high enough that no commit checkpoints for
/// back-pressure (which would hide a commit overtaking an unlogged one).
fn options_without_pressure() -> DatabaseOptions {
    let mut options = options();
    options.dirty_bytes_max = Some(64 << 20);
    options
}

fn key(i: u64) -> [u8; 8] {
    // Scattered, so every leaf is touched again and again (spilled pages are read back).
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    vec![(i ^ round) as u8; 100 + (i % 50) as usize]
}

#[test]
fn a_transaction_far_larger_than_memory_commits_exactly_and_survives_a_crash() {
    let options = options();
    let bound = options.dirty_bytes_bound();
    let device = SimDirectory::new(5);
    let db = Database::open_in(Arc::new(device.clone()), options.clone()).unwrap();
    db.create_cf("big").unwrap();
    let mut txn = db.begin_write(&["big"]).unwrap();
    txn.put("big", b"before", b"0").unwrap();
    txn.commit().unwrap();
    let log_before = db.stats().wal.commit.bytes;

    let mut model = BTreeMap::new();
    model.insert(b"before".to_vec(), b"0".to_vec());
    let mut txn = db.begin_write(&["big"]).unwrap();
    let mut most_private = 0;
    let mut savepoint = None;
    for i in 0..12_000u64 {
        let value = value(i, 1);
        txn.put("big", &key(i), &value).unwrap();
        model.insert(key(i).to_vec(), value);
        if i % 7 == 0 {
            let gone = key(i / 2);
            assert_eq!(
                txn.delete("big", &gone).unwrap(),
                model.remove(&gone[..]).is_some()
            );
        }
        if i == 6_000 {
            savepoint = Some((txn.savepoint(), model.clone()));
        }
        most_private = most_private.max(db.stats().page_store.private_bytes);
    }
    // Everything after the savepoint (puts over spilled pages included) is undone.
    let (savepoint, saved) = savepoint.unwrap();
    txn.rollback_to(&savepoint).unwrap();
    model = saved;
    for i in 20_000..21_000u64 {
        txn.put("big", &key(i), &value(i, 2)).unwrap();
        model.insert(key(i).to_vec(), value(i, 2));
    }
    assert!(txn.is_unlogged());
    assert_eq!(
        txn.get("big", &key(20_500)).unwrap().as_deref(),
        Some(&value(20_500, 2)[..])
    );
    txn.commit_with(Durability::Eventual).unwrap();

    // About 1.3 MB of pages against a 128 KiB bound: they did not all stay in memory (the
    // store's count lags by up to 64 pages a writer, hence the slack).
    assert!(
        most_private <= bound + 64 * 4096 + 16 * 4096,
        "{most_private} private bytes against a bound of {bound}"
    );
    let logged = db.stats().wal.commit.bytes - log_before;
    assert!(
        logged < 40 * 1024,
        "{logged} bytes of log: the data was logged"
    );
    assert_eq!(
        folio_tests::read_cf(&db.begin_read(), "big").unwrap(),
        model
    );
    // Power cut while the database is open (a clean close would checkpoint and sync).
    let device = device.crash(CrashPolicy::DropUnsynced);
    drop(db);

    // Durable on return although `Eventual` was asked: the commit is a checkpoint.
    let db = Database::open_in(Arc::new(device), options).unwrap();
    let read = db.begin_read();
    assert_eq!(folio_tests::read_cf(&read, "big").unwrap(), model);
    read.tree("big").unwrap().verify().unwrap();
}

const LARGE: u64 = 1_500;

/// Acknowledged steps of the crash scenario.
#[derive(Default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per step of the scenario"
)]
struct Acked {
    first: bool,
    large: bool,
    /// The large commit was published (visible), acknowledged or not.
    large_visible: bool,
    last: bool,
}

/// A logged commit to `a`, a large (unlogged, spilling) transaction on `b`, then a logged
/// commit to `a` again.
fn scenario(db: &Database, durability: Durability, acked: &mut Acked) -> folio::Result<()> {
    db.create_cf("a")?;
    db.create_cf("b")?;
    let mut txn = db.begin_write(&["a"])?;
    txn.put("a", b"first", b"1")?;
    txn.commit_with(Durability::Immediate)?;
    acked.first = true;
    let large = large_commit(db, durability);
    acked.large_visible = db.begin_read().len("b")? == LARGE;
    large?;
    acked.large = true;
    last_commit(db)?;
    acked.last = true;
    Ok(())
}

/// An unlogged commit: durable when it returns whatever `durability` asks (its checkpoint).
fn large_commit(db: &Database, durability: Durability) -> folio::Result<()> {
    let mut txn = db.begin_write(&["b"])?;
    for i in 0..LARGE {
        txn.put("b", &key(i), &value(i, 0))?;
    }
    assert!(txn.is_unlogged());
    txn.commit_with(durability)?;
    Ok(())
}

fn last_commit(db: &Database) -> folio::Result<()> {
    let mut txn = db.begin_write(&["a"])?;
    txn.put("a", b"last", b"1")?;
    txn.commit_with(Durability::Immediate)?;
    Ok(())
}

/// Checks the recovered state against what was acknowledged: each step all or nothing, in
/// commit order.
fn check_recovered(db: &Database, acked: &Acked, context: &str) {
    let read = db.begin_read();
    if read.cf_names().len() < 2 {
        assert!(!acked.first, "{context}: acknowledged commit lost");
        return;
    }
    let first = read.get("a", b"first").unwrap().is_some();
    let large = read.len("b").unwrap();
    let last = read.get("a", b"last").unwrap().is_some();
    assert!(first || !acked.first, "{context}: first commit lost");
    assert!(
        large == 0 || large == LARGE,
        "{context}: {large} of the large commit"
    );
    assert!(large > 0 || !acked.large, "{context}: large commit lost");
    assert!(last || !acked.last, "{context}: last commit lost");
    assert!(
        large == 0 || first,
        "{context}: large commit without the first"
    );
    if acked.large_visible {
        assert!(
            !last || large == LARGE,
            "{context}: last commit without the large one"
        );
    } else {
        assert_eq!(large, 0, "{context}: a large commit that never happened");
    }
    if large > 0 {
        read.tree("b").unwrap().verify().unwrap();
        assert_eq!(
            read.get("b", &key(LARGE / 2)).unwrap().as_deref(),
            Some(&value(LARGE / 2, 0)[..]),
            "{context}"
        );
    }
}

fn crash_at(
    cut: u64,
    policy: CrashPolicy,
    seed: u64,
    durability: Durability,
    at_rest: AtRest,
) -> bool {
    let device = SimDirectory::new(seed);
    device.cut_power_at(cut);
    let mut acked = Acked::default();
    if let Ok(db) = Database::open_in(Arc::new(device.clone()), at_rest.apply(options())) {
        let _ = scenario(&db, durability, &mut acked);
    }
    let was_cut = device.power_was_cut();
    let context = format!("cut at {cut}, {policy:?}, seed {seed}, {durability:?}");
    let db = Database::open_in(Arc::new(device.crash(policy)), at_rest.apply(options()))
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    check_recovered(&db, &acked, &context);
    // Still writable.
    for cf in ["a", "b"] {
        if !db.begin_read().cf_names().iter().any(|name| name == cf) {
            db.create_cf(cf).unwrap();
        }
    }
    last_commit(&db).unwrap_or_else(|e| panic!("{context}: commit after recovery: {e}"));
    was_cut
}

#[test]
fn power_cut_at_every_operation_of_a_large_transaction() {
    large_transaction_sweep(Durability::Immediate, AtRest::Plain);
}

#[test]
fn power_cut_at_every_operation_of_a_large_transaction_encrypted() {
    large_transaction_sweep(Durability::Immediate, AtRest::Encrypted);
}

// `Eventual` asks for nothing, but an unlogged commit is durable once it returns all the
// same (docs/durability.md): the sweep holds it to that.
#[test]
fn power_cut_at_every_operation_of_an_eventual_large_transaction() {
    large_transaction_sweep(Durability::Eventual, AtRest::Plain);
}

#[test]
fn power_cut_at_every_operation_of_an_eventual_large_transaction_encrypted() {
    large_transaction_sweep(Durability::Eventual, AtRest::Encrypted);
}

fn large_transaction_sweep(durability: Durability, at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(1), |cut, policy, seed| {
        crash_at(cut, policy, seed, durability, at_rest)
    });
    assert!(report.points >= 200, "{report:?}");
    println!(
        "large-transaction crash points covered ({durability:?}): {}",
        report.points
    );
}

// The large commit's checkpoint fails once (each write, allocation or sync in turn); the
// error is returned, then a logged commit to another column family follows and the power
// goes. The later commit must never survive without the large one before it. (Fails when
// logged appends ignore a pending unlogged commit.)
folio_io::plain_and_encrypted!(
    a_commit_after_a_failed_large_commit_never_overtakes_it,
    a_commit_after_a_failed_large_commit_never_overtakes_it_encrypted,
    a_commit_after_a_failed_large_commit_never_overtakes_it_body
);

fn a_commit_after_a_failed_large_commit_never_overtakes_it_body(at_rest: AtRest) {
    let options = || at_rest.apply(options_without_pressure());
    let mut nth = 0;
    loop {
        let device = SimDirectory::new(nth);
        let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
        db.create_cf("a").unwrap();
        db.create_cf("b").unwrap();
        let mut acked = Acked::default();
        let mut txn = db.begin_write(&["a"]).unwrap();
        txn.put("a", b"first", b"1").unwrap();
        txn.commit_with(Durability::Immediate).unwrap();
        acked.first = true;
        device.install_fault(FaultRule {
            kind: FaultKind::Io,
            ops: FaultOps::Mutations,
            nth,
            persistent: false,
        });
        acked.large = large_commit(&db, Durability::Immediate).is_ok();
        acked.large_visible = db.begin_read().len("b").unwrap() == LARGE;
        let fired = device.fault_fired();
        device.clear_faults();
        // A failed sync poisons the database; any other failure leaves it writable, and the
        // next commit first makes the large one durable.
        acked.last = last_commit(&db).is_ok();
        let context = format!("write {nth} failed");
        let db2 = Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options())
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        check_recovered(&db2, &acked, &context);
        drop(db);
        if !fired {
            break;
        }
        nth += 1;
    }
    assert!(nth >= 5, "the large commit made only {nth} writes");
    println!("failure points: {nth}");
}

/// A value far larger than the memory bound is neither copied into the log record nor held
/// in memory whole: its overflow pages spill as they are written.
#[test]
fn a_huge_value_is_spilled_as_it_is_written_and_never_logged() {
    let options = options();
    let device = SimDirectory::new(9);
    let db = Database::open_in(Arc::new(device.clone()), options.clone()).unwrap();
    db.create_cf("blobs").unwrap();
    let log_before = db.stats().wal.commit.bytes;
    let huge: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut txn = db.begin_write(&["blobs"]).unwrap();
    txn.put("blobs", b"huge", &huge).unwrap();
    assert!(txn.is_unlogged());
    let private = db.stats().page_store.private_bytes;
    assert!(
        private < 2 << 20,
        "{private} bytes of the value stayed in memory"
    );
    assert!(txn.get("blobs", b"huge").unwrap().unwrap()[..] == huge[..]);
    txn.commit().unwrap();
    assert!(db.stats().wal.commit.bytes - log_before < 4096);
    drop(db);
    let db = Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options).unwrap();
    assert!(db.begin_read().get("blobs", b"huge").unwrap().unwrap()[..] == huge[..]);
}
