//! [`ColumnFamily`] handles, [`CfName`] (what a call accepts to name a column family: a
//! name, or a handle), and [`CfRegistry`], the live column families of a database.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::cf_slot::CfSlot;
use crate::{Error, Result};

/// A handle on a column family ([`crate::Database::cf`]): cheap to clone, accepted wherever
/// a name is, and it skips the lookup by name. It stays bound to the column family it was
/// made for: after that one is dropped, calls through the handle give
/// [`Error::ColumnFamilyDropped`], even if a new column family takes the same name; a
/// rename keeps it working.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("users")?;
/// let users = db.cf("users")?;
/// let mut txn = db.begin_write(&[&users])?;
/// txn.put(&users, b"alice", b"1")?;
/// txn.commit()?;
/// assert_eq!(&*db.begin_read().get(&users, b"alice")?.unwrap(), b"1");
/// db.drop_cf("users")?;
/// db.create_cf("users")?; // a new column family under the old name
/// assert!(db.begin_read().get(&users, b"alice").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ColumnFamily {
    pub(crate) slot: Arc<CfSlot>,
}

impl ColumnFamily {
    pub(crate) fn new(slot: Arc<CfSlot>) -> Self {
        Self { slot }
    }

    /// Its name now (renames included).
    pub fn name(&self) -> Arc<str> {
        self.slot.name()
    }

    /// Its id: unique among the live column families and stable across renames. Not
    /// reused while the database stays open; after a reopen, the id of a dropped column
    /// family that was the newest may be given to the next one created.
    pub fn id(&self) -> u64 {
        self.slot.id.0
    }

    /// True once the column family was dropped.
    pub fn is_dropped(&self) -> bool {
        self.slot.dropped.load(Ordering::Acquire)
    }

    /// The error for a column family this handle's call did not find.
    pub(crate) fn missing(&self) -> Error {
        let name = self.name().to_string();
        if self.is_dropped() {
            Error::ColumnFamilyDropped { name }
        } else {
            Error::ColumnFamilyNotFound { name }
        }
    }
}

impl std::fmt::Debug for ColumnFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnFamily")
            .field("id", &self.slot.id)
            .field("name", &self.name())
            .field("dropped", &self.is_dropped())
            .finish()
    }
}

/// How a call names its column family.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum CfRef<'a> {
    Name(&'a str),
    Handle(&'a ColumnFamily),
}

impl CfRef<'_> {
    /// The name, for messages and for calls that go by name.
    pub(crate) fn name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            CfRef::Name(name) => std::borrow::Cow::Borrowed(name),
            CfRef::Handle(cf) => std::borrow::Cow::Owned(cf.name().to_string()),
        }
    }

    /// The error for a column family not found.
    pub(crate) fn missing(&self) -> Error {
        match self {
            CfRef::Name(name) => Error::ColumnFamilyNotFound {
                name: (*name).into(),
            },
            CfRef::Handle(cf) => cf.missing(),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Names a column family in a call: `&str`, `String` or a [`ColumnFamily`] handle (and
/// references to them).
pub trait CfName: sealed::Sealed {
    #[doc(hidden)]
    fn cf_ref(&self) -> CfRef<'_>;
}

impl sealed::Sealed for str {}
impl CfName for str {
    fn cf_ref(&self) -> CfRef<'_> {
        CfRef::Name(self)
    }
}

impl sealed::Sealed for String {}
impl CfName for String {
    fn cf_ref(&self) -> CfRef<'_> {
        CfRef::Name(self)
    }
}

impl sealed::Sealed for ColumnFamily {}
impl CfName for ColumnFamily {
    fn cf_ref(&self) -> CfRef<'_> {
        CfRef::Handle(self)
    }
}

impl<T: CfName + ?Sized> sealed::Sealed for &T {}
impl<T: CfName + ?Sized> CfName for &T {
    fn cf_ref(&self) -> CfRef<'_> {
        (**self).cf_ref()
    }
}

/// A column family's id: unique in the database, stable across renames, written in log
/// records and the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CfId(pub(crate) u64);

impl std::fmt::Display for CfId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Live column families by name (hashed: a lookup costs the same with 10,000 of them).
pub(crate) type CfMap = std::collections::HashMap<String, Arc<CfSlot>>;

/// The live column families of a database, and the lock that serializes changes to the set
/// (create, drop, rename: see `ddl.rs`).
#[derive(Debug)]
pub(crate) struct CfRegistry {
    live: RwLock<CfMap>,
    /// Held by a change of the set; holds the id the next column family gets: one past the
    /// largest live id at open, then counting up (so a reopen may reuse the id of the newest
    /// column family if it was dropped; the log orders its drop before the new create).
    ddl: Mutex<CfId>,
}

impl CfRegistry {
    /// The registry of `live` (recovered from the checkpoint and the log).
    pub(crate) fn new(live: CfMap) -> Self {
        let next_id = CfId(live.values().map(|slot| slot.id.0 + 1).max().unwrap_or(0));
        Self {
            live: RwLock::new(live),
            ddl: Mutex::new(next_id),
        }
    }

