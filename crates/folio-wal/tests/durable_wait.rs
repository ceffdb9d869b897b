//! `Wal::durable` futures polled by hand: a wait registered before the log shuts down is
//! woken by the shutdown's final sync and resolves `Ok` (no lost wake-up at close), a wait
//! for an LSN never appended is an error, and a dropped wait leaves nothing behind.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use folio_io::FsDirectory;
use folio_wal::{Durability, Error, Wal, WalOptions};

/// Counts its wake-ups.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn open(dir: &std::path::Path) -> Wal {
    let options = WalOptions {
        sync_interval: None, // nothing syncs unless asked
        ..WalOptions::default()
    };
    Wal::open(Arc::new(FsDirectory::open(dir).unwrap()), options)
        .unwrap()
        .0
}

#[test]
fn a_wait_pending_at_shutdown_is_woken_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let lsn = log.append(b"record", Durability::Eventual).unwrap();
    let counter = Arc::new(Counter::default());
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut wait = Box::pin(log.durable(lsn));
    // Pending, or already durable if the syncer was quick: both are fine; if pending, the
    // shutdown's drain must wake it.
    let first = wait.as_mut().poll(&mut cx);
    log.shut_down().unwrap();
    if first.is_pending() {
        assert!(
            counter.0.load(Ordering::SeqCst) >= 1,
            "not woken by the close"
        );
    }
    assert!(matches!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    assert!(log.durable_lsn() >= lsn);
}

#[test]
fn a_wait_for_an_lsn_never_appended_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut cx = Context::from_waker(Waker::noop());
    let mut wait = Box::pin(log.durable(5));
    assert!(matches!(
        wait.as_mut().poll(&mut cx),
        Poll::Ready(Err(Error::BeyondEnd { requested: 5, .. }))
    ));
}

#[test]
fn many_dropped_waits_leave_the_log_usable() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..100u32 {
        let lsn = log.append(&i.to_le_bytes(), Durability::Eventual).unwrap();
        let mut wait = Box::pin(log.durable(lsn));
        let _ = wait.as_mut().poll(&mut cx);
        drop(wait); // withdraws its registration
    }
    let last = log.append(b"last", Durability::Immediate).unwrap();
    assert_eq!(last, 101);
    log.close().unwrap();
}
