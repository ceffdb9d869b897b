//! Opening a log: find the segments, check them, find the end of the valid records, and
//! decide whether damage at the end is a torn tail (truncated) or corruption (an error).
//!
//! # Rules
//! 1. Segments are read in LSN order; each must start where the previous one's records
//!    ended ([`RecoveryError::Gap`] otherwise).
//! 2. Records must carry consecutive LSNs and valid checksums.
//! 3. At the first damaged record `L`: if a later segment exists, `L`'s segment was synced
//!    before that one was created (a roll syncs first), so the damage is not a torn write:
//!    [`RecoveryError::CorruptSealedSegment`]. Otherwise recovery looks at every valid-looking
//!    record after it in the rest of the segment (8-byte aligned). If one of them
//!    has `durable_before >= L`, `L` had been synced before that record was written: the log
//!    is corrupt inside acknowledged records ([`RecoveryError::CorruptRecord`]). Otherwise
//!    `L` and everything after it were never acknowledged as durable: the tail of the segment
//!    is zeroed and synced, so the next append at `L` never meets stale bytes. A crash
//!    during this repair repeats it.
//! 4. A last segment whose header was never written (a crash during its creation) is removed.

use std::sync::Arc;

use folio_io::{Directory, Storage};

use crate::record::{Decoded, RECORD_ALIGN, RECORD_HEADER_BYTES, decode};
use crate::segment::{
    FIRST_SEGMENT_BYTES, SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES, SegmentHeaderError,
    SegmentMap, WritePosition, create_segment, decode_segment_header, parse_segment_name,
};
use crate::{Lsn, RecoveryError, Result, WalOptions};

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments kept.
    pub segments: usize,
    /// Valid records found.
    pub records: u64,
    /// Payload bytes of those records.
    pub payload_bytes: u64,
    /// Bytes of segment files read.
    pub bytes_read: u64,
    /// The oldest LSN in the log (the next LSN if it is empty).
    pub first_lsn: Lsn,
    /// The next LSN to be assigned.
    pub next_lsn: Lsn,
    /// Bytes of a torn tail that were zeroed (0 when the log ended cleanly).
    pub torn_tail_bytes: u64,
    /// Segments removed: after a torn tail, or left unfinished by a crash during creation.
    pub segments_removed: usize,
}

/// Where recovery is, reported after each segment is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryProgress {
    /// Segments checked so far.
    pub segments_done: usize,
    /// Segments to check.
    pub segments_total: usize,
    /// Valid records found so far.
    pub records: u64,
    /// Bytes of the segments checked so far.
    pub bytes: u64,
}

struct LoadedSegment {
    first_lsn: Lsn,
    name: String,
    storage: Arc<dyn Storage>,
    bytes: Vec<u8>,
}

/// Recovers the log in `directory`, creating it when empty.
pub(crate) fn recover(
    directory: &Arc<dyn Directory>,
    options: &WalOptions,
    progress: &mut dyn FnMut(&RecoveryProgress),
) -> Result<(WritePosition, RecoveryReport)> {
    let mut report = RecoveryReport::default();
    let segments = load_segments(&**directory, &mut report)?;
    if segments.is_empty() {
        let capacity = FIRST_SEGMENT_BYTES.min(options.segment_bytes);
        let storage = create_segment(&**directory, 1, capacity)?;
        report.segments = 1;
        report.first_lsn = 1;
        report.next_lsn = 1;
        let position = WritePosition {
            segments: SegmentMap::from([(1, storage)]),
            current: 1,
            offset: SEGMENT_HEADER_BYTES,
            capacity,
            writes: 0,
            synced_writes: 0,
        };
        return Ok((position, report));
    }

    let mut expected = segments[0].first_lsn;
    report.first_lsn = expected;
    let mut end_offset = SEGMENT_HEADER_BYTES;
    let mut bytes_checked = 0;
    'segments: for index in 0..segments.len() {
        if index > 0 {
            bytes_checked += segments[index - 1].bytes.len() as u64;
            progress(&RecoveryProgress {
                segments_done: index,
                segments_total: segments.len(),
                records: report.records,
                bytes: bytes_checked,
            });
        }
        let segment = &segments[index];
        if segment.first_lsn != expected {
            return Err(RecoveryError::Gap {
                segment: segment.name.clone(),
                expected,
                found: segment.first_lsn,
            }
            .into());
        }
        let mut offset = SEGMENT_HEADER_BYTES as usize;
        loop {
            let damage = match decode(
                &segment.bytes[offset..],
                options.record_bytes_max + folio_io::cipher::SEAL_OVERHEAD,
            ) {
                Decoded::Record(record) if record.lsn == expected => {
                    report.records += 1;
                    report.payload_bytes += record.payload.len() as u64;
                    expected += 1;
                    offset += record.framed_len;
                    continue;
                }
                Decoded::Record(record) => {
                    format!("LSN {} where {expected} was expected", record.lsn)
                }
                // A zero header ends the records only if nothing follows it: a crash can keep
                // later unsynced records while dropping an earlier one.
                Decoded::End if segment.bytes[offset..].iter().all(|&b| b == 0) => {
                    end_offset = offset as u64;
                    continue 'segments;
                }
                Decoded::End => "a zero header followed by non-zero bytes".to_owned(),
                Decoded::Invalid(reason) => reason,
            };
            refuse_acknowledged_damage(&segments, index, offset, expected, damage, options)?;
            truncate_tail(segment, offset, &mut report)?;
            end_offset = offset as u64;
            break 'segments;
        }
    }
    progress(&RecoveryProgress {
        segments_done: segments.len(),
        segments_total: segments.len(),
        records: report.records,
        bytes: report.bytes_read,
    });
    let last = segments.last().expect("at least one segment is kept");
    let position = WritePosition {
        current: last.first_lsn,
        offset: end_offset,
        capacity: last.bytes.len() as u64,
        writes: 0,
        synced_writes: 0,
        segments: segments
            .iter()
            .map(|s| (s.first_lsn, Arc::clone(&s.storage)))
            .collect(),
    };
    report.segments = segments.len();
    report.next_lsn = expected;
    Ok((position, report))
}

