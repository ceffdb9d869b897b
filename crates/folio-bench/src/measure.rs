//! Measurements: commit latency percentiles, the process's storage writes and peak
//! memory from `/proc` (Linux; absent elsewhere), and the size of a directory's files.

use std::path::Path;
use std::time::Duration;

/// The files under a directory, counted two ways.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DirectorySize {
    /// Lengths, as `ls` shows them (what a log or data file holds, preallocation included).
    pub(crate) apparent: u64,
    /// Allocated blocks, as `du` counts them (what a user pays for: a sparse memory map such
    /// as LMDB's counts only what it uses, space reserved by `fallocate` counts in full).
    pub(crate) allocated: u64,
}

/// [`DirectorySize`] of every file under `dir`, subdirectories included.
pub(crate) fn directory_size(dir: &Path) -> std::io::Result<DirectorySize> {
    use std::os::unix::fs::MetadataExt;
    let mut total = DirectorySize::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let size = if meta.is_dir() {
            directory_size(&entry.path())?
        } else {
            DirectorySize {
                apparent: meta.len(),
                allocated: meta.blocks() * 512,
            }
        };
        total.apparent += size.apparent;
        total.allocated += size.allocated;
    }
    Ok(total)
}

/// Commit latencies of a run.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<Duration>);

/// Merges the sets of several threads (or tasks) into one.
impl FromIterator<Latencies> for Latencies {
    fn from_iter<I: IntoIterator<Item = Latencies>>(sets: I) -> Self {
        let mut all = Latencies::default();
        for set in sets {
            all.extend(set);
        }
        all
    }
}

impl Latencies {
    /// Records one.
    pub fn push(&mut self, latency: Duration) {
        self.0.push(latency);
    }

    /// Merges another set.
    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// The `p`-th percentile (0..=100), or zero when empty.
    pub fn percentile(&mut self, p: usize) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.sort_unstable();
        let index = (self.0.len() * p / 100).min(self.0.len() - 1);
        self.0[index]
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when none was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Storage bytes written by this process so far and its peak resident memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessCounters {
    /// Bytes sent to the storage layer (`write_bytes`), or, where the file system does not
    /// count them (tmpfs, overlays), bytes passed to write calls (`wchar`).
    pub written_bytes: u64,
    /// Peak resident set since the last [`ProcessCounters::reset_peak`], in bytes.
    pub peak_rss_bytes: u64,
}

impl ProcessCounters {
    /// Reads the counters now (zeros where `/proc` is missing).
    pub fn now() -> Self {
        let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
        let field = |name: &str| {
            io.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let written = match field("write_bytes:") {
            0 => field("wchar:"),
            bytes => bytes,
        };
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let peak_kb = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        Self {
            written_bytes: written,
            peak_rss_bytes: peak_kb * 1024,
        }
    }

    /// Resets the kernel's peak-RSS mark, so the next reading is the peak of what follows.
    pub fn reset_peak() {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}
