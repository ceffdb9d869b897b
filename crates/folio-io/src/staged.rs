//! [`StagedDirectory`]: a directory built under a temporary name beside its target and
//! renamed to the target only once complete, so neither a crash nor a failure leaves a
//! half-made directory under the target's name (backups, the CLI's `load`).

use std::path::{Path, PathBuf};

use crate::directory::sync_directory;
use crate::{Error, Operation, Result};

/// A directory being built beside `target`; [`StagedDirectory::finish`] moves it into place.
/// Dropped unfinished, it removes what was built.
#[derive(Debug)]
pub struct StagedDirectory {
    staging: PathBuf,
    target: PathBuf,
    finished: bool,
}

impl StagedDirectory {
    /// Starts building `target` in `<target's name><suffix>` beside it. A staging directory
    /// left by an earlier attempt that crashed is removed first: it was never complete.
    pub fn begin(target: &Path, suffix: &str) -> Result<Self> {
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        let staging = target.with_file_name(name);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|source| io_error(&staging, source))?;
        }
        Ok(Self {
            staging,
            target: target.to_path_buf(),
            finished: false,
        })
    }

    /// Where to build (it does not exist yet).
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Renames the staging directory to the target (which must not exist, or be an empty
    /// directory) and syncs their parent: the target is durable on return.
    pub fn finish(mut self) -> Result<()> {
        std::fs::rename(&self.staging, &self.target)
            .map_err(|source| io_error(&self.target, source))?;
        self.finished = true;
        match self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => sync_directory(parent),
            None => sync_directory(Path::new(".")),
        }
    }
}

impl Drop for StagedDirectory {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: a leftover is removed by the next `begin` for the same target.
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        op: Operation::Open,
        path: Some(path.to_path_buf()),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_moves_into_place_and_unfinished_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("db");
        // A crashed attempt's leftovers are cleared by the next begin.
        std::fs::create_dir_all(dir.path().join("db.staging/junk")).unwrap();
        let staged = StagedDirectory::begin(&target, ".staging").unwrap();
        assert!(!staged.path().exists());
        std::fs::create_dir(staged.path()).unwrap();
        std::fs::write(staged.path().join("f"), b"x").unwrap();
        staged.finish().unwrap();
        assert_eq!(std::fs::read(target.join("f")).unwrap(), b"x");

        let other = dir.path().join("other");
        let staged = StagedDirectory::begin(&other, ".staging").unwrap();
        std::fs::create_dir(staged.path()).unwrap();
        drop(staged);
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["db"]);
    }
}
