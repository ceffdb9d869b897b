//! [`SyncHookDirectory`]: a directory whose files run a caller's hook before every sync, for
//! tests and instrumentation that must see (or hold) each `fdatasync` an engine issues.

use std::fmt;
use std::io::IoSlice;
use std::sync::Arc;

use crate::{Directory, Result, Storage};

/// The hook: runs on the syncing thread, before the sync, and may block it.
pub type SyncHook = Arc<dyn Fn() + Send + Sync>;

/// Wraps a [`Directory`]: every file it opens calls `hook` at the start of each
/// [`Storage::sync_data`], then syncs. Everything else is passed through; files are not
/// memory-mapped through it (reads are `pread`s of the inner storage).
pub struct SyncHookDirectory<D> {
    inner: D,
    hook: SyncHook,
}

impl<D: Directory> SyncHookDirectory<D> {
    /// `inner`, with `hook` run before every sync of its files.
    pub fn new(inner: D, hook: SyncHook) -> Self {
        Self { inner, hook }
    }
}

impl<D: fmt::Debug> fmt::Debug for SyncHookDirectory<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncHookDirectory")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<D: Directory> Directory for SyncHookDirectory<D> {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(SyncHookStorage {
            inner: self.inner.open(name, create)?,
            hook: Arc::clone(&self.hook),
        }))
    }

    fn remove(&self, name: &str) -> Result<()> {
        self.inner.remove(name)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.inner.rename(from, to)
    }

    fn list(&self) -> Result<Vec<String>> {
        self.inner.list()
    }

    /// The subdirectory, its files running the same hook.
    fn subdirectory(&self, name: &str) -> Result<Arc<dyn Directory>> {
        Ok(Arc::new(SyncHookDirectory {
            inner: self.inner.subdirectory(name)?,
            hook: Arc::clone(&self.hook),
        }))
    }

    fn list_subdirectories(&self) -> Result<Vec<String>> {
        self.inner.list_subdirectories()
    }

    fn remove_subdirectory(&self, name: &str) -> Result<()> {
        self.inner.remove_subdirectory(name)
    }
}

struct SyncHookStorage {
    inner: Arc<dyn Storage>,
    hook: SyncHook,
}

impl fmt::Debug for SyncHookStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncHookStorage")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Storage for SyncHookStorage {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.inner.read_exact_at(buf, offset)
    }

    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> Result<()> {
        self.inner.write_all_vectored_at(bufs, offset)
    }

    fn sync_data(&self) -> Result<()> {
        (self.hook)();
        self.inner.sync_data()
    }

    fn allocate(&self, len: u64) -> Result<()> {
        self.inner.allocate(len)
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.inner.set_len(len)
    }

    fn len(&self) -> Result<u64> {
        self.inner.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::SimDirectory;

    #[test]
    fn the_hook_runs_once_per_sync_and_nothing_else_changes() {
        let syncs = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&syncs);
        let directory = SyncHookDirectory::new(
            SimDirectory::new(1),
            Arc::new(move || {
                counter.fetch_add(1, Ordering::Relaxed);
            }),
        );
        let file = directory.open("f", true).unwrap();
        file.write_all_at(b"hello", 0).unwrap();
        assert_eq!(syncs.load(Ordering::Relaxed), 0);
        file.sync_data().unwrap();
        file.sync_data().unwrap();
        assert_eq!(syncs.load(Ordering::Relaxed), 2);
        let mut back = [0; 5];
        file.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(&back, b"hello");
        assert_eq!(directory.list().unwrap(), vec!["f".to_owned()]);
    }
}
