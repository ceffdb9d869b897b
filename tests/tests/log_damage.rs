//! Damage to the log directory of a closed database, one row per kind of damage: open gives
//! a typed error that names the file (or the missing range), or it opens with exactly a
//! prefix of the commits, at least what the data file's checkpoint covers, and then accepts
//! small and large commits that survive a reopen. Never a panic, a hang, or an unwritable
//! database (docs/invariants.md, invariant 10).
//!
//! Also the reproduction of the log-roll bug as a user meets it: a header-only segment named
//! after the next LSN (what a kill between a roll and its first record leaves), then one
//! large commit.

use folio_tests::{AtRest, AtRestOptions};
use std::fs;
use std::path::{Path, PathBuf};

use folio::{Database, DatabaseOptions, Durability};
use folio_tests::{State, read_cf};
use folio_wal::testing::{encode_segment_header, framed_len};
use folio_wal::{SEGMENT_HEADER_BYTES, parse_segment_name, segment_name};

const CF: &str = "t";
const COMMITS: u64 = 36;
const VALUE_BYTES: usize = 7_000;
const SEGMENT_BYTES: u64 = 64 * 1024;

fn options_plain() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_on_close: false,
        ..DatabaseOptions::default()
    };
    options.wal.segment_bytes = SEGMENT_BYTES;
    options.wal.sync_interval = None;
    options
}

fn key(i: u64) -> Vec<u8> {
    format!("k{i:04}").into_bytes()
}

fn value(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|at| (i as usize + at * 7) as u8).collect()
}

/// The state after the first `n` commits.
fn state_after(n: u64) -> State {
    (0..n).map(|i| (key(i), value(i, VALUE_BYTES))).collect()
}

/// A database of `COMMITS` commits, one per record, checkpointed after `checkpoint_after`
/// commits if given (the log then starts near there). Returns the commits the checkpoint
/// covers.
fn build(path: &Path, checkpoint_after: Option<u64>, at_rest: AtRest) -> u64 {
    let db = Database::open_with(path, at_rest.apply(options_plain())).unwrap();
    db.create_cf(CF).unwrap();
    let mut covered = 0;
    for i in 0..COMMITS {
        let mut txn = db.begin_write(&[CF]).unwrap();
        txn.put(CF, &key(i), &value(i, VALUE_BYTES)).unwrap();
        txn.commit_with(Durability::Immediate).unwrap();
        if Some(i + 1) == checkpoint_after {
            db.checkpoint().unwrap();
            covered = i + 1;
        }
    }
    db.close().unwrap();
    covered
}

/// The log's segment files, oldest first.
fn segments(path: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(u64, PathBuf)> = fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let lsn = parse_segment_name(p.file_name()?.to_str()?)?;
            Some((lsn, p))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Byte offsets where the records of a segment end (after each one).
fn record_ends(segment: &Path) -> Vec<u64> {
    let bytes = fs::read(segment).unwrap();
    let mut at = SEGMENT_HEADER_BYTES as usize;
    let mut ends = Vec::new();
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += framed_len(len);
        ends.push(at as u64);
    }
    ends
}

fn truncate(segment: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(segment)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_owned()
}

/// What a row expects of the open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A typed error; the message contains what `damage` returned.
    Error,
    /// Opens with a prefix of the commits (at least what the checkpoint covers).
    Prefix,
    /// Opens with every commit.
    Everything,
}

struct Row {
    what: &'static str,
    checkpoint_after: Option<u64>,
    /// Damages the closed database at the path; returns the text the error must contain.
    damage: fn(&Path) -> String,
    outcome: Outcome,
}

fn newest(path: &Path) -> PathBuf {
    segments(path).pop().unwrap()
}

fn middle(path: &Path) -> PathBuf {
    let all = segments(path);
    assert!(
        all.len() >= 3,
        "the workload spans several segments: {all:?}"
    );
    all[all.len() / 2].clone()
}

fn after(path: &Path, segment: &Path) -> String {
    let all = segments(path);
    let at = all.iter().position(|s| s == segment).unwrap();
    name(&all[at + 1])
}

