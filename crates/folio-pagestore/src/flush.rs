//! Writing many pages: sorted by offset, one vectored write per contiguous run.

use std::io::IoSlice;

use folio_io::{Cipher, IOV_MAX, Storage};

use crate::{Layout, PAGE_TRAILER_BYTES, Page, PageId, Result};

/// How [`write_pages`] issues its writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStrategy {
    /// Sort by offset; one vectored write per contiguous run (split every [`IOV_MAX`] pages).
    Coalesced,
    /// One write per page, in the order given: the predecessor's flush, kept only as the
    /// benchmark baseline.
    PerPage,
}

/// What one batch of page writes cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Pages written.
    pub pages: u64,
    /// Contiguous runs among them.
    pub runs: u64,
    /// Write calls issued to the storage (each one system call on a real file).
    pub write_calls: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes `pages` with `strategy`, each page's payload followed by its checksum as page id
/// (computed here, from the very bytes written: pages in memory carry none, see `page.rs`;
/// reads verify it); with `cipher`, each page sealed first (see `page.rs`). Sorts `pages`
/// by id when coalescing. Does not sync.
pub fn write_pages(
    storage: &dyn Storage,
    layout: Layout,
    pages: &mut [(PageId, Page)],
    strategy: WriteStrategy,
    cipher: Option<&Cipher>,
) -> Result<FlushStats> {
    let mut stats = FlushStats::default();
    if strategy == WriteStrategy::Coalesced {
        pages.sort_unstable_by_key(|(id, _)| *id);
    }
    let checksums: Vec<[u8; PAGE_TRAILER_BYTES]> = match cipher {
        None => pages
            .iter()
            .map(|(id, page)| page.checksum(*id).to_le_bytes())
            .collect(),
        Some(_) => Vec::new(),
    };
    let sealed: Vec<Vec<u8>> = match cipher {
        Some(cipher) => seal_all(pages, cipher),
        None => Vec::new(),
    };
    let page_slices = |range: std::ops::Range<usize>| -> Vec<IoSlice<'_>> {
        let mut slices = Vec::with_capacity(2 * range.len());
        for at in range {
            if cipher.is_some() {
                slices.push(IoSlice::new(&sealed[at]));
            } else {
                slices.push(IoSlice::new(pages[at].1.payload()));
                slices.push(IoSlice::new(&checksums[at]));
            }
        }
        slices
    };
    match strategy {
        WriteStrategy::PerPage => {
            for (at, (id, _)) in pages.iter().enumerate() {
                let slices = page_slices(at..at + 1);
                storage.write_all_vectored_at(&slices, layout.offset(*id))?;
                stats.write_calls += 1;
                stats.runs += 1;
                stats.pages += 1;
                stats.bytes += folio_io::total_len(&slices) as u64;
            }
        }
        WriteStrategy::Coalesced => {
            let mut start = 0;
            while start < pages.len() {
                let mut end = start + 1;
                while end < pages.len() && pages[end - 1].0.0 + 1 == pages[end].0.0 {
                    end += 1;
                }
                stats.runs += 1;
                // Two buffers a page: at most IOV_MAX / 2 pages per system call.
                for chunk_start in (start..end).step_by(IOV_MAX / 2) {
                    let chunk = chunk_start..end.min(chunk_start + IOV_MAX / 2);
                    let slices = page_slices(chunk.clone());
                    storage.write_all_vectored_at(&slices, layout.offset(pages[chunk.start].0))?;
                    stats.write_calls += 1;
                    stats.pages += chunk.len() as u64;
                    stats.bytes += folio_io::total_len(&slices) as u64;
                }
                start = end;
            }
        }
    }
    Ok(stats)
}

/// Pages sealed per thread at least: below this, starting a thread costs more than it saves.
const SEAL_PAGES_PER_THREAD: usize = 64;

