//! Helpers shared by the page-store integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::collections::BTreeMap;
use std::sync::Arc;

use folio_io::Storage;
use folio_pagestore::{Page, PageBuf, PageId, PageStore, PageStoreOptions};

/// Small options so simulated disks stay small: 4 KiB pages, 64 KiB growth, 8-page extents.
pub fn small_options() -> PageStoreOptions {
    PageStoreOptions {
        growth_step_bytes: 64 * 1024,
        extent_pages: 8,
        cache_bytes_max: 1 << 20,
        ..PageStoreOptions::default()
    }
}

pub use folio_io::AtRest;

/// [`small_options`] kept `at_rest`.
pub fn options_at(at_rest: AtRest) -> PageStoreOptions {
    PageStoreOptions {
        encryption_key: at_rest.key(),
        ..small_options()
    }
}

/// A page whose payload is filled from `tag`, so its contents identify the write.
pub fn tagged_page(store: &PageStore, id: PageId, tag: u64) -> Page {
    let mut buf = PageBuf::zeroed(store.buffer_size());
    let payload = buf.payload_mut();
    payload[..8].copy_from_slice(&id.0.to_le_bytes());
    payload[8..16].copy_from_slice(&tag.to_le_bytes());
    for (i, byte) in payload[16..].iter_mut().enumerate() {
        *byte = (tag as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    buf.seal(id)
}

/// Checks a page holds exactly what [`tagged_page`] wrote for `tag`.
pub fn check_tagged(page: &Page, id: PageId, tag: u64) {
    assert_eq!(
        &page[..8],
        &id.0.to_le_bytes(),
        "page {id}: wrong id in payload"
    );
    assert_eq!(
        u64::from_le_bytes(page[8..16].try_into().unwrap()),
        tag,
        "page {id}: wrong tag"
    );
    for (i, &byte) in page[16..].iter().enumerate() {
        assert_eq!(byte, (tag as usize).wrapping_mul(31).wrapping_add(i) as u8);
    }
}

/// Encodes `(version, live pages with tags)` as checkpoint roots.
pub fn encode_roots(version: u64, live: &BTreeMap<PageId, u64>) -> Vec<u8> {
    let mut out = version.to_le_bytes().to_vec();
    for (id, tag) in live {
        out.extend_from_slice(&id.0.to_le_bytes());
        out.extend_from_slice(&tag.to_le_bytes());
    }
    out
}

/// Decodes [`encode_roots`].
pub fn decode_roots(roots: &[u8]) -> (u64, BTreeMap<PageId, u64>) {
    if roots.is_empty() {
        return (0, BTreeMap::new());
    }
    let version = u64::from_le_bytes(roots[..8].try_into().unwrap());
    let live = roots[8..]
        .chunks(16)
        .map(|c| {
            (
                PageId(u64::from_le_bytes(c[..8].try_into().unwrap())),
                u64::from_le_bytes(c[8..].try_into().unwrap()),
            )
        })
        .collect();
    (version, live)
}

/// The durable allocation state accounts for every page exactly once: each page below the
/// high water is live, a free-list page, or free (no leak, no double use).
pub fn check_allocation(store: &PageStore, live: &BTreeMap<PageId, u64>) {
    let report = store.allocation_report();
    for id in live.keys() {
        assert!(
            id.0 < report.high_water,
            "live page {id} above the high water"
        );
        assert!(
            !report.free.contains(id.0),
            "live page {id} is listed as free"
        );
        assert!(
            !report.freelist_pages.contains(id),
            "live page {id} holds the free list"
        );
    }
    for page in &report.freelist_pages {
        assert!(
            !report.free.contains(page.0),
            "free-list page {page} is free"
        );
    }
    let accounted =
        live.len() as u64 + report.freelist_pages.len() as u64 + report.free.page_count();
    assert_eq!(
        accounted,
        report.high_water,
        "pages leaked: {} live + {} free-list + {} free != {} high water",
        live.len(),
        report.freelist_pages.len(),
        report.free.page_count(),
        report.high_water
    );
}

/// Reads every live page back and checks its contents.
pub fn check_contents(store: &PageStore, live: &BTreeMap<PageId, u64>) {
    for (&id, &tag) in live {
        let page = store.read(id).unwrap_or_else(|e| panic!("page {id}: {e}"));
        check_tagged(&page, id, tag);
    }
}

/// Opens the store on `storage` with [`options_at`].
pub fn reopen(storage: Arc<dyn Storage>, at_rest: AtRest) -> PageStore {
    PageStore::open(storage, options_at(at_rest)).expect("reopen")
}
