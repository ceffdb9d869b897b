//! `cargo xtask bench`: builds the peer-benchmark crate (`benches/peers`, outside the
//! workspace) with the systems asked for, runs it, and with `--update-docs` regenerates the
//! generated part of `docs/benchmarks.md` and its plots.

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Systems `--systems` accepts: `folio-encrypted` is folio encrypted at rest (to compare
/// with plain folio in the same run); `folio-exclusive` makes W9's transfers in exclusive
/// `begin_write` transactions instead of concurrent ones.
const SYSTEMS: &[&str] = &[
    "folio",
    "folio-encrypted",
    "folio-exclusive",
    "rocksdb",
    "fjall",
    "redb",
    "lmdb",
    "sqlite",
];
const MANIFEST: &str = "benches/peers/Cargo.toml";
const TARGET_DIR: &str = "target/peers";
const OUT: &str = "target/bench";
const DOCS: &str = "docs/benchmarks.md";
const DOCS_PLOTS: &str = "docs/bench";
const START: &str = "<!-- xtask-bench:start -->";
const END: &str = "<!-- xtask-bench:end -->";

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(at) = args.iter().position(|a| a == "--baseline") {
        return baseline_request(args, at).and_then(|request| crate::baseline::run(&request));
    }
    let mut systems: Vec<String> = SYSTEMS.iter().map(|s| (*s).to_owned()).collect();
    let mut passed: Vec<String> = Vec::new();
    let mut update_docs = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--update-docs" => update_docs = true,
            // Regenerates the docs from the last run without running again.
            "--docs-only" => return write_docs(),
            "--systems" => {
                let list = iter.next().ok_or("--systems needs a list")?;
                systems = list.split(',').map(str::to_owned).collect();
            }
            "--only" | "--threads" | "--runs" => {
                let value = iter.next().ok_or(format!("{arg} needs a value"))?;
                passed.extend([arg.clone(), value.clone()]);
            }
            "--quick" | "--full" | "--smoke" => passed.push(arg.clone()),
            other => return Err(format!("unknown argument {other}; see `cargo xtask`")),
        }
    }
    if passed.iter().any(|a| a == "--smoke") && !args.iter().any(|a| a == "--systems") {
        systems = vec!["folio".to_owned()];
    }
    if let Some(unknown) = systems.iter().find(|s| !SYSTEMS.contains(&s.as_str())) {
        return Err(format!(
            "unknown system {unknown}; choose from {}",
            SYSTEMS.join(",")
        ));
    }
    if systems.iter().any(|s| s == "rocksdb") {
        check_rocksdb_prerequisites()?;
    }
    let features: Vec<&str> = systems
        .iter()
        .map(String::as_str)
        .filter(|s| !s.starts_with("folio"))
        .collect();
    let mut build = crate::cargo(&[
        "build",
        "--release",
        "--manifest-path",
        MANIFEST,
        "--target-dir",
        TARGET_DIR,
        "--no-default-features",
    ]);
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
    }
    crate::run(build)?;
    let mut bench = std::process::Command::new(Path::new(TARGET_DIR).join("release/folio-peers"));
    bench
        .args(&passed)
        .args(["--systems", &systems.join(","), "--out", OUT]);
    crate::run(bench)?;
    if update_docs {
        write_docs()?;
    }
    Ok(())
}

/// `--baseline REV [--runs N] [--only W1,W3] [--threads 1,2] [--quick|--smoke|--full]
/// [--durability both|immediate|eventual]`: what to compare.
fn baseline_request(args: &[String], at: usize) -> Result<crate::baseline::Request, String> {
    let rev = args
        .get(at + 1)
        .ok_or("--baseline needs a revision (a commit, tag or branch)")?
        .clone();
    let mut runs = 3;
    let mut bench_args = Vec::new();
    let mut iter = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at && *i != at + 1);
    while let Some((_, arg)) = iter.next() {
        let mut value = || {
            iter.next()
                .map(|(_, v)| v.clone())
                .ok_or(format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--runs" => runs = value()?.parse().map_err(|_| "--runs needs a number")?,
            "--only" => bench_args.extend(["--workload".to_owned(), value()?]),
            "--threads" | "--durability" => bench_args.extend([arg.clone(), value()?]),
            "--quick" | "--smoke" | "--full" => {
                bench_args.extend(["--size".to_owned(), arg.trim_start_matches("--").to_owned()]);
            }
            other => return Err(format!("{other} is not an option of --baseline")),
        }
    }
    Ok(crate::baseline::Request {
        rev,
        runs,
        bench_args,
    })
}

/// `RocksDB`'s build needs libclang (bindgen); its first build takes about 30 minutes on 2
/// cores, which the user should know before it starts.
fn check_rocksdb_prerequisites() -> Result<(), String> {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .any(|e| {
            std::fs::read_dir(e.path().join("lib"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|f| {
                    // libclang.so.1 or libclang-14.so.1, not libclang-cpp (the C++ library).
                    let name = f.file_name().to_string_lossy().into_owned();
                    name.starts_with("libclang") && name.contains(".so") && !name.contains("cpp")
                })
        })
        || std::env::var_os("LIBCLANG_PATH").is_some();
    if !found {
        return Err(
            "RocksDB needs libclang to build: run `apt-get install -y libclang-dev` \
                    (or leave it out: --systems folio,fjall,redb,lmdb,sqlite)"
                .into(),
        );
    }
    let built = std::fs::read_dir(Path::new(TARGET_DIR).join("release/build"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("librocksdb-sys")
        });
    if !built {
        eprintln!(
            "xtask: the first build of RocksDB (C++) takes about 30 minutes on 2 cores; \
             later runs reuse it ({TARGET_DIR})"
        );
    }
    Ok(())
}

/// Replaces the generated section of `docs/benchmarks.md` with the last run's table and
/// plots (copied to `docs/bench/`).
fn write_docs() -> Result<(), String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let table = read(&Path::new(OUT).join("bench.md"))?;
    let json = read(&Path::new(OUT).join("bench.json"))?;
    let command = json
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"command\": \""))
        .map(|c| c.trim_end_matches("\",").to_owned())
        .unwrap_or_default();
    // The docs show this run's plots only.
    let _ = std::fs::remove_dir_all(DOCS_PLOTS);
    std::fs::create_dir_all(DOCS_PLOTS).map_err(|e| e.to_string())?;
    let mut plots: Vec<PathBuf> = std::fs::read_dir(OUT)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "svg" || x == "png"))
        .collect();
    plots.sort();
    let mut images = String::new();
    for plot in &plots {
        let name = plot
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        std::fs::copy(plot, Path::new(DOCS_PLOTS).join(&name)).map_err(|e| e.to_string())?;
        if plot.extension().is_some_and(|x| x == "svg") {
            let _ = writeln!(images, "![{name}](bench/{name})");
        }
    }
    let section = format!(
        "{START}\nGenerated by `{command}` (medians of the runs; folio / peer > 1 means folio is faster).\n\n{table}\n{images}{END}"
    );
    let docs = read(Path::new(DOCS))?;
    let updated = match (docs.find(START), docs.find(END)) {
        (Some(start), Some(end)) => {
            format!("{}{section}{}", &docs[..start], &docs[end + END.len()..])
        }
        _ => format!("{docs}\n## Peer comparison (`cargo xtask bench`)\n\n{section}\n"),
    };
    std::fs::write(DOCS, updated).map_err(|e| e.to_string())?;
    eprintln!("xtask: updated {DOCS} and {DOCS_PLOTS}/");
    Ok(())
}
