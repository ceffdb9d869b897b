//! The simulated directory locks files as the real one does, so code that opens a file it
//! already holds fails in simulation exactly as it would on a real file system.

use folio_io::{Directory, Error, FsDirectory, SimDirectory};

fn check_locks(directory: &dyn Directory) {
    let first = directory.open("a", true).unwrap();
    assert!(matches!(
        directory.open("a", true),
        Err(Error::AlreadyOpen { .. })
    ));
    drop(first);
    let again = directory.open("a", false).unwrap();
    // The lock follows the file through a rename.
    directory.rename("a", "b").unwrap();
    assert!(matches!(
        directory.open("b", false),
        Err(Error::AlreadyOpen { .. })
    ));
    drop(again);
    directory.open("b", false).unwrap();
    // A removed file's name is free again.
    let held = directory.open("c", true).unwrap();
    directory.remove("c").unwrap();
    directory.open("c", true).unwrap();
    drop(held);
}

#[test]
fn a_file_open_in_the_simulated_directory_cannot_be_opened_again() {
    check_locks(&SimDirectory::new(1));
}

#[test]
fn the_real_directory_behaves_the_same() {
    let dir = tempfile::tempdir().unwrap();
    check_locks(&FsDirectory::open(dir.path()).unwrap());
}

#[test]
fn a_crash_releases_every_lock() {
    let device = SimDirectory::new(2);
    let _held = device.open("a", true).unwrap();
    let rebooted = device.crash(folio_io::CrashPolicy::DropUnsynced);
    rebooted.open("a", false).unwrap();
}