const ROWS: &[Row] = &[
    Row {
        what: "newest segment deleted",
        checkpoint_after: None,
        damage: |p| {
            fs::remove_file(newest(p)).unwrap();
            String::new()
        },
        outcome: Outcome::Prefix,
    },
    Row {
        what: "middle segment deleted",
        checkpoint_after: None,
        damage: |p| {
            let m = middle(p);
            let next = after(p, &m);
            fs::remove_file(m).unwrap();
            next
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "oldest segment deleted",
        checkpoint_after: None,
        damage: |p| {
            let all = segments(p);
            fs::remove_file(&all[0]).unwrap();
            name(&all[1])
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "oldest segment deleted after a checkpoint",
        checkpoint_after: Some(20),
        damage: |p| {
            let all = segments(p);
            fs::remove_file(&all[0]).unwrap();
            name(&all[1])
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "newest segment deleted after a checkpoint",
        checkpoint_after: Some(20),
        damage: |p| {
            fs::remove_file(newest(p)).unwrap();
            String::new()
        },
        outcome: Outcome::Prefix,
    },
    Row {
        what: "newest segment truncated to its header",
        checkpoint_after: None,
        damage: |p| {
            truncate(&newest(p), SEGMENT_HEADER_BYTES);
            String::new()
        },
        outcome: Outcome::Prefix,
    },
    Row {
        what: "newest segment truncated at a record boundary",
        checkpoint_after: None,
        damage: |p| {
            let n = newest(p);
            let ends = record_ends(&n);
            truncate(&n, ends[ends.len() / 2]);
            String::new()
        },
        outcome: Outcome::Prefix,
    },
    Row {
        what: "newest segment truncated mid-record",
        checkpoint_after: None,
        damage: |p| {
            let n = newest(p);
            let ends = record_ends(&n);
            truncate(&n, ends[ends.len() / 2] - 1_000);
            String::new()
        },
        outcome: Outcome::Prefix,
    },
    Row {
        what: "middle segment truncated to its header",
        checkpoint_after: None,
        damage: |p| {
            let m = middle(p);
            truncate(&m, SEGMENT_HEADER_BYTES);
            after(p, &m)
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "middle segment truncated at a record boundary",
        checkpoint_after: None,
        damage: |p| {
            let m = middle(p);
            let ends = record_ends(&m);
            truncate(&m, ends[ends.len() / 2]);
            after(p, &m)
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "middle segment truncated mid-record",
        checkpoint_after: None,
        damage: |p| {
            let m = middle(p);
            let ends = record_ends(&m);
            truncate(&m, ends[ends.len() / 2] - 1_000);
            name(&m)
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "newest segment zero-length",
        checkpoint_after: None,
        damage: |p| {
            truncate(&newest(p), 0);
            String::new()
        },
        outcome: Outcome::Prefix,
    },
    Row {
        what: "middle segment zero-length",
        checkpoint_after: None,
        damage: |p| {
            let m = middle(p);
            truncate(&m, 0);
            name(&m)
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "stray garbage file named after a later LSN",
        checkpoint_after: None,
        damage: |p| {
            let stray = segment_name(10_000);
            fs::write(p.join(&stray), b"not a segment at all, just some bytes").unwrap();
            stray
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "stray empty file named after the next LSN",
        checkpoint_after: None,
        damage: |p| {
            // COMMITS records plus the column family's creation.
            fs::write(p.join(segment_name(COMMITS + 2)), b"").unwrap();
            String::new()
        },
        outcome: Outcome::Everything,
    },
    Row {
        what: "header-only segment named after the next LSN (a kill during a roll)",
        checkpoint_after: None,
        damage: |p| {
            let mut bytes = encode_segment_header(COMMITS + 2).to_vec();
            bytes.resize(SEGMENT_BYTES as usize, 0);
            fs::write(p.join(segment_name(COMMITS + 2)), bytes).unwrap();
            String::new()
        },
        outcome: Outcome::Everything,
    },
    Row {
        what: "stray garbage file named before the oldest segment",
        checkpoint_after: None,
        damage: |p| {
            let stray = segment_name(0);
            fs::write(p.join(&stray), vec![0xA5; 100]).unwrap();
            stray
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "garbage in the newest segment's header",
        checkpoint_after: None,
        damage: |p| {
            let n = newest(p);
            let mut bytes = fs::read(&n).unwrap();
            bytes[20] ^= 0xFF;
            fs::write(&n, bytes).unwrap();
            name(&n)
        },
        outcome: Outcome::Error,
    },
    Row {
        what: "garbage in a middle segment's header",
        checkpoint_after: None,
        damage: |p| {
            let m = middle(p);
            let mut bytes = fs::read(&m).unwrap();
            bytes[..8].copy_from_slice(b"GARBAGE!");
            fs::write(&m, bytes).unwrap();
            name(&m)
        },
        outcome: Outcome::Error,
    },
];

/// Commits a small and a large value, reopens, and checks everything is there.
fn keeps_writing(path: &Path, db: Database, mut expected: State, what: &str, at_rest: AtRest) {
    let later = [
        (b"small".to_vec(), vec![1u8; 10]),
        (b"large".to_vec(), vec![2u8; 300_000]),
    ];
    for (k, v) in &later {
        let mut txn = db.begin_write(&[CF]).unwrap();
        txn.put(CF, k, v).unwrap();
        txn.commit_with(Durability::Immediate)
            .unwrap_or_else(|e| panic!("{what}: a commit after the damage failed: {e}"));
        expected.insert(k.clone(), v.clone());
    }
    db.close().unwrap();
    let db = Database::open_with(path, at_rest.apply(options_plain())).unwrap();
    assert_eq!(read_cf(&db.begin_read(), CF).unwrap(), expected, "{what}");
}

#[test]
fn damage_to_the_log_directory_gives_an_error_or_a_writable_prefix() {
    log_directory_damage(AtRest::Plain);
}

#[test]
fn damage_to_the_log_directory_gives_an_error_or_a_writable_prefix_encrypted() {
    log_directory_damage(AtRest::Encrypted);
}

fn log_directory_damage(at_rest: AtRest) {
    for row in ROWS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let covered = build(&path, row.checkpoint_after, at_rest);
        let must_name = (row.damage)(&path);
        let what = row.what;
        match (
            Database::open_with(&path, at_rest.apply(options_plain())),
            row.outcome,
        ) {
            (Err(error), Outcome::Error) => {
                let message = error.to_string();
                assert!(
                    message.contains(&must_name),
                    "{what}: the error should name {must_name}: {message}"
                );
            }
            (Ok(db), Outcome::Prefix | Outcome::Everything) => {
                let found = read_cf(&db.begin_read(), CF).unwrap();
                let n = found.len() as u64;
                assert_eq!(found, state_after(n), "{what}: not a prefix of the commits");
                assert!(
                    n >= covered,
                    "{what}: {n} commits, the checkpoint covered {covered}"
                );
                if row.outcome == Outcome::Everything {
                    assert_eq!(n, COMMITS, "{what}");
                } else {
                    assert!(n < COMMITS, "{what}: the damage should have cost commits");
                }
                keeps_writing(&path, db, found, what, at_rest);
            }
            (Ok(_), Outcome::Error) => panic!("{what}: opened, but an error was expected"),
            (Err(error), _) => panic!("{what}: {error}"),
        }
    }
}

#[test]
fn a_plain_file_where_the_database_should_be_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    fs::write(&path, b"a file").unwrap();
    let error = Database::open_with(&path, options_plain()).unwrap_err();
    assert!(error.to_string().contains("not a directory"), "{error}");
    assert_eq!(fs::read(&path).unwrap(), b"a file", "nothing changed");
}

/// The log-roll bug as reported: a header-only segment named after the next LSN, then a
/// commit larger than that segment. It failed with `AlreadyOpen` and poisoned the log, after
/// every reopen.
#[test]
fn a_large_commit_after_a_kill_during_a_log_roll() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open_with(&path, options_plain()).unwrap();
    db.create_cf(CF).unwrap();
    let mut txn = db.begin_write(&[CF]).unwrap();
    txn.put(CF, b"small", b"value").unwrap();
    txn.commit().unwrap();
    let next = db.stats().wal.next_lsn;
    db.close().unwrap();
    let mut header_only = encode_segment_header(next).to_vec();
    header_only.resize(SEGMENT_BYTES as usize, 0);
    fs::write(path.join(segment_name(next)), header_only).unwrap();

    for round in 0..2u8 {
        let db = Database::open_with(&path, options_plain()).unwrap();
        let mut txn = db.begin_write(&[CF]).unwrap();
        txn.put(CF, &[round], &vec![round; 100 * 1024]).unwrap();
        txn.commit()
            .unwrap_or_else(|e| panic!("round {round}: the 100 KiB commit failed: {e}"));
        let mut txn = db.begin_write(&[CF]).unwrap();
        txn.put(CF, b"after", &[round]).unwrap();
        txn.commit().unwrap();
        db.close().unwrap();
    }
    let db = Database::open_with(&path, options_plain()).unwrap();
    let found = read_cf(&db.begin_read(), CF).unwrap();
    assert_eq!(found.len(), 4);
    assert_eq!(found[&vec![1u8]], vec![1u8; 100 * 1024]);
}
