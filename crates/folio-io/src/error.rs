//! The error type of the storage layer.

use std::io;
use std::path::PathBuf;

/// What a storage backend was doing when it failed; carried in [`Error::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Opening or creating the file.
    Open,
    /// Taking the advisory lock.
    Lock,
    /// A positional read.
    Read,
    /// A (vectored) positional write.
    Write,
    /// A data sync (`fdatasync`).
    Sync,
    /// Growing the file with preallocation (`fallocate`).
    Allocate,
    /// Changing the file's length (`ftruncate`).
    SetLen,
    /// Reading the file's length.
    Len,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Operation::Open => "open",
            Operation::Lock => "lock",
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Sync => "sync",
            Operation::Allocate => "allocate",
            Operation::SetLen => "set length",
            Operation::Len => "length",
        };
        f.write_str(name)
    }
}

/// Errors of the storage layer. Every backend reports failures through this type, the
/// simulated disk included, so fault-injection tests exercise the real error paths.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error (or one injected by [`crate::SimStorage`], which uses the
    /// same `errno` values: `EIO`, `ENOSPC`).
    #[error("{op} failed on {}: {source}", display_path(path.as_ref()))]
    Io {
        /// What was being done.
        op: Operation,
        /// The file, when known.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Another handle (in this or another process) holds the file's lock.
    #[error("{} is already open: its lock is held {holder}", path.display())]
    AlreadyOpen {
        /// The locked file.
        path: PathBuf,
        /// Who holds the lock, as far as the open could tell.
        holder: crate::LockHolder,
    },
    /// A directory was expected at `path` (a database is a directory), but something else
    /// is there.
    #[error("{} is not a directory: a database is a directory; choose another path or move the file away", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A write, sync or resize was attempted on storage opened read-only.
    #[error("storage was opened read-only; reopen it read-write to {op}")]
    ReadOnly {
        /// The refused operation.
        op: Operation,
    },
    /// A read reached past the end of the storage.
    #[error(
        "read of {len} bytes at offset {offset} goes past the end of the storage ({storage_len} bytes): the file is truncated"
    )]
    ReadPastEnd {
        /// Start of the read.
        offset: u64,
        /// Length of the read.
        len: usize,
        /// Length of the storage at the time.
        storage_len: u64,
    },
    /// The simulated disk was crashed; this handle to it is dead. Use the disk that
    /// [`crate::SimStorage::crash`] returned.
    #[error("the simulated disk crashed; this handle is no longer usable")]
    Crashed,
}

fn display_path(path: Option<&PathBuf>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => "storage".to_owned(),
    }
}

impl Error {
    /// Wraps an `io::Error` for `op` on an unnamed storage.
    pub fn io(op: Operation, source: io::Error) -> Self {
        Error::Io {
            op,
            path: None,
            source,
        }
    }

    /// True when the device is out of space (`ENOSPC`).
    pub fn is_no_space(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.raw_os_error() == Some(nix::libc::ENOSPC))
    }

    /// The operation that failed, when the error is an I/O error.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Error::Io { op, .. } | Error::ReadOnly { op } => Some(*op),
            _ => None,
        }
    }
}

/// Result alias of the storage layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
