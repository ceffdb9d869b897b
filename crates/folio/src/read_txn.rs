//! [`ReadTransaction`]: a consistent snapshot of every column family.

use std::sync::Arc;

use folio_btree::BTree;
use folio_wal::Lsn;

use crate::column_family::{CfId, CfName, CfRef};
use crate::database::DbInner;
use crate::snapshot::{CfRoot, ReadPin};
use crate::{Result, Tree, Value};

/// A snapshot of every column family at one version. It never changes while it lives, never
/// blocks writers, and is never blocked by them. Keep it short: pages it can reach are not
/// reused until it, and every [`Tree`] and [`crate::Range`] made from it, are dropped. It
/// does not keep the database open: once the database is closed, reads return
/// [`crate::Error::Closed`].
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("a")?;
/// db.create_cf("b")?;
/// let mut txn = db.begin_write(&["a", "b"])?;
/// txn.put("a", b"k", b"1")?;
/// txn.put("b", b"k", b"1")?;
/// txn.commit()?;
///
/// let read = db.begin_read();
/// let mut txn = db.begin_write(&["a"])?;
/// txn.put("a", b"k", b"2")?;
/// txn.commit()?;
/// // The snapshot still shows both column families as they were.
/// assert_eq!(&*read.get("a", b"k")?.unwrap(), b"1");
/// assert_eq!(read.cf_names(), ["a", "b"]);
/// assert_eq!(&*db.begin_read().get("a", b"k")?.unwrap(), b"2");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ReadTransaction {
    pin: Arc<ReadPin>,
}

impl ReadTransaction {
    pub(crate) fn new(inner: Arc<DbInner>) -> Self {
        Self {
            pin: Arc::new(ReadPin::new(inner)),
        }
    }

    /// The version (LSN of the last commit) this snapshot shows.
    pub fn version(&self) -> Lsn {
        self.pin.snapshot().version
    }

    /// Each column family's id and name in this snapshot.
    pub(crate) fn cf_ids(&self) -> Vec<(crate::column_family::CfId, String)> {
        self.pin
            .snapshot()
            .iter()
            .map(|(id, name, _)| (id, name.to_string()))
            .collect()
    }

    fn root<C: CfName + ?Sized>(&self, cf: &C) -> Result<CfRoot> {
        self.resolve(cf.cf_ref()).map(|(_, root)| root)
    }

    /// `cf`'s id and tree in this snapshot.
    pub(crate) fn resolve(&self, cf: CfRef<'_>) -> Result<(CfId, CfRoot)> {
        self.pin.holder().check_open()?;
        let snapshot = self.pin.snapshot();
        let found = match cf {
            CfRef::Name(name) => snapshot.find(name),
            CfRef::Handle(handle) => snapshot
                .tree(handle.slot.id)
                .map(|root| (handle.slot.id, root)),
        };
        found.ok_or_else(|| cf.missing())
    }

    /// The tree of `cf` in this snapshot: `get`, `range`, `range_rev`, `prefix`, ... It keeps
    /// the snapshot registered, so it reads this snapshot even after the transaction is
    /// dropped.
    pub fn tree<C: CfName + ?Sized>(&self, cf: &C) -> Result<Tree<'static>> {
        Ok(self.tree_at(self.root(cf)?))
    }

    /// The tree at `root` (of this snapshot).
    pub(crate) fn tree_at(&self, root: CfRoot) -> Tree<'static> {
        Tree::new(
            BTree::new(self.pin.holder().store.clone(), root.root),
            root.len,
            Some(Arc::clone(&self.pin)),
        )
    }

    /// The value of `key` in `cf`.
    pub fn get<C: CfName + ?Sized>(&self, cf: &C, key: &[u8]) -> Result<Option<Value>> {
        self.get_at(self.root(cf)?, key)
    }

    /// The value of `key` in the tree at `root` (of this snapshot).
    pub(crate) fn get_at(&self, root: CfRoot, key: &[u8]) -> Result<Option<Value>> {
        // The transaction is alive for the whole call: no pin needed.
        Ok(BTree::get_at(&self.pin.holder().store, root.root, key)?)
    }

    /// Entries in `cf`.
    pub fn len<C: CfName + ?Sized>(&self, cf: &C) -> Result<u64> {
        Ok(self.root(cf)?.len)
    }

    /// Column families in this snapshot, sorted by name.
    pub fn cf_names(&self) -> Vec<String> {
        self.pin.snapshot().sorted_names()
    }

    /// The options stored with `cf` as of this snapshot (see
    /// [`crate::Database::cf_options`]).
    pub fn cf_options<C: CfName + ?Sized>(&self, cf: &C) -> Result<crate::ColumnFamilyOptions> {
        let (id, _) = self.resolve(cf.cf_ref())?;
        Ok(self.pin.snapshot().cf_options(id))
    }
}
