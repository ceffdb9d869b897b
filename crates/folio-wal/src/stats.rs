//! Counters of the log.

/// Upper bounds of the group-size histogram buckets: a round of `n` records lands in the
/// first bucket whose bound is `>= n`; the last bucket takes everything larger.
pub const GROUP_SIZE_BUCKETS: [usize; 9] = [1, 2, 4, 8, 16, 32, 64, 128, usize::MAX];

/// Counters of the group-commit engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Records written.
    pub records: u64,
    /// Payload bytes written.
    pub bytes: u64,
    /// Write rounds (one vectored write each).
    pub writes: u64,
    /// Syncs.
    pub syncs: u64,
    /// Rounds by number of records, bucketed by [`GROUP_SIZE_BUCKETS`].
    pub group_sizes: [u64; 9],
    /// Total time spent in syncs, microseconds.
    pub sync_micros_total: u64,
    /// Longest sync, microseconds.
    pub sync_micros_max: u64,
    /// Batches the sink refused without writing anything (no room for a new segment): their
    /// appenders got errors, the log stayed usable.
    pub refused_batches: u64,
}

impl CommitStats {
    pub(crate) fn record_round(&mut self, records: usize, bytes: u64) {
        self.records += records as u64;
        self.bytes += bytes;
        self.writes += 1;
        let bucket = GROUP_SIZE_BUCKETS
            .iter()
            .position(|&bound| records <= bound)
            .expect("the last bucket is unbounded");
        self.group_sizes[bucket] += 1;
    }

    pub(crate) fn record_sync(&mut self, micros: u64) {
        self.syncs += 1;
        self.sync_micros_total += micros;
        self.sync_micros_max = self.sync_micros_max.max(micros);
    }

    /// Records per sync: how many commits shared each sync on average.
    pub fn records_per_sync(&self) -> f64 {
        if self.syncs == 0 {
            0.0
        } else {
            self.records as f64 / self.syncs as f64
        }
    }

    /// Mean sync latency in microseconds.
    pub fn sync_micros_mean(&self) -> f64 {
        if self.syncs == 0 {
            0.0
        } else {
            self.sync_micros_total as f64 / self.syncs as f64
        }
    }
}
