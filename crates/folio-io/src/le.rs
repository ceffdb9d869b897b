//! Little-endian integers at byte offsets, the one encoding of every on-disk format in the
//! workspace (page-store header and free list, B-tree nodes, log records).
//!
//! Reads are checked: `None` when the field does not lie within `bytes`, so a length or
//! offset read from disk can never index out of bounds; a caller whose layout is fixed says
//! so with `expect`. Writes panic when out of bounds: callers write into buffers they sized.
//! Every function is `#[inline]`: B-tree node slots are read through them on every descent,
//! from another crate, and release builds do not use link-time optimisation.
//!
//! ```
//! use folio_io::le;
//!
//! let mut buf = [0u8; 12];
//! le::put_u32(&mut buf, 0, 7);
//! le::put_u64(&mut buf, 4, u64::MAX);
//! assert_eq!(le::get_u32(&buf, 0), Some(7));
//! assert_eq!(le::get_u64(&buf, 4), Some(u64::MAX));
//! assert_eq!(le::get_u64(&buf, 5), None); // past the end
//! ```

/// The `u16` at `at`, if it lies within `bytes`.
#[inline]
pub fn get_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(field(bytes, at)?))
}

/// The `u32` at `at`, if it lies within `bytes`.
#[inline]
pub fn get_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(field(bytes, at)?))
}

/// The `u64` at `at`, if it lies within `bytes`.
#[inline]
pub fn get_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(field(bytes, at)?))
}

/// Writes `value` at `at`. Panics when the field does not lie within `bytes`.
#[inline]
pub fn put_u16(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

/// Writes `value` at `at`. Panics when the field does not lie within `bytes`.
#[inline]
pub fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Writes `value` at `at`. Panics when the field does not lie within `bytes`.
#[inline]
pub fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

#[inline]
fn field<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked_at_every_edge() {
        let bytes = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(get_u16(&bytes, 6), Some(0x0807));
        assert_eq!(get_u16(&bytes, 7), None);
        assert_eq!(get_u32(&bytes, 4), Some(0x0807_0605));
        assert_eq!(get_u32(&bytes, 5), None);
        assert_eq!(get_u64(&bytes, 0), Some(0x0807_0605_0403_0201));
        assert_eq!(get_u64(&bytes, 1), None);
        assert_eq!(get_u64(&bytes, usize::MAX), None);
    }
}
