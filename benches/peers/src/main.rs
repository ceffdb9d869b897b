//! `folio-peers`: runs the workloads of `docs/workloads.md` on folio and its peers,
//! each figure the median of several runs, and writes a markdown table with folio / peer
//! ratios, a JSON file with every raw figure, and plots. Run through `cargo xtask bench`.

mod args;
mod peers;
mod plots;
mod summary;

use std::path::Path;

use folio_bench::recovery::{
    RecoveryRow, fill_and_wait, measure, recovery_table, reopen_and_report,
};
use folio_bench::{FolioEngine, Opener, Row, SyncMode, Workload, run_workload};

/// Page cache given to every system.
pub const CACHE_BYTES: usize = 64 << 20;

fn main() {
    // W5's writer: `folio-peers --w5-writer SYSTEM DIR DATA_BYTES` (started by `run_w5`).
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("--w5-writer") {
        if let Err(error) = w5_writer(&raw[2..]) {
            eprintln!("folio-peers: W5 writer: {error}");
            std::process::exit(1);
        }
        return;
    }
    // W5's reopen: `folio-peers --w5-reopen SYSTEM DIR`.
    if raw.get(1).map(String::as_str) == Some("--w5-reopen") {
        let result = match &raw[2..] {
            [system, dir] => opener(system)
                .ok_or_else(|| format!("{system} was not compiled in").into())
                .and_then(|open| reopen_and_report(&*open, Path::new(dir))),
            _ => Err("usage: --w5-reopen SYSTEM DIR".into()),
        };
        if let Err(error) = result {
            eprintln!("folio-peers: W5 reopen: {error}");
            std::process::exit(1);
        }
        return;
    }
    let args = args::parse();
    if let Err(error) = run(&args) {
        eprintln!("folio-peers: {error}");
        std::process::exit(1);
    }
}

fn w5_writer(args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let [system, dir, data_bytes] = args else {
        return Err("usage: --w5-writer SYSTEM DIR DATA_BYTES".into());
    };
    let data_bytes: u64 = data_bytes.parse()?;
    let open = holding_opener(system, data_bytes)
        .ok_or_else(|| format!("{system} was not compiled in"))?;
    let engine = open(Path::new(dir))?;
    fill_and_wait(&*engine, data_bytes)
}

/// The opener for W5's writer (see `peers::holding_opener`).
fn holding_opener(system: &str, data_bytes: u64) -> Option<Box<Opener>> {
    if system == "folio" {
        return Some(Box::new(move |path: &Path| {
            FolioEngine::open_holding_log(path, CACHE_BYTES, data_bytes)
        }));
    }
    peers::holding_opener(system, data_bytes)
}

/// W5 for every system: returns its table (empty when W5 was not asked for).
fn run_w5(
    args: &args::Args,
    scratch: &Path,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    if !args.only.iter().any(|w| w == "W5") {
        return Ok(String::new());
    }
    let data_bytes: u64 = if args.smoke {
        4 << 20
    } else if args.full {
        1 << 30
    } else {
        64 << 20
    };
    let exe = std::env::current_exe()?;
    let mut rows: Vec<RecoveryRow> = Vec::new();
    for system in &args.systems {
        if opener(system).is_none() {
            return Err(format!("{system} was not compiled in (enable its feature)").into());
        }
        eprintln!(
            "W5 {system}: filling {} MiB, then SIGKILL",
            data_bytes >> 20
        );
        let dir = scratch.join(format!("w5-{system}"));
        let mut writer = std::process::Command::new(&exe);
        writer
            .arg("--w5-writer")
            .arg(system)
            .arg(&dir)
            .arg(data_bytes.to_string());
        let reopen = || {
            let mut command = std::process::Command::new(&exe);
            command.arg("--w5-reopen").arg(system).arg(&dir);
            command
        };
        rows.push(measure(system, writer, reopen, &dir)?);
        let _ = std::fs::remove_dir_all(&dir);
    }
    plots::draw_recovery(&rows, &args.out)?;
    Ok(format!(
        "### W5: recovery after SIGKILL with {} MiB of acknowledged data in the log\n\n{}",
        data_bytes >> 20,
        recovery_table(&rows)
    ))
}

fn opener(system: &str) -> Option<Box<Opener>> {
    let compressed = |compression: folio_bench::Compression| -> Box<Opener> {
        Box::new(move |path: &Path| FolioEngine::open_compressed(path, CACHE_BYTES, compression))
    };
    match system {
        "folio" => return Some(Box::new(|path: &Path| FolioEngine::open(path, CACHE_BYTES))),
        "folio-exclusive" => {
            return Some(Box::new(|path: &Path| {
                FolioEngine::open_exclusive_transfers(path, CACHE_BYTES)
            }));
        }
        "folio-encrypted" => {
            return Some(Box::new(|path: &Path| {
                FolioEngine::open_encrypted(path, CACHE_BYTES)
            }));
        }
        "folio-lz4" => return Some(compressed(folio_bench::Compression::Lz4)),
        "folio-zstd" => return Some(compressed(folio_bench::Compression::Zstd { level: 3 })),
        _ => {}
    }
    peers::opener(system)
}

