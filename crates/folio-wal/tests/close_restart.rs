//! A close after `truncate_below` covered every record leaves one fresh, small segment
//! named after the next LSN (so the next open reads almost nothing); a power cut at any
//! step of that close leaves a log that opens with its LSNs continuing, and that keeps
//! working.

use std::sync::Arc;

mod common;

use common::{AtRest, WalAtRest};
use folio_io::{CrashPolicy, Directory, FsDirectory, SimDirectory};
use folio_wal::{Durability, Wal, WalOptions, segment_name};

/// Records written before the close; with 64 KiB segments they fill several.
const RECORDS: u64 = 40;

fn options(at_rest: AtRest) -> WalOptions {
    at_rest.apply(WalOptions {
        segment_bytes: 64 * 1024,
        sync_interval: None,
        ..WalOptions::default()
    })
}

fn fill(wal: &Wal) {
    for i in 0..RECORDS {
        let record = vec![i as u8; 5_000];
        assert_eq!(wal.append(&record, Durability::Immediate).unwrap(), i + 1);
    }
}

folio_io::plain_and_encrypted!(
    a_covered_log_closes_into_one_small_segment,
    a_covered_log_closes_into_one_small_segment_encrypted,
    a_covered_log_closes_into_one_small_segment_at
);

fn a_covered_log_closes_into_one_small_segment_at(at_rest: AtRest) {
    let dir = tempfile::tempdir().unwrap();
    let directory = FsDirectory::open(dir.path()).unwrap();
    let (wal, _) = Wal::open(Arc::new(directory.clone()), options(at_rest)).unwrap();
    fill(&wal);
    assert!(wal.stats().segments > 1);
    wal.truncate_below(RECORDS + 1).unwrap();
    wal.close().unwrap();
    assert_eq!(directory.list().unwrap(), vec![segment_name(RECORDS + 1)]);
    let len = std::fs::metadata(dir.path().join(segment_name(RECORDS + 1)))
        .unwrap()
        .len();
    assert_eq!(len, 64 * 1024);

    let (wal, report) = Wal::open(Arc::new(directory.clone()), options(at_rest)).unwrap();
    assert_eq!(report.next_lsn, RECORDS + 1);
    assert_eq!(
        wal.append(b"next", Durability::Immediate).unwrap(),
        RECORDS + 1
    );
}

folio_io::plain_and_encrypted!(
    a_log_not_fully_covered_keeps_its_records,
    a_log_not_fully_covered_keeps_its_records_encrypted,
    a_log_not_fully_covered_keeps_its_records_at
);

fn a_log_not_fully_covered_keeps_its_records_at(at_rest: AtRest) {
    let dir = tempfile::tempdir().unwrap();
    let directory = FsDirectory::open(dir.path()).unwrap();
    let (wal, _) = Wal::open(Arc::new(directory.clone()), options(at_rest)).unwrap();
    fill(&wal);
    wal.truncate_below(RECORDS).unwrap(); // the last record is not covered
    wal.close().unwrap();
    let (wal, _) = Wal::open(Arc::new(directory), options(at_rest)).unwrap();
    let last: Vec<u64> = wal
        .read_from(RECORDS)
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(last, vec![RECORDS]);
}

fn crash_at(cut: u64, policy: CrashPolicy, seed: u64, at_rest: AtRest) -> bool {
    let device = SimDirectory::new(seed);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    fill(&wal);
    wal.truncate_below(RECORDS + 1).unwrap();
    device.cut_power_at(device.operations() + cut);
    let _ = wal.close(); // fails once the power is cut; that is fine
    let was_cut = device.power_was_cut();
    let context = format!("cut at {cut} of the close, {policy:?}, seed {seed}");
    let rebooted = device.crash(policy);
    let (wal, report) = Wal::open(Arc::new(rebooted.clone()), options(at_rest))
        .unwrap_or_else(|e| panic!("{context}: recovery failed: {e}"));
    assert_eq!(report.next_lsn, RECORDS + 1, "{context}: LSNs continue");
    assert!(wal.stats().oldest_lsn <= RECORDS + 1, "{context}");
    assert_eq!(
        wal.append(b"after", Durability::Immediate).unwrap(),
        RECORDS + 1,
        "{context}"
    );
    drop(wal);
    let (wal, _) = Wal::open(
        Arc::new(rebooted.crash(CrashPolicy::DropUnsynced)),
        options(at_rest),
    )
    .unwrap_or_else(|e| panic!("{context}: second reopen failed: {e}"));
    assert_eq!(
        wal.last_lsn(),
        RECORDS + 1,
        "{context}: the new record was durable"
    );
    was_cut
}

folio_io::plain_and_encrypted!(
    power_cut_at_every_operation_of_the_close,
    power_cut_at_every_operation_of_the_close_encrypted,
    power_cut_at_every_operation_of_the_close_at
);

fn power_cut_at_every_operation_of_the_close_at(at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(3), |cut, policy, seed| {
        crash_at(cut, policy, seed, at_rest)
    });
    assert!(report.points >= 20, "only {} crash points", report.points);
    println!("crash points covered: {}", report.points);
}
