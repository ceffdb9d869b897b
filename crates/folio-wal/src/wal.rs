//! [`Wal`]: the public log: append with a durability, wait, read, truncate, close.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use folio_io::Directory;

use crate::group_commit::GroupCommit;
use crate::recovery::recover;
use crate::segment::{SegmentSink, segment_name};
use crate::{
    CommitStats, Durability, DurableWait, Error, Lsn, RecoveryProgress, RecoveryReport, Result,
    WalOptions, WalReader,
};

/// A write-ahead log in a [`Directory`] of segment files.
///
/// Appends from many threads are merged by group commit: one write and one sync per round,
/// shared by every record queued meanwhile. A failed write or sync poisons the log: every
/// waiter and every later call gets [`Error::Poisoned`] until it is reopened. Dropping the
/// log closes it (draining queued records); call [`Wal::close`] to see the result.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<WalShared>,
    flusher: parking_lot::Mutex<Option<Flusher>>,
}

#[derive(Debug)]
pub(crate) struct WalShared {
    pub(crate) commit: GroupCommit<SegmentSink>,
    options: WalOptions,
    /// The highest `lsn` given to [`Wal::truncate_below`]: records below it are covered
    /// elsewhere (by a checkpoint), so a close may start a fresh segment at the next LSN.
    covered_below: std::sync::atomic::AtomicU64,
    /// The syncer thread that leads sync rounds for async waits ([`DurableWait`]).
    syncer: parking_lot::Mutex<Syncer>,
    syncer_started: std::sync::atomic::AtomicBool,
}

/// The syncer thread, started by the first async wait that has to wait.
#[derive(Debug, Default)]
struct Syncer {
    handle: Option<JoinHandle<()>>,
    /// Set by the shutdown: no syncer starts after it.
    shut: bool,
}

impl WalShared {
    /// Starts the syncer thread unless it runs (or the log shut down).
    pub(crate) fn ensure_syncer(shared: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if shared.syncer_started.load(Ordering::Acquire) {
            return;
        }
        let mut syncer = shared.syncer.lock();
        if syncer.shut || syncer.handle.is_some() {
            return;
        }
        let serving = Arc::clone(shared);
        syncer.handle = Some(
            std::thread::Builder::new()
                .name("folio-wal-syncer".into())
                .spawn(move || serving.commit.serve_tasks())
                .expect("spawning the syncer thread"),
        );
        shared.syncer_started.store(true, Ordering::Release);
    }
}

/// Counters and positions of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalStats {
    /// Records, bytes, rounds, syncs, group sizes and sync latency.
    pub commit: CommitStats,
    /// The next LSN to be assigned.
    pub next_lsn: Lsn,
    /// Records up to this LSN are written (not necessarily synced).
    pub written_lsn: Lsn,
    /// Records up to this LSN are durable.
    pub durable_lsn: Lsn,
    /// The oldest LSN still kept.
    pub oldest_lsn: Lsn,
    /// Segment files.
    pub segments: usize,
    /// Bytes of recent records kept in memory for log consumers
    /// ([`Wal::keep_recent_records`]; zero while none holds a guard).
    pub recent_record_bytes: usize,
}

/// The background flusher: syncs `Eventual` records every `sync_interval`.
#[derive(Debug)]
struct Flusher {
    stop: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    handle: JoinHandle<()>,
}

impl Wal {
    /// Opens (or creates) the log in `directory`, recovering it: see `docs/wal.md` for the
    /// rules. Returns the log and what recovery found.
    pub fn open(
        directory: Arc<dyn Directory>,
        options: WalOptions,
    ) -> Result<(Self, RecoveryReport)> {
        Self::open_with_progress(directory, options, &mut |_| {})
    }

    /// [`Wal::open`], calling `progress` after each segment recovery has checked (for a
    /// progress bar when the log is large).
    pub fn open_with_progress(
        directory: Arc<dyn Directory>,
        options: WalOptions,
        progress: &mut dyn FnMut(&RecoveryProgress),
    ) -> Result<(Self, RecoveryReport)> {
        options.validate()?;
        let (position, report) = recover(&directory, &options, progress)?;
        let cipher = options
            .encryption_key
            .as_ref()
            .map(|key| folio_io::Cipher::new(key).map(Arc::new))
            .transpose()
            .map_err(|e| Error::Encryption(e.to_string()))?;
        let sink = SegmentSink::new(directory, options.segment_bytes, position, cipher);
        let shared = Arc::new(WalShared {
            commit: GroupCommit::new(sink, report.next_lsn, options.commit_window),
            options,
            covered_below: std::sync::atomic::AtomicU64::new(0),
            syncer: parking_lot::Mutex::new(Syncer::default()),
            syncer_started: std::sync::atomic::AtomicBool::new(false),
        });
        let flusher = shared
            .options
            .sync_interval
            .map(|interval| start_flusher(&shared, interval));
        Ok((
            Self {
                shared,
                flusher: parking_lot::Mutex::new(flusher),
            },
            report,
        ))
    }

