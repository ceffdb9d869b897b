//! Segment files: naming, header, and the [`SegmentSink`] the group-commit leader writes
//! through.
//!
//! ```text
//! segment file "{first_lsn:020}.wal", preallocated to its capacity with zeros
//!   0  magic         [u8; 8]  b"FOLIOWAL"
//!   8  format        u32      SEGMENT_FORMAT_VERSION
//!  12  reserved      u32      zero
//!  16  first_lsn     u64      LSN of the first record (equals the name)
//!  24  reserved      [u8; 32] zero
//!  56  checksum      u64      xxh3_64 of bytes 0..56
//!  64  records, back to back (see `record.rs`), then zeros
//! ```
//! A segment is created, preallocated, given its header and synced, and only then written
//! to; a crash during creation leaves a segment with a bad header and nothing after it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::IoSlice;
use std::sync::Arc;

use folio_io::{Directory, Storage};
use xxhash_rust::xxh3::xxh3_64;

use crate::group_commit::{BatchSink, PendingRecord, SinkError};
use crate::record::{RECORD_HEADER_BYTES, encode_header, framed_len, padding_len};
use crate::{Error, Lsn, Result};

/// Bytes of a segment header; records start here.
pub const SEGMENT_HEADER_BYTES: u64 = 64;
/// The segment format this build writes and the newest it reads.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
const SEGMENT_MAGIC: [u8; 8] = *b"FOLIOWAL";
const SEGMENT_SUFFIX: &str = ".wal";
/// Padding source: records are padded to [`crate::record::RECORD_ALIGN`] bytes with zeros.
const ZEROS: [u8; crate::record::RECORD_ALIGN] = [0; crate::record::RECORD_ALIGN];

/// The file name of the segment starting at `first_lsn`.
pub fn segment_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:020}{SEGMENT_SUFFIX}")
}

/// The first LSN encoded in a segment file name, if it is one.
pub fn parse_segment_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// Encodes a segment header.
pub fn encode_segment_header(first_lsn: Lsn) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first_lsn.to_le_bytes());
    seal_header(&mut header);
    header
}

/// Why a segment header was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentHeaderError {
    /// All zero: the segment's creation did not finish.
    Unwritten,
    /// Written by a newer format.
    NewerFormat(u32),
    /// Damaged or foreign.
    Corrupt(String),
}

/// Writes the checksum of the segment header at the start of `bytes`, when it fits (the
/// encoder's last step; the fuzz targets call it to get past the check).
pub fn seal_header(bytes: &mut [u8]) {
    if bytes.len() >= SEGMENT_HEADER_BYTES as usize {
        let checksum = xxh3_64(&bytes[..56]);
        bytes[56..64].copy_from_slice(&checksum.to_le_bytes());
    }
}

/// Decodes a segment header and returns its first LSN.
pub fn decode_segment_header(bytes: &[u8]) -> Result<Lsn, SegmentHeaderError> {
    if bytes.len() < SEGMENT_HEADER_BYTES as usize {
        return Err(if bytes.iter().all(|&b| b == 0) {
            SegmentHeaderError::Unwritten
        } else {
            SegmentHeaderError::Corrupt("shorter than a header".into())
        });
    }
    let header = &bytes[..SEGMENT_HEADER_BYTES as usize];
    if header.iter().all(|&b| b == 0) {
        return Err(SegmentHeaderError::Unwritten);
    }
    if header[..8] != SEGMENT_MAGIC {
        return Err(SegmentHeaderError::Corrupt("bad magic".into()));
    }
    let format = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if format > SEGMENT_FORMAT_VERSION {
        return Err(SegmentHeaderError::NewerFormat(format));
    }
    let stored = u64::from_le_bytes(header[56..].try_into().expect("8 bytes"));
    if stored != xxh3_64(&header[..56]) {
        return Err(SegmentHeaderError::Corrupt("checksum mismatch".into()));
    }
    Ok(u64::from_le_bytes(
        header[16..24].try_into().expect("8 bytes"),
    ))
}

/// Creates segment `first_lsn` with `capacity` bytes: preallocated, header written, synced.
/// Bytes a new log's first segment starts with; it grows in place up to
/// [`crate::WalOptions::segment_bytes`] as records arrive.
pub(crate) const FIRST_SEGMENT_BYTES: u64 = 64 * 1024;

/// How much a segment grows at a time. The first sync after a growth also writes the new
/// length (a journal commit, milliseconds), and every committer waits for it, so growth
/// steps are few: 64 KiB to 64 MiB in five.
const GROWTH_FACTOR: u64 = 4;

pub(crate) fn create_segment(
    directory: &dyn Directory,
    first_lsn: Lsn,
    capacity: u64,
) -> Result<Arc<dyn Storage>> {
    let storage = directory.open(&segment_name(first_lsn), true)?;
    storage.allocate(capacity)?;
    storage.write_all_at(&encode_segment_header(first_lsn), 0)?;
    storage.sync_data()?;
    Ok(storage)
}

