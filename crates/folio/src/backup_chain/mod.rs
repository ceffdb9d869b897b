//! Incremental backups: a directory holding a chain of numbered increments, each a full
//! copy of the database or the commits logged since the previous increment, from which
//! [`restore_backup`] rebuilds the database as of any commit the chain covers (docs/operations.md,
//! "Backup chains").
//!
//! ```text
//! chain/
//!   000001.manifest  000001.full/     a full copy at source LSN 812 (a database directory)
//!   000002.manifest  000002.log       the commits after 812 up to 1530
//!   000003.manifest  000003.log       ... up to 2210
//! ```
//!
//! An increment exists once its manifest (`manifest.rs`) does: its files are written and
//! synced first, so a crash during an increment leaves the chain as it was (the next
//! increment removes the leftovers). Log increments copy the source's log records, which a
//! registered change-feed subscriber named after the chain keeps between increments; when
//! they are gone (the subscriber fell past `change_retention_bytes`, or was removed), or a
//! commit in the range did not log its data (a bulk load, a large transaction), the
//! increment is a full copy instead.

mod files;
mod manifest;
mod restore;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use folio_io::{Directory, FileOptions, FsDirectory, Storage};
use folio_wal::Lsn;

pub use manifest::IncrementKind;
use manifest::{Manifest, parse_manifest_name};
pub use restore::{
    PruneReport, RestoreOptions, RestoreReport, prune_backup, prune_backup_in, restore_backup,
    restore_backup_in,
};

use crate::log_record::{LogOp, decode};
use crate::{Database, Error, Result};
use files::{LogIncrementWriter, full_copy_files};

/// What [`Database::backup_incremental`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementReport {
    /// Its number in the chain.
    pub number: u64,
    /// A full copy or logged commits.
    pub kind: IncrementKind,
    /// Why it is a full copy, when the chain already had increments.
    pub full_because: Option<String>,
    /// The source LSN it starts after (0 for a full copy).
    pub from: Lsn,
    /// The source LSN it ends at: a restore can stop at any LSN from here back to the
    /// chain's first full copy.
    pub to: Lsn,
    /// Log records copied (log increments).
    pub records: u64,
    /// Bytes of files written.
    pub bytes: u64,
}

/// One increment of a backup chain, as [`list_backup`] describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementInfo {
    /// Its number in the chain.
    pub number: u64,
    /// A full copy or logged commits.
    pub kind: IncrementKind,
    /// The source LSN it starts after (0 for a full copy).
    pub from: Lsn,
    /// The source LSN it ends at.
    pub to: Lsn,
    /// When it was made, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Bytes of its files.
    pub bytes: u64,
}

/// The increments of the backup chain in `chain_dir`, by number, as their manifests say
/// (their files are not checked: [`restore_backup`] does that).
pub fn list_backup(chain_dir: impl AsRef<Path>) -> Result<Vec<IncrementInfo>> {
    list_backup_in(existing_chain(chain_dir.as_ref())?)
}

/// [`list_backup`] of a chain in any [`Directory`].
pub fn list_backup_in(chain_dir: Arc<dyn Directory>) -> Result<Vec<IncrementInfo>> {
    let chain = Chain::load(chain_dir, false)?;
    Ok(chain
        .increments
        .values()
        .map(|m| IncrementInfo {
            number: m.number,
            kind: m.kind,
            from: m.from,
            to: m.to,
            created_ms: m.created_ms,
            bytes: m.files.iter().map(|(_, bytes, _)| bytes).sum(),
        })
        .collect())
}

/// The chain directory at `path`, which must exist, for reading (files opened read-only,
/// so readers share them with each other and with an adder).
pub(crate) fn existing_chain(path: &Path) -> Result<Arc<dyn Directory>> {
    if !path.exists() {
        return Err(Error::Storage(folio_io::Error::Io {
            op: folio_io::Operation::Open,
            path: Some(path.to_path_buf()),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no backup chain there (the directory does not exist)",
            ),
        }));
    }
    let options = FileOptions {
        read_only: true,
        ..FileOptions::default()
    };
    Ok(Arc::new(FsDirectory::open_with(path, options)?))
}

/// The increments of a chain directory, by number.
#[derive(Debug)]
pub(crate) struct Chain {
    dir: Arc<dyn Directory>,
    increments: BTreeMap<u64, Manifest>,
    /// The chain directory's subdirectories (full copies) when it was loaded.
    subdirectories: Vec<String>,
}

fn chain_error(increment: u64, reason: impl Into<String>) -> Error {
    Error::BackupChain {
        increment,
        reason: reason.into(),
    }
}