    /// Appends `record`; returns its LSN once `durability` is met.
    pub fn append(&self, record: &[u8], durability: Durability) -> Result<Lsn> {
        self.check_size(record.len())?;
        self.shared.commit.append(record.to_vec(), durability)
    }

    /// [`Wal::append`] taking ownership of the record (no copy).
    pub fn append_owned(&self, record: Vec<u8>, durability: Durability) -> Result<Lsn> {
        self.check_size(record.len())?;
        self.shared.commit.append(record, durability)
    }

    fn check_size(&self, len: usize) -> Result<()> {
        let max = self.shared.options.record_bytes_max;
        if len > max {
            Err(Error::RecordTooLarge { len, max })
        } else {
            Ok(())
        }
    }

    /// Returns once `lsn` is durable (joining or leading a sync round).
    pub fn wait_durable(&self, lsn: Lsn) -> Result<()> {
        self.shared.commit.wait_durable(lsn)
    }

    /// A future that resolves once `lsn` is durable, without blocking a thread: polling
    /// registers the task's waker; the log's syncer thread leads the sync round (shared with
    /// every thread and task waiting meanwhile) and the round wakes the task. The async
    /// counterpart of [`Wal::wait_durable`]: append with [`Durability::Eventual`], then await
    /// this. Errors as `wait_durable` does (poisoned log, refused record, LSN not appended).
    pub fn durable(&self, lsn: Lsn) -> DurableWait {
        DurableWait::new(Arc::clone(&self.shared), lsn)
    }

    /// Makes every record appended so far durable; returns the last LSN covered.
    pub fn flush(&self) -> Result<Lsn> {
        self.shared.commit.flush()
    }