/// Rule 3: the damaged record `lsn` at `offset` of segment `index` is corruption (an error)
/// when a later segment or a later record proves it had been synced; otherwise it is a torn
/// tail, and this returns `Ok`.
fn refuse_acknowledged_damage(
    segments: &[LoadedSegment],
    index: usize,
    offset: usize,
    lsn: Lsn,
    reason: String,
    options: &WalOptions,
) -> Result<()> {
    let segment = &segments[index];
    if let Some(next) = segments.get(index + 1) {
        // A roll syncs a segment before it creates the next one, so no crash leaves damage
        // in a segment that has a successor.
        return Err(RecoveryError::CorruptSealedSegment {
            lsn,
            segment: segment.name.clone(),
            offset: offset as u64,
            reason,
            next_segment: next.name.clone(),
        }
        .into());
    }
    if let Some(witness) = find_witness(&segment.bytes, offset, lsn, options) {
        return Err(RecoveryError::CorruptRecord {
            lsn,
            segment: segment.name.clone(),
            offset: offset as u64,
            reason,
            witness,
        }
        .into());
    }
    Ok(())
}

/// Lists, opens, reads and checks the headers of every segment, in LSN order.
fn load_segments(
    directory: &dyn Directory,
    report: &mut RecoveryReport,
) -> Result<Vec<LoadedSegment>> {
    let mut named: Vec<(Lsn, String)> = directory
        .list()?
        .into_iter()
        .filter_map(|name| parse_segment_name(&name).map(|lsn| (lsn, name)))
        .collect();
    named.sort();
    let count = named.len();
    let mut segments = Vec::with_capacity(count);
    for (index, (first_lsn, name)) in named.into_iter().enumerate() {
        let storage = directory.open(&name, false)?;
        let mut bytes = vec![0u8; storage.len()? as usize];
        storage.read_exact_at(&mut bytes, 0)?;
        report.bytes_read += bytes.len() as u64;
        match decode_segment_header(&bytes) {
            Ok(lsn) if lsn == first_lsn => {}
            Ok(lsn) => {
                return Err(RecoveryError::CorruptSegmentHeader {
                    segment: name,
                    reason: format!("header says first LSN {lsn}"),
                }
                .into());
            }
            Err(SegmentHeaderError::Unwritten) if index + 1 == count => {
                // Created but never finished: it holds no records.
                directory.remove(&name)?;
                report.segments_removed += 1;
                continue;
            }
            Err(SegmentHeaderError::NewerFormat(found)) => {
                return Err(RecoveryError::NewerFormat {
                    segment: name,
                    found,
                    supported: SEGMENT_FORMAT_VERSION,
                }
                .into());
            }
            Err(SegmentHeaderError::Unwritten) => {
                return Err(RecoveryError::CorruptSegmentHeader {
                    segment: name,
                    reason: "header is zero but later segments exist".into(),
                }
                .into());
            }
            Err(SegmentHeaderError::Corrupt(reason)) => {
                return Err(RecoveryError::CorruptSegmentHeader {
                    segment: name,
                    reason,
                }
                .into());
            }
        }
        segments.push(LoadedSegment {
            first_lsn,
            name,
            storage,
            bytes,
        });
    }
    Ok(segments)
}

/// A valid record after the damaged one at `offset` of the last segment whose
/// `durable_before` shows the damaged record `bad_lsn` had been durable.
fn find_witness(bytes: &[u8], offset: usize, bad_lsn: Lsn, options: &WalOptions) -> Option<Lsn> {
    let mut at = offset + RECORD_ALIGN;
    while at + RECORD_HEADER_BYTES <= bytes.len() {
        // Cheap plausibility before the checksum: LSN and durable_before fields.
        let lsn = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes"));
        let durable_before =
            u64::from_le_bytes(bytes[at + 16..at + 24].try_into().expect("8 bytes"));
        if lsn > bad_lsn
            && durable_before >= bad_lsn
            && durable_before < lsn
            && let Decoded::Record(record) = decode(
                &bytes[at..],
                options.record_bytes_max + folio_io::cipher::SEAL_OVERHEAD,
            )
        {
            return Some(record.lsn);
        }
        at += RECORD_ALIGN;
    }
    None
}

/// Zeroes the last segment from `offset` (the torn record) to its last non-zero byte and
/// syncs it, so later appends never meet stale bytes.
fn truncate_tail(
    segment: &LoadedSegment,
    offset: usize,
    report: &mut RecoveryReport,
) -> Result<()> {
    let dirty_end = segment
        .bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(offset, |last| (last + 1).max(offset));
    if dirty_end > offset {
        const CHUNK: usize = 1 << 20;
        let zeros = vec![0u8; CHUNK.min(dirty_end - offset)];
        let mut at = offset;
        while at < dirty_end {
            let len = CHUNK.min(dirty_end - at);
            segment.storage.write_all_at(&zeros[..len], at as u64)?;
            at += len;
        }
        segment.storage.sync_data()?;
        report.torn_tail_bytes = (dirty_end - offset) as u64;
    }
    Ok(())
}