/// The segments of a log, by first LSN, shared between the writer and readers.
pub(crate) type SegmentMap = BTreeMap<Lsn, Arc<dyn Storage>>;

/// Where the leader appends.
#[derive(Debug)]
pub(crate) struct WritePosition {
    pub(crate) segments: SegmentMap,
    /// First LSN of the segment being appended to (the last in `segments`).
    pub(crate) current: Lsn,
    /// Next byte to write in it.
    pub(crate) offset: u64,
    /// Its length (preallocated).
    pub(crate) capacity: u64,
    /// Writes into the current segment so far, and how many of them a completed sync
    /// covered (counters, not a flag: a sync racing a write must not mark it synced).
    pub(crate) writes: u64,
    pub(crate) synced_writes: u64,
}

impl WritePosition {
    /// Makes the new, empty segment `first` (of `capacity` bytes) the one appended to.
    fn switch_to(&mut self, first: Lsn, storage: Arc<dyn Storage>, capacity: u64) {
        self.segments.insert(first, storage);
        self.current = first;
        self.offset = SEGMENT_HEADER_BYTES;
        self.capacity = capacity;
        self.writes = 0;
        self.synced_writes = 0;
    }
}

/// The real sink: writes batches into segment files, rolling to a new segment when a batch
/// does not fit.
#[derive(Debug)]
pub(crate) struct SegmentSink {
    directory: Arc<dyn Directory>,
    segment_bytes: u64,
    /// Locked by the leader for its round and by readers and truncation briefly; never
    /// contended by appenders.
    position: parking_lot::Mutex<WritePosition>,
    /// Encrypted logs: seals each payload as the leader writes it (the LSN is known then).
    cipher: Option<Arc<folio_io::Cipher>>,
    /// Written payloads kept for log consumers, once one asked.
    pub(crate) recent: Arc<crate::recent::RecentRecords>,
}

impl SegmentSink {
    pub(crate) fn new(
        directory: Arc<dyn Directory>,
        segment_bytes: u64,
        position: WritePosition,
        cipher: Option<Arc<folio_io::Cipher>>,
    ) -> Self {
        Self {
            directory,
            segment_bytes,
            position: parking_lot::Mutex::new(position),
            cipher,
            recent: Arc::default(),
        }
    }

    pub(crate) fn cipher(&self) -> Option<Arc<folio_io::Cipher>> {
        self.cipher.clone()
    }

    pub(crate) fn directory(&self) -> &Arc<dyn Directory> {
        &self.directory
    }

    pub(crate) fn position(&self) -> parking_lot::MutexGuard<'_, WritePosition> {
        self.position.lock()
    }

    /// The current segment; [`Error::Closed`] once [`SegmentSink::release`] let go of it.
    fn storage(position: &WritePosition) -> Result<&Arc<dyn Storage>> {
        position
            .segments
            .get(&position.current)
            .ok_or(Error::Closed)
    }

    /// Leaves the log as one new segment of [`FIRST_SEGMENT_BYTES`] named `next` (the next
    /// LSN), removing the older ones: only when every record below `next` is covered
    /// elsewhere and the log is closed and drained. Each step leaves a log that recovers:
    /// the new segment continues the old ones' LSNs (as a roll), and removing covered
    /// segments is what truncation does.
    pub(crate) fn restart_at(&self, next: Lsn) -> Result<()> {
        let mut position = self.position.lock();
        if position.current == next && position.segments.len() == 1 {
            return Ok(()); // already a lone segment starting at `next`
        }
        if position.current != next {
            let storage = create_segment(&*self.directory, next, FIRST_SEGMENT_BYTES)?;
            position.switch_to(next, storage, FIRST_SEGMENT_BYTES);
        }
        let older: Vec<Lsn> = position
            .segments
            .range(..next)
            .map(|(lsn, _)| *lsn)
            .collect();
        for first in older {
            self.directory.remove(&segment_name(first))?;
            position.segments.remove(&first);
        }
        Ok(())
    }

    /// Drops every segment file handle (the log is closed and drained).
    pub(crate) fn release(&self) {
        self.position.lock().segments.clear();
    }
}

