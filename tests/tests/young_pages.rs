//! Pages committed and superseded between two checkpoints are reused at once
//! (docs/pagestore.md, "Reuse"): readers that hold older snapshots must still read them
//! intact, checkpoints running beside the commits must never write a reused page's old
//! contents over its new owner's, and after a power cut the database holds every durable
//! commit. Small commits overwrite the same keys so nearly every page a commit writes is
//! superseded by the next one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{AtRest, CrashPolicy, SimDirectory};

const KEYS: u64 = 600;
/// Rounds of the test with readers.
const ROUNDS: u64 = 400;
const CF: &str = "data";

fn options(at_rest: AtRest) -> DatabaseOptions {
    DatabaseOptions {
        encryption_key: at_rest.key(),
        // A checkpoint every few dozen commits: between them commits reuse pages, and
        // some run while commits do.
        checkpoint_log_bytes: 256 << 10,
        checkpoint_dirty_bytes: 1 << 20,
        ..DatabaseOptions::default()
    }
}

fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Every key's value names the round that wrote it, padded so a leaf holds a few dozen.
fn value(round: u64, index: u64) -> Vec<u8> {
    let mut value = format!("{round}:{index}:").into_bytes();
    value.resize(100, b'.');
    value
}

/// The round a value was written in, checking it belongs to `index`.
fn round_of(bytes: &[u8], index: u64) -> u64 {
    let text = std::str::from_utf8(bytes).expect("values are text");
    let mut parts = text.trim_end_matches('.').split(':');
    let round: u64 = parts.next().and_then(|p| p.parse().ok()).expect("a round");
    let of: u64 = parts.next().and_then(|p| p.parse().ok()).expect("an index");
    assert_eq!(of, index, "key {index} holds another key's value");
    round
}

/// A round overwrites every tenth key (starting at `round % 10`) in one commit.
fn write_round(db: &Database, round: u64) -> folio::Result<()> {
    let mut txn = db.begin_write(&[CF])?;
    for index in ((round % 10)..KEYS).step_by(10) {
        txn.put(CF, &key(index), &value(round, index))?;
    }
    txn.commit_with(Durability::Eventual)?;
    Ok(())
}

/// The round that last wrote `index` after `rounds` rounds (0: the initial load).
fn expected_round(rounds: u64, index: u64) -> u64 {
    (1..=rounds)
        .rev()
        .find(|r| r % 10 == index % 10)
        .unwrap_or(0)
}

fn load(db: &Database) {
    db.create_cf(CF).unwrap();
    let mut txn = db.begin_write(&[CF]).unwrap();
    for index in 0..KEYS {
        txn.put(CF, &key(index), &value(0, index)).unwrap();
    }
    txn.commit_with(Durability::Immediate).unwrap();
}

folio_io::plain_and_encrypted!(
    readers_of_old_snapshots_read_them_intact_while_pages_are_reused,
    readers_of_old_snapshots_read_them_intact_while_pages_are_reused_encrypted,
    readers_keep_snapshots_body
);

