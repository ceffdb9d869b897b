//! Opening: the data file's newest checkpoint (created first if there is none), then the
//! write-ahead log replayed past it ([`recover`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use folio_btree::{BTreeMut, Catalog};
use folio_io::Directory;
use folio_pagestore::PageStore;
use folio_wal::{Lsn, Wal};

use crate::cf_slot::CfSlot;
use crate::column_family::{CfId, CfMap};
use crate::database::{DATA_FILE, DATA_FILE_NEW};
use crate::log_record::{LogOp, decode};
use crate::options::CompressionOptions;
use crate::roots::Roots;
use crate::snapshot::Snapshot;
use crate::{DatabaseOptions, Error, RecoveryProgress, RecoveryReport, Result};

/// Payload bytes of puts and deletes a column family gathers before they are applied: the
/// replay's memory beyond the trees (and the log reader's window).
const REPLAY_BATCH_BYTES: usize = 16 << 20;

/// How many changes ahead of the one being applied replay prefetches the bytes of (and twice
/// as far, the operation naming them). In key order the changes' records lie anywhere in
/// the batch's memory, so each step would wait for a cache miss on its operation and another
/// on its bytes; the prefetch overlaps them with the inserts in between (4, 8 and 16 measured
/// alike on W5; none was 1.24x slower).
const PREFETCH_AHEAD: usize = 8;

/// A column family's replayed puts and deletes not applied yet, in LSN order: positions in
/// the records they came from, which the batch keeps (no key or value is copied out).
#[derive(Default)]
struct Pending {
    records: Vec<Arc<[u8]>>,
    ops: Vec<PendingOp>,
    bytes: usize,
}

/// A put (with a value) or a delete, as byte ranges of record `record` of its batch.
struct PendingOp {
    record: u32,
    key: std::ops::Range<u32>,
    value: Option<std::ops::Range<u32>>,
}

impl Pending {
    fn key(&self, op: &PendingOp) -> &[u8] {
        &self.records[op.record as usize][op.key.start as usize..op.key.end as usize]
    }

    /// Adds `key` and `value` (slices of `record`, the last record added) as a change.
    fn push(&mut self, record: &Arc<[u8]>, key: &[u8], value: Option<&[u8]>) {
        if !self
            .records
            .last()
            .is_some_and(|last| Arc::ptr_eq(last, record))
        {
            self.records.push(Arc::clone(record));
        }
        let base = record.as_ptr() as usize;
        let range = |part: &[u8]| {
            let start = (part.as_ptr() as usize - base) as u32;
            start..start + part.len() as u32
        };
        self.bytes += key.len() + value.map_or(0, <[u8]>::len);
        self.ops.push(PendingOp {
            record: (self.records.len() - 1) as u32,
            key: range(key),
            value: value.map(range),
        });
    }
}

/// What opening found: the data file's checkpoint with the log replayed past it, ready to be
/// assembled into a database (`Database::open_in`).
pub(crate) struct Recovered {
    pub(crate) store: PageStore,
    pub(crate) wal: Wal,
    pub(crate) catalog: Catalog,
    pub(crate) cfs: CfMap,
    pub(crate) snapshot: Snapshot,
    pub(crate) report: RecoveryReport,
}

