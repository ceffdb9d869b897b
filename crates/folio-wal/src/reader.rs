//! [`WalReader`]: iterate records from an LSN (replay after recovery, or a log consumer).

use std::sync::Arc;

use folio_io::Storage;

use crate::record::{Decoded, decode};
use crate::segment::SEGMENT_HEADER_BYTES;
use crate::{Lsn, RecoveryError, Result};

/// Bytes read from a segment at a time (more when one record is larger).
const READ_CHUNK_BYTES: usize = 1 << 20;

/// An iterator over `(lsn, payload)` from a starting LSN to the last record written when the
/// reader was made. Memory: one chunk of 1 MiB, or one record if larger.
#[derive(Debug)]
pub struct WalReader {
    /// Remaining segments (first LSN, storage), in order.
    segments: Vec<(Lsn, Arc<dyn Storage>)>,
    segment_index: usize,
    next_lsn: Lsn,
    end_lsn: Lsn,
    /// Bytes written to the last segment when the reader was made: reads of it stop there
    /// (segments are preallocated, so a read to the file's end would copy zeros: a feed
    /// that keeps up makes a reader per few records, and read 1 MiB each time before).
    end_offset: u64,
    record_bytes_max: usize,
    buffer: Vec<u8>,
    /// File offset of `buffer[0]` in the current segment.
    buffer_offset: u64,
    /// File offset of the next record in the current segment.
    offset: u64,
    /// Encrypted logs: opens each payload (bound to its LSN).
    cipher: Option<Arc<folio_io::Cipher>>,
}

impl WalReader {
    pub(crate) fn new(
        segments: Vec<(Lsn, Arc<dyn Storage>)>,
        from: Lsn,
        (end_lsn, end_offset): (Lsn, u64),
        record_bytes_max: usize,
        cipher: Option<Arc<folio_io::Cipher>>,
    ) -> Self {
        Self {
            cipher,
            segments,
            segment_index: 0,
            next_lsn: from,
            end_lsn,
            end_offset,
            record_bytes_max: record_bytes_max + folio_io::cipher::SEAL_OVERHEAD,
            buffer: Vec::new(),
            buffer_offset: 0,
            offset: SEGMENT_HEADER_BYTES,
        }
    }

    /// Makes `buffer` hold at least `len` bytes from `offset` (fewer at the end of the file).
    fn fill(&mut self, storage: &dyn Storage, len: usize) -> Result<()> {
        let start = (self.offset - self.buffer_offset) as usize;
        if self.offset >= self.buffer_offset && start + len <= self.buffer.len() {
            return Ok(());
        }
        let file_len = storage.len()?;
        let end = if self.segment_index + 1 == self.segments.len() {
            self.end_offset.min(file_len)
        } else {
            file_len
        };
        let want = len.max(READ_CHUNK_BYTES) as u64;
        let read = want.min(end.saturating_sub(self.offset)) as usize;
        self.buffer.resize(read, 0);
        storage.read_exact_at(&mut self.buffer, self.offset)?;
        self.buffer_offset = self.offset;
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<(Lsn, Vec<u8>)>> {
        while self.next_lsn <= self.end_lsn {
            let Some((first, storage)) = self.segments.get(self.segment_index).cloned() else {
                return Ok(None);
            };
            self.fill(&*storage, crate::record::RECORD_HEADER_BYTES)?;
            let mut at = (self.offset - self.buffer_offset) as usize;
            let mut decoded = decode(&self.buffer[at..], self.record_bytes_max);
            // Maybe the record is larger than what is buffered (and at least its length field
            // is: the segment may end before a whole header).
            if let Decoded::Invalid(_) = decoded
                && let Some(len) = self.buffer.get(at..at + 4)
            {
                let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
                if len <= self.record_bytes_max {
                    self.fill(&*storage, crate::record::framed_len(len))?;
                    at = (self.offset - self.buffer_offset) as usize;
                    decoded = decode(&self.buffer[at..], self.record_bytes_max);
                }
            }
            match decoded {
                Decoded::Record(record) => {
                    self.offset += record.framed_len as u64;
                    if record.lsn < self.next_lsn {
                        continue; // before the starting LSN
                    }
                    if record.lsn != self.next_lsn {
                        return Err(RecoveryError::Gap {
                            segment: crate::segment::segment_name(first),
                            expected: self.next_lsn,
                            found: record.lsn,
                        }
                        .into());
                    }
                    self.next_lsn += 1;
                    let Some(cipher) = &self.cipher else {
                        return Ok(Some((record.lsn, record.payload.to_vec())));
                    };
                    // The checksum held, so a failure here is tampering or another key.
                    return match cipher.open(&record.lsn.to_le_bytes(), record.payload) {
                        Ok(payload) => Ok(Some((record.lsn, payload))),
                        Err(error) => Err(RecoveryError::CorruptRecord {
                            lsn: record.lsn,
                            segment: crate::segment::segment_name(first),
                            offset: self.offset - record.framed_len as u64,
                            reason: error.to_string(),
                            witness: self.end_lsn,
                        }
                        .into()),
                    };
                }
                Decoded::End => {
                    self.segment_index += 1;
                    self.offset = SEGMENT_HEADER_BYTES;
                    self.buffer.clear();
                    self.buffer_offset = 0;
                }
                Decoded::Invalid(reason) => {
                    // Everything up to `end_lsn` was written and checked at open, so damage
                    // here is corruption since then; the log's written end stands as witness.
                    return Err(RecoveryError::CorruptRecord {
                        lsn: self.next_lsn,
                        segment: crate::segment::segment_name(first),
                        offset: self.offset,
                        reason,
                        witness: self.end_lsn,
                    }
                    .into());
                }
            }
        }
        Ok(None)
    }
}

impl Iterator for WalReader {
    type Item = Result<(Lsn, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(error) => {
                self.next_lsn = self.end_lsn + 1; // stop after an error
                Some(Err(error))
            }
        }
    }
}
