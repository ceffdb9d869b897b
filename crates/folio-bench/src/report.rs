//! [`Row`]: one measured figure, and the markdown table of many.

use std::fmt::Write;

/// One run of one workload variant on one system.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// `W1` ... `W6`.
    pub workload: String,
    /// The variant (`cf-batch`, `batch 10`, `95/5 read/update`, ...).
    pub variant: String,
    /// The system.
    pub system: String,
    /// Threads.
    pub threads: usize,
    /// `sync` or `no-sync`.
    pub mode: String,
    /// Operations (puts, reads).
    pub ops: u64,
    /// Commits (0 for read-only runs).
    pub commits: u64,
    /// Wall time.
    pub seconds: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Median commit (or operation) latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// fsyncs per commit, when the engine counts them.
    pub syncs_per_commit: Option<f64>,
    /// Bytes written to storage per byte of user data.
    pub write_amplification: Option<f64>,
    /// Peak resident memory during the run, MiB.
    pub peak_rss_mib: f64,
    /// What the system ran instead, when it cannot run the workload as specified (W8: the
    /// size of its files).
    pub note: String,
    /// Bytes of the engine's files after the run (W8 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_bytes: Option<u64>,
    /// Transaction attempts that conflicted and were retried (W9 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<u64>,
}

/// The rows as a markdown table.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | variant | system | threads | mode | ops/s | p50 | p99 | syncs/commit | write amp | peak RSS |\n|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let optional = |value: Option<f64>, digits: usize| {
        value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
    };
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.0} MiB |",
            row.workload,
            row.variant,
            row.system,
            row.threads,
            row.mode,
            row.ops_per_sec,
            micros(row.p50_us),
            micros(row.p99_us),
            optional(row.syncs_per_commit, 3),
            optional(row.write_amplification, 2),
            row.peak_rss_mib,
        );
    }
    out
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}
