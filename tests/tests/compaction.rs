//! Space: a steady overwrite workload keeps the data file bounded (docs/durability.md);
//! compaction after deleting most data shrinks the file, online, and survives a power cut at
//! any of its operations; so does a repack, which also packs leaves and recompresses.

use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, SimDirectory};
use folio_tests::{AtRest, AtRestOptions, State, read_cf, small_options};

fn key(i: u64) -> Vec<u8> {
    format!("key-{:06}", (i * 7919) % 1_000_003).into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    // Every 11th value spills into an overflow chain.
    let len = if i.is_multiple_of(11) { 5000 } else { 150 };
    vec![(i + round) as u8; len]
}

fn fill(db: &Database, cf: &str, range: std::ops::Range<u64>, round: u64) {
    for chunk in range.collect::<Vec<_>>().chunks(500) {
        let mut txn = db.begin_write(&[cf]).unwrap();
        for &i in chunk {
            txn.put(cf, &key(i), &value(i, round)).unwrap();
        }
        txn.commit_with(Durability::Eventual).unwrap();
    }
}

fn file_bytes(db: &Database) -> u64 {
    db.stats().page_store.file_bytes
}

#[test]
fn a_steady_overwrite_workload_keeps_the_file_bounded() {
    let db = Database::open_in(Arc::new(SimDirectory::new(1)), small_options()).unwrap();
    db.create_cf("hot").unwrap();
    let mut sizes = Vec::new();
    for round in 0..30 {
        fill(&db, "hot", 0..2_000, round);
        db.checkpoint().unwrap();
        sizes.push(file_bytes(&db));
    }
    let warm = sizes[4];
    let last = *sizes.last().unwrap();
    println!("file bytes after round 5: {warm}, after round 30: {last}");
    assert!(
        last <= warm + warm / 2,
        "the file keeps growing under overwrites: {sizes:?}"
    );
    let report = db.check_integrity().unwrap();
    assert!(
        report.is_ok() && report.allocator_checked,
        "{:?}",
        report.problems
    );
}

#[test]
fn compaction_after_deleting_most_data_shrinks_the_file_online() {
    let device = SimDirectory::new(2);
    let db = Database::open_in(Arc::new(device.clone()), small_options()).unwrap();
    db.create_cf("a").unwrap();
    db.create_cf("b").unwrap();
    fill(&db, "a", 0..20_000, 0);
    fill(&db, "b", 0..2_000, 0);
    db.checkpoint().unwrap();
    let full = file_bytes(&db);
    // Delete 90% of "a".
    for chunk in (2_000..20_000u64).collect::<Vec<_>>().chunks(1_000) {
        let mut txn = db.begin_write(&["a"]).unwrap();
        for &i in chunk {
            assert!(txn.delete("a", &key(i)).unwrap());
        }
        txn.commit().unwrap();
    }
    // A reader holds this snapshot through the compaction while a writer keeps committing.
    let reader = db.begin_read();
    let expected_b = read_cf(&reader, "b").unwrap();
    let report = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for i in 0..50u64 {
                let mut txn = db.begin_write(&["b"]).unwrap();
                txn.put("b", format!("during-{i}").as_bytes(), b"x")
                    .unwrap();
                txn.commit_with(Durability::Eventual).unwrap();
            }
        });
        let report = db.compact().unwrap();
        assert!(
            read_cf(&reader, "b").unwrap() == expected_b,
            "snapshot changed"
        );
        writer.join().unwrap();
        report
    });
    drop(reader);
    // The reader's snapshot may have kept some pages: compact again now that it ended.
    let second = db.compact().unwrap();
    let after = file_bytes(&db);
    println!(
        "file bytes: full {full}, after deleting 90% and compacting {} then {after} (moved {} + {} pages)",
        report.bytes_after, report.pages_moved, second.pages_moved
    );
    assert!(after < full / 3, "compaction left {after} of {full} bytes");
    assert!(report.bytes_reclaimed() + second.bytes_reclaimed() > 0);

    let check = db.check_integrity().unwrap();
    assert!(
        check.is_ok() && check.allocator_checked,
        "{:?}",
        check.problems
    );
    let read = db.begin_read();
    assert_eq!(read.len("a").unwrap(), 2_000);
    assert_eq!(read.len("b").unwrap(), 2_050);
    for i in (0..2_000).step_by(37) {
        assert_eq!(&*read.get("a", &key(i)).unwrap().unwrap(), &value(i, 0)[..]);
    }
    drop(read);
    drop(db);
    let db = Database::open_in(
        Arc::new(device.crash(CrashPolicy::DropUnsynced)),
        small_options(),
    )
    .unwrap();
    assert_eq!(db.begin_read().len("a").unwrap(), 2_000);
    assert!(file_bytes(&db) < full / 3);
}

