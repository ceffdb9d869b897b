//! # folio-io: where bytes meet the disk
//!
//! The bottom layer of folio: one [`Storage`] trait (positional read, vectored positional
//! write, data sync, preallocating growth, length) and three backends that are all part of the
//! public API:
//!
//! - [`FileStorage`]: a real file through `pread`/`pwritev`, `fallocate` growth (with a
//!   fallback where the file system cannot preallocate), an advisory lock so a second writer
//!   gets [`Error::AlreadyOpen`], and an optional descriptor pool for parallel readers;
//! - [`MemoryStorage`]: bytes in memory;
//! - [`SimStorage`]: a seeded, fault-injecting simulated disk that keeps durable and volatile
//!   bytes apart. It can crash (dropping, keeping, tearing at 512-byte sectors or reordering
//!   the unsynced writes), fail the Nth operation once or for good with `EIO`/`ENOSPC` or a
//!   failed sync, flip stored bits, and count every operation. Every crash test in folio
//!   runs on it;
//! - [`Directory`]: named files on one device ([`FsDirectory`] on the real file system,
//!   [`SimDirectory`] of simulated files sharing one power line, so several files crash at
//!   the same instant);
//! - [`cipher`]: [`EncryptionKey`] and the [`Cipher`] (XChaCha20-Poly1305) that the page
//!   store and the log seal their bytes with when a database is encrypted at rest.
//!
//! ```
//! use folio_io::{CrashPolicy, SimStorage, Storage};
//!
//! # fn main() -> folio_io::Result<()> {
//! let disk = SimStorage::new(42);
//! disk.write_all_at(b"durable", 0)?;
//! disk.sync_data()?;
//! disk.write_all_at(b"lost!!!", 0)?; // never synced
//!
//! let rebooted = disk.crash(CrashPolicy::DropUnsynced);
//! let mut buf = [0u8; 7];
//! rebooted.read_exact_at(&mut buf, 0)?;
//! assert_eq!(&buf, b"durable");
//! assert!(disk.len().is_err(), "the crashed handle is dead");
//! # Ok(())
//! # }
//! ```
//!
//! The system calls go through `nix`. `unsafe` appears twice: creating a memory map
//! ([`FileMap`], in `map.rs`, with its contract: the page store reads clean pages through
//! it), and the processor's prefetch hint ([`prefetch`], which cannot fault).

#![deny(unsafe_code)]

mod at_rest;
pub mod cipher;
mod directory;
mod error;
mod file;
mod file_lock;
pub mod le;
mod map;
mod memory;
mod prefetch;
mod sim;
mod staged;
mod storage;
mod sync_hook;

pub use at_rest::AtRest;
pub use cipher::{Cipher, EncryptionKey, KeyError, SealError};
pub use directory::{Directory, FsDirectory};
pub use error::{Error, Operation, Result};
pub use file::{FileOptions, FileStorage};
pub use file_lock::{INHERITED_LOCK_WAIT, LockHolder};
pub use map::{FileMap, MAP_BYTES_MIN, MappedBytes};
pub use memory::MemoryStorage;
pub use prefetch::prefetch;
pub use sim::{
    CrashPolicy, FaultKind, FaultOps, FaultRule, OpCounts, SECTOR_BYTES, SimDirectory, SimStorage,
    SweepReport, crash_seeds, sweep_power_cuts,
};
pub use staged::StagedDirectory;
pub use storage::{IOV_MAX, Storage, total_len};
pub use sync_hook::{SyncHook, SyncHookDirectory};
