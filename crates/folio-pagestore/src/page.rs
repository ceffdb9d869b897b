//! Pages: ids, mutable buffers, and sealed (checksummed, immutable, shared) pages.
//!
//! ```text
//! one page of `page_size` bytes
//! ┌──────────────────────────────────────────────┬──────────────────────┐
//! │ payload: page_size - PAGE_TRAILER_BYTES bytes│ checksum: u64 LE     │
//! └──────────────────────────────────────────────┴──────────────────────┘
//! checksum = xxh3_64_with_seed(payload, seed = page id)
//! ```
//! Seeding with the page id makes a page written at the wrong offset fail verification, and
//! a never-written (zeroed) page fails too.
//!
//! An encrypted file stores each page sealed (`folio_io::cipher`, the page id as associated
//! data) and checksummed; in memory its pages are [`folio_io::cipher::SEAL_OVERHEAD`] bytes
//! shorter ([`buffer_size`]), so the B-tree above sees a smaller page and nothing else:
//!
//! ```text
//! one encrypted page of `page_size` bytes on disk
//! ┌────────────┬──────────────────────────────────────────┬───────────┬──────────────┐
//! │ nonce (24) │ ciphertext of the payload                │ tag (16)  │ checksum u64 │
//! └────────────┴──────────────────────────────────────────┴───────────┴──────────────┘
//! checksum = xxh3_64_with_seed(nonce .. tag, seed = page id): damage is found before
//! decryption is tried, and a wrong key or a page moved elsewhere fails authentication.
//! ```
//!
//! A page read from a plain file may also live in a read-only memory map of that file
//! ([`Page::is_mapped`]; see `mapped_reads.rs`): the same bytes, borrowed from the map instead
//! of copied into a buffer. Editing one copies it first, as for any shared page.
//!
//! Pages in memory need no checksum: a transaction edits its pages in place many times, and
//! only the bytes that reach the disk must carry one. So the checksum is computed once, by
//! the flush, from the exact bytes it writes ([`Page::checksum`]); pages read from disk are
//! verified before use. [`PageBuf::seal`] stamps one early for callers that want a
//! self-contained page.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use folio_io::cipher::SEAL_OVERHEAD;
use folio_io::{Cipher, MappedBytes};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::{Error, Result};

/// Bytes of a page in memory for a file of `page_size`-byte pages: the same when plain,
/// smaller by the seal's nonce and tag when encrypted.
pub fn buffer_size(page_size: usize, encrypted: bool) -> usize {
    if encrypted {
        page_size - SEAL_OVERHEAD
    } else {
        page_size
    }
}

/// Bytes at the end of every page reserved for its checksum.
pub const PAGE_TRAILER_BYTES: usize = 8;

/// Identifies a data page: page `n` lives at byte `data_offset + n * page_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageId(pub u64);

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A page being built or edited: unique, mutable, not yet checksummed.
#[derive(Clone)]
pub struct PageBuf {
    /// Invariant: never shared while it is a `PageBuf` (the `Arc` is unique), so
    /// [`PageBuf::payload_mut`] can hand out `&mut` and [`PageBuf::seal`] needs no copy.
    bytes: Arc<[u8]>,
}

impl PageBuf {
    /// A zeroed page of `page_size` bytes.
    pub fn zeroed(page_size: usize) -> Self {
        // Collecting a sized iterator allocates the `Arc` once and fills it in place;
        // `Arc::from(vec![..])` would allocate twice and copy.
        Self {
            bytes: std::iter::repeat_n(0u8, page_size).collect(),
        }
    }

    /// The bytes callers may use.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - PAGE_TRAILER_BYTES]
    }

    /// The bytes callers may use, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = self.bytes.len() - PAGE_TRAILER_BYTES;
        let bytes = Arc::get_mut(&mut self.bytes).expect("a PageBuf's Arc is unique until sealed");
        &mut bytes[..len]
    }

    /// Wraps a buffer nothing else refers to.
    pub(crate) fn from_unique(bytes: Arc<[u8]>) -> Self {
        debug_assert_eq!(Arc::strong_count(&bytes), 1);
        Self { bytes }
    }

    /// Freezes the page without a checksum (the flush computes it when the page is written).
    pub fn into_page(self) -> Page {
        Page {
            bytes: PageBytes::Owned(self.bytes),
            from_storage: false,
        }
    }

    /// Stamps the checksum for page `id` and freezes the page.
    pub fn seal(mut self, id: PageId) -> Page {
        let bytes = Arc::get_mut(&mut self.bytes).expect("a PageBuf's Arc is unique until sealed");
        seal_trailer(bytes, id);
        Page {
            bytes: PageBytes::Owned(self.bytes),
            from_storage: false,
        }
    }
}

