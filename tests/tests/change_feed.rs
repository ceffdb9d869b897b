//! The change feed (`Database::changes`, docs/changes.md) against a model: every commit
//! the test makes is recorded with its LSN and operations; a feed started after any LSN,
//! with any filter, must deliver exactly the recorded commits after it whose operations
//! pass the filter, in order, with those operations, across checkpoints, renames and
//! reopens. Then: retention for registered subscribers (bounded, with a typed error for one
//! that fell behind), a consumer resuming after power cuts (nothing lost, nothing twice),
//! markers for unlogged commits, and a blocking feed that ends when the database closes.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use folio::{Change, ChangeOp, Database, DatabaseOptions, Durability, ErrorKind, WriteBatch};
use folio_io::{AtRest, CrashPolicy, SimDirectory};
use proptest::prelude::*;

const CFS: [&str; 3] = ["a", "b", "c"];
/// Column family "c" is renamed to this and back.
const C_RENAMED: &str = "c2";

/// One operation as the model records it (names as at the commit).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Recorded {
    Put(String, Vec<u8>, Vec<u8>),
    Delete(String, Vec<u8>),
    /// Keys `[prefix, from]` up to, not including, `[prefix, to]`.
    DeleteRange(String, u8, u8, u8),
    Create(String),
    Rename(String, String),
}

#[derive(Debug, Clone)]
enum Step {
    /// Operations on column families by index: (cf, prefix index, key digit, kind).
    Commit(Vec<(usize, usize, u8, Kind)>, bool),
    Checkpoint,
    RenameC,
    Reopen,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Put(u8),
    Delete,
    DeleteRange(u8),
}

const PREFIXES: [u8; 2] = [b'x', b'y'];

fn step() -> impl Strategy<Value = Step> {
    let op = (
        0..CFS.len(),
        0..PREFIXES.len(),
        0u8..10,
        prop_oneof![
            4 => any::<u8>().prop_map(Kind::Put),
            2 => Just(Kind::Delete),
            1 => (1u8..6).prop_map(Kind::DeleteRange),
        ],
    );
    prop_oneof![
        12 => (prop::collection::vec(op, 1..5), any::<bool>()).prop_map(|(ops, sync)| Step::Commit(ops, sync)),
        1 => Just(Step::Checkpoint),
        1 => Just(Step::RenameC),
        1 => Just(Step::Reopen),
    ]
}

/// A feed to check: where it starts (a fraction of the commits), which column family and
/// key prefix it keeps.
#[derive(Debug, Clone)]
struct FeedSpec {
    start: u8,
    cf: Option<usize>,
    prefix: Option<usize>,
}

fn feed_spec() -> impl Strategy<Value = FeedSpec> {
    (
        any::<u8>(),
        prop::option::of(0..CFS.len() + 1),
        prop::option::of(0..PREFIXES.len()),
    )
        .prop_map(|(start, cf, prefix)| FeedSpec { start, cf, prefix })
}

fn options(at_rest: AtRest) -> DatabaseOptions {
    DatabaseOptions {
        encryption_key: at_rest.key(),
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    }
}

struct Model {
    /// Current name of each column family index.
    names: Vec<String>,
    data: Vec<BTreeMap<Vec<u8>, Vec<u8>>>,
    commits: Vec<(u64, Vec<Recorded>)>,
}

