//! [`FolioLogStore`]: openraft's log storage (`RaftLogStorage`) on a folio database.
//!
//! Every change is one folio commit, so it is atomic: an append writes all its entries in
//! one transaction; `truncate` deletes every entry from an index on in one; `purge` records
//! the last purged log id and deletes the entries up to it in one. folio's log makes
//! commits durable in commit order, so these writes are durable in the order openraft
//! issues them, as its storage contract requires. A vote is durable before `save_vote`
//! returns; an append returns once its entries are readable and reports durability through
//! openraft's callback, from a spawned task woken by the group-commit round (no thread
//! waits for the sync).

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use folio::{Database, Durability};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    AsyncRuntime, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, RaftTypeConfig,
    StorageError, Vote,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::FolioTypes;
use crate::codec::{decode, encode};
use crate::errors::{Damaged, storage};
use crate::keys::{COMMITTED, LOG_CF, LOG_META_CF, PURGED, VOTE, index_key, key_index};

type Result<T, C> = std::result::Result<T, StorageError<<C as RaftTypeConfig>::NodeId>>;

/// The Raft log, vote and committed log id of one node, in column families `raft.log` and
/// `raft.log-meta` of a folio database (see [`crate::open`]). Cheap to clone: clones share
/// the database (a clone is the log reader openraft's replication tasks use).
pub struct FolioLogStore<C> {
    db: Database,
    types: PhantomData<fn() -> C>,
}

impl<C> Clone for FolioLogStore<C> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            types: PhantomData,
        }
    }
}

impl<C> Debug for FolioLogStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolioLogStore").finish_non_exhaustive()
    }
}

impl<C: FolioTypes> FolioLogStore<C> {
    pub(crate) fn new(db: Database) -> Self {
        Self {
            db,
            types: PhantomData,
        }
    }

    /// The database the log lives in.
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn read_meta<T: DeserializeOwned>(
        &self,
        key: &[u8],
        subject: &ErrorSubject<C::NodeId>,
    ) -> Result<Option<T>, C> {
        let value = self
            .db
            .begin_read()
            .get(LOG_META_CF, key)
            .map_err(|e| storage(subject.clone(), ErrorVerb::Read, &e))?;
        value
            .map(|bytes| decode(&bytes).map_err(|e| storage(subject.clone(), ErrorVerb::Read, &e)))
            .transpose()
    }

