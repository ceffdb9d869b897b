//! `cargo xtask bench --baseline REV`: folio at REV against the working tree, on the same
//! workloads, in one run. REV is built in its own worktree and target directory
//! (`target/baseline/`); then `folio bench` of the baseline and of the current build run
//! alternately, `--runs` times each (default 3), and the table gives each row's median ops/s
//! and p99 for both with the ratio current / baseline. Alternating, in one run, on one
//! machine is what makes a before/after ratio mean something on a shared machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const DIR: &str = "target/baseline";

/// What a `--baseline` run measures.
pub(crate) struct Request {
    pub(crate) rev: String,
    pub(crate) runs: usize,
    /// `folio bench` arguments: workloads, threads, size, durability.
    pub(crate) bench_args: Vec<String>,
}

pub(crate) fn run(request: &Request) -> Result<(), String> {
    let baseline = build_baseline(&request.rev)?;
    crate::run(crate::cargo(&["build", "--release", "-p", "folio-cli"]))?;
    let current = PathBuf::from("target/release/folio");
    let mut samples: BTreeMap<RowKey, (Vec<Sample>, Vec<Sample>)> = BTreeMap::new();
    for run in 0..request.runs {
        for (which, binary) in [(0, &baseline), (1, &current)] {
            eprintln!(
                "xtask: run {}/{} of the {}",
                run + 1,
                request.runs,
                if which == 0 {
                    "baseline"
                } else {
                    "current build"
                }
            );
            for (key, sample) in bench_once(binary, &request.bench_args)? {
                let entry = samples.entry(key).or_default();
                if which == 0 {
                    entry.0.push(sample);
                } else {
                    entry.1.push(sample);
                }
            }
        }
    }
    println!(
        "folio at {} (baseline) against the working tree, {} alternating runs each; medians\n",
        request.rev, request.runs
    );
    println!(
        "| workload | variant | threads | mode | baseline ops/s | current ops/s | current / baseline | baseline p99 µs | current p99 µs |"
    );
    println!("|---|---|---:|---|---:|---:|---:|---:|---:|");
    for (key, (before, after)) in &samples {
        // A row only one side has (a workload added or removed since the baseline) gets no
        // ratio.
        let cell = |samples: &[Sample], field: fn(&Sample) -> f64, decimals: usize| {
            if samples.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.*}", decimals, median(samples, field))
            }
        };
        let ratio = if before.is_empty() || after.is_empty() {
            "-".to_owned()
        } else {
            let (b, a) = (
                median(before, |s| s.ops_per_sec),
                median(after, |s| s.ops_per_sec),
            );
            format!("{:.2}x", a / b.max(1e-9))
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {ratio} | {} | {} |",
            key.workload,
            key.variant,
            key.threads,
            key.mode,
            cell(before, |s| s.ops_per_sec, 0),
            cell(after, |s| s.ops_per_sec, 0),
            cell(before, |s| s.p99_us, 0),
            cell(after, |s| s.p99_us, 0),
        );
    }
    Ok(())
}

/// Builds `folio` at `rev` in its own worktree and target directory; returns the binary.
fn build_baseline(rev: &str) -> Result<PathBuf, String> {
    let sha = git(&["rev-parse", "--verify", &format!("{rev}^{{commit}}")])?;
    let sha = sha.trim();
    let source = Path::new(DIR).join(format!("src-{}", &sha[..12]));
    if !source.exists() {
        std::fs::create_dir_all(DIR).map_err(|e| format!("{DIR}: {e}"))?;
        git(&[
            "worktree",
            "add",
            "--detach",
            &source.to_string_lossy(),
            sha,
        ])?;
    }
    let target = std::fs::canonicalize(DIR)
        .map_err(|e| format!("{DIR}: {e}"))?
        .join("target");
    let mut build = crate::cargo(&["build", "--release", "-p", "folio-cli"]);
    build.current_dir(&source).env("CARGO_TARGET_DIR", &target);
    crate::run(build)?;
    Ok(target.join("release/folio"))
}

fn git(args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    workload: String,
    variant: String,
    threads: u64,
    mode: String,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    ops_per_sec: f64,
    p99_us: f64,
}

/// Runs `folio bench --json` once; returns each row's key and figures.
fn bench_once(binary: &Path, args: &[String]) -> Result<Vec<(RowKey, Sample)>, String> {
    let output = Command::new(binary)
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} bench failed: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("{} bench printed no JSON rows: {e}", binary.display()))?;
    rows.iter()
        .map(|row| {
            let text = |field: &str| row[field].as_str().unwrap_or_default().to_owned();
            let number = |field: &str| row[field].as_f64().unwrap_or(0.0);
            Ok((
                RowKey {
                    workload: text("workload"),
                    variant: text("variant"),
                    threads: row["threads"].as_u64().unwrap_or(0),
                    mode: text("mode"),
                },
                Sample {
                    ops_per_sec: number("ops_per_sec"),
                    p99_us: number("p99_us"),
                },
            ))
        })
        .collect()
}

fn median(samples: &[Sample], field: impl Fn(&Sample) -> f64) -> f64 {
    let mut values: Vec<f64> = samples.iter().map(field).collect();
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
