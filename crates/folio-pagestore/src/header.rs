//! The file header: two checksummed commit slots; the newest valid one wins on open.
//!
//! ```text
//! file offset 0      HEADER_SLOT_BYTES   2 * HEADER_SLOT_BYTES      data_offset
//! ┌──────────────────┬──────────────────┬─ zero padding up to ─┬──────────────────
//! │ slot 0           │ slot 1           │ a page boundary      │ page 0, page 1, ...
//! └──────────────────┴──────────────────┴──────────────────────┴──────────────────
//!
//! one slot (all integers little-endian)
//!   0  magic           [u8; 8]  b"FOLIOPS\0"
//!   8  format_version  u32      FORMAT_VERSION
//!  12  page_size       u32      power of two, 4 KiB ..= 64 KiB
//!  16  sequence        u64      +1 per checkpoint; slot = sequence % 2
//!  24  version         u64      caller's version of the checkpointed state
//!  32  high_water      u64      pages ever allocated: valid page ids are < high_water
//!  40  freelist_head   u64      first freelist page, NO_PAGE when the list is empty
//!  48  freelist_pages  u32      pages in the freelist chain
//!  52  roots_len       u32      bytes of `roots`, <= ROOTS_MAX_BYTES
//!  56  free_extents    u64      extents stored in the freelist chain
//!  64  free_pages      u64      pages those extents cover
//!  72  retired         u32      1: a retired slot (see below), else 0
//!  76  cipher          u8       0: plain; 1: pages sealed with XChaCha20-Poly1305
//!  77  reserved        [u8; 3]  zero
//!  80  key_check       [u8; 40] encrypted files: an empty plaintext sealed under the key
//!                               (folio_io::cipher), so a wrong key is told apart from
//!                               damage; reveals nothing of the key. Zero when plain
//! 120  reserved        [u8; 8]  zero
//! 128  roots           [u8; roots_len] opaque to the page store (the layer above's roots)
//! ...  zero
//! HEADER_SLOT_BYTES - 8  checksum u64  xxh3_64 of every byte before it
//! ```
//! A slot is written only when the other slot holds the last durable state, and only after
//! everything it refers to is synced; a torn slot fails its checksum and the other wins.
//!
//! **A slot that decodes as a state always names pages that hold it**, so if the newest slot
//! rots, open either falls back to an intact older state or fails with a typed error; it
//! never reads pages reused since as the older state's (page checksums, seeded by page id,
//! cannot tell them apart). Two rules keep it: pages the older slot's state reaches (freed
//! by the commits a checkpoint covers, and its free-list pages) are reused only after the
//! *next* checkpoint has written over that slot (`FileAllocator::finish_checkpoint`); and
//! a store opened with both slots valid, whose free set may hold pages the older state
//! reaches, **retires** the older slot (magic, format, page size, the durable sequence,
//! `retired = 1`, checksum; synced) before it first writes pages into the file. A session
//! that only reads writes nothing.

use folio_io::cipher::{CIPHER_XCHACHA20_POLY1305, SEAL_OVERHEAD};
use xxhash_rust::xxh3::xxh3_64;

use crate::{Error, Result};

/// The folio page-store magic bytes.
pub const MAGIC: [u8; 8] = *b"FOLIOPS\0";
/// The on-disk format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of one header slot: one 4 KiB block, so a slot never straddles a device block.
pub const HEADER_SLOT_BYTES: usize = 4096;
/// Marks "no page" in page-id fields.
pub const NO_PAGE: u64 = u64::MAX;

const MAGIC_OFFSET: usize = 0;
const FORMAT_OFFSET: usize = MAGIC_OFFSET + 8;
const PAGE_SIZE_OFFSET: usize = FORMAT_OFFSET + 4;
const SEQUENCE_OFFSET: usize = PAGE_SIZE_OFFSET + 4;
const VERSION_OFFSET: usize = SEQUENCE_OFFSET + 8;
const HIGH_WATER_OFFSET: usize = VERSION_OFFSET + 8;
const FREELIST_HEAD_OFFSET: usize = HIGH_WATER_OFFSET + 8;
const FREELIST_PAGES_OFFSET: usize = FREELIST_HEAD_OFFSET + 8;
const ROOTS_LEN_OFFSET: usize = FREELIST_PAGES_OFFSET + 4;
const FREE_EXTENTS_OFFSET: usize = ROOTS_LEN_OFFSET + 4;
const FREE_PAGES_OFFSET: usize = FREE_EXTENTS_OFFSET + 8;
const RETIRED_OFFSET: usize = FREE_PAGES_OFFSET + 8;
const CIPHER_OFFSET: usize = RETIRED_OFFSET + 4;
const KEY_CHECK_OFFSET: usize = CIPHER_OFFSET + 4;
const RESERVED_OFFSET: usize = KEY_CHECK_OFFSET + SEAL_OVERHEAD;
const ROOTS_OFFSET: usize = 128;
const CHECKSUM_OFFSET: usize = HEADER_SLOT_BYTES - 8;

