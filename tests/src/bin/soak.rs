//! `soak`: everything at once on a real directory for a while, checked against a model.
//! Run through `cargo xtask soak --minutes N` (or `--seconds N`).
//!
//! Threads: writers, each owning two column families (single- and cross-column-family
//! transactions, write batches, deletes, values large enough for overflow pages; the last
//! writer commits through the async API, each commit awaited on its own runtime), each
//! keeping a model of what it had acknowledged and verifying its column families against it
//! at intervals; readers holding snapshots and scanning; and one operator thread running
//! checkpoints, online compaction, live backups (each opened and checked), bulk loads and
//! `create_cf` / `rename_cf` / `drop_cf` of scratch column families. Bank threads move
//! money between the accounts of one column family with concurrent transactions
//! (`Database::transact`, conflicts retried) while the readers check that every snapshot
//! holds the opening total (serializability in the long run). A sampler records RSS,
//! file size, dirty bytes and operations every second into a CSV and an SVG plot, and
//! asserts the documented bounds: RSS below cache + dirty bound + a fixed allowance, and
//! the files below a bound for the bounded data set the writers keep. At the end: a final
//! verification, `check_integrity`, a reopen and the verification again. The database is
//! encrypted at rest and its column families compress their values (LZ4; zstd for one), as
//! a user with sensitive, repetitive data would run it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use folio::{Database, DatabaseOptions, Durability, WriteBatch};

const WRITERS: usize = 3;
const READERS: usize = 2;
/// Threads making transfers between the accounts of column family `bank`.
const BANKERS: usize = 2;
const ACCOUNTS: u64 = 200;
const OPENING: u64 = 1_000;
/// Keys per column family: the live data set stays bounded.
const KEYS: u64 = 2_000;
const CACHE_BYTES: usize = 32 << 20;
const DIRTY_BYTES_MAX: usize = 64 << 20;
/// RSS allowance beyond the cache and dirty bounds: code, thread stacks, transactions
/// in flight, snapshots' retained pages, the models and a backup's buffers.
const RSS_ALLOWANCE: u64 = 256 << 20;
/// File bound for the bounded data set (about 6 x 2,000 keys of up to 20 KiB, plus
/// copy-on-write space between checkpoints and a full log segment).
const FILES_MAX: u64 = 1 << 30;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

struct Shared {
    db: Database,
    stop: AtomicBool,
    ops: AtomicU64,
    verifications: AtomicU64,
    backups: AtomicU64,
    dir: PathBuf,
}

