//! The facade's roots: the bytes the page store keeps in its header slot beside each
//! checkpoint, naming what that checkpoint holds.
//!
//! ```text
//! roots   = magic [u8; 8] "FOLIODB2", catalog u64 LE, version u64 LE      (24 bytes)
//!   catalog  the page of the column-family catalog's root (u64::MAX: no catalog yet)
//!   version  the LSN the checkpoint covers: replay starts after it
//! empty   = a data file no checkpoint has written roots to yet (catalog none, version 0)
//! ```
//!
//! `FOLIODB1` named the node format before slotted pages (never released); such a file is
//! refused with a message saying how to move its data.

use folio_io::le;
use folio_pagestore::PageId;
use folio_wal::Lsn;

use crate::{Error, Result};

/// Names the data file's format: `2` since nodes became slotted pages edited in place.
const MAGIC: [u8; 8] = *b"FOLIODB2";
/// The format before slotted nodes (never released).
const MAGIC_V1: [u8; 8] = *b"FOLIODB1";
const BYTES: usize = 24;
/// The catalog field of a database without a catalog page.
const NO_PAGE: u64 = u64::MAX;

/// What a checkpoint's roots name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Roots {
    /// The catalog's root page, if any column family was ever checkpointed.
    pub(crate) catalog: Option<PageId>,
    /// The LSN the checkpoint covers.
    pub(crate) version: Lsn,
}

impl Roots {
    pub(crate) fn encode(self) -> Vec<u8> {
        let mut out = vec![0u8; BYTES];
        out[..8].copy_from_slice(&MAGIC);
        le::put_u64(&mut out, 8, self.catalog.map_or(NO_PAGE, |page| page.0));
        le::put_u64(&mut out, 16, self.version);
        out
    }

    /// Decodes the roots of the header slot in use; [`Error::CorruptRoots`] for anything but
    /// the format above.
    pub(crate) fn decode(roots: &[u8]) -> Result<Self> {
        if roots.is_empty() {
            return Ok(Self {
                catalog: None,
                version: 0,
            });
        }
        if roots.len() == BYTES && roots[..8] == MAGIC_V1 {
            return Err(Error::CorruptRoots {
                reason: "the file was written by a development version of folio with the first node format; dump it with that version and load the dump".into(),
            });
        }
        if roots.len() != BYTES || roots[..8] != MAGIC {
            return Err(Error::CorruptRoots {
                reason: format!(
                    "{} bytes, expected {BYTES} starting with the folio magic",
                    roots.len()
                ),
            });
        }
        let word = |at| le::get_u64(roots, at).expect("the length was checked above");
        let catalog = word(8);
        Ok(Self {
            catalog: (catalog != NO_PAGE).then_some(PageId(catalog)),
            version: word(16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_round_trip_and_refuse_other_bytes() {
        for roots in [
            Roots {
                catalog: None,
                version: 0,
            },
            Roots {
                catalog: Some(PageId(7)),
                version: u64::MAX - 1,
            },
        ] {
            assert_eq!(Roots::decode(&roots.encode()).unwrap(), roots);
        }
        let mut v1 = Roots {
            catalog: None,
            version: 3,
        }
        .encode();
        v1[..8].copy_from_slice(&MAGIC_V1);
        let error = Roots::decode(&v1).unwrap_err().to_string();
        assert!(error.contains("development version"), "{error}");
        for bad in [&b"FOLIODB2"[..], &[0u8; BYTES][..], &[1u8; 40][..]] {
            assert!(matches!(
                Roots::decode(bad),
                Err(Error::CorruptRoots { .. })
            ));
        }
    }
}
