//! Damage to the log: corruption inside acknowledged records is a loud typed error; damage at
//! the very end is a torn tail and is truncated; damaged or foreign segments are named.

mod common;

use common::{AtRest, WalAtRest};
use std::sync::Arc;

use folio_io::{CrashPolicy, Directory, SimDirectory, SimStorage};
use folio_wal::testing::framed_len;
use folio_wal::{
    Durability, Error, Lsn, RECORD_HEADER_BYTES, RecoveryError, SEGMENT_HEADER_BYTES, Wal,
    WalOptions, segment_name,
};

const RECORD: usize = 100;

fn options(at_rest: AtRest) -> WalOptions {
    at_rest.apply(WalOptions {
        segment_bytes: 64 * 1024,
        sync_interval: None,
        ..WalOptions::default()
    })
}

/// A closed log of `count` durable records of `RECORD` bytes, each synced on its own.
fn written_log(count: u64, at_rest: AtRest) -> SimDirectory {
    let device = SimDirectory::new(1);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    for i in 0..count {
        wal.append(&[i as u8; RECORD], Durability::Immediate)
            .unwrap();
    }
    wal.close().unwrap();
    device.crash(CrashPolicy::DropUnsynced)
}

/// Byte offset of record `lsn` in the first segment.
fn record_offset(lsn: Lsn, at_rest: AtRest) -> u64 {
    SEGMENT_HEADER_BYTES + (lsn - 1) * framed_len(at_rest.stored_len(RECORD)) as u64
}

fn first_segment(device: &SimDirectory) -> SimStorage {
    device.file(&segment_name(1)).unwrap()
}

folio_io::plain_and_encrypted!(
    corruption_inside_acknowledged_log_is_an_error_naming_the_record,
    corruption_inside_acknowledged_log_is_an_error_naming_the_record_encrypted,
    corruption_inside_acknowledged_log
);

fn corruption_inside_acknowledged_log(at_rest: AtRest) {
    for field in [0u64, 9, 20, 27, RECORD_HEADER_BYTES as u64 + 50] {
        let device = written_log(100, at_rest);
        first_segment(&device).flip_bit(record_offset(50, at_rest) + field, 2);
        let error = Wal::open(Arc::new(device), options(at_rest)).unwrap_err();
        match error {
            Error::Recovery(RecoveryError::CorruptRecord { lsn, witness, .. }) => {
                assert_eq!(lsn, 50, "field {field}");
                assert!(witness > 50);
            }
            other => panic!("field {field}: expected CorruptRecord, got {other}"),
        }
    }
}

folio_io::plain_and_encrypted!(
    damage_to_the_last_record_is_a_torn_tail,
    damage_to_the_last_record_is_a_torn_tail_encrypted,
    damage_to_the_last_record
);

fn damage_to_the_last_record(at_rest: AtRest) {
    let device = written_log(100, at_rest);
    first_segment(&device).flip_bit(record_offset(100, at_rest) + 40, 0);
    let (wal, report) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    assert_eq!(report.records, 99);
    assert!(report.torn_tail_bytes > 0);
    assert_eq!(wal.append(b"again", Durability::Immediate).unwrap(), 100);
    wal.close().unwrap();
    // The torn bytes were zeroed: the new record 100 is followed by nothing stale.
    let (wal, report) = Wal::open(
        Arc::new(device.crash(CrashPolicy::DropUnsynced)),
        options(at_rest),
    )
    .unwrap();
    assert_eq!(report.records, 100);
    assert_eq!(report.torn_tail_bytes, 0);
    let last: Vec<_> = wal
        .read_from(100)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(last, vec![(100, b"again".to_vec())]);
}

folio_io::plain_and_encrypted!(
    an_unsynced_torn_batch_is_truncated_not_reported,
    an_unsynced_torn_batch_is_truncated_not_reported_encrypted,
    unsynced_torn_batch
);

fn unsynced_torn_batch(at_rest: AtRest) {
    // Records written without a sync and torn by the crash: recovery keeps the synced
    // prefix and reports no corruption, whatever sectors survived.
    for seed in 0..40 {
        let device = SimDirectory::new(seed);
        let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
        for i in 0..10u8 {
            wal.append(&[i; 300], Durability::Immediate).unwrap();
        }
        for i in 10..40u8 {
            wal.append(&[i; 300], Durability::Eventual).unwrap();
        }
        let (wal_after, report) = Wal::open(
            Arc::new(device.crash(CrashPolicy::Random)),
            options(at_rest),
        )
        .unwrap();
        assert!(report.records >= 10, "seed {seed}: synced records lost");
        let records: Vec<_> = wal_after
            .read_from(1)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (lsn, payload) in &records {
            assert_eq!(payload, &vec![(*lsn - 1) as u8; 300]);
        }
        drop(wal);
    }
}