fn cf_name(writer: usize, which: usize) -> String {
    format!("w{writer}-{which}")
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(rng: &mut fastrand::Rng, tag: u64) -> Vec<u8> {
    // One in 50 values spills into overflow pages.
    let len = if rng.u32(..50) == 0 {
        rng.usize(5_000..20_000)
    } else {
        rng.usize(10..300)
    };
    let mut value = tag.to_be_bytes().to_vec();
    value.resize(len, (tag % 251) as u8);
    value
}

fn read_all(db: &Database, cf: &str) -> folio::Result<Model> {
    let read = db.begin_read();
    let tree = read.tree(cf)?;
    let mut model = Model::new();
    for entry in tree.iter() {
        let (key, value) = entry?;
        model.insert(key, value.to_vec());
    }
    Ok(model)
}

/// How a writer commits: blocking calls, or the async API awaited on a runtime of its own.
struct Committer {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Committer {
    fn new(asynchronous: bool) -> Result<Self, String> {
        let runtime = asynchronous
            .then(|| {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .map_err(|e| e.to_string())
            })
            .transpose()?;
        Ok(Self { runtime })
    }

    fn begin(&self, db: &Database, cfs: &[&str]) -> folio::Result<folio::WriteTransaction> {
        match &self.runtime {
            Some(runtime) => runtime.block_on(db.begin_write_async(cfs)),
            None => db.begin_write(cfs),
        }
    }

    fn commit(&self, txn: folio::WriteTransaction, durability: Durability) -> folio::Result<()> {
        match &self.runtime {
            Some(runtime) => runtime
                .block_on(txn.commit_async_with(durability))
                .map(drop),
            None => txn.commit_with(durability).map(drop),
        }
    }

    fn write(&self, db: &Database, batch: WriteBatch, durability: Durability) -> folio::Result<()> {
        match &self.runtime {
            Some(runtime) => runtime
                .block_on(db.write_async_with(batch, durability))
                .map(drop),
            None => db.write_with(batch, durability).map(drop),
        }
    }
}

fn writer(shared: &Shared, id: usize) -> Result<(), String> {
    let committer = Committer::new(id == WRITERS - 1)?;
    let mut rng = fastrand::Rng::with_seed(id as u64);
    let cfs = [cf_name(id, 0), cf_name(id, 1)];
    let mut models = [Model::new(), Model::new()];
    let mut tag = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        tag += 1;
        let durability = if rng.u32(..10) == 0 {
            Durability::Immediate
        } else {
            Durability::Eventual
        };
        match rng.u32(..4) {
            // A transaction on one column family: a few puts and a delete.
            0 | 1 => {
                let which = rng.usize(..2);
                let mut txn = committer
                    .begin(&shared.db, &[&cfs[which]])
                    .map_err(|e| e.to_string())?;
                let mut changes = Vec::new();
                for _ in 0..rng.usize(1..8) {
                    let k = key(rng.u64(..KEYS));
                    let v = value(&mut rng, tag);
                    txn.put(&cfs[which], &k, &v).map_err(|e| e.to_string())?;
                    changes.push((k, Some(v)));
                }
                let k = key(rng.u64(..KEYS));
                txn.delete(&cfs[which], &k).map_err(|e| e.to_string())?;
                changes.push((k, None));
                committer
                    .commit(txn, durability)
                    .map_err(|e| e.to_string())?;
                apply(&mut models[which], changes);
            }
            // Across both column families, atomically.
            2 => {
                let names = [cfs[0].as_str(), cfs[1].as_str()];
                let mut txn = committer
                    .begin(&shared.db, &names)
                    .map_err(|e| e.to_string())?;
                let k = key(rng.u64(..KEYS));
                let v = value(&mut rng, tag);
                for cf in &cfs {
                    txn.put(cf, &k, &v).map_err(|e| e.to_string())?;
                }
                committer
                    .commit(txn, durability)
                    .map_err(|e| e.to_string())?;
                for model in &mut models {
                    model.insert(k.clone(), v.clone());
                }
            }
            // A write batch through the commit queue.
            _ => {
                let mut batch = WriteBatch::new();
                let mut changes = [Vec::new(), Vec::new()];
                for _ in 0..rng.usize(1..10) {
                    let which = rng.usize(..2);
                    let k = key(rng.u64(..KEYS));
                    if rng.u32(..5) == 0 {
                        batch.delete(&cfs[which], &k);
                        changes[which].push((k, None));
                    } else {
                        let v = value(&mut rng, tag);
                        batch.put(&cfs[which], &k, &v);
                        changes[which].push((k, Some(v)));
                    }
                }
                committer
                    .write(&shared.db, batch, durability)
                    .map_err(|e| e.to_string())?;
                for (model, changes) in models.iter_mut().zip(changes) {
                    apply(model, changes);
                }
            }
        }
        shared.ops.fetch_add(1, Ordering::Relaxed);
        if tag.is_multiple_of(500) {
            verify(shared, &cfs, &models)?;
        }
    }
    verify(shared, &cfs, &models)
}

fn apply(model: &mut Model, changes: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
    for (k, v) in changes {
        match v {
            Some(v) => model.insert(k, v),
            None => model.remove(&k),
        };
    }
}

fn verify(shared: &Shared, cfs: &[String; 2], models: &[Model; 2]) -> Result<(), String> {
    for (cf, model) in cfs.iter().zip(models) {
        let found = read_all(&shared.db, cf).map_err(|e| e.to_string())?;
        if &found != model {
            return Err(format!(
                "{cf}: {} entries read, {} acknowledged, first difference at {:?}",
                found.len(),
                model.len(),
                found
                    .iter()
                    .zip(model.iter())
                    .find(|(a, b)| a != b)
                    .map(|(a, _)| a.0.clone())
            ));
        }
    }
    shared.verifications.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Column family `bank`: `ACCOUNTS` accounts holding `OPENING` each.
fn open_bank(db: &Database) -> folio::Result<()> {
    db.create_cf("bank")?;
    db.transact(|txn| {
        for account in 0..ACCOUNTS {
            txn.put("bank", &key(account), &OPENING.to_be_bytes())?;
        }
        Ok(())
    })
}

fn balance(value: &[u8]) -> Result<u64, String> {
    Ok(u64::from_be_bytes(
        value.try_into().map_err(|_| "a malformed balance")?,
    ))
}

/// The sum of the balances in `read`; an error unless it is the opening total.
fn check_bank(read: &folio::ReadTransaction) -> Result<(), String> {
    let mut total = 0;
    for entry in read.tree("bank").map_err(|e| e.to_string())?.iter() {
        total += balance(&entry.map_err(|e| e.to_string())?.1)?;
    }
    if total == ACCOUNTS * OPENING {
        Ok(())
    } else {
        Err(format!(
            "bank: a snapshot at version {} holds {total}, not {}",
            read.version(),
            ACCOUNTS * OPENING
        ))
    }
}

/// Transfers between random accounts of `bank`, each in a concurrent transaction.
fn banker(shared: &Shared, id: usize) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(300 + id as u64);
    while !shared.stop.load(Ordering::Relaxed) {
        let (from, to) = (key(rng.u64(..ACCOUNTS)), key(rng.u64(..ACCOUNTS)));
        let amount = rng.u64(1..100);
        let durability = if rng.bool() {
            Durability::Immediate
        } else {
            Durability::Eventual
        };
        shared
            .db
            .transact_with(folio::TransactOptions::with_durability(durability), |txn| {
                let read = |key: &[u8]| -> folio::Result<u64> {
                    Ok(txn
                        .get("bank", key)?
                        .map_or(0, |v| balance(&v).unwrap_or(u64::MAX)))
                };
                let (have, other) = (read(&from)?, read(&to)?);
                if from != to && have >= amount {
                    txn.put("bank", &from, &(have - amount).to_be_bytes())?;
                    txn.put("bank", &to, &(other + amount).to_be_bytes())?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        shared.ops.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn reader(shared: &Shared, id: usize) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(100 + id as u64);
    while !shared.stop.load(Ordering::Relaxed) {
        check_bank(&shared.db.begin_read())?;
        let cf = cf_name(rng.usize(..WRITERS), rng.usize(..2));
        let read = shared.db.begin_read();
        let tree = read.tree(&cf).map_err(|e| e.to_string())?;
        let mut previous: Option<Vec<u8>> = None;
        let mut count = 0u64;
        for entry in tree.iter() {
            let (k, _) = entry.map_err(|e| e.to_string())?;
            if previous.as_ref().is_some_and(|p| p >= &k) {
                return Err(format!("{cf}: keys out of order"));
            }
            previous = Some(k);
            count += 1;
        }
        // The snapshot holds still however long it is kept.
        if tree.iter().count() as u64 != count {
            return Err(format!("{cf}: a snapshot changed under its reader"));
        }
        shared.ops.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn operator(shared: &Shared) -> Result<(), String> {
    let mut round = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        round += 1;
        let db = &shared.db;
        db.checkpoint().map_err(|e| format!("checkpoint: {e}"))?;
        // A scratch column family: bulk loaded, renamed, dropped.
        let scratch = format!("scratch-{round}");
        db.create_cf(&scratch).map_err(|e| e.to_string())?;
        let mut load = db.bulk_load(scratch.as_str()).map_err(|e| e.to_string())?;
        for i in 0..2_000u64 {
            load.put(&key(i), &i.to_be_bytes())
                .map_err(|e| e.to_string())?;
        }
        load.finish().map_err(|e| e.to_string())?;
        let renamed = format!("{scratch}-renamed");
        db.rename_cf(&scratch, &renamed)
            .map_err(|e| e.to_string())?;
        if read_all(db, &renamed).map_err(|e| e.to_string())?.len() != 2_000 {
            return Err(format!("{renamed}: the bulk load is not all there"));
        }
        db.drop_cf(&renamed).map_err(|e| e.to_string())?;
        if round.is_multiple_of(3) {
            db.compact().map_err(|e| format!("compact: {e}"))?;
        }
        if round.is_multiple_of(4) {
            let target = shared.dir.join(format!("backup-{round}"));
            db.backup_to(&target).map_err(|e| format!("backup: {e}"))?;
            let backup = Database::open_with(&target, soak_options())
                .map_err(|e| format!("open backup: {e}"))?;
            let report = backup.check_integrity().map_err(|e| e.to_string())?;
            if !report.is_ok() {
                return Err(format!("backup {round} fails its check: {report:?}"));
            }
            drop(backup);
            std::fs::remove_dir_all(&target).map_err(|e| e.to_string())?;
            shared.backups.fetch_add(1, Ordering::Relaxed);
        }
        shared.ops.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn files_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .sum()
    })
}

/// One plotted quantity of a sample.
type SampleValue = Box<dyn Fn(&Sample) -> f64>;

struct Sample {
    second: f64,
    rss: u64,
    files: u64,
    dirty: u64,
    ops: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(20);
    let out = PathBuf::from(arg("--out").map_or("target/soak", String::as_str));
    if let Err(error) = run(seconds, &out) {
        eprintln!("soak: FAILED: {error}");
        std::process::exit(1);
    }
}

fn run(seconds: u64, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let dir = tempfile_dir(out)?;
    let db_dir = dir.join("db");
    let options = soak_options();
    let db = Database::open_with(&db_dir, options.clone()).map_err(|e| e.to_string())?;
    for w in 0..WRITERS {
        for which in 0..2 {
            let name = cf_name(w, which);
            if (w, which) == ZSTD_CF {
                let zstd = folio::ColumnFamilyOptions::new().with_compression(ZSTD);
                db.create_cf_with(&name, zstd)
            } else {
                db.create_cf(&name)
            }
            .map_err(|e| e.to_string())?;
        }
    }
    open_bank(&db).map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared {
        db,
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        verifications: AtomicU64::new(0),
        backups: AtomicU64::new(0),
        dir: dir.clone(),
    });
    let start = Instant::now();
    let barrier = Arc::new(Barrier::new(WRITERS + READERS + BANKERS + 2));
    let mut handles = Vec::new();
    for b in 0..BANKERS {
        let (shared, barrier) = (Arc::clone(&shared), Arc::clone(&barrier));
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            banker(&shared, b).map_err(|e| format!("banker {b}: {e}"))
        }));
    }
    for w in 0..WRITERS {
        let (shared, barrier) = (Arc::clone(&shared), Arc::clone(&barrier));
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            writer(&shared, w).map_err(|e| format!("writer {w}: {e}"))
        }));
    }
    for r in 0..READERS {
        let (shared, barrier) = (Arc::clone(&shared), Arc::clone(&barrier));
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            reader(&shared, r).map_err(|e| format!("reader {r}: {e}"))
        }));
    }
    {
        let (shared, barrier) = (Arc::clone(&shared), Arc::clone(&barrier));
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            operator(&shared).map_err(|e| format!("operator: {e}"))
        }));
    }
    barrier.wait();
    let rss_bound = CACHE_BYTES as u64 + DIRTY_BYTES_MAX as u64 + RSS_ALLOWANCE;
    let (samples, mut failure) = sample(&shared, &handles, &db_dir, start, seconds, rss_bound);
    shared.stop.store(true, Ordering::Relaxed);
    for handle in handles {
        if let Err(error) = handle
            .join()
            .map_err(|_| "a thread panicked".to_owned())
            .and_then(|r| r)
        {
            failure.get_or_insert(error);
        }
    }
    write_samples(&samples, out)?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    finish(shared, &db_dir, options, &samples, seconds, rss_bound)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Samples once a second until `seconds` passed, a bound is crossed or a thread ended
