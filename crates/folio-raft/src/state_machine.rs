//! [`FolioStateMachine`]: openraft's state machine (`RaftStateMachine`) on a folio database,
//! applying entries to the application's own column families through [`Apply`].
//!
//! A batch of entries is applied in **one** write transaction over the application's column
//! families and `raft.state`, which records the last applied log id and the membership: the
//! data and the position it corresponds to commit together, so after a crash they agree and
//! openraft re-applies exactly what is missing from its log. Snapshots are built from one
//! folio snapshot (a read transaction: consistent across column families while writes go
//! on) and installed in one transaction that replaces the application's column families,
//! the applied position and the stored snapshot together.

use std::fmt::Debug;
use std::io::Cursor;
use std::marker::PhantomData;
use std::sync::Arc;

use folio::{Database, Durability, ReadTransaction, WriteTransaction};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder, RaftTypeConfig,
    SnapshotMeta, StorageError, StoredMembership,
};

use crate::FolioTypes;
use crate::codec::{decode, encode};
use crate::errors::{Damaged, storage};
use crate::keys::{APPLIED, MEMBERSHIP, SNAPSHOT_CF, SNAPSHOT_DATA, SNAPSHOT_META, STATE_CF};
use crate::snapshot_image;

type Result<T, C> = std::result::Result<T, StorageError<<C as RaftTypeConfig>::NodeId>>;

/// The last applied log id and the membership (what `applied_state` returns).
type Applied<C> = (
    Option<LogId<<C as RaftTypeConfig>::NodeId>>,
    StoredMembership<<C as RaftTypeConfig>::NodeId, <C as RaftTypeConfig>::Node>,
);

/// The application's part of the state machine: what a request does to the database.
///
/// `apply` must be deterministic (every node applies the same entries in the same order and
/// must end in the same state) and must write only the column families it declares.
pub trait Apply<C: RaftTypeConfig>: Send + Sync + 'static {
    /// The column families the application's state lives in (created if missing). Applying,
    /// snapshots and their installation cover exactly these.
    fn column_families(&self) -> Vec<String>;

    /// Applies `request` inside the batch's transaction and returns the response for the
    /// client. An `Err` is an I/O failure: it stops the node (openraft treats storage errors
    /// as fatal); application-level failures belong in the response.
    fn apply(&self, txn: &mut WriteTransaction, request: &C::D) -> folio::Result<C::R>;

    /// The response for an entry that carries no request (a blank or membership entry).
    fn response_without_request(&self) -> C::R;
}

/// The state machine of one node: the application's column families plus `raft.state` and
/// `raft.snapshot` (see [`crate::open`]).
pub struct FolioStateMachine<C, A> {
    db: Database,
    app: Arc<A>,
    cfs: Arc<[String]>,
    types: PhantomData<fn() -> C>,
}

impl<C, A> Debug for FolioStateMachine<C, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolioStateMachine")
            .field("column_families", &self.cfs)
            .finish_non_exhaustive()
    }
}

/// Builds snapshots from a folio snapshot (openraft runs it apart from the state machine).
pub struct FolioSnapshotBuilder<C> {
    db: Database,
    cfs: Arc<[String]>,
    types: PhantomData<fn() -> C>,
}

impl<C> Debug for FolioSnapshotBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolioSnapshotBuilder")
            .field("column_families", &self.cfs)
            .finish_non_exhaustive()
    }
}

