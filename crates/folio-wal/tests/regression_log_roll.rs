//! Regression: a crash between a segment roll and the roll's first record leaves a
//! header-only segment named after the next LSN. The first record too large for it used to
//! roll again under the same name, fail with `AlreadyOpen` and poison the log, after every
//! reopen. Also: a roll that cannot create its segment refuses the batch without poisoning.
//! Plain and encrypted.

mod common;

use std::sync::Arc;

use common::{AtRest, WalAtRest};
use folio_io::{FaultKind, FaultOps, FaultRule, FsDirectory, SimDirectory};
use folio_wal::testing::encode_segment_header;
use folio_wal::{Durability, Error, Wal, WalOptions, segment_name};

const SEGMENT_BYTES: u64 = 64 * 1024;

fn options(at_rest: AtRest) -> WalOptions {
    at_rest.apply(WalOptions {
        segment_bytes: SEGMENT_BYTES,
        sync_interval: None,
        ..WalOptions::default()
    })
}

/// What a crash right after a roll's header sync leaves: segment `first_lsn`, preallocated,
/// with a header and no records.
fn header_only_segment(directory: &FsDirectory, first_lsn: u64, capacity: u64) {
    let mut bytes = vec![0u8; capacity as usize];
    bytes[..64].copy_from_slice(&encode_segment_header(first_lsn));
    std::fs::write(directory.path().join(segment_name(first_lsn)), bytes).unwrap();
}

fn records(wal: &Wal) -> Vec<(u64, usize)> {
    wal.read_from(1)
        .unwrap()
        .map(|r| r.map(|(lsn, payload)| (lsn, payload.len())))
        .collect::<Result<_, _>>()
        .unwrap()
}

folio_io::plain_and_encrypted!(
    a_large_record_after_a_header_only_segment_commits,
    a_large_record_after_a_header_only_segment_commits_encrypted,
    a_large_record_after_a_header_only_segment_commits_body
);

fn a_large_record_after_a_header_only_segment_commits_body(at_rest: AtRest) {
    let options = || options(at_rest);
    let dir = tempfile::tempdir().unwrap();
    let directory = FsDirectory::open(dir.path()).unwrap();
    let (wal, _) = Wal::open(Arc::new(directory.clone()), options()).unwrap();
    assert_eq!(wal.append(b"small", Durability::Immediate).unwrap(), 1);
    wal.close().unwrap();

    // Three crashes in a row, each right after a roll's header sync.
    let mut next = 2;
    for round in 0..3 {
        header_only_segment(&directory, next, SEGMENT_BYTES);
        let (wal, report) = Wal::open(Arc::new(directory.clone()), options()).unwrap();
        assert_eq!(report.next_lsn, next, "round {round}");
        let big = vec![7u8; 100 * 1024 + round];
        assert_eq!(
            wal.append(&big, Durability::Immediate).unwrap(),
            next,
            "round {round}: the large record commits"
        );
        assert_eq!(
            wal.append(b"after", Durability::Immediate).unwrap(),
            next + 1
        );
        wal.close().unwrap();
        next += 2;
    }
    let (wal, _) = Wal::open(Arc::new(directory), options()).unwrap();
    let found = records(&wal);
    assert_eq!(
        found.len() as u64,
        next - 1,
        "every acknowledged record is there"
    );
    assert_eq!(found[1], (2, 100 * 1024));
}

folio_io::plain_and_encrypted!(
    a_roll_that_cannot_create_its_segment_refuses_without_poisoning,
    a_roll_that_cannot_create_its_segment_refuses_without_poisoning_encrypted,
    a_roll_that_cannot_create_its_segment_refuses_without_poisoning_body
);

fn a_roll_that_cannot_create_its_segment_refuses_without_poisoning_body(at_rest: AtRest) {
    let options = || options(at_rest);
    let device = SimDirectory::new(11);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options()).unwrap();
    wal.append(&vec![1u8; 40_000], Durability::Immediate)
        .unwrap();
    // Every write and allocation fails from now on (syncs still work): the next record does
    // not fit in segment 1, and segment 2 cannot be made.
    device.install_fault(FaultRule {
        ops: FaultOps::Mutations,
        kind: FaultKind::NoSpace,
        nth: 0,
        persistent: true,
    });
    let error = wal
        .append(&vec![2u8; 40_000], Durability::Immediate)
        .unwrap_err();
    assert!(matches!(error, Error::Storage(_)), "{error}");
    assert!(
        device.file(&segment_name(2)).is_none(),
        "the half-made segment was removed"
    );
    // Not poisoned: once space is back, the same LSN is used again and everything works.
    device.clear_faults();
    assert_eq!(
        wal.append(&vec![3u8; 40_000], Durability::Immediate)
            .unwrap(),
        2
    );
    assert_eq!(wal.append(b"small", Durability::Eventual).unwrap(), 3);
    wal.flush().unwrap();
    assert_eq!(wal.stats().commit.refused_batches, 1);
    let found = records(&wal);
    assert_eq!(found, vec![(1, 40_000), (2, 40_000), (3, 5)]);
    drop(wal);
    let (wal, report) = Wal::open(Arc::new(device), options()).unwrap();
    assert_eq!(report.next_lsn, 4);
    assert_eq!(records(&wal).len(), 3);
}
