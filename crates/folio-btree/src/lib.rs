//! # folio-btree: copy-on-write B+trees and column families
//!
//! Ordered maps from byte-string keys to byte-string values (bytewise order), stored as
//! copy-on-write B+trees in a [`folio_pagestore::PageStore`]:
//!
//! - [`BTree`]: a read-only view at a root, shared by many threads: `get`, ranges with any
//!   `RangeBounds` ascending ([`BTree::range`]) and descending ([`BTree::range_rev`]), prefix
//!   scans, first/last, count. Inline values are returned without copying ([`Value`]).
//! - [`BTreeMut`]: a tree inside a write transaction, owning its owner's
//!   [`folio_pagestore::PageWriter`]: `insert` (returning the old value), `put`, `remove`,
//!   `commit(version)`, `rollback`. Pages first touched by a transaction are copied once and
//!   then edited in place until it commits; appending sorted keys fills pages completely.
//! - Keys up to 16 MiB and values up to 4 GiB - 1: what does not fit inline goes to overflow
//!   pages.
//! - Values compressed one by one when a tree is given a [`Compression`] (LZ4 or zstd),
//!   flagged in their leaf entries so reads need no setting.
//! - [`Catalog`]: column families by name (create, drop, rename, list), itself a B-tree, so
//!   any number fits. Dropping a column family frees its pages.
//! - [`check_tree`]: order, fill, checksums, reachability; [`check_not_free`] against the
//!   page store's free list.
//!
//! ```
//! use std::sync::Arc;
//! use folio_io::MemoryStorage;
//! use folio_pagestore::{PageStore, PageStoreOptions};
//! use folio_btree::{BTree, BTreeMut, Catalog};
//!
//! # fn main() -> folio_btree::Result<()> {
//! let store = PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default())?;
//! let mut catalog = Catalog::open(store.writer(), None)?;
//! catalog.create("users")?;
//!
//! let mut users = BTreeMut::new(store.writer(), None, 0);
//! users.insert(b"alice", b"1")?;
//! users.insert(b"bob", b"2")?;
//! assert_eq!(users.insert(b"alice", b"3")?, Some(b"1".to_vec()));
//! users.commit(1);
//! catalog.update("users", users.root(), users.len())?;
//! catalog.commit(1);
//!
//! let snapshot = BTree::new(store.clone(), users.root()); // committed: shareable
//! let names: Vec<Vec<u8>> = snapshot.iter_rev().map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(names, vec![b"bob".to_vec(), b"alice".to_vec()]);
//! assert_eq!(&*snapshot.get(b"alice")?.unwrap(), b"3");
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/btree.md` for the page layout, overflow, split/merge rules and the
//! copy-on-write and reclamation invariants.

#![forbid(unsafe_code)]

mod catalog;
mod compression;
mod error;
mod integrity;
mod iter;
mod node;
mod overflow;
mod pages;
mod search;
mod tree;
mod tree_mut;
mod value;

pub use catalog::{CF_NAME_BYTES_MAX, Catalog, CfState};
pub use compression::Compression;
pub use error::{Error, Result};
pub use integrity::{IntegrityReport, check_not_free, check_tree};
pub use iter::{Cursor, OwnedBounds, Range, bounds_contain, bounds_nonempty, owned_bounds};
pub use node::{KEY_BYTES_MAX, VALUE_BYTES_MAX};
pub use tree::{BTree, prefix_bounds};
pub use tree_mut::check_entry_sizes;
pub use tree_mut::{BTreeMut, OrderHint, SpillPolicy, TreeSavepoint};
pub use value::Value;
