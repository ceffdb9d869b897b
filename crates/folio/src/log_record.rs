//! What folio writes into the write-ahead log: one record per commit or column-family
//! operation, holding the operations to replay.
//!
//! ```text
//! record  = count u32, then `count` ops
//! op      = kind u8, cf_id u64, a_len u32, a bytes, b_len u32, b bytes
//!   kind 1 put      (a = key, b = value)
//!   kind 2 delete   (a = key)
//!   kind 3 create   (a = name, b = its compression setting, 5 bytes; empty in records
//!                   written before settings were stored)
//!   kind 4 drop     (a = name)
//!   kind 5 rename   (a = old name, b = new name)
//!   kind 6 unlogged (a, b empty): an unlogged commit (a bulk-load chunk, a large
//!                   transaction) changed this column family without logging its data;
//!                   replay skips it (the commit is durable only once a checkpoint at or
//!                   past this record succeeded, and then replay starts after; no logged
//!                   record follows it before that, see `commit/unlogged.rs`)
//!   kind 7 moved    (a, b empty): compaction moved the column family's pages; its
//!                   contents did not change, so replay has nothing to do
//!   kind 8 delete range (a = start bound, b = end bound; each a tag byte, 0 unbounded,
//!                   1 included, 2 excluded, then the key for the last two)
//!   kind 9 set compression (b = the setting, 5 bytes: codec u8, level i32; see
//!                   `folio_btree::Compression::to_setting_bytes`)
//! ```

use std::ops::Bound;

use folio_wal::Lsn;

use crate::column_family::CfId;
use crate::{Compression, Error, Result};

/// One logged operation, borrowing its bytes from the record (replay keeps records whole
/// instead of copying every key and value out of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogOp<'a> {
    Put {
        cf: CfId,
        key: &'a [u8],
        value: &'a [u8],
    },
    Delete {
        cf: CfId,
        key: &'a [u8],
    },
    CreateCf {
        cf: CfId,
        name: &'a str,
        /// `None` in records written before settings were stored.
        compression: Option<Compression>,
    },
    DropCf {
        cf: CfId,
        name: &'a str,
    },
    RenameCf {
        cf: CfId,
        from: &'a str,
        to: &'a str,
    },
    Unlogged {
        cf: CfId,
    },
    Moved {
        cf: CfId,
    },
    DeleteRange {
        cf: CfId,
        start: Bound<&'a [u8]>,
        end: Bound<&'a [u8]>,
    },
    SetCompression {
        cf: CfId,
        compression: Compression,
    },
}

const PUT: u8 = 1;
const DELETE: u8 = 2;
const CREATE: u8 = 3;
const DROP: u8 = 4;
const RENAME: u8 = 5;
const UNLOGGED: u8 = 6;
const MOVED: u8 = 7;
const DELETE_RANGE: u8 = 8;
const SET_COMPRESSION: u8 = 9;

/// A range bound as a delete-range operation logs it: a tag byte, then the key.
fn encode_bound(bound: &Bound<Vec<u8>>) -> Vec<u8> {
    match bound {
        Bound::Unbounded => vec![0],
        Bound::Included(key) => [&[1u8][..], key].concat(),
        Bound::Excluded(key) => [&[2u8][..], key].concat(),
    }
}

fn decode_bound(bytes: &[u8]) -> Option<Bound<&[u8]>> {
    match bytes.split_first()? {
        (0, []) => Some(Bound::Unbounded),
        (1, key) => Some(Bound::Included(key)),
        (2, key) => Some(Bound::Excluded(key)),
        _ => None,
    }
}

/// Bytes of an operation's header in a record: kind, column family, two lengths.
pub(crate) const OP_HEADER_BYTES: usize = 1 + 8 + 4 + 4;

/// Builds one record incrementally (a write transaction appends as it goes).
#[derive(Debug, Default)]
pub(crate) struct RecordBuilder {
    bytes: Vec<u8>,
    count: u32,
}

