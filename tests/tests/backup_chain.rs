//! Incremental backups (`Database::backup_incremental`, `restore_backup`, `prune_backup`;
//! docs/operations.md, "Backup chains"): a random workload with increments taken at random
//! points, then restores to random LSNs compared with a model of the database at that LSN,
//! plain, encrypted and compressed; prunes that keep later restore points; increments
//! that must be full copies; a crash mid-increment, by its leftovers and by a power cut at
//! every operation of an increment or a prune on the chain's simulated disk; damaged and
//! missing increments.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use folio::{
    ColumnFamilyOptions, Compression, Database, DatabaseOptions, Durability, ErrorKind,
    IncrementKind, RestoreOptions,
};
use folio_io::{CrashPolicy, Directory, SimDirectory};

type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

fn options(key: Option<folio::EncryptionKey>) -> DatabaseOptions {
    DatabaseOptions {
        encryption_key: key,
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    }
}

fn contents(db: &Database) -> Model {
    let read = db.begin_read();
    read.cf_names()
        .into_iter()
        .map(|name| {
            let entries = read
                .tree(name.as_str())
                .unwrap()
                .iter()
                .map(|entry| {
                    let (key, value) = entry.unwrap();
                    (key, value.to_vec())
                })
                .collect();
            (name, entries)
        })
        .collect()
}

/// Runs `commits` random commits on `db`, mirrored in `model`; records the model after
/// each in `states`; takes an increment into `chain`, when given, now and then and at the end.
fn workload(
    db: &Database,
    model: &mut Model,
    states: &mut BTreeMap<u64, Model>,
    chain: Option<&Path>,
    seed: u64,
    commits: u32,
) -> Vec<folio::IncrementReport> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut reports = Vec::new();
    for i in 0..commits {
        let names: Vec<String> = model.keys().cloned().collect();
        let cf = names[rng.usize(..names.len())].clone();
        match rng.u8(..20) {
            0 if names.len() < 4 => {
                let name = format!("cf{i}");
                db.create_cf(&name).unwrap();
                model.insert(name, BTreeMap::new());
            }
            1 => {
                let to = format!("{cf}r");
                db.rename_cf(&cf, &to).unwrap();
                let entries = model.remove(&cf).unwrap();
                model.insert(to, entries);
            }
            2 => {
                let (start, end) = ([rng.u8(..128)], [rng.u8(128..)]);
                let mut txn = db.begin_write(&[cf.as_str()]).unwrap();
                txn.delete_range(cf.as_str(), &start[..]..&end[..]).unwrap();
                txn.commit().unwrap();
                model
                    .get_mut(&cf)
                    .unwrap()
                    .retain(|key, _| !(key.as_slice() >= &start[..] && key.as_slice() < &end[..]));
            }
            _ => {
                let mut txn = db.begin_write(&[cf.as_str()]).unwrap();
                for _ in 0..rng.usize(1..6) {
                    let key = vec![rng.u8(..), rng.u8(..4)];
                    if rng.u8(..4) == 0 {
                        txn.delete(cf.as_str(), &key).unwrap();
                        model.get_mut(&cf).unwrap().remove(&key);
                    } else {
                        let value = vec![rng.u8(..); rng.usize(1..300)];
                        txn.put(cf.as_str(), &key, &value).unwrap();
                        model.get_mut(&cf).unwrap().insert(key, value);
                    }
                }
                let durability = if rng.bool() {
                    Durability::Immediate
                } else {
                    Durability::Eventual
                };
                txn.commit_with(durability).unwrap();
            }
        }
        states.insert(db.stats().published_version, model.clone());
        if rng.u8(..12) == 0 {
            db.checkpoint().unwrap();
        }
        if let Some(chain) = chain
            && rng.u8(..15) == 0
        {
            reports.push(db.backup_incremental(chain).unwrap());
        }
    }
    if let Some(chain) = chain {
        reports.push(db.backup_incremental(chain).unwrap());
    }
    reports
}

/// Commits `key` -> "v" into column family "t" in a transaction of its own.
fn put_in_t(db: &Database, key: &[u8], durability: Durability) -> u64 {
    let mut txn = db.begin_write(&["t"]).unwrap();
    txn.put("t", key, b"v").unwrap();
    txn.commit_with(durability).unwrap()
}

