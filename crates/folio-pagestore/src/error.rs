//! The error type of the page store.

use crate::PageId;

/// Errors of the page store. Storage failures are wrapped as [`Error::Storage`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage below failed.
    #[error(transparent)]
    Storage(#[from] folio_io::Error),
    /// A page read from storage failed verification: its checksum does not match (bit rot,
    /// a torn or misdirected write) or its contents are malformed.
    #[error("page {page} is corrupt: {reason}; run an integrity check and restore from a backup")]
    CorruptPage {
        /// The page.
        page: PageId,
        /// What was wrong.
        reason: String,
    },
    /// The file is encrypted and no key was given.
    #[error("the database is encrypted; open it with its key (--key-file in the CLI)")]
    KeyRequired,
    /// The key given is not the one the file was encrypted with.
    #[error("wrong encryption key: the file was encrypted with another key")]
    WrongKey,
    /// A key was given for a file that is not encrypted.
    #[error(
        "the database is not encrypted; open it without a key (or copy it encrypted with backup_to)"
    )]
    NotEncrypted,
    /// The operating system could not provide randomness for encryption nonces.
    #[error("encryption unavailable: {0}")]
    Encryption(String),
    /// Neither header slot is valid although the file looks like a folio file.
    #[error(
        "both header slots are corrupt ({reason}); the file cannot be opened, restore it from a backup"
    )]
    CorruptHeader {
        /// What was wrong with each slot.
        reason: String,
    },
    /// The storage does not start with the folio magic bytes.
    #[error("not a folio file (no folio header found); check the path")]
    NotAFolioFile,
    /// The file was written by a newer folio with a format this version cannot read.
    #[error(
        "the file has format version {found}, this folio reads up to {supported}; upgrade folio to open it"
    )]
    NewerFormat {
        /// The file's format version.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// The file is shorter than its header says: it was truncated.
    #[error(
        "the file is truncated: it has {len} bytes but its header needs {expected}; restore it from a backup"
    )]
    Truncated {
        /// The file's length.
        len: u64,
        /// The length the header requires.
        expected: u64,
    },
    /// The allocator found its own bookkeeping inconsistent (a page allocated or freed twice).
    /// This is a bug in folio or in a caller that freed a page it did not own; the
    /// checkpoint is refused so the durable state stays the previous, consistent one.
    #[error("page allocator invariant violated: {what}; the checkpoint was refused")]
    AllocatorInvariant {
        /// What was inconsistent.
        what: String,
    },
    /// `create` was called on storage that already holds data.
    #[error("the storage is not empty ({len} bytes); open it instead of creating it")]
    NotEmpty {
        /// Its length.
        len: u64,
    },
    /// An option is out of range.
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Why it is refused and what is allowed.
        reason: String,
    },
    /// The roots blob given to a checkpoint does not fit in a header slot.
    #[error("checkpoint roots are {len} bytes; at most {max} fit in a header slot")]
    RootsTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The page id is beyond the largest the store can address.
    #[error("page {page} is out of range: the store has {high_water} pages")]
    PageOutOfRange {
        /// The page.
        page: PageId,
        /// Pages the store has allocated so far.
        high_water: u64,
    },
    /// A sync failed earlier: nothing is known about what reached the disk, so the store
    /// refuses to checkpoint or allocate until it is reopened (which recovers the last
    /// durable state). Also after a damaged tree made a commit free a page that was free
    /// already: which owner the page has is then in doubt.
    #[error(
        "the page store is poisoned by an earlier failed sync (or by a damaged tree that freed a page twice); reopen the database to recover the last durable state, and run an integrity check"
    )]
    Poisoned,
    /// The store (or the database it belongs to) was closed.
    #[error("the page store is closed")]
    Closed,
    /// A checkpoint's version went backwards.
    #[error("checkpoint version {requested} is older than the durable version {durable}")]
    VersionRegressed {
        /// The version asked for.
        requested: u64,
        /// The last durable version.
        durable: u64,
    },
    /// A checkpoint asked for a version older than a commit whose freed pages were already
    /// given to new owners (the caller's reader horizon had passed it): that state can no
    /// longer be written.
    #[error(
        "checkpoint version {requested} is older than version {floor}, whose freed pages were already reused; checkpoint a version no older than the reader horizon"
    )]
    VersionReused {
        /// The version asked for.
        requested: u64,
        /// The oldest version a checkpoint may be of.
        floor: u64,
    },
}

/// Result alias of the page store.
pub type Result<T, E = Error> = std::result::Result<T, E>;