impl fmt::Debug for PageBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageBuf({} bytes)", self.bytes.len())
    }
}

/// A page: immutable, shared by reference count. Dereferences to its payload.
#[derive(Clone)]
pub struct Page {
    bytes: PageBytes,
    /// Read from storage (its checksum verified) rather than built by this process: the
    /// layer above checks its structure before trusting it for an edit.
    from_storage: bool,
}

/// Where a page's bytes live.
#[derive(Clone)]
enum PageBytes {
    /// A buffer of its own (shared by the page's handles).
    Owned(Arc<[u8]>),
    /// The data file's bytes in a read-only memory map (plain files only).
    Mapped(MappedBytes),
}

impl PageBytes {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            PageBytes::Owned(bytes) => bytes,
            PageBytes::Mapped(bytes) => bytes,
        }
    }
}

impl Page {
    /// The payload (without the trailer).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let bytes = self.bytes.as_slice();
        &bytes[..bytes.len() - PAGE_TRAILER_BYTES]
    }

    /// All bytes as stored, trailer included.
    pub fn stored_bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// The buffer, when this is its only handle (for reuse by the page pool).
    pub(crate) fn into_unique(self) -> Option<Arc<[u8]>> {
        let PageBytes::Owned(mut bytes) = self.bytes else {
            return None;
        };
        Arc::get_mut(&mut bytes)?;
        Some(bytes)
    }

    /// A page of the data file's bytes in a memory map, verified by the caller.
    pub(crate) fn mapped(bytes: MappedBytes) -> Self {
        Self {
            bytes: PageBytes::Mapped(bytes),
            from_storage: true,
        }
    }

    /// True when the bytes are borrowed from a memory map of the data file. Such a page is
    /// valid while the snapshot it was read for lives (its page id is not reused before):
    /// whatever must outlive that copies it ([`Page::detached`]).
    pub fn is_mapped(&self) -> bool {
        matches!(self.bytes, PageBytes::Mapped(_))
    }

    /// The same page in a buffer of its own (a copy when it was mapped), safe to keep for
    /// any length of time.
    #[must_use]
    pub fn detached(self) -> Page {
        match self.bytes {
            PageBytes::Owned(_) => self,
            PageBytes::Mapped(bytes) => Page {
                bytes: PageBytes::Owned(Arc::from(&bytes[..])),
                from_storage: self.from_storage,
            },
        }
    }

    /// True when these bytes were read from storage (verified by their checksum only),
    /// false when this process built them.
    pub fn is_from_storage(&self) -> bool {
        self.from_storage
    }

    /// A mutable copy of the payload, for copy-on-write.
    pub fn to_buf(&self) -> PageBuf {
        PageBuf {
            bytes: Arc::from(self.stored_bytes()),
        }
    }

    /// The payload, mutably: in place when this handle is the page's only one, else after
    /// copying it (other handles keep the old bytes; a mapped page is always copied). The
    /// trailer is cleared: a changed page has no valid checksum until the flush computes one.
    pub fn make_mut(&mut self) -> &mut [u8] {
        self.from_storage = false;
        if let PageBytes::Mapped(mapped) = &self.bytes {
            self.bytes = PageBytes::Owned(Arc::from(&mapped[..]));
        }
        let PageBytes::Owned(bytes) = &mut self.bytes else {
            unreachable!("a mapped page was copied just above");
        };
        let bytes = Arc::make_mut(bytes);
        let split = bytes.len() - PAGE_TRAILER_BYTES;
        bytes[split..].fill(0);
        &mut bytes[..split]
    }

    /// The checksum of the payload as page `id`: what the trailer holds on disk.
    pub fn checksum(&self, id: PageId) -> u64 {
        xxh3_64_with_seed(self.payload(), id.0)
    }

    /// Checks that the stored checksum matches the payload for page `id`.
    pub fn verify(&self, id: PageId) -> Result<()> {
        verify_stored(self.stored_bytes(), id)
    }

    /// Wraps bytes read from storage after verifying them.
    pub(crate) fn from_stored(bytes: Vec<u8>, id: PageId) -> Result<Self> {
        Self::from_stored_buffer(Arc::from(bytes), id)
    }

    /// Wraps a buffer read from storage after verifying it (no copy).
    pub(crate) fn from_stored_buffer(bytes: Arc<[u8]>, id: PageId) -> Result<Self> {
        verify_stored(&bytes, id)?;
        Ok(Self {
            bytes: PageBytes::Owned(bytes),
            from_storage: true,
        })
    }

    /// Opens page `id` as stored in an encrypted file (`stored`: `page_size` bytes) into
    /// `buffer` (its in-memory size): checksum first, then authentication. The trailer of
    /// the opened page holds the payload's checksum, so [`Page::verify`] holds as for plain
    /// pages.
    pub(crate) fn from_sealed(
        stored: &[u8],
        id: PageId,
        cipher: &Cipher,
        mut buffer: Arc<[u8]>,
    ) -> Result<Self> {
        verify_stored(stored, id)?;
        let bytes = Arc::get_mut(&mut buffer).expect("a fresh buffer is unique");
        debug_assert_eq!(bytes.len() + SEAL_OVERHEAD, stored.len());
        let split = bytes.len() - PAGE_TRAILER_BYTES;
        cipher
            .open_into(
                &id.0.to_le_bytes(),
                &stored[..stored.len() - PAGE_TRAILER_BYTES],
                &mut bytes[..split],
            )
            .map_err(|error| Error::CorruptPage {
                page: id,
                reason: error.to_string(),
            })?;
        seal_trailer(bytes, id);
        Ok(Self {
            bytes: PageBytes::Owned(buffer),
            from_storage: true,
        })
    }

    /// The bytes that store this page as page `id` in an encrypted file: its payload sealed,
    /// then the checksum of the sealed bytes.
    pub(crate) fn sealed(&self, id: PageId, cipher: &Cipher) -> Vec<u8> {
        let payload = self.payload();
        let sealed_len = payload.len() + SEAL_OVERHEAD;
        let mut out = vec![0u8; sealed_len + PAGE_TRAILER_BYTES];
        cipher.seal_into(&id.0.to_le_bytes(), payload, &mut out[..sealed_len]);
        let checksum = xxh3_64_with_seed(&out[..sealed_len], id.0);
        out[sealed_len..].copy_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Bytes of memory this page holds (for cache accounting; a mapped page's bytes belong
    /// to the operating system's file cache).
    pub fn memory_bytes(&self) -> usize {
        match &self.bytes {
            PageBytes::Owned(bytes) => bytes.len(),
            PageBytes::Mapped(_) => 0,
        }
    }

    /// True when both handles share the same bytes.
    pub fn ptr_eq(a: &Page, b: &Page) -> bool {
        match (&a.bytes, &b.bytes) {
            (PageBytes::Owned(a), PageBytes::Owned(b)) => Arc::ptr_eq(a, b),
            (PageBytes::Mapped(a), PageBytes::Mapped(b)) => MappedBytes::same_bytes(a, b),
            _ => false,
        }
    }
}

impl Deref for Page {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.payload()
    }
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_mapped() { ", mapped" } else { "" };
        write!(f, "Page({} bytes{kind})", self.stored_bytes().len())
    }
}

