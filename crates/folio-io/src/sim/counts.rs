//! Operation counters of the simulated disk.

/// How many operations of each kind a [`super::SimStorage`] has served (failed ones included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// `read_exact_at` calls.
    pub reads: u64,
    /// `write_all_vectored_at` / `write_all_at` calls.
    pub writes: u64,
    /// System calls those writes would cost on a real file: one per [`crate::IOV_MAX`] buffers.
    pub write_syscalls: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// `sync_data` calls.
    pub syncs: u64,
    /// `allocate` calls.
    pub allocates: u64,
    /// `set_len` calls.
    pub set_lens: u64,
    /// `len` calls.
    pub lens: u64,
}

impl OpCounts {
    /// Every operation counted, in the order they were served; the index fault rules use.
    pub fn total(&self) -> u64 {
        self.reads + self.writes + self.syncs + self.allocates + self.set_lens + self.lens
    }
}
