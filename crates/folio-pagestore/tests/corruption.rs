//! Corruption of stored bytes (bit flips, zeroed sectors, torn pages) in every region of a
//! page and of the header: opening and reading either work with the right data or return a
//! typed error naming what is wrong; never wrong data, never a panic.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{AtRest, check_tagged, decode_roots, encode_roots, options_at, tagged_page};
use folio_io::{CrashPolicy, SECTOR_BYTES, SimStorage};
use folio_pagestore::{Error, HEADER_SLOT_BYTES, PageId, PageStore, PageWriter};

/// A disk holding two checkpoints (versions 1 and 2) of a few pages, none freed (so the
/// older slot's pages are intact too), closed cleanly.
fn prepared_disk(seed: u64, at_rest: AtRest) -> (SimStorage, BTreeMap<u64, BTreeMap<PageId, u64>>) {
    let disk = SimStorage::new(seed);
    let store = PageStore::create(Arc::new(disk.clone()), options_at(at_rest)).unwrap();
    let mut writer = store.writer();
    let states = checkpoint_two_versions(&store, &mut writer);
    drop((writer, store));
    (disk.crash(CrashPolicy::DropUnsynced), states)
}

/// Writes versions 1 and 2 of six tagged pages each (page tag `version * 10 + i`), each
/// made durable by a checkpoint; returns the live pages and their tags by version.
fn checkpoint_two_versions(
    store: &PageStore,
    writer: &mut PageWriter,
) -> BTreeMap<u64, BTreeMap<PageId, u64>> {
    let mut states = BTreeMap::new();
    let mut live = BTreeMap::new();
    for version in 1..=2u64 {
        for i in 0..6 {
            let id = writer.allocate().unwrap();
            writer.write(id, tagged_page(store, id, version * 10 + i));
            live.insert(id, version * 10 + i);
        }
        writer.commit(version);
        store
            .checkpoint(version, &encode_roots(version, &live))
            .unwrap();
        states.insert(version, live.clone());
    }
    states
}

/// Opens and reads every live page; returns how many reads failed with a typed error.
fn open_and_read(
    at_rest: AtRest,
    disk: &SimStorage,
    states: &BTreeMap<u64, BTreeMap<PageId, u64>>,
) -> Result<usize, Error> {
    let store = PageStore::open(Arc::new(disk.clone()), options_at(at_rest))?;
    let (version, live) = decode_roots(&store.roots());
    assert_eq!(
        &live, &states[&version],
        "header decoded to a state that never existed"
    );
    let mut failures = 0;
    for (&id, &tag) in &live {
        match store.read(id) {
            Ok(page) => check_tagged(&page, id, tag),
            Err(Error::CorruptPage { page, .. }) => {
                assert_eq!(page, id, "the error names another page");
                failures += 1;
            }
            Err(other) => panic!("untyped failure reading {id}: {other}"),
        }
    }
    Ok(failures)
}

fn fresh_copy(disk: &SimStorage, seed: u64) -> SimStorage {
    SimStorage::from_image(disk.durable_image(), seed)
}

folio_io::plain_and_encrypted!(
    a_flip_anywhere_in_a_data_page_is_detected_on_read,
    a_flip_anywhere_in_a_data_page_is_detected_on_read_encrypted,
    a_flip_anywhere_in_a_data_page_is_detected_on_read_body
);

fn a_flip_anywhere_in_a_data_page_is_detected_on_read_body(at_rest: AtRest) {
    let (disk, states) = prepared_disk(1, at_rest);
    let layout = folio_pagestore::Layout::new(4096);
    let target = *states[&2].keys().nth(3).unwrap();
    let start = layout.offset(target);
    // Every byte of the trailer, and a spread of payload bytes (header, middle, end).
    let offsets = (0..4096u64).filter(|b| b % 37 == 0 || *b >= 4096 - 8);
    for (n, byte) in offsets.enumerate() {
        let copy = fresh_copy(&disk, n as u64);
        copy.flip_bit(start + byte, (n % 8) as u8);
        let failures = open_and_read(at_rest, &copy, &states).expect("header untouched");
        assert_eq!(
            failures, 1,
            "flip at byte {byte} of page {target} went unnoticed"
        );
    }
}

