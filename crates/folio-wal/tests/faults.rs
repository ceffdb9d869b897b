//! Injected I/O failures poison the log: the failing caller, every waiter and every later
//! call get an error; reopening recovers every acknowledged record.

use std::sync::Arc;

mod common;

use common::{AtRest, WalAtRest};
use folio_io::{CrashPolicy, FaultKind, FaultOps, FaultRule, SimDirectory};
use folio_wal::{Durability, Error, Wal, WalOptions, segment_name};

fn options(at_rest: AtRest) -> WalOptions {
    at_rest.apply(WalOptions {
        sync_interval: None,
        ..WalOptions::default()
    })
}

fn check_poisoned(wal: &Wal) {
    assert!(matches!(
        wal.append(b"x", Durability::Eventual),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(wal.flush(), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.wait_durable(1), Err(Error::Poisoned { .. })));
}

fn run(rule: FaultRule, durability: Durability, at_rest: AtRest) {
    let device = SimDirectory::new(3);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    let acknowledged = wal.append(b"before", Durability::Immediate).unwrap();
    device.file(&segment_name(1)).unwrap().install_fault(rule);
    let error = wal.append(b"during", durability).unwrap_err();
    assert!(matches!(error, Error::Storage(_)), "{error}");
    check_poisoned(&wal);
    drop(wal);
    let (wal, report) = Wal::open(
        Arc::new(device.crash(CrashPolicy::Random)),
        options(at_rest),
    )
    .unwrap();
    assert!(report.records >= acknowledged);
    let first: Vec<_> = wal
        .read_from(1)
        .unwrap()
        .take(1)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(first, vec![(1, b"before".to_vec())]);
}

fn eio_on_write(at_rest: AtRest) {
    run(
        FaultRule {
            kind: FaultKind::Io,
            ops: FaultOps::Mutations,
            nth: 0,
            persistent: false,
        },
        Durability::Immediate,
        at_rest,
    );
}

fn enospc_on_write(at_rest: AtRest) {
    run(FaultRule::full_from(0), Durability::Eventual, at_rest);
}

fn failed_sync(at_rest: AtRest) {
    run(FaultRule::sync_once(0), Durability::Immediate, at_rest);
}

folio_io::plain_and_encrypted!(
    eio_on_write_poisons,
    eio_on_write_poisons_encrypted,
    eio_on_write
);
folio_io::plain_and_encrypted!(
    enospc_on_write_poisons,
    enospc_on_write_poisons_encrypted,
    enospc_on_write
);
folio_io::plain_and_encrypted!(
    failed_sync_poisons_and_is_never_reported_durable,
    failed_sync_poisons_and_is_never_reported_durable_encrypted,
    failed_sync
);

#[test]
fn every_waiter_of_a_failed_round_gets_an_error() {
    let at_rest = AtRest::Plain;
    let device = SimDirectory::new(4);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options(at_rest)).unwrap();
    wal.append(b"warm up", Durability::Immediate).unwrap();
    device
        .file(&segment_name(1))
        .unwrap()
        .install_fault(FaultRule {
            kind: FaultKind::Io,
            ops: FaultOps::Syncs,
            nth: 0,
            persistent: true,
        });
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i: u8| {
                let wal = &wal;
                scope.spawn(move || wal.append(&[i; 64], Durability::Immediate))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        results.iter().all(Result::is_err),
        "a commit was reported durable"
    );
    assert!(wal.durable_lsn() <= 1);
}
