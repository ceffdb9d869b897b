//! Overflow chains: keys and values too long for a node, in a chain of pages.
//!
//! ```text
//! overflow page payload
//!   0  kind      u8    3
//!   1  reserved  [u8; 3]
//!   4  len       u32   data bytes in this page
//!   8  next      u64   next page of the chain, u64::MAX at the end
//!  16  data
//! ```
//! Each chain is owned by exactly one entry (a leaf entry's key or value, or a branch
//! separator), so it is freed exactly once, when that entry goes away.

use folio_pagestore::{PageBuf, PageId, PageWriter};

use crate::Result;
use crate::error::corrupt;
use crate::node::layout_consts::{KIND_OVERFLOW, get_u32, get_u64};
use crate::pages::Pages;

const DATA_OFFSET: usize = 16;
const NO_PAGE: u64 = u64::MAX;

fn data_per_page(payload: usize) -> usize {
    payload - DATA_OFFSET
}

/// Writes `bytes` into a new chain; returns its first page.
pub(crate) fn write_chain(writer: &mut PageWriter, bytes: &[u8]) -> Result<PageId> {
    write_chain_spilling(writer, bytes, None)
}

/// [`write_chain`], spilling the chain's pages to the data file `spill_batch` pages at a
/// time when given (a value larger than the memory bound then never sits in memory whole;
/// chain pages are never edited again, so they are the best pages to spill).
pub(crate) fn write_chain_spilling(
    writer: &mut PageWriter,
    bytes: &[u8],
    spill_batch: Option<usize>,
) -> Result<PageId> {
    let store = writer.store().clone();
    let per_page = data_per_page(store.payload_size());
    let count = bytes.len().div_ceil(per_page).max(1);
    let ids: Vec<PageId> = (0..count)
        .map(|_| writer.allocate())
        .collect::<Result<_, _>>()?;
    let chunks = bytes
        .chunks(per_page)
        .chain(bytes.is_empty().then_some(&[][..]));
    for (index, (&id, chunk)) in ids.iter().zip(chunks).enumerate() {
        let mut buf = PageBuf::zeroed(store.buffer_size());
        let payload = buf.payload_mut();
        payload[0] = KIND_OVERFLOW;
        payload[4..8].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
        let next = ids.get(index + 1).map_or(NO_PAGE, |p| p.0);
        payload[8..16].copy_from_slice(&next.to_le_bytes());
        payload[DATA_OFFSET..DATA_OFFSET + chunk.len()].copy_from_slice(chunk);
        writer.write(id, buf.into_page());
        if let Some(batch) = spill_batch
            && (index + 1) % batch == 0
        {
            writer.spill(&ids[index + 1 - batch..=index])?;
        }
    }
    Ok(ids[0])
}

/// Calls `visit(page, data)` for each page of the chain of `len` bytes starting at `first`,
/// checking its structure.
fn walk(
    pages: Pages<'_>,
    first: PageId,
    len: usize,
    mut visit: impl FnMut(PageId, &[u8]),
) -> Result<()> {
    let per_page = data_per_page(pages.store().payload_size());
    let count = len.div_ceil(per_page).max(1);
    let mut next = first.0;
    let mut remaining = len;
    for index in 0..count {
        if next == NO_PAGE {
            return Err(corrupt(
                first,
                format!("overflow chain ends after {index} pages"),
            ));
        }
        let id = PageId(next);
        let page = pages.read(id)?;
        if page.first() != Some(&KIND_OVERFLOW) {
            return Err(corrupt(id, "expected an overflow page"));
        }
        let chunk = get_u32(&page, 4).unwrap_or(u32::MAX) as usize;
        if chunk > per_page || chunk > remaining || (chunk < per_page && chunk != remaining) {
            return Err(corrupt(id, "overflow page length does not fit the chain"));
        }
        visit(id, &page[DATA_OFFSET..DATA_OFFSET + chunk]);
        remaining -= chunk;
        next = get_u64(&page, 8).unwrap_or(NO_PAGE);
    }
    if next != NO_PAGE || remaining != 0 {
        return Err(corrupt(first, "overflow chain longer than its entry says"));
    }
    Ok(())
}

/// Bytes reserved up front for a chain's value: `len` comes from a leaf entry, which a damaged
/// page may forge, so beyond this the buffer grows only as the verified chain delivers.
const CHAIN_RESERVE_MAX: usize = 16 << 20;

/// Reads a chain of `len` bytes.
pub(crate) fn read_chain(pages: Pages<'_>, first: PageId, len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len.min(CHAIN_RESERVE_MAX));
    walk(pages, first, len, |_, data| out.extend_from_slice(data))?;
    Ok(out)
}

/// The pages of a chain (for freeing and integrity checks).
pub(crate) fn chain_pages(pages: Pages<'_>, first: PageId, len: usize) -> Result<Vec<PageId>> {
    let mut ids = Vec::new();
    walk(pages, first, len, |id, _| ids.push(id))?;
    Ok(ids)
}

/// Frees every page of a chain (which may be the transaction's own).
pub(crate) fn free_chain(writer: &mut PageWriter, first: PageId, len: usize) -> Result<()> {
    let store = writer.store().clone();
    let ids = chain_pages(Pages::new(&store, Some(writer)), first, len)?;
    for page in ids {
        writer.free(page);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use folio_io::MemoryStorage;
    use folio_pagestore::{PageStore, PageStoreOptions};

    use super::{read_chain, write_chain};
    use crate::pages::Pages;

    /// A leaf entry's length may be forged (page checksums are not MACs): reading the chain
    /// must fail on the chain it finds, not first reserve what the entry claims.
    #[test]
    fn a_forged_length_is_an_error_not_a_huge_allocation() {
        let store =
            PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
        let mut writer = store.writer();
        let value = vec![7u8; 10_000];
        let first = write_chain(&mut writer, &value).unwrap();
        let pages = Pages::new(&store, Some(&writer));
        assert_eq!(read_chain(pages, first, value.len()).unwrap(), value);
        let forged = usize::MAX / 4;
        assert!(read_chain(pages, first, forged).is_err());
    }
}
