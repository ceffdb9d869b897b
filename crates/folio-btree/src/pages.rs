//! [`Pages`]: where a tree reads its pages from: the open transaction's own (private)
//! pages first, then the page store's cache and file.

use folio_pagestore::{Page, PageId, PageStore, PageWriter};

use crate::Result;

/// The pages a tree reads. Committed trees read the store; a tree being changed (and views
/// of it) also see the pages its transaction wrote, which are not in the store yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pages<'a> {
    store: &'a PageStore,
    own: Option<&'a PageWriter>,
}

impl<'a> Pages<'a> {
    pub(crate) fn new(store: &'a PageStore, own: Option<&'a PageWriter>) -> Self {
        Self { store, own }
    }

    pub(crate) fn store(&self) -> &'a PageStore {
        self.store
    }

    /// Page `id`: the transaction's own version (in memory or spilled), or the store's.
    pub(crate) fn read(&self, id: PageId) -> Result<Page> {
        Ok(match self.own {
            Some(own) => own.read(id)?,
            None => self.store.read(id)?,
        })
    }
}
