//! The [`Storage`] trait every layer above reads and writes through.

use std::fmt::Debug;
use std::io::IoSlice;

use crate::Result;

/// Most buffers one vectored write may carry in a single system call (Linux `IOV_MAX`).
/// Callers that count system calls (the page store's coalesced flush) chunk at this size.
pub const IOV_MAX: usize = 1024;

/// A byte-addressed, positional storage device: a file, memory, or a simulated disk.
///
/// All methods take `&self` and may be called from many threads at once; positional I/O has
/// no shared cursor. Writes are *volatile* until [`Storage::sync_data`] returns `Ok`:
/// only then are they guaranteed to survive a crash (the simulated disk enforces exactly
/// this and nothing more).
pub trait Storage: Send + Sync + Debug {
    /// Fills `buf` with the bytes at `offset`. Reading past the end is
    /// [`crate::Error::ReadPastEnd`], never a short read.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;

    /// Writes all of `bufs`, back to back, starting at `offset`, extending the storage if
    /// needed. Backends issue one vectored system call per [`IOV_MAX`] buffers (plus retries
    /// of short writes).
    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> Result<()>;

    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.write_all_vectored_at(&[IoSlice::new(buf)], offset)
    }

    /// Makes every completed write durable (`fdatasync`). After an error nothing is known
    /// about which writes reached the device: callers must treat the storage as poisoned.
    fn sync_data(&self) -> Result<()>;

    /// Grows the storage to at least `len` bytes, reserving the space on the device where
    /// the backend can (`fallocate`), so later writes in that range neither fail for lack of
    /// space nor need a metadata update to be synced. Never shrinks.
    fn allocate(&self, len: u64) -> Result<()>;

    /// Sets the length to exactly `len` bytes (truncating or extending with zeros).
    fn set_len(&self, len: u64) -> Result<()>;

    /// The current length in bytes.
    fn len(&self) -> Result<u64>;

    /// A read-only memory map of this storage, where the backend has one (a real file; the
    /// default is `None`). The page store reads clean pages through it.
    ///
    /// # Safety
    /// The caller promises the contract of [`crate::FileMap`]: while mapped bytes of a range
    /// live, nothing writes that range (through this storage or otherwise).
    #[allow(unsafe_code)]
    unsafe fn memory_map(&self) -> Result<Option<crate::FileMap>> {
        Ok(None)
    }

    /// True when the storage has zero length.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// Total length of a list of buffers.
pub fn total_len(bufs: &[IoSlice<'_>]) -> usize {
    bufs.iter().map(|b| b.len()).sum()
}
