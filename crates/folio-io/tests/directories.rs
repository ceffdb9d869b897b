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
    // Whole files: absent, replaced atomically, read back; nothing created by a lookup.
    assert!(directory.open_if_exists("whole").unwrap().is_none());
    assert_eq!(directory.read_file("whole").unwrap(), None);
    directory
        .replace_file("whole", "whole.new", b"first")
        .unwrap();
    directory
        .replace_file("whole", "whole.new", b"2nd")
        .unwrap();
    assert_eq!(
        directory.read_file("whole").unwrap().as_deref(),
        Some(&b"2nd"[..])
    );
    assert!(directory.open_if_exists("whole").unwrap().is_some());
    assert_eq!(
        directory.list().unwrap(),
        vec!["c".to_owned(), "whole".to_owned()]
    );
}

/// Subdirectories: their files are theirs alone, they list apart from files, nest, and go
/// with everything in them.
fn exercise_subdirectories(directory: &dyn Directory) {
    directory.open("top", true).unwrap();
    assert!(directory.list_subdirectories().unwrap().is_empty());
    let sub = directory.subdirectory("s").unwrap();
    sub.open("inner", true)
        .unwrap()
        .write_all_at(b"in", 0)
        .unwrap();
    let nested = sub.subdirectory("n").unwrap();
    nested.open("deep", true).unwrap();
    assert_eq!(directory.list().unwrap(), vec!["top".to_owned()]);
    assert_eq!(
        directory.list_subdirectories().unwrap(),
        vec!["s".to_owned()]
    );
    assert_eq!(sub.list().unwrap(), vec!["inner".to_owned()]);
    assert_eq!(sub.list_subdirectories().unwrap(), vec!["n".to_owned()]);
    assert_eq!(nested.list().unwrap(), vec!["deep".to_owned()]);
    assert!(directory.open("inner", false).is_err(), "not in the parent");
    // Opening it again finds what is there.
    let again = directory.subdirectory("s").unwrap();
    let mut buf = [0u8; 2];
    again
        .open("inner", false)
        .unwrap()
        .read_exact_at(&mut buf, 0)
        .unwrap();
    assert_eq!(&buf, b"in");
    directory.remove_subdirectory("s").unwrap();
    directory.remove_subdirectory("never-existed").unwrap();
    assert!(directory.list_subdirectories().unwrap().is_empty());
    assert_eq!(directory.list().unwrap(), vec!["top".to_owned()]);
    let fresh = directory.subdirectory("s").unwrap();
    assert!(
        fresh.list().unwrap().is_empty(),
        "nothing of the removed one is left"
    );
    assert!(fresh.list_subdirectories().unwrap().is_empty());
}

#[test]
fn fs_subdirectories() {
    let dir = tempfile::tempdir().unwrap();
    exercise_subdirectories(&FsDirectory::open(dir.path().join("d")).unwrap());
}

#[test]
fn sim_subdirectories() {
    exercise_subdirectories(&SimDirectory::new(5));
}

