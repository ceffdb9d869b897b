//! Bulk loads: chunks become durable by checkpoint without logging their data; a power cut
//! at any operation keeps every acknowledged chunk and commit and no unacknowledged half.

use folio_tests::{AtRest, AtRestOptions};
use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, SimDirectory};

const CHUNKS: u64 = 3;
const PER_CHUNK: u64 = 40;

fn options() -> DatabaseOptions {
    folio_tests::small_options()
}

fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

#[test]
fn large_loads_flush_in_chunks_and_survive_a_crash_without_logging_data() {
    let mut options = options();
    options.checkpoint_dirty_bytes = 256 * 1024;
    options.dirty_bytes_max = Some(1 << 20);
    let device = SimDirectory::new(3);
    let db = Database::open_in(Arc::new(device.clone()), options.clone()).unwrap();
    db.create_cf("bulk").unwrap();
    let log_before = db.stats().wal.commit.bytes;
    let mut load = db.bulk_load("bulk").unwrap();
    for i in 0..20_000u64 {
        load.put(&key(i), &[i as u8; 100]).unwrap();
        // Invariant 9: a load's unflushed pages (dirty, and the chunk's own) stay under the
        // bound, chunk after chunk.
        let stats = db.stats().page_store;
        let dirty = stats.cache.dirty_bytes + stats.private_bytes;
        assert!(
            dirty <= options.dirty_bytes_bound(),
            "{dirty} dirty bytes at entry {i}"
        );
    }
    load.finish().unwrap();
    let stats = db.stats();
    assert!(stats.page_store.checkpoints >= 3, "{stats:?}");
    assert!(
        stats.wal.commit.bytes - log_before < 64 * 1024,
        "the load's data went into the log"
    );
    drop(db);
    let db = Database::open_in(Arc::new(device.crash(CrashPolicy::DropUnsynced)), options).unwrap();
    let read = db.begin_read();
    assert_eq!(read.len("bulk").unwrap(), 20_000);
    assert_eq!(
        &*read.get("bulk", &key(12_345)).unwrap().unwrap(),
        &[12_345u64 as u8; 100]
    );
    let tree = read.tree("bulk").unwrap();
    tree.verify().unwrap();
}

#[test]
fn a_dropped_loader_discards_what_it_did_not_flush_and_writers_continue() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("a").unwrap();
    let mut load = db.bulk_load("a").unwrap();
    load.put(b"kept", b"1").unwrap();
    load.flush_chunk().unwrap();
    load.put(b"discarded", b"2").unwrap();
    drop(load);
    let mut txn = db.begin_write(&["a"]).unwrap();
    txn.put("a", b"after", b"3").unwrap();
    txn.commit().unwrap();
    let read = db.begin_read();
    assert!(read.get("a", b"kept").unwrap().is_some());
    assert!(read.get("a", b"discarded").unwrap().is_none());
    assert_eq!(read.len("a").unwrap(), 2);
    assert!(db.bulk_load("missing").is_err());
}

/// Acknowledged steps of the crash scenario.
#[derive(Default)]
struct Acked {
    first_commit: bool,
    chunks: u64,
    last_commit: bool,
}

fn scenario(db: &Database, acked: &mut Acked) -> folio::Result<()> {
    db.create_cf("a")?;
    db.create_cf("b")?;
    let mut txn = db.begin_write(&["a"])?;
    txn.put("a", b"first", b"1")?;
    txn.commit_with(Durability::Immediate)?;
    acked.first_commit = true;
    let mut load = db.bulk_load("b")?;
    for chunk in 0..CHUNKS {
        for i in 0..PER_CHUNK {
            load.put(&key(chunk * PER_CHUNK + i), &[chunk as u8; 300])?;
        }
        load.flush_chunk()?;
        acked.chunks += 1;
    }
    drop(load);
    let mut txn = db.begin_write(&["a", "b"])?;
    txn.put("a", b"last", b"1")?;
    txn.put("b", b"last", b"1")?;
    txn.commit_with(Durability::Immediate)?;
    acked.last_commit = true;
    Ok(())
}

fn crash_at(cut: u64, policy: CrashPolicy, seed: u64, at_rest: AtRest) -> bool {
    let device = SimDirectory::new(seed);
    device.cut_power_at(cut);
    let mut acked = Acked::default();
    if let Ok(db) = Database::open_in(Arc::new(device.clone()), at_rest.apply(options())) {
        let _ = scenario(&db, &mut acked);
    }
    let was_cut = device.power_was_cut();
    let context = format!("cut at {cut}, {policy:?}, seed {seed}");
    let db = Database::open_in(Arc::new(device.crash(policy)), at_rest.apply(options()))
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    let read = db.begin_read();
    if acked.first_commit {
        assert!(read.get("a", b"first").unwrap().is_some(), "{context}");
    }
    if read.cf_names().len() < 2 {
        return was_cut;
    }
    let tree = read.tree("b").unwrap();
    tree.verify().unwrap();
    let last = read.get("b", b"last").unwrap().is_some();
    assert_eq!(
        last,
        read.get("a", b"last").unwrap().is_some(),
        "{context}: torn commit"
    );
    assert!(
        last || !acked.last_commit,
        "{context}: acknowledged commit lost"
    );
    let loaded = read.len("b").unwrap() - u64::from(last);
    assert_eq!(loaded % PER_CHUNK, 0, "{context}: a chunk is half there");
    assert!(
        loaded / PER_CHUNK >= acked.chunks,
        "{context}: acknowledged chunk lost"
    );
    if last {
        assert_eq!(
            loaded,
            CHUNKS * PER_CHUNK,
            "{context}: commit after a lost chunk"
        );
    }
    for i in 0..loaded {
        assert!(
            read.get("b", &key(i)).unwrap().is_some(),
            "{context}: hole at {i}"
        );
    }
    was_cut
}

#[test]
fn power_cut_at_every_operation_of_a_bulk_load() {
    bulk_load_sweep(AtRest::Plain);
}

#[test]
fn power_cut_at_every_operation_of_a_bulk_load_encrypted() {
    bulk_load_sweep(AtRest::Encrypted);
}

fn bulk_load_sweep(at_rest: AtRest) {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(2), |cut, policy, seed| {
        crash_at(cut, policy, seed, at_rest)
    });
    assert!(report.points >= 200, "{report:?}");
    println!("bulk-load crash points covered: {}", report.points);
}
