//! [`DatabaseOptions`]: every option of a database, with the layers' own options inside.

use folio_pagestore::PageStoreOptions;
use folio_wal::{Durability, WalOptions};

use crate::{Error, Result};

/// Options of a [`crate::Database`]. `DatabaseOptions::default()` suits most uses.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// The data file: page size, cache bytes, extent size, growth step.
    pub page_store: PageStoreOptions,
    /// The write-ahead log: segment size, record limit, background sync interval, batching
    /// window.
    pub wal: WalOptions,
    /// Durability of [`crate::WriteTransaction::commit`]. Default: `Immediate` (the commit
    /// returns after its log record is synced, sharing the sync with concurrent commits).
    pub default_durability: Durability,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            page_store: PageStoreOptions::default(),
            wal: WalOptions::default(),
            default_durability: Durability::Immediate,
        }
    }
}

impl DatabaseOptions {
    /// Checks every option, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        self.page_store.validate().map_err(Error::from)?;
        self.wal.validate().map_err(Error::from)?;
        Ok(())
    }
}
