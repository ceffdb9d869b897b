//! The persisted free list: a chain of pages listing free extents.
//!
//! ```text
//! freelist page payload (integers little-endian)
//!   0  next      u64   next page of the chain, NO_PAGE at the end
//!   8  count     u32   extents in this page
//!  12  reserved  u32   zero
//!  16  extents   count x (start u64, len u64)
//! ```
//! The chain's length and totals are in the header slot, so a reader checks it is complete.

use super::ExtentSet;
use crate::header::{NO_PAGE, get_u32, get_u64, put_u32, put_u64};
use crate::{Error, Page, PageBuf, PageId, Result};

const NEXT_OFFSET: usize = 0;
const COUNT_OFFSET: usize = NEXT_OFFSET + 8;
const EXTENTS_OFFSET: usize = COUNT_OFFSET + 8;
const EXTENT_BYTES: usize = 16;

/// Extents one freelist page holds.
pub(crate) fn extents_per_page(page_size: usize) -> usize {
    (page_size - crate::PAGE_TRAILER_BYTES - EXTENTS_OFFSET) / EXTENT_BYTES
}

/// Pages needed to store `extents` extents.
pub(crate) fn pages_needed(extents: usize, page_size: usize) -> usize {
    extents.div_ceil(extents_per_page(page_size))
}

/// Encodes `free` into the pages `pages` (exactly [`pages_needed`] or more), chained in order.
pub(crate) fn encode_chain(
    free: &ExtentSet,
    pages: &[PageId],
    page_size: usize,
) -> Vec<(PageId, Page)> {
    let per_page = extents_per_page(page_size);
    let extents: Vec<(u64, u64)> = free.iter().collect();
    let mut chunks = extents.chunks(per_page);
    let mut out = Vec::with_capacity(pages.len());
    for (index, &id) in pages.iter().enumerate() {
        let chunk = chunks.next().unwrap_or(&[]);
        let mut buf = PageBuf::zeroed(page_size);
        let payload = buf.payload_mut();
        let next = pages.get(index + 1).map_or(NO_PAGE, |p| p.0);
        put_u64(payload, NEXT_OFFSET, next);
        put_u32(payload, COUNT_OFFSET, chunk.len() as u32);
        for (i, &(start, len)) in chunk.iter().enumerate() {
            let at = EXTENTS_OFFSET + i * EXTENT_BYTES;
            put_u64(payload, at, start);
            put_u64(payload, at + 8, len);
        }
        out.push((id, buf.seal(id)));
    }
    out
}

/// Reads the chain starting at `head`: `pages` pages holding `extents` extents covering
/// `free_pages` pages, all below `high_water`. Every inconsistency is a typed corruption error.
pub(crate) fn decode_chain(
    head: u64,
    pages: u32,
    extents: u64,
    free_pages: u64,
    high_water: u64,
    mut read: impl FnMut(PageId) -> Result<Page>,
) -> Result<(ExtentSet, Vec<PageId>)> {
    let mut free = ExtentSet::new();
    // `pages` comes from the header: a damaged one may claim billions. The walk below checks
    // every page, so only the first allocation is bounded by something the file proves.
    let mut chain = Vec::with_capacity(u64::from(pages).min(high_water).min(4096) as usize);
    let mut next = head;
    for _ in 0..pages {
        if next == NO_PAGE || next >= high_water {
            return Err(corrupt(
                next,
                "free-list chain ends early or leaves the file",
            ));
        }
        let id = PageId(next);
        let page = read(id)?;
        let count = get_u32(&page, COUNT_OFFSET) as usize;
        if count > extents_per_page(page.len() + crate::PAGE_TRAILER_BYTES) {
            return Err(corrupt(next, "free-list page claims too many extents"));
        }
        for i in 0..count {
            let at = EXTENTS_OFFSET + i * EXTENT_BYTES;
            let (start, len) = (get_u64(&page, at), get_u64(&page, at + 8));
            if start.checked_add(len).is_none_or(|end| end > high_water) {
                return Err(corrupt(next, "free extent lies past the high-water mark"));
            }
            free.insert(start, len)
                .map_err(|_| corrupt(next, "free extents overlap"))?;
        }
        chain.push(id);
        next = get_u64(&page, NEXT_OFFSET);
    }
    if next != NO_PAGE {
        return Err(corrupt(
            next,
            "free-list chain is longer than the header says",
        ));
    }
    if free.extent_count() as u64 != extents || free.page_count() != free_pages {
        return Err(Error::CorruptHeader {
            reason: format!(
                "free list holds {} extents / {} pages, header says {extents} / {free_pages}",
                free.extent_count(),
                free.page_count()
            ),
        });
    }
    if let Some(page) = chain.iter().find(|p| free.contains(p.0)) {
        return Err(corrupt(page.0, "a free-list page is itself listed as free"));
    }
    Ok((free, chain))
}

fn corrupt(page: u64, reason: &str) -> Error {
    Error::CorruptPage {
        page: PageId(page),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn chain_round_trips_across_many_pages() {
        let mut free = ExtentSet::new();
        for i in 0..1000u64 {
            free.insert(1000 + i * 3, 2).unwrap();
        }
        let needed = pages_needed(free.extent_count(), 4096);
        assert!(needed > 1);
        let pages: Vec<PageId> = (0..needed as u64).map(PageId).collect();
        let encoded: HashMap<PageId, Page> =
            encode_chain(&free, &pages, 4096).into_iter().collect();
        let (decoded, chain) = decode_chain(
            0,
            needed as u32,
            free.extent_count() as u64,
            free.page_count(),
            10_000,
            |id| Ok(encoded[&id].clone()),
        )
        .unwrap();
        assert_eq!(decoded, free);
        assert_eq!(chain, pages);
    }

    #[test]
    fn inconsistent_chains_are_corruption() {
        let mut free = ExtentSet::new();
        free.insert(5, 3).unwrap();
        let encoded = encode_chain(&free, &[PageId(1)], 4096);
        let page = encoded[0].1.clone();
        // Wrong totals in the header.
        assert!(decode_chain(1, 1, 2, 3, 100, |_| Ok(page.clone())).is_err());
        // Extent beyond the high water.
        assert!(decode_chain(1, 1, 1, 3, 6, |_| Ok(page.clone())).is_err());
        // Chain longer than it should be.
        assert!(decode_chain(1, 0, 0, 0, 100, |_| Ok(page.clone())).is_err());
        // Head outside the file.
        assert!(decode_chain(500, 1, 1, 3, 100, |_| Ok(page.clone())).is_err());
        assert!(decode_chain(1, 1, 1, 3, 100, |_| Ok(page.clone())).is_ok());
    }
}