#[test]
fn damaged_segment_headers_are_named() {
    let at_rest = AtRest::Plain;
    let device = written_log(3, at_rest);
    first_segment(&device).flip_bit(17, 0);
    let error = Wal::open(Arc::new(device), options(at_rest)).unwrap_err();
    assert!(
        matches!(error, Error::Recovery(RecoveryError::CorruptSegmentHeader { ref segment, .. }) if segment == &segment_name(1)),
        "{error}"
    );
}

#[test]
fn a_newer_segment_format_is_reported_as_such() {
    let at_rest = AtRest::Plain;
    let device = written_log(3, at_rest);
    first_segment(&device).overwrite_stored(8, &9u32.to_le_bytes());
    let error = Wal::open(Arc::new(device), options(at_rest)).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Recovery(RecoveryError::NewerFormat { found: 9, .. })
        ),
        "{error}"
    );
}

#[test]
fn a_missing_middle_segment_is_a_gap() {
    let at_rest = AtRest::Plain;
    let device = SimDirectory::new(2);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    for i in 0..300u32 {
        wal.append(&[i as u8; 700], Durability::Eventual).unwrap();
    }
    wal.close().unwrap();
    let names = device.list().unwrap();
    assert!(names.len() >= 3, "expected several segments, got {names:?}");
    device.remove(&names[1]).unwrap();
    let error = Wal::open(Arc::new(device), options(at_rest)).unwrap_err();
    assert!(
        matches!(error, Error::Recovery(RecoveryError::Gap { .. })),
        "{error}"
    );
}

#[test]
fn a_crash_while_creating_a_segment_leaves_no_trace() {
    let at_rest = AtRest::Plain;
    let device = written_log(5, at_rest);
    // A segment whose creation never wrote its header.
    device
        .open(&segment_name(6), true)
        .unwrap()
        .allocate(65_536)
        .unwrap();
    let (wal, report) = Wal::open(Arc::new(device), options(at_rest)).unwrap();
    assert_eq!(report.segments_removed, 1);
    assert_eq!(wal.append(b"six", Durability::Immediate).unwrap(), 6);
}

/// A sealed record copied over another one, with the header checksum recomputed (an
/// attacker who knows the format): the checksum passes, the LSN bound into the seal does
/// not, so reading it is an error, never the other record's payload. In a plain log the
/// same transplant reads back as the copied payload: the seal is what catches it.
#[test]
fn a_record_moved_to_another_lsn_fails_authentication() {
    for at_rest in [AtRest::Plain, AtRest::Encrypted] {
        let device = written_log(10, at_rest);
        let segment = first_segment(&device);
        let image = segment.durable_image();
        let stored = at_rest.stored_len(RECORD);
        let payload_at = |lsn: Lsn| (record_offset(lsn, at_rest) as usize) + RECORD_HEADER_BYTES;
        let moved = image[payload_at(5)..payload_at(5) + stored].to_vec();
        let header_at = record_offset(7, at_rest) as usize;
        let mut header = image[header_at..header_at + RECORD_HEADER_BYTES].to_vec();
        let seed = xxhash_rust::xxh3::xxh3_64(&moved);
        let checksum = xxhash_rust::xxh3::xxh3_64_with_seed(&header[..24], seed);
        header[24..].copy_from_slice(&checksum.to_le_bytes());
        segment.overwrite_stored(payload_at(7) as u64, &moved);
        segment.overwrite_stored(header_at as u64, &header);

        let (wal, report) = Wal::open(Arc::new(device), options(at_rest)).unwrap();
        assert_eq!(report.records, 10, "{at_rest:?}: the checksums all hold");
        let read: Vec<_> = wal.read_from(1).unwrap().collect();
        assert!(read[..6].iter().all(Result::is_ok), "{at_rest:?}");
        match at_rest {
            AtRest::Plain => {
                assert_eq!(read[6].as_ref().unwrap(), &(7, vec![4u8; RECORD]));
            }
            AtRest::Encrypted => assert!(
                matches!(
                    read[6],
                    Err(Error::Recovery(RecoveryError::CorruptRecord { lsn: 7, .. }))
                ),
                "{:?}",
                read[6]
            ),
        }
    }
}

/// A segment cut short after the log was opened, leaving fewer bytes of a record than its
/// length field: reading it back is a `CorruptRecord` error, not a panic on the short slice.
#[test]
fn a_segment_cut_inside_a_record_header_after_open_is_an_error() {
    let device = written_log(10, AtRest::Plain);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(AtRest::Plain)).unwrap();
    let segment = first_segment(&device);
    let cut = record_offset(6, AtRest::Plain) + 3;
    folio_io::Storage::set_len(&segment, cut).unwrap();
    let results: Vec<_> = wal.read_from(1).unwrap().collect();
    assert_eq!(results.len(), 6, "five records, then the error");
    assert!(results[..5].iter().all(Result::is_ok));
    assert!(
        matches!(
            results[5],
            Err(Error::Recovery(RecoveryError::CorruptRecord { lsn: 6, .. }))
        ),
        "{:?}",
        results[5]
    );
}