/// The model at `lsn`: the state after the last commit at or before it.
fn model_at(states: &BTreeMap<u64, Model>, lsn: u64) -> &Model {
    states.range(..=lsn).next_back().unwrap().1
}

fn restore_and_compare(
    chain: &Path,
    scratch: &Path,
    states: &BTreeMap<u64, Model>,
    lsn: u64,
    key: Option<folio::EncryptionKey>,
) {
    static RESTORES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RESTORES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let target = scratch.join(format!("restored-{lsn}-{n}"));
    let report = folio::restore_backup(
        chain,
        &target,
        &RestoreOptions {
            to_lsn: Some(lsn),
            encryption_key: key.clone(),
            ..RestoreOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.lsn, lsn);
    let restored = Database::open_with(&target, options(key)).unwrap();
    assert_eq!(
        &contents(&restored),
        model_at(states, lsn),
        "restored to LSN {lsn}"
    );
    assert!(restored.check_integrity().unwrap().is_ok());
}

fn chain_body(key: Option<folio::EncryptionKey>, compressed: bool, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let (source, chain) = (dir.path().join("source"), dir.path().join("chain"));
    let db = Database::open_with(&source, options(key.clone())).unwrap();
    let compression = if compressed {
        Compression::Lz4
    } else {
        Compression::None
    };
    db.create_cf_with(
        "a",
        ColumnFamilyOptions::new().with_compression(compression),
    )
    .unwrap();
    db.create_cf("b").unwrap();
    let mut model: Model = [
        ("a".to_owned(), BTreeMap::new()),
        ("b".to_owned(), BTreeMap::new()),
    ]
    .into();
    let mut states = BTreeMap::new();
    let first = db.backup_incremental(&chain).unwrap();
    assert_eq!(first.kind, IncrementKind::Full);
    states.insert(first.to, model.clone());
    let reports = workload(&db, &mut model, &mut states, Some(&chain), seed, 150);
    assert!(
        reports.iter().all(|r| r.kind == IncrementKind::Log),
        "with the log kept, every later increment is a log one: {reports:?}"
    );
    let end = reports.last().unwrap().to;
    let mut rng = fastrand::Rng::with_seed(seed + 1);
    for lsn in [
        first.to,
        end,
        rng.u64(first.to..=end),
        rng.u64(first.to..=end),
    ] {
        restore_and_compare(&chain, dir.path(), &states, lsn, key.clone());
    }
    // Keep the last two increments: the older ones are merged into a full copy, and every
    // LSN from there on still restores.
    let prune = folio::prune_backup(&chain, 2, key.clone()).unwrap();
    assert!(
        prune.merged_into.is_some() && !prune.removed.is_empty(),
        "{prune:?}"
    );
    let kept_from = reports[reports.len() - 2].from;
    for lsn in [kept_from, end, rng.u64(kept_from..=end)] {
        restore_and_compare(&chain, dir.path(), &states, lsn, key.clone());
    }
    let error = folio::restore_backup(
        &chain,
        dir.path().join("too-early"),
        &RestoreOptions {
            to_lsn: Some(first.to),
            encryption_key: key.clone(),
            ..RestoreOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    // The chain goes on after the prune.
    let more = workload(&db, &mut model, &mut states, Some(&chain), seed + 2, 30);
    restore_and_compare(&chain, dir.path(), &states, more.last().unwrap().to, key);
}

#[test]
fn restores_to_any_lsn_of_the_chain_match_the_model() {
    for seed in 0..3 {
        chain_body(None, false, seed);
    }
}

#[test]
fn restores_to_any_lsn_of_the_chain_match_the_model_encrypted_and_compressed() {
    chain_body(Some(folio::EncryptionKey::from_bytes([9; 32])), true, 11);
}

#[test]
fn increments_are_full_copies_when_the_log_cannot_supply_them() {
    let dir = tempfile::tempdir().unwrap();
    let (source, chain) = (dir.path().join("source"), dir.path().join("chain"));
    let mut options = options(None);
    options.wal.segment_bytes = 64 << 10;
    options.change_retention_bytes = 128 << 10;
    let db = Database::open_with(&source, options).unwrap();
    db.create_cf("t").unwrap();
    assert_eq!(
        db.backup_incremental(&chain).unwrap().kind,
        IncrementKind::Full
    );
    // A bulk load logs no data: the next increment copies everything.
    let mut load = db.bulk_load("t").unwrap();
    load.put(b"k", b"v").unwrap();
    load.finish().unwrap();
    let report = db.backup_incremental(&chain).unwrap();
    assert_eq!(report.kind, IncrementKind::Full);
    assert!(report.full_because.unwrap().contains("did not log"));
    // More log than the retention bound: the chain's subscriber lost what it needed.
    for i in 0..1000u32 {
        let mut txn = db.begin_write(&["t"]).unwrap();
        txn.put("t", &i.to_be_bytes(), &[1; 500]).unwrap();
        txn.commit_with(Durability::Eventual).unwrap();
        if i % 100 == 0 {
            db.checkpoint().unwrap();
        }
    }
    db.checkpoint().unwrap();
    let report = db.backup_incremental(&chain).unwrap();
    assert_eq!(report.kind, IncrementKind::Full, "{report:?}");
    assert!(report.full_because.unwrap().contains("no longer holds"));
    // An empty increment when nothing changed.
    let report = db.backup_incremental(&chain).unwrap();
    assert_eq!((report.kind, report.records), (IncrementKind::Log, 0));
    let kinds: Vec<IncrementKind> = folio::list_backup(&chain)
        .unwrap()
        .iter()
        .map(|i| i.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            IncrementKind::Full,
            IncrementKind::Full,
            IncrementKind::Full,
            IncrementKind::Log
        ]
    );
    let target = dir.path().join("restored");
    folio::restore_backup(&chain, &target, &RestoreOptions::default()).unwrap();
    let restored = Database::open(&target).unwrap();
    assert_eq!(contents(&restored), contents(&db));
}

#[test]
fn a_crash_mid_increment_leaves_the_chain_usable_and_damage_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (source, chain) = (dir.path().join("source"), dir.path().join("chain"));
    let db = Database::open(&source).unwrap();
    db.create_cf("t").unwrap();
    let put = |key: &[u8]| put_in_t(&db, key, Durability::Immediate);
    db.backup_incremental(&chain).unwrap();
    put(b"one");
    let second = db.backup_incremental(&chain).unwrap();
    // What a crash leaves: an increment's data without its manifest, a half-written
    // manifest, a half-made full copy.
    std::fs::write(chain.join("000003.log"), b"FOLIOINC partial").unwrap();
    std::fs::write(chain.join("000003.manifest.tmp"), b"folio-increment 1\nnum").unwrap();
    std::fs::create_dir(chain.join("000003.full.folio-backup-partial")).unwrap();
    let restored = dir.path().join("r1");
    let report = folio::restore_backup(&chain, &restored, &RestoreOptions::default()).unwrap();
    assert_eq!(report.lsn, second.to);
    put(b"two");
    let third = db.backup_incremental(&chain).unwrap();
    assert_eq!(third.number, 3);
    let leftovers: Vec<String> = std::fs::read_dir(&chain)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("tmp") || name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A damaged increment is named, and nothing is created.
    let log = chain.join("000002.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&log, &bytes).unwrap();
    let target = dir.path().join("r2");
    let error = folio::restore_backup(&chain, &target, &RestoreOptions::default()).unwrap_err();
    assert!(
        matches!(error, folio::Error::BackupChain { increment: 2, .. }),
        "{error}"
    );
    assert!(!target.exists());
    bytes[last] ^= 1;
    std::fs::write(&log, &bytes).unwrap();
    // A missing one too.
    std::fs::remove_file(chain.join("000002.manifest")).unwrap();
    let error = folio::restore_backup(&chain, &target, &RestoreOptions::default()).unwrap_err();
    assert!(
        matches!(error, folio::Error::BackupChain { increment: 2, .. }),
        "{error}"
    );
    assert_eq!(error.kind(), ErrorKind::Corruption);
}

/// A prune keeps a full copy that is already the base of the oldest kept increment, and
/// merges only when that base is a log increment.
#[test]
fn a_prune_merges_only_when_the_kept_increments_lack_a_full_base() {
    let dir = tempfile::tempdir().unwrap();
    let (source, chain) = (dir.path().join("source"), dir.path().join("chain"));
    let db = Database::open_with(&source, options(None)).unwrap();
    db.create_cf("t").unwrap();
    let mut n = 0u32;
    let mut increment = || {
        n += 1;
        put_in_t(&db, &n.to_be_bytes(), Durability::Immediate);
        db.backup_incremental(&chain).unwrap()
    };
    let kinds = |chain: &Path| -> Vec<(u64, IncrementKind)> {
        folio::list_backup(chain)
            .unwrap()
            .iter()
            .map(|i| (i.number, i.kind))
            .collect()
    };
    increment(); // 1 full
    increment(); // 2 log
    let prune = folio::prune_backup(&chain, 1, None).unwrap();
    assert_eq!(
        (prune.merged_into, prune.removed.len()),
        (None, 0),
        "{prune:?}"
    );
    assert_eq!(
        kinds(&chain),
        [(1, IncrementKind::Full), (2, IncrementKind::Log)]
    );
    increment(); // 3 log
    let prune = folio::prune_backup(&chain, 1, None).unwrap();
    assert_eq!(
        (prune.merged_into, prune.removed.clone()),
        (Some(2), vec![1]),
        "{prune:?}"
    );
    assert_eq!(
        kinds(&chain),
        [(2, IncrementKind::Full), (3, IncrementKind::Log)]
    );
    // A full copy in the middle (a bulk load logs no data): the increments before it go.
    let mut load = db.bulk_load("t").unwrap();
    load.put(b"loaded", b"v").unwrap();
    load.finish().unwrap();
    assert_eq!(increment().kind, IncrementKind::Full); // 4
    increment(); // 5 log
    let prune = folio::prune_backup(&chain, 1, None).unwrap();
    assert_eq!(
        (prune.merged_into, prune.removed.clone()),
        (None, vec![2, 3]),
        "{prune:?}"
    );
    assert_eq!(
        kinds(&chain),
        [(4, IncrementKind::Full), (5, IncrementKind::Log)]
    );
    let target = dir.path().join("restored");
    folio::restore_backup(&chain, &target, &RestoreOptions::default()).unwrap();
    assert_eq!(contents(&Database::open(&target).unwrap()), contents(&db));
}

/// Only the database a chain backs up can add to it: another database, or a copy restored
/// from the chain (whose LSNs start afresh), is refused, and the chain still restores.
#[test]
fn a_chain_refuses_increments_from_another_database() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let source = Database::open_with(dir.path().join("source"), options(None)).unwrap();
    source.create_cf("t").unwrap();
    for i in 0..5u8 {
        put_in_t(&source, &[i], Durability::Immediate);
    }
    source.backup_incremental(&chain).unwrap();
    let restored = dir.path().join("restored");
    folio::restore_backup(&chain, &restored, &RestoreOptions::default()).unwrap();
    let other = Database::open_with(dir.path().join("other"), options(None)).unwrap();
    other.create_cf("t").unwrap();
    for db in [
        other,
        Database::open_with(&restored, options(None)).unwrap(),
    ] {
        let error = db.backup_incremental(&chain).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        assert!(error.to_string().contains("new chain"), "{error}");
    }
    assert_eq!(folio::list_backup(&chain).unwrap().len(), 1);
    source.backup_incremental(&chain).unwrap();
    let target = dir.path().join("again");
    folio::restore_backup(&chain, &target, &RestoreOptions::default()).unwrap();
    assert_eq!(
        contents(&Database::open(&target).unwrap()),
        contents(&source)
    );
}

/// An I/O error at any operation of a chain's first increment: the chain is left empty or
/// whole (and correct when the increment reports success), the subscriber the increment registered goes when no increment names it, and the
/// next increment succeeds.
#[test]
fn a_failed_first_increment_leaves_no_subscriber_behind() {
    let mut nth = 0;
    loop {
        let (db, model, _) = source(nth);
        let device = SimDirectory::new(nth);
        let chain: Arc<dyn Directory> = Arc::new(device.clone());
        device.install_fault(folio_io::FaultRule::io_once(nth));
        let outcome = db.backup_incremental_in(Arc::clone(&chain));
        if !device.fault_fired() {
            outcome.unwrap();
            assert!(nth > 10, "the increment does I/O");
            break;
        }
        device.clear_faults();
        let listed = folio::list_backup_in(Arc::clone(&chain)).unwrap();
        if outcome.is_ok() {
            // Some failures are absorbed (the copy's own recovery covers them): the
            // increment must then hold the data all the same.
            assert_eq!(&restored_contents(&chain, None), &model, "operation {nth}");
        }
        assert_eq!(
            db.subscribers().len(),
            listed.len(),
            "operation {nth}: a subscriber exactly when an increment names it"
        );
        db.backup_incremental_in(Arc::clone(&chain)).unwrap();
        assert_eq!(&restored_contents(&chain, None), &model, "operation {nth}");
        nth += 1;
    }
}

/// A chain directory older than the database's record of it (its last increment gone, as
/// when the directory is restored from an earlier copy) continues with a full copy.
#[test]
fn a_chain_behind_its_database_continues_with_a_full_copy() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let db = Database::open_with(dir.path().join("source"), options(None)).unwrap();
    db.create_cf("t").unwrap();
    let put = |key: &[u8]| put_in_t(&db, key, Durability::Immediate);
    put(b"one");
    db.backup_incremental(&chain).unwrap();
    put(b"two");
    assert_eq!(
        db.backup_incremental(&chain).unwrap().kind,
        IncrementKind::Log
    );
    std::fs::remove_file(chain.join("000002.manifest")).unwrap();
    std::fs::remove_file(chain.join("000002.log")).unwrap();
    put(b"three");
    let report = db.backup_incremental(&chain).unwrap();
    assert_eq!((report.number, report.kind), (2, IncrementKind::Full));
    assert!(
        report
            .full_because
            .as_deref()
            .unwrap()
            .contains("acknowledged more"),
        "{report:?}"
    );
    let target = dir.path().join("restored");
    folio::restore_backup(&chain, &target, &RestoreOptions::default()).unwrap();
    assert_eq!(contents(&Database::open(&target).unwrap()), contents(&db));
}

