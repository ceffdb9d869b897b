//! [`restore_backup`]: a database rebuilt from a backup chain as of one source LSN (its base
//! full copy, then the logged commits after it applied one transaction each), and
//! [`prune_backup`]: old increments merged into a new full copy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use folio_io::{Directory, EncryptionKey, FsDirectory};
use folio_wal::{Durability, Lsn};

use super::files::{LogIncrementReader, copy_into, full_copy_files};
use super::manifest::{IncrementKind, Manifest, manifest_name};
use super::{Chain, chain_error, existing_chain};
use crate::database::cipher_for;
use crate::log_record::{LogOp, decode};
use crate::{ColumnFamilyOptions, Database, DatabaseOptions, Error, Result};

/// Where [`restore_backup`] stops, and the key of an encrypted chain.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// The source LSN to restore to (the state after that commit). Default: the end of the
    /// chain.
    pub to_lsn: Option<Lsn>,
    /// Restore to the end of the last increment made at or before this time (milliseconds
    /// since the Unix epoch): log records carry no time, so this is as fine as increments
    /// are frequent. Ignored when `to_lsn` is set.
    pub to_time_ms: Option<u64>,
    /// The key the backed-up database was encrypted with; the restored database is
    /// encrypted with it too.
    pub encryption_key: Option<EncryptionKey>,
}

/// What [`restore_backup`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The source LSN the restored database is at.
    pub lsn: Lsn,
    /// The increments used, base first.
    pub increments: Vec<u64>,
    /// Logged commits applied on top of the base.
    pub commits_applied: u64,
    /// Where the database is.
    pub path: PathBuf,
}

/// Rebuilds the database as of a source LSN from the backup chain in `chain_dir`, into
/// directory `target`, which must not exist. Every increment's files are checked against
/// their manifests first: a missing or damaged increment, or a gap in the chain, is
/// [`Error::BackupChain`] naming the increment, and nothing is created. The restored
/// database has the source's contents at that LSN (its own LSNs start afresh).
pub fn restore_backup(
    chain_dir: impl AsRef<Path>,
    target: impl AsRef<Path>,
    options: &RestoreOptions,
) -> Result<RestoreReport> {
    let (chain_dir, target) = (chain_dir.as_ref(), target.as_ref());
    if target.exists() {
        return Err(Error::BackupTargetExists {
            path: target.to_path_buf(),
        });
    }
    let chain = Chain::load(existing_chain(chain_dir)?, false)?;
    let to = restore_point(&chain, options)?;
    let path = chain.verified_path(to)?;
    let staged = folio_io::StagedDirectory::begin(target, ".folio-restore-partial")?;
    let (commits_applied, _) = rebuild(
        &chain,
        &path,
        to,
        Arc::new(FsDirectory::open(staged.path())?),
        options.encryption_key.clone(),
    )?;
    staged.finish()?;
    Ok(RestoreReport {
        lsn: to,
        increments: path.iter().map(|m| m.number).collect(),
        commits_applied,
        path: target.to_path_buf(),
    })
}

/// [`restore_backup`] from a chain in any [`Directory`] into `target`, which must hold no
/// files. Unlike [`restore_backup`], which builds beside the target and renames it into
/// place, this writes into `target` directly: a crash leaves a partial database there.
/// The report's `path` is empty.
pub fn restore_backup_in(
    chain_dir: Arc<dyn Directory>,
    target: Arc<dyn Directory>,
    options: &RestoreOptions,
) -> Result<RestoreReport> {
    if !target.list()?.is_empty() {
        return Err(Error::BackupTargetExists {
            path: PathBuf::new(),
        });
    }
    let chain = Chain::load(chain_dir, false)?;
    let to = restore_point(&chain, options)?;
    let path = chain.verified_path(to)?;
    let (commits_applied, _) = rebuild(&chain, &path, to, target, options.encryption_key.clone())?;
    Ok(RestoreReport {
        lsn: to,
        increments: path.iter().map(|m| m.number).collect(),
        commits_applied,
        path: PathBuf::new(),
    })
}

fn restore_point(chain: &Chain, options: &RestoreOptions) -> Result<Lsn> {
    let last = chain
        .last()
        .ok_or_else(|| chain_error(0, "the chain directory holds no increment"))?;
    if let Some(lsn) = options.to_lsn {
        return Ok(lsn);
    }
    let Some(time) = options.to_time_ms else {
        return Ok(last.to);
    };
    chain
        .increments
        .values()
        .filter(|m| m.created_ms <= time)
        .map(|m| m.to)
        .next_back()
        .ok_or_else(|| Error::InvalidOption {
            name: "to_time",
            reason: "the chain's first increment was made after that time".to_owned(),
        })
}

