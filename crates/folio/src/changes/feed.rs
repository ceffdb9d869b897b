//! [`Changes`]: the iterator of a change feed, reading log records after its position as
//! they are published.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use folio_wal::{Lsn, SharedPayload, WalReader};

use super::{Change, ChangeOp};
use crate::column_family::CfId;
use crate::database::DbInner;
use crate::log_record::{LogOp, decode};
use crate::{Error, Result};

/// A change feed ([`crate::Database::changes`]): an iterator of [`Change`]s in commit
/// order that waits for new commits and ends when the database closes (or after it yields
/// an error). Its position ([`Changes::position`]) is the LSN of the last commit it read,
/// delivered or filtered out.
pub struct Changes {
    pub(super) db: Arc<DbInner>,
    pub(super) after: Lsn,
    /// Column-family names at `after` (ids are stable across renames; names are not).
    names: HashMap<CfId, Arc<str>>,
    cfs: Option<BTreeSet<String>>,
    prefix: Option<Vec<u8>>,
    pub(super) durable_only: bool,
    reader: Option<WalReader>,
    /// Records taken from the log's memory of recent ones, not yet read.
    recent: VecDeque<(Lsn, SharedPayload)>,
    /// A record read beyond what may be delivered yet.
    held: Option<(Lsn, SharedPayload)>,
    pub(super) failed: bool,
    /// Keeps the log's recent records in memory while the feed lives.
    _keep_recent: folio_wal::KeepRecent,
}

/// Bytes of recently written records the log keeps in memory once a feed exists: a feed
/// less than this far behind reads no file (measured: reading, checking and copying each
/// record back from the segment files cost a consumer following W1 a fifth of the CPU).
const RECENT_RECORD_BYTES: usize = 16 << 20;
/// Records taken from memory at a time.
const RECENT_BATCH: usize = 256;

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("position", &self.after)
            .field("column_families", &self.cfs)
            .field("prefix", &self.prefix)
            .field("durable_only", &self.durable_only)
            .finish_non_exhaustive()
    }
}

/// How long a read may wait for a commit.
#[derive(Clone, Copy)]
enum Wait {
    No,
    Until(Instant),
    Forever,
}

impl Changes {
    pub(super) fn new(db: Arc<DbInner>, after: Lsn) -> Result<Self> {
        db.check_open()?;
        let snapshot = db.publisher.current();
        if after > snapshot.version {
            return Err(Error::ChangesAhead {
                after,
                published: snapshot.version,
            });
        }
        // Copies, not clones: every delivered operation clones its name, and a count
        // shared with the catalog and other feeds would bounce between their cores.
        let names = snapshot
            .iter()
            .map(|(id, name, _)| (id, Arc::<str>::from(&**name)))
            .collect();
        // A feed that keeps up reads records from memory (`Wal::recent_records`).
        let keep_recent = db.wal.keep_recent_records(RECENT_RECORD_BYTES);
        let mut feed = Self {
            db,
            after,
            names,
            cfs: None,
            prefix: None,
            durable_only: false,
            reader: None,
            recent: VecDeque::new(),
            held: None,
            failed: false,
            _keep_recent: keep_recent,
        };
        feed.roll_names_back_to(after, snapshot.version)?;
        Ok(feed)
    }

    /// Only changes of column family `name` (call again to add more). Renames are
    /// followed by name: a filter on the old name stops at the rename.
    #[must_use]
    pub fn column_family(mut self, name: &str) -> Self {
        self.cfs
            .get_or_insert_with(BTreeSet::new)
            .insert(name.to_owned());
        self
    }

    /// Only operations on keys starting with `prefix` (a range delete passes when its
    /// range may hold such keys; markers and column-family operations always pass).
    #[must_use]
    pub fn prefix(mut self, prefix: &[u8]) -> Self {
        self.prefix = Some(prefix.to_vec());
        self
    }

    /// Only commits already durable in the log: a power cut can never take back what this
    /// feed delivered. Waits for `Eventual` commits to be synced (asking the log for a sync).
    #[must_use]
    pub fn durable_only(mut self) -> Self {
        self.durable_only = true;
        self
    }