fn sweep_options(at_rest: AtRest) -> DatabaseOptions {
    at_rest.small_options()
}

/// A database with most of its entries deleted (a compaction has work), closed; and its
/// contents.
fn sparse_database(seed: u64, at_rest: AtRest) -> (SimDirectory, State) {
    let base = SimDirectory::new(seed);
    let db = Database::open_in(Arc::new(base.clone()), sweep_options(at_rest)).unwrap();
    db.create_cf("a").unwrap();
    fill(&db, "a", 0..600, 0);
    let mut txn = db.begin_write(&["a"]).unwrap();
    for i in 60..600 {
        txn.delete("a", &key(i)).unwrap();
    }
    txn.commit().unwrap();
    let expected = read_cf(&db.begin_read(), "a").unwrap();
    drop(db);
    (base.crash(CrashPolicy::DropUnsynced), expected)
}

/// Power cut at every operation of a compaction: the contents never change.
#[test]
fn power_cut_at_every_operation_of_a_compaction() {
    compaction_sweep(AtRest::Plain, Compaction::Compact);
}

#[test]
fn power_cut_at_every_operation_of_a_compaction_encrypted() {
    compaction_sweep(AtRest::Encrypted, Compaction::Compact);
}

/// The same for a repack (every tree rewritten in key order, then compacted).
#[test]
fn power_cut_at_every_operation_of_a_repack() {
    compaction_sweep(AtRest::Plain, Compaction::Repack);
}

#[test]
fn power_cut_at_every_operation_of_a_repack_encrypted() {
    compaction_sweep(AtRest::Encrypted, Compaction::Repack);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compaction {
    Compact,
    Repack,
}

impl Compaction {
    fn run(self, db: &Database) -> folio::Result<folio::CompactionReport> {
        match self {
            Self::Compact => db.compact(),
            Self::Repack => db.repack(),
        }
    }
}

fn compaction_sweep(at_rest: AtRest, compaction: Compaction) {
    // Uncut, the scenario moves pages and shrinks the file.
    let (device, _) = sparse_database(0, at_rest);
    let db = Database::open_in(Arc::new(device), sweep_options(at_rest)).unwrap();
    let uncut = compaction.run(&db).unwrap();
    // A compaction moves pages down; a repack writes the trees anew into the lowest free
    // pages, so its compaction may find nothing to move. Both shrink the file.
    assert!(uncut.bytes_reclaimed() > 0, "{uncut:?}");
    assert!(
        uncut.pages_moved > 0 || compaction == Compaction::Repack,
        "{uncut:?}"
    );
    drop(db);
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(2), |cut, policy, seed| {
        let (device, expected) = sparse_database(seed, at_rest);
        let db = Database::open_in(Arc::new(device.clone()), sweep_options(at_rest)).unwrap();
        // Counted from here: a cut below the open's own operations would fire at the
        // compaction's first one, the same scenario again.
        device.cut_power_at(device.operations() + cut);
        let _ = compaction.run(&db);
        drop(db);
        let was_cut = device.power_was_cut();
        let context = format!("cut at {cut}, {policy:?}, seed {seed}");
        let db = Database::open_in(Arc::new(device.crash(policy)), sweep_options(at_rest))
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        let recovered = read_cf(&db.begin_read(), "a").unwrap();
        assert!(recovered == expected, "{context}: contents changed");
        let check = db.check_integrity().unwrap();
        assert!(check.is_ok(), "{context}: {:?}", check.problems);
        was_cut
    });
    assert!(report.shortest_scenario > 10, "{report:?}");
    println!("compaction crash points covered: {}", report.points);
}

