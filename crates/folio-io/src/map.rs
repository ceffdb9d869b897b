//! [`FileMap`]: a read-only memory map of a file, for reads without a system call or a copy.
//!
//! ## Contract (why creating one is `unsafe`)
//! A mapped range is memory the kernel keeps equal to the file. Rust may assume the bytes
//! behind a `&[u8]` never change while it lives, so whoever creates a map promises: **while a
//! [`MappedBytes`] of a range lives, nothing writes that range** (not this process through
//! another descriptor, not another process). The page store keeps this promise by mapping
//! only pages that no live snapshot can see rewritten (a page is reused only once no reader
//! reaches it) and by the file's exclusive lock against other processes.
//!
//! Two more facts a user of a map must respect:
//! - touching mapped bytes past the file's end raises `SIGBUS` (the process dies); callers
//!   check offsets against a length they know the file has;
//! - an I/O error while the kernel fetches a page from the device is also `SIGBUS`, not an
//!   error value: reads through a map trade typed I/O errors for speed.
//!
//! ## Growth
//! The mapping covers more address space than the file holds (mapping past the end is
//! allowed; touching it is not), so the file grows under it without a remap. When an offset
//! lies past the mapping, a larger one is made (twice the size needed) and published; readers
//! of the old one keep it alive through their [`MappedBytes`] until they drop them.
//!
//! The map reads through a descriptor of its own: a mapping keeps its open file alive, and
//! with it any `flock` held on that open file, so mapping the locked descriptor would keep a
//! closed database locked for as long as any mapped bytes were alive.

#![allow(unsafe_code)]

use std::fs::File;
use std::ops::Deref;
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::{Error, Operation, Result};

/// Address space mapped at least, whatever the file's size (virtual, not memory).
pub const MAP_BYTES_MIN: u64 = 64 << 20;

/// A read-only memory map of a file (see the module docs for the contract).
#[derive(Debug)]
pub struct FileMap {
    file: File,
    current: ArcSwap<Mapping>,
    /// Serializes remaps (two readers past the end make one new mapping).
    remap: Mutex<()>,
}

#[derive(Debug)]
struct Mapping {
    map: memmap2::Mmap,
}

/// Bytes of a mapped file: a slice of a mapping, keeping that mapping alive.
#[derive(Debug, Clone)]
pub struct MappedBytes {
    mapping: Arc<Mapping>,
    start: usize,
    end: usize,
}

impl Deref for MappedBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.mapping.map[self.start..self.end]
    }
}

impl MappedBytes {
    /// True when both are the same bytes of the same mapping.
    pub fn same_bytes(a: &MappedBytes, b: &MappedBytes) -> bool {
        Arc::ptr_eq(&a.mapping, &b.mapping) && a.start == b.start && a.end == b.end
    }
}

impl FileMap {
    /// Maps `file` (a descriptor of its own, opened for reading) over at least `len` bytes.
    ///
    /// # Safety
    /// The caller keeps the contract of the module docs: no write to a range while a
    /// [`MappedBytes`] of it lives.
    pub(crate) unsafe fn new(file: File, len: u64) -> Result<Self> {
        // SAFETY: forwarded to our caller (see above).
        let mapping = unsafe { Mapping::new(&file, mapping_len(len)) }?;
        Ok(Self {
            file,
            current: ArcSwap::from_pointee(mapping),
            remap: Mutex::new(()),
        })
    }

    /// The `len` bytes at `offset`. The caller knows the file holds them (module docs:
    /// touching bytes past its end raises `SIGBUS`).
    pub fn bytes(&self, offset: u64, len: usize) -> Result<MappedBytes> {
        let end = offset.checked_add(len as u64).ok_or(Error::io(
            Operation::Read,
            std::io::ErrorKind::InvalidInput.into(),
        ))?;
        let mut mapping = self.current.load_full();
        if end > mapping.map.len() as u64 {
            mapping = self.grow(end)?;
        }
        Ok(MappedBytes {
            mapping,
            start: offset as usize,
            end: end as usize,
        })
    }

    /// Address space mapped now.
    pub fn mapped_len(&self) -> u64 {
        self.current.load().map.len() as u64
    }

    fn grow(&self, end: u64) -> Result<Arc<Mapping>> {
        let _one_remap = self.remap.lock();
        let current = self.current.load_full();
        if end <= current.map.len() as u64 {
            return Ok(current);
        }
        let len = mapping_len(end.max(current.map.len() as u64 * 2));
        // SAFETY: the same file under the same contract as the first mapping (`new`).
        let mapping = Arc::new(unsafe { Mapping::new(&self.file, len) }?);
        self.current.store(Arc::clone(&mapping));
        Ok(mapping)
    }
}

/// Bytes to map for a file of `len` bytes: twice that, at least [`MAP_BYTES_MIN`], rounded
/// to 64 KiB (a multiple of every page size).
fn mapping_len(len: u64) -> u64 {
    const ROUND: u64 = 64 << 10;
    len.saturating_mul(2).max(MAP_BYTES_MIN).div_ceil(ROUND) * ROUND
}

impl Mapping {
    /// # Safety
    /// See [`FileMap::new`].
    unsafe fn new(file: &File, len: u64) -> Result<Self> {
        let len = usize::try_from(len).map_err(|_| crate::memory::too_large(Operation::Read))?;
        // SAFETY: read-only and shared; mapping past the end of the file is allowed (only
        // touching it faults), and the caller keeps mapped ranges unwritten while borrowed.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(file) }
            .map_err(|source| Error::io(Operation::Read, source))?;
        Ok(Self { map })
    }
}