impl Model {
    /// Runs one commit's operations against the database and the model; an operation that
    /// would change nothing (a delete of a missing key) is left out, as the log leaves it.
    fn commit(
        &mut self,
        db: &Database,
        ops: &[(usize, usize, u8, Kind)],
        sync: bool,
    ) -> folio::Result<()> {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let mut txn = db.begin_write(&names)?;
        let mut recorded = Vec::new();
        for &(cf, prefix, digit, kind) in ops {
            let name = self.names[cf].clone();
            let key = vec![PREFIXES[prefix], b'0' + digit];
            match kind {
                Kind::Put(value) => {
                    let value = vec![value; usize::from(value % 7) + 1];
                    txn.put(name.as_str(), &key, &value)?;
                    self.data[cf].insert(key.clone(), value.clone());
                    recorded.push(Recorded::Put(name, key, value));
                }
                Kind::Delete => {
                    if self.data[cf].remove(&key).is_some() {
                        assert!(txn.delete(name.as_str(), &key)?);
                        recorded.push(Recorded::Delete(name, key));
                    }
                }
                Kind::DeleteRange(span) => {
                    let to = (digit + span).min(10);
                    let start = vec![PREFIXES[prefix], b'0' + digit];
                    let end = vec![PREFIXES[prefix], b'0' + to];
                    let doomed: Vec<Vec<u8>> = self.data[cf]
                        .range(start.clone()..end.clone())
                        .map(|(k, _)| k.clone())
                        .collect();
                    if !doomed.is_empty() {
                        for key in &doomed {
                            self.data[cf].remove(key);
                        }
                        let removed = txn.delete_range(name.as_str(), &start[..]..&end[..])?;
                        assert_eq!(removed, doomed.len() as u64);
                        recorded.push(Recorded::DeleteRange(name, PREFIXES[prefix], digit, to));
                    }
                }
            }
        }
        if recorded.is_empty() {
            drop(txn);
            return Ok(());
        }
        let durability = if sync {
            Durability::Immediate
        } else {
            Durability::Eventual
        };
        let lsn = txn.commit_with(durability)?;
        self.commits.push((lsn, recorded));
        Ok(())
    }

    fn rename_c(&mut self, db: &Database) -> folio::Result<()> {
        let to = if self.names[2] == CFS[2] {
            C_RENAMED
        } else {
            CFS[2]
        };
        let from = std::mem::replace(&mut self.names[2], to.to_owned());
        db.rename_cf(&from, to)?;
        let lsn = db.stats().published_version;
        self.commits
            .push((lsn, vec![Recorded::Rename(from, to.to_owned())]));
        Ok(())
    }

    /// What a feed after `after` with these filters must deliver.
    fn expected(
        &self,
        after: u64,
        cf: Option<&str>,
        prefix: Option<u8>,
    ) -> Vec<(u64, Vec<Recorded>)> {
        let wants_cf = |name: &str| cf.is_none_or(|cf| cf == name);
        let wants_key = |key: &[u8]| prefix.is_none_or(|p| key[0] == p);
        self.commits
            .iter()
            .filter(|(lsn, _)| *lsn > after)
            .map(|(lsn, ops)| {
                let kept = ops
                    .iter()
                    .filter(|op| match op {
                        Recorded::Put(c, key, _) | Recorded::Delete(c, key) => {
                            wants_cf(c) && wants_key(key)
                        }
                        Recorded::DeleteRange(c, p, _, _) => {
                            wants_cf(c) && prefix.is_none_or(|want| want == *p)
                        }
                        Recorded::Create(c) => wants_cf(c),
                        Recorded::Rename(from, to) => wants_cf(from) || wants_cf(to),
                    })
                    .cloned()
                    .collect::<Vec<_>>();
                (*lsn, kept)
            })
            .filter(|(_, ops)| !ops.is_empty())
            .collect()
    }
}

/// A delivered change in the model's terms.
fn recorded(change: &Change) -> (u64, Vec<Recorded>) {
    let ops = change
        .ops
        .iter()
        .map(|op| match op {
            ChangeOp::Put { cf, key, value } => {
                Recorded::Put(cf.to_string(), key.to_vec(), value.to_vec())
            }
            ChangeOp::Delete { cf, key } => Recorded::Delete(cf.to_string(), key.to_vec()),
            ChangeOp::DeleteRange { cf, start, end } => {
                let (Bound::Included(start), Bound::Excluded(end)) = (start, end) else {
                    panic!("unexpected bounds {start:?}..{end:?}");
                };
                assert_eq!(start[0], end[0]);
                Recorded::DeleteRange(cf.to_string(), start[0], start[1] - b'0', end[1] - b'0')
            }
            ChangeOp::CreateCf { cf } => Recorded::Create(cf.to_string()),
            ChangeOp::RenameCf { from, to } => Recorded::Rename(from.to_string(), to.to_string()),
            other => panic!("unexpected operation {other:?}"),
        })
        .collect();
    (change.lsn, ops)
}

