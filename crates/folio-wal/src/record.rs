//! Record framing inside a segment.
//!
//! ```text
//! record (integers little-endian), starting at an 8-byte-aligned offset
//!   0  len             u32   payload bytes
//!   4  reserved        u32   zero
//!   8  lsn             u64   >= 1, consecutive across the log
//!  16  durable_before  u64   an LSN known durable when this record was queued (a lower bound)
//!  24  checksum        u64   xxh3_64_with_seed(bytes 0..24, seed = xxh3_64(payload))
//!  32  payload         [u8; len]
//!      padding         zero bytes up to the next multiple of 8
//! ```
//! An all-zero header marks the end of a segment's records (segments are preallocated with
//! zeros). `durable_before` lets recovery tell a torn tail from corruption: a damaged record
//! `L` followed by a valid record whose `durable_before >= L` had been synced, so it is
//! corruption of acknowledged log; otherwise it is the unsynced tail.

use folio_io::le;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::Lsn;

/// Bytes of a record header.
pub const RECORD_HEADER_BYTES: usize = 32;
/// Records start at multiples of this.
pub const RECORD_ALIGN: usize = 8;

const LEN_OFFSET: usize = 0;
const LSN_OFFSET: usize = 8;
const DURABLE_BEFORE_OFFSET: usize = 16;
const CHECKSUM_OFFSET: usize = 24;

const _: () = assert!(CHECKSUM_OFFSET + 8 == RECORD_HEADER_BYTES);
const _: () = assert!(RECORD_HEADER_BYTES.is_multiple_of(RECORD_ALIGN));

/// Bytes a record with `payload_len` bytes of payload occupies, padding included.
pub fn framed_len(payload_len: usize) -> usize {
    (RECORD_HEADER_BYTES + payload_len).next_multiple_of(RECORD_ALIGN)
}

/// Zero bytes to append after a payload of `payload_len` bytes.
pub fn padding_len(payload_len: usize) -> usize {
    framed_len(payload_len) - RECORD_HEADER_BYTES - payload_len
}

/// The hash of a payload, computed by the appender outside every lock.
pub fn payload_hash(payload: &[u8]) -> u64 {
    xxh3_64(payload)
}

/// Encodes a header.
pub fn encode_header(
    len: u32,
    lsn: Lsn,
    durable_before: Lsn,
    payload_hash: u64,
) -> [u8; RECORD_HEADER_BYTES] {
    let mut header = [0u8; RECORD_HEADER_BYTES];
    le::put_u32(&mut header, LEN_OFFSET, len);
    le::put_u64(&mut header, LSN_OFFSET, lsn);
    le::put_u64(&mut header, DURABLE_BEFORE_OFFSET, durable_before);
    let checksum = checksum(&header, payload_hash);
    le::put_u64(&mut header, CHECKSUM_OFFSET, checksum);
    header
}

/// The checksum of a record: its header's fields before the checksum, seeded with its
/// payload's hash.
fn checksum(header: &[u8], payload_hash: u64) -> u64 {
    xxh3_64_with_seed(&header[..CHECKSUM_OFFSET], payload_hash)
}

/// A record decoded from bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Its LSN.
    pub lsn: Lsn,
    /// The durability lower bound stored with it.
    pub durable_before: Lsn,
    /// Its payload.
    pub payload: &'a [u8],
    /// Bytes it occupies, padding included.
    pub framed_len: usize,
}

/// What is at a record position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid record.
    Record(RecordView<'a>),
    /// An all-zero header: no more records in this segment.
    End,
    /// Something that is not a valid record, and why.
    Invalid(String),
}

/// A field of the fixed-size header.
fn u64_at(header: &[u8], at: usize) -> u64 {
    le::get_u64(header, at).expect("field within the record header")
}

/// Decodes the record at the start of `bytes`, accepting payloads up to `record_bytes_max`.
pub fn decode(bytes: &[u8], record_bytes_max: usize) -> Decoded<'_> {
    if bytes.len() < RECORD_HEADER_BYTES {
        return if bytes.iter().all(|&b| b == 0) {
            Decoded::End
        } else {
            Decoded::Invalid("header cut off by the end of the segment".into())
        };
    }
    let header = &bytes[..RECORD_HEADER_BYTES];
    if header.iter().all(|&b| b == 0) {
        return Decoded::End;
    }
    let len = le::get_u32(header, LEN_OFFSET).expect("field within the record header") as usize;
    if len > record_bytes_max {
        return Decoded::Invalid(format!("length {len} exceeds the record limit"));
    }
    let framed = framed_len(len);
    if framed > bytes.len() {
        return Decoded::Invalid(format!("length {len} runs past the end of the segment"));
    }
    let payload = &bytes[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len];
    if u64_at(header, CHECKSUM_OFFSET) != checksum(header, payload_hash(payload)) {
        return Decoded::Invalid("checksum mismatch".into());
    }
    let lsn = u64_at(header, LSN_OFFSET);
    if lsn == 0 {
        return Decoded::Invalid("LSN 0".into());
    }
    Decoded::Record(RecordView {
        lsn,
        durable_before: u64_at(header, DURABLE_BEFORE_OFFSET),
        payload,
        framed_len: framed,
    })
}

/// Rewrites the checksum of the record at the start of `bytes` to match its header and
/// declared payload, when both fit (fuzzing: `testing::fix_record_checksum`).
pub fn fix_checksum(bytes: &mut [u8]) {
    if bytes.len() < RECORD_HEADER_BYTES {
        return;
    }
    let len = le::get_u32(bytes, LEN_OFFSET).expect("field within the record header") as usize;
    let Some(payload) = bytes.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES.saturating_add(len))
    else {
        return;
    };
    let checksum = checksum(bytes, payload_hash(payload));
    le::put_u64(bytes, CHECKSUM_OFFSET, checksum);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8], lsn: Lsn) -> Vec<u8> {
        let mut out =
            encode_header(payload.len() as u32, lsn, lsn - 1, payload_hash(payload)).to_vec();
        out.extend_from_slice(payload);
        out.resize(framed_len(payload.len()), 0);
        out
    }

    #[test]
    fn round_trips_with_padding() {
        for len in [0usize, 1, 7, 8, 9, 100] {
            let payload = vec![0xAB; len];
            let bytes = frame(&payload, 5);
            assert_eq!(bytes.len() % RECORD_ALIGN, 0);
            match decode(&bytes, 1 << 20) {
                Decoded::Record(view) => {
                    assert_eq!(view.lsn, 5);
                    assert_eq!(view.durable_before, 4);
                    assert_eq!(view.payload, &payload[..]);
                    assert_eq!(view.framed_len, bytes.len());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = frame(b"hello, log", 9);
        let payload_end = RECORD_HEADER_BYTES + 10;
        for byte in 0..payload_end {
            for bit in 0..8 {
                let mut corrupt = bytes.clone();
                corrupt[byte] ^= 1 << bit;
                assert!(
                    !matches!(decode(&corrupt, 1 << 20), Decoded::Record(_)),
                    "flip at {byte}.{bit} accepted"
                );
            }
        }
    }

    #[test]
    fn zeros_end_a_segment() {
        assert_eq!(decode(&[0u8; 64], 100), Decoded::End);
        assert_eq!(decode(&[0u8; 8], 100), Decoded::End);
        assert!(matches!(decode(&[1u8; 8], 100), Decoded::Invalid(_)));
    }
}
