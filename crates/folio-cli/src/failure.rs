//! [`Failure`]: one error line and the exit code documented in `--help`.

use std::fmt;
use std::path::Path;

/// Why a command failed.
#[derive(Debug)]
pub struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// Exit code 1: an error.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }

    /// Exit code 3: something named does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 3,
        }
    }

    /// A folio error about `path` by its kind: exit code 3 when something named does not
    /// exist (a backup chain, a subscriber, a file), else 1.
    pub fn of_kind(path: &Path, error: &folio::Error) -> Self {
        let message = format!("{}: {error}", path.display());
        if error.kind() == folio::ErrorKind::NotFound {
            Self::not_found(message)
        } else {
            Self::error(message)
        }
    }

    /// Exit code 5: the integrity check found problems.
    pub fn problems(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 5,
        }
    }

    /// A database error on `db`, classified (in use, not folio's, not found, ...).
    pub fn database(db: &Path, error: &folio::Error) -> Self {
        let path = db.display();
        match error {
            folio::Error::Storage(folio_io::Error::AlreadyOpen { .. })
            | folio::Error::PageStore(folio_pagestore::Error::Storage(
                folio_io::Error::AlreadyOpen { .. },
            )) => Self {
                message: format!(
                    "{path}: the database is in use by another process; close it there first"
                ),
                code: 4,
            },
            folio::Error::PageStore(
                inner @ (folio_pagestore::Error::NotAFolioFile
                | folio_pagestore::Error::CorruptHeader { .. }
                | folio_pagestore::Error::Truncated { .. }),
            ) => Self::error(format!(
                "{path}: not a folio database, or its header is damaged ({inner}); check the path, or restore a backup"
            )),
            folio::Error::ColumnFamilyNotFound { name } => Self::not_found(format!(
                "{path}: no column family {name:?}; list them with `folio cf list {path}`"
            )),
            other => Self::of_kind(db, other),
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;