/// Everything a feed delivers until it catches up.
fn drain(
    db: &Database,
    after: u64,
    cf: Option<&str>,
    prefix: Option<u8>,
) -> Vec<(u64, Vec<Recorded>)> {
    let mut feed = db.changes(after).unwrap();
    if let Some(cf) = cf {
        feed = feed.column_family(cf);
    }
    if let Some(prefix) = prefix {
        feed = feed.prefix(&[prefix]);
    }
    let mut delivered = Vec::new();
    while let Some(change) = feed.try_next().unwrap() {
        delivered.push(recorded(&change));
    }
    assert_eq!(feed.position(), db.stats().published_version);
    delivered
}

fn check_feeds(db: &Database, model: &Model, start: u64, feeds: &[FeedSpec]) {
    let lsns: Vec<u64> = std::iter::once(start)
        .chain(model.commits.iter().map(|(lsn, _)| *lsn))
        .collect();
    for spec in feeds {
        let after = lsns[usize::from(spec.start) * (lsns.len() - 1) / 255];
        let cf = spec
            .cf
            .map(|i| if i < CFS.len() { CFS[i] } else { C_RENAMED });
        let prefix = spec.prefix.map(|i| PREFIXES[i]);
        assert_eq!(
            drain(db, after, cf, prefix),
            model.expected(after, cf, prefix),
            "feed after {after}, cf {cf:?}, prefix {prefix:?}"
        );
    }
}

/// With `early_feed`, a feed exists from the start, so the log keeps the records in memory
/// and later feeds read them there; without, they read them from the segment files.
fn model_body(at_rest: AtRest, steps: &[Step], feeds: &[FeedSpec], early_feed: bool) {
    let mut disk = SimDirectory::new(1);
    let mut db = Database::open_in(Arc::new(disk.clone()), options(at_rest)).unwrap();
    let start = db.register_subscriber("model").unwrap();
    let early = early_feed.then(|| db.changes(start).unwrap());
    let mut model = Model {
        names: CFS.iter().map(|s| (*s).to_owned()).collect(),
        data: vec![BTreeMap::new(); CFS.len()],
        commits: Vec::new(),
    };
    for name in CFS {
        db.create_cf(name).unwrap();
        let lsn = db.stats().published_version;
        model
            .commits
            .push((lsn, vec![Recorded::Create(name.to_owned())]));
    }
    for step in steps {
        match step {
            Step::Commit(ops, sync) => model.commit(&db, ops, *sync).unwrap(),
            Step::Checkpoint => {
                db.checkpoint().unwrap();
            }
            Step::RenameC => model.rename_c(&db).unwrap(),
            Step::Reopen => {
                drop(db);
                disk = disk.crash(CrashPolicy::DropUnsynced);
                db = Database::open_in(Arc::new(disk.clone()), options(at_rest)).unwrap();
            }
        }
    }
    check_feeds(&db, &model, start, feeds);
    drop(early);
    // Again after a checkpoint and a reopen: the subscriber kept the log.
    db.checkpoint().unwrap();
    drop(db);
    let db = Database::open_in(
        Arc::new(disk.crash(CrashPolicy::DropUnsynced)),
        options(at_rest),
    )
    .unwrap();
    assert_eq!(db.subscriber_position("model").unwrap(), start);
    check_feeds(&db, &model, start, feeds);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_feed_delivers_exactly_the_commits_after_its_start(
        steps in prop::collection::vec(step(), 1..40),
        feeds in prop::collection::vec(feed_spec(), 1..6),
        encrypted in any::<bool>(),
        early_feed in any::<bool>(),
    ) {
        let at_rest = if encrypted { AtRest::Encrypted } else { AtRest::Plain };
        model_body(at_rest, &steps, &feeds, early_feed);
    }
}