/// Increments cover only durable commits: an `Eventual` commit taken into the chain is
/// synced first, so a power cut of the source cannot lose it and hand its LSN to another
/// commit the chain would then never see.
#[test]
fn increments_make_the_commits_they_cover_durable() {
    let mut options = options(None);
    options.wal.sync_interval = None; // nothing syncs an `Eventual` commit but the chain
    options.checkpoint_on_close = false;
    let device = SimDirectory::new(3);
    let db = Database::open_in(Arc::new(device.clone()), options.clone()).unwrap();
    db.create_cf("t").unwrap();
    put_in_t(&db, b"before the first", Durability::Eventual);
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    db.backup_incremental(&chain).unwrap();
    put_in_t(&db, b"before the second", Durability::Eventual);
    db.backup_incremental(&chain).unwrap();
    // The source loses power: whatever the chain holds must have survived.
    let rebooted = device.crash(CrashPolicy::DropUnsynced);
    drop(db);
    let db = Database::open_in(Arc::new(rebooted), options).unwrap();
    put_in_t(&db, b"after the restart", Durability::Immediate);
    db.backup_incremental(&chain).unwrap();
    let target = dir.path().join("restored");
    folio::restore_backup(&chain, &target, &RestoreOptions::default()).unwrap();
    let restored = contents(&Database::open(&target).unwrap());
    assert_eq!(restored, contents(&db));
    assert_eq!(restored["t"].len(), 3, "{restored:?}");
}

