//! [`ColumnFamily`] handles, and [`CfName`]: what a call accepts to name a column family
//! (a name, or a handle).

use std::sync::Arc;
use std::sync::atomic::Ordering;

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

    /// Its id: unique in the database, never reused.
    pub fn id(&self) -> u64 {
        self.slot.id
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

/// Resolves `cf` against the live column families: its writer slot (by name, or the
/// handle's own if it is not dropped).
pub(crate) fn live_slot(cfs: &crate::database::CfMap, cf: CfRef<'_>) -> Result<Arc<CfSlot>> {
    match cf {
        CfRef::Name(name) => cfs.get(name).cloned().ok_or_else(|| cf.missing()),
        CfRef::Handle(handle) if handle.is_dropped() => Err(handle.missing()),
        CfRef::Handle(handle) => Ok(Arc::clone(&handle.slot)),
    }
}