fn put(db: &Database, cf: &str, key: &[u8], value: &[u8], durability: Durability) -> u64 {
    let mut txn = db.begin_write(&[cf]).unwrap();
    txn.put(cf, key, value).unwrap();
    txn.commit_with(durability).unwrap()
}

/// A subscriber whose saved position names commits a power cut lost (registered, or
/// acknowledging, after an `Eventual` commit not yet synced) resumes after the recovered
/// version: the commits that reuse those LSNs reach it.
#[test]
fn a_position_past_what_a_crash_kept_resumes_at_the_recovered_version() {
    let mut options = options(AtRest::Plain);
    options.wal.sync_interval = None; // only explicit syncs make `Eventual` commits durable
    options.checkpoint_on_close = false;
    let disk = SimDirectory::new(11);
    let db = Database::open_in(Arc::new(disk.clone()), options.clone()).unwrap();
    db.create_cf("t").unwrap();
    let kept = put(&db, "t", b"kept", b"1", Durability::Immediate);
    let lost = put(&db, "t", b"lost", b"2", Durability::Eventual);
    assert_eq!(db.register_subscriber("s").unwrap(), lost);
    let rebooted = disk.crash(CrashPolicy::DropUnsynced);
    drop(db);
    let db = Database::open_in(Arc::new(rebooted), options).unwrap();
    assert_eq!(
        db.begin_read().version(),
        kept,
        "the Eventual commit was lost"
    );
    let position = db.subscriber_position("s").unwrap();
    assert_eq!(position, kept);
    let reused = put(&db, "t", b"after", b"3", Durability::Immediate);
    assert_eq!(reused, lost, "the next commit takes the lost commit's LSN");
    let change = db.changes(position).unwrap().try_next().unwrap().unwrap();
    assert_eq!(change.lsn, reused);
    assert!(
        matches!(&change.ops[..], [ChangeOp::Put { key, .. }] if key.as_ref() == b"after"),
        "{change:?}"
    );
}

/// The log keeps recent records in memory for feeds only while one lives.
#[test]
fn recent_records_are_kept_in_memory_only_while_a_feed_lives() {
    let db = Database::open_in(Arc::new(SimDirectory::new(12)), options(AtRest::Plain)).unwrap();
    db.create_cf("t").unwrap();
    put(&db, "t", b"before", b"1", Durability::Immediate);
    assert_eq!(db.stats().wal.recent_record_bytes, 0, "no feed yet");
    let first = db.changes(0).unwrap();
    let second = db.changes(0).unwrap();
    put(&db, "t", b"k", &[7; 1000], Durability::Immediate);
    assert!(db.stats().wal.recent_record_bytes >= 1000);
    drop(first);
    assert!(db.stats().wal.recent_record_bytes >= 1000, "a feed is left");
    drop(second);
    assert_eq!(
        db.stats().wal.recent_record_bytes,
        0,
        "freed with the last feed"
    );
    put(&db, "t", b"k", &[8; 1000], Durability::Immediate);
    assert_eq!(db.stats().wal.recent_record_bytes, 0, "and no longer kept");
    let mut again = db.changes(0).unwrap();
    assert_eq!(again.try_next().unwrap().unwrap().ops.len(), 1);
}

/// Bytes of log segment files in the directory.
fn log_bytes(disk: &SimDirectory) -> u64 {
    use folio_io::{Directory, Storage};
    disk.list()
        .unwrap()
        .iter()
        .filter(|name| folio_wal::parse_segment_name(name).is_some())
        .map(|name| disk.file(name).unwrap().len().unwrap())
        .sum()
}