/// The chain step a power cut interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The first increment of an empty chain (a full copy).
    FirstFull,
    /// A log increment after a full one.
    Log,
    /// A prune of a full and two log increments, keeping one (a merge into a full copy).
    Prune,
}

/// The database (on a simulated disk of its own) with a few commits, its model and states.
fn source(seed: u64) -> (Database, Model, BTreeMap<u64, Model>) {
    let db = Database::open_in(Arc::new(SimDirectory::new(seed)), options(None)).unwrap();
    db.create_cf("a").unwrap();
    let mut model: Model = [("a".to_owned(), BTreeMap::new())].into();
    let mut states = BTreeMap::new();
    states.insert(db.stats().published_version, model.clone());
    workload(&db, &mut model, &mut states, None, seed, 12);
    (db, model, states)
}

/// Restores the whole chain in `chain` into a fresh simulated disk; its contents.
fn restored_contents(chain: &Arc<dyn Directory>, to_lsn: Option<u64>) -> Model {
    let target: Arc<dyn Directory> = Arc::new(SimDirectory::new(7));
    let options = RestoreOptions {
        to_lsn,
        ..RestoreOptions::default()
    };
    folio::restore_backup_in(Arc::clone(chain), Arc::clone(&target), &options).unwrap();
    let restored = Database::open_in(target, self::options(None)).unwrap();
    assert!(restored.check_integrity().unwrap().is_ok());
    contents(&restored)
}

