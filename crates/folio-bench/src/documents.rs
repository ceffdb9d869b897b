//! A compressible data set: JSON-like documents of 200-2,000 bytes with repeated field
//! names, the shape of event logs and document stores (what block compression is for).
//!
//! Each document is a function of `(seed, index)` only, so every system loads the same bytes
//! and a reader can check what it reads. Field names repeat in every document; values mix
//! words from a small vocabulary (compressible, as real text is) with random numbers and
//! identifiers (not compressible, as real ids are).
//!
//! [`run_documents`] is workload W8: load the data set, measure the files it takes, read it
//! back at random and check every document read.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::measure::directory_size;
use crate::workloads::{Measured, on_threads, timed};
use crate::{BenchResult, Engine, Latencies, Opener, Row, SyncMode};

/// The seed of W8's data set.
pub const SEED: u64 = 0x00d0_c5e7;
/// Documents per write batch while loading.
const LOAD_BATCH: usize = 1_000;

/// Words the text fields draw from.
const WORDS: [&str; 48] = [
    "order",
    "shipped",
    "payment",
    "received",
    "customer",
    "account",
    "update",
    "pending",
    "warehouse",
    "delivery",
    "invoice",
    "refund",
    "cancelled",
    "priority",
    "standard",
    "express",
    "returned",
    "address",
    "verified",
    "failed",
    "retry",
    "timeout",
    "session",
    "login",
    "logout",
    "checkout",
    "cart",
    "item",
    "quantity",
    "discount",
    "coupon",
    "review",
    "rating",
    "support",
    "ticket",
    "closed",
    "opened",
    "escalated",
    "resolved",
    "note",
    "system",
    "manual",
    "batch",
    "import",
    "export",
    "sync",
    "error",
    "success",
];

const STATUSES: [&str; 5] = ["active", "pending", "suspended", "closed", "trial"];
const EVENT_KINDS: [&str; 6] = ["view", "click", "purchase", "refund", "login", "logout"];
const COUNTRIES: [&str; 8] = ["DE", "FR", "US", "JP", "BR", "IN", "NG", "SE"];

/// The document number `index` of data set `seed`: 200-2,000 bytes of JSON.
pub fn document(seed: u64, index: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut out = String::with_capacity(2_048);
    let events = rng.usize(0..=14);
    let _ = write!(
        out,
        "{{\"id\":\"doc-{index:012}\",\"type\":\"customer_event_log\",\"version\":{},",
        rng.u32(1..5)
    );
    let _ = write!(
        out,
        "\"customer\":{{\"customer_id\":{},\"name\":\"{} {}\",\"email\":\"user{}@example.com\",\
         \"country\":\"{}\",\"status\":\"{}\"}},",
        rng.u64(1..10_000_000),
        word(&mut rng),
        word(&mut rng),
        rng.u32(..1_000_000),
        COUNTRIES[rng.usize(..COUNTRIES.len())],
        STATUSES[rng.usize(..STATUSES.len())],
    );
    let _ = write!(
        out,
        "\"created_at\":\"2026-{:02}-{:02}T{:02}:{:02}:{:02}Z\",\"tags\":[",
        rng.u32(1..13),
        rng.u32(1..29),
        rng.u32(..24),
        rng.u32(..60),
        rng.u32(..60)
    );
    for tag in 0..rng.usize(1..5) {
        if tag > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\"", word(&mut rng));
    }
    out.push_str("],\"events\":[");
    for event in 0..events {
        if event > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"event_type\":\"{}\",\"timestamp\":{},\"amount_cents\":{},\"description\":\"{} {} {}\"}}",
            EVENT_KINDS[rng.usize(..EVENT_KINDS.len())],
            1_790_000_000 + rng.u64(..10_000_000),
            rng.u32(..100_000),
            word(&mut rng),
            word(&mut rng),
            word(&mut rng),
        );
    }
    out.push_str("]}");
    out.into_bytes()
}

/// W8: loads `n` documents (keys in a seeded random order, batches of 1,000 without sync)
/// and makes them durable in the engine's own files ([`Engine::flush`]), timed; then,
/// untimed, reclaims free space ([`Engine::compact`]), closes the engine and reports the
/// disk space its directory takes at rest; then reopens it and reads `n` documents at
/// random on one thread; last (untimed) every document is read back and checked. Rows are labelled `system` (an
/// engine's name with its compression setting).
pub fn run_documents(open: &Opener, system: &str, n: u64, dir: &Path) -> BenchResult<Vec<Row>> {
    let engine = open(dir)?;
    engine.create_keyspace("docs")?;
    let mut load = timed(
        &*engine,
        "W8",
        "load documents",
        1,
        SyncMode::NoSync,
        || load_documents(&*engine, n),
    )?;
    engine.compact()?;
    drop(engine);
    let file_bytes = directory_size(dir)?.allocated;
    let engine = open(dir)?;
    engine.create_keyspace("docs")?;
    let mut read = timed(
        &*engine,
        "W8",
        "random document reads",
        1,
        SyncMode::NoSync,
        || read_documents(&*engine, n),
    )?;
    check_documents(&*engine, n)?;
    let raw_bytes: u64 = (0..n).map(|i| document(SEED, i).len() as u64 + 8).sum();
    load.note = format!(
        "files {:.1} MiB for {:.1} MiB of keys and documents ({:.2}x)",
        file_bytes as f64 / f64::from(1u32 << 20),
        raw_bytes as f64 / f64::from(1u32 << 20),
        file_bytes as f64 / raw_bytes as f64
    );
    for row in [&mut load, &mut read] {
        system.clone_into(&mut row.system);
        row.file_bytes = Some(file_bytes);
    }
    Ok(vec![load, read])
}

