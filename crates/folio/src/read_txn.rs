//! [`ReadTransaction`]: a consistent snapshot of every column family.

use std::sync::Arc;

use folio_btree::{BTree, Value};
use folio_wal::Lsn;

use crate::snapshot::Snapshot;
use crate::{Database, Error, Result};

/// A snapshot of every column family at one version. It never changes while it lives, never
/// blocks writers, and is never blocked by them. Keep it short: pages it can reach are not
/// reused until it ends.
#[derive(Debug)]
pub struct ReadTransaction {
    db: Database,
    snapshot: Arc<Snapshot>,
}

impl ReadTransaction {
    pub(crate) fn new(db: Database, snapshot: Arc<Snapshot>) -> Self {
        Self { db, snapshot }
    }

    /// The version (LSN of the last commit) this snapshot shows.
    pub fn version(&self) -> Lsn {
        self.snapshot.version
    }

    /// The tree of `cf` in this snapshot: `get`, `range`, `range_rev`, `prefix`, ...
    pub fn tree(&self, cf: &str) -> Result<BTree> {
        let (_, root) = self
            .snapshot
            .find(cf)
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: cf.into() })?;
        Ok(BTree::new(self.db.inner.store.clone(), root.root))
    }

    /// The value of `key` in `cf`.
    pub fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Value>> {
        Ok(self.tree(cf)?.get(key)?)
    }

    /// Entries in `cf`.
    pub fn len(&self, cf: &str) -> Result<u64> {
        self.snapshot
            .find(cf)
            .map(|(_, root)| root.len)
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: cf.into() })
    }

    /// Column families in this snapshot, sorted by name.
    pub fn cf_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .snapshot
            .by_id
            .values()
            .map(|cf| cf.name.clone())
            .collect();
        names.sort_unstable();
        names
    }
}

impl Drop for ReadTransaction {
    fn drop(&mut self) {
        self.db.inner.publisher.end_read(self.snapshot.version);
    }
}
