//! The workloads. Keys are 8-byte big-endian integers (24-byte decimal strings in W4),
//! values 150 random bytes; every random choice comes from a generator seeded by the thread
//! number, so every system sees the same sequence.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::measure::directory_size;
use crate::zipf::Zipf;
use crate::{BenchResult, Engine, Latencies, Opener, ProcessCounters, Row, SyncMode};

/// Bytes per value.
pub(crate) const VALUE_BYTES: usize = 150;

/// A workload of `docs/workloads.md` with its sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// cf-batch: each thread owns a keyspace and commits `txns` transactions of `ops`
    /// random inserts.
    W1 {
        /// Transactions per thread.
        txns: usize,
        /// Inserts per transaction.
        ops: usize,
    },
    /// durable-small: each thread commits `commits` durable transactions of `batch`
    /// inserts to its own keyspace.
    W2 {
        /// Commits per thread.
        commits: usize,
        /// Inserts per commit (1 and 10 in `docs/workloads.md`).
        batch: usize,
    },
    /// same-cf: every thread commits `batches` batches of `batch` inserts to one keyspace.
    W3 {
        /// Batches per thread.
        batches: usize,
        /// Inserts per batch.
        batch: usize,
    },
    /// standard: bulk load `n`, single durable writes, durable batches, no-sync writes,
    /// point reads at each thread count, range reads of 10.
    W4 {
        /// Entries loaded and read.
        n: u64,
    },
    /// large-txn: one durable transaction of `n` random puts of 100-byte values (what a
    /// user's import or migration looks like: the transaction's data far exceeds the cache).
    W7 {
        /// Puts in the transaction.
        n: u64,
    },
    /// transfers: `accounts` accounts in one keyspace; each thread makes `transfers`
    /// transactions that read two accounts (uniform or zipfian) and move an amount between
    /// them, through the engine's transaction API, conflicts retried.
    W9 {
        /// Accounts.
        accounts: u64,
        /// Transfers per thread.
        transfers: usize,
        /// Zipfian (0.99) account choice instead of uniform.
        zipfian: bool,
    },
    /// mixed: `n` preloaded keys; each thread does `ops` operations, `read_percent` reads
    /// and the rest single-key updates, keys chosen zipfian.
    W6 {
        /// Keys preloaded.
        n: u64,
        /// Operations per thread.
        ops: usize,
        /// Share of reads, percent.
        read_percent: u32,
    },
}

impl Workload {
    /// `W1` ... `W7`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::W1 { .. } => "W1",
            Self::W2 { .. } => "W2",
            Self::W3 { .. } => "W3",
            Self::W4 { .. } => "W4",
            Self::W6 { .. } => "W6",
            Self::W7 { .. } => "W7",
            Self::W9 { .. } => "W9",
        }
    }
}

/// What a timed phase did.
pub(crate) struct Measured {
    pub(crate) ops: u64,
    /// Bytes of one operation's key and value, when it writes (write amplification's base).
    pub(crate) entry_bytes: u64,
    pub(crate) commits: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Latencies,
}

