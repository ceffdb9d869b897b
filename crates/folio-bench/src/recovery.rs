//! W5, recovery: a writer process fills a log that no checkpoint or flush has covered and
//! is killed with SIGKILL; the reopen until the first read returns is timed, and every
//! acknowledged put must be back. Then the reopen after a clean close. The writer is the
//! benchmark binary itself, started with arguments its caller chooses, so each system opens
//! with its own "hold everything in the log" configuration.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{BenchResult, Engine, Opener, SyncMode};

/// The keyspace the writer fills.
pub const W5_KEYSPACE: &str = "w5";
/// Puts per durable commit, and the value size.
const BATCH: u64 = 100;
const VALUE_BYTES: usize = 150;

/// Key `i` of the writer: spread over the key space.
fn key(i: u64) -> Vec<u8> {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes().to_vec()
}

/// The writer's side: commits batches of puts durably into [`W5_KEYSPACE`] until the keys
/// and values written reach `data_bytes`, prints `ready N` (N puts), and waits to be killed.
pub fn fill_and_wait(engine: &dyn Engine, data_bytes: u64) -> BenchResult<()> {
    engine.create_keyspace(W5_KEYSPACE)?;
    let value = vec![0x5A; VALUE_BYTES];
    let mut puts = 0u64;
    while puts * (8 + VALUE_BYTES as u64) < data_bytes {
        let batch: Vec<(Vec<u8>, Vec<u8>)> = (puts..puts + BATCH)
            .map(|i| (key(i), value.clone()))
            .collect();
        engine.write(W5_KEYSPACE, &batch, SyncMode::Sync)?;
        puts += BATCH;
    }
    println!("ready {puts}");
    loop {
        std::thread::park();
    }
}

/// What W5 measured for one system.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryRow {
    /// The system.
    pub system: String,
    /// Keys and values the writer committed before it was killed.
    pub data_bytes: u64,
    /// Puts acknowledged (all found after the reopen).
    pub puts: u64,
    /// Open + first read after the kill.
    pub recovery: Duration,
    /// Open + first read after a clean close (median of 3).
    pub clean_open: Duration,
    /// Bytes of the database directory after the kill, before the reopen.
    pub directory_bytes: u64,
}

/// The reopen's side, run in a process of its own (as a restart is; some engines also
/// refuse a second open in one process): opens `dir` with `open`, reads the first key,
/// prints `opened NANOS FOUND` (the time to the first read, and the keys found), and
/// closes the engine cleanly.
pub fn reopen_and_report(open: &Opener, dir: &Path) -> BenchResult<()> {
    let start = Instant::now();
    let engine = open(dir)?;
    engine.create_keyspace(W5_KEYSPACE)?; // opens it
    if engine.get(W5_KEYSPACE, &key(0))?.is_none() {
        return Err("W5: the first key is missing after the reopen".into());
    }
    let elapsed = start.elapsed();
    // Every key is 8 bytes, so eight zeros is the smallest (LMDB refuses an empty one).
    let found = engine.scan(W5_KEYSPACE, &[0u8; 8], usize::MAX)?;
    println!("opened {} {found}", elapsed.as_nanos());
    drop(engine);
    Ok(())
}

/// The first line a child printed, after it exited successfully.
fn output_line(mut command: Command) -> BenchResult<String> {
    let output = command.stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("W5: {command:?} failed: {}", output.status).into());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Runs a reopen child; returns its time to the first read and the keys it found.
fn timed_reopen(command: Command) -> BenchResult<(Duration, u64)> {
    let line = output_line(command)?;
    let mut words = line.strip_prefix("opened ").unwrap_or_default().split(' ');
    let nanos: u64 = words
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or("W5: bad reopen line")?;
    let found: u64 = words
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or("W5: bad reopen line")?;
    Ok((Duration::from_nanos(nanos), found))
}

/// The parent's side: runs `writer` (which calls [`fill_and_wait`]), kills it with
/// SIGKILL once it is ready, then runs `reopen()` commands (which call
/// [`reopen_and_report`]): the first recovers, three more open after a clean close.
pub fn measure(
    system: &str,
    mut writer: Command,
    reopen: impl Fn() -> Command,
    dir: &Path,
) -> BenchResult<RecoveryRow> {
    let mut child = writer.stdout(Stdio::piped()).spawn()?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("W5: no writer output")?;
    BufReader::new(stdout).read_line(&mut line)?;
    child.kill()?; // SIGKILL
    child.wait()?;
    let puts: u64 = line
        .strip_prefix("ready ")
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("W5: the {system} writer said {line:?}"))?;
    let directory_bytes = crate::measure::directory_size(dir).map_or(0, |size| size.apparent);

    let (recovery, found) = timed_reopen(reopen())?;
    if found != puts {
        return Err(format!("W5: {system}: {puts} puts acknowledged, {found} found").into());
    }
    let mut clean = Vec::new();
    for _ in 0..3 {
        clean.push(timed_reopen(reopen())?.0);
    }
    clean.sort();
    Ok(RecoveryRow {
        system: system.to_owned(),
        data_bytes: puts * (8 + VALUE_BYTES as u64),
        puts,
        recovery,
        clean_open: clean[1],
        directory_bytes,
    })
}

/// A markdown table of W5 rows, with each system's recovery time relative to folio's.
pub fn recovery_table(rows: &[RecoveryRow]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let folio = rows
        .iter()
        .find(|r| r.system == "folio")
        .map(|r| r.recovery);
    let mut out = String::from(
        "| system | data MiB | files after the kill MiB | reopen after SIGKILL ms | replay MiB/s | its time / folio's (> 1: folio faster) | reopen after a clean close ms |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let ratio = folio.map_or(String::new(), |f| {
            format!("{:.2}", row.recovery.as_secs_f64() / f.as_secs_f64())
        });
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {:.1} |",
            row.system,
            mib(row.data_bytes),
            mib(row.directory_bytes),
            ms(row.recovery),
            mib(row.data_bytes) / row.recovery.as_secs_f64(),
            ratio,
            ms(row.clean_open),
        );
    }
    out
}
