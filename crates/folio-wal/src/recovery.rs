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
//!
//! # Memory
//! Segments are read through a [`SegmentWindow`]: a buffer of [`WINDOW_BYTES`] that slides
//! forward, or one record when a record is larger. Opening a log of any size holds that much,
//! not the log (nor one whole segment).

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

/// Bytes a [`SegmentWindow`] reads at a time (more when one record is larger).
const WINDOW_BYTES: usize = 1 << 20;

/// A segment found at open: its header checked, its records not read yet.
struct SegmentFile {
    first_lsn: Lsn,
    name: String,
    storage: Arc<dyn Storage>,
    len: u64,
}

/// A forward-sliding view of a segment's bytes: what recovery reads through, so memory is
/// bounded by the window (or the largest record), not the segment.
struct SegmentWindow<'a> {
    segment: &'a SegmentFile,
    buffer: Vec<u8>,
    /// Segment offset of `buffer[0]`.
    start: u64,
    /// Bytes read from the segment so far.
    bytes_read: u64,
}

impl<'a> SegmentWindow<'a> {
    fn new(segment: &'a SegmentFile) -> Self {
        Self {
            segment,
            buffer: Vec::new(),
            start: 0,
            bytes_read: 0,
        }
    }

    /// The bytes at `at`: `want` of them, or fewer where the segment ends first.
    fn bytes(&mut self, at: u64, want: usize) -> Result<&[u8]> {
        let available = self.segment.len.saturating_sub(at);
        let want = want.min(usize::try_from(available).unwrap_or(usize::MAX));
        let end = self.start + self.buffer.len() as u64;
        if at < self.start || at + want as u64 > end {
            let read = want
                .max(WINDOW_BYTES)
                .min(usize::try_from(available).unwrap_or(usize::MAX));
            self.buffer.resize(read, 0);
            self.segment.storage.read_exact_at(&mut self.buffer, at)?;
            self.start = at;
            self.bytes_read += read as u64;
        }
        let from = (at - self.start) as usize;
        Ok(&self.buffer[from..from + want])
    }

    /// The record (or its absence) at `at`: what `decode` says of the segment's bytes from
    /// `at` to its end, reading only the header and the length it names.
    fn decode_at(&mut self, at: u64, record_bytes_max: usize) -> Result<Decoded<'_>> {
        let header = self.bytes(at, RECORD_HEADER_BYTES)?;
        if header.len() < RECORD_HEADER_BYTES {
            return Ok(decode(
                self.bytes(at, RECORD_HEADER_BYTES)?,
                record_bytes_max,
            ));
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        // A length past the limit is refused by `decode` from the header alone.
        let framed = if len <= record_bytes_max {
            crate::record::framed_len(len)
        } else {
            RECORD_HEADER_BYTES
        };
        Ok(decode(self.bytes(at, framed)?, record_bytes_max))
    }

    /// True when every byte from `at` to the end of the segment is zero.
    fn zero_from(&mut self, at: u64) -> Result<bool> {
        Ok(self.last_non_zero(at)?.is_none())
    }