/// Runs `workload` once per thread count, each in a fresh directory under `dir` with an
/// engine from `open`.
pub fn run_workload(
    open: &Opener,
    workload: &Workload,
    threads: &[usize],
    mode: SyncMode,
    dir: &Path,
) -> BenchResult<Vec<Row>> {
    let mut rows = Vec::new();
    for (run, &t) in threads.iter().enumerate() {
        let path = dir.join(format!("{}-{}-{t}-{run}", workload.id(), mode.label()));
        let engine = open(&path)?;
        match workload {
            Workload::W1 { txns, ops } => {
                let own = |i: usize| format!("cf-{i}");
                for i in 0..t {
                    engine.create_keyspace(&own(i))?;
                }
                let keyspaces: Vec<String> = (0..t).map(own).collect();
                let row = timed_then_flushed(
                    &*engine,
                    "W1",
                    "cf-batch",
                    t,
                    mode,
                    || writers(&*engine, t, &own, *txns, *ops, mode),
                    &keyspaces,
                )?;
                rows.push(row);
            }
            Workload::W2 { commits, batch } => {
                let own = |i: usize| format!("cf-{i}");
                for i in 0..t {
                    engine.create_keyspace(&own(i))?;
                }
                let variant = format!("durable, {batch} per txn");
                let row = timed(&*engine, "W2", &variant, t, SyncMode::Sync, || {
                    writers(&*engine, t, &own, *commits, *batch, SyncMode::Sync)
                })?;
                rows.push(row);
            }
            Workload::W3 { batches, batch } => {
                let shared = |_: usize| "shared".to_owned();
                engine.create_keyspace("shared")?;
                let variant = format!("one keyspace, {batch} per batch");
                let row = timed_then_flushed(
                    &*engine,
                    "W3",
                    &variant,
                    t,
                    mode,
                    || writers(&*engine, t, &shared, *batches, *batch, mode),
                    &["shared".to_owned()],
                )?;
                rows.push(row);
            }
            Workload::W6 {
                n,
                ops,
                read_percent,
            } => {
                preload(&*engine, *n)?;
                let variant = format!("{read_percent}/{} read/update", 100 - read_percent);
                let row = timed(&*engine, "W6", &variant, t, mode, || {
                    mixed(&*engine, t, *n, *ops, *read_percent, mode)
                })?;
                rows.push(row);
            }
            Workload::W9 {
                accounts,
                transfers,
                zipfian,
            } => {
                crate::transfers::open_accounts(&*engine, *accounts)?;
                let choice = if *zipfian { "zipfian" } else { "uniform" };
                let variant = format!("{accounts} accounts, {choice}");
                let mut conflicts = 0;
                let mut row = timed(&*engine, "W9", &variant, t, mode, || {
                    let (measured, retried) = crate::transfers::transfers(
                        &*engine, t, *accounts, *transfers, *zipfian, mode,
                    )?;
                    conflicts = retried;
                    Ok(measured)
                })?;
                crate::transfers::check_total(&*engine, *accounts)?;
                row.conflicts = Some(conflicts);
                rows.push(row);
            }
            Workload::W7 { n } => {
                engine.create_keyspace("data")?;
                let variant = format!("one transaction of {n} puts");
                let row = timed(&*engine, "W7", &variant, 1, SyncMode::Sync, || {
                    large_transaction(&*engine, *n)
                })?;
                rows.push(row);
                break; // one transaction: thread counts do not apply
            }
            Workload::W4 { n } => {
                rows.extend(standard(&*engine, *n, t, mode, &path)?);
                break; // W4 makes its own thread sweep for reads
            }
        }
    }
    Ok(rows)
}

/// Times `phase`, reading the process counters and the engine's syncs around it.
pub(crate) fn timed(
    engine: &dyn Engine,
    workload: &str,
    variant: &str,
    threads: usize,
    mode: SyncMode,
    phase: impl FnOnce() -> BenchResult<Measured>,
) -> BenchResult<Row> {
    timed_then_flushed(engine, workload, variant, threads, mode, phase, &[])
}

