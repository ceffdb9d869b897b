//! Loom models of the group-commit protocol with a mock sink. Each model checks: no deadlock
//! (loom reports one), no lost wake-up (every thread finishes), nobody released before its
//! LSN is durable, one leader at a time, records written once and in order, and errors reach
//! everyone. Run with `cargo xtask loom`.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

use super::{BatchSink, Durability, GroupCommit, PendingRecord, SinkError};
use crate::sync::Mutex;
use crate::{Error, Lsn, Result};

/// Records what reached "disk"; fails the `fail_sync`-th sync (0-based) if set. A sync covers
/// exactly what was written before it (it is atomic in the model).
#[derive(Debug, Default)]
struct MockSink {
    in_write: AtomicBool,
    in_sync: AtomicBool,
    disk: Mutex<MockDisk>,
    fail_sync: Option<usize>,
    /// Refuse the `refuse_write`-th write (0-based) without writing anything.
    refuse_write: Option<usize>,
}

#[derive(Debug, Default)]
struct MockDisk {
    written: Vec<Lsn>,
    synced_through: Lsn,
    syncs: usize,
    writes: usize,
}

impl MockSink {
    fn failing_sync(index: usize) -> Self {
        Self {
            fail_sync: Some(index),
            ..Self::default()
        }
    }

    fn refusing_write(index: usize) -> Self {
        Self {
            refuse_write: Some(index),
            ..Self::default()
        }
    }

    fn enter(flag: &AtomicBool, what: &str) {
        assert!(
            !flag.swap(true, Ordering::SeqCst),
            "two {what}s in the sink at once"
        );
    }

    fn leave(flag: &AtomicBool) {
        flag.store(false, Ordering::SeqCst);
    }

    fn synced_through(&self) -> Lsn {
        self.disk.lock().synced_through
    }

    fn written(&self) -> Vec<Lsn> {
        self.disk.lock().written.clone()
    }
}

impl BatchSink for MockSink {
    fn write(&self, batch: &[PendingRecord]) -> Result<(), SinkError> {
        Self::enter(&self.in_write, "writer");
        {
            let mut disk = self.disk.lock();
            let index = disk.writes;
            disk.writes += 1;
            if self.refuse_write == Some(index) {
                drop(disk);
                Self::leave(&self.in_write);
                return Err(SinkError::Refused(Error::Storage(folio_io::Error::io(
                    folio_io::Operation::Allocate,
                    std::io::Error::from_raw_os_error(28),
                ))));
            }
            for record in batch {
                let expected = disk.written.last().map_or(1, |last| last + 1);
                assert_eq!(record.lsn, expected, "records out of order or repeated");
                disk.written.push(record.lsn);
            }
        }
        Self::leave(&self.in_write);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Self::enter(&self.in_sync, "syncer");
        let result = {
            let mut disk = self.disk.lock();
            let index = disk.syncs;
            disk.syncs += 1;
            if self.fail_sync == Some(index) {
                Err(Error::Storage(folio_io::Error::io(
                    folio_io::Operation::Sync,
                    std::io::Error::from_raw_os_error(5),
                )))
            } else {
                disk.synced_through = disk.written.last().copied().unwrap_or(0);
                Ok(())
            }
        };
        Self::leave(&self.in_sync);
        result
    }
}

fn engine(sink: MockSink) -> Arc<GroupCommit<MockSink>> {
    Arc::new(GroupCommit::new(sink, 1, None))
}

/// Appends `Immediate` and checks the record is durable on return.
fn durable_append(log: &GroupCommit<MockSink>, tag: u8) -> Lsn {
    let lsn = log
        .append(vec![tag], Durability::Immediate)
        .expect("no fault injected");
    assert!(
        log.sink().synced_through() >= lsn,
        "released before LSN {lsn} was durable"
    );
    lsn
}