impl RecordBuilder {
    pub(crate) fn new() -> Self {
        Self {
            bytes: vec![0; 4],
            count: 0,
        }
    }

    /// Makes room for about `bytes` more of operation data.
    pub(crate) fn reserve(&mut self, bytes: usize) {
        self.bytes.reserve(bytes);
    }

    fn push(&mut self, kind: u8, cf: CfId, a: &[u8], b: &[u8]) {
        self.bytes.push(kind);
        self.bytes.extend_from_slice(&cf.0.to_le_bytes());
        self.bytes
            .extend_from_slice(&(a.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(a);
        self.bytes
            .extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(b);
        self.count += 1;
    }

    pub(crate) fn put(&mut self, cf: CfId, key: &[u8], value: &[u8]) {
        self.push(PUT, cf, key, value);
    }

    pub(crate) fn delete(&mut self, cf: CfId, key: &[u8]) {
        self.push(DELETE, cf, key, &[]);
    }

    pub(crate) fn create_cf(&mut self, cf: CfId, name: &str, compression: Compression) {
        self.push(CREATE, cf, name.as_bytes(), &compression.to_setting_bytes());
    }

    pub(crate) fn set_compression(&mut self, cf: CfId, compression: Compression) {
        self.push(SET_COMPRESSION, cf, &[], &compression.to_setting_bytes());
    }

    pub(crate) fn drop_cf(&mut self, cf: CfId, name: &str) {
        self.push(DROP, cf, name.as_bytes(), &[]);
    }

    pub(crate) fn rename_cf(&mut self, cf: CfId, from: &str, to: &str) {
        self.push(RENAME, cf, from.as_bytes(), to.as_bytes());
    }

    /// Marks an unlogged commit's change of column family `cf` (a large transaction, a
    /// bulk-load chunk).
    pub(crate) fn unlogged(&mut self, cf: CfId) {
        self.push(UNLOGGED, cf, &[], &[]);
    }

    pub(crate) fn moved(&mut self, cf: CfId) {
        self.push(MOVED, cf, &[], &[]);
    }

    pub(crate) fn delete_range(&mut self, cf: CfId, bounds: &folio_btree::OwnedBounds) {
        self.push(
            DELETE_RANGE,
            cf,
            &encode_bound(&bounds.0),
            &encode_bound(&bounds.1),
        );
    }

    /// The current position, to truncate back to.
    pub(crate) fn mark(&self) -> (usize, u32) {
        (self.bytes.len(), self.count)
    }

    /// Drops every operation added after `mark`.
    pub(crate) fn truncate(&mut self, mark: (usize, u32)) {
        self.bytes.truncate(mark.0);
        self.count = mark.1;
    }

    /// Bytes logged so far.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.bytes[..4].copy_from_slice(&self.count.to_le_bytes());
        self.bytes
    }
}

/// Decodes record `lsn`.
/// `bytes` as text, if it is UTF-8 (a function, not a closure, to tie the lifetimes).
fn utf8(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

pub(crate) fn decode(lsn: Lsn, bytes: &[u8]) -> Result<Vec<LogOp<'_>>> {
    let bad = |reason: &str| Error::CorruptLogRecord {
        lsn,
        reason: reason.to_owned(),
    };
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let end = at.checked_add(n).ok_or_else(|| bad("cut short"))?;
        let slice = bytes.get(at..end).ok_or_else(|| bad("cut short"))?;
        at = end;
        Ok(slice)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    // `count` is read from the record: each operation takes at least its header, so the
    // bytes bound what is reserved (a damaged count never allocates beyond the record).
    let mut ops = Vec::with_capacity((count as usize).min(bytes.len() / OP_HEADER_BYTES));
    for _ in 0..count {
        let kind = take(1)?[0];
        let cf = CfId(u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")));
        let a_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let a = take(a_len)?;
        let b_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let b = take(b_len)?;
        let name = |bytes| utf8(bytes).ok_or_else(|| bad("name is not UTF-8"));
        let setting =
            |bytes: &[u8]| Compression::from_setting_bytes(bytes).map_err(|reason| bad(&reason));
        ops.push(match kind {
            PUT => LogOp::Put {
                cf,
                key: a,
                value: b,
            },
            DELETE => LogOp::Delete { cf, key: a },
            CREATE => LogOp::CreateCf {
                cf,
                name: name(a)?,
                compression: if b.is_empty() {
                    None
                } else {
                    Some(setting(b)?)
                },
            },
            DROP => LogOp::DropCf { cf, name: name(a)? },
            RENAME => LogOp::RenameCf {
                cf,
                from: name(a)?,
                to: name(b)?,
            },
            UNLOGGED => LogOp::Unlogged { cf },
            MOVED => LogOp::Moved { cf },
            DELETE_RANGE => LogOp::DeleteRange {
                cf,
                start: decode_bound(a).ok_or_else(|| bad("bad range bound"))?,
                end: decode_bound(b).ok_or_else(|| bad("bad range bound"))?,
            },
            SET_COMPRESSION => LogOp::SetCompression {
                cf,
                compression: setting(b)?,
            },
            _ => return Err(bad("unknown operation")),
        });
    }
    if at != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let mut record = RecordBuilder::new();
        record.create_cf(CfId(3), "users", Compression::Lz4);
        record.put(CfId(3), b"k", b"v");
        record.delete(CfId(3), b"gone");
        record.rename_cf(CfId(3), "users", "people");
        record.drop_cf(CfId(3), "people");
        record.unlogged(CfId(4));
        record.moved(CfId(4));
        record.delete_range(CfId(4), &(Bound::Included(b"a".to_vec()), Bound::Unbounded));
        record.delete_range(CfId(4), &(Bound::Unbounded, Bound::Excluded(Vec::new())));
        record.set_compression(CfId(4), Compression::Zstd { level: 7 });
        let bytes = record.finish();
        let ops = decode(7, &bytes).unwrap();
        assert_eq!(ops.len(), 10);
        assert_eq!(
            ops[0],
            LogOp::CreateCf {
                cf: CfId(3),
                name: "users",
                compression: Some(Compression::Lz4)
            }
        );
        assert_eq!(
            ops[9],
            LogOp::SetCompression {
                cf: CfId(4),
                compression: Compression::Zstd { level: 7 }
            }
        );
        assert_eq!(
            ops[7],
            LogOp::DeleteRange {
                cf: CfId(4),
                start: Bound::Included(b"a"),
                end: Bound::Unbounded
            }
        );
        assert_eq!(
            ops[8],
            LogOp::DeleteRange {
                cf: CfId(4),
                start: Bound::Unbounded,
                end: Bound::Excluded(b"")
            }
        );
        assert_eq!(ops[5], LogOp::Unlogged { cf: CfId(4) });
        assert_eq!(
            ops[1],
            LogOp::Put {
                cf: CfId(3),
                key: b"k",
                value: b"v"
            }
        );
        for cut in 0..bytes.len() {
            assert!(decode(7, &bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// A create record written before settings were stored (empty `b`) still decodes; a
    /// setting the encoder cannot have written is a damaged record.
    #[test]
    fn create_records_without_a_setting_decode() {
        let mut old = RecordBuilder::new();
        old.push(CREATE, CfId(1), b"events", &[]);
        assert_eq!(
            decode(1, &old.finish()).unwrap(),
            [LogOp::CreateCf {
                cf: CfId(1),
                name: "events",
                compression: None
            }]
        );
        let mut damaged = RecordBuilder::new();
        damaged.push(SET_COMPRESSION, CfId(1), &[], &[7, 0, 0, 0, 0]);
        assert!(matches!(
            decode(2, &damaged.finish()),
            Err(Error::CorruptLogRecord { .. })
        ));
    }
}