/// Copies the base of `path` into `dir` and applies the logged commits up to `to`; returns
/// how many were applied and the source's column families (id, name) at `to`.
fn rebuild(
    chain: &Chain,
    path: &[&Manifest],
    to: Lsn,
    dir: Arc<dyn Directory>,
    key: Option<EncryptionKey>,
) -> Result<(u64, Vec<(u64, String)>)> {
    let base = path[0];
    for (file, _, _) in &base.files {
        let name = file.rsplit('/').next().unwrap_or(file);
        let from = chain
            .file(file)?
            .ok_or_else(|| chain_error(base.number, format!("{file} is missing")))?;
        copy_into(from.as_ref(), dir.as_ref(), name)?;
    }
    let cipher = cipher_for(key.as_ref())?;
    let db = Database::open_in(
        dir,
        DatabaseOptions {
            encryption_key: key,
            checkpoint_interval: None,
            ..DatabaseOptions::default()
        },
    )?;
    let mut applier = Applier {
        db,
        names: base.cfs.iter().cloned().collect(),
        applied: 0,
    };
    for manifest in &path[1..] {
        let (file, _, _) = &manifest.files[0];
        let stored = chain
            .file(file)?
            .ok_or_else(|| chain_error(manifest.number, format!("{file} is missing")))?;
        let mut reader = LogIncrementReader::new(stored, file, cipher.clone())?;
        while let Some((lsn, payload)) = reader.next_record()? {
            if lsn <= manifest.from || lsn > manifest.to {
                return Err(chain_error(
                    manifest.number,
                    format!("holds record {lsn}, outside its range"),
                ));
            }
            if lsn > to {
                break;
            }
            applier.apply(lsn, &payload).map_err(|error| match error {
                Error::BackupChain { .. } => error,
                other => chain_error(
                    manifest.number,
                    format!("record {lsn} could not be applied: {other}"),
                ),
            })?;
        }
    }
    let Applier { db, names, applied } = applier;
    db.checkpoint()?;
    db.close()?;
    let mut names: Vec<(u64, String)> = names.into_iter().collect();
    names.sort();
    Ok((applied, names))
}

/// Applies logged source commits to the restored database, naming column families by the
/// source's ids.
struct Applier {
    db: Database,
    names: HashMap<u64, String>,
    applied: u64,
}

impl Applier {
    fn name(&self, lsn: Lsn, id: u64) -> Result<String> {
        self.names
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::CorruptLogRecord {
                lsn,
                reason: format!("names column family {id}, unknown at that point of the chain"),
            })
    }

    fn apply(&mut self, lsn: Lsn, payload: &[u8]) -> Result<()> {
        let ops = decode(lsn, payload)?;
        let mut data = Vec::new();
        for op in ops {
            match op {
                LogOp::Put { .. } | LogOp::Delete { .. } | LogOp::DeleteRange { .. } => {
                    data.push(op);
                }
                ddl => {
                    self.write(lsn, std::mem::take(&mut data))?;
                    self.ddl(lsn, &ddl)?;
                }
            }
        }
        self.write(lsn, data)?;
        self.applied += 1;
        Ok(())
    }

    /// One transaction with the data operations of a commit.
    fn write(&self, lsn: Lsn, ops: Vec<LogOp<'_>>) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut names: Vec<String> = Vec::new();
        for op in &ops {
            let (LogOp::Put { cf, .. } | LogOp::Delete { cf, .. } | LogOp::DeleteRange { cf, .. }) =
                op
            else {
                continue;
            };
            let name = self.name(lsn, cf.0)?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut txn = self.db.begin_write(&names)?;
        for op in ops {
            match op {
                LogOp::Put { cf, key, value } => {
                    txn.put(self.name(lsn, cf.0)?.as_str(), key, value)?;
                }
                LogOp::Delete { cf, key } => {
                    txn.delete(self.name(lsn, cf.0)?.as_str(), key)?;
                }
                LogOp::DeleteRange { cf, start, end } => {
                    txn.delete_range::<_, [u8], _>(self.name(lsn, cf.0)?.as_str(), (start, end))?;
                }
                _ => {}
            }
        }
        txn.commit_with(Durability::Eventual)?;
        Ok(())
    }

    fn ddl(&mut self, lsn: Lsn, op: &LogOp<'_>) -> Result<()> {
        match op {
            LogOp::CreateCf {
                cf,
                name,
                compression,
            } => {
                let options = ColumnFamilyOptions {
                    compression: compression.unwrap_or_default(),
                };
                self.db.create_cf_with(name, options)?;
                self.names.insert(cf.0, (*name).to_owned());
            }
            LogOp::DropCf { cf, name } => {
                self.db.drop_cf(name)?;
                self.names.remove(&cf.0);
            }
            LogOp::RenameCf { cf, from, to } => {
                self.db.rename_cf(from, to)?;
                self.names.insert(cf.0, (*to).to_owned());
            }
            LogOp::SetCompression { cf, compression } => {
                let name = self.name(lsn, cf.0)?;
                self.db.set_cf_options(
                    &name,
                    ColumnFamilyOptions {
                        compression: *compression,
                    },
                )?;
            }
            LogOp::Unlogged { .. } => {
                return Err(Error::CorruptLogRecord {
                    lsn,
                    reason: "a log increment holds the marker of an unlogged commit".to_owned(),
                });
            }
            LogOp::Moved { .. }
            | LogOp::Put { .. }
            | LogOp::Delete { .. }
            | LogOp::DeleteRange { .. } => {}
        }
        Ok(())
    }
}

