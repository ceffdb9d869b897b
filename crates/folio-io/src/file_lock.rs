//! The advisory lock a [`crate::FileStorage`] holds on its file, and how an open waits for it.
//!
//! ## The lock and what `fork` does to it
//! The lock is a `flock` on the first descriptor: exclusive for a writer, shared for a
//! read-only open. A `flock` belongs to the *open file description*, not to the process:
//! `fork` copies every descriptor into the child, and the copy keeps the description (and so
//! the lock) alive until the child closes it, which for a descriptor opened close-on-exec is
//! when the child calls `exec`. So in a process where one thread spawns a subprocess while
//! another thread has a database open, closing that database does not release its lock until
//! the subprocess has exec'd (microseconds normally, tens of milliseconds on a loaded
//! machine). A reopen in that window, by this process or by another, finds the file locked.
//!
//! ## What an open does when the lock is taken
//! 1. Try the lock. Taken: register the file in this process's table of locked files.
//! 2. Refused, and `lock_wait` has not passed: retry after a short backoff (any holder).
//! 3. Refused, and the only holders are descriptions *this process* locked while no
//!    `FileStorage` of this process holds the file (read from `/proc/locks`, which names the
//!    process that took each `flock`): the holder is a copy in a forked child that has not
//!    exec'd yet. Keep retrying, up to [`INHERITED_LOCK_WAIT`]. (No holder listed at all
//!    means it let go between the try and the read: retry too.)
//! 4. Otherwise [`Error::AlreadyOpen`] at once, naming who holds it as far as we can tell.
//!
//! So a real second opener (another process, or a second open in this one) fails fast unless
//! the caller asked to wait, and a lock left in transit by a `fork` is ridden out by default.
//! Where `/proc/locks` is unavailable (non-Linux systems), step 3 never applies and
//! `lock_wait` is the remedy.

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{Error, Operation, Result};

/// How long an open waits for a lock held only by a copy of this process's own descriptor in
/// a forked child (step 3 above). A child that execs releases it within milliseconds; one
/// that forked without exec'ing may hold it for good, and gets an error after this.
pub const INHERITED_LOCK_WAIT: Duration = Duration::from_secs(10);

/// The first retry's pause; each retry doubles it up to [`RETRY_PAUSE_MAX`].
const RETRY_PAUSE_MIN: Duration = Duration::from_micros(200);
/// The longest pause between two tries (bounds how late a released lock is noticed).
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(20);

/// Who held a file's lock when an open gave up (carried in [`Error::AlreadyOpen`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LockHolder {
    /// Another open of the file in this process (a handle not yet closed).
    ThisProcess,
    /// A copy of a descriptor this process opened and closed since, kept by a child process
    /// forked from it that has not called `exec` (or exited).
    ForkedChild,
    /// Another process, or a holder that could not be identified.
    Elsewhere,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LockHolder::ThisProcess => "by another open handle in this process; close it first",
            LockHolder::ForkedChild => {
                "by a child process forked from this one that still has a copy of a closed \
                 handle (it has neither exec'd nor exited)"
            }
            LockHolder::Elsewhere => {
                "in another process or handle; close it there first (folio allows one writer \
                 process per file; `lock_wait` waits for a holder that is going away)"
            }
        })
    }
}

/// A file identity: device and inode.
type FileId = (u64, u64);

/// How many `FileStorage`s of this process hold a lock on each file (more than one only for
/// shared, read-only locks). An entry is removed before the descriptors close.
fn locked_here() -> &'static Mutex<HashMap<FileId, usize>> {
    static LOCKED: OnceLock<Mutex<HashMap<FileId, usize>>> = OnceLock::new();
    LOCKED.get_or_init(Mutex::default)
}

/// This process's claim on a locked file; dropping it (before the descriptor closes) tells
/// later opens in this process that a lingering lock on the file is no longer one of ours.
#[derive(Debug)]
pub(crate) struct LockRegistration {
    file_id: FileId,
}

impl Drop for LockRegistration {
    fn drop(&mut self) {
        let mut locked = locked_here().lock();
        if let Some(count) = locked.get_mut(&self.file_id) {
            *count -= 1;
            if *count == 0 {
                locked.remove(&self.file_id);
            }
        }
    }
}

