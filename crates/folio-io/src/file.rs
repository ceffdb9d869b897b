//! [`FileStorage`]: a real file with positional I/O (`pread`, `pwritev`), `fallocate`
//! growth, an advisory lock, and an optional pool of descriptors for parallel reads.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FallocateFlags, fallocate};
use nix::sys::uio::{pread, pwritev};

use crate::file_lock::{self, LockRegistration};
use crate::memory::too_large;
use crate::{Error, IOV_MAX, Operation, Result, Storage};

/// How to open a [`FileStorage`]. Every field has a safe default.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// Create the file if it does not exist (ignored when `read_only`). Default: true.
    pub create: bool,
    /// Open for reading only: takes a shared lock, and every write is
    /// [`Error::ReadOnly`]. Default: false.
    pub read_only: bool,
    /// Descriptors opened on the file; reads are spread over them per thread. One is the
    /// default: on Linux `pread` on one shared descriptor does not serialize readers (see
    /// `docs/pagestore.md`, "Handle pool", for the measurement). It cannot be zero, so no
    /// setting opens a descriptor per operation.
    pub handles: NonZeroUsize,
    /// How long an open waits for another holder of the file's lock to let go before it
    /// returns [`Error::AlreadyOpen`]: for a process that reopens a file whose previous
    /// holder is still exiting. Default: zero (fail at once). Whatever this says, a lock held
    /// only by a copy of this process's own descriptor in a child it forked (which lives until
    /// the child calls `exec`) is waited for up to [`crate::INHERITED_LOCK_WAIT`] on Linux:
    /// see `docs/operations.md`, "Locking".
    pub lock_wait: Duration,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            create: true,
            read_only: false,
            handles: NonZeroUsize::MIN,
            lock_wait: Duration::ZERO,
        }
    }
}

/// A file on disk. The first descriptor holds an advisory lock (`flock`) for the life of the
/// value: exclusive when writable, shared when read-only, so a second writer (another
/// process, or a second open in this one) gets [`Error::AlreadyOpen`] instead of corrupting
/// the file. How an open waits for a lock: [`FileOptions::lock_wait`] and `file_lock.rs`.
#[derive(Debug)]
pub struct FileStorage {
    /// Declared first so it drops first: this process stops counting the file as locked by
    /// it before the descriptors (and the lock) go.
    _lock: LockRegistration,
    path: PathBuf,
    /// `handles[0]` holds the lock; all are the same open file, so `fdatasync` on any of
    /// them syncs the whole inode.
    handles: Box<[File]>,
    read_only: bool,
    /// Set once `fallocate` reported the file system cannot preallocate; growth then uses
    /// `ftruncate` (sparse), which is correct but lets a later sync touch metadata.
    fallocate_unsupported: AtomicBool,
}

