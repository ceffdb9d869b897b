//! `folio bench`: the workloads of `docs/workloads.md` on folio alone (the comparison with
//! peers is `cargo xtask bench`).

use std::path::Path;

use folio_bench::{
    Compression, FolioEngine, Row, SyncMode, Workload, async_tasks, markdown_table, run_workload,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{BenchArgs, BenchDurability, BenchSize, BenchWorkload};
use crate::failure::{CliResult, Failure};

/// Page cache per database in the benchmarks (the peers get the same in `cargo xtask bench`).
pub(crate) const CACHE_BYTES: usize = 64 << 20;

/// One run: a workload with its sizes, thread counts and durability.
struct Plan {
    workload: Workload,
    threads: Vec<usize>,
    mode: SyncMode,
}

/// The sizes, durabilities and thread counts asked for.
struct Sizing<'a> {
    size: BenchSize,
    modes: &'a [SyncMode],
    threads: &'a [usize],
}

impl Sizing<'_> {
    fn pick(&self, smoke: usize, quick: usize, full: usize) -> usize {
        match self.size {
            BenchSize::Smoke => smoke,
            BenchSize::Quick => quick,
            BenchSize::Full => full,
        }
    }

    /// The thread counts given on the command line, else `smoke` or `default`.
    fn threads(&self, smoke: &[usize], default: &[usize]) -> Vec<usize> {
        if !self.threads.is_empty() {
            self.threads.to_vec()
        } else if self.size == BenchSize::Smoke {
            smoke.to_vec()
        } else {
            default.to_vec()
        }
    }

    fn plans(&self, workload: BenchWorkload) -> Vec<Plan> {
        let mut plans = Vec::new();
        match workload {
            BenchWorkload::W1 => {
                let default: &[usize] = if self.size == BenchSize::Full {
                    &[1, 2, 4, 8, 16]
                } else {
                    &[1, 2, 4, 8]
                };
                for &mode in self.modes {
                    plans.push(Plan {
                        workload: Workload::W1 {
                            txns: self.pick(2, 20, 50),
                            ops: self.pick(100, 1_000, 1_000),
                        },
                        threads: self.threads(&[1, 2], default),
                        mode,
                    });
                }
            }
            BenchWorkload::W2 => {
                for batch in [1, 10] {
                    plans.push(Plan {
                        workload: Workload::W2 {
                            commits: self.pick(5, 100, 1_000),
                            batch,
                        },
                        threads: self.threads(&[1, 4], &[1, 8, 32, 128]),
                        mode: SyncMode::Sync,
                    });
                }
            }
            BenchWorkload::W3 => {
                for &mode in self.modes {
                    plans.push(Plan {
                        workload: Workload::W3 {
                            batches: self.pick(5, 200, 500),
                            batch: 10,
                        },
                        threads: self.threads(&[1, 2], &[1, 2, 4, 8]),
                        mode,
                    });
                }
            }
            BenchWorkload::W4 => plans.push(Plan {
                workload: Workload::W4 {
                    n: self.pick(1_000, 100_000, 1_000_000) as u64,
                },
                threads: vec![self.threads(&[2], &[8]).into_iter().max().unwrap_or(8)],
                mode: SyncMode::Sync,
            }),
            // Recovery is timed by `recovery_bench`, documents by `documents`: not thread
            // sweeps.
            BenchWorkload::W5 | BenchWorkload::W8 => {}
            BenchWorkload::W7 => plans.push(Plan {
                workload: Workload::W7 {
                    n: self.pick(10_000, 1_000_000, 3_000_000) as u64,
                },
                threads: vec![1],
                mode: SyncMode::Sync,
            }),
            BenchWorkload::W9 => {
                for zipfian in [false, true] {
                    for &mode in self.modes {
                        plans.push(Plan {
                            workload: Workload::W9 {
                                accounts: self.pick(1_000, 100_000, 100_000) as u64,
                                transfers: self.pick(200, 5_000, 50_000),
                                zipfian,
                            },
                            threads: self.threads(&[1, 2], &[1, 2, 4, 8]),
                            mode,
                        });
                    }
                }
            }
            BenchWorkload::W6 => {
                for read_percent in [95, 50] {
                    for &mode in self.modes {
                        plans.push(Plan {
                            workload: Workload::W6 {
                                n: self.pick(1_000, 100_000, 1_000_000) as u64,
                                ops: self.pick(200, 20_000, 200_000),
                                read_percent,
                            },
                            threads: self.threads(&[1, 2], &[1, 2]),
                            mode,
                        });
                    }
                }
            }
        }
        plans
    }
}

