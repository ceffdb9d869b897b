//! Command-line arguments (passed on by `cargo xtask bench`) and the run plan.

use std::path::PathBuf;

use folio_bench::{SyncMode, Workload};

use crate::Plan;

pub struct Args {
    pub full: bool,
    pub smoke: bool,
    pub only: Vec<String>,
    pub systems: Vec<String>,
    pub threads: Vec<usize>,
    pub runs: usize,
    pub out: PathBuf,
    pub scratch: PathBuf,
    pub command_line: String,
}

pub fn parse() -> Args {
    let mut args = Args {
        full: false,
        smoke: false,
        only: vec![
            "W1".into(),
            "W2".into(),
            "W3".into(),
            "W4".into(),
            "W5".into(),
            "W6".into(),
            "W7".into(),
            "W8".into(),
            "W9".into(),
        ],
        systems: vec!["folio".into()],
        threads: vec![1, 2, 4, 8],
        runs: 3,
        out: PathBuf::from("target/bench"),
        scratch: std::env::temp_dir(),
        command_line: String::new(),
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    args.command_line = format!("cargo xtask bench {}", raw.join(" "));
    let mut iter = raw.into_iter();
    let list = |v: Option<String>| -> Vec<String> {
        v.unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect()
    };
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--full" => args.full = true,
            "--quick" => args.full = false,
            "--smoke" => {
                args.smoke = true;
                args.runs = 1;
            }
            "--only" => args.only = list(iter.next()),
            "--systems" => args.systems = list(iter.next()),
            "--threads" => {
                args.threads = list(iter.next())
                    .iter()
                    .map(|t| t.parse().expect("--threads takes numbers: 1,2,4,8"))
                    .collect();
            }
            "--runs" => args.runs = iter.next().and_then(|r| r.parse().ok()).expect("--runs N"),
            "--out" => args.out = iter.next().map(PathBuf::from).expect("--out DIR"),
            "--scratch" => args.scratch = iter.next().map(PathBuf::from).expect("--scratch DIR"),
            other => {
                eprintln!("folio-peers: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    args
}

/// Documents W8 loads: 100,000 (about 100 MiB) by default.
pub fn w8_documents(args: &Args) -> u64 {
    if args.smoke {
        2_000
    } else if args.full {
        1_000_000
    } else {
        100_000
    }
}

/// Workloads with their sizes, thread counts and modes.
pub fn plan(args: &Args) -> Plan {
    let size = |smoke: usize, quick: usize, full: usize| {
        if args.smoke {
            smoke
        } else if args.full {
            full
        } else {
            quick
        }
    };
    let mut plan = Vec::new();
    let modes = [SyncMode::Sync, SyncMode::NoSync];
    for id in &args.only {
        match id.as_str() {
            "W1" => {
                for mode in modes {
                    plan.push((
                        Workload::W1 {
                            txns: size(2, 20, 50),
                            ops: size(100, 1_000, 1_000),
                        },
                        args.threads.clone(),
                        mode,
                    ));
                }
            }
            "W2" => {
                for batch in [1, 10] {
                    plan.push((
                        Workload::W2 {
                            commits: size(5, 100, 1_000),
                            batch,
                        },
                        if args.smoke {
                            vec![1, 2]
                        } else {
                            vec![1, 8, 32, 128]
                        },
                        SyncMode::Sync,
                    ));
                }
            }
            "W3" => {
                for mode in modes {
                    plan.push((
                        Workload::W3 {
                            batches: size(5, 200, 500),
                            batch: 10,
                        },
                        args.threads.clone(),
                        mode,
                    ));
                }
            }
            "W4" => plan.push((
                Workload::W4 {
                    n: size(1_000, 100_000, 5_000_000) as u64,
                },
                vec![args.threads.iter().copied().max().unwrap_or(1)],
                SyncMode::Sync,
            )),
            "W6" => {
                for read_percent in [95, 50] {
                    for mode in modes {
                        plan.push((
                            Workload::W6 {
                                n: size(1_000, 100_000, 1_000_000) as u64,
                                ops: size(200, 20_000, 200_000),
                                read_percent,
                            },
                            vec![1, 2],
                            mode,
                        ));
                    }
                }
            }
            "W9" => {
                for zipfian in [false, true] {
                    for mode in modes {
                        plan.push((
                            Workload::W9 {
                                accounts: size(1_000, 100_000, 100_000) as u64,
                                transfers: size(100, 5_000, 50_000),
                                zipfian,
                            },
                            args.threads.clone(),
                            mode,
                        ));
                    }
                }
            }
            // Timed apart (`run_w5`, `run_w8`): not thread sweeps.
            "W5" | "W8" => {}
            "W7" => plan.push((
                Workload::W7 {
                    n: size(10_000, 1_000_000, 3_000_000) as u64,
                },
                vec![1],
                SyncMode::Sync,
            )),
            other => {
                eprintln!("folio-peers: unknown workload {other} (W1 ... W9)");
                std::process::exit(2);
            }
        }
    }
    plan
}
