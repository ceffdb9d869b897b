//! `check_integrity` on healthy databases, and corruption of a closed data file: bit flips,
//! zeroed sectors and torn pages at random reachable pages. Opening and reading either work
//! or return a typed error, never wrong data, a panic or a hang; `check_integrity` reports
//! every fault it can reach.

use std::collections::BTreeSet;
use std::sync::Arc;

use folio::{Database, IntegrityProblem};
use folio_io::{CrashPolicy, SimDirectory};
use folio_tests::{AtRest, AtRestOptions, State, read_cf, small_options};

const CFS: [&str; 2] = ["users", "events"];
const PAGE: u64 = 4096;

fn value(i: u64) -> Vec<u8> {
    // Every 7th value spills into an overflow chain.
    let len = if i.is_multiple_of(7) {
        6000
    } else {
        40 + (i as usize * 13) % 300
    };
    vec![(i % 251) as u8; len]
}

/// Fills the column families; returns the expected contents.
fn populate(db: &Database) -> Vec<State> {
    let mut model = vec![State::new(); CFS.len()];
    for cf in CFS {
        db.create_cf(cf).unwrap();
    }
    for round in 0..6u64 {
        let mut txn = db.begin_write(&CFS).unwrap();
        for (c, cf) in CFS.iter().enumerate() {
            for i in 0..60u64 {
                let n = round * 60 + i;
                let key = format!("{cf}-{:05}", (n * 7919) % 1000).into_bytes();
                txn.put(cf, &key, &value(n)).unwrap();
                model[c].insert(key, value(n));
            }
            let victim = format!("{cf}-{:05}", (round * 331) % 1000).into_bytes();
            if txn.delete(cf, &victim).unwrap() {
                model[c].remove(&victim);
            }
        }
        txn.commit().unwrap();
    }
    model
}

#[test]
fn a_healthy_database_checks_clean_with_the_allocator_once_checkpointed() {
    let device = SimDirectory::new(1);
    let db = Database::open_in(Arc::new(device), small_options()).unwrap();
    let model = populate(&db);
    let before = db.check_integrity().unwrap();
    assert!(before.is_ok(), "{:?}", before.problems);
    assert!(
        !before.allocator_checked,
        "commits since the last checkpoint"
    );
    db.checkpoint().unwrap();
    let mut steps = Vec::new();
    let report = db
        .check_integrity_with_progress(|p| steps.push(*p))
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.allocator_checked);
    assert_eq!(steps.last().unwrap().column_families_done, CFS.len());
    for (c, cf) in report.column_families.iter().enumerate() {
        let index = CFS.iter().position(|n| *n == cf.name).unwrap();
        assert_eq!(cf.entries, model[index].len() as u64, "{c}");
    }
    assert!(report.pages_reachable + report.pages_free <= report.pages_total);
    // Dropping a column family frees its pages: still no leak and nothing used twice.
    db.drop_cf("events").unwrap();
    db.checkpoint().unwrap();
    let report = db.check_integrity().unwrap();
    assert!(
        report.is_ok() && report.allocator_checked,
        "{:?}",
        report.problems
    );
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    BitFlip,
    ZeroedSector,
    TornPage,
}

/// Every page reachable from the column families' trees.
fn reachable_pages(db: &Database) -> BTreeSet<u64> {
    let read = db.begin_read();
    CFS.iter()
        .flat_map(|cf| read.tree(cf).unwrap().verify().unwrap().page_ids)
        .collect()
}

/// Damages `page`; returns false when the bytes were already what the damage writes.
fn damage(device: &SimDirectory, page: u64, how: Damage, rng: &mut fastrand::Rng) -> bool {
    let file = device.file(folio::DATA_FILE).unwrap();
    let image = file.volatile_image();
    let zero = |offset: u64, len: u64| {
        let range = offset as usize..(offset + len) as usize;
        let changed = image[range].iter().any(|b| *b != 0);
        file.overwrite_stored(offset, &vec![0; len as usize]);
        changed
    };
    // Page 0 starts after the two 4 KiB header slots.
    let start = 2 * 4096 + page * PAGE;
    match how {
        Damage::BitFlip => file.flip_bit(start + rng.u64(0..PAGE), rng.u8(0..8)),
        Damage::ZeroedSector => zero(start + rng.u64(0..PAGE / 512) * 512, 512),
        Damage::TornPage => zero(start + PAGE / 2, PAGE / 2),
    }
}

#[test]
fn corrupted_pages_give_errors_or_right_data_and_the_check_reports_them() {
    corrupt_pages(AtRest::Plain);
}

#[test]
fn corrupted_pages_give_errors_or_right_data_and_the_check_reports_them_encrypted() {
    corrupt_pages(AtRest::Encrypted);
}

fn corrupt_pages(at_rest: AtRest) {
    let mut reported = 0;
    for seed in 0..45u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let device = SimDirectory::new(seed);
        let db = Database::open_in(Arc::new(device.clone()), at_rest.small_options()).unwrap();
        let model = populate(&db);
        let pages: Vec<u64> = reachable_pages(&db).into_iter().collect();
        drop(db); // checkpoints on close: the log is empty, the data file holds everything
        let device = device.crash(CrashPolicy::DropUnsynced);
        let page = pages[rng.usize(0..pages.len())];
        let how = [Damage::BitFlip, Damage::ZeroedSector, Damage::TornPage][seed as usize % 3];
        if !damage(&device, page, how, &mut rng) {
            continue; // the bytes were zero already: nothing to detect
        }
        let context = format!("seed {seed}: {how:?} at page {page}");

        let db = match Database::open_in(Arc::new(device), at_rest.small_options()) {
            Ok(db) => db,
            // The catalog or a root was hit: the open must say the file is damaged.
            Err(error) => {
                assert!(
                    error.is_corruption(),
                    "{context}: the open failed, but not as corruption: {error}"
                );
                continue;
            }
        };
        let report = db.check_integrity().unwrap();
        assert!(
            !report.is_ok(),
            "{context}: the check missed a damaged reachable page"
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, IntegrityProblem::Tree { .. })),
            "{context}: {:?}",
            report.problems
        );
        reported += 1;
        let read = db.begin_read();
        for (c, cf) in CFS.iter().enumerate() {
            // Either a corruption error or exactly the right contents, key by key too: a
            // key that reads as absent without an error is data lost silently.
            if let Ok(state) = read_cf(&read, cf) {
                assert!(state == model[c], "{context}: wrong data from {cf}");
            }
            for (key, expected) in &model[c] {
                match read.get(cf, key) {
                    Ok(Some(got)) => assert_eq!(&*got, &expected[..], "{context}: wrong value"),
                    Ok(None) => panic!("{context}: {cf} lost key {key:?} without an error"),
                    Err(error) => assert!(
                        error.is_corruption(),
                        "{context}: a read failed, but not as corruption: {error}"
                    ),
                }
            }
        }
    }
    assert!(reported >= 30, "only {reported} damaged files opened");
}