#[test]
fn a_subscriber_keeps_the_log_within_the_retention_bound() {
    const SEGMENT: u64 = 64 << 10;
    const RETENTION: u64 = 4 * SEGMENT;
    let disk = SimDirectory::new(7);
    let options = DatabaseOptions {
        checkpoint_interval: None,
        change_retention_bytes: RETENTION,
        ..DatabaseOptions::default()
    };
    let mut options = options;
    options.wal.segment_bytes = SEGMENT;
    let db = Database::open_in(Arc::new(disk.clone()), options.clone()).unwrap();
    db.create_cf("t").unwrap();
    let start = db.register_subscriber("slow").unwrap();
    // An unregistered feed started with the subscriber, read once, then left behind.
    let mut left_behind = db.changes(start).unwrap();
    let first = put(&db, "t", b"k0", &[1; 1000], Durability::Eventual);
    assert_eq!(left_behind.try_next().unwrap().unwrap().lsn, first);
    // Writers never wait for the subscriber: 2 MB of commits go through, checkpointed.
    let mut last = first;
    for i in 1..2000u32 {
        last = put(&db, "t", &i.to_be_bytes(), &[2; 1000], Durability::Eventual);
        if i % 100 == 0 {
            db.checkpoint().unwrap();
        }
    }
    db.checkpoint().unwrap();
    let kept = log_bytes(&disk);
    assert!(
        (RETENTION - SEGMENT..=RETENTION + SEGMENT).contains(&kept),
        "{kept} bytes of log kept for a {RETENTION}-byte bound"
    );
    // The subscriber's changes were dropped: a typed error, never a gap.
    let error = db.changes(start).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Truncated, "{error}");
    let folio::Error::ChangesTruncated { oldest, .. } = error else {
        panic!("{error}")
    };
    assert_eq!(oldest - 1, db.earliest_change_position());
    // So does a feed that fell behind while it ran, and then it ends.
    let error = left_behind.next().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Truncated, "{error}");
    assert!(left_behind.next().is_none());
    // From what is kept, every commit to the last in order.
    let from = db.earliest_change_position();
    let lsns: Vec<u64> = std::iter::from_fn({
        let mut feed = db.changes(from).unwrap();
        move || feed.try_next().unwrap()
    })
    .map(|change| change.lsn)
    .collect();
    assert_eq!(lsns, ((from + 1)..=last).collect::<Vec<_>>());
    // Acknowledged to the end, the next checkpoint drops the kept log.
    db.acknowledge("slow", last).unwrap();
    put(&db, "t", b"after", b"v", Durability::Immediate);
    db.checkpoint().unwrap();
    assert!(log_bytes(&disk) <= 2 * SEGMENT, "{}", log_bytes(&disk));
    // Unregistered, nothing is kept for it.
    db.unregister_subscriber("slow").unwrap();
    assert!(db.subscribers().is_empty());
}

#[test]
fn subscribers_persist_and_bad_requests_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("t").unwrap();
    let at = db.register_subscriber("mirror").unwrap();
    assert_eq!(
        db.register_subscriber("mirror").unwrap(),
        at,
        "registering again changes nothing"
    );
    let lsn = put(&db, "t", b"k", b"v", Durability::Immediate);
    db.acknowledge("mirror", lsn).unwrap();
    db.acknowledge("mirror", at).unwrap(); // never back
    assert_eq!(db.subscriber_position("mirror").unwrap(), lsn);
    for (error, kind) in [
        (
            db.register_subscriber("").unwrap_err(),
            ErrorKind::InvalidInput,
        ),
        (
            db.register_subscriber(&"n".repeat(256)).unwrap_err(),
            ErrorKind::InvalidInput,
        ),
        (
            db.acknowledge("mirror", lsn + 5).unwrap_err(),
            ErrorKind::InvalidInput,
        ),
        (
            db.acknowledge("nobody", lsn).unwrap_err(),
            ErrorKind::NotFound,
        ),
        (
            db.unregister_subscriber("nobody").unwrap_err(),
            ErrorKind::NotFound,
        ),
        (
            db.changes(lsn + 1).map(|_| ()).unwrap_err(),
            ErrorKind::InvalidInput,
        ),
    ] {
        assert_eq!(error.kind(), kind, "{error}");
    }
    db.register_subscriber("search").unwrap();
    drop(db);
    // The acknowledgement was saved by the close.
    let db = Database::open(dir.path()).unwrap();
    let listed: Vec<(String, u64)> = db
        .subscribers()
        .into_iter()
        .map(|s| (s.name, s.acknowledged))
        .collect();
    assert_eq!(
        listed,
        vec![("mirror".to_owned(), lsn), ("search".to_owned(), lsn)]
    );
    drop(db);
    // A damaged file is refused with a typed error, the database left as it was.
    let path = dir.path().join(folio::SUBSCRIBERS_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let error = Database::open(dir.path()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Corruption, "{error}");
    bytes[20] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(Database::open(dir.path()).unwrap().subscribers().len(), 2);
}