/// Opens (creating if needed) the data file in `directory`, its newest checkpoint, and the
/// log, and replays the log past the checkpoint.
pub(crate) fn recover(
    directory: Arc<dyn Directory>,
    options: &DatabaseOptions,
    opened_at: Instant,
) -> Result<Recovered> {
    if !directory.list()?.iter().any(|name| name == DATA_FILE) {
        // Create under a temporary name and rename: a crash during creation leaves no
        // half-made data file, only a temporary one the next open replaces.
        directory.remove(DATA_FILE_NEW)?;
        let fresh = directory.open(DATA_FILE_NEW, true)?;
        drop(PageStore::create(fresh, options.page_store.clone())?);
        directory.rename(DATA_FILE_NEW, DATA_FILE)?;
    }
    let data = directory.open(DATA_FILE, false)?;
    let store = PageStore::open(data, options.page_store.clone())?;
    let Roots {
        catalog: catalog_root,
        version: checkpoint,
    } = Roots::decode(&store.roots())?;
    let catalog = Catalog::open(store.writer(), catalog_root)?;
    let (mut cfs, mut snapshot) =
        load_column_families(&store, &catalog, checkpoint, &options.compression)?;
    let progress = |step: &RecoveryProgress| {
        tracing::debug!(target: "folio::recovery", ?step, "recovery progress");
        if let Some(callback) = &options.recovery_progress {
            (callback.0)(step);
        }
    };
    let (wal, wal_report) = Wal::open_with_progress(directory, options.wal.clone(), &mut |scan| {
        progress(&RecoveryProgress::ScanningLog {
            segments_done: scan.segments_done,
            segments_total: scan.segments_total,
            bytes: scan.bytes,
        });
    })?;
    check_log_covers(&wal, checkpoint)?;
    let (replayed, replayed_bytes) = replay(
        &store,
        &wal,
        checkpoint,
        &mut cfs,
        &mut snapshot,
        &progress,
        &options.compression,
    )?;
    let recovery = RecoveryReport {
        checkpoint,
        replayed_records: replayed,
        replayed_bytes,
        checkpointed: false,
        log_bytes_scanned: wal_report.bytes_read,
        torn_tail_bytes: wal_report.torn_tail_bytes,
        version: snapshot.version,
        duration: opened_at.elapsed(),
    };
    tracing::info!(
        target: "folio::recovery",
        checkpoint,
        replayed,
        version = snapshot.version,
        torn_tail_bytes = wal_report.torn_tail_bytes,
        duration_ms = recovery.duration.as_millis() as u64,
        "database opened"
    );
    Ok(Recovered {
        store,
        wal,
        catalog,
        cfs,
        snapshot,
        report: recovery,
    })
}

/// The column families of the checkpoint: their writers and the snapshot readers start from.
fn load_column_families(
    store: &PageStore,
    catalog: &Catalog,
    checkpoint: Lsn,
    compression: &CompressionOptions,
) -> Result<(CfMap, Snapshot)> {
    let mut cfs = CfMap::default();
    let mut snapshot = Snapshot::at(checkpoint);
    for (name, state) in catalog.list()? {
        let mut tree = BTreeMut::new(store.writer(), state.root, state.len);
        tree.set_compression(compression.for_cf(&name));
        let id = CfId(state.id);
        snapshot.add(id, &name, state.root, state.len);
        let slot = CfSlot::new(id, &name, tree);
        cfs.insert(name, slot);
    }
    Ok((cfs, snapshot))
}

/// The log must hold every record after the data file's checkpoint: none missing at its
/// start (deleted segments) and none at its end (a log that ends before the checkpoint).
fn check_log_covers(wal: &Wal, checkpoint: Lsn) -> Result<()> {
    let oldest_lsn = wal.stats().oldest_lsn;
    if oldest_lsn > checkpoint + 1 {
        return Err(Error::LogMissing {
            checkpoint,
            oldest_lsn,
            oldest_segment: folio_wal::segment_name(oldest_lsn),
        });
    }
    if wal.last_lsn() < checkpoint {
        return Err(Error::LogBehindData {
            wal_last: wal.last_lsn(),
            checkpoint,
        });
    }
    Ok(())
}