fn committers(count: u8) {
    loom::model(move || {
        let log = engine(MockSink::default());
        let handles: Vec<_> = (0..count)
            .map(|tag| {
                let log = Arc::clone(&log);
                thread::spawn(move || durable_append(&log, tag))
            })
            .collect();
        let mut lsns: Vec<Lsn> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        lsns.sort_unstable();
        assert_eq!(lsns, (1..=Lsn::from(count)).collect::<Vec<_>>());
        assert_eq!(
            log.sink().written(),
            lsns,
            "every record written exactly once"
        );
        let (next, written, durable) = log.positions();
        assert_eq!(
            (next, written, durable),
            (lsns.len() as Lsn + 1, lsns.len() as Lsn, lsns.len() as Lsn)
        );
    });
}

#[test]
fn loom_two_committers() {
    committers(2);
}

#[test]
fn loom_three_committers() {
    committers(3);
}

#[test]
fn loom_failing_sync_reaches_every_waiter_and_poisons() {
    loom::model(|| {
        let log = engine(MockSink::failing_sync(0));
        let handles: Vec<_> = (0..2u8)
            .map(|tag| {
                let log = Arc::clone(&log);
                thread::spawn(move || log.append(vec![tag], Durability::Immediate))
            })
            .collect();
        let results: Vec<Result<Lsn>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // The first sync fails. A committer whose record it covered must fail; one that
        // succeeded must have been synced by a later, successful sync: impossible, since
        // the failure poisons the log. So everyone fails.
        for result in &results {
            assert!(
                result.is_err(),
                "a commit was acknowledged after the failed sync"
            );
        }
        assert_eq!(log.sink().synced_through(), 0);
        assert!(matches!(
            log.append(vec![9], Durability::Eventual),
            Err(Error::Poisoned { .. })
        ));
        assert!(matches!(log.flush(), Err(Error::Poisoned { .. })));
    });
}

#[test]
fn loom_waiter_arriving_during_a_sync() {
    loom::model(|| {
        let log = engine(MockSink::default());
        // Record 1 is written but not synced.
        let first = log.append(vec![1], Durability::Eventual).unwrap();
        assert_eq!(log.sink().written(), vec![first]);
        let appender = {
            let log = Arc::clone(&log);
            thread::spawn(move || durable_append(&log, 2))
        };
        let waiter = {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                log.wait_durable(first).unwrap();
                assert!(log.sink().synced_through() >= first);
            })
        };
        let second = appender.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(second, 2);
    });
}

#[test]
fn loom_shutdown_while_waiters_are_parked() {
    loom::model(|| {
        let log = engine(MockSink::default());
        let appender = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.append(vec![1], Durability::Immediate))
        };
        let closer = {
            let log = Arc::clone(&log);
            thread::spawn(move || log.close())
        };
        let outcome = appender.join().unwrap();
        closer.join().unwrap().expect("close drains without error");
        match outcome {
            Ok(lsn) => assert!(log.sink().synced_through() >= lsn),
            Err(error) => assert!(matches!(error, Error::Closed), "{error}"),
        }
        // Everything accepted before the close is durable once close returns.
        let (next, _, durable) = log.positions();
        assert_eq!(durable, next - 1);
        assert!(matches!(
            log.append(vec![2], Durability::Immediate),
            Err(Error::Closed)
        ));
    });
}

#[test]
fn loom_background_flush_mode() {
    loom::model(|| {
        let log = engine(MockSink::default());
        let appender = {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let lsn = log.append(vec![1], Durability::Eventual).unwrap();
                assert!(
                    log.sink().written().contains(&lsn),
                    "Eventual returns after the write"
                );
                lsn
            })
        };
        let flusher = {
            let log = Arc::clone(&log);
            // One step of the background flusher: sync everything appended so far.
            thread::spawn(move || {
                let through = log.flush().unwrap();
                assert!(log.sink().synced_through() >= through);
            })
        };
        let lsn = appender.join().unwrap();
        flusher.join().unwrap();
        // The flusher's next step covers whatever the first one missed.
        log.flush().unwrap();
        assert!(log.sink().synced_through() >= lsn);
    });
}

