//! [`Database::backup_to`]: a consistent copy of every column family at one snapshot, made
//! while writers continue, openable as a normal database.
//!
//! The copy is logical: every entry of the snapshot is bulk-loaded into a new database in a
//! temporary directory beside the target, which is checkpointed, closed and then renamed to
//! the target, so a crash never leaves a half-made backup under the target's name. The copy
//! is also compact (pages filled in key order). Incremental backups (only pages changed
//! since the last one) do not fit this design: a copy-on-write page store moves every
//! changed page and its path to the root, and the copy's pages are laid out afresh, so page
//! numbers of the source and a backup do not correspond.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use folio_io::{Directory, EncryptionKey};

use folio_wal::Lsn;

use crate::{Database, DatabaseOptions, Error, Result};

/// What [`Database::backup_to`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The version (LSN) the backup holds.
    pub version: Lsn,
    /// Column families copied.
    pub column_families: usize,
    /// Entries copied.
    pub entries: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
    /// Where the backup is.
    pub path: PathBuf,
}

/// Progress of [`Database::backup_to_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupProgress {
    /// Entries copied so far.
    pub entries_done: u64,
    /// Entries to copy.
    pub entries_total: u64,
}

impl Database {
    /// Writes a consistent copy of the latest published version to directory `target`,
    /// which must not exist yet; see [`Database::backup_to_with_progress`].
    pub fn backup_to(&self, target: impl AsRef<Path>) -> Result<BackupReport> {
        self.backup_to_with_progress(target, |_| {})
    }

    /// [`Database::backup_to`], reporting progress every 10,000 entries. Readers and
    /// writers continue meanwhile; the snapshot being copied keeps its pages alive. The copy
    /// is encrypted with this database's key when it has one.
    pub fn backup_to_with_progress(
        &self,
        target: impl AsRef<Path>,
        progress: impl FnMut(&BackupProgress),
    ) -> Result<BackupReport> {
        let key = self.inner.options.encryption_key.clone();
        self.backup_to_keyed(target.as_ref(), key, progress)
    }

    /// Key rotation: [`Database::backup_to_with_progress`] with the copy encrypted under
    /// `key` (`None`: a plain copy). Open the copy with the new key, then replace the
    /// original with it; see `docs/security.md`.
    pub fn backup_to_with_key(
        &self,
        target: impl AsRef<Path>,
        key: Option<EncryptionKey>,
        progress: impl FnMut(&BackupProgress),
    ) -> Result<BackupReport> {
        self.backup_to_keyed(target.as_ref(), key, progress)
    }

    fn backup_to_keyed(
        &self,
        target: &Path,
        key: Option<EncryptionKey>,
        progress: impl FnMut(&BackupProgress),
    ) -> Result<BackupReport> {
        if target.exists() {
            return Err(Error::BackupTargetExists {
                path: target.to_path_buf(),
            });
        }
        let staged = folio_io::StagedDirectory::begin(target, PARTIAL_SUFFIX)?;
        let directory = Arc::new(folio_io::FsDirectory::open(staged.path())?);
        let mut report = self.backup_into_keyed(directory, key, progress)?;
        report.path = target.to_path_buf();
        staged.finish()?;
        Ok(report)
    }

    /// Writes a consistent copy of the latest published version into `directory` (a real or
    /// simulated one, holding no database yet), reporting progress every 10,000 entries.
    /// `BackupReport::path` is left empty.
    /// The copy is encrypted with this database's key when it has one.
    pub fn backup_into(
        &self,
        directory: Arc<dyn Directory>,
        progress: impl FnMut(&BackupProgress),
    ) -> Result<BackupReport> {
        let key = self.inner.options.encryption_key.clone();
        self.backup_into_keyed(directory, key, progress)
    }

    fn backup_into_keyed(
        &self,
        directory: Arc<dyn Directory>,
        key: Option<EncryptionKey>,
        progress: impl FnMut(&BackupProgress),
    ) -> Result<BackupReport> {
        self.copy_snapshot_into(&self.begin_read(), directory, key, progress)
    }

    /// Copies the snapshot `read` into `directory` (a new database there).
    pub(crate) fn copy_snapshot_into(
        &self,
        read: &crate::ReadTransaction,
        directory: Arc<dyn Directory>,
        key: Option<EncryptionKey>,
        mut progress: impl FnMut(&BackupProgress),
    ) -> Result<BackupReport> {
        /// Entries between two progress reports.
        const REPORT_EVERY: u64 = 10_000;
        if directory
            .list()?
            .iter()
            .any(|name| name == crate::DATA_FILE)
        {
            return Err(Error::BackupTargetExists {
                path: PathBuf::new(),
            });
        }
        let names = read.cf_names();
        let mut entries_total = 0;
        for name in &names {
            entries_total += read.len(name)?;
        }
        // Settings come with each column family (below), not from this open's options.
        let mut options = DatabaseOptions {
            checkpoint_interval: None,
            encryption_key: key,
            ..DatabaseOptions::default()
        };
        options.page_store.page_size = self.inner.store.page_size();
        let copy = Database::open_in(directory, options)?;
        let mut report = BackupReport {
            version: read.version(),
            column_families: names.len(),
            entries: 0,
            bytes: 0,
            path: PathBuf::new(),
        };
        for name in &names {
            copy.create_cf_with(name, read.cf_options(name)?)?;
            let mut load = copy.bulk_load(name)?;
            for entry in read.tree(name)?.iter() {
                let (key, value) = entry?;
                load.put(&key, &value)?;
                report.entries += 1;
                report.bytes += (key.len() + value.len()) as u64;
                if report.entries.is_multiple_of(REPORT_EVERY) {
                    progress(&BackupProgress {
                        entries_done: report.entries,
                        entries_total,
                    });
                }
            }
            load.finish()?;
        }
        copy.checkpoint()?;
        drop(copy);
        progress(&BackupProgress {
            entries_done: report.entries,
            entries_total,
        });
        Ok(report)
    }
}

/// The name a backup is built under beside its target, until it is complete.
const PARTIAL_SUFFIX: &str = ".folio-backup-partial";
