//! Power cuts at every I/O operation of a create + checkpoint scenario, under every crash
//! policy: the reopened store holds exactly the last acknowledged checkpoint or the one in
//! flight, with every page intact and every page accounted for.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{
    AtRest, check_allocation, check_contents, decode_roots, encode_roots, options_at, tagged_page,
};
use folio_io::{CrashPolicy, FaultKind, FaultOps, FaultRule, SimStorage, Storage};

use folio_pagestore::{PageId, PageStore, Result};

const ROUNDS: u64 = 5;

/// What the scenario got acknowledged before it failed.
#[derive(Default)]
struct Progress {
    created: bool,
    /// Live pages after each acknowledged checkpoint, by version (0 = empty store).
    states: BTreeMap<u64, BTreeMap<PageId, u64>>,
    acknowledged: u64,
}

/// Each round allocates a few pages, frees one of the previous round's, commits and
/// checkpoints. Contiguous and scattered pages, frees and reuse all occur.
fn scenario(storage: Arc<dyn Storage>, progress: &mut Progress, at_rest: AtRest) -> Result<()> {
    let store = PageStore::create(storage, options_at(at_rest))?;
    progress.created = true;
    progress.states.insert(0, BTreeMap::new());
    let mut writer = store.writer();
    let mut live: BTreeMap<PageId, u64> = BTreeMap::new();
    for round in 1..=ROUNDS {
        for i in 0..(2 + round % 3) {
            let id = writer.allocate()?;
            let tag = round * 100 + i;
            writer.write(id, tagged_page(&store, id, tag));
            live.insert(id, tag);
        }
        if round % 2 == 0 {
            let victim = *live.keys().next().expect("pages were allocated");
            writer.free(victim);
            live.remove(&victim);
        }
        writer.commit(round);
        // The next checkpoint must be able to reuse what this one frees.
        store.checkpoint(round, &encode_roots(round, &live))?;
        progress.states.insert(round, live.clone());
        progress.acknowledged = round;
    }
    Ok(())
}

/// Runs the scenario with the power cut at operation `fail_from`, crashes with `policy`,
/// reopens and checks. Returns false once the scenario finished before the cut.
fn crash_at(fail_from: u64, policy: CrashPolicy, seed: u64, at_rest: AtRest) -> bool {
    let disk = SimStorage::new(seed);
    disk.cut_power_at(fail_from);
    let mut progress = Progress::default();
    let outcome = scenario(Arc::new(disk.clone()), &mut progress, at_rest);
    let faulted = disk.power_was_cut();
    let rebooted = disk.crash(policy);

    let opened = PageStore::open(Arc::new(rebooted.clone()), options_at(at_rest));
    let store = match opened {
        Ok(store) => store,
        Err(error) => {
            assert!(
                !progress.created,
                "op {fail_from} {policy:?}: create was acknowledged but open failed: {error}"
            );
            return faulted;
        }
    };
    let (version, live) = decode_roots(&store.roots());
    assert_eq!(version, store.durable_version());
    assert!(
        version == progress.acknowledged || version == progress.acknowledged + 1,
        "op {fail_from} {policy:?}: recovered version {version}, acknowledged {}",
        progress.acknowledged
    );
    if let Some(expected) = progress.states.get(&version) {
        assert_eq!(&live, expected, "op {fail_from} {policy:?}: wrong live set");
    }
    check_contents(&store, &live);
    check_allocation(&store, &live);

    // The recovered store keeps working: a new round reuses free space without touching
    // live pages, and survives another reopen.
    let mut writer = store.writer();
    let mut next = live.clone();
    for i in 0..4 {
        let id = writer.allocate().unwrap();
        assert!(!live.contains_key(&id), "allocated live page {id}");
        writer.write(id, tagged_page(&store, id, 9000 + i));
        next.insert(id, 9000 + i);
    }
    writer.commit(version + 1);
    store
        .checkpoint(version + 1, &encode_roots(version + 1, &next))
        .unwrap();
    drop((writer, store));
    let store = common::reopen(Arc::new(rebooted.crash(CrashPolicy::DropUnsynced)), at_rest);
    check_contents(&store, &next);
    check_allocation(&store, &next);
    assert!(outcome.is_err() || !faulted);
    faulted
}

folio_io::plain_and_encrypted!(
    power_cut_at_every_operation_recovers_a_checkpoint,
    power_cut_at_every_operation_recovers_a_checkpoint_encrypted,
    power_cut_at_every_operation_recovers_a_checkpoint_body
);

fn power_cut_at_every_operation_recovers_a_checkpoint_body(at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(8), |cut, policy, seed| {
        crash_at(cut, policy, seed, at_rest)
    });
    assert!(
        report.shortest_scenario > 20,
        "the scenario should span many operations: {report:?}"
    );
    assert!(report.points >= 600, "only {} crash points", report.points);
    println!("crash points covered: {}", report.points);
}