#[test]
fn loom_refused_batch_fails_its_appenders_and_the_log_goes_on() {
    loom::model(|| {
        let log = engine(MockSink::refusing_write(0));
        let appenders: Vec<_> = [Durability::Immediate, Durability::Eventual]
            .into_iter()
            .enumerate()
            .map(|(tag, durability)| {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    let outcome = log.append(vec![tag as u8], durability);
                    if let Ok(lsn) = outcome {
                        // Success means the record really is there (and durable if asked).
                        assert!(
                            log.sink().written().contains(&lsn),
                            "acknowledged, not written"
                        );
                        if durability == Durability::Immediate {
                            assert!(log.sink().synced_through() >= lsn);
                        }
                    }
                    outcome
                })
            })
            .collect();
        let flusher = {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let through = log.flush().expect("a refusal does not fail a flush");
                assert!(log.sink().synced_through() >= through);
            })
        };
        let results: Vec<Result<Lsn>> = appenders.into_iter().map(|h| h.join().unwrap()).collect();
        flusher.join().unwrap();
        // The first write was refused: at least one appender failed, and what was written is
        // a gap-free run from LSN 1 (refused LSNs were reused).
        assert!(results.iter().any(Result::is_err), "{results:?}");
        let written = log.sink().written();
        assert_eq!(written, (1..=written.len() as Lsn).collect::<Vec<_>>());
        let acknowledged = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            acknowledged,
            written.len(),
            "every written record was acknowledged"
        );
        // Not poisoned: the next record takes the next LSN and becomes durable.
        let next = durable_append(&log, 9);
        assert_eq!(next, written.len() as Lsn + 1);
    });
}

/// Waits for `lsn` as a task does: polled by loom's executor, never driving a round itself.
/// Checks the wake came after the sync that covered `lsn`.
fn await_durable(log: &GroupCommit<MockSink>, lsn: Lsn) -> Result<()> {
    let mut wait = super::TaskWait::new(lsn);
    let outcome = loom::future::block_on(std::future::poll_fn(|cx| {
        log.poll_durable(&mut wait, cx.waker())
    }));
    if outcome.is_ok() {
        assert!(
            log.sink().synced_through() >= lsn,
            "task woken before LSN {lsn} was durable"
        );
    }
    log.forget_task(&wait);
    outcome
}

/// The syncer thread of a log (`Wal` starts it on the first wait).
fn spawn_syncer(log: &Arc<GroupCommit<MockSink>>) -> thread::JoinHandle<()> {
    let log = Arc::clone(log);
    thread::spawn(move || log.serve_tasks())
}

/// A task: appends `Eventual` (the write, no sync), then awaits durability.
fn spawn_task(log: &Arc<GroupCommit<MockSink>>) -> thread::JoinHandle<Result<()>> {
    let log = Arc::clone(log);
    thread::spawn(move || {
        let lsn = log.append(vec![1], Durability::Eventual)?;
        await_durable(&log, lsn)
    })
}

#[test]
fn loom_task_is_woken_by_the_round_that_covers_it() {
    loom::model(|| {
        let log = engine(MockSink::default());
        let syncer = spawn_syncer(&log);
        let task = spawn_task(&log);
        task.join().unwrap().expect("no fault injected");
        log.close().unwrap();
        syncer.join().unwrap(); // returns once closed with no task waiting
    });
}

#[test]
fn loom_task_and_thread_share_rounds() {
    loom::model(|| {
        let log = engine(MockSink::default());
        let syncer = spawn_syncer(&log);
        let task = spawn_task(&log);
        let committer = {
            let log = Arc::clone(&log);
            thread::spawn(move || durable_append(&log, 2))
        };
        task.join().unwrap().expect("no fault injected");
        committer.join().unwrap();
        log.close().unwrap();
        syncer.join().unwrap();
        assert_eq!(log.sink().written(), vec![1, 2]);
    });
}

#[test]
fn loom_failing_sync_reaches_task_waiters() {
    loom::model(|| {
        let log = engine(MockSink::failing_sync(0));
        let syncer = spawn_syncer(&log);
        let task = spawn_task(&log);
        let outcome = task.join().unwrap();
        assert!(
            matches!(outcome, Err(Error::Poisoned { .. })),
            "the only sync failed, so the task cannot succeed: {outcome:?}"
        );
        assert!(log.close().is_err(), "the log stays poisoned");
        syncer.join().unwrap();
        assert_eq!(log.sink().synced_through(), 0);
    });
}