    /// `cf`'s writer slot: by name, or the handle's own while it is not dropped.
    pub(crate) fn slot(&self, cf: CfRef<'_>) -> Result<Arc<CfSlot>> {
        resolve(&self.live.read(), cf)
    }

    /// The slots of `cfs`, without repeats, in the global lock order (ascending id).
    pub(crate) fn writer_slots<C: CfName>(&self, cfs: &[C]) -> Result<Vec<Arc<CfSlot>>> {
        let mut slots: Vec<Arc<CfSlot>> = Vec::with_capacity(cfs.len());
        let live = self.live.read(); // once for all of them: this is every transaction's start
        for cf in cfs {
            let slot = resolve(&live, cf.cf_ref())?;
            if !slots.iter().any(|s| s.id == slot.id) {
                slots.push(slot);
            }
        }
        slots.sort_by_key(|slot| slot.id);
        Ok(slots)
    }

    /// Every column family with its slot, by name (a stable order, whatever the map's).
    pub(crate) fn sorted(&self) -> Vec<(String, Arc<CfSlot>)> {
        let mut slots: Vec<(String, Arc<CfSlot>)> = self
            .live
            .read()
            .iter()
            .map(|(name, slot)| (name.clone(), Arc::clone(slot)))
            .collect();
        slots.sort_by(|a, b| a.0.cmp(&b.0));
        slots
    }

    /// The names, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.live.read().keys().cloned().collect();
        names.sort_unstable();
        names
    }

    pub(crate) fn len(&self) -> usize {
        self.live.read().len()
    }

    /// The name of a column family whose writer the calling thread holds, if any.
    pub(crate) fn held_by_this_thread(&self) -> Option<String> {
        self.live
            .read()
            .iter()
            .find(|(_, slot)| slot.held_by_this_thread())
            .map(|(name, _)| name.clone())
    }

    /// Starts a change of the set: other changes wait until the returned guard is dropped.
    pub(crate) fn change(&self) -> SetChange<'_> {
        SetChange {
            live: &self.live,
            next_id: self.ddl.lock(),
        }
    }
}

/// A change of the set of column families in progress (holds the registry's DDL lock).
pub(crate) struct SetChange<'a> {
    live: &'a RwLock<CfMap>,
    next_id: MutexGuard<'a, CfId>,
}

impl SetChange<'_> {
    /// The id a new column family named `name` gets; [`Error::ColumnFamilyExists`] when the
    /// name is taken, an invalid-name error when it is empty or too long.
    pub(crate) fn id_for_new(&self, name: &str) -> Result<CfId> {
        self.check_free(name)?;
        Ok(*self.next_id)
    }

    fn check_free(&self, name: &str) -> Result<()> {
        check_name(name)?;
        if self.live.read().contains_key(name) {
            return Err(Error::ColumnFamilyExists { name: name.into() });
        }
        Ok(())
    }

    /// The live slot named `name`.
    pub(crate) fn slot(&self, name: &str) -> Result<Arc<CfSlot>> {
        self.live
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: name.into() })
    }

    /// Registers a new column family (its id from [`SetChange::id_for_new`]).
    pub(crate) fn add(&mut self, slot: Arc<CfSlot>) {
        debug_assert_eq!(slot.id, *self.next_id, "ids are handed out in order");
        *self.next_id = CfId(slot.id.0 + 1);
        self.live.write().insert(slot.name().to_string(), slot);
    }

    /// Unregisters column family `name` (dropped).
    pub(crate) fn remove(&mut self, name: &str) {
        let removed = self.live.write().remove(name);
        debug_assert!(removed.is_some(), "{name} was live");
    }

    /// Checks that `from` can be renamed `to`; returns its slot.
    pub(crate) fn check_rename(&self, from: &str, to: &str) -> Result<Arc<CfSlot>> {
        self.check_free(to)?;
        self.slot(from)
    }

    /// Moves `slot` from name `from` to name `to`.
    pub(crate) fn rename(&mut self, slot: &Arc<CfSlot>, from: &str, to: &str) {
        let mut live = self.live.write();
        live.remove(from);
        slot.set_name(to);
        live.insert(to.to_owned(), Arc::clone(slot));
    }
}

/// `cf`'s slot among the `live` ones (see [`CfRegistry::slot`]).
fn resolve(live: &CfMap, cf: CfRef<'_>) -> Result<Arc<CfSlot>> {
    match cf {
        CfRef::Name(name) => live.get(name).cloned().ok_or_else(|| cf.missing()),
        CfRef::Handle(handle) if handle.is_dropped() => Err(handle.missing()),
        CfRef::Handle(handle) => Ok(Arc::clone(&handle.slot)),
    }
}

/// Column-family names have 1 to [`folio_btree::CF_NAME_BYTES_MAX`] bytes.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > folio_btree::CF_NAME_BYTES_MAX {
        return Err(Error::Tree(folio_btree::Error::InvalidName {
            reason: format!(
                "names must have 1 to {} bytes",
                folio_btree::CF_NAME_BYTES_MAX
            ),
        }));
    }
    Ok(())
}