/// What [`prune_backup`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// Increments removed.
    pub removed: Vec<u64>,
    /// The new full copy the older increments were merged into, when one was needed.
    pub merged_into: Option<u64>,
}

/// Keeps the newest `keep` increments of the chain in `chain_dir` (at least 1) restorable
/// and removes the older ones. A kept log increment needs the one before it as its base:
/// that one stays as it is when it is a full copy; otherwise the increments up to it are
/// first merged into a full copy at the LSN it ends at (verifying them), which takes its
/// number. Crash-safe: the merged copy replaces that increment's manifest atomically, then
/// the older increments go oldest first, and a restore ignores log increments left before
/// the first full copy.
pub fn prune_backup(
    chain_dir: impl AsRef<Path>,
    keep: usize,
    key: Option<EncryptionKey>,
) -> Result<PruneReport> {
    existing_chain(chain_dir.as_ref())?;
    prune_backup_in(Arc::new(FsDirectory::open(chain_dir)?), keep, key)
}

/// [`prune_backup`] of a chain in any [`Directory`].
pub fn prune_backup_in(
    chain_dir: Arc<dyn Directory>,
    keep: usize,
    key: Option<EncryptionKey>,
) -> Result<PruneReport> {
    let _lock = super::lock_chain(chain_dir.as_ref())?;
    let chain = Chain::load(chain_dir, true)?;
    let numbers: Vec<u64> = chain.increments.keys().copied().collect();
    if keep == 0 {
        return Err(Error::InvalidOption {
            name: "keep",
            reason: "keep at least one increment".to_owned(),
        });
    }
    if numbers.len() <= keep {
        return Ok(PruneReport {
            removed: Vec::new(),
            merged_into: None,
        });
    }
    let first_kept = &chain.increments[&numbers[numbers.len() - keep]];
    // A kept log increment needs the increment before it as its base: kept as it is when
    // that is a full copy, else replaced by a merge of everything up to it.
    let keep_from = match first_kept.kind {
        IncrementKind::Log => first_kept.number - 1,
        IncrementKind::Full => first_kept.number,
    };
    let base_is_full = chain
        .increments
        .get(&keep_from)
        .is_some_and(|m| m.kind == IncrementKind::Full);
    let mut merged_into = None;
    if !base_is_full {
        let number = keep_from;
        let path = chain.verified_path(first_kept.from)?;
        let replaced = chain
            .increments
            .get(&number)
            .ok_or_else(|| chain_error(number, "the increment is missing"))?;
        // The increment replaced is a log one (a full one would be the base), so its file
        // stays whole under its own name until the new manifest replaces its own.
        let name = format!("{number:06}.full");
        chain.dir.remove_subdirectory(&name)?;
        let target = chain.dir.subdirectory(&name)?;
        let (_, cfs) = rebuild(&chain, &path, first_kept.from, target, key)?;
        let files = full_copy_files(chain.dir.as_ref(), &name)?;
        let manifest = Manifest {
            number,
            kind: IncrementKind::Full,
            chain: first_kept.chain,
            from: 0,
            to: first_kept.from,
            created_ms: replaced.created_ms,
            cfs,
            files,
        };
        manifest.save(chain.dir.as_ref())?;
        // The replaced increment's own files are no longer listed.
        for (file, _, _) in &replaced.files {
            remove(chain.dir.as_ref(), file)?;
        }
        merged_into = Some(number);
    }
    let mut removed = Vec::new();
    for &number in numbers.iter().filter(|&&n| n < keep_from) {
        let manifest = &chain.increments[&number];
        chain.dir.remove(&manifest_name(number))?;
        for (file, _, _) in &manifest.files {
            remove(chain.dir.as_ref(), file)?;
        }
        removed.push(number);
    }
    Ok(PruneReport {
        removed,
        merged_into,
    })
}

/// Removes the file or full copy `path` of the chain names (no error if it is gone).
fn remove(chain: &dyn Directory, path: &str) -> Result<()> {
    match path.split_once('/') {
        Some((subdirectory, _)) => chain.remove_subdirectory(subdirectory),
        None => chain.remove(path),
    }?;
    Ok(())
}