/// (with an error: they run until told to stop). Returns the samples and the first
/// crossed bound.
fn sample(
    shared: &Shared,
    handles: &[std::thread::JoinHandle<Result<(), String>>],
    db_dir: &Path,
    start: Instant,
    seconds: u64,
    rss_bound: u64,
) -> (Vec<Sample>, Option<String>) {
    let mut samples = Vec::new();
    let mut failure = None;
    while start.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1)); // sampling period, not synchronization
        let sample = Sample {
            second: start.elapsed().as_secs_f64(),
            rss: rss_bytes(),
            files: files_bytes(db_dir),
            dirty: shared.db.stats().page_store.cache.dirty_bytes as u64,
            ops: shared.ops.load(Ordering::Relaxed),
        };
        if sample.rss > rss_bound {
            failure = Some(format!(
                "RSS {} MiB over the bound {} MiB",
                sample.rss >> 20,
                rss_bound >> 20
            ));
        }
        if sample.files > FILES_MAX {
            failure = Some(format!(
                "files {} MiB over the bound {} MiB",
                sample.files >> 20,
                FILES_MAX >> 20
            ));
        }
        samples.push(sample);
        if failure.is_some() || handles.iter().any(std::thread::JoinHandle::is_finished) {
            break;
        }
    }
    (samples, failure)
}

