//! Project automation, run as `cargo xtask <command>` (matklad's xtask pattern).
//!
//! - `cargo xtask ci`: what CI checks: formatting, clippy with `-D warnings`, the README's test
//!   command, the quick loom models, and the docs without broken links.
//! - `cargo xtask loom [--quick]`: the loom models of the concurrent code, with
//!   `LOOM_MAX_PREEMPTIONS=3` (2 with `--quick`, the CI set).
//! - `cargo xtask bench [...]`: the peer comparison (see `bench.rs`); `cargo xtask bench
//!   --baseline REV` compares folio at REV with the working tree (see `baseline.rs`).
//! - `cargo xtask crash [--full]`: every crash suite in release mode with more seeds than CI
//!   (`CRASH_SUITES`): every power-cut point of every sweep under every crash policy for 40
//!   seeds (200 with `--full`), the I/O-error loop, log damage, header rot, the raft store's
//!   sweep, and the process-kill tests with `FOLIO_KILLS` kills.

mod baseline;
mod bench;

use std::process::{Command, ExitCode};

/// Crates that hold loom models (`#[cfg(all(test, folio_loom))] mod loom_tests`).
const LOOM_CRATES: &[&str] = &["folio-pagestore", "folio-wal", "folio"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("loom") => loom(args.iter().any(|a| a == "--quick")),
        Some("crash") => crash(args.iter().any(|a| a == "--full")),
        Some("bench") => bench::run(&args[1..]),
        Some("soak") => soak(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 ci              fmt check, clippy -D warnings, tests, quick loom models\n  \
                 loom [--quick]  loom models (LOOM_MAX_PREEMPTIONS=3, or 2 with --quick)\n  \
                 crash [--full]  crash sweeps with 40 seeds (200 with --full) and 1,000 process kills\n  \
                 soak [--minutes N | --seconds N]\n  \
                                 everything at once on a real directory, checked against a model\n  \
                                 (default 10 minutes; samples, plot: target/soak)\n  \
                 bench [--quick|--full|--smoke] [--only W1,W4] [--systems folio,rocksdb,fjall,redb,lmdb,sqlite]\n  \
                       [--threads 1,2,4,8] [--runs N] [--update-docs] [--docs-only]\n  \
                                 folio against its peers (benches/peers), medians of 3 runs\n  \
                 bench --baseline REV [--runs N] [--only W1,W3] [--threads 1,2] [--quick|--smoke]\n  \
                       [--durability both|immediate|eventual]\n  \
                                 folio at REV against the working tree, run alternately"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn ci() -> Result<(), String> {
    run(cargo(&["fmt", "--all", "--", "--check"]))?;
    run(cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The README's test command, exactly.
    run(cargo(&["test", "--workspace"]))?;
    loom(true)?;
    soak(&["--seconds".to_owned(), "20".to_owned()])?;
    // The peer-benchmark harness on folio alone, tiny sizes: it must not rot.
    bench::run(&["--smoke".to_owned()])?;
    // Packaging must not rot: every publishable crate, in dependency order.
    let mut package = cargo(&["package", "--no-verify", "--allow-dirty"]);
    for krate in PUBLISHED {
        package.args(["-p", krate]);
    }
    run_without_warnings(package)?;
    let mut docs = cargo(&["doc", "--workspace", "--no-deps", "--quiet"]);
    docs.env("RUSTDOCFLAGS", "-D warnings");
    run_without_warnings(docs)
}

/// Runs `command`, failing when it fails or prints a cargo warning (such as an output
/// filename collision, which `-D warnings` does not catch).
fn run_without_warnings(mut command: Command) -> Result<(), String> {
    eprintln!("xtask: running {command:?}");
    let output = command
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    if !output.status.success() {
        return Err(format!("{command:?} failed with {}", output.status));
    }
    if stderr.lines().any(|line| line.starts_with("warning")) {
        return Err(format!("{command:?} printed warnings"));
    }
    Ok(())
}

/// `soak [--minutes N | --seconds N]`: the soak binary of the tests crate, in release.
fn soak(args: &[String]) -> Result<(), String> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("{name} takes a number"))
            })
            .transpose()
    };
    let seconds = match (value("--minutes")?, value("--seconds")?) {
        (_, Some(seconds)) => seconds,
        (Some(minutes), None) => minutes * 60,
        (None, None) => 600,
    };
    run(cargo(&[
        "run",
        "--release",
        "--quiet",
        "-p",
        "folio-tests",
        "--bin",
        "soak",
        "--",
        "--seconds",
        &seconds.to_string(),
        "--out",
        "target/soak",
    ]))
}

fn loom(quick: bool) -> Result<(), String> {
    let preemptions = if quick { "2" } else { "3" };
    for krate in LOOM_CRATES {
        let mut command = cargo(&["test", "--release", "--lib", "-p", krate, "loom_"]);
        command
            .env("RUSTFLAGS", "--cfg folio_loom")
            .env("LOOM_MAX_PREEMPTIONS", preemptions)
            // A separate target dir: the cfg flip would otherwise rebuild the normal one.
            .env("CARGO_TARGET_DIR", "target/loom");
        run(command)?;
    }
    Ok(())
}

/// The crates published to crates.io, in dependency order.
const PUBLISHED: &[&str] = &[
    "folio-io",
    "folio-pagestore",
    "folio-wal",
    "folio-btree",
    "folio",
    "folio-bench",
    "folio-cli",
    "folio-raft",
];

/// Crash suites: (package, test target).
const CRASH_SUITES: &[(&str, &str)] = &[
    ("folio-pagestore", "crash_checkpoint"),
    ("folio-wal", "crash_recovery"),
    ("folio-tests", "crash_sweep"),
    ("folio-tests", "crash_log_roll"),
    ("folio-tests", "bulk_load"),
    ("folio-tests", "large_transaction"),
    ("folio-tests", "compaction"),
    ("folio-tests", "io_errors"),
    ("folio-tests", "log_damage"),
    ("folio-tests", "eventual_flusher"),
    ("folio-pagestore", "corruption"),
    ("folio-wal", "close_restart"),
    ("folio-raft", "crash"),
    ("folio-tests", "process_kill"),
];

fn crash(full: bool) -> Result<(), String> {
    let seeds = if full { "200" } else { "40" };
    let started = std::time::Instant::now();
    for (package, test) in CRASH_SUITES {
        let mut command = cargo(&[
            "test",
            "--release",
            "-p",
            package,
            "--test",
            test,
            "--",
            "--nocapture",
        ]);
        command
            .env("FOLIO_CRASH_SEEDS", seeds)
            .env("FOLIO_KILLS", "1000");
        run(command)?;
    }
    eprintln!(
        "xtask: crash suites passed in {:.0} s ({seeds} seeds per policy)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub(crate) fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args);
    command
}

pub(crate) fn run(mut command: Command) -> Result<(), String> {
    eprintln!("xtask: running {command:?}");
    let status = command
        .status()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}