    /// The LSN of the last commit read (delivered or filtered out): resume after it.
    pub fn position(&self) -> Lsn {
        self.after
    }

    /// The next change if one is visible now, without waiting; `Ok(None)` when the feed
    /// has caught up. [`Error::Closed`] once the database is closed.
    pub fn try_next(&mut self) -> Result<Option<Change>> {
        self.fetch(Wait::No)
    }

    /// The next change, waiting up to `timeout` for one; `Ok(None)` if none came.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Change>> {
        self.fetch(Wait::Until(Instant::now() + timeout))
    }

    fn fetch(&mut self, wait: Wait) -> Result<Option<Change>> {
        loop {
            self.db.check_open()?;
            let visible = self.visible();
            if self.after >= visible {
                match wait {
                    Wait::No => return Ok(None),
                    Wait::Until(deadline) if Instant::now() >= deadline => return Ok(None),
                    _ => {}
                }
                let deadline = match wait {
                    Wait::Until(deadline) => Some(deadline),
                    _ => None,
                };
                let db = &self.db;
                let published = db
                    .publisher
                    .wait_past(self.after, deadline, || db.is_closed());
                if self.durable_only && published > self.after && !db.is_closed() {
                    db.wal.wait_durable(published)?;
                }
                continue;
            }
            let (lsn, payload) = match self.held.take() {
                Some(record) => record,
                None => self.read_next()?,
            };
            if lsn > visible {
                self.held = Some((lsn, payload));
                continue;
            }
            self.after = lsn;
            let ops = self.convert(lsn, &payload)?;
            if !ops.is_empty() {
                let durable = lsn <= self.db.wal.durable_lsn();
                return Ok(Some(Change { lsn, durable, ops }));
            }
        }
    }

    /// The last LSN this feed may deliver now.
    fn visible(&self) -> Lsn {
        let published = self.db.publisher.current().version;
        if self.durable_only {
            published.min(self.db.wal.durable_lsn())
        } else {
            published
        }
    }

    /// The record after `after`. Called only when it is published, so it is written: from
    /// the log's memory of recent records when it is still there, else from its files.
    fn read_next(&mut self) -> Result<(Lsn, SharedPayload)> {
        // What the log's files no longer hold is not delivered from memory either: what a
        // feed can read never depends on what this process happens to remember.
        if self.recent.is_empty() && self.after + 1 >= self.db.wal.oldest_lsn() {
            self.recent
                .extend(self.db.wal.recent_records(self.after + 1, RECENT_BATCH));
        }
        if let Some(record) = self.recent.pop_front() {
            self.reader = None; // positioned before this record
            return Ok(record);
        }
        let mut fresh = false;
        loop {
            if self.reader.is_none() {
                fresh = true;
                let reader = self.db.wal.read_from(self.after + 1);
                self.reader = Some(reader.map_err(|error| self.read_error(error))?);
            }
            let reader = self.reader.as_mut().expect("made above");
            match reader.next() {
                Some(Ok((lsn, payload))) => return Ok((lsn, std::sync::Arc::new(payload))),
                Some(Err(error)) => {
                    self.reader = None;
                    return Err(self.read_error(error));
                }
                // A reader reads up to what was written when it was made: make a new one.
                None if !fresh => self.reader = None,
                None => {
                    return Err(Error::CorruptLogRecord {
                        lsn: self.after + 1,
                        reason: "published but missing from the log".to_owned(),
                    });
                }
            }
        }
    }

    /// A failed read of the log: [`Error::ChangesTruncated`] when a checkpoint removed the
    /// segment holding the next record, else the error itself.
    fn read_error(&self, error: folio_wal::Error) -> Error {
        let oldest = self.db.wal.stats().oldest_lsn;
        match error {
            folio_wal::Error::Truncated { oldest, .. } => Error::ChangesTruncated {
                after: self.after,
                oldest,
            },
            _ if oldest > self.after + 1 => Error::ChangesTruncated {
                after: self.after,
                oldest,
            },
            error => error.into(),
        }
    }

    /// Makes `names` (those of version `to`) the names at `after` by undoing the column
    /// family operations logged between them, newest first.
    fn roll_names_back_to(&mut self, after: Lsn, to: Lsn) -> Result<()> {
        let mut undo: Vec<(CfId, Option<Arc<str>>)> = Vec::new();
        while self.after < to {
            let (lsn, payload) = self.read_next()?;
            self.after = lsn;
            if lsn > to {
                self.held = Some((lsn, payload));
                break;
            }
            for op in decode(lsn, &payload)? {
                match op {
                    LogOp::CreateCf { cf, .. } => undo.push((cf, None)),
                    LogOp::DropCf { cf, name } => undo.push((cf, Some(name.into()))),
                    LogOp::RenameCf { cf, from, .. } => undo.push((cf, Some(from.into()))),
                    _ => {}
                }
            }
        }
        for (cf, name) in undo.into_iter().rev() {
            match name {
                Some(name) => self.names.insert(cf, name),
                None => self.names.remove(&cf),
            };
        }
        self.after = after;
        self.reader = None;
        self.recent.clear();
        self.held = None;
        Ok(())
    }

    fn name(&self, lsn: Lsn, cf: CfId) -> Result<&Arc<str>> {
        self.names.get(&cf).ok_or_else(|| Error::CorruptLogRecord {
            lsn,
            reason: format!("names column family {cf}, which does not exist there"),
        })
    }

    /// Column family `cf` of record `lsn`, looked up once per run of operations on it (a
    /// transaction's operations mostly share one): `last` remembers the previous one.
    fn column<'a>(&self, lsn: Lsn, cf: CfId, last: &'a mut Option<Column>) -> Result<&'a Column> {
        if last.as_ref().is_none_or(|column| column.id != cf) {
            let name = self.name(lsn, cf)?;
            *last = Some(Column {
                id: cf,
                wanted: self.wants_cf(name),
                name: Arc::clone(name),
            });
        }
        Ok(last.as_ref().expect("set above"))
    }

    fn wants_cf(&self, name: &str) -> bool {
        self.cfs.as_ref().is_none_or(|cfs| cfs.contains(name))
    }

    fn wants_key(&self, key: &[u8]) -> bool {
        self.prefix
            .as_ref()
            .is_none_or(|prefix| key.starts_with(prefix))
    }

    /// The operations of record `lsn` that pass the filters; column-family operations
    /// update `names` whether they pass or not.
    fn convert(&mut self, lsn: Lsn, payload: &SharedPayload) -> Result<Vec<ChangeOp>> {
        let ops = decode(lsn, payload)?;
        // Keys and values are slices of the record: one shared buffer, no copies.
        let record = Bytes::from_owner(SharedRecord(std::sync::Arc::clone(payload)));
        let share = |bytes: &[u8]| record.slice_ref(bytes);
        let mut out = Vec::with_capacity(ops.len());
        let mut last = None;
        for op in ops {
            match op {
                LogOp::Put { cf, key, value } => {
                    let column = self.column(lsn, cf, &mut last)?;
                    if column.wanted && self.wants_key(key) {
                        out.push(ChangeOp::Put {
                            cf: Arc::clone(&column.name),
                            key: share(key),
                            value: share(value),
                        });
                    }
                }
                LogOp::Delete { cf, key } => {
                    let column = self.column(lsn, cf, &mut last)?;
                    if column.wanted && self.wants_key(key) {
                        out.push(ChangeOp::Delete {
                            cf: Arc::clone(&column.name),
                            key: share(key),
                        });
                    }
                }
                LogOp::DeleteRange { cf, start, end } => {
                    let column = self.column(lsn, cf, &mut last)?;
                    let meets = self
                        .prefix
                        .as_deref()
                        .is_none_or(|prefix| range_meets_prefix(start, end, prefix));
                    if column.wanted && meets {
                        out.push(ChangeOp::DeleteRange {
                            cf: Arc::clone(&column.name),
                            start: start.map(share),
                            end: end.map(share),
                        });
                    }
                }
                LogOp::Unlogged { cf } => {
                    let column = self.column(lsn, cf, &mut last)?;
                    if column.wanted {
                        out.push(ChangeOp::Unlogged {
                            cf: Arc::clone(&column.name),
                        });
                    }
                }
                LogOp::CreateCf { cf, name, .. } => {
                    last = None; // names change from here on
                    let name: Arc<str> = name.into();
                    self.names.insert(cf, Arc::clone(&name));
                    if self.wants_cf(&name) {
                        out.push(ChangeOp::CreateCf { cf: name });
                    }
                }
                LogOp::DropCf { cf, name } => {
                    last = None;
                    self.names.remove(&cf);
                    if self.wants_cf(name) {
                        out.push(ChangeOp::DropCf { cf: name.into() });
                    }
                }
                LogOp::RenameCf { cf, from, to } => {
                    last = None;
                    self.names.insert(cf, to.into());
                    if self.wants_cf(from) || self.wants_cf(to) {
                        out.push(ChangeOp::RenameCf {
                            from: from.into(),
                            to: to.into(),
                        });
                    }
                }
                // Compaction moved pages; a compression setting changed: no data changed.
                LogOp::Moved { .. } | LogOp::SetCompression { .. } => {}
            }
        }
        Ok(out)
    }
}

