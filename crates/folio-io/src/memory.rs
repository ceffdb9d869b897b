//! [`MemoryStorage`]: storage in a `Vec<u8>`, for tests and ephemeral databases.

use std::io::IoSlice;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::{Error, Operation, Result, Storage};

/// Storage held in memory. Every write is immediately "durable" (there is no crash to survive);
/// use [`crate::SimStorage`] to test crash behaviour. Clones share the same bytes.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    bytes: Arc<RwLock<Vec<u8>>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// A storage holding a copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            bytes: Arc::new(RwLock::new(bytes.to_vec())),
        }
    }

    /// A copy of the current contents.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.read().clone()
    }
}

impl Storage for MemoryStorage {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let bytes = self.bytes.read();
        let range = checked_range(offset, buf.len(), bytes.len() as u64)?;
        buf.copy_from_slice(&bytes[range]);
        Ok(())
    }

    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> Result<()> {
        let mut bytes = self.bytes.write();
        let mut at = usize::try_from(offset).map_err(|_| too_large(Operation::Write))?;
        for buf in bufs {
            if buf.is_empty() {
                continue; // as with pwrite, writing nothing never extends the storage
            }
            let end = at + buf.len();
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            bytes[at..end].copy_from_slice(buf);
            at = end;
        }
        Ok(())
    }

    fn sync_data(&self) -> Result<()> {
        Ok(())
    }

    fn allocate(&self, len: u64) -> Result<()> {
        let len = usize::try_from(len).map_err(|_| too_large(Operation::Allocate))?;
        let mut bytes = self.bytes.write();
        if bytes.len() < len {
            bytes.resize(len, 0);
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        let len = usize::try_from(len).map_err(|_| too_large(Operation::SetLen))?;
        self.bytes.write().resize(len, 0);
        Ok(())
    }

    fn len(&self) -> Result<u64> {
        Ok(self.bytes.read().len() as u64)
    }
}

/// The in-bounds byte range `offset .. offset + len` of a storage of `storage_len` bytes.
pub(crate) fn checked_range(
    offset: u64,
    len: usize,
    storage_len: u64,
) -> Result<std::ops::Range<usize>> {
    if len == 0 {
        return Ok(0..0); // reading nothing succeeds anywhere, as on a file
    }
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= storage_len => Ok(offset as usize..end as usize),
        _ => Err(Error::ReadPastEnd {
            offset,
            len,
            storage_len,
        }),
    }
}

pub(crate) fn too_large(op: Operation) -> Error {
    Error::io(
        op,
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "offset does not fit in memory",
        ),
    )
}
