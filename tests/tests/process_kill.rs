//! Real process kills: a child process commits multi-column-family transactions on a real
//! directory and reports each acknowledged durable commit on stdout; the parent kills it with
//! SIGKILL at a random point, reopens, and checks that every acknowledged commit is there,
//! that the state is a prefix of the commits, and that the column families agree; the
//! restarted child must then keep committing. Some records are larger than a log segment,
//! so kills also land between a log roll and its first record. Every third commit goes
//! through the async API (acknowledged when its future resolves). After each kill the
//! parent reads the commits since its last visit through a registered change-feed
//! subscriber: all of them, none missing. CI runs 50 kills;
//! `FOLIO_KILLS=N` (used by `cargo xtask crash`) runs N.
//!
//! The child is this test binary run again with `FOLIO_KILL_CHILD_DIR` set, executing only
//! [`child_process_entry`] (which does nothing without that variable). Its stderr goes to a
//! file whose text every failure message quotes.
//!
//! The two tests run in parallel in one process, and each one's spawns fork that process:
//! a child holds a copy of every descriptor the parent has open (the other test's database,
//! while it verifies) until the child calls `exec`. So a child's open may find its database
//! locked by its own parent's copy in a sibling in transit; it waits that out with
//! `lock_wait`. The parent's own reopens need nothing: a lock kept only by this process's
//! copies is waited out by default (`crates/folio-io/src/file_lock.rs`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use folio::{Database, DatabaseOptions, Durability};
use folio_tests::{AtRest, AtRestOptions};

const CFS: [&str; 3] = ["a", "b", "c"];
const CHILD_DIR_VAR: &str = "FOLIO_KILL_CHILD_DIR";
/// Set for the child of the encrypted run.
const CHILD_ENCRYPTED_VAR: &str = "FOLIO_KILL_CHILD_ENCRYPTED";
/// The change-feed subscriber the child registers and the parent acknowledges.
const SUBSCRIBER: &str = "kill-feed";

fn options(at_rest: AtRest) -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_dirty_bytes: 256 * 1024,
        dirty_bytes_max: Some(1 << 20),
        ..DatabaseOptions::default()
    };
    options.wal.segment_bytes = 256 * 1024;
    at_rest.apply(options)
}

/// Mostly small values; every seventh commit's are larger than a log segment (a record of
/// three of them spans several), so kills land in every step of a log roll too.
fn value(i: u64) -> Vec<u8> {
    let len = if i % 7 == 3 {
        300 * 1024 + (i as usize * 997) % (400 * 1024)
    } else {
        50 + (i as usize * 97) % 3000
    };
    vec![(i % 251) as u8; len]
}

/// The last committed transaction number (0 when none), read from every column family.
fn committed_counter(db: &Database) -> Vec<u64> {
    let read = db.begin_read();
    CFS.iter()
        .map(|cf| {
            read.get(cf, b"counter").unwrap().map_or(0, |v| {
                u64::from_be_bytes((&*v).try_into().expect("8-byte counter"))
            })
        })
        .collect()
}

/// The child's work: commit forever, printing `ACK n` after each durable commit.
fn child_main(dir: &Path, at_rest: AtRest) {
    // The parent's verify may have left a copy of its descriptor in a sibling test's child
    // that has not exec'd yet (module docs): ride it out. A lock still held after this is a
    // real failure (the previous child not dead, or the parent's handle not closed).
    let options = DatabaseOptions {
        lock_wait: Duration::from_secs(30),
        ..options(at_rest)
    };
    let db = Database::open_with(dir, options).expect("child open");
    for cf in CFS {
        db.create_cf_if_missing(cf).expect("child create_cf");
    }
    // The parent follows the commits through the change feed after each kill.
    db.register_subscriber(SUBSCRIBER)
        .expect("child register_subscriber");
    let mut next = committed_counter(&db)[0] + 1;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("child runtime");
    loop {
        let asynchronous = next % 3 == 1;
        let mut txn = if asynchronous {
            runtime.block_on(db.begin_write_async(&CFS))
        } else {
            db.begin_write(&CFS)
        }
        .expect("child begin_write");
        for cf in CFS {
            txn.put(cf, b"counter", &next.to_be_bytes()).unwrap();
            txn.put(cf, format!("k{next:08}").as_bytes(), &value(next))
                .unwrap();
            if next > 10 {
                txn.delete(cf, format!("k{:08}", next - 10).as_bytes())
                    .unwrap();
            }
        }
        let durability = if next.is_multiple_of(4) {
            Durability::Eventual
        } else {
            Durability::Immediate
        };
        if asynchronous {
            runtime
                .block_on(txn.commit_async_with(durability))
                .expect("child async commit");
        } else {
            txn.commit_with(durability).expect("child commit");
        }
        if durability == Durability::Immediate {
            println!("ACK {next}");
        }
        if next.is_multiple_of(25) {
            db.checkpoint().expect("child checkpoint");
        }
        next += 1;
    }
}

