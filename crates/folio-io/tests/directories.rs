//! Directories: real and simulated files by name; simulated files share one power line.

use folio_io::{CrashPolicy, Directory, FsDirectory, SimDirectory};

fn exercise(directory: &dyn Directory) {
    assert!(directory.list().unwrap().is_empty());
    assert!(
        directory.open("b", false).is_err(),
        "missing file without create"
    );
    let b = directory.open("b", true).unwrap();
    b.write_all_at(b"bee", 0).unwrap();
    b.sync_data().unwrap();
    drop(b);
    directory.open("a", true).unwrap();
    assert_eq!(
        directory.list().unwrap(),
        vec!["a".to_owned(), "b".to_owned()]
    );
    let mut buf = [0u8; 3];
    directory
        .open("b", false)
        .unwrap()
        .read_exact_at(&mut buf, 0)
        .unwrap();
    assert_eq!(&buf, b"bee");
    directory.remove("a").unwrap();
    directory.remove("never-existed").unwrap();
    assert_eq!(directory.list().unwrap(), vec!["b".to_owned()]);
    directory.rename("b", "c").unwrap();
    assert_eq!(directory.list().unwrap(), vec!["c".to_owned()]);
    let mut buf = [0u8; 3];
    directory
        .open("c", false)
        .unwrap()
        .read_exact_at(&mut buf, 0)
        .unwrap();
    assert_eq!(&buf, b"bee");
    assert!(directory.rename("missing", "x").is_err());
}

#[test]
fn fs_directory_creates_lists_and_removes() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&FsDirectory::open(dir.path().join("wal")).unwrap());
}

#[test]
fn sim_directory_creates_lists_and_removes() {
    exercise(&SimDirectory::new(1));
}

#[test]
fn one_power_cut_stops_every_file_and_the_crash_keeps_what_was_synced() {
    let device = SimDirectory::new(3);
    let a = device.open("a", true).unwrap(); // op 0
    let b = device.open("b", true).unwrap(); // op 1
    a.write_all_at(b"a-synced", 0).unwrap(); // op 2
    a.sync_data().unwrap(); // op 3
    device.cut_power_at(5);
    b.write_all_at(b"b-unsynced", 0).unwrap(); // op 4
    assert!(a.sync_data().is_err(), "op 5: no power on any file");
    assert!(b.sync_data().is_err());
    assert!(
        device.open("c", true).is_err(),
        "no power for directory operations either"
    );
    assert!(device.power_was_cut());
    let rebooted = device.crash(CrashPolicy::DropUnsynced);
    assert_eq!(
        rebooted.list().unwrap(),
        vec!["a".to_owned(), "b".to_owned()]
    );
    let mut buf = [0u8; 8];
    rebooted
        .open("a", false)
        .unwrap()
        .read_exact_at(&mut buf, 0)
        .unwrap();
    assert_eq!(&buf, b"a-synced");
    assert_eq!(rebooted.open("b", false).unwrap().len().unwrap(), 0);
    assert!(a.len().is_err(), "old handles are dead");
}
