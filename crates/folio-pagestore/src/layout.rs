//! Where pages live in the file.

use crate::PageId;
use crate::header::data_offset;

/// Maps page ids to byte offsets: page `n` is at `data_offset + n * page_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Bytes per page.
    pub page_size: usize,
    /// Offset of page 0 (after both header slots, page-aligned).
    pub data_offset: u64,
}

impl Layout {
    /// The layout for pages of `page_size` bytes.
    pub fn new(page_size: usize) -> Self {
        Self {
            page_size,
            data_offset: data_offset(page_size),
        }
    }

    /// Byte offset of page `id`.
    pub fn offset(&self, id: PageId) -> u64 {
        self.data_offset + id.0 * self.page_size as u64
    }

    /// File length needed to hold pages `0 .. pages`; `u64::MAX` when that does not fit (a
    /// page count read from a damaged header: no file is that long, so the caller's length
    /// check refuses it instead of overflowing).
    pub fn file_len_for(&self, pages: u64) -> u64 {
        pages
            .saturating_mul(self.page_size as u64)
            .saturating_add(self.data_offset)
    }
}
