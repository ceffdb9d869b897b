//! `folio-peers`: runs the workloads of `docs/workloads.md` on folio and its peers,
//! each figure the median of several runs, and writes a markdown table with folio / peer
//! ratios, a JSON file with every raw figure, and plots. Run through `cargo xtask bench`.

mod args;
mod peers;
mod plots;
mod summary;

use std::path::Path;

use folio_bench::{FolioEngine, Opener, Row, SyncMode, Workload, run_workload};

/// Page cache given to every system.
pub const CACHE_BYTES: usize = 64 << 20;

fn main() {
    let args = args::parse();
    if let Err(error) = run(&args) {
        eprintln!("folio-peers: {error}");
        std::process::exit(1);
    }
}

fn opener(system: &str) -> Option<Box<Opener>> {
    if system == "folio" {
        return Some(Box::new(|path: &Path| FolioEngine::open(path, CACHE_BYTES)));
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
                let rows = run_workload(&*open, workload, threads, *mode, &dir)?;
                let _ = std::fs::remove_dir_all(&dir);
                raw.extend(rows);
            }
        }
    }
    let medians = summary::medians(&raw);
    let machine = summary::machine_line();
    let table = summary::ratio_table(&medians);
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
    std::fs::write(args.out.join("bench.md"), format!("{machine}\n\n{table}"))?;
    plots::draw(&medians, &args.out)?;
    println!("{machine}\n\n{table}");
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// Keeps `Workload` and `SyncMode` in scope for the modules.
pub type Plan = Vec<(Workload, Vec<usize>, SyncMode)>;
