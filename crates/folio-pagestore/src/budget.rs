//! [`MemoryBudget`]: one bound on the page memory of several stores (databases) together.
//!
//! Every store that shares a budget charges it with what its cache holds (clean and dirty
//! pages, with their bookkeeping) and its spare page buffers, and gives the bytes back when
//! they go. While the total is over the bound:
//! - a cache that inserts a page evicts its own clean pages until the total is back under
//!   (each store evicts only its own pages: no lock is shared between stores);
//! - the spare-buffer pools keep no spares;
//! - the layer above checkpoints stores that hold dirty pages (their pages become clean,
//!   hence evictable): `folio` does so on commit and in its background checkpointer.
//!
//! So the bound is exceeded only by dirty pages not yet checkpointed and by one insert's
//! worth per thread; each store's own `cache_bytes_max` still applies too.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A page-memory bound shared by every store created with it
/// ([`crate::PageStoreOptions::memory_budget`]). Cheap to clone (clones share the bound).
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    bytes_max: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `bytes_max` bytes.
    pub fn new(bytes_max: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                bytes_max,
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// The bound.
    pub fn bytes_max(&self) -> usize {
        self.shared.bytes_max
    }

    /// Bytes the stores sharing it hold now.
    pub fn used_bytes(&self) -> usize {
        self.shared.used.load(Ordering::Relaxed)
    }

    /// Bytes over the bound (0 when within it).
    pub fn excess_bytes(&self) -> usize {
        self.used_bytes().saturating_sub(self.shared.bytes_max)
    }

    /// True when the stores hold more than the bound.
    pub fn is_exceeded(&self) -> bool {
        self.excess_bytes() > 0
    }

    pub(crate) fn charge(&self, bytes: usize) {
        self.shared.used.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn release(&self, bytes: usize) {
        self.shared.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// True when `a` and `b` are the same budget.
    pub fn same(a: &MemoryBudget, b: &MemoryBudget) -> bool {
        Arc::ptr_eq(&a.shared, &b.shared)
    }
}