impl FileStorage {
    /// Opens (creating if needed) `path` read-write with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &FileOptions::default())
    }

    /// Opens `path` with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: &FileOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let open_one = || {
            let mut open = OpenOptions::new();
            open.read(true);
            if !options.read_only {
                open.write(true).create(options.create);
            }
            open.open(&path).map_err(|source| Error::Io {
                op: Operation::Open,
                path: Some(path.clone()),
                source,
            })
        };
        let first = open_one()?;
        let lock = file_lock::lock(&first, &path, options.read_only, options.lock_wait)?;
        let mut handles = Vec::with_capacity(options.handles.get());
        handles.push(first);
        for _ in 1..options.handles.get() {
            handles.push(open_one()?);
        }
        Ok(Self {
            _lock: lock,
            path,
            handles: handles.into_boxed_slice(),
            read_only: options.read_only,
            fallocate_unsupported: AtomicBool::new(false),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many descriptors this storage holds.
    pub fn handle_count(&self) -> usize {
        self.handles.len()
    }

    /// The descriptor this thread reads through: threads are spread round-robin over the pool
    /// (a thread keeps its descriptor, so no lock or counter is touched per read).
    fn read_handle(&self) -> &File {
        static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static THREAD_SLOT: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
        }
        let slot = THREAD_SLOT.with(|slot| *slot);
        &self.handles[slot % self.handles.len()]
    }

    /// A new read-only descriptor of this file (a new open file, without the lock) for a
    /// memory map: through `/proc/self/fd` where there is one (the file may have been renamed
    /// since it was opened), else by path; checked to be the same file.
    fn open_for_map(&self) -> Result<File> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let by_descriptor = format!("/proc/self/fd/{}", self.handles[0].as_raw_fd());
        let file = File::open(&by_descriptor)
            .or_else(|_| File::open(&self.path))
            .map_err(|e| self.error(Operation::Open, e))?;
        let (ours, theirs) = (
            self.handles[0]
                .metadata()
                .map_err(|e| self.error(Operation::Open, e))?,
            file.metadata()
                .map_err(|e| self.error(Operation::Open, e))?,
        );
        if (ours.dev(), ours.ino()) != (theirs.dev(), theirs.ino()) {
            return Err(self.error(
                Operation::Open,
                io::Error::other("the path names another file now; cannot map this one"),
            ));
        }
        Ok(file)
    }

    fn error(&self, op: Operation, source: io::Error) -> Error {
        Error::Io {
            op,
            path: Some(self.path.clone()),
            source,
        }
    }

    fn check_writable(&self, op: Operation) -> Result<()> {
        if self.read_only {
            Err(Error::ReadOnly { op })
        } else {
            Ok(())
        }
    }
}

fn to_off_t(offset: u64, op: Operation) -> Result<i64> {
    i64::try_from(offset).map_err(|_| too_large(op))
}