/// Applies every change `feed` holds now to `mirror` (puts only), recording their LSNs;
/// returns the last one. With `durable_only` (the feed's setting) each must be durable.
fn consume(
    mut feed: folio::Changes,
    durable_only: bool,
    mirror: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    applied: &mut Vec<u64>,
) -> Option<u64> {
    let mut last = None;
    while let Some(change) = feed.try_next().unwrap() {
        assert!(change.durable || !durable_only, "{change:?}");
        for op in &change.ops {
            let ChangeOp::Put { key, value, .. } = op else {
                panic!("{op:?}")
            };
            mirror.insert(key.to_vec(), value.to_vec());
        }
        applied.push(change.lsn);
        last = Some(change.lsn);
    }
    last
}

fn crash_body(at_rest: AtRest) {
    for seed in 0..6u64 {
        let mut disk = SimDirectory::new(seed);
        let options = DatabaseOptions {
            encryption_key: at_rest.key(),
            checkpoint_interval: None,
            ..DatabaseOptions::default()
        };
        let mut db = Database::open_in(Arc::new(disk.clone()), options.clone()).unwrap();
        db.create_cf("t").unwrap();
        let mut position = db.register_subscriber("mirror").unwrap();
        // The consumer's side: what it applied (it survives the database's crashes).
        let mut mirror: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut applied: Vec<u64> = Vec::new();
        let mut counter = 0u64;
        for round in 0..4 {
            for i in 0..60u64 {
                counter += 1;
                let durability = if (i + seed) % 3 == 0 {
                    Durability::Immediate
                } else {
                    Durability::Eventual
                };
                let key = (counter % 37).to_be_bytes();
                put(&db, "t", &key, &counter.to_be_bytes(), durability);
                if i % 17 == 0 {
                    db.checkpoint().unwrap();
                }
                if i % 11 == 0 {
                    // The consumer catches up on durable changes and acknowledges them.
                    let feed = db.changes(position).unwrap().durable_only();
                    position = consume(feed, true, &mut mirror, &mut applied).unwrap_or(position);
                    db.acknowledge("mirror", position).unwrap();
                }
            }
            drop(db);
            disk = disk.crash(CrashPolicy::Random);
            db = Database::open_in(Arc::new(disk.clone()), options.clone()).unwrap();
            // The database's saved position is never past the consumer's, so its feed resumes.
            assert!(
                db.subscriber_position("mirror").unwrap() <= position,
                "round {round}"
            );
            let feed = db.changes(position).unwrap();
            position = consume(feed, false, &mut mirror, &mut applied).unwrap_or(position);
            db.acknowledge("mirror", position).unwrap();
            // Nothing delivered was lost, nothing twice: the mirror is the database.
            let read = db.begin_read();
            let contents: BTreeMap<Vec<u8>, Vec<u8>> = read
                .tree("t")
                .unwrap()
                .iter()
                .map(|entry| {
                    let (key, value) = entry.unwrap();
                    (key.clone(), value.to_vec())
                })
                .collect();
            assert_eq!(mirror, contents, "seed {seed} round {round}");
            assert!(
                applied.windows(2).all(|w| w[0] < w[1]),
                "in order, once each"
            );
            assert_eq!(position, read.version());
        }
    }
}

folio_io::plain_and_encrypted!(
    a_consumer_resumes_after_power_cuts_with_nothing_lost_or_repeated,
    a_consumer_resumes_after_power_cuts_with_nothing_lost_or_repeated_encrypted,
    crash_body
);