impl SegmentSink {
    /// Makes room for `total` bytes of records starting at LSN `first` (the batch's first).
    ///
    /// A segment below `segment_bytes` grows in place, by [`GROWTH_FACTOR`] (a new log
    /// starts at [`FIRST_SEGMENT_BYTES`], so a small database has a small log); a full one
    /// is rolled past. Every segment in the map starts at or below the current one, and the current one
    /// holds records below `first` unless it is empty, in which case its name *is* `first` (a
    /// crash between a roll and its first record leaves exactly that). So an empty current
    /// segment is always grown in place: a roll never reuses the name of a segment that
    /// exists.
    ///
    /// Growing keeps what the segment holds and adds zeros: a crash before a record is synced
    /// into the new space finds the records before it, then zeros (the torn-tail case).
    /// Failures that change nothing durable (growing or creating a segment) refuse the batch
    /// without poisoning the log; a failed sync of the old segment poisons it.
    fn make_room(
        &self,
        position: &mut WritePosition,
        first: Lsn,
        total: u64,
    ) -> Result<(), SinkError> {
        let full = self.segment_bytes.next_multiple_of(4096);
        let needed = position.offset + total;
        if position.current == first || needed <= full {
            debug_assert!(position.current != first || position.offset == SEGMENT_HEADER_BYTES);
            let capacity = needed
                .max(position.capacity.saturating_mul(GROWTH_FACTOR).min(full))
                .next_multiple_of(4096);
            Self::storage(position)?
                .allocate(capacity)
                .map_err(|error| SinkError::Refused(error.into()))?;
            position.capacity = capacity;
            return Ok(());
        }
        // A log that filled a segment is busy: the next one starts at full size.
        let capacity = full
            .max(SEGMENT_HEADER_BYTES + total)
            .next_multiple_of(4096);
        // The old segment's unsynced records must be durable before any record of the new
        // one can be, or a crash could keep a later record and lose an earlier.
        if position.writes > position.synced_writes {
            Self::storage(position)?.sync_data()?;
            position.synced_writes = position.writes;
        }
        let storage = match create_segment(&*self.directory, first, capacity) {
            Ok(storage) => storage,
            Err(error) => {
                // Nothing is written to it yet. Remove what was made, so no segment named
                // `first` is left behind the records the current one will take instead; if
                // even that fails, the directory's state is unknown: poison.
                return match self.directory.remove(&segment_name(first)) {
                    Ok(()) => Err(SinkError::Refused(error)),
                    Err(_) => Err(SinkError::Failed(error)),
                };
            }
        };
        position.switch_to(first, storage, capacity);
        Ok(())
    }
}

impl BatchSink for SegmentSink {
    fn write(&self, batch: &[PendingRecord]) -> Result<(), SinkError> {
        // Each record's payload as written, with its hash (the checksum covers the bytes
        // written): the appender's bytes and hash, or the payload sealed to its LSN.
        let stored: Vec<(Cow<'_, [u8]>, u64)> = batch
            .iter()
            .map(|r| match &self.cipher {
                Some(cipher) => {
                    let sealed = cipher.seal(&r.lsn.to_le_bytes(), &r.payload);
                    let hash = crate::record::payload_hash(&sealed);
                    (Cow::Owned(sealed), hash)
                }
                None => (Cow::Borrowed(&r.payload[..]), r.payload_hash),
            })
            .collect();
        let total: u64 = stored
            .iter()
            .map(|(payload, _)| framed_len(payload.len()) as u64)
            .sum();
        let mut position = self.position.lock();
        if position.offset + total > position.capacity {
            self.make_room(&mut position, batch[0].lsn, total)?;
        }
        let headers: Vec<[u8; RECORD_HEADER_BYTES]> = batch
            .iter()
            .zip(&stored)
            .map(|(r, (payload, hash))| {
                encode_header(payload.len() as u32, r.lsn, r.durable_before, *hash)
            })
            .collect();
        let mut slices = Vec::with_capacity(batch.len() * 3);
        for (header, (payload, _)) in headers.iter().zip(&stored) {
            slices.push(IoSlice::new(header));
            slices.push(IoSlice::new(payload));
            let padding = padding_len(payload.len());
            if padding > 0 {
                slices.push(IoSlice::new(&ZEROS[..padding]));
            }
        }
        Self::storage(&position)?.write_all_vectored_at(&slices, position.offset)?;
        position.offset += total;
        position.writes += 1;
        Ok(())
    }

    fn written(&self, batch: Vec<PendingRecord>) {
        self.recent.keep(batch);
    }

    fn sync(&self) -> Result<()> {
        // Sync without the position lock, so the next batch can be written meanwhile. The
        // segment current now holds every record written so far (a roll syncs the old one
        // before switching), so syncing it covers them.
        let (storage, first, writes) = {
            let position = self.position.lock();
            (
                Arc::clone(Self::storage(&position)?),
                position.current,
                position.writes,
            )
        };
        storage.sync_data()?;
        let mut position = self.position.lock();
        if position.current == first {
            position.synced_writes = position.synced_writes.max(writes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_lsn() {
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert!(segment_name(9) < segment_name(10));
        assert_eq!(parse_segment_name("00000000000000000042.wal.tmp"), None);
        assert_eq!(parse_segment_name("notes.txt"), None);
    }

    #[test]
    fn headers_round_trip_and_reject_damage() {
        let header = encode_segment_header(77);
        assert_eq!(decode_segment_header(&header), Ok(77));
        assert_eq!(
            decode_segment_header(&[0u8; 64]),
            Err(SegmentHeaderError::Unwritten)
        );
        for byte in 0..64 {
            let mut corrupt = header;
            corrupt[byte] ^= 0x10;
            assert!(decode_segment_header(&corrupt).is_err(), "flip at {byte}");
        }
    }
}