/// Applies every log record after `checkpoint` to the column families and advances
/// `snapshot` to the last one. Returns the records and payload bytes replayed.
///
/// Each column family's changes form one transaction, committed at the end (or before a
/// drop) under the LSN of its last record: nothing can read the trees until replay ends, so
/// only the final state matters, and the replay copies each page it touches once.
/// Committing more often would copy the same leaves and branches again each time, and, with
/// no checkpoint during replay to make freed pages reusable, every copy would take new file
/// space (per record, and even per 64 MiB of log, a 1 GiB log left a 12 GB file).
///
/// For the same reason the order of puts and deletes within a column family does not matter,
/// only the last one of each key: they are gathered per column family ([`REPLAY_BATCH_BYTES`]
/// at a time), sorted by key, and applied in key order, so consecutive changes land in the
/// same or neighbouring leaves, whose path is still in the processor's cache, instead of a
/// random leaf each. Column-family operations and range deletions apply the batches they
/// depend on first (a range deletion removes what was logged before it, not after).
pub(crate) fn replay(
    store: &PageStore,
    wal: &Wal,
    checkpoint: Lsn,
    cfs: &mut crate::column_family::CfMap,
    snapshot: &mut Snapshot,
    progress: &dyn Fn(&RecoveryProgress),
    compression: &crate::CompressionOptions,
) -> Result<(u64, u64)> {
    /// Records between two progress reports.
    const REPORT_EVERY: u64 = 4096;
    if wal.last_lsn() == checkpoint {
        return Ok((0, 0));
    }
    let records_total = wal.last_lsn() - checkpoint;
    let mut records_done = 0;
    let mut bytes_done = 0;
    // The snapshot names every live column family by id (kept in step with `cfs`).
    let name_of = |snapshot: &Snapshot, id: CfId, lsn: Lsn| {
        snapshot
            .name(id)
            .map(ToString::to_string)
            .ok_or_else(|| Error::CorruptLogRecord {
                lsn,
                reason: format!("names column family {id}, which does not exist"),
            })
    };
    let check_exists = |snapshot: &Snapshot, id: CfId, lsn: Lsn| match snapshot.name(id) {
        Some(_) => Ok(()),
        None => name_of(snapshot, id, lsn).map(drop),
    };
    // By column-family id (stable across renames): changes not applied yet, and the LSN of
    // the last change of each column family with uncommitted replayed changes.
    let mut pending: HashMap<CfId, Pending> = HashMap::new();
    let mut touched: HashMap<CfId, Lsn> = HashMap::new();
    for record in wal.read_from(checkpoint + 1)? {
        let (lsn, payload) = record?;
        bytes_done += payload.len() as u64;
        let payload: Arc<[u8]> = payload.into();
        for op in decode(lsn, &payload)? {
            let (cf, key, value) = match op {
                LogOp::Put { cf, key, value } => (cf, key, Some(value)),
                LogOp::Delete { cf, key } => (cf, key, None),
                LogOp::CreateCf { cf, name } => {
                    let mut tree = BTreeMut::new(store.writer(), None, 0);
                    tree.set_compression(compression.for_cf(name));
                    snapshot.add(cf, name, None, 0);
                    let slot = CfSlot::new(cf, name, tree);
                    cfs.insert(name.to_owned(), slot);
                    continue;
                }
                LogOp::DropCf { cf, .. } => {
                    let name = name_of(snapshot, cf, lsn)?;
                    pending.remove(&cf); // cleared below: no need to apply it
                    if let Some(last) = touched.remove(&cf) {
                        commit_replayed(&cfs[&name], last, snapshot);
                    }
                    let slot = cfs.remove(&name).expect("found by name_of");
                    let mut tree = slot.lock_for_recovery();
                    tree.clear()?;
                    tree.commit(lsn);
                    snapshot.remove(cf);
                    continue;
                }
                // An unlogged commit's data (a large transaction, a bulk chunk) was never
                // logged: its checkpoint did not complete (or replay would start past it), so
                // it was never acknowledged, and no logged record follows it. A move
                // (compaction) changed pages, not contents.
                LogOp::Unlogged { .. } | LogOp::Moved { .. } => continue,
                // Applied in log order: the changes gathered before it go first.
                LogOp::DeleteRange { cf, start, end } => {
                    check_exists(snapshot, cf, lsn)?;
                    touched.insert(cf, lsn);
                    let slot = &cfs[&**snapshot.name(cf).expect("checked above")];
                    apply_range_delete(slot, pending.remove(&cf), (start, end))?;
                    continue;
                }
                LogOp::RenameCf { cf, to, .. } => {
                    let name = name_of(snapshot, cf, lsn)?;
                    let slot = cfs.remove(&name).expect("found by name_of");
                    slot.set_name(to);
                    cfs.insert(to.to_owned(), slot);
                    snapshot.rename(cf, to);
                    continue;
                }
            };
            check_exists(snapshot, cf, lsn)?;
            touched.insert(cf, lsn);
            let batch = pending.entry(cf).or_default();
            batch.push(&payload, key, value);
            if batch.bytes >= REPLAY_BATCH_BYTES {
                let batch = std::mem::take(batch);
                apply_sorted(&cfs[&**snapshot.name(cf).expect("checked above")], &batch)?;
            }
        }
        snapshot.version = lsn;
        records_done += 1;
        if records_done % REPORT_EVERY == 0 || records_done == records_total {
            progress(&RecoveryProgress::Replaying {
                records_done,
                records_total,
            });
        }
    }
    for (cf, batch) in pending.drain() {
        apply_sorted(
            &cfs[&**snapshot.name(cf).expect("dropped ones left")],
            &batch,
        )?;
    }
    for (cf, last) in touched.drain() {
        let name = snapshot.name(cf).expect("dropped ones left").to_string();
        commit_replayed(&cfs[&name], last, snapshot);
    }
    Ok((records_done, bytes_done))
}

