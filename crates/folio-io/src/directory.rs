//! [`Directory`]: a set of named files on one device (the WAL's segments), and
//! [`FsDirectory`], the real one.

use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, FileStorage, Operation, Result, Storage};

/// Named files on one device. Creating and removing a file is durable when the call returns
/// (the real directory is synced), so a crash never resurrects a removed file or loses a
/// created one.
pub trait Directory: Send + Sync + Debug {
    /// Opens file `name`, creating it (empty) when `create` is true and it does not exist.
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn Storage>>;

    /// Removes file `name` (no error if it does not exist).
    fn remove(&self, name: &str) -> Result<()>;

    /// Renames `from` to `to` atomically, replacing `to` if it exists; durable on return.
    /// Creating a file under a temporary name and renaming it makes its creation atomic.
    fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// The names of all files, sorted (not the subdirectories).
    fn list(&self) -> Result<Vec<String>>;

    /// The directory `name` inside this one, created (durably, like a file) if missing.
    fn subdirectory(&self, name: &str) -> Result<Arc<dyn Directory>>;

    /// The names of the subdirectories, sorted.
    fn list_subdirectories(&self) -> Result<Vec<String>>;

    /// Removes subdirectory `name` and everything in it (no error if it does not exist);
    /// durable on return.
    fn remove_subdirectory(&self, name: &str) -> Result<()>;

    /// Opens file `name` when it exists; `None` when it does not (nothing is created).
    fn open_if_exists(&self, name: &str) -> Result<Option<Arc<dyn Storage>>> {
        match self.open(name, false) {
            Ok(file) => Ok(Some(file)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The whole contents of file `name`; `None` when it does not exist.
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(file) = self.open_if_exists(name)? else {
            return Ok(None);
        };
        let len = usize::try_from(file.len()?).map_err(|_| Error::Io {
            op: Operation::Read,
            path: Some(name.into()),
            source: std::io::Error::other("the file is larger than this machine's memory"),
        })?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, 0)?;
        Ok(Some(bytes))
    }

    /// Replaces file `name` with `bytes` atomically and durably: written and synced as
    /// `temporary`, then renamed over `name`, so a crash leaves the old contents or the new
    /// ones (and possibly `temporary`, for the caller to remove).
    fn replace_file(&self, name: &str, temporary: &str, bytes: &[u8]) -> Result<()> {
        let file = self.open(temporary, true)?;
        file.set_len(0)?;
        file.write_all_at(bytes, 0)?;
        file.sync_data()?;
        drop(file);
        self.rename(temporary, name)
    }
}

/// A shared directory is a directory (a wrapper's type parameter can be one).
impl<D: Directory + ?Sized> Directory for Arc<D> {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn Storage>> {
        (**self).open(name, create)
    }

    fn remove(&self, name: &str) -> Result<()> {
        (**self).remove(name)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        (**self).rename(from, to)
    }

    fn list(&self) -> Result<Vec<String>> {
        (**self).list()
    }

    fn subdirectory(&self, name: &str) -> Result<Arc<dyn Directory>> {
        (**self).subdirectory(name)
    }

    fn list_subdirectories(&self) -> Result<Vec<String>> {
        (**self).list_subdirectories()
    }

    fn remove_subdirectory(&self, name: &str) -> Result<()> {
        (**self).remove_subdirectory(name)
    }
}

/// A directory on the real file system; files are [`FileStorage`]s (each locked on open).
#[derive(Debug, Clone)]
pub struct FsDirectory {
    path: PathBuf,
    /// Options for every file opened (`create` is set per call).
    file_options: crate::FileOptions,
}

impl FsDirectory {
    /// Opens (creating it and its parents if needed) the directory at `path`;
    /// [`Error::NotADirectory`] when something else is there.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, crate::FileOptions::default())
    }

    /// [`FsDirectory::open`], opening its files with `file_options` (descriptor pool size,
    /// read-only; `create` is decided per file).
    pub fn open_with(path: impl AsRef<Path>, file_options: crate::FileOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if path.exists() && !path.is_dir() {
            return Err(Error::NotADirectory { path });
        }
        // The directories about to be made, deepest first: each one's entry lives in its
        // parent, which must be synced for a new directory to survive a power cut.
        let missing: Vec<PathBuf> = path
            .ancestors()
            .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        fs::create_dir_all(&path).map_err(|source| Error::Io {
            op: Operation::Open,
            path: Some(path.clone()),
            source,
        })?;
        for made in missing.iter().rev() {
            if let Some(parent) = made.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_directory(parent)?;
            }
        }
        Ok(Self { path, file_options })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the directory itself, making created and removed entries durable.
    fn sync(&self) -> Result<()> {
        sync_directory(&self.path)
    }

    /// After removing `path` (`removed`): syncs the directory so the removal is durable;
    /// nothing to remove is no error.
    fn synced_removal(&self, path: PathBuf, removed: std::io::Result<()>) -> Result<()> {
        match removed {
            Ok(()) => self.sync(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io {
                op: Operation::SetLen,
                path: Some(path),
                source,
            }),
        }
    }

    /// The names of the files (or, with `directories`, of the subdirectories), sorted.
    fn entries(&self, directories: bool) -> Result<Vec<String>> {
        let error = |source| Error::Io {
            op: Operation::Open,
            path: Some(self.path.clone()),
            source,
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.path).map_err(error)? {
            let entry = entry.map_err(error)?;
            let kind = entry.file_type().map_err(error)?;
            let wanted = if directories {
                kind.is_dir()
            } else {
                kind.is_file()
            };
            if wanted && let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Syncs directory `path`, making the entries created and removed in it durable.
pub(crate) fn sync_directory(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| Error::Io {
            op: Operation::Sync,
            path: Some(path.to_path_buf()),
            source,
        })
}

impl Directory for FsDirectory {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn Storage>> {
        let path = self.path.join(name);
        let existed = path.exists();
        let options = crate::FileOptions {
            create,
            ..self.file_options.clone()
        };
        let file = FileStorage::open_with(&path, &options)?;
        if !existed {
            self.sync()?;
        }
        Ok(Arc::new(file))
    }

    fn remove(&self, name: &str) -> Result<()> {
        let path = self.path.join(name);
        let removed = fs::remove_file(&path);
        self.synced_removal(path, removed)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        fs::rename(self.path.join(from), self.path.join(to)).map_err(|source| Error::Io {
            op: Operation::Open,
            path: Some(self.path.join(from)),
            source,
        })?;
        self.sync()
    }

    fn list(&self) -> Result<Vec<String>> {
        self.entries(false)
    }

    fn subdirectory(&self, name: &str) -> Result<Arc<dyn Directory>> {
        let path = self.path.join(name);
        match fs::create_dir(&path) {
            Ok(()) => self.sync()?,
            // Made already (by an earlier call, or a racing one).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(source) => {
                return Err(Error::Io {
                    op: Operation::Open,
                    path: Some(path),
                    source,
                });
            }
        }
        Ok(Arc::new(Self {
            path,
            file_options: self.file_options.clone(),
        }))
    }

    fn list_subdirectories(&self) -> Result<Vec<String>> {
        self.entries(true)
    }

    fn remove_subdirectory(&self, name: &str) -> Result<()> {
        let path = self.path.join(name);
        let removed = fs::remove_dir_all(&path);
        self.synced_removal(path, removed)
    }
}
