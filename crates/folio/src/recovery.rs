//! Replay of the write-ahead log past the data file's checkpoint.

use std::collections::HashMap;

use folio_btree::BTreeMut;
use folio_pagestore::PageStore;
use folio_wal::{Lsn, Wal};

use crate::cf_slot::CfSlot;
use crate::log_record::{LogOp, decode};
use crate::snapshot::Snapshot;
use crate::{Error, RecoveryProgress, Result};

/// Applies every log record after `checkpoint` to the column families and advances
/// `snapshot` to the last one. Returns the records and payload bytes replayed.
///
/// Records are applied in LSN order, but each column family's changes form one
/// transaction, committed at the end (or before a drop) under the LSN of its last record:
/// nothing can read the trees until replay ends, so only the final state matters, and the
/// replay copies each page it touches once. Committing more often would copy the same
/// leaves and branches again each time, and, with no checkpoint during replay to make freed
/// pages reusable, every copy would take new file space (per record, and even per 64 MiB of
/// log, a 1 GiB log left a 12 GB file).
pub(crate) fn replay(
    store: &PageStore,
    wal: &Wal,
    checkpoint: Lsn,
    cfs: &mut crate::database::CfMap,
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
    let name_of = |snapshot: &Snapshot, id: u64, lsn: Lsn| {
        snapshot
            .name(id)
            .map(ToString::to_string)
            .ok_or_else(|| Error::CorruptLogRecord {
                lsn,
                reason: format!("names column family {id}, which does not exist"),
            })
    };
    // Column families with uncommitted replayed changes, with the LSN of the last.
    let mut touched: HashMap<String, Lsn> = HashMap::new();
    for record in wal.read_from(checkpoint + 1)? {
        let (lsn, payload) = record?;
        bytes_done += payload.len() as u64;
        for op in decode(lsn, &payload)? {
            match op {
                LogOp::Put { cf, key, value } => {
                    let name = name_of(snapshot, cf, lsn)?;
                    cfs[&name].lock_for_recovery().put(&key, &value)?;
                    touched.insert(name, lsn);
                }
                LogOp::Delete { cf, key } => {
                    let name = name_of(snapshot, cf, lsn)?;
                    cfs[&name].lock_for_recovery().delete_key(&key)?;
                    touched.insert(name, lsn);
                }
                LogOp::CreateCf { cf, name } => {
                    let mut tree = BTreeMut::new(store.writer(), None, 0);
                    tree.set_compression(compression.for_cf(&name));
                    snapshot.add(cf, &name, None, 0);
                    let slot = CfSlot::new(cf, &name, tree);
                    cfs.insert(name, slot);
                }
                LogOp::DropCf { cf, .. } => {
                    let name = name_of(snapshot, cf, lsn)?;
                    if let Some(last) = touched.remove(&name) {
                        commit_replayed(&cfs[&name], last, snapshot);
                    }
                    let slot = cfs.remove(&name).expect("found by name_of");
                    let mut tree = slot.lock_for_recovery();
                    tree.clear()?;
                    tree.commit(lsn);
                    snapshot.remove(cf);
                }
                // An unlogged commit's data (a large transaction, a bulk chunk) was never
                // logged: its checkpoint did not complete (or replay would start past it), so
                // it was never acknowledged, and no logged record follows it. A move
                // (compaction) changed pages, not contents.
                LogOp::Unlogged { .. } | LogOp::Moved { .. } => {}
                LogOp::RenameCf { cf, to, .. } => {
                    let name = name_of(snapshot, cf, lsn)?;
                    let slot = cfs.remove(&name).expect("found by name_of");
                    slot.set_name(&to);
                    cfs.insert(to.clone(), slot);
                    snapshot.rename(cf, &to);
                    if let Some(last) = touched.remove(&name) {
                        touched.insert(to, last);
                    }
                }
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
    for (name, last) in touched.drain() {
        commit_replayed(&cfs[&name], last, snapshot);
    }
    Ok((records_done, bytes_done))
}

/// Commits the replayed changes of `slot` under `lsn` and publishes its tree in `snapshot`.
fn commit_replayed(slot: &CfSlot, lsn: Lsn, snapshot: &mut Snapshot) {
    let mut tree = slot.lock_for_recovery();
    tree.commit(lsn);
    snapshot.set_tree(slot.id, tree.root(), tree.len());
}