/// Applies a range deletion to `slot` after the changes gathered before it (`earlier`).
fn apply_range_delete(
    slot: &CfSlot,
    earlier: Option<Pending>,
    (start, end): (std::ops::Bound<&[u8]>, std::ops::Bound<&[u8]>),
) -> Result<()> {
    if let Some(batch) = earlier {
        apply_sorted(slot, &batch)?;
    }
    let bounds = (start.map(<[u8]>::to_vec), end.map(<[u8]>::to_vec));
    slot.lock_for_recovery().remove_range(&bounds)?;
    Ok(())
}

/// Applies a column family's gathered changes in key order, the last change of each key only.
fn apply_sorted(slot: &CfSlot, batch: &Pending) -> Result<()> {
    // Sorted by each key's first 8 bytes as a number first (most comparisons end there,
    // without a `memcmp` call), then the whole key, then position: changes to one key stay
    // in LSN order, and the last of each run wins.
    let prefix = |key: &[u8]| {
        let mut word = [0u8; 8];
        let len = key.len().min(8);
        word[..len].copy_from_slice(&key[..len]);
        u64::from_be_bytes(word)
    };
    let mut order: Vec<(u64, u32)> = batch
        .ops
        .iter()
        .enumerate()
        .map(|(at, op)| (prefix(batch.key(op)), at as u32))
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| {
                let (x, y) = (&batch.ops[a.1 as usize], &batch.ops[b.1 as usize]);
                batch.key(x).cmp(batch.key(y))
            })
            .then(a.1.cmp(&b.1))
    });
    let bytes_of = |at: u32| {
        let op = &batch.ops[at as usize];
        &batch.records[op.record as usize][op.key.start as usize..]
    };
    let mut next = 0;
    let changes = std::iter::from_fn(|| {
        while let Some(&(word, at)) = order.get(next) {
            next += 1;
            if let Some(&(_, ahead)) = order.get(next + PREFETCH_AHEAD) {
                folio_io::prefetch(bytes_of(ahead));
            }
            if let Some(&(_, ahead)) = order.get(next + 2 * PREFETCH_AHEAD) {
                // The operation itself (its record index and ranges), further ahead: the
                // prefetch of its bytes above reads it.
                folio_io::prefetch(&batch.ops[ahead as usize]);
            }
            let op = &batch.ops[at as usize];
            let key = batch.key(op);
            // The prefix decides most of the time without touching the next key's record.
            if order.get(next).is_some_and(|&(next_word, following)| {
                next_word == word && batch.key(&batch.ops[following as usize]) == key
            }) {
                continue; // a later change of the same key follows
            }
            let value = op.value.as_ref().map(|range| {
                &batch.records[op.record as usize][range.start as usize..range.end as usize]
            });
            return Some((key, value));
        }
        None
    });
    // One descent per leaf reached, not one per change (`apply_sorted_run`).
    slot.lock_for_recovery().apply_sorted_run(changes)?;
    Ok(())
}

/// Commits the replayed changes of `slot` under `lsn` and publishes its tree in `snapshot`.
fn commit_replayed(slot: &CfSlot, lsn: Lsn, snapshot: &mut Snapshot) {
    let mut tree = slot.lock_for_recovery();
    tree.commit(lsn);
    snapshot.set_tree(slot.id, tree.root(), tree.len());
}
