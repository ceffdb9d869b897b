//! Power cuts at every I/O operation during concurrent appends: after recovery every record
//! acknowledged as durable is present, the log is a prefix of the append order, torn tails
//! vanish, and LSNs continue.

use std::collections::BTreeMap;
use std::sync::Arc;

mod common;

use common::{AtRest, WalAtRest};
use folio_io::{CrashPolicy, SimDirectory};
use folio_wal::{Durability, Lsn, Wal, WalOptions};
use parking_lot::Mutex;

const THREADS: u64 = 3;
const PER_THREAD: u64 = 12;

fn options(at_rest: AtRest) -> WalOptions {
    at_rest.apply(WalOptions {
        segment_bytes: 64 * 1024, // small: the scenario rolls segments
        sync_interval: None,
        ..WalOptions::default()
    })
}

/// A self-describing payload: thread, sequence number, and a length that varies so
/// segments fill and roll.
fn payload(thread: u64, seq: u64) -> Vec<u8> {
    let len = 16 + ((thread * 7 + seq * 13) % 40) as usize * 200;
    let mut out = vec![(thread * 31 + seq) as u8; len];
    out[..8].copy_from_slice(&thread.to_le_bytes());
    out[8..16].copy_from_slice(&seq.to_le_bytes());
    out
}

fn parse(payload: &[u8]) -> (u64, u64) {
    let thread = u64::from_le_bytes(payload[..8].try_into().unwrap());
    let seq = u64::from_le_bytes(payload[8..16].try_into().unwrap());
    assert_eq!(payload, &self::payload(thread, seq)[..], "payload damaged");
    (thread, seq)
}

/// Appends from several threads until the power goes; returns the acknowledged-durable
/// records by LSN.
fn run_appenders(wal: &Wal) -> BTreeMap<Lsn, Vec<u8>> {
    let acknowledged = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let acknowledged = &acknowledged;
            scope.spawn(move || {
                for seq in 0..PER_THREAD {
                    let durability = if seq % 3 == 2 {
                        Durability::Eventual
                    } else {
                        Durability::Immediate
                    };
                    match wal.append(&payload(thread, seq), durability) {
                        Ok(lsn) if durability == Durability::Immediate => {
                            acknowledged.lock().insert(lsn, payload(thread, seq));
                        }
                        Ok(_) => {}
                        Err(_) => return, // the power is gone; the log is poisoned
                    }
                }
            });
        }
    });
    acknowledged.into_inner()
}

/// Reads the whole log and checks prefix and acknowledgement properties.
fn check(wal: &Wal, acknowledged: &BTreeMap<Lsn, Vec<u8>>, context: &str) -> Lsn {
    let records: Vec<(Lsn, Vec<u8>)> = wal
        .read_from(1)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{context}: reading the recovered log: {e}"));
    for (index, (lsn, _)) in records.iter().enumerate() {
        assert_eq!(*lsn, index as Lsn + 1, "{context}: LSNs not consecutive");
    }
    let by_lsn: BTreeMap<Lsn, &Vec<u8>> = records.iter().map(|(l, p)| (*l, p)).collect();
    for (lsn, expected) in acknowledged {
        assert_eq!(
            by_lsn.get(lsn).copied(),
            Some(expected),
            "{context}: acknowledged LSN {lsn} lost"
        );
    }
    // Each thread appends in order, so its records must be a prefix of its sequence.
    let mut next_seq = BTreeMap::new();
    for (_, payload) in &records {
        let (thread, seq) = parse(payload);
        let expected = next_seq.entry(thread).or_insert(0);
        assert_eq!(
            seq, *expected,
            "{context}: thread {thread} has a hole before {seq}"
        );
        *expected += 1;
    }
    records.len() as Lsn
}

fn crash_at(cut: u64, policy: CrashPolicy, seed: u64, at_rest: AtRest) -> bool {
    let device = SimDirectory::new(seed);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    // Counted from here, so each cut is a distinct point of the appends.
    device.cut_power_at(device.operations() + cut);
    let acknowledged = run_appenders(&wal);
    drop(wal); // closing fails without power; that is fine
    let was_cut = device.power_was_cut();
    let rebooted = device.crash(policy);
    let context = format!("cut at {cut}, {policy:?}, seed {seed}");
    let (wal, report) = Wal::open(Arc::new(rebooted.clone()), options(at_rest))
        .unwrap_or_else(|e| panic!("{context}: recovery failed: {e}"));
    let recovered = check(&wal, &acknowledged, &context);
    assert_eq!(report.next_lsn, recovered + 1);
    // LSNs continue after the recovered prefix and the log keeps working.
    let next = wal.append(b"after", Durability::Immediate).unwrap();
    assert_eq!(next, recovered + 1, "{context}");
    drop(wal);
    let (wal, _) = Wal::open(
        Arc::new(rebooted.crash(CrashPolicy::DropUnsynced)),
        options(at_rest),
    )
    .unwrap();
    assert_eq!(
        wal.last_lsn(),
        next,
        "{context}: the new record was durable"
    );
    was_cut
}

folio_io::plain_and_encrypted!(
    power_cut_at_every_operation_during_concurrent_appends,
    power_cut_at_every_operation_during_concurrent_appends_encrypted,
    power_cut_sweep
);

fn power_cut_sweep(at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(4), |cut, policy, seed| {
        crash_at(cut, policy, seed, at_rest)
    });
    assert!(
        report.shortest_scenario > 20,
        "the scenario should span many operations: {report:?}"
    );
    assert!(report.points >= 200, "only {} crash points", report.points);
    println!("crash points covered: {}", report.points);
}

folio_io::plain_and_encrypted!(
    a_clean_close_keeps_everything_including_eventual_records,
    a_clean_close_keeps_everything_including_eventual_records_encrypted,
    clean_close
);

fn clean_close(at_rest: AtRest) {
    let device = SimDirectory::new(7);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    let acknowledged = run_appenders(&wal);
    let last = wal.last_lsn();
    wal.close().unwrap();
    let (wal, report) = Wal::open(
        Arc::new(device.crash(CrashPolicy::DropUnsynced)),
        options(at_rest),
    )
    .unwrap();
    assert_eq!(report.records, last);
    assert_eq!(
        check(&wal, &acknowledged, "clean close"),
        THREADS * PER_THREAD
    );
    assert!(report.segments > 1, "the scenario should roll segments");
}

#[test]
fn recovery_reports_progress_per_segment() {
    let at_rest = AtRest::Plain;
    let device = SimDirectory::new(9);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    for i in 0..200u32 {
        wal.append(&[i as u8; 2000], Durability::Eventual).unwrap();
    }
    wal.close().unwrap();
    let mut seen = Vec::new();
    let (_, report) = Wal::open_with_progress(
        Arc::new(device.crash(CrashPolicy::DropUnsynced)),
        options(at_rest),
        &mut |progress| seen.push(*progress),
    )
    .unwrap();
    assert_eq!(seen.len(), report.segments, "one report per segment");
    assert!(
        seen.windows(2)
            .all(|w| w[0].records <= w[1].records && w[0].bytes < w[1].bytes)
    );
    let last = seen.last().unwrap();
    assert_eq!((last.segments_done, last.records), (report.segments, 200));
}
