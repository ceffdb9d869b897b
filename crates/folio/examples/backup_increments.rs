//! What an incremental backup costs against a full one: loads a database, takes a full
//! `backup_to` and the chain's first (full) increment, then changes 1 % and 10 % of the
//! keys and takes an increment after each; prints bytes and time of each.
//!
//! Run: `cargo run --release -p folio --example backup_increments [KEYS]` (default 200,000
//! keys of 8 bytes with 200-byte values).

use std::time::Instant;

use folio::{Database, Durability};

fn value(key: u64, round: u64) -> Vec<u8> {
    let mut value = vec![0u8; 200];
    for (i, byte) in value.iter_mut().enumerate() {
        *byte = (key.wrapping_mul(31).wrapping_add(round * 7 + i as u64) % 251) as u8;
    }
    value
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                dir_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// Changes `count` random keys in batches of 100 (durable commits).
fn change(
    db: &Database,
    keys: u64,
    count: u64,
    round: u64,
    rng: &mut fastrand::Rng,
) -> folio::Result<()> {
    for start in (0..count).step_by(100) {
        let mut txn = db.begin_write(&["data"])?;
        for _ in start..(start + 100).min(count) {
            let key = rng.u64(..keys);
            txn.put("data", &key.to_be_bytes(), &value(key, round))?;
        }
        txn.commit_with(Durability::Eventual)?;
    }
    db.flush()?;
    Ok(())
}

fn main() -> folio::Result<()> {
    let keys: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::open(dir.path().join("db"))?;
    db.create_cf("data")?;
    let mut load = db.bulk_load("data")?;
    for key in 0..keys {
        load.put(&key.to_be_bytes(), &value(key, 0))?;
    }
    load.finish()?;
    let chain = dir.path().join("chain");
    let started = Instant::now();
    let full = db.backup_to(dir.path().join("full"))?;
    let full_seconds = started.elapsed().as_secs_f64();
    let full_bytes = dir_bytes(&dir.path().join("full"));
    println!("{keys} keys, {} bytes of keys and values", full.bytes);
    println!("| backup | bytes | of a full backup | seconds |");
    println!("|---|---:|---:|---:|");
    println!("| full `backup_to` | {full_bytes} | 1.000 | {full_seconds:.3} |");
    let started = Instant::now();
    let first = db.backup_incremental(&chain)?;
    println!(
        "| first increment (full) | {} | {:.3} | {:.3} |",
        first.bytes,
        first.bytes as f64 / full_bytes as f64,
        started.elapsed().as_secs_f64()
    );
    let mut rng = fastrand::Rng::with_seed(7);
    for (round, percent) in [(1, 1), (2, 10)] {
        change(&db, keys, keys * percent / 100, round, &mut rng)?;
        let started = Instant::now();
        let increment = db.backup_incremental(&chain)?;
        println!(
            "| increment after {percent} % of the keys changed ({:?}) | {} | {:.3} | {:.3} |",
            increment.kind,
            increment.bytes,
            increment.bytes as f64 / full_bytes as f64,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