/// Most bytes of caller roots a slot holds.
pub const ROOTS_MAX_BYTES: usize = CHECKSUM_OFFSET - ROOTS_OFFSET;

const _: () = assert!(RESERVED_OFFSET <= ROOTS_OFFSET);
const _: () = assert!(HEADER_SLOT_BYTES.is_multiple_of(folio_io::SECTOR_BYTES));

/// The decoded contents of one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSlot {
    /// Page size of the file.
    pub page_size: u32,
    /// Checkpoint counter; the larger valid one wins.
    pub sequence: u64,
    /// The caller's version at this checkpoint.
    pub version: u64,
    /// Pages ever allocated.
    pub high_water: u64,
    /// First freelist page or [`NO_PAGE`].
    pub freelist_head: u64,
    /// Pages in the freelist chain.
    pub freelist_pages: u32,
    /// Extents stored in the freelist chain.
    pub free_extents: u64,
    /// Pages those extents cover.
    pub free_pages: u64,
    /// The caller's roots.
    pub roots: Vec<u8>,
    /// Encrypted files: the key check ([`folio_io::Cipher::key_check`]); `None` when plain.
    pub key_check: Option<[u8; SEAL_OVERHEAD]>,
}

/// Byte offset of slot `index` (0 or 1).
pub fn slot_offset(index: u64) -> u64 {
    (index % 2) * HEADER_SLOT_BYTES as u64
}

/// Where page 0 starts for a given page size: after both slots, on a page boundary.
pub fn data_offset(page_size: usize) -> u64 {
    (2 * HEADER_SLOT_BYTES).next_multiple_of(page_size) as u64
}

/// Writes the checksum of a slot-sized `bytes` over everything before it (what every encoder
/// ends with; the fuzz targets call it to get past the check).
pub(crate) fn seal_slot(bytes: &mut [u8]) {
    if bytes.len() == HEADER_SLOT_BYTES {
        let checksum = xxh3_64(&bytes[..CHECKSUM_OFFSET]);
        put_u64(bytes, CHECKSUM_OFFSET, checksum);
    }
}