#[test]
fn unlogged_commits_are_delivered_as_markers_and_compaction_as_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .large_transaction_bytes(64 << 10)
        .open(dir.path())
        .unwrap();
    db.create_cf("bulk").unwrap();
    db.create_cf("big").unwrap();
    let start = db.register_subscriber("s").unwrap();
    let mut load = db.bulk_load("bulk").unwrap();
    for i in 0..1000u32 {
        load.put(&i.to_be_bytes(), b"value").unwrap();
    }
    let loaded = load.finish().unwrap();
    let mut txn = db.begin_write(&["big"]).unwrap();
    for i in 0..1000u32 {
        txn.put("big", &i.to_be_bytes(), &[7; 200]).unwrap();
    }
    assert!(txn.is_unlogged());
    let big = txn.commit().unwrap();
    db.compact().unwrap();
    let mut batch = WriteBatch::new();
    batch.put("bulk", b"last", b"v");
    let last = db.write(batch).unwrap();
    let changes: Vec<Change> = std::iter::from_fn({
        let mut feed = db.changes(start).unwrap();
        move || feed.try_next().unwrap()
    })
    .collect();
    let markers: Vec<(u64, String)> = changes
        .iter()
        .flat_map(|change| change.ops.iter().map(move |op| (change.lsn, op)))
        .filter_map(|(lsn, op)| match op {
            ChangeOp::Unlogged { cf } => Some((lsn, cf.to_string())),
            _ => None,
        })
        .collect();
    assert!(
        markers.iter().any(|m| *m == (big, "big".to_owned())),
        "{markers:?}"
    );
    assert!(
        markers
            .iter()
            .all(|(lsn, cf)| *lsn <= loaded && cf == "bulk" || *lsn == big),
        "{markers:?}"
    );
    assert!(markers.iter().any(|(_, cf)| cf == "bulk"), "{markers:?}");
    assert_eq!(changes.last().unwrap().lsn, last);
    assert_eq!(
        changes.last().unwrap().ops.len(),
        1,
        "compaction emitted nothing"
    );
}

/// `writers` threads each commit `commits` single puts into "t"; returns their LSNs, sorted.
fn commit_from_threads(db: &Database, writers: u8, commits: u8) -> Vec<u64> {
    let writers: Vec<_> = (0..writers)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                (0..commits)
                    .map(|i| put(&db, "t", &[w, i], b"v", Durability::Eventual))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut committed: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    committed.sort_unstable();
    committed
}

#[test]
fn a_blocking_feed_sees_commits_from_other_threads_and_ends_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("t").unwrap();
    let start = db.register_subscriber("tail").unwrap();
    let feed = db.changes(start).unwrap().column_family("t");
    let (sender, received) = std::sync::mpsc::channel();
    let consumer = std::thread::spawn(move || {
        for change in feed {
            sender.send(change.unwrap().lsn).unwrap();
        }
    });
    let committed = commit_from_threads(&db, 4, 50);
    let delivered: Vec<u64> = received.iter().take(committed.len()).collect();
    assert_eq!(delivered, committed);
    // The waiting feed ends when the database closes.
    db.close().unwrap();
    consumer.join().unwrap();
    assert!(received.try_recv().is_err());
}

/// A power cut at every operation of a checkpoint that saves the subscribers file leaves it
/// whole (written under another name and renamed): the reopened database has both
/// subscribers, the acknowledged one at its old or its new position.
#[test]
fn a_power_cut_while_subscribers_are_saved_leaves_their_file_whole() {
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(1), |cut, policy, seed| {
        let disk = SimDirectory::new(seed);
        let db = Database::open_in(Arc::new(disk.clone()), options(AtRest::Plain)).unwrap();
        db.create_cf("t").unwrap();
        let before = db.register_subscriber("acknowledging").unwrap();
        db.register_subscriber("idle").unwrap();
        let mut after = before;
        for i in 0..5u8 {
            after = put(&db, "t", &[i], b"v", Durability::Immediate);
        }
        db.acknowledge("acknowledging", after).unwrap();
        disk.cut_power_at(disk.operations() + cut);
        let _ = db.checkpoint();
        let cut_happened = disk.power_was_cut();
        let rebooted = disk.crash(policy);
        drop(db);
        let db = Database::open_in(Arc::new(rebooted), options(AtRest::Plain)).unwrap();
        let position = db.subscriber_position("acknowledging").unwrap();
        assert!(
            position == before || position == after,
            "cut {cut} ({policy:?}): position {position}, not {before} or {after}"
        );
        assert_eq!(db.subscriber_position("idle").unwrap(), before);
        cut_happened
    });
    assert!(report.shortest_scenario >= 4, "{report:?}");
}