// The same sweep with an `EIO` at every operation instead of a power cut (a failed sync
// loses its writes), followed by a crash: the same guarantees hold.
folio_io::plain_and_encrypted!(
    io_error_at_every_operation_then_crash_recovers_a_checkpoint,
    io_error_at_every_operation_then_crash_recovers_a_checkpoint_encrypted,
    io_error_at_every_operation_then_crash_recovers_a_checkpoint_body
);

fn io_error_at_every_operation_then_crash_recovers_a_checkpoint_body(at_rest: AtRest) {
    for policy in [CrashPolicy::KeepUnsynced, CrashPolicy::Random] {
        let mut fail_from = 0;
        loop {
            let disk = SimStorage::new(fail_from);
            disk.install_fault(FaultRule::from_nth(fail_from, FaultKind::Io));
            let mut progress = Progress::default();
            let outcome = scenario(Arc::new(disk.clone()), &mut progress, at_rest);
            if !disk.fault_fired() {
                outcome.unwrap();
                break;
            }
            assert!(outcome.is_err());
            let rebooted = disk.crash(policy);
            if let Ok(store) = PageStore::open(Arc::new(rebooted), options_at(at_rest)) {
                let (version, live) = decode_roots(&store.roots());
                assert!(version == progress.acknowledged || version == progress.acknowledged + 1);
                check_contents(&store, &live);
                check_allocation(&store, &live);
            } else {
                assert!(!progress.created);
            }
            fail_from += 1;
        }
        assert!(fail_from > 20);
    }
}

folio_io::plain_and_encrypted!(
    a_failed_write_leaves_the_store_usable_and_the_retry_succeeds,
    a_failed_write_leaves_the_store_usable_and_the_retry_succeeds_encrypted,
    a_failed_write_leaves_the_store_usable_and_the_retry_succeeds_body
);

fn a_failed_write_leaves_the_store_usable_and_the_retry_succeeds_body(at_rest: AtRest) {
    for nth in 0..4 {
        let disk = SimStorage::new(nth);
        let store = PageStore::create(Arc::new(disk.clone()), options_at(at_rest)).unwrap();
        let mut writer = store.writer();
        let mut live = BTreeMap::new();
        for i in 0..20 {
            let id = writer.allocate().unwrap();
            writer.write(id, tagged_page(&store, id, i));
            live.insert(id, i);
        }
        writer.commit(1);
        disk.install_fault(FaultRule {
            kind: FaultKind::NoSpace,
            ops: FaultOps::Mutations,
            nth,
            persistent: false,
        });
        let result = store.checkpoint(1, &encode_roots(1, &live));
        if disk.fault_fired() {
            let error = result.unwrap_err();
            assert!(
                !store.is_poisoned(),
                "a failed write must not poison: {error}"
            );
            assert_eq!(store.durable_version(), 0);
            store.checkpoint(1, &encode_roots(1, &live)).unwrap();
        } else {
            result.unwrap();
        }
        drop((writer, store));
        let store = common::reopen(Arc::new(disk.crash(CrashPolicy::DropUnsynced)), at_rest);
        assert_eq!(decode_roots(&store.roots()).1, live);
        check_contents(&store, &live);
        check_allocation(&store, &live);
    }
}

folio_io::plain_and_encrypted!(
    a_failed_sync_poisons_the_store_until_reopened,
    a_failed_sync_poisons_the_store_until_reopened_encrypted,
    a_failed_sync_poisons_the_store_until_reopened_body
);

fn a_failed_sync_poisons_the_store_until_reopened_body(at_rest: AtRest) {
    let disk = SimStorage::new(1);
    let store = PageStore::create(Arc::new(disk.clone()), options_at(at_rest)).unwrap();
    let mut writer = store.writer();
    let id = writer.allocate().unwrap();
    writer.write(id, tagged_page(&store, id, 1));
    writer.commit(1);
    disk.install_fault(FaultRule::sync_once(0));
    let live = BTreeMap::from([(id, 1)]);
    assert!(store.checkpoint(1, &encode_roots(1, &live)).is_err());
    assert!(store.is_poisoned());
    // No later checkpoint is reported durable, even though the disk works again.
    assert!(matches!(
        store.checkpoint(1, &encode_roots(1, &live)),
        Err(folio_pagestore::Error::Poisoned)
    ));
    assert!(matches!(
        writer.allocate(),
        Err(folio_pagestore::Error::Poisoned)
    ));
    assert!(store.stats().poisoned);
    drop((writer, store));
    // Reopening recovers the last durable state (the empty store).
    let store = common::reopen(Arc::new(disk.crash(CrashPolicy::KeepUnsynced)), at_rest);
    assert_eq!(store.durable_version(), 0);
    check_allocation(&store, &BTreeMap::new());
}