    /// Stores `value` under `key` of the metadata, durably or not.
    async fn write_meta<T: Serialize>(
        &self,
        key: &[u8],
        value: &T,
        subject: ErrorSubject<C::NodeId>,
        durability: Durability,
    ) -> Result<(), C> {
        let write_error =
            |e: &(dyn std::error::Error + 'static)| storage(subject.clone(), ErrorVerb::Write, e);
        let bytes = encode(value).map_err(|e| write_error(&e))?;
        let mut txn = self
            .db
            .begin_write_async(&[LOG_META_CF])
            .await
            .map_err(|e| write_error(&e))?;
        txn.put(LOG_META_CF, key, &bytes)
            .map_err(|e| write_error(&e))?;
        txn.commit_async_with(durability)
            .await
            .map_err(|e| write_error(&e))?;
        Ok(())
    }

    /// Deletes the entries whose keys `range` covers (one transaction, with `extra` applied
    /// first in the same one); returns once committed with `durability`.
    async fn delete_entries(
        &self,
        range: (Bound<[u8; 8]>, Bound<[u8; 8]>),
        extra: Option<(&[u8], Vec<u8>)>,
        durability: Durability,
    ) -> Result<(), C> {
        let write_error = |e: &folio::Error| storage(ErrorSubject::Logs, ErrorVerb::Write, e);
        let cfs: &[&str] = if extra.is_some() {
            &[LOG_CF, LOG_META_CF]
        } else {
            &[LOG_CF]
        };
        let mut txn = self
            .db
            .begin_write_async(cfs)
            .await
            .map_err(|e| write_error(&e))?;
        if let Some((key, value)) = extra {
            txn.put(LOG_META_CF, key, &value)
                .map_err(|e| write_error(&e))?;
        }
        let keys = {
            let view = txn.view(LOG_CF).map_err(|e| write_error(&e))?;
            view.range::<[u8; 8], _>(range)
                .map(|entry| entry.map(|(key, _)| key))
                .collect::<folio::Result<Vec<Vec<u8>>>>()
                .map_err(|e| write_error(&e))?
        };
        for key in keys {
            txn.delete(LOG_CF, &key).map_err(|e| write_error(&e))?;
        }
        txn.commit_async_with(durability)
            .await
            .map_err(|e| write_error(&e))?;
        Ok(())
    }
}

fn read_logs<NID: openraft::NodeId>(e: &(dyn std::error::Error + 'static)) -> StorageError<NID> {
    storage(ErrorSubject::Logs, ErrorVerb::Read, e)
}

impl<C: FolioTypes> RaftLogReader<C> for FolioLogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, C> {
        let start = match range.start_bound() {
            Bound::Included(&index) => index,
            Bound::Excluded(&index) => match index.checked_add(1) {
                Some(next) => next,
                None => return Ok(Vec::new()),
            },
            Bound::Unbounded => 0,
        };
        let read = self.db.begin_read();
        let tree = read.tree(LOG_CF).map_err(|e| read_logs(&e))?;
        let mut entries = Vec::new();
        for item in tree.range(index_key(start)..) {
            let (key, value) = item.map_err(|e| read_logs(&e))?;
            let index = key_index(&key)
                .ok_or_else(|| read_logs(&Damaged(format!("log key of {} bytes", key.len()))))?;
            if !range.contains(&index) {
                break;
            }
            entries.push(decode(&value).map_err(|e| read_logs(&e))?);
        }
        Ok(entries)
    }
}

impl<C: FolioTypes> RaftLogStorage<C> for FolioLogStore<C> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, C> {
        let last = self
            .db
            .begin_read()
            .tree(LOG_CF)
            .and_then(|tree| tree.last())
            .map_err(|e| read_logs(&e))?;
        let last_entry: Option<C::Entry> = last
            .map(|(_, bytes)| decode(&bytes).map_err(|e| read_logs(&e)))
            .transpose()?;
        let last_purged_log_id: Option<LogId<C::NodeId>> =
            self.read_meta(PURGED, &ErrorSubject::Logs)?;
        let last_log_id = last_entry
            .map(|entry| entry.log_id)
            .or_else(|| last_purged_log_id.clone());
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), C> {
        // Durable before it returns: a node must never forget whom it voted for.
        self.write_meta(VOTE, vote, ErrorSubject::Vote, Durability::Immediate)
            .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, C> {
        self.read_meta(VOTE, &ErrorSubject::Vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<C::NodeId>>) -> Result<(), C> {
        // Not needed for safety (openraft re-learns it), so not waited for.
        self.write_meta(
            COMMITTED,
            &committed,
            ErrorSubject::Store,
            Durability::Eventual,
        )
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<C::NodeId>>, C> {
        Ok(self
            .read_meta::<Option<LogId<C::NodeId>>>(COMMITTED, &ErrorSubject::Store)?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<C>) -> Result<(), C>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let write_error = |e: &(dyn std::error::Error + 'static)| {
            storage(ErrorSubject::Logs, ErrorVerb::Write, e)
        };
        let encoded = entries
            .into_iter()
            .map(|entry| Ok((entry.log_id.index, encode(&entry)?)))
            .collect::<std::result::Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| write_error(&e))?;
        let mut txn = self
            .db
            .begin_write_async(&[LOG_CF])
            .await
            .map_err(|e| write_error(&e))?;
        for (index, bytes) in &encoded {
            txn.put(LOG_CF, &index_key(*index), bytes)
                .map_err(|e| write_error(&e))?;
        }
        // Readable once this returns (published); durable when the group-commit round that
        // covers it ends, which the spawned task reports to openraft.
        let lsn = txn
            .commit_async_with(Durability::Eventual)
            .await
            .map_err(|e| write_error(&e))?;
        let durable = self.db.durable(lsn);
        drop(C::AsyncRuntime::spawn(async move {
            callback.log_io_completed(durable.await.map_err(std::io::Error::other));
        }));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), C> {
        let from = Bound::Included(index_key(log_id.index));
        self.delete_entries((from, Bound::Unbounded), None, Durability::Immediate)
            .await
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), C> {
        // The purged id and the deletion commit together: a reader never sees a log that
        // starts later than the purged id says (no hole).
        let purged =
            encode(&log_id).map_err(|e| storage(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
        let through = Bound::Included(index_key(log_id.index));
        self.delete_entries(
            (Bound::Unbounded, through),
            Some((PURGED, purged)),
            Durability::Eventual,
        )
        .await
    }
}
