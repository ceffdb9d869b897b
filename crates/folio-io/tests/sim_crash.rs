//! The simulated disk's crash policies really drop, keep, tear and reorder unsynced writes.

use folio_io::{CrashPolicy, SECTOR_BYTES, SimStorage, Storage};

fn read_all(disk: &SimStorage) -> Vec<u8> {
    let mut buf = vec![0u8; disk.len().unwrap() as usize];
    disk.read_exact_at(&mut buf, 0).unwrap();
    buf
}

#[test]
fn synced_writes_survive_every_policy() {
    for policy in [
        CrashPolicy::DropUnsynced,
        CrashPolicy::KeepUnsynced,
        CrashPolicy::TearUnsynced,
        CrashPolicy::Random,
    ] {
        let disk = SimStorage::new(7);
        disk.write_all_at(&[1u8; 4096], 0).unwrap();
        disk.sync_data().unwrap();
        disk.write_all_at(&[2u8; 4096], 4096).unwrap(); // unsynced, elsewhere
        let after = disk.crash(policy);
        let image = after.durable_image();
        assert_eq!(&image[..4096], &[1u8; 4096][..], "{policy:?}");
    }
}

#[test]
fn drop_loses_and_keep_keeps_unsynced_writes() {
    let disk = SimStorage::new(1);
    disk.write_all_at(b"aaaa", 0).unwrap();
    disk.sync_data().unwrap();
    disk.write_all_at(b"bbbb", 0).unwrap();
    assert_eq!(read_all(&disk), b"bbbb", "reads see volatile writes");
    assert_eq!(disk.unsynced_ops(), 1);

    let dropped = disk.clone().crash(CrashPolicy::DropUnsynced);
    assert_eq!(read_all(&dropped), b"aaaa");

    let disk = SimStorage::new(1);
    disk.write_all_at(b"aaaa", 0).unwrap();
    disk.sync_data().unwrap();
    disk.write_all_at(b"bbbb", 0).unwrap();
    let kept = disk.crash(CrashPolicy::KeepUnsynced);
    assert_eq!(read_all(&kept), b"bbbb");
}

#[test]
fn crashed_handle_is_dead() {
    let disk = SimStorage::new(3);
    let other_handle = disk.clone();
    let _fresh = disk.crash(CrashPolicy::DropUnsynced);
    assert!(matches!(
        other_handle.write_all_at(b"x", 0),
        Err(folio_io::Error::Crashed)
    ));
    assert!(other_handle.sync_data().is_err());
}

#[test]
fn tearing_happens_at_sector_granularity() {
    // Over many seeds, an 8-sector unsynced overwrite is torn: some sectors new, some old,
    // and never a sector that is half old and half new.
    let sectors = 8;
    let mut saw_mixed = false;
    for seed in 0..32 {
        let disk = SimStorage::new(seed);
        disk.write_all_at(&vec![0xAA; sectors * SECTOR_BYTES], 0)
            .unwrap();
        disk.sync_data().unwrap();
        disk.write_all_at(&vec![0xBB; sectors * SECTOR_BYTES], 0)
            .unwrap();
        let image = disk.crash(CrashPolicy::TearUnsynced).durable_image();
        let mut new_sectors = 0;
        for sector in image.chunks(SECTOR_BYTES) {
            let first = sector[0];
            assert!(sector.iter().all(|&b| b == first), "torn inside a sector");
            if first == 0xBB {
                new_sectors += 1;
            }
        }
        if new_sectors > 0 && new_sectors < sectors {
            saw_mixed = true;
        }
    }
    assert!(saw_mixed, "tearing never produced a partial write");
}

#[test]
fn random_policy_reorders_overlapping_writes() {
    // Two unsynced writes to the same sector: in issue order the second wins; the random
    // policy must sometimes let the first win (reordering) and sometimes drop both.
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let disk = SimStorage::new(seed);
        disk.write_all_at(&[0u8; SECTOR_BYTES], 0).unwrap();
        disk.sync_data().unwrap();
        disk.write_all_at(&[1u8; SECTOR_BYTES], 0).unwrap();
        disk.write_all_at(&[2u8; SECTOR_BYTES], 0).unwrap();
        let image = disk.crash(CrashPolicy::Random).durable_image();
        outcomes.insert(image[0]);
    }
    assert_eq!(
        outcomes.into_iter().collect::<Vec<_>>(),
        vec![0, 1, 2],
        "old data, the older write (reordered) and the newer write must all occur"
    );
}

#[test]
fn crashes_are_deterministic_per_seed() {
    let run = |seed| {
        let disk = SimStorage::new(seed);
        for i in 0..16u64 {
            disk.write_all_at(&[i as u8; 1000], i * 700).unwrap();
        }
        disk.crash(CrashPolicy::Random).durable_image()
    };
    assert_eq!(run(99), run(99));
    assert_ne!(run(99), run(100));
}

#[test]
fn unsynced_length_changes_are_subject_to_the_crash() {
    let disk = SimStorage::new(5);
    disk.allocate(8192).unwrap();
    assert_eq!(disk.len().unwrap(), 8192);
    let after = disk.crash(CrashPolicy::DropUnsynced);
    assert_eq!(after.len().unwrap(), 0, "unsynced growth is lost");

    let disk = SimStorage::new(5);
    disk.allocate(8192).unwrap();
    disk.sync_data().unwrap();
    disk.set_len(100).unwrap();
    assert_eq!(disk.crash(CrashPolicy::DropUnsynced).len().unwrap(), 8192);
}

#[test]
fn power_cut_refuses_later_operations_but_keeps_pending_writes_for_the_crash() {
    let disk = SimStorage::new(2);
    disk.cut_power_at(2);
    disk.write_all_at(b"first", 0).unwrap(); // op 0
    disk.write_all_at(b"second", 5).unwrap(); // op 1
    assert!(!disk.power_was_cut());
    assert!(matches!(disk.sync_data(), Err(folio_io::Error::Crashed))); // op 2: no effect
    assert!(disk.power_was_cut());
    assert_eq!(
        disk.unsynced_ops(),
        2,
        "the refused sync neither synced nor dropped"
    );
    let kept = disk.crash(CrashPolicy::KeepUnsynced);
    assert_eq!(read_all(&kept), b"firstsecond");
}

#[test]
fn sweep_power_cuts_visits_every_cut_under_every_policy() {
    let mut seen = std::collections::BTreeSet::new();
    let report = folio_io::sweep_power_cuts(0..2, |cut, policy, seed| {
        seen.insert((format!("{policy:?}"), seed, cut));
        cut < 3 + seed // scenario of 3 operations for seed 0, 4 for seed 1
    });
    assert_eq!(report.shortest_scenario, 3);
    assert_eq!(report.points, 4 * (3 + 4));
    assert_eq!(
        seen.len(),
        4 * (4 + 5),
        "each cut index once, plus the final uncut run"
    );
}