/// [`timed`], then (untimed) the engine's flush of `keyspaces` (a checkpoint, a memtable
/// flush): write amplification counts what the engine writes later for the same data too,
/// not only what it wrote while timed.
pub(crate) fn timed_then_flushed(
    engine: &dyn Engine,
    workload: &str,
    variant: &str,
    threads: usize,
    mode: SyncMode,
    phase: impl FnOnce() -> BenchResult<Measured>,
    keyspaces: &[String],
) -> BenchResult<Row> {
    ProcessCounters::reset_peak();
    let before = ProcessCounters::now();
    let syncs_before = engine.syncs();
    let mut measured = phase()?;
    let timed_end = ProcessCounters::now();
    for keyspace in keyspaces {
        engine.flush(keyspace)?;
    }
    let after = ProcessCounters {
        peak_rss_bytes: timed_end.peak_rss_bytes,
        ..ProcessCounters::now()
    };
    let seconds = measured.elapsed.as_secs_f64();
    let user_bytes = measured.ops * measured.entry_bytes;
    let syncs = engine
        .syncs()
        .zip(syncs_before)
        .map(|(after, before)| after - before);
    let note = if engine.parallel_writers() || threads == 1 {
        String::new()
    } else {
        "writers take turns (one writer at a time)".to_owned()
    };
    Ok(Row {
        workload: workload.to_owned(),
        variant: variant.to_owned(),
        system: engine.name().to_owned(),
        threads,
        mode: mode.label().to_owned(),
        ops: measured.ops,
        commits: measured.commits,
        seconds,
        ops_per_sec: measured.ops as f64 / seconds.max(1e-9),
        p50_us: measured.latencies.percentile(50).as_secs_f64() * 1e6,
        p99_us: measured.latencies.percentile(99).as_secs_f64() * 1e6,
        syncs_per_commit: syncs
            .filter(|_| measured.commits > 0)
            .map(|s| s as f64 / measured.commits as f64),
        write_amplification: (measured.commits > 0 && user_bytes > 0).then(|| {
            after.written_bytes.saturating_sub(before.written_bytes) as f64 / user_bytes as f64
        }),
        peak_rss_mib: after.peak_rss_bytes as f64 / f64::from(1u32 << 20),
        note,
        file_bytes: None,
        conflicts: None,
    })
}

pub(crate) fn random_value(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut value = vec![0; VALUE_BYTES];
    rng.fill(&mut value);
    value
}

/// `threads` writers, thread `i` committing `commits` batches of `batch` random inserts to
/// `keyspace(i)`.
fn writers(
    engine: &dyn Engine,
    threads: usize,
    keyspace: &(dyn Fn(usize) -> String + Sync),
    commits: usize,
    batch: usize,
    mode: SyncMode,
) -> BenchResult<Measured> {
    let (per_thread, elapsed) = on_threads(threads, |i| {
        let name = keyspace(i);
        let mut rng = fastrand::Rng::with_seed(i as u64 + 1);
        let mut latencies = Latencies::default();
        for _ in 0..commits {
            let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..batch)
                .map(|_| (rng.u64(..).to_be_bytes().to_vec(), random_value(&mut rng)))
                .collect();
            let begun = Instant::now();
            engine.write(&name, &entries, mode)?;
            latencies.push(begun.elapsed());
        }
        Ok(latencies)
    })?;
    let latencies = per_thread.into_iter().collect();
    Ok(Measured {
        entry_bytes: 8 + VALUE_BYTES as u64,
        ops: (threads * commits * batch) as u64,
        commits: (threads * commits) as u64,
        elapsed,
        latencies,
    })
}

/// Value bytes of W7's puts.
pub const LARGE_TXN_VALUE_BYTES: usize = 100;

/// W7: `n` random puts into keyspace `data` in one durable transaction; the keys and values
/// are generated as the transaction consumes them, so only the engine holds them.
fn large_transaction(engine: &dyn Engine, n: u64) -> BenchResult<Measured> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut entries = (0..n).map(|_| {
        let mut value = vec![0; LARGE_TXN_VALUE_BYTES];
        rng.fill(&mut value);
        (rng.u64(..).to_be_bytes().to_vec(), value)
    });
    let begun = Instant::now();
    engine.large_transaction("data", &mut entries)?;
    let elapsed = begun.elapsed();
    let mut latencies = Latencies::default();
    latencies.push(elapsed);
    Ok(Measured {
        entry_bytes: 8 + LARGE_TXN_VALUE_BYTES as u64,
        ops: n,
        commits: 1,
        elapsed,
        latencies,
    })
}

/// Loads keys `0..n` into keyspace `data`.
fn preload(engine: &dyn Engine, n: u64) -> BenchResult<()> {
    engine.create_keyspace("data")?;
    let mut rng = fastrand::Rng::with_seed(0);
    engine.bulk_load(
        "data",
        &mut (0..n).map(|i| (i.to_be_bytes().to_vec(), random_value(&mut rng))),
    )
}

