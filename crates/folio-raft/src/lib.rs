//! # folio-raft: folio as openraft's storage
//!
//! [openraft](https://docs.rs/openraft) replicates a log across machines; this crate stores
//! everything a node keeps in **one folio database**: the log ([`FolioLogStore`],
//! openraft's `RaftLogStorage`) and the state machine ([`FolioStateMachine`], its
//! `RaftStateMachine`), whose data are your own column families, changed by your
//! [`Apply`] implementation inside folio write transactions. It is a separate crate so that
//! folio itself never depends on openraft.
//!
//! | what | where | written |
//! |---|---|---|
//! | log entries | `raft.log`, key = index (big-endian) | one commit per append; durable before openraft is told |
//! | vote | `raft.log-meta` `vote` | durable before `save_vote` returns |
//! | last purged / committed log id | `raft.log-meta` | with the purge / not waited for |
//! | last applied log id, membership | `raft.state` | in the same transaction as the applied data |
//! | current snapshot | `raft.snapshot` | built from one read snapshot; installed atomically |
//!
//! ```
//! use folio::{Database, WriteTransaction};
//! use folio_raft::Apply;
//! use openraft::{BasicNode, Entry};
//! use std::io::Cursor;
//!
//! openraft::declare_raft_types!(
//!     pub Types:
//!         D = (String, String),
//!         R = (),
//!         NodeId = u64,
//!         Node = BasicNode,
//!         Entry = Entry<Types>,
//!         SnapshotData = Cursor<Vec<u8>>,
//! );
//!
//! /// Puts each request's key and value into column family `kv`.
//! struct Kv;
//!
//! impl Apply<Types> for Kv {
//!     fn column_families(&self) -> Vec<String> {
//!         vec!["kv".into()]
//!     }
//!     fn apply(&self, txn: &mut WriteTransaction, (key, value): &(String, String)) -> folio::Result<()> {
//!         txn.put("kv", key.as_bytes(), value.as_bytes())
//!     }
//!     fn response_without_request(&self) {}
//! }
//!
//! # fn main() -> folio::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(dir.path())?;
//! let (log_store, state_machine) = folio_raft::open::<Types, _>(&db, Kv)?;
//! // Hand both to `openraft::Raft::new(id, config, network, log_store, state_machine)`.
//! # drop((log_store, state_machine));
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/replication.md` for the mapping, the durability of each write, snapshots, and
//! the three-node example (`cargo run -p folio-raft --example replicated_kv`).

#![forbid(unsafe_code)]
// openraft's trait methods return its `StorageError` (~190 bytes); the helpers that build it
// return it too, so boxing it here would only add a conversion at every trait boundary.
#![allow(clippy::result_large_err)]

mod codec;
mod errors;
mod keys;
mod log_store;
mod snapshot_image;
mod state_machine;

use std::io::Cursor;

use folio::Database;
use openraft::RaftTypeConfig;

pub use keys::{LOG_CF, LOG_META_CF, SNAPSHOT_CF, STATE_CF, index_key};
pub use log_store::FolioLogStore;
pub use state_machine::{Apply, FolioSnapshotBuilder, FolioStateMachine};

/// The openraft type configurations this crate stores: entries are openraft's own
/// [`openraft::Entry`] and snapshots are bytes in memory (`Cursor<Vec<u8>>`). Implemented
/// for every such configuration.
pub trait FolioTypes:
    RaftTypeConfig<Entry = openraft::Entry<Self>, SnapshotData = Cursor<Vec<u8>>>
{
}

impl<C> FolioTypes for C where
    C: RaftTypeConfig<Entry = openraft::Entry<C>, SnapshotData = Cursor<Vec<u8>>>
{
}

/// The log store and state machine of one node in `db`, creating their column families
/// (and the application's, [`Apply::column_families`]) if missing. Pass both to
/// `openraft::Raft::new`. The application's column families must not be any of this
/// crate's own (`raft.*`).
pub fn open<C: FolioTypes, A: Apply<C>>(
    db: &Database,
    app: A,
) -> folio::Result<(FolioLogStore<C>, FolioStateMachine<C, A>)> {
    let cfs = app.column_families();
    if let Some(clash) = cfs.iter().find(|cf| keys::is_raft_cf(cf)) {
        return Err(folio::Error::InvalidOption {
            name: "Apply::column_families",
            reason: format!("{clash:?} is folio-raft's own column family"),
        });
    }
    for cf in [LOG_CF, LOG_META_CF, STATE_CF, SNAPSHOT_CF]
        .into_iter()
        .chain(cfs.iter().map(String::as_str))
    {
        db.create_cf_if_missing(cf)?;
    }
    Ok((
        FolioLogStore::new(db.clone()),
        FolioStateMachine::new(db.clone(), app, cfs),
    ))
}