impl HeaderSlot {
    /// Encodes the slot into `HEADER_SLOT_BYTES` bytes, checksum included.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.roots.len() > ROOTS_MAX_BYTES {
            return Err(Error::RootsTooLarge {
                len: self.roots.len(),
                max: ROOTS_MAX_BYTES,
            });
        }
        let mut out = vec![0u8; HEADER_SLOT_BYTES];
        out[MAGIC_OFFSET..FORMAT_OFFSET].copy_from_slice(&MAGIC);
        put_u32(&mut out, FORMAT_OFFSET, FORMAT_VERSION);
        put_u32(&mut out, PAGE_SIZE_OFFSET, self.page_size);
        put_u64(&mut out, SEQUENCE_OFFSET, self.sequence);
        put_u64(&mut out, VERSION_OFFSET, self.version);
        put_u64(&mut out, HIGH_WATER_OFFSET, self.high_water);
        put_u64(&mut out, FREELIST_HEAD_OFFSET, self.freelist_head);
        put_u32(&mut out, FREELIST_PAGES_OFFSET, self.freelist_pages);
        put_u32(&mut out, ROOTS_LEN_OFFSET, self.roots.len() as u32);
        put_u64(&mut out, FREE_EXTENTS_OFFSET, self.free_extents);
        put_u64(&mut out, FREE_PAGES_OFFSET, self.free_pages);
        if let Some(check) = &self.key_check {
            out[CIPHER_OFFSET] = CIPHER_XCHACHA20_POLY1305;
            out[KEY_CHECK_OFFSET..KEY_CHECK_OFFSET + SEAL_OVERHEAD].copy_from_slice(check);
        }
        out[ROOTS_OFFSET..ROOTS_OFFSET + self.roots.len()].copy_from_slice(&self.roots);
        seal_slot(&mut out);
        Ok(out)
    }

    /// A retired slot: the state it held was superseded by checkpoint `superseded_by`, and
    /// its pages may be reused from now on.
    pub fn encode_retired(page_size: u32, superseded_by: u64) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_SLOT_BYTES];
        out[MAGIC_OFFSET..FORMAT_OFFSET].copy_from_slice(&MAGIC);
        put_u32(&mut out, FORMAT_OFFSET, FORMAT_VERSION);
        put_u32(&mut out, PAGE_SIZE_OFFSET, page_size);
        put_u64(&mut out, SEQUENCE_OFFSET, superseded_by);
        put_u32(&mut out, RETIRED_OFFSET, 1);
        seal_slot(&mut out);
        out
    }

    /// Decodes one slot, verifying magic, format version, checksum and field ranges.
    pub fn decode(bytes: &[u8]) -> Result<Self, SlotError> {
        if bytes.len() != HEADER_SLOT_BYTES {
            return Err(SlotError::Corrupt("slot has the wrong length".into()));
        }
        if bytes[MAGIC_OFFSET..FORMAT_OFFSET] != MAGIC {
            return Err(SlotError::NoMagic);
        }
        // The version comes before the checksum: a newer format may lay the slot out
        // differently, and must be reported as newer rather than as corrupt.
        let format = get_u32(bytes, FORMAT_OFFSET);
        if format > FORMAT_VERSION {
            return Err(SlotError::NewerFormat(format));
        }
        let stored = get_u64(bytes, CHECKSUM_OFFSET);
        let computed = xxh3_64(&bytes[..CHECKSUM_OFFSET]);
        if stored != computed {
            return Err(SlotError::Corrupt(format!(
                "checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
            )));
        }
        match get_u32(bytes, RETIRED_OFFSET) {
            0 => {}
            1 => return Err(SlotError::Retired(get_u64(bytes, SEQUENCE_OFFSET))),
            other => return Err(SlotError::Corrupt(format!("retired flag {other}"))),
        }
        let page_size = get_u32(bytes, PAGE_SIZE_OFFSET);
        if crate::options::check_page_size(page_size as usize).is_err() {
            return Err(SlotError::Corrupt(format!("invalid page size {page_size}")));
        }
        let roots_len = get_u32(bytes, ROOTS_LEN_OFFSET) as usize;
        if roots_len > ROOTS_MAX_BYTES {
            return Err(SlotError::Corrupt(format!(
                "roots length {roots_len} too large"
            )));
        }
        let key_check = match bytes[CIPHER_OFFSET] {
            0 => None,
            CIPHER_XCHACHA20_POLY1305 => Some(
                bytes[KEY_CHECK_OFFSET..KEY_CHECK_OFFSET + SEAL_OVERHEAD]
                    .try_into()
                    .expect("40-byte field"),
            ),
            other => return Err(SlotError::Corrupt(format!("unknown cipher {other}"))),
        };
        Ok(Self {
            key_check,
            page_size,
            sequence: get_u64(bytes, SEQUENCE_OFFSET),
            version: get_u64(bytes, VERSION_OFFSET),
            high_water: get_u64(bytes, HIGH_WATER_OFFSET),
            freelist_head: get_u64(bytes, FREELIST_HEAD_OFFSET),
            freelist_pages: get_u32(bytes, FREELIST_PAGES_OFFSET),
            free_extents: get_u64(bytes, FREE_EXTENTS_OFFSET),
            free_pages: get_u64(bytes, FREE_PAGES_OFFSET),
            roots: bytes[ROOTS_OFFSET..ROOTS_OFFSET + roots_len].to_vec(),
        })
    }
}

/// Why one slot was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotError {
    /// No magic bytes: never written, or not a folio file.
    NoMagic,
    /// Written by a newer format.
    NewerFormat(u32),
    /// Failed verification.
    Corrupt(String),
    /// Retired when the checkpoint with this sequence superseded it: it names no state.
    Retired(u64),
}