/// W6: zipfian reads and single-key updates of `data`.
fn mixed(
    engine: &dyn Engine,
    threads: usize,
    n: u64,
    ops: usize,
    read_percent: u32,
    mode: SyncMode,
) -> BenchResult<Measured> {
    let zipf = Zipf::new(n);
    let (per_thread, elapsed) = on_threads(threads, |i| {
        let mut rng = fastrand::Rng::with_seed(100 + i as u64);
        let mut latencies = Latencies::default();
        let mut updates = 0;
        for _ in 0..ops {
            let key = zipf.next(&mut rng).to_be_bytes().to_vec();
            let begun = Instant::now();
            if rng.u32(0..100) < read_percent {
                engine.get("data", &key)?;
            } else {
                engine.write("data", &[(key, random_value(&mut rng))], mode)?;
                updates += 1;
            }
            latencies.push(begun.elapsed());
        }
        Ok((latencies, updates))
    })?;
    let mut latencies = Latencies::default();
    let mut commits = 0;
    for (thread, updates) in per_thread {
        latencies.extend(thread);
        commits += updates;
    }
    Ok(Measured {
        entry_bytes: 8 + VALUE_BYTES as u64,
        ops: (threads * ops) as u64,
        commits,
        elapsed,
        latencies,
    })
}

/// Bytes of a W4 key.
const W4_KEY_BYTES: u64 = 24;

fn w4_key(i: u64) -> Vec<u8> {
    format!("{i:024}").into_bytes()
}

/// W4: the parts of redb's table this harness can run on every engine.
fn standard(
    engine: &dyn Engine,
    n: u64,
    max_threads: usize,
    mode: SyncMode,
    path: &Path,
) -> BenchResult<Vec<Row>> {
    engine.create_keyspace("w4")?;
    let mut rows = Vec::new();
    let mut rng = fastrand::Rng::with_seed(4);
    let single = |count: usize, batch: usize, mode: SyncMode, rng: &mut fastrand::Rng| {
        let mut latencies = Latencies::default();
        let started = Instant::now();
        for _ in 0..count {
            let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..batch)
                .map(|_| (w4_key(n + rng.u64(..n.max(1) * 100)), random_value(rng)))
                .collect();
            let begun = Instant::now();
            engine.write("w4", &entries, mode)?;
            latencies.push(begun.elapsed());
        }
        Ok(Measured {
            entry_bytes: W4_KEY_BYTES + VALUE_BYTES as u64,
            ops: (count * batch) as u64,
            commits: count as u64,
            elapsed: started.elapsed(),
            latencies,
        })
    };
    rows.push(timed(
        engine,
        "W4",
        &format!("bulk load {n}"),
        1,
        SyncMode::Sync,
        || {
            let started = Instant::now();
            let mut values = fastrand::Rng::with_seed(5);
            engine.bulk_load(
                "w4",
                &mut (0..n).map(|i| (w4_key(i), random_value(&mut values))),
            )?;
            Ok(Measured {
                entry_bytes: W4_KEY_BYTES + VALUE_BYTES as u64,
                ops: n,
                commits: 1,
                elapsed: started.elapsed(),
                latencies: Latencies::default(),
            })
        },
    )?);
    rows.push(timed(
        engine,
        "W4",
        "1,000 single durable writes",
        1,
        SyncMode::Sync,
        || single(1_000, 1, SyncMode::Sync, &mut rng),
    )?);
    let mut rng = fastrand::Rng::with_seed(6);
    rows.push(timed(
        engine,
        "W4",
        "100 durable batches of 1,000",
        1,
        SyncMode::Sync,
        || single(100, 1_000, SyncMode::Sync, &mut rng),
    )?);
    let mut rng = fastrand::Rng::with_seed(7);
    rows.push(timed(
        engine,
        "W4",
        "10,000 no-sync writes",
        1,
        SyncMode::NoSync,
        || single(10_000, 1, SyncMode::NoSync, &mut rng),
    )?);
    let mut threads = 1;
    while threads <= max_threads {
        rows.push(timed(
            engine,
            "W4",
            &format!("{n} random reads"),
            threads,
            mode,
            || {
                reads(engine, threads, n, |engine, key| {
                    engine.get("w4", key).map(|_| ())
                })
            },
        )?);
        threads *= 2;
    }
    rows.push(timed(
        engine,
        "W4",
        &format!("{n} range reads of 10"),
        1,
        mode,
        || {
            reads(engine, 1, n, |engine, key| {
                engine.scan("w4", key, 10).map(|_| ())
            })
        },
    )?);
    rows.extend(delete_range(engine, n, path)?);
    Ok(rows)
}

