//! Injected I/O failures poison the log: the failing caller, every waiter and every later
//! call get an error; reopening recovers every acknowledged record.

use std::sync::Arc;

use folio_io::{CrashPolicy, FaultKind, FaultOps, FaultRule, SimDirectory};
use folio_wal::{Durability, Error, Wal, WalOptions, segment_name};

fn options() -> WalOptions {
    WalOptions {
        sync_interval: None,
        ..WalOptions::default()
    }
}

fn check_poisoned(wal: &Wal) {
    assert!(matches!(
        wal.append(b"x", Durability::Eventual),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(wal.flush(), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.wait_durable(1), Err(Error::Poisoned { .. })));
}

fn run(rule: FaultRule, durability: Durability) {
    let device = SimDirectory::new(3);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options()).unwrap();
    let acknowledged = wal.append(b"before", Durability::Immediate).unwrap();
    device.file(&segment_name(1)).unwrap().install_fault(rule);
    let error = wal.append(b"during", durability).unwrap_err();
    assert!(matches!(error, Error::Storage(_)), "{error}");
    check_poisoned(&wal);
    drop(wal);
    let (wal, report) = Wal::open(Arc::new(device.crash(CrashPolicy::Random)), options()).unwrap();
    assert!(report.records >= acknowledged);
    let first: Vec<_> = wal
        .read_from(1)
        .unwrap()
        .take(1)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(first, vec![(1, b"before".to_vec())]);
}

#[test]
fn eio_on_write_poisons() {
    run(
        FaultRule {
            kind: FaultKind::Io,
            ops: FaultOps::Mutations,
            nth: 0,
            persistent: false,
        },
        Durability::Immediate,
    );
}

#[test]
fn enospc_on_write_poisons() {
    run(FaultRule::full_from(0), Durability::Eventual);
}

#[test]
fn failed_sync_poisons_and_is_never_reported_durable() {
    run(FaultRule::sync_once(0), Durability::Immediate);
}

#[test]
fn every_waiter_of_a_failed_round_gets_an_error() {
    let device = SimDirectory::new(4);
    let (wal, _) = Wal::open(Arc::new(device.clone()), options()).unwrap();
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