    /// The offset of the last non-zero byte at or after `at`, if any.
    fn last_non_zero(&mut self, mut at: u64) -> Result<Option<u64>> {
        let mut last = None;
        while at < self.segment.len {
            let chunk = self.bytes(at, WINDOW_BYTES)?;
            if let Some(position) = chunk.iter().rposition(|&b| b != 0) {
                last = Some(at + position as u64);
            }
            at += chunk.len() as u64;
        }
        Ok(last)
    }
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
    for index in 0..segments.len() {
        if index > 0 {
            bytes_checked += segments[index - 1].len;
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
        let (offset, torn) = scan_segment(&segments, index, &mut expected, &mut report, options)?;
        end_offset = offset;
        if torn {
            break;
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
        capacity: last.len,
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

/// Checks the records of segment `index` (rules 2 and 3), the first of which must be
/// `expected` (advanced past the last valid one). Returns where the records end, and whether
/// the segment ended in a torn tail, now zeroed (then no segment follows: rule 3).
fn scan_segment(
    segments: &[SegmentFile],
    index: usize,
    expected: &mut Lsn,
    report: &mut RecoveryReport,
    options: &WalOptions,
) -> Result<(u64, bool)> {
    let record_bytes_max = options.record_bytes_max + folio_io::cipher::SEAL_OVERHEAD;
    let mut window = SegmentWindow::new(&segments[index]);
    let mut offset = SEGMENT_HEADER_BYTES;
    loop {
        // (Owned, so the window can be read again below.)
        let found = match window.decode_at(offset, record_bytes_max)? {
            Decoded::Record(record) => Ok(Some((
                record.lsn,
                record.payload.len() as u64,
                record.framed_len as u64,
            ))),
            Decoded::End => Ok(None),
            Decoded::Invalid(reason) => Err(reason),
        };
        let damage = match found {
            Ok(Some((lsn, payload_len, framed_len))) if lsn == *expected => {
                report.records += 1;
                report.payload_bytes += payload_len;
                *expected += 1;
                offset += framed_len;
                continue;
            }
            Ok(Some((lsn, ..))) => format!("LSN {lsn} where {expected} was expected"),
            // A zero header ends the records only if nothing follows it: a crash can keep
            // later unsynced records while dropping an earlier one.
            Ok(None) if window.zero_from(offset)? => {
                report.bytes_read += window.bytes_read;
                return Ok((offset, false));
            }
            Ok(None) => "a zero header followed by non-zero bytes".to_owned(),
            Err(reason) => reason,
        };
        refuse_acknowledged_damage(
            segments,
            index,
            &mut window,
            offset,
            *expected,
            damage,
            options,
        )?;
        truncate_tail(&mut window, offset, report)?;
        report.bytes_read += window.bytes_read;
        return Ok((offset, true));
    }
}

/// Rule 3: the damaged record `lsn` at `offset` of segment `index` is corruption (an error)
/// when a later segment or a later record proves it had been synced; otherwise it is a torn
/// tail, and this returns `Ok`.
fn refuse_acknowledged_damage(
    segments: &[SegmentFile],
    index: usize,
    window: &mut SegmentWindow<'_>,
    offset: u64,
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
            offset,
            reason,
            next_segment: next.name.clone(),
        }
        .into());
    }
    if let Some(witness) = find_witness(window, offset, lsn, options)? {
        return Err(RecoveryError::CorruptRecord {
            lsn,
            segment: segment.name.clone(),
            offset,
            reason,
            witness,
        }
        .into());
    }
    Ok(())
}

/// Lists, opens and checks the headers of every segment, in LSN order (records are read
/// later, through a window).
fn load_segments(
    directory: &dyn Directory,
    report: &mut RecoveryReport,
) -> Result<Vec<SegmentFile>> {
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
        let len = storage.len()?;
        let mut bytes = vec![0u8; len.min(SEGMENT_HEADER_BYTES) as usize];
        storage.read_exact_at(&mut bytes, 0)?;
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
        segments.push(SegmentFile {
            first_lsn,
            name,
            storage,
            len,
        });
    }
    Ok(segments)
}

/// A valid record after the damaged one at `offset` of the last segment whose
/// `durable_before` shows the damaged record `bad_lsn` had been durable.
fn find_witness(
    window: &mut SegmentWindow<'_>,
    offset: u64,
    bad_lsn: Lsn,
    options: &WalOptions,
) -> Result<Option<Lsn>> {
    let record_bytes_max = options.record_bytes_max + folio_io::cipher::SEAL_OVERHEAD;
    let mut at = offset + RECORD_ALIGN as u64;
    while at + RECORD_HEADER_BYTES as u64 <= window.segment.len {
        // Cheap plausibility before the checksum: LSN and durable_before fields.
        let header = window.bytes(at, RECORD_HEADER_BYTES)?;
        let lsn = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        let durable_before = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
        if lsn > bad_lsn
            && durable_before >= bad_lsn
            && durable_before < lsn
            && let Decoded::Record(record) = window.decode_at(at, record_bytes_max)?
        {
            return Ok(Some(record.lsn));
        }
        at += RECORD_ALIGN as u64;
    }
    Ok(None)
}

/// Zeroes the last segment from `offset` (the torn record) to its last non-zero byte and
/// syncs it, so later appends never meet stale bytes.
fn truncate_tail(
    window: &mut SegmentWindow<'_>,
    offset: u64,
    report: &mut RecoveryReport,
) -> Result<()> {
    let dirty_end = window
        .last_non_zero(offset)?
        .map_or(offset, |last| (last + 1).max(offset));
    if dirty_end > offset {
        const CHUNK: u64 = 1 << 20;
        let zeros = vec![0u8; CHUNK.min(dirty_end - offset) as usize];
        let mut at = offset;
        let storage = &window.segment.storage;
        while at < dirty_end {
            let len = CHUNK.min(dirty_end - at) as usize;
            storage.write_all_at(&zeros[..len], at)?;
            at += len as u64;
        }
        storage.sync_data()?;
        report.torn_tail_bytes = dirty_end - offset;
    }
    Ok(())
}