fn plans(args: &BenchArgs) -> Vec<Plan> {
    let workloads = if args.workload.is_empty() {
        vec![
            BenchWorkload::W1,
            BenchWorkload::W2,
            BenchWorkload::W3,
            BenchWorkload::W6,
        ]
    } else {
        args.workload.clone()
    };
    let modes: &[SyncMode] = match args.durability {
        BenchDurability::Immediate => &[SyncMode::Sync],
        BenchDurability::Eventual => &[SyncMode::NoSync],
        BenchDurability::Both => &[SyncMode::Sync, SyncMode::NoSync],
    };
    let sizing = Sizing {
        size: args.size,
        modes,
        threads: &args.threads,
    };
    workloads
        .into_iter()
        .flat_map(|w| sizing.plans(w))
        .collect()
}

pub fn run(args: &BenchArgs) -> CliResult {
    let temporary;
    let dir: &Path = if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::error(format!("{}: {e}", dir.display())))?;
        dir
    } else {
        temporary = tempfile::tempdir()
            .map_err(|e| Failure::error(format!("cannot make a temporary directory: {e}")))?;
        temporary.path()
    };
    let plans = plans(args);
    if args.workload.contains(&BenchWorkload::W8) {
        documents(args.size, dir)?;
    }
    if plans.is_empty() && args.workload.contains(&BenchWorkload::W5) {
        return crate::recovery_bench::run(args.size, dir);
    }
    if plans.is_empty() && args.workload.contains(&BenchWorkload::W8) {
        return Ok(());
    }
    let runs: u64 = plans.iter().map(|p| p.threads.len() as u64).sum();
    let bar = ProgressBar::new(runs);
    bar.set_style(
        ProgressStyle::with_template("bench {bar:30} {pos}/{len} runs {msg}").expect("template"),
    );
    let subscribers = args.subscribers;
    let open = move |path: &Path| match subscribers {
        0 => FolioEngine::open(path, CACHE_BYTES),
        n => FolioEngine::open_subscribed(path, CACHE_BYTES, n),
    };
    let mut rows: Vec<Row> = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        bar.set_message(format!("{} {}", plan.workload.id(), plan.mode.label()));
        let plan_dir = dir.join(format!("plan-{index}"));
        let measured = run_workload(&open, &plan.workload, &plan.threads, plan.mode, &plan_dir)
            .map_err(|e| Failure::error(format!("{} failed: {e}", plan.workload.id())))?;
        let _ = std::fs::remove_dir_all(&plan_dir);
        rows.extend(measured);
        bar.inc(plan.threads.len() as u64);
    }
    // W2 again with async tasks instead of threads (one-insert commits).
    let w2_commits = plans.iter().find_map(|plan| match plan.workload {
        Workload::W2 { commits, batch: 1 } => Some(commits),
        _ => None,
    });
    if let Some(commits) = w2_commits {
        let counts: &[usize] = if matches!(args.size, BenchSize::Smoke) {
            &[4]
        } else {
            &async_tasks::TASK_COUNTS
        };
        for &tasks in counts {
            bar.set_message(format!("W2 {tasks} tokio tasks"));
            let task_dir = dir.join(format!("w2-tasks-{tasks}"));
            let row = async_tasks::w2_tasks(&task_dir, CACHE_BYTES, tasks, commits, 1)
                .map_err(|e| Failure::error(format!("W2 with tasks failed: {e}")))?;
            let _ = std::fs::remove_dir_all(&task_dir);
            rows.push(row);
        }
    }
    bar.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("rows serialize")
        );
    } else {
        println!("folio bench ({:?} sizes, {} cores)\n", args.size, cores());
        print!("{}", markdown_table(&rows));
        println!(
            "\nsyncs/commit counts log syncs and checkpoint syncs; write amp = bytes written / (keys + values); peak RSS of the whole process during the run."
        );
    }
    if args.workload.contains(&BenchWorkload::W5) {
        println!();
        crate::recovery_bench::run(args.size, dir)?;
    }
    Ok(())
}

/// W8 on folio with each compression setting: disk space, load and read throughput.
fn documents(size: BenchSize, dir: &Path) -> CliResult {
    let n = match size {
        BenchSize::Smoke => 2_000,
        BenchSize::Quick => 100_000,
        BenchSize::Full => 1_000_000,
    };
    let mut rows = Vec::new();
    for compression in [
        Compression::None,
        Compression::Lz4,
        Compression::Zstd { level: 3 },
    ] {
        let label = format!("folio ({})", compression.label());
        let open = move |path: &Path| FolioEngine::open_compressed(path, CACHE_BYTES, compression);
        let run_dir = dir.join(format!("w8-{}", compression.label()));
        rows.extend(
            folio_bench::documents::run_documents(&open, &label, n, &run_dir)
                .map_err(|e| Failure::error(format!("W8 failed: {e}")))?,
        );
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    println!(
        "W8: {n} JSON-like documents loaded (random order, batches of 1,000), flushed, read at random\n\n{}",
        folio_bench::documents::space_table(&rows)
    );
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