/// Entry point of the child process; a no-op in the normal test run.
#[test]
fn child_process_entry() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_VAR) {
        let at_rest = if std::env::var_os(CHILD_ENCRYPTED_VAR).is_some_and(|v| v == "1") {
            AtRest::Encrypted
        } else {
            AtRest::Plain
        };
        child_main(Path::new(&dir), at_rest);
    }
}

fn verify(dir: &Path, acked: u64, kill: u64, at_rest: AtRest, stderr: &Path) -> u64 {
    let db = Database::open_with(dir, options(at_rest))
        .unwrap_or_else(|e| panic!("kill {kill}: reopen failed: {e}\n{}", child_stderr(stderr)));
    if db.cf_names().len() < CFS.len() {
        assert_eq!(acked, 0, "kill {kill}: column families lost");
        return 0;
    }
    let counters = committed_counter(&db);
    assert!(
        counters.iter().all(|c| *c == counters[0]),
        "kill {kill}: column families disagree: {counters:?}"
    );
    let counter = counters[0];
    assert!(
        counter >= acked,
        "kill {kill}: commit {acked} was acknowledged, only {counter} recovered"
    );
    let read = db.begin_read();
    follow_feed(&db, read.version(), counter, kill);
    for cf in CFS {
        let tree = read.tree(cf).unwrap();
        tree.verify().unwrap();
        // Exactly the last ten keys of the prefix, plus the counter.
        let expected = counter.min(10) + 1;
        assert_eq!(
            read.len(cf).unwrap(),
            expected,
            "kill {kill}: {cf} has the wrong entries"
        );
        for i in counter.saturating_sub(9).max(1)..=counter {
            let got = read.get(cf, format!("k{i:08}").as_bytes()).unwrap();
            assert_eq!(
                got.as_deref(),
                Some(&value(i)[..]),
                "kill {kill}: {cf} k{i}"
            );
        }
    }
    counter
}

/// The subscriber's feed after a kill: every commit after its saved position up to the
/// recovered `version`, none missing (the log was kept for it across the kill), the last
/// one setting the recovered counter; then acknowledged, so the log can go.
fn follow_feed(db: &Database, version: u64, counter: u64, kill: u64) {
    let Ok(position) = db.subscriber_position(SUBSCRIBER) else {
        return; // killed before it registered
    };
    let mut feed = db
        .changes(position)
        .unwrap_or_else(|e| panic!("kill {kill}: the feed from {position}: {e}"));
    let mut lsns = Vec::new();
    let mut last_counter = None;
    while let Some(change) = feed.try_next().unwrap() {
        lsns.push(change.lsn);
        for op in &change.ops {
            if let folio::ChangeOp::Put { cf, key, value } = op
                && &**cf == "a"
                && &key[..] == b"counter"
            {
                last_counter = Some(u64::from_be_bytes((&value[..]).try_into().unwrap()));
            }
        }
    }
    let expected: Vec<u64> = (position + 1..=version).collect();
    assert_eq!(
        lsns, expected,
        "kill {kill}: the feed from {position} missed commits"
    );
    if !lsns.is_empty() && counter > 0 {
        assert_eq!(
            last_counter,
            Some(counter),
            "kill {kill}: the feed's last commit"
        );
    }
    db.acknowledge(SUBSCRIBER, version).unwrap();
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    kill_repeatedly(AtRest::Plain);
}

#[test]
fn acknowledged_commits_survive_sigkill_encrypted() {
    kill_repeatedly(AtRest::Encrypted);
}

fn kill_repeatedly(at_rest: AtRest) {
    let kills: u64 = std::env::var("FOLIO_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    // Beside the database's directory, not in it: the log lists that directory.
    let logs = tempfile::tempdir().unwrap();
    let stderr = logs.path().join("child.stderr");
    let exe = std::env::current_exe().unwrap();
    let mut rng = fastrand::Rng::with_seed(0x5EED);
    let mut recovered = 0;
    for kill in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_process_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_VAR, dir.path())
            .env(
                CHILD_ENCRYPTED_VAR,
                if at_rest == AtRest::Encrypted {
                    "1"
                } else {
                    ""
                },
            )
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        // Kill after a random number of acknowledgements (0 kills during open/recovery).
        let wait_for = rng.u64(0..12);
        let mut acked = recovered;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < wait_for {
            let Some(Ok(line)) = lines.next() else {
                panic!(
                    "kill {kill}: the child stopped early: {:?}\n{}",
                    child.wait(),
                    child_stderr(&stderr)
                );
            };
            if let Some(n) = line.strip_prefix("ACK ") {
                acked = n.parse().unwrap();
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Acknowledgements printed before the kill landed count too.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("ACK ") {
                acked = n.parse().unwrap();
            }
        }
        recovered = verify(dir.path(), acked, kill, at_rest, &stderr);
    }
    assert!(recovered > 0, "no commit ever survived");
    println!("kills survived: {kills}, last recovered commit {recovered}");
}

/// The last child's stderr, for a failure message.
fn child_stderr(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => "(the child wrote nothing to stderr)".to_owned(),
        Ok(text) => format!("the child's stderr:\n{text}"),
        Err(e) => format!("(the child's stderr could not be read: {e})"),
    }
}