/// Takes `file`'s lock (shared when `read_only`), waiting as the module docs describe.
pub(crate) fn lock(
    file: &File,
    path: &Path,
    read_only: bool,
    lock_wait: Duration,
) -> Result<LockRegistration> {
    let metadata = file.metadata().map_err(|source| Error::Io {
        op: Operation::Lock,
        path: Some(path.to_path_buf()),
        source,
    })?;
    let file_id = (metadata.dev(), metadata.ino());
    let started = Instant::now();
    let mut pause = RETRY_PAUSE_MIN;
    loop {
        let attempt = if read_only {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match attempt {
            Ok(()) => {
                *locked_here().lock().entry(file_id).or_insert(0) += 1;
                return Ok(LockRegistration { file_id });
            }
            Err(TryLockError::Error(source)) => {
                return Err(Error::Io {
                    op: Operation::Lock,
                    path: Some(path.to_path_buf()),
                    source,
                });
            }
            Err(TryLockError::WouldBlock) => {}
        }
        let holder = holder_of(file_id);
        let waited = started.elapsed();
        let patience = match holder {
            LockHolder::ForkedChild => lock_wait.max(INHERITED_LOCK_WAIT),
            LockHolder::ThisProcess | LockHolder::Elsewhere => lock_wait,
        };
        if waited >= patience {
            return Err(Error::AlreadyOpen {
                path: path.to_path_buf(),
                holder,
            });
        }
        std::thread::sleep(pause.min(patience.saturating_sub(waited)));
        pause = (pause * 2).min(RETRY_PAUSE_MAX);
    }
}

/// Who holds the lock on `file_id`, which this process just failed to take.
fn holder_of(file_id: FileId) -> LockHolder {
    if locked_here().lock().contains_key(&file_id) {
        return LockHolder::ThisProcess;
    }
    let Ok(table) = std::fs::read_to_string("/proc/locks") else {
        return LockHolder::Elsewhere;
    };
    match flock_holders(&table, file_id.1, std::process::id()) {
        // Listed under this process only: a copy in a forked child. Listed nowhere: the
        // holder let go between the failed try and this read (a child exec'd); either way
        // the next try is expected to succeed soon.
        FlockHolders::ThisProcessOnly | FlockHolders::None => LockHolder::ForkedChild,
        FlockHolders::Others => LockHolder::Elsewhere,
    }
}

/// Who `/proc/locks` says holds `flock`s on an inode.
#[derive(Debug, PartialEq, Eq)]
enum FlockHolders {
    /// No `flock` on it.
    None,
    /// Only locks taken by the given process.
    ThisProcessOnly,
    /// At least one lock taken by another process.
    Others,
}

/// Reads `table` (the text of `/proc/locks`) for the `flock`s on inode `inode`, telling
/// those taken by process `pid` from the rest.
///
/// A line reads `1: FLOCK  ADVISORY  WRITE 4242 fe:00:5357632 0 EOF`; lines of waiters carry
/// `->` after the number and are skipped. Only the inode number is compared: the device
/// column is the file system's internal one, which `stat` does not always report (overlay
/// file systems). A match on another device's equal inode only makes an open wait longer
/// before the same error.
fn flock_holders(table: &str, inode: u64, pid: u32) -> FlockHolders {
    let mut holders = FlockHolders::None;
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, kind, _, _, holder, device_inode, ..] = fields.as_slice() else {
            continue;
        };
        if *kind != "FLOCK" {
            continue;
        }
        let Some(line_inode) = device_inode.rsplit(':').next() else {
            continue;
        };
        if line_inode.parse::<u64>() != Ok(inode) {
            continue;
        }
        if holder.parse::<u32>() != Ok(pid) {
            return FlockHolders::Others;
        }
        holders = FlockHolders::ThisProcessOnly;
    }
    holders
}

#[cfg(test)]
mod tests {
    use super::{FlockHolders, flock_holders};

    const TABLE: &str = "\
1: FLOCK  ADVISORY  WRITE 4242 fe:00:5357632 0 EOF
2: FLOCK  ADVISORY  READ 77 fe:00:10133507 0 EOF
2: -> FLOCK  ADVISORY  WRITE 99 fe:00:10133507 0 EOF
3: POSIX  ADVISORY  WRITE 99 fe:00:777 0 EOF
4: FLOCK  ADVISORY  READ 77 fe:00:888 0 EOF
5: FLOCK  ADVISORY  READ 78 fe:00:888 0 EOF
";

    #[test]
    fn reads_the_holders_of_an_inode_from_proc_locks() {
        let holders = |inode, pid| flock_holders(TABLE, inode, pid);
        assert_eq!(holders(5_357_632, 4242), FlockHolders::ThisProcessOnly);
        assert_eq!(holders(5_357_632, 4243), FlockHolders::Others);
        assert_eq!(
            holders(10_133_507, 77),
            FlockHolders::ThisProcessOnly,
            "a waiter's line (->) is not a holder"
        );
        assert_eq!(
            holders(777, 99),
            FlockHolders::None,
            "POSIX locks do not count"
        );
        assert_eq!(holders(888, 77), FlockHolders::Others, "a second holder");
        assert_eq!(holders(1, 4242), FlockHolders::None, "no lock on the inode");
        assert_eq!(flock_holders("garbage\n\n1:", 1, 1), FlockHolders::None);
    }
}