/// Every page sealed for the file, on as many threads as there are cores when the batch is
/// large (a checkpoint or a bulk load seals thousands of pages; sealing one 4 KiB page takes
/// about 5 µs, most of a checkpoint's CPU time when encrypted).
fn seal_all(pages: &[(PageId, Page)], cipher: &Cipher) -> Vec<Vec<u8>> {
    let seal = |chunk: &[(PageId, Page)]| -> Vec<Vec<u8>> {
        chunk
            .iter()
            .map(|(id, page)| page.sealed(*id, cipher))
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(pages.len() / SEAL_PAGES_PER_THREAD);
    if threads <= 1 {
        return seal(pages);
    }
    let per_thread = pages.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = pages
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || seal(chunk)))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("sealing never panics"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PageBuf;
    use folio_io::SimStorage;

    fn pages(ids: &[u64]) -> Vec<(PageId, Page)> {
        ids.iter()
            .map(|&id| {
                let mut buf = PageBuf::zeroed(4096);
                buf.payload_mut()[0] = id as u8;
                (PageId(id), buf.seal(PageId(id)))
            })
            .collect()
    }

    #[test]
    fn one_write_call_per_contiguous_run() {
        let disk = SimStorage::new(0);
        let layout = Layout::new(4096);
        // Three runs given out of order: 3..=5, 9, 20..=21.
        let mut batch = pages(&[21, 4, 9, 3, 20, 5]);
        let stats = write_pages(&disk, layout, &mut batch, WriteStrategy::Coalesced, None).unwrap();
        assert_eq!(stats.runs, 3);
        assert_eq!(stats.write_calls, 3);
        assert_eq!(disk.counts().writes, 3);
        assert_eq!(disk.counts().write_syscalls, 3);
        let mut byte = [0u8; 1];
        disk.read_exact_at(&mut byte, layout.offset(PageId(9)))
            .unwrap();
        assert_eq!(byte[0], 9);
    }

    #[test]
    fn long_runs_split_at_iov_max() {
        let disk = SimStorage::new(0);
        // Two buffers a page (payload, checksum): IOV_MAX / 2 pages per call.
        let ids: Vec<u64> = (0..=(IOV_MAX as u64)).collect();
        let mut batch = pages(&ids);
        let stats = write_pages(
            &disk,
            Layout::new(4096),
            &mut batch,
            WriteStrategy::Coalesced,
            None,
        )
        .unwrap();
        assert_eq!(stats.runs, 1);
        assert_eq!(stats.write_calls, 3);
        assert_eq!(disk.counts().write_syscalls, 3);
    }

    #[test]
    fn per_page_strategy_writes_each_page() {
        let disk = SimStorage::new(0);
        let mut batch = pages(&[1, 2, 3]);
        let stats = write_pages(
            &disk,
            Layout::new(4096),
            &mut batch,
            WriteStrategy::PerPage,
            None,
        )
        .unwrap();
        assert_eq!(stats.write_calls, 3);
        assert_eq!(disk.counts().writes, 3);
    }

    #[test]
    fn pages_without_a_checksum_are_written_with_one_for_their_own_id() {
        let disk = SimStorage::new(0);
        let layout = Layout::new(4096);
        let mut buf = PageBuf::zeroed(4096);
        buf.payload_mut()[..3].copy_from_slice(b"abc");
        let unsealed = buf.into_page();
        assert!(unsealed.verify(PageId(5)).is_err(), "no checksum in memory");
        let mut batch = vec![(PageId(5), unsealed)];
        write_pages(&disk, layout, &mut batch, WriteStrategy::Coalesced, None).unwrap();
        let mut stored = vec![0u8; 4096];
        disk.read_exact_at(&mut stored, layout.offset(PageId(5)))
            .unwrap();
        let page = Page::from_stored(stored, PageId(5)).unwrap();
        assert_eq!(&page[..3], b"abc");
    }

    #[test]
    fn sealed_batches_large_enough_for_threads_read_back_in_place() {
        let disk = SimStorage::new(0);
        let layout = Layout::new(4096);
        let cipher = Cipher::new(&folio_io::EncryptionKey::from_bytes([5; 32])).unwrap();
        let memory = crate::buffer_size(4096, true);
        let mut batch: Vec<(PageId, Page)> = (0..300u64)
            .rev()
            .map(|id| {
                let mut buf = PageBuf::zeroed(memory);
                buf.payload_mut()[..8].copy_from_slice(&id.to_le_bytes());
                (PageId(id), buf.into_page())
            })
            .collect();
        write_pages(
            &disk,
            layout,
            &mut batch,
            WriteStrategy::Coalesced,
            Some(&cipher),
        )
        .unwrap();
        for id in [0u64, 63, 64, 150, 299] {
            let mut stored = vec![0u8; 4096];
            disk.read_exact_at(&mut stored, layout.offset(PageId(id)))
                .unwrap();
            let buffer: std::sync::Arc<[u8]> = vec![0u8; memory].into();
            let page = Page::from_sealed(&stored, PageId(id), &cipher, buffer).unwrap();
            assert_eq!(
                page[..8],
                id.to_le_bytes(),
                "page {id} landed where it belongs"
            );
            assert!(
                Page::from_sealed(&stored, PageId(id + 1), &cipher, vec![0u8; memory].into())
                    .is_err(),
                "bound to its id"
            );
        }
    }
}
