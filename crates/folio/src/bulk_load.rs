//! [`BulkLoad`]: filling a column family without logging its data; checkpoints make it
//! durable, chunk by chunk.
//!
//! Each chunk (whatever was put since the last one, cut when the dirty pages reach
//! `checkpoint_dirty_bytes`, and at [`BulkLoad::finish`]) is an unlogged commit
//! (`commit/unlogged.rs`): a log record that names the column family but holds no data, then a
//! checkpoint. No logged commit (of any column family) follows it in the log before that
//! checkpoint succeeded. A crash before a chunk's checkpoint completes loses that chunk (and
//! only it; it was never acknowledged).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use folio_wal::Lsn;

use crate::cf_slot::{CfSlot, Wait, WriterGuard};
use crate::column_family::CfRef;
use crate::commit::Record;
use crate::concurrent::Written;
use crate::log_record::RecordBuilder;
use crate::{Database, Error, Result};

/// Loads many entries into one column family, bypassing the write-ahead log. Sorted keys
/// load fastest (leaves fill completely). Not atomic: chunks become durable one by one, and
/// [`BulkLoad::finish`] returns once the last one is. Dropping the loader discards the
/// entries put since the last chunk.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("events")?;
/// let mut load = db.bulk_load("events")?;
/// for i in 0u32..10_000 {
///     load.put(&i.to_be_bytes(), b"payload")?;
/// }
/// load.finish()?; // durable in the data file
/// assert_eq!(db.begin_read().len("events")?, 10_000);
/// # Ok(())
/// # }
/// ```
pub struct BulkLoad {
    slot: Arc<CfSlot>,
    tree: WriterGuard,
    /// Puts since the last chunk.
    unflushed: u64,
    /// Where the last put landed (`BTreeMut::put_in_order`).
    order: folio_btree::OrderHint,
    /// LSN of the last durable chunk.
    last_lsn: Lsn,
    /// Last, so the writer is released before a close this handle may run.
    db: Database,
}

impl std::fmt::Debug for BulkLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkLoad")
            .field("column_family", &self.slot.id)
            .field("unflushed", &self.unflushed)
            .finish_non_exhaustive()
    }
}

impl BulkLoad {
    pub(crate) fn new(db: Database, cf: CfRef<'_>) -> Result<Self> {
        let slot = db.inner.cfs.slot(cf)?;
        db.check_writable()?;
        db.relieve_pressure()?;
        let name = slot.name();
        let tree = slot.lock_writer(&name, Wait::Forever)?;
        if slot.dropped.load(Ordering::Acquire) {
            return Err(Error::ColumnFamilyDropped {
                name: name.to_string(),
            });
        }
        let mut load = Self {
            db,
            slot,
            tree,
            unflushed: 0,
            order: folio_btree::OrderHint::default(),
            last_lsn: 0,
        };
        load.heal()?;
        Ok(load)
    }

    /// Makes an earlier unlogged commit durable if its checkpoint failed.
    fn heal(&mut self) -> Result<()> {
        self.db.inner.settle_unlogged()
    }

    /// Inserts or replaces `key`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        // Keys of a load usually increase: most puts land in the leaf the last one reached.
        self.tree.put_in_order(key, value, &mut self.order)?;
        self.unflushed += 1;
        // The chunk's own pages are private to it until it commits: count them too.
        let unflushed = self.db.inner.store.dirty_bytes() + self.tree.private_bytes();
        if unflushed >= self.db.inner.options.checkpoint_dirty_bytes {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Makes everything put so far durable (a chunk and its checkpoint); returns the
    /// chunk's LSN.
    pub fn flush_chunk(&mut self) -> Result<Lsn> {
        if self.unflushed == 0 {
            return Ok(self.last_lsn);
        }
        let mut record = RecordBuilder::new();
        record.unlogged(self.slot.id);
        // Whatever happens next, the entries put so far are either committed or rolled back.
        self.unflushed = 0;
        let mut appended = self
            .db
            .inner
            .append_commit(Record::Unlogged(record.finish()), [&mut *self.tree])?;
        appended.commit_tree(&self.slot, &mut self.tree, Written::Everything);
        // From here the chunk is visible but only in memory: until a checkpoint covers it,
        // logged appends checkpoint first (`commit/unlogged.rs`).
        let lsn = appended.publish();
        self.db.inner.settle_unlogged()?;
        self.last_lsn = lsn;
        Ok(lsn)
    }

    /// Flushes the last chunk; returns its LSN once durable.
    pub fn finish(mut self) -> Result<Lsn> {
        self.flush_chunk()
    }
}

impl Drop for BulkLoad {
    fn drop(&mut self) {
        if self.unflushed > 0 {
            self.tree.rollback();
        }
    }
}