/// The end: `check_integrity`, then every column family read, the database closed and
/// reopened and read again; prints the run's figures.
fn finish(
    shared: Arc<Shared>,
    db_dir: &Path,
    options: DatabaseOptions,
    samples: &[Sample],
    seconds: u64,
    rss_bound: u64,
) -> Result<(), String> {
    let report = shared.db.check_integrity().map_err(|e| e.to_string())?;
    if !report.is_ok() {
        return Err(format!("check_integrity: {report:?}"));
    }
    let before: Vec<Model> = (0..WRITERS)
        .flat_map(|w| (0..2).map(move |which| cf_name(w, which)))
        .map(|cf| read_all(&shared.db, &cf).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let shared = Arc::into_inner(shared).ok_or("the database is still shared")?;
    let concurrent = shared.db.stats().concurrent;
    shared.db.close().map_err(|e| e.to_string())?;
    // Reopened without compression options: each column family keeps the stored setting.
    let options = DatabaseOptions {
        compression: folio::CompressionOptions::default(),
        ..options
    };
    let db = Database::open_with(db_dir, options).map_err(|e| e.to_string())?;
    for w in 0..WRITERS {
        for which in 0..2 {
            let name = cf_name(w, which);
            let stored = db.cf_options(&name).map_err(|e| e.to_string())?;
            let expected = if (w, which) == ZSTD_CF {
                ZSTD
            } else {
                folio::Compression::Lz4
            };
            if stored.compression != expected {
                return Err(format!("{name}: stored {stored:?}, created {expected:?}"));
            }
        }
    }
    check_bank(&db.begin_read())?;
    for (i, model) in before.iter().enumerate() {
        let cf = cf_name(i / 2, i % 2);
        if &read_all(&db, &cf).map_err(|e| e.to_string())? != model {
            return Err(format!("{cf} differs after a clean reopen"));
        }
    }
    let peak_rss = samples.iter().map(|s| s.rss).max().unwrap_or(0);
    let (min_files, max_files) = samples.iter().fold((u64::MAX, 0), |(lo, hi), s| {
        (lo.min(s.files), hi.max(s.files))
    });
    println!(
        "soak: {seconds} s, {} operations, {} verifications against the model, {} backups checked, {} concurrent commits ({} conflicts retried), peak RSS {} MiB (bound {} MiB), files {}..{} MiB (bound {} MiB), check_integrity ok",
        samples.last().map_or(0, |s| s.ops),
        shared.verifications.load(Ordering::Relaxed),
        shared.backups.load(Ordering::Relaxed),
        concurrent.commits,
        concurrent.conflicts,
        peak_rss >> 20,
        rss_bound >> 20,
        min_files >> 20,
        max_files >> 20,
        FILES_MAX >> 20,
    );
    drop(db);
    Ok(())
}

/// A fresh directory under `out` for this run's database and backups.
/// The soak's options: bounded memory, encrypted, values compressed.
fn soak_options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        dirty_bytes_max: Some(DIRTY_BYTES_MAX),
        checkpoint_dirty_bytes: DIRTY_BYTES_MAX / 4,
        encryption_key: Some(folio::EncryptionKey::from_bytes([0x50; 32])),
        ..DatabaseOptions::default()
    };
    options.page_store.cache_bytes_max = CACHE_BYTES;
    options.compression.default = Some(folio::Compression::Lz4);
    options
}