/// Writes the trailer of a plain page (`bytes`, trailer included) stored as page `id`: the
/// checksum of everything before it.
pub(crate) fn seal_trailer(bytes: &mut [u8], id: PageId) {
    let split = bytes.len() - PAGE_TRAILER_BYTES;
    let checksum = xxh3_64_with_seed(&bytes[..split], id.0);
    bytes[split..].copy_from_slice(&checksum.to_le_bytes());
}

fn verify_stored(bytes: &[u8], id: PageId) -> Result<()> {
    let split = bytes.len() - PAGE_TRAILER_BYTES;
    let stored = u64::from_le_bytes(bytes[split..].try_into().expect("trailer is 8 bytes"));
    let computed = xxh3_64_with_seed(&bytes[..split], id.0);
    if stored == computed {
        Ok(())
    } else {
        Err(Error::CorruptPage {
            page: id,
            reason: format!("checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_page_verifies_only_under_its_own_id() {
        let mut buf = PageBuf::zeroed(4096);
        buf.payload_mut()[..5].copy_from_slice(b"hello");
        let page = buf.seal(PageId(7));
        page.verify(PageId(7)).unwrap();
        assert!(
            page.verify(PageId(8)).is_err(),
            "misdirected write detected"
        );
        assert_eq!(&page[..5], b"hello");
        assert_eq!(page.len(), 4096 - PAGE_TRAILER_BYTES);
    }

    #[test]
    fn zeroed_storage_is_not_a_valid_page() {
        assert!(Page::from_stored(vec![0u8; 4096], PageId(0)).is_err());
    }

    #[test]
    fn cow_copy_is_independent() {
        let page = PageBuf::zeroed(512).seal(PageId(1));
        let mut copy = page.to_buf();
        copy.payload_mut()[0] = 9;
        assert_eq!(page[0], 0);
        assert_eq!(copy.seal(PageId(1))[0], 9);
    }
}