/// Picks the newest valid slot from the two decoded candidates.
pub fn select_slot(
    first: Result<HeaderSlot, SlotError>,
    second: Result<HeaderSlot, SlotError>,
) -> Result<HeaderSlot> {
    match (first, second) {
        (Ok(a), Ok(b)) => Ok(if b.sequence > a.sequence { b } else { a }),
        (Ok(slot), Err(_)) | (Err(_), Ok(slot)) => Ok(slot),
        (Err(SlotError::NewerFormat(found)), _) | (_, Err(SlotError::NewerFormat(found))) => {
            Err(Error::NewerFormat {
                found,
                supported: FORMAT_VERSION,
            })
        }
        (Err(SlotError::NoMagic), Err(SlotError::NoMagic)) => Err(Error::NotAFolioFile),
        (Err(a), Err(b)) => Err(Error::CorruptHeader {
            reason: format!("slot 0: {}; slot 1: {}", describe(&a), describe(&b)),
        }),
    }
}

fn describe(error: &SlotError) -> String {
    match error {
        SlotError::NoMagic => "no magic bytes".into(),
        SlotError::NewerFormat(v) => format!("format version {v}"),
        SlotError::Corrupt(reason) => reason.clone(),
        SlotError::Retired(by) => format!(
            "retired when checkpoint {by} superseded it (its pages may have been reused, so \
             the database cannot fall back to it)"
        ),
    }
}

pub(crate) use folio_io::le::{put_u32, put_u64};

/// A field of a fixed layout (the slot, whose length is checked first; a free-list page,
/// whose entry count is checked against its capacity first): always within `bytes`.
pub(crate) fn get_u32(bytes: &[u8], at: usize) -> u32 {
    folio_io::le::get_u32(bytes, at).expect("field within the fixed layout")
}

/// See [`get_u32`].
pub(crate) fn get_u64(bytes: &[u8], at: usize) -> u64 {
    folio_io::le::get_u64(bytes, at).expect("field within the fixed layout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sequence: u64) -> HeaderSlot {
        HeaderSlot {
            key_check: None,
            page_size: 4096,
            sequence,
            version: 10 * sequence,
            high_water: 77,
            freelist_head: NO_PAGE,
            freelist_pages: 0,
            free_extents: 0,
            free_pages: 0,
            roots: b"roots".to_vec(),
        }
    }

    #[test]
    fn round_trips() {
        let slot = sample(3);
        assert_eq!(HeaderSlot::decode(&slot.encode().unwrap()).unwrap(), slot);
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = sample(1).encode().unwrap();
        for byte in 0..HEADER_SLOT_BYTES {
            for bit in 0..8 {
                let mut corrupt = bytes.clone();
                corrupt[byte] ^= 1 << bit;
                assert!(
                    HeaderSlot::decode(&corrupt).is_err(),
                    "flip at byte {byte} bit {bit} not detected"
                );
            }
        }
    }

    #[test]
    fn newest_valid_slot_wins_and_a_torn_one_falls_back() {
        let old = sample(4);
        let new = sample(5);
        assert_eq!(select_slot(Ok(old.clone()), Ok(new.clone())).unwrap(), new);
        let torn = SlotError::Corrupt("torn".into());
        assert_eq!(select_slot(Ok(old.clone()), Err(torn)).unwrap(), old);
    }

    #[test]
    fn classifies_unreadable_headers() {
        assert!(matches!(
            select_slot(Err(SlotError::NoMagic), Err(SlotError::NoMagic)),
            Err(Error::NotAFolioFile)
        ));
        assert!(matches!(
            select_slot(Err(SlotError::NewerFormat(9)), Err(SlotError::NoMagic)),
            Err(Error::NewerFormat { found: 9, .. })
        ));
        assert!(matches!(
            select_slot(Err(SlotError::Corrupt("a".into())), Err(SlotError::NoMagic)),
            Err(Error::CorruptHeader { .. })
        ));
    }

    #[test]
    fn oversize_roots_are_refused() {
        let mut slot = sample(1);
        slot.roots = vec![0; ROOTS_MAX_BYTES + 1];
        assert!(matches!(slot.encode(), Err(Error::RootsTooLarge { .. })));
    }
}
