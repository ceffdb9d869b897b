//! Regression (found by the `model` proptest): a crash may drop an unsynced record while
//! keeping later ones, leaving a zero header followed by non-zero bytes. Recovery used to
//! stop at the zero header and leave the stale records in place, where later appends met
//! them. Now non-zero bytes after a zero header are damage: a torn tail (zeroed) when no
//! later record proves the missing one durable, corruption otherwise.

use std::sync::Arc;

use folio_io::{CrashPolicy, SimDirectory};
use folio_wal::testing::framed_len;
use folio_wal::{
    Durability, Error, RecoveryError, SEGMENT_HEADER_BYTES, Wal, WalOptions, segment_name,
};

const LEN: usize = 200;

fn options() -> WalOptions {
    WalOptions {
        sync_interval: None,
        ..WalOptions::default()
    }
}

/// Writes 6 records (the last three with `tail` durability), closes, and zeroes record 4.
fn log_with_record_four_zeroed(tail: Durability) -> SimDirectory {
    let device = SimDirectory::new(1);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options()).unwrap();
    for i in 1..=6u8 {
        let durability = if i <= 3 { Durability::Immediate } else { tail };
        wal.append(&[i; LEN], durability).unwrap();
    }
    wal.close().unwrap();
    let device = device.crash(CrashPolicy::DropUnsynced);
    let offset = SEGMENT_HEADER_BYTES + 3 * framed_len(LEN) as u64;
    device
        .file(&segment_name(1))
        .unwrap()
        .overwrite_stored(offset, &vec![0; framed_len(LEN)]);
    device
}

#[test]
fn unsynced_records_after_a_dropped_one_are_truncated() {
    let device = log_with_record_four_zeroed(Durability::Eventual);
    let (wal, report) = Wal::open(Arc::new(device.clone()), options()).unwrap();
    assert_eq!(report.records, 3);
    assert!(
        report.torn_tail_bytes >= 2 * framed_len(LEN) as u64,
        "stale records 5 and 6 zeroed"
    );
    assert_eq!(wal.append(b"new four", Durability::Immediate).unwrap(), 4);
    wal.close().unwrap();
    let (wal, report) =
        Wal::open(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options()).unwrap();
    assert_eq!(report.records, 4);
    let payloads: Vec<Vec<u8>> = wal.read_from(1).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(payloads.last().unwrap(), b"new four");
}

#[test]
fn a_missing_synced_record_before_later_ones_is_corruption() {
    let device = log_with_record_four_zeroed(Durability::Immediate);
    let error = Wal::open(Arc::new(device), options()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Recovery(RecoveryError::CorruptRecord {
                lsn: 4,
                witness: 5 | 6,
                ..
            })
        ),
        "{error}"
    );
}