/// A column family as a record's operations name it: its name then, and whether the feed's
/// filters let its operations through.
struct Column {
    id: CfId,
    name: Arc<str>,
    wanted: bool,
}

/// A record's payload as the owner of the [`Bytes`] its operations slice.
struct SharedRecord(SharedPayload);

impl AsRef<[u8]> for SharedRecord {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// True when a key starting with `prefix` may lie in the range.
fn range_meets_prefix(start: Bound<&[u8]>, end: Bound<&[u8]>, prefix: &[u8]) -> bool {
    // Keys with the prefix are those from `prefix` up to (not including) `past`, the
    // shortest key above all of them (none when the prefix is all 0xFF bytes).
    let past = prefix.iter().rposition(|&byte| byte != 0xFF).map(|at| {
        let mut past = prefix[..=at].to_vec();
        past[at] += 1;
        past
    });
    let starts_below_past = match (start, &past) {
        (Bound::Unbounded, _) | (_, None) => true,
        (Bound::Included(key) | Bound::Excluded(key), Some(past)) => key < past.as_slice(),
    };
    let ends_above_prefix = match end {
        Bound::Unbounded => true,
        Bound::Included(key) => key >= prefix,
        Bound::Excluded(key) => key > prefix,
    };
    starts_below_past && ends_above_prefix
}

impl Iterator for Changes {
    type Item = Result<Change>;

    /// Waits for the next change; `None` once the database is closed or after an error.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.fetch(Wait::Forever) {
            Ok(change) => change.map(Ok),
            Err(Error::Closed) => None,
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_meets_a_prefix_when_it_may_hold_its_keys() {
        let i = |k: &'static [u8]| Bound::Included(k);
        let e = |k: &'static [u8]| Bound::Excluded(k);
        let u = Bound::Unbounded;
        assert!(range_meets_prefix(u, u, b"ab"));
        assert!(range_meets_prefix(i(b"a"), e(b"b"), b"ab"));
        assert!(range_meets_prefix(i(b"ab"), i(b"ab"), b"ab"));
        assert!(range_meets_prefix(i(b"abz"), u, b"ab"));
        assert!(!range_meets_prefix(i(b"ac"), u, b"ab"));
        assert!(!range_meets_prefix(u, e(b"ab"), b"ab"));
        assert!(!range_meets_prefix(u, i(b"aa\xff"), b"ab"));
        assert!(range_meets_prefix(i(b"\xff\xff\x01"), u, b"\xff\xff"));
        assert!(!range_meets_prefix(u, e(b"\xff\xff"), b"\xff\xff"));
    }
}
