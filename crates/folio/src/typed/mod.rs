//! Typed tables: a column family seen as a map from `K` to `V`, with the encoding of both
//! chosen by their types (in the spirit of redb's `TableDefinition` and heed's codecs).
//!
//! Keys are encoded so that their byte order is their natural order: integers big-endian
//! (signed ones with the sign bit flipped, so negatives sort first), strings and byte
//! vectors as they are, tuples field by field with a self-delimiting encoding for all but
//! the last field (see [`Key`]). So ranges over typed keys are ranges over the stored bytes,
//! and a column family written with `Table<(u32, String), u64>` sorts by the `u32` first.
//!
//! ```
//! # fn main() -> folio::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! use folio::TableDefinition;
//!
//! const SCORES: TableDefinition<(String, i32), u64> = TableDefinition::new("scores");
//!
//! let db = folio::Database::open(dir.path())?;
//! db.create_cf(SCORES.name())?;
//! let mut txn = db.begin_write(&[SCORES.name()])?;
//! {
//!     let mut scores = txn.table(SCORES)?;
//!     scores.insert(&("alice".to_owned(), -3), &10)?;
//!     scores.insert(&("alice".to_owned(), 7), &20)?;
//!     scores.insert(&("bob".to_owned(), 1), &30)?;
//! }
//! txn.commit()?;
//!
//! let read = db.begin_read();
//! let scores = read.table(SCORES)?;
//! assert_eq!(scores.get(&("alice", 7))?, Some(20)); // borrowed parts will do
//! assert_eq!(scores.get(&("alice".to_owned(), 7))?, Some(20));
//! let alice: Vec<i32> = scores
//!     .range(("alice".to_owned(), i32::MIN)..("alice".to_owned(), i32::MAX))
//!     .map(|entry| entry.map(|((_, round), _)| round))
//!     .collect::<folio::Result<_>>()?;
//! assert_eq!(alice, vec![-3, 7]); // -3 sorts before 7
//! // The same, by the first field alone (any tuple key), and from the other end:
//! let newest_first: Vec<i32> = scores
//!     .prefix_rev("alice")
//!     .map(|entry| entry.map(|((_, round), _)| round))
//!     .collect::<folio::Result<_>>()?;
//! assert_eq!(newest_first, vec![7, -3]);
//! # Ok(())
//! # }
//! ```

mod key;
#[cfg(feature = "serde")]
mod serde_value;
mod shared;
mod table;
mod value;

pub use key::{CompositeKey, EncodeKey, Key, LookupKey};
#[cfg(feature = "serde")]
pub use serde_value::Serde;
pub use shared::Tables;
pub use table::{ReadTable, TableDefinition, TypedRange, WriteTable};
pub use value::{EncodeValue, Value};

/// Stored bytes that a key or value type cannot decode (or a value serde cannot encode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{type_name}: {what}")]
pub struct CodecError {
    type_name: &'static str,
    what: &'static str,
}

impl CodecError {
    /// An error of `type_name`'s encoding, saying `what` was wrong.
    pub fn new(type_name: &'static str, what: &'static str) -> Self {
        Self { type_name, what }
    }
}