/// Holds the chain's lock file (`chain.lock`, an advisory lock like the database's): one
/// process adds increments to or prunes a chain at a time.
fn lock_chain(dir: &dyn Directory) -> Result<Arc<dyn Storage>> {
    Ok(dir.open(CHAIN_LOCK, true)?)
}

/// The chain directory's lock file.
const CHAIN_LOCK: &str = "chain.lock";

impl Chain {
    /// Reads every manifest in `dir` (which adders create with its lock). With `tidy`, files
    /// of increments that never got a manifest (a crash mid-increment) are removed.
    pub(crate) fn load(dir: Arc<dyn Directory>, tidy: bool) -> Result<Self> {
        let mut increments = BTreeMap::new();
        let mut others = Vec::new();
        for name in dir.list()? {
            if let Some(number) = parse_manifest_name(&name) {
                let bytes = dir
                    .read_file(&name)?
                    .ok_or_else(|| chain_error(number, "the manifest went while it was read"))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| chain_error(number, "the manifest is not text"))?;
                let manifest =
                    Manifest::decode(&text).map_err(|reason| chain_error(number, reason))?;
                if manifest.number != number {
                    return Err(chain_error(number, "the manifest names another increment"));
                }
                increments.insert(number, manifest);
            } else {
                others.push(name);
            }
        }
        let subdirectories = dir.list_subdirectories()?;
        let mut chain = Self {
            dir,
            increments,
            subdirectories,
        };
        if tidy {
            chain.remove_unlisted(&others)?;
        }
        Ok(chain)
    }

    /// File `path` of the chain (a file name, or `subdirectory/file` of a full copy);
    /// `None` when it does not exist. Nothing is created.
    pub(crate) fn file(&self, path: &str) -> Result<Option<Arc<dyn Storage>>> {
        Ok(match path.split_once('/') {
            Some((sub, name)) if self.subdirectories.iter().any(|s| s == sub) => {
                self.dir.subdirectory(sub)?.open_if_exists(name)?
            }
            Some(_) => None,
            None => self.dir.open_if_exists(path)?,
        })
    }

    /// Removes increment-named files and subdirectories no manifest lists.
    fn remove_unlisted(&mut self, files: &[String]) -> Result<()> {
        let listed: std::collections::HashSet<&str> = self
            .increments
            .values()
            .flat_map(|m| m.files.iter().map(|(path, _, _)| top_level(path)))
            .collect();
        let unlisted = |name: &&String| {
            name.len() > 7
                && name.as_bytes()[..6].iter().all(u8::is_ascii_digit)
                && name.as_bytes()[6] == b'.'
                && !listed.contains(name.as_str())
        };
        for name in files.iter().filter(unlisted) {
            self.dir.remove(name)?;
        }
        for name in self.subdirectories.iter().filter(unlisted) {
            self.dir.remove_subdirectory(name)?;
        }
        self.subdirectories.retain(|name| !unlisted(&name));
        Ok(())
    }

    fn last(&self) -> Option<&Manifest> {
        self.increments.values().next_back()
    }

    fn next_number(&self) -> u64 {
        self.last().map_or(1, |m| m.number + 1)
    }

    /// Checks the chain from its last full copy before `to` (or its first) to its end:
    /// numbers without gaps, LSNs continuing, every file present with its checksum.
    /// Returns the increments a restore to `to` uses, base first.
    pub(crate) fn verified_path(&self, to: Lsn) -> Result<Vec<&Manifest>> {
        let all: Vec<&Manifest> = self.increments.values().collect();
        // Log increments before the first full copy are what an interrupted prune left.
        let first_full = all
            .iter()
            .position(|m| m.kind == IncrementKind::Full)
            .ok_or_else(|| chain_error(0, "the chain has no full copy to start from"))?;
        let chain = &all[first_full..];
        for pair in chain.windows(2) {
            let (previous, next) = (pair[0], pair[1]);
            if next.number != previous.number + 1 {
                return Err(chain_error(previous.number + 1, "the increment is missing"));
            }
            if next.chain != previous.chain {
                return Err(chain_error(
                    next.number,
                    "the increment belongs to another chain",
                ));
            }
            let continues = match next.kind {
                IncrementKind::Log => next.from == previous.to,
                IncrementKind::Full => next.to >= previous.to,
            };
            if !continues {
                return Err(chain_error(
                    next.number,
                    format!(
                        "it starts after LSN {} but the increment before it ends at {}",
                        next.from, previous.to
                    ),
                ));
            }
        }
        for manifest in chain {
            for (path, bytes, checksum) in &manifest.files {
                let Some(file) = self.file(path)? else {
                    return Err(chain_error(manifest.number, format!("{path} is missing")));
                };
                let (found_bytes, found_checksum) = files::checksum(file.as_ref())?;
                if (found_bytes, found_checksum) != (*bytes, *checksum) {
                    return Err(chain_error(
                        manifest.number,
                        format!("{path} is damaged (its checksum does not match the manifest)"),
                    ));
                }
            }
        }
        let first = chain[0];
        let last = chain[chain.len() - 1];
        if to < first.to || to > last.to {
            return Err(Error::InvalidOption {
                name: "to_lsn",
                reason: format!(
                    "LSN {to} is outside what the chain covers ({} to {})",
                    first.to, last.to
                ),
            });
        }
        let base = chain
            .iter()
            .rposition(|m| m.kind == IncrementKind::Full && m.to <= to)
            .expect("the first is a full copy at or before `to`");
        let mut path = vec![chain[base]];
        for manifest in &chain[base + 1..] {
            if manifest.kind == IncrementKind::Full || manifest.from >= to {
                break;
            }
            path.push(manifest);
        }
        Ok(path)
    }
}

