//! [`sweep_power_cuts`]: crash a scenario at every I/O operation, under every policy.

use std::ops::Range;

use super::CrashPolicy;

impl CrashPolicy {
    /// Every policy, for sweeps.
    pub const ALL: [CrashPolicy; 4] = [
        CrashPolicy::DropUnsynced,
        CrashPolicy::KeepUnsynced,
        CrashPolicy::TearUnsynced,
        CrashPolicy::Random,
    ];
}

/// What a sweep covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Crash points run (scenario runs the power cut interrupted).
    pub points: u64,
    /// The fewest operations any (policy, seed) scenario took: a check that the scenario
    /// really does the I/O the test means to cut.
    pub shortest_scenario: u64,
}

/// For every policy in [`CrashPolicy::ALL`] and every seed, calls `run(cut, policy, seed)`
/// with `cut` = 0, 1, 2, ... until it returns false, meaning the scenario finished before
/// operation `cut` (so every operation index has been cut once). `run` sets up a fresh disk,
/// cuts the power at `cut`, crashes with `policy`, checks what recovered, and returns whether
/// the power was actually cut.
pub fn sweep_power_cuts(
    seeds: Range<u64>,
    mut run: impl FnMut(u64, CrashPolicy, u64) -> bool,
) -> SweepReport {
    let mut report = SweepReport {
        points: 0,
        shortest_scenario: u64::MAX,
    };
    for policy in CrashPolicy::ALL {
        for seed in seeds.clone() {
            let mut cut = 0;
            while run(cut, policy, seed) {
                cut += 1;
            }
            report.points += cut;
            report.shortest_scenario = report.shortest_scenario.min(cut);
        }
    }
    report
}

/// Seeds for a crash sweep: `0..default`, or `0..N` when the environment variable
/// `FOLIO_CRASH_SEEDS` says N (`cargo xtask crash --full` raises it).
pub fn crash_seeds(default: u64) -> Range<u64> {
    let seeds = std::env::var("FOLIO_CRASH_SEEDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default);
    0..seeds
}
