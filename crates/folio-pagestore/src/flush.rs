//! Writing many pages: sorted by offset, one vectored write per contiguous run.

use std::io::IoSlice;

use folio_io::{IOV_MAX, Storage};

use crate::{Layout, Page, PageId, Result};

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

/// Writes `pages` with `strategy`, verifying each page's checksum right before it is written
/// (the write half of the pair assertion at the I/O boundary; reads verify the other half).
/// Sorts `pages` by id when coalescing. Does not sync.
pub fn write_pages(
    storage: &dyn Storage,
    layout: Layout,
    pages: &mut [(PageId, Page)],
    strategy: WriteStrategy,
) -> Result<FlushStats> {
    for (id, page) in pages.iter() {
        page.verify(*id)?;
    }
    let mut stats = FlushStats::default();
    match strategy {
        WriteStrategy::PerPage => {
            for (id, page) in pages.iter() {
                storage.write_all_at(page.stored_bytes(), layout.offset(*id))?;
                stats.write_calls += 1;
                stats.runs += 1;
                stats.pages += 1;
                stats.bytes += page.stored_bytes().len() as u64;
            }
        }
        WriteStrategy::Coalesced => {
            pages.sort_unstable_by_key(|(id, _)| *id);
            for run in pages.chunk_by(|(a, _), (b, _)| a.0 + 1 == b.0) {
                stats.runs += 1;
                for chunk in run.chunks(IOV_MAX) {
                    let slices: Vec<IoSlice<'_>> = chunk
                        .iter()
                        .map(|(_, page)| IoSlice::new(page.stored_bytes()))
                        .collect();
                    storage.write_all_vectored_at(&slices, layout.offset(chunk[0].0))?;
                    stats.write_calls += 1;
                    stats.pages += chunk.len() as u64;
                    stats.bytes += folio_io::total_len(&slices) as u64;
                }
            }
        }
    }
    Ok(stats)
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
        let stats = write_pages(&disk, layout, &mut batch, WriteStrategy::Coalesced).unwrap();
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
        let ids: Vec<u64> = (0..=(IOV_MAX as u64 * 2)).collect();
        let mut batch = pages(&ids);
        let stats = write_pages(
            &disk,
            Layout::new(4096),
            &mut batch,
            WriteStrategy::Coalesced,
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
        let stats =
            write_pages(&disk, Layout::new(4096), &mut batch, WriteStrategy::PerPage).unwrap();
        assert_eq!(stats.write_calls, 3);
        assert_eq!(disk.counts().writes, 3);
    }

    #[test]
    fn a_page_corrupted_in_memory_is_refused_before_it_is_written() {
        let disk = SimStorage::new(0);
        let mut batch = pages(&[1]);
        batch[0].0 = PageId(2); // sealed for 1, about to be written as 2
        assert!(
            write_pages(
                &disk,
                Layout::new(4096),
                &mut batch,
                WriteStrategy::Coalesced
            )
            .is_err()
        );
        assert_eq!(disk.counts().writes, 0);
    }
}