fn readers_keep_snapshots_body(at_rest: AtRest) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(dir.path(), options(at_rest)).unwrap();
    load(&db);
    let written = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            scopeguard::defer! { done.store(true, Ordering::Release) }
            for round in 1..=ROUNDS {
                write_round(&db, round).unwrap();
                written.store(round, Ordering::Release);
            }
        });
        // Checkpoints beside the commits, every 40 rounds whatever the machine's load (the
        // background checkpointer's log trigger alone could miss a fast run entirely).
        scope.spawn(|| {
            for target in (20..=ROUNDS).step_by(40) {
                while written.load(Ordering::Acquire) < target && !done.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                db.checkpoint().unwrap();
            }
        });
        // Short readers: snapshots taken and dropped as fast as possible, so registrations
        // race with the horizon that decides which pages are reused.
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let read = db.begin_read();
                let rounds = (0..10)
                    .map(|i| round_of(&read.get(CF, &key(i)).unwrap().unwrap(), i))
                    .max()
                    .unwrap();
                for index in (0..KEYS).step_by(7) {
                    let round = round_of(&read.get(CF, &key(index)).unwrap().unwrap(), index);
                    assert_eq!(round, expected_round(rounds, index), "torn snapshot");
                }
            }
        });
        for _ in 0..2 {
            scope.spawn(|| {
                while !done.load(Ordering::Acquire) {
                    // A snapshot, read at once and again after more commits (and
                    // checkpoints) superseded its pages.
                    let read = db.begin_read();
                    let first: Vec<u64> = (0..KEYS)
                        .map(|i| round_of(&read.get(CF, &key(i)).unwrap().unwrap(), i))
                        .collect();
                    let rounds = first.iter().copied().max().unwrap();
                    assert!(rounds <= written.load(Ordering::Acquire) + 1);
                    for (index, round) in first.iter().enumerate() {
                        assert_eq!(
                            *round,
                            expected_round(rounds, index as u64),
                            "torn snapshot"
                        );
                    }
                    let target = written.load(Ordering::Acquire) + 3;
                    while written.load(Ordering::Acquire) < target.min(ROUNDS)
                        && !done.load(Ordering::Acquire)
                    {
                        std::thread::yield_now();
                    }
                    let mut again = 0;
                    for entry in read.tree(CF).unwrap().iter() {
                        let (k, v) = entry.unwrap();
                        let index = u64::from_be_bytes(k[..].try_into().unwrap());
                        assert_eq!(
                            round_of(&v, index),
                            first[index as usize],
                            "snapshot changed"
                        );
                        again += 1;
                    }
                    assert_eq!(again, KEYS);
                }
            });
        }
    });
    let stats = db.stats().page_store;
    assert!(
        stats.checkpoints > 1,
        "no checkpoint ran beside the commits"
    );
    // Readers hold the horizon back (nothing they might reach is reused), so how much was
    // reused above depends on timing; without readers commits reuse pages, except while a
    // checkpoint runs. This one waits for any running checkpoint and resets the log count
    // that starts the next, so however slow the machine, the rounds below run beside none
    // (the second frees the first one's pages, the third takes them).
    db.checkpoint().unwrap();
    let mut rounds = ROUNDS;
    while db.stats().page_store.young_pages_reused == stats.young_pages_reused {
        assert!(
            rounds < ROUNDS + 2_000,
            "commits without readers reused no page before a checkpoint"
        );
        rounds += 1;
        write_round(&db, rounds).unwrap();
    }
    assert!(db.check_integrity().unwrap().is_ok());
    drop(db);
    let db = Database::open_with(dir.path(), options(at_rest)).unwrap();
    let read = db.begin_read();
    for index in 0..KEYS {
        let round = round_of(&read.get(CF, &key(index)).unwrap().unwrap(), index);
        assert_eq!(round, expected_round(rounds, index));
    }
}

folio_io::plain_and_encrypted!(
    a_power_cut_while_pages_are_reused_keeps_every_durable_commit,
    a_power_cut_while_pages_are_reused_keeps_every_durable_commit_encrypted,
    power_cut_body
);

fn power_cut_body(at_rest: AtRest) {
    for seed in 0..4 {
        let disk = SimDirectory::new(seed);
        let db = Database::open_in(Arc::new(disk.clone()), options(at_rest)).unwrap();
        load(&db);
        let rounds = 150 + seed * 37;
        for round in 1..=rounds {
            write_round(&db, round).unwrap();
            if round % 50 == 0 {
                db.checkpoint().unwrap();
            }
        }
        db.flush().unwrap();
        let reused = db.stats().page_store.young_pages_reused;
        assert!(reused > 0, "no page was reused before a checkpoint");
        let after = disk.crash(CrashPolicy::Random);
        drop(db);
        let db = Database::open_in(Arc::new(after), options(at_rest)).unwrap();
        assert!(db.check_integrity().unwrap().is_ok(), "seed {seed}");
        let read = db.begin_read();
        for index in 0..KEYS {
            let round = round_of(&read.get(CF, &key(index)).unwrap().unwrap(), index);
            assert_eq!(round, expected_round(rounds, index), "seed {seed}");
        }
    }
}