folio_io::plain_and_encrypted!(
    zeroed_sectors_and_torn_pages_are_detected,
    zeroed_sectors_and_torn_pages_are_detected_encrypted,
    zeroed_sectors_and_torn_pages_are_detected_body
);

fn zeroed_sectors_and_torn_pages_are_detected_body(at_rest: AtRest) {
    let (disk, states) = prepared_disk(2, at_rest);
    let layout = folio_pagestore::Layout::new(4096);
    for (n, &id) in states[&2].keys().enumerate() {
        for sector in 0..(4096 / SECTOR_BYTES) as u64 {
            let copy = fresh_copy(&disk, n as u64);
            let at = layout.offset(id) + sector * SECTOR_BYTES as u64;
            if n % 2 == 0 {
                copy.overwrite_stored(at, &[0u8; SECTOR_BYTES]);
            } else {
                // A torn page: this sector holds another page's bytes.
                let other = layout.offset(PageId((id.0 + 1) % 12));
                let foreign =
                    copy.durable_image()[other as usize..other as usize + SECTOR_BYTES].to_vec();
                copy.overwrite_stored(at, &foreign);
            }
            assert_eq!(open_and_read(at_rest, &copy, &states).unwrap(), 1);
        }
    }
}

folio_io::plain_and_encrypted!(
    a_damaged_newest_slot_never_yields_other_data,
    a_damaged_newest_slot_never_yields_other_data_encrypted,
    a_damaged_newest_slot_never_yields_other_data_body
);

fn a_damaged_newest_slot_never_yields_other_data_body(at_rest: AtRest) {
    let (disk, states) = prepared_disk(3, at_rest);
    // Version 2 is sequence 3, in slot 1. Version 1's pages were never freed, so falling
    // back to its slot reads version 1 exactly.
    let newest = HEADER_SLOT_BYTES as u64;
    for byte in (0..HEADER_SLOT_BYTES as u64).step_by(61) {
        let copy = fresh_copy(&disk, byte);
        copy.flip_bit(newest + byte, (byte % 8) as u8);
        let store = PageStore::open(Arc::new(copy.clone()), options_at(at_rest)).unwrap();
        assert_eq!(store.durable_version(), 1, "flip at slot byte {byte}");
        drop(store);
        assert_eq!(open_and_read(at_rest, &copy, &states).unwrap(), 0);
    }
    // An open that only reads writes nothing, not even to retire the older slot.
    let reopened = fresh_copy(&disk, 0);
    drop(PageStore::open(Arc::new(reopened.clone()), options_at(at_rest)).unwrap());
    assert!(
        reopened.durable_image() == disk.durable_image(),
        "a read-only session wrote"
    );
    // Damage to the older slot does not matter.
    let copy = fresh_copy(&reopened, 0);
    copy.flip_bit(100, 1);
    assert_eq!(
        PageStore::open(Arc::new(copy), options_at(at_rest))
            .unwrap()
            .durable_version(),
        2
    );
}

