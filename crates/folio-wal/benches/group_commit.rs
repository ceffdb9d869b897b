//! Group-commit benchmark: durable appends per second, syncs per commit and commit latency
//! for 1, 2, 8, 32 and 128 threads with 100-byte and 4 KiB records, on a real file system.
//!
//! Every append is `Durability::Immediate` (returns after its sync). Each figure is the
//! median of 3 runs of `--seconds` (default 1.0) each, in a fresh log.
//!
//! Run: `cargo bench -p folio-wal --bench group_commit [-- --seconds 1 --window-us 0 --dir D]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use folio_io::FsDirectory;
use folio_wal::{Durability, Wal, WalOptions};

const THREADS: [usize; 5] = [1, 2, 8, 32, 128];
const RECORD_BYTES: [usize; 2] = [100, 4096];
const RUNS: usize = 3;
/// async-wal-db's published figure at 128 threads (its published thread-scaling table).
const ASYNC_WAL_DB_128_THREADS_TXN_PER_S: f64 = 1960.0;

struct Args {
    seconds: f64,
    window_us: u64,
    dir: Option<std::path::PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args {
        seconds: 1.0,
        window_us: 0,
        dir: None,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seconds" => {
                args.seconds = iter
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N");
            }
            "--window-us" => {
                args.window_us = iter
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--window-us N");
            }
            "--dir" => args.dir = iter.next().map(Into::into),
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

#[derive(Debug, Clone, Copy)]
struct Run {
    txn_per_s: f64,
    syncs_per_commit: f64,
    p50_us: u64,
    p99_us: u64,
}

fn run_once(args: &Args, threads: usize, record_bytes: usize) -> Run {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(parent).expect("temp dir");
    let directory = Arc::new(FsDirectory::open(dir.path()).expect("directory"));
    let options = WalOptions {
        sync_interval: None,
        commit_window: (args.window_us > 0).then(|| Duration::from_micros(args.window_us)),
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(directory, options).expect("open");
    let record = vec![0x5A; record_bytes];
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let mut latencies: Vec<u32> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (wal, record, stop) = (&wal, &record, &stop);
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let begun = Instant::now();
                        wal.append(record, Durability::Immediate).expect("append");
                        latencies.push(begun.elapsed().as_micros() as u32);
                    }
                    latencies
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("appender"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let stats = wal.stats().commit;
    latencies.sort_unstable();
    let percentile = |p: f64| u64::from(latencies[((latencies.len() - 1) as f64 * p) as usize]);
    Run {
        txn_per_s: latencies.len() as f64 / elapsed,
        syncs_per_commit: stats.syncs as f64 / stats.records as f64,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args = parse_args();
    println!(
        "# folio-wal group commit: durable appends (median of {RUNS} runs of {:.1} s, window {} us)\n",
        args.seconds, args.window_us
    );
    println!("| record | threads | txn/s | syncs/commit | 1/threads | p50 us | p99 us |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for record_bytes in RECORD_BYTES {
        for threads in THREADS {
            let runs: Vec<Run> = (0..RUNS)
                .map(|_| run_once(&args, threads, record_bytes))
                .collect();
            let txn = median(runs.iter().map(|r| r.txn_per_s).collect());
            let syncs = median(runs.iter().map(|r| r.syncs_per_commit).collect());
            let p50 = median(runs.iter().map(|r| r.p50_us as f64).collect());
            let p99 = median(runs.iter().map(|r| r.p99_us as f64).collect());
            println!(
                "| {record_bytes} B | {threads} | {txn:.0} | {syncs:.3} | {:.3} | {p50:.0} | {p99:.0} |",
                1.0 / threads as f64
            );
            if threads == 128 && record_bytes == 100 {
                eprintln!(
                    "128 threads, 100 B: {:.1}x async-wal-db's published {ASYNC_WAL_DB_128_THREADS_TXN_PER_S} txn/s",
                    txn / ASYNC_WAL_DB_128_THREADS_TXN_PER_S
                );
            }
        }
    }
}
