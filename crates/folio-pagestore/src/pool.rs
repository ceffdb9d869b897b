//! [`PagePool`]: spare page buffers, reused instead of freshly allocated.
//!
//! Copy-on-write allocates a page for every page a transaction touches and frees one for
//! every page a commit supersedes. Fresh 4 KiB allocations cost a `malloc`, page faults
//! (the kernel zeroes each new page) and a `free`; a buffer from this pool costs a
//! `memcpy` into memory that is already mapped and warm. LMDB keeps spare dirty pages the
//! same way. A buffer returns only when nothing else holds it (its `Arc` is unique), so
//! reuse never changes bytes a reader still sees.

use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use crate::{Page, PageBuf};

/// Buffers kept at most (the pool's bound: 4 MiB of 4 KiB pages).
pub(crate) const SPARE_PAGES_MAX: usize = 1024;

#[derive(Debug)]
pub(crate) struct PagePool {
    spare: ArrayQueue<Arc<[u8]>>,
    page_size: usize,
    /// A budget shared with other stores: charged with the spares held, and while it is
    /// exceeded no spare is kept.
    shared: Option<crate::MemoryBudget>,
}

impl PagePool {
    pub(crate) fn new(page_size: usize, shared: Option<crate::MemoryBudget>) -> Self {
        Self {
            spare: ArrayQueue::new(SPARE_PAGES_MAX),
            page_size,
            shared,
        }
    }

    /// A spare buffer, if one is kept (its bytes leave the shared budget).
    fn take_spare(&self) -> Option<Arc<[u8]>> {
        let spare = self.spare.pop()?;
        if let Some(shared) = &self.shared {
            shared.release(spare.len());
        }
        Some(spare)
    }

    /// A page holding a copy of `page`'s payload (trailer cleared).
    pub(crate) fn copy(&self, page: &Page) -> Page {
        match self.take_spare() {
            Some(mut bytes) => {
                let buf = Arc::get_mut(&mut bytes).expect("pooled buffers are unique");
                let split = buf.len() - crate::PAGE_TRAILER_BYTES;
                buf[..split].copy_from_slice(page.payload());
                buf[split..].fill(0);
                PageBuf::from_unique(bytes).into_page()
            }
            None => page.to_buf().into_page(),
        }
    }

    /// A zeroed page.
    pub(crate) fn zeroed(&self) -> PageBuf {
        match self.take_spare() {
            Some(mut bytes) => {
                Arc::get_mut(&mut bytes)
                    .expect("pooled buffers are unique")
                    .fill(0);
                PageBuf::from_unique(bytes)
            }
            None => PageBuf::zeroed(self.page_size),
        }
    }

    /// A page-sized buffer to read into (its old bytes are left: the read overwrites all).
    pub(crate) fn buffer(&self) -> Arc<[u8]> {
        self.take_spare()
            .unwrap_or_else(|| Arc::from(vec![0u8; self.page_size]))
    }

    /// Takes `page` back when no one else holds it (else it is simply dropped).
    pub(crate) fn give(&self, page: Page) {
        if let Some(bytes) = page.into_unique() {
            self.give_buffer(bytes);
        }
    }

    /// Takes back a unique buffer of the pool's page size (else it is simply dropped).
    pub(crate) fn give_buffer(&self, bytes: Arc<[u8]>) {
        if bytes.len() != self.page_size {
            return;
        }
        match &self.shared {
            None => {
                let _ = self.spare.push(bytes);
            }
            Some(shared) if !shared.is_exceeded() => {
                if self.spare.push(bytes).is_ok() {
                    shared.charge(self.page_size);
                }
            }
            Some(_) => {} // over the shared budget: let it go
        }
    }
}

impl Drop for PagePool {
    /// Gives the shared budget back the spares held.
    fn drop(&mut self) {
        while self.take_spare().is_some() {}
    }
}