/// One crash point: prepares the chain for `step`, cuts the chain device's power `cut`
/// operations into the step, crashes it with `policy`, then checks the chain restores to
/// where it was before the step or, when the step's manifest made it, after; and that the
/// next increment continues it. Returns whether the power was cut.
fn power_cut_in_chain_step(step: Step, cut: u64, policy: CrashPolicy, seed: u64) -> bool {
    let (db, mut model, mut states) = source(seed);
    let device = SimDirectory::new(seed + 100);
    let chain: Arc<dyn Directory> = Arc::new(device.clone());
    let mut before: Option<u64> = None;
    if step != Step::FirstFull {
        before = Some(db.backup_incremental_in(Arc::clone(&chain)).unwrap().to);
        workload(&db, &mut model, &mut states, None, seed + 1, 8);
    }
    if step == Step::Prune {
        db.backup_incremental_in(Arc::clone(&chain)).unwrap();
        workload(&db, &mut model, &mut states, None, seed + 2, 8);
        before = Some(db.backup_incremental_in(Arc::clone(&chain)).unwrap().to);
    }
    let after = db.stats().published_version;
    device.cut_power_at(device.operations() + cut);
    let outcome = match step {
        Step::FirstFull | Step::Log => db.backup_incremental_in(chain).map(|_| ()),
        Step::Prune => folio::prune_backup_in(chain, 1, None).map(|_| ()),
    };
    let cut_happened = device.power_was_cut();
    assert_eq!(outcome.is_err(), cut_happened, "{outcome:?}");
    let chain: Arc<dyn Directory> = Arc::new(device.crash(policy));
    let listed = folio::list_backup_in(Arc::clone(&chain)).unwrap();
    let context = format!("{step:?} cut at {cut} ({policy:?}, seed {seed}): {listed:?}");
    match listed.last() {
        None => assert_eq!(step, Step::FirstFull, "{context}"),
        Some(last) => {
            let expected = if step == Step::Prune {
                before
            } else {
                Some(after)
            };
            assert!(
                last.to == after || Some(last.to) == before,
                "the chain ends where it did or at the new increment: {context}"
            );
            if !cut_happened {
                assert_eq!(Some(last.to), expected, "{context}");
            }
            assert_eq!(
                &restored_contents(&chain, None),
                model_at(&states, last.to),
                "{context}"
            );
            // The earliest point the chain still covers restores too (after a prune, the
            // merged copy; before it, the first full copy).
            let first = listed
                .iter()
                .find(|i| i.kind == IncrementKind::Full)
                .unwrap();
            assert_eq!(
                &restored_contents(&chain, Some(first.to)),
                model_at(&states, first.to),
                "{context}"
            );
        }
    }
    // The chain goes on: the next increment (after the leftovers are tidied) restores to now.
    workload(&db, &mut model, &mut states, None, seed + 3, 4);
    let next = db.backup_incremental_in(Arc::clone(&chain)).unwrap();
    assert_eq!(next.to, db.stats().published_version);
    assert_eq!(&restored_contents(&chain, None), &model, "{context}");
    cut_happened
}

fn sweep_chain_step(step: Step) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(1), |cut, policy, seed| {
        power_cut_in_chain_step(step, cut, policy, seed)
    });
    assert!(
        report.shortest_scenario >= 4,
        "the step does the I/O the sweep means to cut: {report:?}"
    );
}

#[test]
fn a_power_cut_during_a_first_full_increment_leaves_no_chain_or_a_whole_one() {
    sweep_chain_step(Step::FirstFull);
}

#[test]
fn a_power_cut_during_a_log_increment_leaves_the_previous_chain_usable() {
    sweep_chain_step(Step::Log);
}

#[test]
fn a_power_cut_during_a_prune_leaves_the_chain_restorable() {
    sweep_chain_step(Step::Prune);
}