/// The setting writer 0's second column family is created with (the others take the
/// options' LZ4); each is stored with its column family.
const ZSTD_CF: (usize, usize) = (0, 1);
const ZSTD: folio::Compression = folio::Compression::Zstd { level: 3 };

fn tempfile_dir(out: &Path) -> Result<PathBuf, String> {
    let dir = out.join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// `samples.csv` and `soak.svg` (RSS, files and dirty MiB, and thousands of operations,
/// over time).
fn write_samples(samples: &[Sample], out: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    let mut csv = String::from("second,rss_bytes,file_bytes,dirty_bytes,operations\n");
    for s in samples {
        let _ = writeln!(
            csv,
            "{:.1},{},{},{},{}",
            s.second, s.rss, s.files, s.dirty, s.ops
        );
    }
    std::fs::write(out.join("samples.csv"), csv).map_err(|e| e.to_string())?;
    let svg = out.join("soak.svg");
    let root = SVGBackend::new(&svg, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let x_max = samples.last().map_or(1.0, |s| s.second.max(1.0));
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let y_max = samples
        .iter()
        .map(|s| mib(s.rss).max(mib(s.files)).max(s.ops as f64 / 1000.0))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("folio soak", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max * 1.1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("MiB / thousands of operations")
        .draw()
        .map_err(|e| e.to_string())?;
    let series: [(&str, RGBColor, SampleValue); 4] = [
        ("RSS MiB", RED, Box::new(move |s| mib(s.rss))),
        ("files MiB", BLUE, Box::new(move |s| mib(s.files))),
        ("dirty MiB", GREEN, Box::new(move |s| mib(s.dirty))),
        (
            "operations (thousands)",
            BLACK,
            Box::new(|s| s.ops as f64 / 1000.0),
        ),
    ];
    for (label, color, value) in series {
        chart
            .draw_series(LineSeries::new(
                samples.iter().map(|s| (s.second, value(s))),
                color,
            ))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
