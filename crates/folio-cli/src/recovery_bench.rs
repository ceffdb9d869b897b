//! `folio bench --workload W5`: how long opening takes. A child process (this binary's
//! hidden `w5-fill` command) commits durably, with checkpoints off, until its log holds the
//! size's worth of records, and is killed with SIGKILL; the parent times the reopen until
//! the first read returns (recovery replays the whole log). Then the open of that database
//! after a clean close (empty log), and of a new and a small database.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use folio::{Database, DatabaseOptions, Durability};

use crate::args::BenchSize;
use crate::failure::{CliResult, Failure};

/// The column family the child fills.
const CF: &str = "w5";
/// Puts per durable commit, and the value size (W1's values).
const BATCH: u64 = 100;
const VALUE_BYTES: usize = 150;

fn fail(context: &str) -> impl FnOnce(folio::Error) -> Failure + '_ {
    move |error| Failure::error(format!("W5: {context}: {error}"))
}

/// Log bytes the child writes before it is killed.
fn log_bytes(size: BenchSize) -> u64 {
    match size {
        BenchSize::Smoke => 4 << 20,
        BenchSize::Quick => 64 << 20,
        BenchSize::Full => 1 << 30,
    }
}

fn key(i: u64) -> [u8; 8] {
    // Spread over the key space, so replay inserts at random places.
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes()
}

/// Options that keep every commit in the log: no checkpoint by time, log size or dirty
/// bytes until far past what the child writes.
fn fill_options(log_bytes: u64) -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_log_bytes: log_bytes * 4,
        checkpoint_dirty_bytes: usize::try_from(log_bytes * 4).unwrap_or(usize::MAX),
        ..DatabaseOptions::default()
    };
    options.page_store.cache_bytes_max = usize::try_from(log_bytes * 8).unwrap_or(usize::MAX);
    options
}

/// The hidden `w5-fill` command: fills the log of the database in `dir`, prints `ready`
/// with the number of puts and the log bytes written, then waits to be killed.
pub fn fill(dir: &Path, log_bytes: u64) -> CliResult {
    let db = Database::open_with(dir, fill_options(log_bytes)).map_err(fail("open"))?;
    db.create_cf(CF).map_err(fail("create_cf"))?;
    let value = vec![0x5A; VALUE_BYTES];
    let mut puts = 0u64;
    while db.stats().wal.commit.bytes < log_bytes {
        let mut txn = db.begin_write(&[CF]).map_err(fail("begin_write"))?;
        for _ in 0..BATCH {
            txn.put(CF, &key(puts), &value).map_err(fail("put"))?;
            puts += 1;
        }
        txn.commit_with(Durability::Immediate)
            .map_err(fail("commit"))?;
    }
    println!("ready {puts} {}", db.stats().wal.commit.bytes);
    loop {
        std::thread::park();
    }
}

/// Median of `runs` calls of `time_once`.
fn median_of(
    runs: usize,
    mut time_once: impl FnMut() -> Result<Duration, Failure>,
) -> Result<Duration, Failure> {
    let mut times = (0..runs)
        .map(|_| time_once())
        .collect::<Result<Vec<_>, _>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}

/// Opens `dir` and reads one key; returns the time and the database.
fn open_and_read(dir: &Path) -> Result<(Duration, Database), Failure> {
    let start = Instant::now();
    let db = Database::open(dir).map_err(fail("reopen"))?;
    let read = db.begin_read();
    if read.get(CF, &key(0)).map_err(fail("first read"))?.is_none() {
        return Err(Failure::error(
            "W5: the first key is missing after recovery",
        ));
    }
    drop(read);
    Ok((start.elapsed(), db))
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e3)
}

pub fn run(size: BenchSize, dir: &Path) -> CliResult {
    let log_bytes = log_bytes(size);
    let db_dir = dir.join("w5");
    let _ = std::fs::remove_dir_all(&db_dir);
    std::fs::create_dir_all(&db_dir).map_err(|e| Failure::error(format!("W5: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| Failure::error(format!("W5: {e}")))?;
    let mut child = Command::new(exe)
        .arg("w5-fill")
        .arg(&db_dir)
        .arg("--log-bytes")
        .arg(log_bytes.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::error(format!("W5: cannot start the writer: {e}")))?;
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped");
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| Failure::error(format!("W5: {e}")))?;
    child
        .kill()
        .map_err(|e| Failure::error(format!("W5: kill: {e}")))?; // SIGKILL
    let _ = child.wait();
    let said = |index: usize| -> Result<u64, Failure> {
        line.strip_prefix("ready ")
            .and_then(|rest| rest.split_whitespace().nth(index))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Failure::error(format!("W5: the writer said {line:?}")))
    };
    let puts = said(0)?;
    let logged = said(1)?;

    let (recovery_time, db) = open_and_read(&db_dir)?;
    let report = db.recovery_report().clone();
    let read = db.begin_read();
    let recovered = read.len(CF).map_err(fail("len"))?;
    drop(read);
    if recovered != puts {
        return Err(Failure::error(format!(
            "W5: {puts} puts acknowledged, {recovered} recovered"
        )));
    }
    db.close().map_err(fail("close"))?;
    let data_bytes = std::fs::metadata(db_dir.join("data.folio")).map_or(0, |m| m.len());
    let clean_open = median_of(5, || {
        let (time, db) = open_and_read(&db_dir)?;
        drop(db);
        Ok(time)
    })?;

    let fresh_dir = dir.join("w5-fresh");
    let fresh_open = median_of(5, || {
        let _ = std::fs::remove_dir_all(&fresh_dir);
        let start = Instant::now();
        let db = Database::open(&fresh_dir).map_err(fail("create"))?;
        let time = start.elapsed();
        db.close().map_err(fail("close"))?;
        Ok(time)
    })?;
    {
        let db = Database::open(&fresh_dir).map_err(fail("open"))?;
        db.create_cf(CF).map_err(fail("create_cf"))?;
        let mut txn = db.begin_write(&[CF]).map_err(fail("begin_write"))?;
        txn.put(CF, &key(0), b"one").map_err(fail("put"))?;
        txn.commit().map_err(fail("commit"))?;
        db.close().map_err(fail("close"))?;
    }
    let small_open = median_of(5, || Ok(open_and_read(&fresh_dir)?.0))?;
    let _ = std::fs::remove_dir_all(&db_dir);
    let _ = std::fs::remove_dir_all(&fresh_dir);

    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let logged = mib(logged);
    println!("folio bench W5 ({size:?} size)\n");
    println!("| case | open + first read ms | log MiB | records replayed | replay MiB/s |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| after SIGKILL, {puts} puts in the log | {} | {logged:.1} | {} | {:.0} |",
        ms(recovery_time),
        report.replayed_records,
        logged / recovery_time.as_secs_f64()
    );
    println!(
        "| after a clean close, {:.0} MiB data file, empty log (median of 5) | {} | 0 | 0 | |",
        mib(data_bytes),
        ms(clean_open)
    );
    println!(
        "| a new database: create (median of 5) | {} | 0 | 0 | |",
        ms(fresh_open)
    );
    println!(
        "| a database holding one key (median of 5) | {} | 0 | 0 | |",
        ms(small_open)
    );
    Ok(())
}