/// The first component of a path in the chain directory.
fn top_level(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

fn subscriber_name(chain: u64) -> String {
    format!("backup-chain-{chain:016x}")
}

impl Database {
    /// Adds an increment to the backup chain in directory `dir` (created if missing): a
    /// full copy when the chain is empty, else the commits since its last increment, copied
    /// from the log (full again when the log no longer holds them or holds only markers of
    /// them). Safe while writers run; an encrypted database's increments stay encrypted
    /// under its key. The log is synced up to the commit the increment ends at first, so it
    /// holds only durable commits. A crash during an increment leaves the chain as it was.
    /// Restore with [`restore_backup`], merge old increments with [`prune_backup`].
    ///
    /// The chain registers a change-feed subscriber (`backup-chain-<id>`) so checkpoints keep
    /// the log between increments, within `change_retention_bytes`; remove it with
    /// [`Database::unregister_subscriber`] when the chain is abandoned. The subscriber also
    /// ties the chain to this database: one that does not hold it (another database, a
    /// copy restored from the chain) gets [`Error::InvalidOption`] and adds nothing.
    pub fn backup_incremental(&self, dir: impl AsRef<Path>) -> Result<IncrementReport> {
        self.inner.check_open()?;
        self.backup_incremental_in(Arc::new(FsDirectory::open(dir)?))
    }

    /// [`Database::backup_incremental`] into a chain in any [`Directory`] (the simulated
    /// disk's, for one).
    pub fn backup_incremental_in(&self, dir: Arc<dyn Directory>) -> Result<IncrementReport> {
        self.inner.check_open()?;
        let _lock = lock_chain(dir.as_ref())?;
        let chain = Chain::load(dir, true)?;
        let number = chain.next_number();
        let Some(last) = chain.last() else {
            let id = fastrand::u64(..);
            let made = self.full_increment(&chain, number, id, None);
            let no_increment =
                || Chain::load(Arc::clone(&chain.dir), false).is_ok_and(|c| c.last().is_none());
            if made.is_err() && no_increment() {
                // No manifest names this subscriber: left registered, it would keep the log
                // for nobody. (When the chain cannot be read back, say the device is gone,
                // it stays: the increment may exist, and it is the chain's tie to this
                // database. `subscribers()` lists it; retention bounds what it keeps.)
                let _ = self.unregister_subscriber(&subscriber_name(id));
            }
            return made;
        };
        let subscriber = subscriber_name(last.chain);
        let full_because = match self.subscriber_position(&subscriber) {
            // The subscriber is what ties a chain to its database: without it this may be
            // another database (or a restored copy, whose LSNs start afresh), and its
            // increments would break the chain's order of LSNs for every restore.
            Err(Error::SubscriberNotFound { .. }) => {
                return Err(Error::InvalidOption {
                    name: "backup chain",
                    reason: format!(
                        "this database does not hold the chain's subscriber {subscriber}: it \
                         is not the database the chain backs up (another one, or a restored \
                         copy), or the subscriber was removed; back it up into a new chain"
                    ),
                });
            }
            Err(error) => return Err(error),
            Ok(position) if position > last.to => Some(
                "the database acknowledged more for the chain than its last increment holds \
                 (the chain directory is older than the database's record of it)"
                    .to_owned(),
            ),
            Ok(_) => match self.log_increment(&chain, number, last)? {
                Ok(report) => return Ok(report),
                Err(reason) => Some(reason),
            },
        };
        self.full_increment(&chain, number, last.chain, full_because)
    }

    fn full_increment(
        &self,
        chain: &Chain,
        number: u64,
        id: u64,
        full_because: Option<String>,
    ) -> Result<IncrementReport> {
        let subscriber = subscriber_name(id);
        // Registered before the snapshot, so the log after it is kept for the next one.
        self.register_subscriber(&subscriber)?;
        let read = self.begin_read();
        let to = read.version();
        // Increments hold only durable commits: an `Eventual` commit a power cut then lost
        // would be in the chain, and the commit that reuses its LSN never would.
        self.inner.wal.wait_durable(to)?;
        // No staging: the copy is part of the chain only once the manifest names it, and
        // `Chain::load` removed any leftover of this number.
        let name = format!("{number:06}.full");
        let directory = chain.dir.subdirectory(&name)?;
        let key = self.inner.options.encryption_key.clone();
        self.copy_snapshot_into(&read, directory, key, |_| {})?;
        let files = full_copy_files(chain.dir.as_ref(), &name)?;
        let manifest = Manifest {
            number,
            kind: IncrementKind::Full,
            chain: id,
            from: 0,
            to,
            created_ms: now_ms(),
            cfs: read
                .cf_ids()
                .into_iter()
                .map(|(id, name)| (id.0, name))
                .collect(),
            files,
        };
        manifest.save(chain.dir.as_ref())?;
        self.acknowledge(&subscriber, to)?;
        Ok(IncrementReport {
            number,
            kind: IncrementKind::Full,
            full_because,
            from: 0,
            to,
            records: 0,
            bytes: manifest.files.iter().map(|(_, bytes, _)| bytes).sum(),
        })
    }

    /// A log increment after `last`; `Ok(Err(reason))` when it must be a full copy.
    fn log_increment(
        &self,
        chain: &Chain,
        number: u64,
        last: &Manifest,
    ) -> Result<std::result::Result<IncrementReport, String>> {
        let to = self.inner.publisher.current().version;
        self.inner.wal.wait_durable(to)?; // only durable commits (see `full_increment`)
        let name = format!("{number:06}.log");
        let cipher = self.log_cipher()?;
        let mut writer = LogIncrementWriter::create(chain.dir.as_ref(), &name, cipher.is_some())?;
        if to > last.to {
            let records = match self.inner.wal.read_from(last.to + 1) {
                Ok(records) => records,
                Err(folio_wal::Error::Truncated { .. }) => {
                    drop(writer);
                    let _ = chain.dir.remove(&name);
                    return Ok(Err(
                        "the log no longer holds the commits since the last increment".to_owned(),
                    ));
                }
                Err(error) => return Err(error.into()),
            };
            for record in records {
                let (lsn, payload) = record?;
                if lsn > to {
                    break;
                }
                let unlogged = decode(lsn, &payload)?
                    .iter()
                    .any(|op| matches!(op, LogOp::Unlogged { .. }));
                if unlogged {
                    drop(writer);
                    let _ = chain.dir.remove(&name);
                    return Ok(Err(format!(
                        "commit {lsn} (a bulk load or a large transaction) did not log its data"
                    )));
                }
                writer.append(lsn, &payload, cipher.as_deref())?;
            }
        }
        let (bytes, checksum, records) = writer.finish()?;
        let manifest = Manifest {
            number,
            kind: IncrementKind::Log,
            chain: last.chain,
            from: last.to,
            to,
            created_ms: now_ms(),
            cfs: Vec::new(),
            files: vec![(name, bytes, checksum)],
        };
        manifest.save(chain.dir.as_ref())?;
        self.acknowledge(&subscriber_name(last.chain), to)?;
        Ok(Ok(IncrementReport {
            number,
            kind: IncrementKind::Log,
            full_because: None,
            from: last.to,
            to,
            records,
            bytes,
        }))
    }

    /// The cipher log increments are sealed with (this database's key).
    fn log_cipher(&self) -> Result<Option<Arc<folio_io::Cipher>>> {
        crate::database::cipher_for(self.inner.options.encryption_key.as_ref())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_process_at_a_time_adds_to_a_chain() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::Database::open(dir.path().join("db")).unwrap();
        let chain = dir.path().join("chain");
        let lock = super::lock_chain(&folio_io::FsDirectory::open(&chain).unwrap()).unwrap();
        let error = db.backup_incremental(&chain).unwrap_err();
        assert!(error.is_already_open(), "{error}");
        drop(lock);
        db.backup_incremental(&chain).unwrap();
    }
}
