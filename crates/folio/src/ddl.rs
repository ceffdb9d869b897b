//! Changes to the set of column families ([`Database::create_cf`], [`Database::drop_cf`],
//! [`Database::rename_cf`]) and lookups in it. Each change holds the registry's DDL lock
//! (`column_family.rs`), goes through the commit path (`commit/mod.rs`) as one logged record, and
//! is durable when it returns.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use folio_btree::BTreeMut;

use crate::cf_slot::{CfSlot, Wait};
use crate::column_family::{CfRef, ColumnFamily};
use crate::commit::Record;
use crate::log_record::RecordBuilder;
use crate::snapshot::Edit;
use crate::{Database, Error, Result};

impl Database {
    /// Creates an empty column family; durable when this returns.
    pub fn create_cf(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        let mut change = self.inner.cfs.change();
        let id = change.id_for_new(name)?;
        let mut record = RecordBuilder::new();
        record.create_cf(id, name);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), std::iter::empty())?;
        let mut tree = BTreeMut::new(self.inner.store.writer(), None, 0);
        tree.set_compression(self.inner.options.compression.for_cf(name));
        change.add(CfSlot::new(id, name, tree));
        appended.edit(Edit::Create {
            id,
            name: name.to_owned(),
        });
        let lsn = appended.publish();
        drop(change);
        self.inner.wal.wait_durable(lsn)?;
        Ok(())
    }

    /// Creates column family `name` if it does not exist yet.
    pub fn create_cf_if_missing(&self, name: &str) -> Result<()> {
        match self.create_cf(name) {
            Err(Error::ColumnFamilyExists { .. }) => Ok(()),
            other => other,
        }
    }

    /// Drops a column family: waits for its writer, then frees all its pages (readers of
    /// older snapshots keep seeing it until they end).
    pub fn drop_cf(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        let mut change = self.inner.cfs.change();
        let slot = change.slot(name)?;
        let mut tree = slot.lock_writer(name, Wait::Forever)?;
        // Cleared before the record is appended: nothing that can fail may come between the
        // append and the publish (`commit/mod.rs`).
        if let Err(error) = tree.clear() {
            tree.rollback();
            return Err(error.into());
        }
        let mut record = RecordBuilder::new();
        record.drop_cf(slot.id, name);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), [&mut *tree])?;
        appended.commit_dropped(slot.id, &mut tree);
        slot.dropped.store(true, Ordering::Release);
        change.remove(name);
        drop(tree);
        let lsn = appended.publish();
        drop(change);
        self.inner.wal.wait_durable(lsn)?;
        Ok(())
    }

    /// Renames a column family.
    pub fn rename_cf(&self, from: &str, to: &str) -> Result<()> {
        self.check_writable()?;
        let mut change = self.inner.cfs.change();
        let slot = change.check_rename(from, to)?;
        let mut record = RecordBuilder::new();
        record.rename_cf(slot.id, from, to);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), std::iter::empty())?;
        change.rename(&slot, from, to);
        appended.edit(Edit::Rename {
            id: slot.id,
            to: to.to_owned(),
        });
        let lsn = appended.publish();
        drop(change);
        self.inner.wal.wait_durable(lsn)?;
        Ok(())
    }

    /// A handle on column family `cf` (see [`ColumnFamily`]): cheap to clone, accepted
    /// wherever a name is, bound to this column family (not to the name).
    pub fn cf(&self, cf: &str) -> Result<ColumnFamily> {
        Ok(ColumnFamily::new(self.slot(cf)?))
    }

    /// The writer slot of live column family `name`.
    pub(crate) fn slot(&self, name: &str) -> Result<Arc<CfSlot>> {
        self.inner.cfs.slot(CfRef::Name(name))
    }

    /// The names of all column families, sorted.
    pub fn cf_names(&self) -> Vec<String> {
        self.inner.cfs.names()
    }
}
