//! Parallel writers, one column family each: workload W1 of `docs/workloads.md` on
//! folio alone. T threads each own a column family and commit 50 transactions of 1,000
//! random inserts (8-byte keys, 150-byte incompressible values), durable (`Immediate`) and
//! not (`Eventual`), in a fresh database per run. Prints ops/s and commit latency.
//!
//! Run: `cargo run --release -p folio --example parallel_writers [-- --threads 1,2,4,8 --txns 50]`
//!
//! With `--shared` every thread writes to one column family instead (workload W3 with
//! `--txns 500 --ops 10`: many threads committing small batches to the same column family).
//! With `--batches` each transaction is a `WriteBatch` given to `Database::write` (the commit
//! queue merges concurrent batches) instead of a write transaction. `FOLIO_EXAMPLE_STATS=1`
//! prints the commit-queue and log counters of each run.

use std::time::{Duration, Instant};

use folio::{Database, Durability, WriteBatch};

struct Args {
    threads: Vec<usize>,
    txns: usize,
    ops: usize,
    shared: bool,
    batches: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        threads: vec![1, 2, 4, 8],
        txns: 50,
        ops: 1000,
        shared: false,
        batches: false,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().expect("a value after the flag");
        match arg.as_str() {
            "--threads" => {
                args.threads = value()
                    .split(',')
                    .map(|t| t.parse().expect("thread counts"))
                    .collect();
            }
            "--txns" => args.txns = value().parse().expect("--txns N"),
            "--ops" => args.ops = value().parse().expect("--ops N"),
            "--shared" => args.shared = true,
            "--batches" => args.batches = true,
            other => panic!("unknown argument {other}; use --threads 1,2,4,8 --txns 50 --ops 1000"),
        }
    }
    args
}

fn run(
    threads: usize,
    durability: Durability,
    args: &Args,
) -> folio::Result<(f64, Duration, Duration)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::open(dir.path())?;
    let cf_of = |t: usize| {
        if args.shared {
            "cf-0".to_owned()
        } else {
            format!("cf-{t}")
        }
    };
    for t in 0..threads {
        db.create_cf_if_missing(&cf_of(t))?;
    }
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (db, cf_of) = (&db, &cf_of);
                scope.spawn(move || -> folio::Result<Vec<Duration>> {
                    let cf = cf_of(t);
                    let mut rng = fastrand_lite(t as u64 + 1);
                    let mut latencies = Vec::with_capacity(args.txns);
                    let mut value = [0u8; 150];
                    for _ in 0..args.txns {
                        let mut entries = (0..args.ops).map(|_| {
                            let key = rng().to_be_bytes();
                            for chunk in value.chunks_mut(8) {
                                let random = rng().to_le_bytes();
                                chunk.copy_from_slice(&random[..chunk.len()]);
                            }
                            (key, value)
                        });
                        let begun = if args.batches {
                            let mut batch = WriteBatch::new();
                            for (key, value) in entries.by_ref() {
                                batch.put(&cf, &key, &value);
                            }
                            let begun = Instant::now();
                            db.write_with(batch, durability)?;
                            begun
                        } else {
                            let mut txn = db.begin_write(&[cf.as_str()])?;
                            for (key, value) in entries.by_ref() {
                                txn.put(&cf, &key, &value)?;
                            }
                            let begun = Instant::now();
                            txn.commit_with(durability)?;
                            begun
                        };
                        latencies.push(begun.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer thread").expect("writer"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    if std::env::var_os("FOLIO_EXAMPLE_STATS").is_some() {
        let stats = db.stats();
        eprintln!(
            "{threads} threads: commit queue {:?}, log {} records in {} writes, {} syncs; {} checkpoints",
            stats.commit_queue,
            stats.wal.commit.records,
            stats.wal.commit.writes,
            stats.wal.commit.syncs,
            stats.page_store.checkpoints
        );
    }
    latencies.sort_unstable();
    let ops = (threads * args.txns * args.ops) as f64;
    Ok((
        ops / elapsed,
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    ))
}

/// A small seeded generator (splitmix64), so every run sees the same keys.
fn fastrand_lite(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn main() -> folio::Result<()> {
    let args = parse_args();
    println!(
        "{}: T threads x {} transactions x {} random inserts (150-byte values), {}\n",
        if args.shared {
            "W3 same-cf"
        } else {
            "W1 cf-batch"
        },
        args.txns,
        args.ops,
        if args.shared {
            "all threads on one column family"
        } else {
            "one column family per thread"
        }
    );
    println!("| durability | threads | ops/s | commit p50 | commit p99 |");
    println!("|---|---:|---:|---:|---:|");
    for (name, durability) in [
        ("sync", Durability::Immediate),
        ("no-sync", Durability::Eventual),
    ] {
        for &threads in &args.threads {
            let (ops, p50, p99) = run(threads, durability, &args)?;
            println!("| {name} | {threads} | {ops:.0} | {p50:.2?} | {p99:.2?} |");
        }
    }
    Ok(())
}