/// A simulated subdirectory's creation and removal are entry changes like a file's: a power
/// cut before the directory sync leaves the change to the crash policy, and a crash keeps
/// the synced files inside a subdirectory.
#[test]
fn sim_subdirectories_survive_and_undo_as_entries_do() {
    let device = SimDirectory::new(9);
    let sub = device.subdirectory("kept").unwrap(); // ops 0-1
    let file = sub.open("f", true).unwrap(); // ops 2-3
    file.write_all_at(b"data", 0).unwrap(); // op 4
    file.sync_data().unwrap(); // op 5
    drop(file);
    device.cut_power_at(device.operations() + 1);
    assert!(
        device.subdirectory("lost").is_err(),
        "the sync has no power"
    );
    let rebooted = device.crash(CrashPolicy::DropUnsynced);
    assert_eq!(
        rebooted.list_subdirectories().unwrap(),
        vec!["kept".to_owned()]
    );
    let mut buf = [0u8; 4];
    rebooted
        .subdirectory("kept")
        .unwrap()
        .open("f", false)
        .unwrap()
        .read_exact_at(&mut buf, 0)
        .unwrap();
    assert_eq!(&buf, b"data");
    rebooted.cut_power_at(rebooted.operations() + 1);
    assert!(rebooted.remove_subdirectory("kept").is_err());
    let again = rebooted.crash(CrashPolicy::DropUnsynced);
    assert_eq!(
        again.subdirectory("kept").unwrap().list().unwrap(),
        vec!["f".to_owned()],
        "an unsynced removal is undone with its files"
    );
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
    let a = device.open("a", true).unwrap(); // ops 0-1: the entry, the directory sync
    let b = device.open("b", true).unwrap(); // ops 2-3
    a.write_all_at(b"a-synced", 0).unwrap(); // op 4
    a.sync_data().unwrap(); // op 5
    device.cut_power_at(7);
    b.write_all_at(b"b-unsynced", 0).unwrap(); // op 6
    assert!(a.sync_data().is_err(), "op 7: no power on any file");
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

/// A device with a synced file `old` holding `bee`, and the power cut at the directory sync
/// of the next entry change (`change`), which therefore fails.
fn cut_at_the_sync_of(change: impl FnOnce(&SimDirectory) -> folio_io::Result<()>) -> SimDirectory {
    let device = SimDirectory::new(3);
    let file = device.open("old", true).unwrap();
    file.write_all_at(b"bee", 0).unwrap();
    file.sync_data().unwrap();
    drop(file);
    device.cut_power_at(device.operations() + 1); // the entry change runs, its sync does not
    assert!(
        change(&device).is_err(),
        "the change's directory sync had no power"
    );
    device
}

fn names_after(device: &SimDirectory, policy: CrashPolicy) -> Vec<String> {
    device.crash(policy).list().unwrap()
}

#[test]
fn an_entry_change_cut_before_its_directory_sync_is_up_to_the_crash() {
    let renamed = || cut_at_the_sync_of(|d| d.rename("old", "new"));
    assert_eq!(names_after(&renamed(), CrashPolicy::DropUnsynced), ["old"]);
    assert_eq!(names_after(&renamed(), CrashPolicy::KeepUnsynced), ["new"]);
    let created = || cut_at_the_sync_of(|d| d.open("made", true).map(drop));
    assert_eq!(names_after(&created(), CrashPolicy::DropUnsynced), ["old"]);
    assert_eq!(
        names_after(&created(), CrashPolicy::KeepUnsynced),
        ["made", "old"]
    );
    let removed = || cut_at_the_sync_of(|d| d.remove("old"));
    assert_eq!(names_after(&removed(), CrashPolicy::DropUnsynced), ["old"]);
    assert!(names_after(&removed(), CrashPolicy::KeepUnsynced).is_empty());
    // A file that comes back keeps its synced contents.
    let back = renamed().crash(CrashPolicy::DropUnsynced);
    let mut buf = [0u8; 3];
    back.open("old", false)
        .unwrap()
        .read_exact_at(&mut buf, 0)
        .unwrap();
    assert_eq!(&buf, b"bee");
    // Random keeps or drops it, both across seeds.
    let outcomes: std::collections::BTreeSet<Vec<String>> = (0..16)
        .map(|seed| {
            let device = SimDirectory::new(seed);
            device.open("old", true).unwrap();
            device.cut_power_at(device.operations() + 1);
            assert!(device.rename("old", "new").is_err());
            names_after(&device, CrashPolicy::Random)
        })
        .collect();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
}

/// A sync-hook directory's subdirectories run its hook too.
#[test]
fn a_sync_hook_covers_the_files_of_subdirectories() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let syncs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&syncs);
    let hooked = folio_io::SyncHookDirectory::new(
        SimDirectory::new(11),
        Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let file = hooked.subdirectory("s").unwrap().open("f", true).unwrap();
    file.write_all_at(b"x", 0).unwrap();
    file.sync_data().unwrap();
    assert_eq!(syncs.load(Ordering::SeqCst), 1);
}
