//! Power cuts under the Raft log store, on folio's simulated disk: for a cut at every
//! operation of a script of votes, appends, a truncation and a purge, the reopened store
//! holds exactly the state after some prefix of the script, and that prefix includes every
//! operation openraft was told is durable (a vote once `save_vote` returned, entries once
//! the append's callback fired, a truncation once it returned).

use folio_tests::{AtRest, AtRestOptions};
use std::io::Cursor;
use std::sync::Arc;

use folio::{Database, DatabaseOptions, WriteTransaction};
use folio_io::{CrashPolicy, SimDirectory};
use folio_raft::{Apply, FolioLogStore};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{
    BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, StorageError, Vote,
};

openraft::declare_raft_types!(
    Types:
        D = u64,
        R = (),
        NodeId = u64,
        Node = BasicNode,
        Entry = Entry<Types>,
        SnapshotData = Cursor<Vec<u8>>,
);

struct Nothing;

impl Apply<Types> for Nothing {
    fn column_families(&self) -> Vec<String> {
        Vec::new()
    }
    fn apply(&self, _: &mut WriteTransaction, _: &u64) -> folio::Result<()> {
        Ok(())
    }
    fn response_without_request(&self) {}
}

#[derive(Debug, Clone)]
enum Op {
    Vote(u64, u64),
    Append(u64, std::ops::RangeInclusive<u64>),
    Truncate(u64),
    Purge(u64),
    /// folio's own checkpoint: the log's state moves to the data file.
    Checkpoint,
}

impl Op {
    /// Whether openraft is told the operation is durable when it completes.
    fn durable_when_done(&self) -> bool {
        !matches!(self, Op::Purge(_) | Op::Checkpoint)
    }
}

/// What the store holds: vote, last purged index, the entries' (index, term).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct State {
    vote: Option<(u64, u64)>,
    purged: Option<u64>,
    entries: Vec<(u64, u64)>,
}

fn script() -> Vec<Op> {
    vec![
        Op::Vote(1, 1),
        Op::Append(1, 1..=5),
        Op::Vote(2, 2),
        Op::Append(2, 6..=10),
        Op::Truncate(8),
        Op::Checkpoint,
        Op::Append(3, 8..=40),
        Op::Purge(3),
        Op::Checkpoint,
        Op::Vote(3, 2),
        Op::Append(3, 41..=41),
    ]
}

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 0), index)
}

/// The model: the state after each prefix of the script.
fn states(script: &[Op]) -> Vec<State> {
    let mut state = State::default();
    let mut out = vec![state.clone()];
    for op in script {
        match op {
            Op::Vote(term, node) => state.vote = Some((*term, *node)),
            Op::Append(term, range) => state.entries.extend(range.clone().map(|i| (i, *term))),
            Op::Truncate(from) => state.entries.retain(|(i, _)| i < from),
            Op::Purge(through) => {
                state.purged = Some(*through);
                state.entries.retain(|(i, _)| i > through);
            }
            Op::Checkpoint => {}
        }
        out.push(state.clone());
    }
    out
}

async fn run(
    db: &Database,
    store: &mut FolioLogStore<Types>,
    op: &Op,
) -> Result<(), StorageError<u64>> {
    match op {
        Op::Checkpoint => db
            .checkpoint()
            .map(drop)
            .map_err(|e| openraft::StorageIOError::write(openraft::AnyError::new(&e)).into()),
        Op::Vote(term, node) => store.save_vote(&Vote::new(*term, *node)).await,
        Op::Append(term, range) => {
            let entries = range.clone().map(|index| Entry::<Types> {
                log_id: log_id(*term, index),
                payload: EntryPayload::Blank,
            });
            store.blocking_append(entries).await
        }
        Op::Truncate(from) => store.truncate(log_id(0, *from)).await,
        Op::Purge(through) => store.purge(log_id(1, *through)).await,
    }
}

async fn read_state(store: &mut FolioLogStore<Types>) -> Result<State, StorageError<u64>> {
    let vote = store
        .read_vote()
        .await?
        .map(|v| (v.leader_id.term, v.leader_id.node_id));
    let purged = store
        .get_log_state()
        .await?
        .last_purged_log_id
        .map(|id| id.index);
    let entries = store
        .try_get_log_entries(..)
        .await?
        .into_iter()
        .map(|e| (e.log_id.index, e.log_id.leader_id.term))
        .collect();
    Ok(State {
        vote,
        purged,
        entries,
    })
}

fn options(at_rest: AtRest) -> DatabaseOptions {
    at_rest.small_options()
}

/// What one run of the script did.
struct Run {
    /// Operations completed.
    done: usize,
    /// The last operation acknowledged durable.
    durable: usize,
    /// The state after the crash and reopen.
    recovered: State,
    /// Storage operations the script used.
    operations: u64,
    /// Whether the power cut happened (the script used at least `cut` operations).
    cut: bool,
}

/// Runs the script with the power cut `cut` operations in (`None`: never), then crashes the
/// directory with `policy` and reopens it.
fn with_cut(seed: u64, cut: Option<u64>, policy: CrashPolicy, at_rest: AtRest) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let directory = SimDirectory::new(seed);
    let db = Database::open_in(Arc::new(directory.clone()), options(at_rest)).unwrap();
    let (mut store, _) = folio_raft::open::<Types, _>(&db, Nothing).unwrap();
    let start = directory.operations();
    if let Some(cut) = cut {
        directory.cut_power_at(start + cut);
    }
    let script = script();
    let (mut done, mut durable) = (0, 0);
    for op in &script {
        if runtime.block_on(run(&db, &mut store, op)).is_err() {
            break;
        }
        done += 1;
        if op.durable_when_done() {
            durable = done;
        }
    }
    let used = directory.operations() - start;
    let was_cut = directory.power_was_cut();
    drop(store);
    drop(db);
    let rebooted = directory.crash(policy);
    let db = Database::open_in(Arc::new(rebooted), options(at_rest)).unwrap();
    let (mut store, _) = folio_raft::open::<Types, _>(&db, Nothing).unwrap();
    let recovered = runtime.block_on(read_state(&mut store)).unwrap();
    Run {
        done,
        durable,
        recovered,
        operations: used,
        cut: was_cut,
    }
}

#[test]
fn a_power_cut_anywhere_keeps_every_durable_raft_write() {
    power_cut_sweep(AtRest::Plain);
}

#[test]
fn a_power_cut_anywhere_keeps_every_durable_raft_write_encrypted() {
    power_cut_sweep(AtRest::Encrypted);
}

fn power_cut_sweep(at_rest: AtRest) {
    let states = states(&script());
    let full = with_cut(1, None, CrashPolicy::DropUnsynced, at_rest);
    assert_eq!(full.done, script().len());
    assert_eq!(&full.recovered, states.last().unwrap());
    assert!(
        full.operations > 10,
        "the script used only {} operations",
        full.operations
    );
    let report = folio_io::sweep_power_cuts(folio_io::crash_seeds(2), |cut, policy, seed| {
        let run = with_cut(seed, Some(cut), policy, at_rest);
        // A prefix of the script, at least up to the last durable acknowledgement and at
        // most through the operation the cut interrupted.
        let last = (run.done + 1).min(states.len() - 1);
        let fits = (run.durable..=last).any(|p| states[p] == run.recovered);
        assert!(
            fits,
            "cut at {cut} ({policy:?}, seed {seed}): recovered {:?}, which is not the state \
             after {}..={last} operations",
            run.recovered, run.durable
        );
        run.cut
    });
    assert!(report.shortest_scenario > 10, "{report:?}");
    println!("raft crash points covered: {}", report.points);
}
