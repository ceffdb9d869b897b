//! A checkpoint costs one write call per contiguous run of pages plus one for the header, and
//! exactly two data syncs, counted on the simulated disk.

mod common;

use std::sync::Arc;

use common::{small_options, tagged_page};
use folio_io::SimStorage;
use folio_pagestore::PageStore;

#[test]
fn interleaved_owners_pages_go_out_in_few_runs() {
    let disk = SimStorage::new(0);
    let store = PageStore::create(Arc::new(disk.clone()), small_options()).unwrap();
    // Two owners interleave their extents; together the pages are contiguous.
    let mut writers = [store.writer(), store.writer()];
    for round in 0..100u64 {
        for writer in &mut writers {
            let id = writer.allocate().unwrap();
            writer.write(id, tagged_page(&store, id, round));
        }
    }
    writers[0].commit(1);
    writers[1].commit(2);
    disk.reset_counts();
    let stats = store.checkpoint(2, b"").unwrap();
    let counts = disk.counts();
    assert_eq!(stats.pages_written, 200);
    // Each writer still reserves the rest of its last extent (4 pages): free in the
    // checkpoint, so they are listed in one free-list page.
    assert_eq!(stats.freelist_pages, 1);
    assert_eq!(store.allocation_report().free.page_count(), 8);
    // The pages written are every page not free; count their contiguous runs.
    let report = store.allocation_report();
    let written: Vec<u64> = (0..report.high_water)
        .filter(|p| !report.free.contains(*p))
        .collect();
    let expected_runs = 1 + written.windows(2).filter(|w| w[1] != w[0] + 1).count() as u64;
    assert_eq!(stats.runs, expected_runs, "{stats:?}");
    assert!(
        stats.runs <= 3,
        "200 pages from two owners in few runs: {stats:?}"
    );
    assert_eq!(
        counts.writes,
        stats.runs + 1,
        "one per run plus the header slot"
    );
    assert_eq!(counts.write_syscalls, counts.writes);
    assert_eq!(counts.syncs, 2);
    assert!(counts.allocates <= 1, "growth is one preallocation");
    assert_eq!(stats.write_calls, counts.writes);
}

#[test]
fn freed_holes_make_separate_runs_and_a_free_list() {
    let disk = SimStorage::new(0);
    let store = PageStore::create(Arc::new(disk.clone()), small_options()).unwrap();
    let mut writer = store.writer();
    let ids: Vec<_> = (0..64u64)
        .map(|tag| {
            let id = writer.allocate().unwrap();
            writer.write(id, tagged_page(&store, id, tag));
            id
        })
        .collect();
    writer.commit(1);
    store.checkpoint(1, b"").unwrap();
    // Free every fourth page; they become reusable once a second checkpoint replaced the
    // header slot that still names them. Then fill the holes.
    for id in ids.iter().step_by(4) {
        writer.free(*id);
    }
    writer.commit(2);
    store.checkpoint(2, b"").unwrap();
    store.checkpoint(2, b"").unwrap();
    drop(writer);
    let mut writer = store.writer();
    for tag in 0..16 {
        let id = writer.allocate().unwrap();
        assert!(
            id.0 < 64 && id.0.is_multiple_of(4),
            "holes are reused first, got {id}"
        );
        writer.write(id, tagged_page(&store, id, 100 + tag));
    }
    writer.commit(3);
    disk.reset_counts();
    let stats = store.checkpoint(3, b"").unwrap();
    assert_eq!(stats.pages_written, 16);
    assert_eq!(disk.counts().writes, stats.runs + 1);
    assert_eq!(disk.counts().syncs, 2);
}

/// Copy-on-write leaves superseded versions behind: pages written and freed between two
/// checkpoints, unreachable by readers, are neither written nor kept: given back for reuse
/// at once when no checkpoint came between (young), dropped by the checkpoint otherwise.
#[test]
fn superseded_pages_no_reader_can_reach_are_not_written() {
    for (readers_hold_version_one, checkpoint_between) in
        [(false, false), (false, true), (true, false)]
    {
        let disk = SimStorage::new(0);
        let store = PageStore::create(Arc::new(disk.clone()), small_options()).unwrap();
        store.set_reader_horizon(0);
        let mut writer = store.writer();
        let old = writer.allocate().unwrap();
        writer.write(old, tagged_page(&store, old, 1));
        writer.commit(1);
        if checkpoint_between {
            store.set_reader_horizon(1);
            store.checkpoint(1, b"").unwrap();
        }
        let new = writer.allocate().unwrap();
        writer.write(new, tagged_page(&store, new, 2));
        writer.free(old);
        writer.commit(2);
        store.set_reader_horizon(if readers_hold_version_one { 1 } else { 2 });
        if !readers_hold_version_one && !checkpoint_between {
            // Young: a writer whose reserved pages ran out reuses it before any checkpoint
            // covered its freeing.
            let mut other = store.writer();
            assert_eq!(other.allocate().unwrap(), old);
        }
        let young_reused = store.stats().young_pages_reused;
        let stats = store.checkpoint(2, b"").unwrap();
        let dropped = (stats.garbage_pages_dropped, young_reused);
        if readers_hold_version_one {
            // A reader at version 1 can still reach `old`: it is written and kept.
            assert_eq!((stats.pages_written, dropped), (2, (0, 0)));
            common::check_tagged(&store.read(old).unwrap(), old, 1);
        } else if checkpoint_between {
            // `old` was written by the first checkpoint: only the second one frees it.
            assert_eq!((stats.pages_written, dropped), (1, (1, 0)));
        } else {
            assert_eq!((stats.pages_written, dropped), (1, (0, 1)));
            assert_eq!(store.stats().cache.dirty_pages, 0);
        }
        common::check_tagged(&store.read(new).unwrap(), new, 2);
    }
}
