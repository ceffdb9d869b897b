//! Medians of repeated runs, the folio / peer ratio table, and the machine line.

use std::collections::BTreeMap;
use std::fmt::Write;

use folio_bench::Row;

/// Identifies one figure: workload, variant, threads, mode, system.
type Key = (String, String, usize, String, String);

fn key(row: &Row) -> Key {
    (
        row.workload.clone(),
        row.variant.clone(),
        row.threads,
        row.mode.clone(),
        row.system.clone(),
    )
}

/// For each figure, the run with the median throughput.
pub fn medians(raw: &[Row]) -> Vec<Row> {
    let mut groups: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
    for row in raw {
        groups.entry(key(row)).or_default().push(row);
    }
    groups
        .into_values()
        .map(|mut runs| {
            runs.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
            runs[runs.len() / 2].clone()
        })
        .collect()
}

/// One line per figure: folio's ops/s, then each peer's with folio / peer.
pub fn ratio_table(medians: &[Row]) -> String {
    let mut systems: Vec<String> = medians.iter().map(|r| r.system.clone()).collect();
    systems.sort();
    systems.dedup();
    systems.retain(|s| s != "folio");
    let mut figures: BTreeMap<(String, String, usize, String), BTreeMap<String, &Row>> =
        BTreeMap::new();
    for row in medians {
        figures
            .entry((
                row.workload.clone(),
                row.variant.clone(),
                row.threads,
                row.mode.clone(),
            ))
            .or_default()
            .insert(row.system.clone(), row);
    }
    let mut out = String::from("| workload | variant | threads | mode | folio ops/s |");
    for system in &systems {
        let _ = write!(out, " {system} ops/s (folio / {system}) |");
    }
    out.push_str("\n|---|---|---:|---|---:|");
    for _ in &systems {
        out.push_str("---:|");
    }
    out.push('\n');
    for ((workload, variant, threads, mode), by_system) in &figures {
        let folio = by_system.get("folio").map(|r| r.ops_per_sec);
        let _ = write!(
            out,
            "| {workload} | {variant} | {threads} | {mode} | {} |",
            folio.map_or("-".into(), |v| format!("{v:.0}"))
        );
        for system in &systems {
            match (by_system.get(system.as_str()), folio) {
                (Some(peer), Some(folio)) => {
                    let note = if peer.note.is_empty() { "" } else { " †" };
                    let _ = write!(
                        out,
                        " {:.0} ({:.2}x){note} |",
                        peer.ops_per_sec,
                        folio / peer.ops_per_sec.max(1e-9)
                    );
                }
                (Some(peer), None) => {
                    let _ = write!(out, " {:.0} |", peer.ops_per_sec);
                }
                _ => out.push_str(" - |"),
            }
        }
        out.push('\n');
    }
    out.push_str("\n† the peer has one writer at a time: its writer threads took turns.\n");
    out
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Cores, memory, kernel, file system of the scratch directory, date, commit.
pub fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let fs = command_output("df", &["-T", &std::env::temp_dir().display().to_string()]);
    let fs = fs
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    let date = command_output("date", &["-u", "+%Y-%m-%d"]);
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"]);
    format!(
        "Machine: {cores} cores, {memory_gib:.0} GiB, Linux {}, {fs} file system, {date}, commit {commit}",
        kernel.trim()
    )
}
