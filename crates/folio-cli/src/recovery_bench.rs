//! `folio bench --workload W5`: how long opening takes. The kill-and-reopen part is
//! `folio_bench::recovery` (the same code the peer comparison runs), with this binary's
//! hidden `w5-fill` and `w5-reopen` commands as its writer and reopen processes. Then the
//! creation of a new database and the open of one holding one key.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use folio::Database;
use folio_bench::FolioEngine;
use folio_bench::recovery::{fill_and_wait, measure, recovery_table, reopen_and_report};

use crate::args::BenchSize;
use crate::bench::CACHE_BYTES;
use crate::failure::{CliResult, Failure};

fn fail(context: &str) -> impl FnOnce(folio::Error) -> Failure + '_ {
    move |error| Failure::error(format!("W5: {context}: {error}"))
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(bench_failure)`, which passes the error by value"
)]
fn bench_failure(error: Box<dyn std::error::Error + Send + Sync>) -> Failure {
    Failure::error(format!("W5: {error}"))
}

/// Keys and values the writer commits before it is killed.
fn data_bytes(size: BenchSize) -> u64 {
    match size {
        BenchSize::Smoke => 4 << 20,
        BenchSize::Quick => 64 << 20,
        BenchSize::Full => 1 << 30,
    }
}

/// The hidden `w5-fill` command.
pub fn fill(dir: &Path, data_bytes: u64) -> CliResult {
    let engine =
        FolioEngine::open_holding_log(dir, CACHE_BYTES, data_bytes).map_err(bench_failure)?;
    fill_and_wait(&*engine, data_bytes).map_err(bench_failure)
}

/// The hidden `w5-reopen` command.
pub fn reopen(dir: &Path) -> CliResult {
    reopen_and_report(&|path: &Path| FolioEngine::open(path, CACHE_BYTES), dir)
        .map_err(bench_failure)
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

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e3)
}

pub fn run(size: BenchSize, dir: &Path) -> CliResult {
    let data_bytes = data_bytes(size);
    let db_dir = dir.join("w5");
    let _ = std::fs::remove_dir_all(&db_dir);
    let exe = std::env::current_exe().map_err(|e| Failure::error(format!("W5: {e}")))?;
    let mut writer = Command::new(&exe);
    writer
        .arg("w5-fill")
        .arg(&db_dir)
        .arg("--data-bytes")
        .arg(data_bytes.to_string());
    let reopen = || {
        let mut command = Command::new(&exe);
        command.arg("w5-reopen").arg(&db_dir);
        command
    };
    let row = measure("folio", writer, reopen, &db_dir).map_err(bench_failure)?;
    let _ = std::fs::remove_dir_all(&db_dir);

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
        db.create_cf("one").map_err(fail("create_cf"))?;
        let mut txn = db.begin_write(&["one"]).map_err(fail("begin_write"))?;
        txn.put("one", b"key", b"one").map_err(fail("put"))?;
        txn.commit().map_err(fail("commit"))?;
        db.close().map_err(fail("close"))?;
    }
    let small_open = median_of(5, || {
        let start = Instant::now();
        let db = Database::open(&fresh_dir).map_err(fail("open"))?;
        if db
            .begin_read()
            .get("one", b"key")
            .map_err(fail("get"))?
            .is_none()
        {
            return Err(Failure::error("W5: the key is missing after a reopen"));
        }
        let time = start.elapsed();
        drop(db);
        Ok(time)
    })?;
    let _ = std::fs::remove_dir_all(&fresh_dir);

    println!("folio bench W5 ({size:?} size)\n");
    print!("{}", recovery_table(&[row]));
    println!(
        "\na new database: create {} ms; a database holding one key: open + read {} ms (medians of 5)",
        ms(fresh_open),
        ms(small_open)
    );
    Ok(())
}