fn run(args: &args::Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    std::fs::create_dir_all(&args.out)?;
    // Plots of an earlier run would be mistaken for this one's.
    for entry in std::fs::read_dir(&args.out)?.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "svg" || x == "png") {
            std::fs::remove_file(path)?;
        }
    }
    let scratch = tempfile::tempdir_in(&args.scratch)?;
    let w5 = run_w5(args, scratch.path())?;
    let plan = args::plan(args);
    let total = plan.len() * args.systems.len() * args.runs;
    let mut done = 0;
    let mut raw: Vec<Row> = Vec::new();
    for (workload, threads, mode) in &plan {
        for system in &args.systems {
            let Some(open) = opener(system) else {
                return Err(format!("{system} was not compiled in (enable its feature)").into());
            };
            for run in 0..args.runs {
                done += 1;
                eprintln!(
                    "[{done}/{total}] {} {} {system} threads {threads:?} run {}",
                    workload.id(),
                    mode.label(),
                    run + 1
                );
                let dir = scratch.path().join(format!("{system}-{done}"));
                let mut rows = run_workload(&*open, workload, threads, *mode, &dir)?;
                // Variants of one engine (folio-encrypted) are reported under their own name.
                for row in &mut rows {
                    row.system.clone_from(system);
                }
                let _ = std::fs::remove_dir_all(&dir);
                raw.extend(rows);
            }
        }
    }
    raw.extend(run_w2_tasks(args, &plan, scratch.path())?);
    raw.extend(run_w8(args, scratch.path())?);
    let medians = summary::medians(&raw);
    let machine = summary::machine_line();
    let mut table = summary::ratio_table(&medians);
    if medians.iter().any(|row| row.workload == "W8") {
        table.push_str(&format!(
            "\n### W8: disk space after loading {} documents (medians)\n\n{}",
            args::w8_documents(args),
            folio_bench::documents::space_table(&medians)
        ));
    }
    std::fs::write(
        args.out.join("bench.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "machine": machine,
            "command": args.command_line,
            "runs": args.runs,
            "medians": medians,
            "raw": raw,
        }))?,
    )?;
    std::fs::write(
        args.out.join("bench.md"),
        format!("{machine}\n\n{table}\n{w5}"),
    )?;
    if !medians.is_empty() {
        plots::draw(&medians, &args.out)?;
    }
    println!("{machine}\n\n{table}\n{w5}");
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// W2 on folio again with async tasks instead of threads (`folio_bench::async_tasks`), when
/// the plan has W2 and folio is among the systems: what an async service gains by not
/// holding a thread per in-flight sync (no peer has an async commit to compare with).
fn run_w2_tasks(
    args: &args::Args,
    plan: &Plan,
    scratch: &Path,
) -> Result<Vec<Row>, Box<dyn std::error::Error + Send + Sync>> {
    let commits = plan.iter().find_map(|(workload, _, _)| match workload {
        Workload::W2 { commits, batch: 1 } => Some(*commits),
        _ => None,
    });
    let (Some(commits), true) = (commits, args.systems.iter().any(|s| s == "folio")) else {
        return Ok(Vec::new());
    };
    let counts: &[usize] = if args.smoke {
        &[4]
    } else {
        &folio_bench::async_tasks::TASK_COUNTS
    };
    let mut rows = Vec::new();
    for &tasks in counts {
        for run in 0..args.runs {
            eprintln!("W2 folio {tasks} tokio tasks run {}", run + 1);
            let dir = scratch.join(format!("w2-tasks-{tasks}-{run}"));
            rows.push(folio_bench::async_tasks::w2_tasks(
                &dir,
                CACHE_BYTES,
                tasks,
                commits,
                1,
            )?);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(rows)
}

/// W8 (compressible documents: file size, load and read speed) for every system, folio
/// with each compression setting and `RocksDB` with and without LZ4 (fjall compresses with
/// LZ4 by default; redb, LMDB and `SQLite` do not compress).
fn run_w8(
    args: &args::Args,
    scratch: &Path,
) -> Result<Vec<Row>, Box<dyn std::error::Error + Send + Sync>> {
    if !args.only.iter().any(|w| w == "W8") {
        return Ok(Vec::new());
    }
    let n = args::w8_documents(args);
    let mut rows = Vec::new();
    for system in &args.systems {
        let variants: Vec<String> = match system.as_str() {
            "folio" => vec!["folio".into(), "folio-lz4".into(), "folio-zstd".into()],
            "rocksdb" => vec!["rocksdb".into(), "rocksdb-lz4".into()],
            other => vec![other.to_owned()],
        };
        for label in variants {
            let Some(open) = opener(&label) else {
                return Err(format!("{label} was not compiled in (enable its feature)").into());
            };
            for run in 0..args.runs {
                eprintln!("W8 {label} {n} documents run {}", run + 1);
                let dir = scratch.join(format!("w8-{label}-{run}"));
                rows.extend(folio_bench::documents::run_documents(
                    &*open, &label, n, &dir,
                )?);
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    Ok(rows)
}

/// Keeps `Workload` and `SyncMode` in scope for the modules.
pub type Plan = Vec<(Workload, Vec<usize>, SyncMode)>;