impl Storage for FileStorage {
    fn read_exact_at(&self, mut buf: &mut [u8], offset: u64) -> Result<()> {
        let wanted = buf.len();
        let mut at = offset;
        let file = self.read_handle();
        while !buf.is_empty() {
            match pread(file, buf, to_off_t(at, Operation::Read)?) {
                Ok(0) => {
                    return Err(Error::ReadPastEnd {
                        offset,
                        len: wanted,
                        storage_len: self.len()?,
                    });
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    at += n as u64;
                }
                Err(Errno::EINTR) => {}
                Err(errno) => return Err(self.error(Operation::Read, errno.into())),
            }
        }
        Ok(())
    }

    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> Result<()> {
        self.check_writable(Operation::Write)?;
        let file = &self.handles[0];
        let mut at = offset;
        for chunk in bufs.chunks(IOV_MAX) {
            // Short writes are rare but legal: advance past what was written and retry.
            let mut owned: Vec<IoSlice<'_>> = chunk.to_vec();
            let mut remaining: &mut [IoSlice<'_>] = &mut owned;
            // Loop on bytes, not slices: empty buffers are legal and write nothing.
            let mut bytes_left = crate::total_len(remaining);
            while bytes_left > 0 {
                match pwritev(file, remaining, to_off_t(at, Operation::Write)?) {
                    Ok(0) => {
                        return Err(self.error(
                            Operation::Write,
                            io::Error::new(io::ErrorKind::WriteZero, "pwritev wrote 0 bytes"),
                        ));
                    }
                    Ok(n) => {
                        at += n as u64;
                        bytes_left -= n;
                        IoSlice::advance_slices(&mut remaining, n);
                    }
                    Err(Errno::EINTR) => {}
                    Err(errno) => return Err(self.error(Operation::Write, errno.into())),
                }
            }
        }
        Ok(())
    }

    fn sync_data(&self) -> Result<()> {
        self.check_writable(Operation::Sync)?;
        self.handles[0]
            .sync_data()
            .map_err(|e| self.error(Operation::Sync, e))
    }

    fn allocate(&self, len: u64) -> Result<()> {
        self.check_writable(Operation::Allocate)?;
        let current = self.len()?;
        if len <= current {
            return Ok(());
        }
        let file = &self.handles[0];
        if !self.fallocate_unsupported.load(Ordering::Relaxed) {
            let start = to_off_t(current, Operation::Allocate)?;
            let extra = to_off_t(len - current, Operation::Allocate)?;
            loop {
                match fallocate(file, FallocateFlags::empty(), start, extra) {
                    Ok(()) => return Ok(()),
                    Err(Errno::EINTR) => {}
                    Err(Errno::EOPNOTSUPP | Errno::ENOSYS) => {
                        self.fallocate_unsupported.store(true, Ordering::Relaxed);
                        break;
                    }
                    Err(errno) => return Err(self.error(Operation::Allocate, errno.into())),
                }
            }
        }
        file.set_len(len)
            .map_err(|e| self.error(Operation::Allocate, e))
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.check_writable(Operation::SetLen)?;
        self.handles[0]
            .set_len(len)
            .map_err(|e| self.error(Operation::SetLen, e))
    }

    #[allow(unsafe_code)]
    unsafe fn memory_map(&self) -> Result<Option<crate::FileMap>> {
        let file = self.open_for_map()?;
        // SAFETY: forwarded to our caller, who promises the trait method's contract.
        let map = unsafe { crate::FileMap::new(file, self.len()?) }?;
        Ok(Some(map))
    }

    fn len(&self) -> Result<u64> {
        self.handles[0]
            .metadata()
            .map(|m| m.len())
            .map_err(|e| self.error(Operation::Len, e))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use super::{FileOptions, FileStorage};
    use crate::{Error, LockHolder};

    /// What `fork` does to a database a thread is closing: a child keeps a copy of the
    /// locked descriptor (here handed over on purpose, as a fork does until `exec`), so the
    /// lock outlives this process's close. The reopen must wait for the child, not fail.
    #[test]
    fn a_lock_kept_by_a_forked_child_is_waited_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let storage = FileStorage::open(&path).unwrap();
        let copy = storage.handles[0].try_clone().unwrap();
        let mut child = Command::new("sleep")
            .arg("0.3")
            .stdin(Stdio::from(copy))
            .spawn()
            .unwrap();
        drop(storage);
        let _reopened = FileStorage::open(&path)
            .expect("a lock kept only by a child of this process is waited out");
        assert!(
            child.try_wait().unwrap().is_some(),
            "the reopen succeeded only once the child holding the copy had exited"
        );
        // While the reopened file is held here, a second open is refused at once.
        let err = FileStorage::open(&path).unwrap_err();
        assert!(
            matches!(
                err,
                Error::AlreadyOpen {
                    holder: LockHolder::ThisProcess,
                    ..
                }
            ),
            "{err}"
        );
    }

    /// Another process's lock is refused at once by default, and waited for with
    /// `lock_wait`.
    #[test]
    fn another_process_lock_fails_fast_unless_lock_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"").unwrap();
        // The shell opens the file, util-linux flock(1) locks that description, and the
        // shell becomes `sleep` with it: killing that one process releases the lock.
        let mut holder = Command::new("sh")
            .args([
                "-c",
                r#"exec 9<"$0" && flock --exclusive --nonblock 9 && echo locked && exec sleep 60"#,
            ])
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");

        let err = FileStorage::open(&path).unwrap_err();
        assert!(
            matches!(
                err,
                Error::AlreadyOpen {
                    holder: LockHolder::Elsewhere,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("lock_wait"), "{err}");

        let waiting = std::thread::spawn({
            let path = path.clone();
            move || {
                let options = FileOptions {
                    lock_wait: Duration::from_secs(90),
                    ..FileOptions::default()
                };
                FileStorage::open_with(&path, &options).map(drop)
            }
        });
        holder.kill().unwrap();
        holder.wait().unwrap();
        waiting
            .join()
            .unwrap()
            .expect("lock_wait rides out a holder that goes away");
    }
}