/// A load in random key order leaves leaves part full; a repack packs them, re-encodes the
/// values with the compression now set, and shrinks the file; the contents stay.
#[test]
fn repack_packs_a_random_load_and_recompresses_it() {
    let device = SimDirectory::new(9);
    let db = Database::open_in(Arc::new(device.clone()), small_options()).unwrap();
    db.create_cf("a").unwrap();
    let mut rng = fastrand::Rng::with_seed(9);
    for _ in 0..20 {
        let mut txn = db.begin_write(&["a"]).unwrap();
        for _ in 0..200 {
            let i = rng.u64(..1_000_000);
            let value = format!("value {i} value {i} value {i} value {i} value {i}");
            txn.put("a", &key(i), value.repeat(4).as_bytes()).unwrap();
        }
        txn.commit().unwrap();
    }
    let expected = read_cf(&db.begin_read(), "a").unwrap();
    db.compact().unwrap();
    let before = db.begin_read().tree("a").unwrap().verify().unwrap();
    let bytes_before = file_bytes(&db);
    db.repack().unwrap();
    let packed = db.begin_read().tree("a").unwrap().verify().unwrap();
    assert!(
        packed.leaves * 10 < before.leaves * 8,
        "{} -> {}",
        before.leaves,
        packed.leaves
    );
    assert!(file_bytes(&db) < bytes_before, "the file shrank");
    assert_eq!(read_cf(&db.begin_read(), "a").unwrap(), expected);
    drop(db);

    // Named for column family "a": its stored setting changes at this open.
    let compressed = DatabaseOptions {
        compression: folio::CompressionOptions {
            column_families: [("a".to_owned(), folio::Compression::Lz4)].into(),
            ..Default::default()
        },
        ..small_options()
    };
    let db = Database::open_in(Arc::new(device.clone()), compressed.clone()).unwrap();
    db.repack().unwrap();
    let recompressed = db.begin_read().tree("a").unwrap().verify().unwrap();
    assert_eq!(recompressed.compressed_values, recompressed.entries);
    assert!(recompressed.compression_ratio() > 2.0, "{recompressed:?}");
    assert!(db.check_integrity().unwrap().is_ok());
    drop(db);
    let db = Database::open_in(
        Arc::new(device.crash(CrashPolicy::DropUnsynced)),
        compressed,
    )
    .unwrap();
    assert_eq!(read_cf(&db.begin_read(), "a").unwrap(), expected);
}

/// One call is enough: the pages a compaction moves away from are free by the time it
/// truncates (it used to take a second call to see the file shrink).
#[test]
fn one_compaction_shrinks_a_file_left_sparse_by_a_random_load() {
    let db = random_load(5, 30, |_| vec![7u8; 300], true);
    let expected = read_cf(&db.begin_read(), "a").unwrap();
    let report = db.compact().unwrap();
    assert!(
        report.bytes_after * 100 < report.bytes_before * 85,
        "one compaction left {report:?}"
    );
    assert_eq!(read_cf(&db.begin_read(), "a").unwrap(), expected);
}

/// A snapshot taken before a repack keeps reading exactly what it saw while the repack
/// frees the pages it reads and later commits and compactions reuse free space.
#[test]
fn a_snapshot_older_than_a_repack_keeps_its_pages() {
    let db = Database::open_in(Arc::new(SimDirectory::new(6)), small_options()).unwrap();
    db.create_cf("a").unwrap();
    fill(&db, "a", 0..1_500, 0);
    let old = db.begin_read();
    let expected = read_cf(&old, "a").unwrap();
    db.repack().unwrap();
    for round in 1..4 {
        fill(&db, "a", 0..1_500, round);
        db.compact().unwrap();
        assert_eq!(read_cf(&old, "a").unwrap(), expected, "round {round}");
    }
    drop(old);
    db.compact().unwrap();
    assert!(db.check_integrity().unwrap().is_ok());
}

/// A repack of a file with little free space writes the new trees above the old ones; the
/// compaction that follows must bring the file down to about the live pages, not leave the
/// room its first pass keeps for path copies (an eighth of the file) in use.
#[test]
fn a_repack_of_a_dense_file_ends_near_the_live_pages() {
    let db = random_load(11, 40, |i| value(i, 0), false);
    db.compact().unwrap();
    db.repack().unwrap();
    let stats = db.stats().page_store;
    let live = stats.high_water_pages - stats.durable_free_pages;
    assert!(
        stats.high_water_pages <= live + live / 32 + 32,
        "{} pages in the file for {live} live pages",
        stats.high_water_pages
    );
    assert!(db.check_integrity().unwrap().is_ok());
}

/// A database whose column family "a" got `txns` commits of 150 puts of random keys (with a
/// checkpoint after each when `checkpoints`).
fn random_load(
    seed: u64,
    txns: usize,
    value: impl Fn(u64) -> Vec<u8>,
    checkpoints: bool,
) -> Database {
    let db = Database::open_in(Arc::new(SimDirectory::new(seed)), small_options()).unwrap();
    db.create_cf("a").unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..txns {
        let mut txn = db.begin_write(&["a"]).unwrap();
        for _ in 0..150 {
            let i = rng.u64(..1_000_000);
            txn.put("a", &key(i), &value(i)).unwrap();
        }
        txn.commit().unwrap();
        if checkpoints {
            db.checkpoint().unwrap();
        }
    }
    db
}