    /// The last LSN known durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.shared.commit.positions().2
    }

    /// The last LSN assigned (0 for an empty log that never had records).
    pub fn last_lsn(&self) -> Lsn {
        self.shared.commit.positions().0 - 1
    }

    /// Reads the written records from `from` on (up to those written when called).
    pub fn read_from(&self, from: Lsn) -> Result<WalReader> {
        let (next, written, _) = self.shared.commit.positions();
        if from > next {
            return Err(Error::BeyondEnd {
                requested: from,
                last: next - 1,
            });
        }
        let position = self.shared.commit.sink().position();
        let oldest = *position.segments.keys().next().ok_or(Error::Closed)?;
        if from < oldest {
            return Err(Error::Truncated {
                requested: from,
                oldest,
            });
        }
        let start = *position
            .segments
            .range(..=from)
            .next_back()
            .expect("from >= oldest")
            .0;
        let segments = position
            .segments
            .range(start..)
            .map(|(lsn, storage)| (*lsn, Arc::clone(storage)))
            .collect();
        // Everything below the current segment's offset is written (the leader moves it
        // after its write, under this lock), so records up to `written` lie below it.
        let end_offset = position.offset;
        Ok(WalReader::new(
            segments,
            from,
            (written, end_offset),
            self.shared.options.record_bytes_max,
            self.shared.commit.sink().cipher(),
        ))
    }

    /// The first LSN the log's segments still hold.
    pub fn oldest_lsn(&self) -> Lsn {
        let (next_lsn, _, _) = self.shared.commit.positions();
        let position = self.shared.commit.sink().position();
        *position.segments.keys().next().unwrap_or(&next_lsn)
    }

    /// From now on keeps the payloads of written records in memory, up to `bytes` (the
    /// largest asked for), for [`Wal::recent_records`]: a consumer that keeps up with the
    /// log reads them there instead of from the segment files. Kept while a returned guard
    /// lives: when the last one drops, keeping stops and the memory is freed.
    #[must_use = "records are kept only while the returned guard lives"]
    pub fn keep_recent_records(&self, bytes: usize) -> crate::KeepRecent {
        self.shared.commit.sink().recent.enable(bytes)
    }

    /// Up to `max` written records from LSN `from` on, from memory
    /// ([`Wal::keep_recent_records`]); empty when `from` is not kept there (read it with
    /// [`Wal::read_from`]). Payloads are plaintext, as [`WalReader`] returns them.
    pub fn recent_records(&self, from: Lsn, max: usize) -> Vec<(Lsn, crate::SharedPayload)> {
        self.shared.commit.sink().recent.get(from, max)
    }

    /// Each segment file as (first LSN, bytes on disk), oldest first (segments are
    /// preallocated, so the one being written counts its whole capacity). A log consumer
    /// that keeps segments for its subscribers bounds them with this.
    pub fn segment_sizes(&self) -> Result<Vec<(Lsn, u64)>> {
        let position = self.shared.commit.sink().position();
        position
            .segments
            .iter()
            .map(|(first, storage)| Ok((*first, storage.len()?)))
            .collect()
    }

    /// Removes whole segments whose records are all below `lsn` (what a checkpoint that
    /// covers everything before `lsn` calls). The segment being written is never removed.
    /// Returns how many segments were removed.
    pub fn truncate_below(&self, lsn: Lsn) -> Result<usize> {
        self.shared
            .covered_below
            .fetch_max(lsn, std::sync::atomic::Ordering::AcqRel);
        let sink = self.shared.commit.sink();
        let mut position = sink.position();
        let firsts: Vec<Lsn> = position.segments.keys().copied().collect();
        let mut removed = 0;
        for pair in firsts.windows(2) {
            let (first, next_first) = (pair[0], pair[1]);
            if next_first > lsn || first == position.current {
                break;
            }
            sink.directory().remove(&segment_name(first))?;
            position.segments.remove(&first);
            removed += 1;
        }
        Ok(removed)
    }

    /// Counters and positions.
    pub fn stats(&self) -> WalStats {
        let (next_lsn, written_lsn, durable_lsn) = self.shared.commit.positions();
        let position = self.shared.commit.sink().position();
        WalStats {
            commit: self.shared.commit.stats(),
            next_lsn,
            written_lsn,
            durable_lsn,
            oldest_lsn: *position.segments.keys().next().unwrap_or(&next_lsn),
            recent_record_bytes: self.shared.commit.sink().recent.bytes(),
            segments: position.segments.len(),
        }
    }

    /// Refuses new appends, makes every appended record durable, stops the flusher.
    pub fn close(self) -> Result<()> {
        self.shut_down()
    }

    /// [`Wal::close`] through a shared reference: refuses new appends, makes every appended
    /// record durable, stops the flusher and closes the segment files. Later calls return
    /// [`Error::Closed`] (or, for reads, find nothing to read); closing twice does nothing.
    ///
    /// When [`Wal::truncate_below`] was told that every record is covered, the log is left
    /// as one fresh, small segment named after the next LSN, so the next open reads almost
    /// nothing (a full 64 MiB segment of covered records took ~70 ms to read and check).
    pub fn shut_down(&self) -> Result<()> {
        let mut result = self.shared.commit.close();
        if result.is_ok() {
            let (next_lsn, _, _) = self.shared.commit.positions();
            let covered_below = self
                .shared
                .covered_below
                .load(std::sync::atomic::Ordering::Acquire);
            if next_lsn <= covered_below {
                result = self.shared.commit.sink().restart_at(next_lsn);
            }
        }
        // The close woke the syncer; with every record durable (or the log poisoned) no task
        // is left waiting, so it returns.
        let syncer = {
            let mut syncer = self.shared.syncer.lock();
            syncer.shut = true;
            syncer.handle.take()
        };
        if let Some(syncer) = syncer {
            let _ = syncer.join();
        }
        if let Some(flusher) = self.flusher.lock().take() {
            *flusher
                .stop
                .0
                .lock()
                .expect("flusher lock is never poisoned") = true;
            flusher.stop.1.notify_all();
            let _ = flusher.handle.join();
        }
        // Even after a failure: the files must be free for the reopen that recovers.
        self.shared.commit.sink().release();
        result
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

fn start_flusher(shared: &Arc<WalShared>, interval: Duration) -> Flusher {
    let stop = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let handle = {
        let shared = Arc::clone(shared);
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("folio-wal-flusher".into())
            .spawn(move || {
                let (lock, wake) = &*stop;
                let mut stopped = lock.lock().expect("flusher lock is never poisoned");
                while !*stopped {
                    stopped = wake
                        .wait_timeout(stopped, interval)
                        .expect("flusher lock is never poisoned")
                        .0;
                    let (_, written, durable) = shared.commit.positions();
                    if written > durable && shared.commit.flush().is_err() {
                        break; // poisoned: every caller sees the error
                    }
                }
            })
            .expect("spawning the flusher thread")
    };
    Flusher { stop, handle }
}
