//! [`RecentRecords`]: the last records written, kept in memory for log consumers (a change
//! feed that keeps up reads them here instead of reading, checking and copying them back
//! from the segment files). Off until a consumer asks ([`crate::Wal::keep_recent_records`]);
//! then the payloads the leader has written are moved here instead of being freed, up to a
//! byte bound, oldest dropped first. Off again, and emptied, once no consumer holds its
//! [`KeepRecent`] any more.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::Lsn;
use crate::group_commit::PendingRecord;

/// A record's payload, shared with the consumers that read it.
pub type SharedPayload = Arc<Vec<u8>>;

#[derive(Debug, Default)]
pub(crate) struct RecentRecords {
    enabled: AtomicBool,
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    /// Consecutive LSNs, oldest first.
    records: VecDeque<(Lsn, SharedPayload)>,
    bytes: usize,
    capacity: usize,
    /// Live [`KeepRecent`]s.
    consumers: usize,
}

/// Keeps the log's recent records in memory while it lives ([`crate::Wal::keep_recent_records`]).
#[derive(Debug)]
pub struct KeepRecent {
    recent: Arc<RecentRecords>,
}

impl Drop for KeepRecent {
    fn drop(&mut self) {
        self.recent.release();
    }
}

impl RecentRecords {
    /// Keeps up to `capacity` bytes of payloads from now on (the largest asked for wins),
    /// until every returned guard is dropped.
    pub(crate) fn enable(self: &Arc<Self>, capacity: usize) -> KeepRecent {
        let mut ring = self.ring.lock();
        ring.capacity = ring.capacity.max(capacity);
        ring.consumers += 1;
        self.enabled.store(true, Ordering::Release);
        KeepRecent {
            recent: Arc::clone(self),
        }
    }

    /// A consumer is gone: the last one turns keeping off and frees what was kept.
    fn release(&self) {
        let mut ring = self.ring.lock();
        ring.consumers -= 1;
        if ring.consumers == 0 {
            self.enabled.store(false, Ordering::Release);
            *ring = Ring::default();
        }
    }

    /// Bytes of payloads kept now.
    pub(crate) fn bytes(&self) -> usize {
        self.ring.lock().bytes
    }

    /// Takes the payloads of a batch the sink wrote (consecutive LSNs, after the last one
    /// kept unless a refused batch came between: then the older ones are dropped).
    pub(crate) fn keep(&self, batch: Vec<PendingRecord>) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        let mut ring = self.ring.lock();
        if ring.consumers == 0 {
            return; // the last consumer went after the check above
        }
        let follows = match (ring.records.back(), batch.first()) {
            (Some((last, _)), Some(first)) => first.lsn == last + 1,
            _ => true,
        };
        if !follows {
            ring.records.clear();
            ring.bytes = 0;
        }
        for record in batch {
            ring.bytes += record.payload.len();
            ring.records
                .push_back((record.lsn, Arc::new(record.payload)));
        }
        while ring.bytes > ring.capacity {
            let Some((_, payload)) = ring.records.pop_front() else {
                break;
            };
            ring.bytes -= payload.len();
        }
    }

    /// Up to `max` records from LSN `from` on, if `from` is still kept (else none).
    pub(crate) fn get(&self, from: Lsn, max: usize) -> Vec<(Lsn, SharedPayload)> {
        let ring = self.ring.lock();
        let Some(&(first, _)) = ring.records.front() else {
            return Vec::new();
        };
        if from < first {
            return Vec::new();
        }
        let skip = usize::try_from(from - first).unwrap_or(usize::MAX);
        ring.records
            .iter()
            .skip(skip)
            .take(max)
            .map(|(lsn, payload)| (*lsn, Arc::clone(payload)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(lsns: std::ops::Range<Lsn>, len: usize) -> Vec<PendingRecord> {
        lsns.map(|lsn| PendingRecord {
            lsn,
            durable_before: 0,
            payload: vec![lsn as u8; len],
            payload_hash: 0,
        })
        .collect()
    }

    #[test]
    fn keeps_recent_consecutive_records_within_its_bound() {
        let recent = Arc::new(RecentRecords::default());
        recent.keep(batch(1..4, 10));
        assert!(recent.get(1, 10).is_empty(), "off until enabled");
        let _kept = recent.enable(100);
        recent.keep(batch(4..8, 10));
        recent.keep(batch(8..12, 10));
        let got: Vec<Lsn> = recent.get(5, 3).iter().map(|(lsn, _)| *lsn).collect();
        assert_eq!(got, vec![5, 6, 7]);
        assert_eq!(recent.get(11, 10)[0].1[0], 11);
        recent.keep(batch(12..20, 10)); // 16 records of 10 bytes: the oldest go
        assert!(recent.get(4, 10).is_empty());
        assert_eq!(recent.get(10, 100).len(), 10);
        recent.keep(batch(30..31, 10)); // not after 19: a refusal came between
        assert!(recent.get(19, 10).is_empty());
        assert_eq!(recent.get(30, 10).len(), 1);
    }

    #[test]
    fn keeping_stops_and_frees_when_the_last_consumer_goes() {
        let recent = Arc::new(RecentRecords::default());
        let first = recent.enable(100);
        let second = recent.enable(50);
        recent.keep(batch(1..4, 10));
        drop(first);
        assert_eq!(recent.bytes(), 30, "one consumer is left");
        drop(second);
        assert_eq!(recent.bytes(), 0);
        recent.keep(batch(4..6, 10));
        assert!(recent.get(4, 10).is_empty(), "off again");
        let _again = recent.enable(100);
        recent.keep(batch(6..7, 10));
        assert_eq!(recent.get(6, 10).len(), 1);
    }
}
