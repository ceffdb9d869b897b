//! Changes to the set of column families ([`Database::create_cf`], [`Database::drop_cf`],
//! [`Database::rename_cf`]) and to their stored options ([`Database::set_cf_options`]), and
//! lookups in it. Each change holds the registry's DDL lock (`column_family.rs`), goes
//! through the commit path (`commit/mod.rs`) as one logged record, and is durable when it
//! returns.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use folio_btree::BTreeMut;

use crate::cf_slot::{CfSlot, Wait};
use crate::column_family::{CfRef, ColumnFamily};
use crate::commit::Record;
use crate::database::DbInner;
use crate::log_record::RecordBuilder;
use crate::snapshot::{Edit, Snapshot};
use crate::{ColumnFamilyOptions, Compression, Database, DatabaseOptions, Error, Result};

impl Database {
    /// Creates an empty column family; durable when this returns. Its options are the
    /// open's ([`crate::CompressionOptions::for_new_cf`]), stored with it.
    pub fn create_cf(&self, name: &str) -> Result<()> {
        let compression = self.inner.options.compression.for_new_cf(name);
        self.create_cf_with(
            name,
            ColumnFamilyOptions::new().with_compression(compression),
        )
    }

    /// Creates an empty column family with `options`, stored with it: later opens use them
    /// without being told (see [`ColumnFamilyOptions`]). Durable when this returns.
    pub fn create_cf_with(&self, name: &str, options: ColumnFamilyOptions) -> Result<()> {
        options.validate(name)?;
        self.check_writable()?;
        let mut change = self.inner.cfs.change();
        let id = change.id_for_new(name)?;
        let mut record = RecordBuilder::new();
        record.create_cf(id, name, options.compression);
        let mut appended = self
            .inner
            .append_commit(Record::Logged(record.finish()), std::iter::empty())?;
        let mut tree = BTreeMut::new(self.inner.store.writer(), None, 0);
        tree.set_compression(options.compression);
        change.add(CfSlot::new(id, name, tree));
        appended.edit(Edit::Create {
            id,
            name: name.to_owned(),
            compression: options.compression,
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

    /// The options stored with column family `name`.
    pub fn cf_options(&self, name: &str) -> Result<ColumnFamilyOptions> {
        let snapshot = self.inner.publisher.current();
        let (id, _) = snapshot
            .find(name)
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: name.into() })?;
        Ok(snapshot.cf_options(id))
    }

    /// Changes the options stored with column family `name`; values written afterwards use
    /// them, values written before stay as they are (`Database::repack` rewrites them).
    /// Waits for the column family's writer; durable when this returns.
    pub fn set_cf_options(&self, name: &str, options: ColumnFamilyOptions) -> Result<()> {
        options.validate(name)?;
        self.check_writable()?;
        self.inner
            .set_compressions(&[(name.to_owned(), options.compression)])
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

/// The compression settings an open with `options` changes among the column families of
/// `snapshot` (recovered, not yet published); [`Error::InvalidOption`] for a per-name
/// setting naming no column family (a misspelt name would otherwise compress nothing),
/// before anything changed. A column family from before settings were stored keeps none
/// recorded unless the options ask for a setting: an open that changes nothing writes
/// nothing.
pub(crate) fn compression_changes_at_open(
    options: &DatabaseOptions,
    snapshot: &Snapshot,
) -> Result<Vec<(String, Compression)>> {
    let compression = &options.compression;
    compression.check_names(
        |name| snapshot.find(name).is_some(),
        || snapshot.sorted_names(),
    )?;
    Ok(snapshot
        .iter()
        .filter_map(|(id, name, _)| {
            let stored = snapshot.recorded_compression(id);
            let wanted = compression.at_open(name, stored);
            (wanted != stored.unwrap_or_default()).then(|| (name.to_string(), wanted))
        })
        .collect())
}

impl DbInner {
    /// Sets the compression of each named column family in one logged record, each under
    /// its writer (taken in name order, as transactions take them); durable when this
    /// returns.
    pub(crate) fn set_compressions(&self, settings: &[(String, Compression)]) -> Result<()> {
        let change = self.cfs.change();
        let mut sorted: Vec<&(String, Compression)> = settings.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut writers = Vec::with_capacity(sorted.len());
        let mut record = RecordBuilder::new();
        for (name, compression) in sorted {
            let slot = change.slot(name)?;
            writers.push((slot.lock_writer(name, Wait::Forever)?, *compression));
            record.set_compression(slot.id, *compression);
        }
        let mut appended =
            self.append_commit(Record::Logged(record.finish()), std::iter::empty())?;
        for (tree, compression) in &mut writers {
            tree.set_compression(*compression);
            appended.edit(Edit::Compression {
                id: tree.slot().id,
                compression: *compression,
            });
        }
        let lsn = appended.publish();
        drop(writers);
        drop(change);
        self.wal.wait_durable(lsn)?;
        Ok(())
    }
}