/// W4's last row: the engine's range deletion of the middle fifth of the loaded keys, made
/// durable and flushed to its files (a checkpoint, a memtable flush); the note gives the
/// files' size before and after. None for an engine without range deletion.
fn delete_range(engine: &dyn Engine, n: u64, path: &Path) -> BenchResult<Option<Row>> {
    let (start, end) = (w4_key(n * 2 / 5), w4_key(n * 3 / 5));
    engine.flush("w4")?;
    let before = directory_size(path)?.allocated;
    let mut supported = true;
    let mut row = timed(
        engine,
        "W4",
        &format!("delete a range of {} keys", n * 3 / 5 - n * 2 / 5),
        1,
        SyncMode::Sync,
        || {
            let started = Instant::now();
            supported = engine.delete_range("w4", &start, &end)?;
            engine.flush("w4")?;
            Ok(Measured {
                entry_bytes: W4_KEY_BYTES,
                ops: n * 3 / 5 - n * 2 / 5,
                commits: 1,
                elapsed: started.elapsed(),
                latencies: Latencies::default(),
            })
        },
    )?;
    if !supported {
        return Ok(None);
    }
    let after = directory_size(path)?.allocated;
    let mib = |bytes: u64| bytes as f64 / f64::from(1u32 << 20);
    row.note = format!(
        "files {:.1} MiB before, {:.1} MiB after the flush",
        mib(before),
        mib(after)
    );
    row.file_bytes = Some(after);
    Ok(Some(row))
}

/// `threads` readers sharing `n` random reads of keys `0..n`.
fn reads(
    engine: &dyn Engine,
    threads: usize,
    n: u64,
    read: impl Fn(&dyn Engine, &[u8]) -> BenchResult<()> + Sync,
) -> BenchResult<Measured> {
    let per_thread = n / threads as u64;
    let (results, elapsed) = on_threads(threads, |i| {
        let mut rng = fastrand::Rng::with_seed(200 + i as u64);
        let mut latencies = Latencies::default();
        for _ in 0..per_thread {
            let key = w4_key(rng.u64(..n.max(1)));
            let begun = Instant::now();
            read(engine, &key)?;
            latencies.push(begun.elapsed());
        }
        Ok(latencies)
    })?;
    let latencies = results.into_iter().collect();
    Ok(Measured {
        entry_bytes: 8 + VALUE_BYTES as u64,
        ops: per_thread * threads as u64,
        commits: 0,
        elapsed,
        latencies,
    })
}

/// Runs `work(i)` for `i` in `0..threads`, each on its own thread; returns the results and
/// the wall time of the whole.
pub(crate) fn on_threads<T: Send>(
    threads: usize,
    work: impl Fn(usize) -> BenchResult<T> + Sync,
) -> BenchResult<(Vec<T>, Duration)> {
    let started = Instant::now();
    let results: Vec<BenchResult<T>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let work = &work;
                scope.spawn(move || work(i))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("worker thread panicked".into()))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    Ok((
        results.into_iter().collect::<BenchResult<Vec<T>>>()?,
        elapsed,
    ))
}
