//! Turning folio and codec errors into openraft's [`StorageError`], with the subject and
//! verb openraft reports.

use openraft::{AnyError, ErrorSubject, ErrorVerb, NodeId, StorageError, StorageIOError};

/// `error` while doing `verb` on `subject` (its source chain kept).
pub(crate) fn storage<NID: NodeId>(
    subject: ErrorSubject<NID>,
    verb: ErrorVerb,
    error: &(dyn std::error::Error + 'static),
) -> StorageError<NID> {
    StorageIOError::new(subject, verb, AnyError::from_dyn(error, None)).into()
}

/// A plain-text error (a damaged record that does not decode).
#[derive(Debug)]
pub(crate) struct Damaged(pub(crate) String);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damaged {}