/// `next_timeout` returns nothing once its time is up with no commit, and a commit made
/// from another thread while (or before) it waits.
#[test]
fn next_timeout_ends_empty_or_with_the_commit_it_waited_for() {
    let db = Database::open_in(Arc::new(SimDirectory::new(13)), options(AtRest::Plain)).unwrap();
    db.create_cf("t").unwrap();
    let mut feed = db.changes(db.begin_read().version()).unwrap();
    assert!(
        feed.next_timeout(std::time::Duration::from_millis(5))
            .unwrap()
            .is_none()
    );
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || put(&db, "t", b"k", b"v", Durability::Eventual))
    };
    let change = feed
        .next_timeout(std::time::Duration::from_mins(1))
        .unwrap()
        .expect("the commit wakes the wait long before the timeout");
    assert_eq!(change.lsn, writer.join().unwrap());
}

/// A database with column family "t" and subscriber `name` (its position returned), and
/// a runtime for the async feeds.
fn async_setup(name: &str) -> (tempfile::TempDir, Database, u64, tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("t").unwrap();
    let start = db.register_subscriber(name).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    (dir, db, start, runtime)
}

/// Commits from three threads; checks the LSNs an async consumer sends back are those
/// commits in order; closes the database (which ends the consumer's feed).
fn commit_and_receive(
    db: Database,
    runtime: &tokio::runtime::Runtime,
    received: &mut tokio::sync::mpsc::UnboundedReceiver<u64>,
) {
    let committed = commit_from_threads(&db, 3, 40);
    let delivered: Vec<u64> = runtime.block_on(async {
        let mut delivered = Vec::new();
        while delivered.len() < committed.len() {
            delivered.push(received.recv().await.unwrap());
        }
        delivered
    });
    assert_eq!(delivered, committed);
    db.close().unwrap();
}

/// The next item of `stream` (`StreamExt::next` without the extra crate).
async fn next_item<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

/// The feed as a `futures_core::Stream`: every commit in order, then the end at close (and
/// still the end when polled again).
#[test]
fn a_change_stream_yields_every_commit_and_ends_at_close() {
    let (_dir, db, start, runtime) = async_setup("stream");
    let mut stream = db.changes(start).unwrap().into_stream();
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let consumer = runtime.spawn(async move {
        while let Some(change) = next_item(&mut stream).await {
            sender.send(change.unwrap().lsn).unwrap();
        }
        assert!(
            next_item(&mut stream).await.is_none(),
            "an ended stream stays ended"
        );
    });
    commit_and_receive(db, &runtime, &mut received);
    runtime.block_on(consumer).unwrap();
}

#[test]
fn an_async_feed_is_woken_by_commits_and_ends_at_close() {
    let (_dir, db, start, runtime) = async_setup("async");
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut plain = db.changes(start).unwrap();
    let mut durable = db.changes(start).unwrap().durable_only();
    let consumer = runtime.spawn(async move {
        while let Some(change) = plain.next_async().await {
            let change = change.unwrap();
            let again = durable.next_async().await.unwrap().unwrap();
            assert!(again.durable);
            assert_eq!(again.lsn, change.lsn);
            sender.send(change.lsn).unwrap();
        }
        assert!(durable.next_async().await.is_none(), "closed");
    });
    commit_and_receive(db, &runtime, &mut received);
    runtime.block_on(consumer).unwrap();
}