/// Version 3 frees the pages only version 2 reached; versions 4 and 5 allocate pages (a
/// store that reused freed pages as soon as one checkpoint covered the free would write
/// version 2's pages in checkpoint 4, while the older header slot still names version 2);
/// the power is cut at operation `cut` of checkpoints 4 and 5; then a header slot rots (each
/// in turn). Opening must fail with a typed error or read exactly the state it names. With
/// `reopen`, the store is reopened after checkpoint 3 (its free set then holds version 2's
/// pages, so the first write of pages must retire version 2's slot first).
/// The crash keeps unsynced writes as `policy` says (`seed` drives its choices). Returns
/// whether the power was cut (false once both checkpoints complete).
fn rot_after_reuse(
    cut: u64,
    policy: CrashPolicy,
    seed: u64,
    reopen: bool,
    at_rest: AtRest,
) -> bool {
    let disk = SimStorage::new(seed);
    let store = PageStore::create(Arc::new(disk.clone()), options_at(at_rest)).unwrap();
    let mut writer = store.writer();
    let mut states = checkpoint_two_versions(&store, &mut writer);
    let mut live = states[&2].clone();
    let version_2_pages: Vec<PageId> = live
        .iter()
        .filter(|&(_, tag)| tag / 10 == 2)
        .map(|(id, _)| *id)
        .collect();
    for id in &version_2_pages {
        writer.free(*id);
        live.remove(id);
    }
    writer.commit(3);
    store.checkpoint(3, &encode_roots(3, &live)).unwrap();
    states.insert(3, live.clone());
    drop(writer);
    // A reopen starts from version 3's free set, which holds version 2's pages at once.
    let store = if reopen {
        drop(store);
        PageStore::open(Arc::new(disk.clone()), options_at(at_rest)).unwrap()
    } else {
        store
    };
    disk.cut_power_at(disk.counts().total() + cut);
    let mut reused = false;
    for version in 4..=5u64 {
        let mut writer = store.writer();
        for i in 0..6 {
            // After a cut the store is poisoned and hands out nothing more.
            let Ok(id) = writer.allocate() else { break };
            reused |= version_2_pages.contains(&id);
            writer.write(id, tagged_page(&store, id, version * 10 + i));
            live.insert(id, version * 10 + i);
        }
        writer.commit(version);
        states.insert(version, live.clone());
        let _ = store.checkpoint(version, &encode_roots(version, &live));
    }
    let was_cut = disk.power_was_cut();
    if !was_cut {
        assert!(reused, "version 2's pages are reused in the end");
    }
    drop(store);
    let crashed = disk.crash(policy);
    // Rot each slot in turn: one of them is the newest.
    for slot in 0..2u64 {
        let copy = fresh_copy(&crashed, slot);
        copy.flip_bit(slot * HEADER_SLOT_BYTES as u64 + 100, 3);
        match open_and_read(at_rest, &copy, &states) {
            Ok(failures) => assert_eq!(
                failures, 0,
                "cut {cut} ({policy:?}, seed {seed}), slot {slot}: a page failed"
            ),
            Err(Error::CorruptHeader { .. }) => {}
            Err(other) => panic!("cut {cut} ({policy:?}, seed {seed}), slot {slot}: {other}"),
        }
    }
    was_cut
}

folio_io::plain_and_encrypted!(
    header_rot_after_page_reuse_never_returns_other_data,
    header_rot_after_page_reuse_never_returns_other_data_encrypted,
    header_rot_after_page_reuse_never_returns_other_data_body
);

fn header_rot_after_page_reuse_never_returns_other_data_body(at_rest: AtRest) {
    for reopen in [false, true] {
        let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(1), |cut, policy, seed| {
            rot_after_reuse(cut, policy, seed, reopen, at_rest)
        });
        assert!(
            report.shortest_scenario > 6,
            "checkpoints 4 and 5 span several operations: {report:?}"
        );
    }
}

folio_io::plain_and_encrypted!(
    both_slots_damaged_is_a_typed_error,
    both_slots_damaged_is_a_typed_error_encrypted,
    both_slots_damaged_is_a_typed_error_body
);

fn both_slots_damaged_is_a_typed_error_body(at_rest: AtRest) {
    let (disk, _) = prepared_disk(4, at_rest);
    let copy = fresh_copy(&disk, 0);
    copy.flip_bit(20, 0);
    copy.flip_bit(HEADER_SLOT_BYTES as u64 + 20, 0);
    let error = PageStore::open(Arc::new(copy), options_at(at_rest)).unwrap_err();
    assert!(matches!(error, Error::CorruptHeader { .. }), "{error}");
    assert!(error.to_string().contains("slot 0"), "{error}");
}

folio_io::plain_and_encrypted!(
    random_flips_anywhere_never_yield_wrong_data,
    random_flips_anywhere_never_yield_wrong_data_encrypted,
    random_flips_anywhere_never_yield_wrong_data_body
);

fn random_flips_anywhere_never_yield_wrong_data_body(at_rest: AtRest) {
    let (disk, states) = prepared_disk(5, at_rest);
    let len = disk.durable_image().len() as u64;
    let mut typed_errors = 0;
    for seed in 0..300 {
        let copy = fresh_copy(&disk, seed);
        copy.flip_random_bits(0..len, 1 + (seed % 4) as usize);
        match open_and_read(at_rest, &copy, &states) {
            Ok(failures) => typed_errors += failures,
            Err(Error::CorruptHeader { .. } | Error::CorruptPage { .. } | Error::NotAFolioFile) => {
                typed_errors += 1;
            }
            Err(other) => panic!("seed {seed}: unexpected error kind: {other}"),
        }
    }
    assert!(
        typed_errors > 0,
        "no flip ever hit live data: the test is not looking"
    );
}
