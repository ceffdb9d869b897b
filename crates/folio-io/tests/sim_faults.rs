//! Injected faults really happen: the chosen operation fails with the chosen errno, once or
//! for good, and a failed sync loses the writes it covered.

use folio_io::{
    CrashPolicy, Error, FaultKind, FaultOps, FaultRule, Operation, SimStorage, Storage,
};

fn errno(err: &Error) -> Option<i32> {
    match err {
        Error::Io { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

#[test]
fn nth_operation_fails_once_with_eio() {
    let disk = SimStorage::new(0);
    disk.install_fault(FaultRule::io_once(2));
    disk.write_all_at(b"a", 0).unwrap(); // op 0
    disk.write_all_at(b"b", 1).unwrap(); // op 1
    let err = disk.write_all_at(b"c", 2).unwrap_err(); // op 2 fails
    assert_eq!(errno(&err), Some(nix::libc::EIO));
    assert_eq!(err.operation(), Some(Operation::Write));
    assert!(disk.fault_fired());
    disk.write_all_at(b"c", 2).unwrap(); // op 3 works again
    let mut buf = [0u8; 3];
    disk.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"abc", "the failed write changed nothing");
}

#[test]
fn persistent_fault_fails_every_later_operation() {
    let disk = SimStorage::new(0);
    disk.install_fault(FaultRule::from_nth(1, FaultKind::Io));
    disk.write_all_at(b"a", 0).unwrap();
    for _ in 0..5 {
        assert!(disk.write_all_at(b"b", 0).is_err());
        assert!(disk.read_exact_at(&mut [0u8; 1], 0).is_err());
        assert!(disk.sync_data().is_err());
    }
    disk.clear_faults();
    disk.sync_data().unwrap();
}

#[test]
fn full_disk_reports_enospc_on_mutations_only() {
    let disk = SimStorage::new(0);
    disk.write_all_at(b"data", 0).unwrap();
    disk.install_fault(FaultRule::full_from(0));
    let err = disk.write_all_at(b"more", 4).unwrap_err();
    assert!(err.is_no_space(), "{err}");
    assert!(disk.allocate(1 << 20).unwrap_err().is_no_space());
    assert!(disk.set_len(0).unwrap_err().is_no_space());
    // Reads and syncs still work on a full disk.
    disk.read_exact_at(&mut [0u8; 4], 0).unwrap();
    disk.sync_data().unwrap();
    assert_eq!(disk.len().unwrap(), 4);
}

#[test]
fn failed_sync_loses_the_writes_it_covered() {
    let disk = SimStorage::new(0);
    disk.write_all_at(b"old!", 0).unwrap();
    disk.sync_data().unwrap();
    disk.install_fault(FaultRule::sync_once(0));
    disk.write_all_at(b"new!", 0).unwrap();
    let err = disk.sync_data().unwrap_err();
    assert_eq!(err.operation(), Some(Operation::Sync));
    // The page-cache view still shows the write, as on Linux after a writeback error...
    let mut buf = [0u8; 4];
    disk.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"new!");
    // ...and a later sync succeeds, yet the write was never made durable.
    disk.sync_data().unwrap();
    let after = disk.crash(CrashPolicy::KeepUnsynced);
    after.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"old!");
}

#[test]
fn fault_filters_count_only_their_operations() {
    let disk = SimStorage::new(0);
    disk.install_fault(FaultRule {
        kind: FaultKind::Io,
        ops: FaultOps::Reads,
        nth: 1,
        persistent: false,
    });
    disk.write_all_at(b"xy", 0).unwrap();
    disk.sync_data().unwrap();
    disk.read_exact_at(&mut [0u8; 1], 0).unwrap(); // read 0
    disk.write_all_at(b"z", 0).unwrap(); // not a read
    assert!(disk.read_exact_at(&mut [0u8; 1], 0).is_err()); // read 1
    disk.read_exact_at(&mut [0u8; 1], 0).unwrap();
}

#[test]
fn counts_every_operation_by_kind() {
    let disk = SimStorage::new(0);
    let bufs: Vec<Vec<u8>> = (0..=folio_io::IOV_MAX).map(|_| vec![1u8; 8]).collect();
    let slices: Vec<std::io::IoSlice<'_>> = bufs.iter().map(|b| std::io::IoSlice::new(b)).collect();
    disk.write_all_vectored_at(&slices, 0).unwrap();
    disk.read_exact_at(&mut [0u8; 16], 0).unwrap();
    disk.sync_data().unwrap();
    disk.allocate(1 << 16).unwrap();
    disk.set_len(1 << 15).unwrap();
    let _ = disk.len().unwrap();
    let _ = disk.read_exact_at(&mut [0u8; 1], 1 << 20); // past the end: still counted
    let counts = disk.counts();
    assert_eq!(counts.writes, 1);
    assert_eq!(
        counts.write_syscalls, 2,
        "IOV_MAX + 1 buffers need two pwritev calls"
    );
    assert_eq!(counts.bytes_written, 8 * (folio_io::IOV_MAX as u64 + 1));
    assert_eq!(counts.reads, 2);
    assert_eq!(counts.syncs, 1);
    assert_eq!(counts.allocates, 1);
    assert_eq!(counts.set_lens, 1);
    assert_eq!(counts.lens, 1);
    assert_eq!(counts.total(), 7);
}

#[test]
fn bit_flips_change_stored_data_in_both_images() {
    let disk = SimStorage::new(11);
    disk.write_all_at(&[0u8; 64], 0).unwrap();
    disk.sync_data().unwrap();
    assert!(disk.flip_bit(10, 3));
    let mut buf = [0u8; 64];
    disk.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(buf[10], 1 << 3);
    assert_eq!(disk.durable_image()[10], 1 << 3);
    let flips = disk.flip_random_bits(0..64, 5);
    assert_eq!(flips.len(), 5);
    assert!(flips.iter().all(|&(off, bit)| off < 64 && bit < 8));
    assert!(!disk.flip_bit(1000, 0), "past the end");
    disk.overwrite_stored(0, &[0xFF; 8]);
    let after = disk.crash(CrashPolicy::DropUnsynced);
    after.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf[..8], &[0xFF; 8]);
}

#[test]
fn directory_operations_fail_as_file_operations_do() {
    use folio_io::{Directory, SimDirectory};
    let device = SimDirectory::new(5);
    device.open("a", true).unwrap();
    // A failed entry change changes nothing.
    device.install_fault(FaultRule {
        kind: FaultKind::Io,
        ops: FaultOps::Mutations,
        nth: 0,
        persistent: false,
    });
    assert!(device.rename("a", "b").is_err());
    assert!(device.fault_fired());
    assert_eq!(device.list().unwrap(), ["a"]);
    device.clear_faults();
    // A failed directory sync leaves the change visible but not durable.
    device.install_fault(FaultRule {
        kind: FaultKind::Io,
        ops: FaultOps::Syncs,
        nth: 0,
        persistent: false,
    });
    assert!(device.open("c", true).is_err());
    assert_eq!(device.list().unwrap(), ["a", "c"]);
    assert_eq!(
        device.crash(CrashPolicy::DropUnsynced).list().unwrap(),
        ["a"]
    );
}