/// W8's rows (any order, one per system and phase) as a markdown table: disk space, load
/// and read throughput per system, and each system's space against uncompressed folio's
/// (the row named `folio`, else the first).
pub fn space_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| system | disk space | space / folio | load docs/s | random reads/s |\n|---|---:|---:|---:|---:|\n",
    );
    let loads: Vec<&Row> = rows
        .iter()
        .filter(|r| r.workload == "W8" && r.variant == "load documents")
        .collect();
    let base = loads
        .iter()
        .find(|r| r.system == "folio")
        .or(loads.first())
        .and_then(|r| r.file_bytes)
        .unwrap_or(1)
        .max(1);
    for load in &loads {
        let bytes = load.file_bytes.unwrap_or(0);
        let reads = rows
            .iter()
            .find(|r| r.workload == "W8" && r.system == load.system && r.variant != load.variant)
            .map_or(0.0, |r| r.ops_per_sec);
        let _ = writeln!(
            out,
            "| {} | {:.1} MiB | {:.2}x | {:.0} | {:.0} |",
            load.system,
            bytes as f64 / f64::from(1u32 << 20),
            bytes as f64 / base as f64,
            load.ops_per_sec,
            reads
        );
    }
    out
}

fn load_documents(engine: &dyn Engine, n: u64) -> BenchResult<Measured> {
    let mut order: Vec<u64> = (0..n).collect();
    fastrand::Rng::with_seed(SEED).shuffle(&mut order);
    let mut latencies = Latencies::default();
    // Only the engine's time counts (writes and the flush), not generating documents.
    let mut engine_time = std::time::Duration::ZERO;
    let mut bytes = 0;
    for chunk in order.chunks(LOAD_BATCH) {
        let entries: Vec<(Vec<u8>, Vec<u8>)> = chunk
            .iter()
            .map(|&i| (i.to_be_bytes().to_vec(), document(SEED, i)))
            .collect();
        bytes += entries
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum::<u64>();
        let written = Instant::now();
        engine.write("docs", &entries, SyncMode::NoSync)?;
        latencies.push(written.elapsed());
        engine_time += written.elapsed();
    }
    let flushed = Instant::now();
    engine.flush("docs")?;
    engine_time += flushed.elapsed();
    Ok(Measured {
        ops: n,
        entry_bytes: bytes / n.max(1),
        commits: n.div_ceil(LOAD_BATCH as u64),
        elapsed: engine_time,
        latencies,
    })
}

fn read_documents(engine: &dyn Engine, n: u64) -> BenchResult<Measured> {
    let (per_thread, elapsed) = on_threads(1, |_| {
        let mut rng = fastrand::Rng::with_seed(SEED + 1);
        let mut latencies = Latencies::default();
        for _ in 0..n {
            let i = rng.u64(..n);
            let asked = Instant::now();
            let value = engine.get("docs", &i.to_be_bytes())?;
            latencies.push(asked.elapsed());
            if value.is_none() {
                return Err(format!("document {i} missing").into());
            }
        }
        Ok(latencies)
    })?;
    Ok(Measured {
        ops: n,
        entry_bytes: 0,
        commits: 0,
        elapsed,
        latencies: per_thread.into_iter().collect(),
    })
}

/// Every document, read back and compared with what was loaded.
fn check_documents(engine: &dyn Engine, n: u64) -> BenchResult<()> {
    for i in 0..n {
        if engine.get("docs", &i.to_be_bytes())?.as_deref() != Some(&document(SEED, i)[..]) {
            return Err(format!("document {i} read back wrong").into());
        }
    }
    Ok(())
}

fn word(rng: &mut fastrand::Rng) -> &'static str {
    WORDS[rng.usize(..WORDS.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_repeatable_and_200_to_2000_bytes() {
        let sizes: Vec<usize> = (0..2_000).map(|i| document(7, i).len()).collect();
        assert_eq!(document(7, 42), document(7, 42));
        assert_ne!(document(7, 42), document(8, 42));
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(*min >= 200 && *max <= 2_000, "sizes {min}..={max}");
    }
}