fn sm_error<NID: openraft::NodeId>(
    verb: ErrorVerb,
    e: &(dyn std::error::Error + 'static),
) -> StorageError<NID> {
    storage(ErrorSubject::StateMachine, verb, e)
}

fn snapshot_error<NID: openraft::NodeId>(
    meta: Option<&SnapshotMeta<NID, impl openraft::Node>>,
    verb: ErrorVerb,
    e: &(dyn std::error::Error + 'static),
) -> StorageError<NID> {
    let subject = ErrorSubject::Snapshot(meta.map(SnapshotMeta::signature));
    storage(subject, verb, e)
}

/// The applied position and membership `read` sees.
fn applied_state<C: FolioTypes>(read: &ReadTransaction) -> Result<Applied<C>, C> {
    let read_error =
        |e: &(dyn std::error::Error + 'static)| sm_error::<C::NodeId>(ErrorVerb::Read, e);
    let applied = match read.get(STATE_CF, APPLIED).map_err(|e| read_error(&e))? {
        Some(bytes) => decode(&bytes).map_err(|e| read_error(&e))?,
        None => None,
    };
    let membership = match read.get(STATE_CF, MEMBERSHIP).map_err(|e| read_error(&e))? {
        Some(bytes) => decode(&bytes).map_err(|e| read_error(&e))?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

impl<C: FolioTypes, A: Apply<C>> FolioStateMachine<C, A> {
    pub(crate) fn new(db: Database, app: A, cfs: Vec<String>) -> Self {
        Self {
            db,
            app: Arc::new(app),
            cfs: cfs.into(),
            types: PhantomData,
        }
    }

    /// The database the state lives in (read the application's column families from it).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// `raft.state` and the application's column families: what one apply writes.
    fn applied_cfs(&self, with_snapshot: bool) -> Vec<String> {
        let mut names = vec![STATE_CF.to_owned()];
        if with_snapshot {
            names.push(SNAPSHOT_CF.to_owned());
        }
        names.extend(self.cfs.iter().cloned());
        names
    }
}

impl<C: FolioTypes> RaftSnapshotBuilder<C> for FolioSnapshotBuilder<C> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<C>, C> {
        let read = self.db.begin_read();
        // Everything the snapshot holds must be durable before openraft purges the log
        // entries it replaces: applies commit without waiting for the sync.
        self.db.flush_async().await.map_err(|e| {
            snapshot_error::<C::NodeId>(
                None::<&SnapshotMeta<C::NodeId, C::Node>>,
                ErrorVerb::Write,
                &e,
            )
        })?;
        let (last_log_id, last_membership) = applied_state::<C>(&read)?;
        let data = snapshot_image::encode(&read, &self.cfs)
            .map_err(|e| sm_error::<C::NodeId>(ErrorVerb::Read, &e))?;
        let snapshot_id = match &last_log_id {
            Some(id) => format!("{id}-v{}", read.version()),
            None => format!("empty-v{}", read.version()),
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        drop(read);
        save_snapshot::<C>(&self.db, &meta, &data, None).await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

/// Stores `meta` and `data` as the current snapshot, in `txn` when given (an install) or in
/// a transaction of its own (a build).
async fn save_snapshot<C: FolioTypes>(
    db: &Database,
    meta: &SnapshotMeta<C::NodeId, C::Node>,
    data: &[u8],
    txn: Option<&mut WriteTransaction>,
) -> Result<(), C> {
    let write_error =
        |e: &(dyn std::error::Error + 'static)| snapshot_error(Some(meta), ErrorVerb::Write, e);
    let meta_bytes = encode(meta).map_err(|e| write_error(&e))?;
    let put = |txn: &mut WriteTransaction| -> folio::Result<()> {
        txn.put(SNAPSHOT_CF, SNAPSHOT_META, &meta_bytes)?;
        txn.put(SNAPSHOT_CF, SNAPSHOT_DATA, data)
    };
    if let Some(txn) = txn {
        return put(txn).map_err(|e| write_error(&e));
    }
    let mut txn = db
        .begin_write_async(&[SNAPSHOT_CF])
        .await
        .map_err(|e| write_error(&e))?;
    put(&mut txn).map_err(|e| write_error(&e))?;
    txn.commit_async_with(Durability::Immediate)
        .await
        .map_err(|e| write_error(&e))?;
    Ok(())
}

impl<C: FolioTypes, A: Apply<C>> RaftStateMachine<C> for FolioStateMachine<C, A> {
    type SnapshotBuilder = FolioSnapshotBuilder<C>;

    async fn applied_state(&mut self) -> Result<Applied<C>, C> {
        applied_state::<C>(&self.db.begin_read())
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<C::R>, C>
    where
        I: IntoIterator<Item = C::Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        let Some(last) = entries.last().map(|entry| entry.log_id.clone()) else {
            return Ok(Vec::new());
        };
        let write_error =
            |e: &(dyn std::error::Error + 'static)| sm_error::<C::NodeId>(ErrorVerb::Write, e);
        let mut txn = self
            .db
            .begin_write_async(&self.applied_cfs(false))
            .await
            .map_err(|e| write_error(&e))?;
        let mut responses = Vec::with_capacity(entries.len());
        let mut membership = None;
        for entry in &entries {
            match &entry.payload {
                EntryPayload::Blank => responses.push(self.app.response_without_request()),
                EntryPayload::Normal(request) => {
                    let response = self.app.apply(&mut txn, request).map_err(|e| {
                        storage(
                            ErrorSubject::Apply(entry.log_id.clone()),
                            ErrorVerb::Write,
                            &e,
                        )
                    })?;
                    responses.push(response);
                }
                EntryPayload::Membership(config) => {
                    membership = Some(StoredMembership::new(
                        Some(entry.log_id.clone()),
                        config.clone(),
                    ));
                    responses.push(self.app.response_without_request());
                }
            }
        }
        let applied = encode(&Some(last)).map_err(|e| write_error(&e))?;
        txn.put(STATE_CF, APPLIED, &applied)
            .map_err(|e| write_error(&e))?;
        if let Some(membership) = membership {
            let bytes = encode(&membership).map_err(|e| write_error(&e))?;
            txn.put(STATE_CF, MEMBERSHIP, &bytes)
                .map_err(|e| write_error(&e))?;
        }
        // Not waited for: the log holds the entries; after a crash openraft re-applies from
        // the applied position, which commits atomically with the data it describes.
        txn.commit_async_with(Durability::Eventual)
            .await
            .map_err(|e| write_error(&e))?;
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        FolioSnapshotBuilder {
            db: self.db.clone(),
            cfs: Arc::clone(&self.cfs),
            types: PhantomData,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, C> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<C::NodeId, C::Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), C> {
        let data = snapshot.into_inner();
        let bad =
            |e: &(dyn std::error::Error + 'static)| snapshot_error(Some(meta), ErrorVerb::Read, e);
        // Checked in full before anything changes.
        let image = snapshot_image::decode(&data).map_err(|e| bad(&Damaged(e)))?;
        for (cf, _) in &image {
            if !self.cfs.contains(cf) {
                return Err(bad(&Damaged(format!(
                    "the snapshot holds column family {cf:?}, which this state machine does not declare"
                ))));
            }
        }
        let write_error =
            |e: &(dyn std::error::Error + 'static)| snapshot_error(Some(meta), ErrorVerb::Write, e);
        let mut txn = self
            .db
            .begin_write_async(&self.applied_cfs(true))
            .await
            .map_err(|e| write_error(&e))?;
        let replace = |txn: &mut WriteTransaction| -> folio::Result<()> {
            for cf in self.cfs.iter() {
                let keys = txn
                    .view(cf.as_str())?
                    .iter()
                    .map(|entry| entry.map(|(key, _)| key))
                    .collect::<folio::Result<Vec<_>>>()?;
                for key in keys {
                    txn.delete(cf.as_str(), &key)?;
                }
            }
            for (cf, entries) in &image {
                for (key, value) in entries {
                    txn.put(cf.as_str(), key, value)?;
                }
            }
            Ok(())
        };
        replace(&mut txn).map_err(|e| write_error(&e))?;
        let applied = encode(&meta.last_log_id).map_err(|e| write_error(&e))?;
        let membership = encode(&meta.last_membership).map_err(|e| write_error(&e))?;
        txn.put(STATE_CF, APPLIED, &applied)
            .map_err(|e| write_error(&e))?;
        txn.put(STATE_CF, MEMBERSHIP, &membership)
            .map_err(|e| write_error(&e))?;
        save_snapshot::<C>(&self.db, meta, &data, Some(&mut txn)).await?;
        txn.commit_async_with(Durability::Immediate)
            .await
            .map_err(|e| write_error(&e))?;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<C>>, C> {
        let read = self.db.begin_read();
        let read_error = |e: &(dyn std::error::Error + 'static)| {
            snapshot_error::<C::NodeId>(
                None::<&SnapshotMeta<C::NodeId, C::Node>>,
                ErrorVerb::Read,
                e,
            )
        };
        let Some(meta) = read
            .get(SNAPSHOT_CF, SNAPSHOT_META)
            .map_err(|e| read_error(&e))?
        else {
            return Ok(None);
        };
        let meta: SnapshotMeta<C::NodeId, C::Node> = decode(&meta).map_err(|e| read_error(&e))?;
        let data = read
            .get(SNAPSHOT_CF, SNAPSHOT_DATA)
            .map_err(|e| read_error(&e))?
            .ok_or_else(|| read_error(&Damaged("snapshot metadata without data".into())))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data.to_vec())),
        }))
    }
}
