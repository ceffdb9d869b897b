//! The error type of the B-tree layer.

use folio_pagestore::PageId;

/// Errors of B-trees and the column-family catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The page store below failed (I/O, a page checksum, poisoning).
    #[error(transparent)]
    PageStore(#[from] folio_pagestore::Error),
    /// A page passed its checksum but its contents are not a valid node of this tree.
    #[error("page {page} is not a valid B-tree node: {reason}; run an integrity check")]
    CorruptNode {
        /// The page.
        page: PageId,
        /// What was wrong.
        reason: String,
    },
    /// A key is longer than [`crate::KEY_BYTES_MAX`].
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value is longer than [`crate::VALUE_BYTES_MAX`].
    #[error("value of {len} bytes exceeds the limit of {max} bytes")]
    ValueTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A column family with this name already exists.
    #[error("column family {name:?} already exists")]
    ColumnFamilyExists {
        /// The name.
        name: String,
    },
    /// No column family has this name.
    #[error("no column family named {name:?}; list them or create it first")]
    ColumnFamilyNotFound {
        /// The name.
        name: String,
    },
    /// An operation that rewrites a whole tree found changes not yet committed.
    #[error("the tree has uncommitted changes; commit or roll them back first")]
    UncommittedChanges,
    /// A column-family name is empty or too long.
    #[error("invalid column family name: {reason}")]
    InvalidName {
        /// Why.
        reason: String,
    },
}

/// Result alias of the B-tree layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupt(page: PageId, reason: impl Into<String>) -> Error {
    Error::CorruptNode {
        page,
        reason: reason.into(),
    }
}
