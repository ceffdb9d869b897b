//! A three-node replicated key-value store in one process: each node is an openraft `Raft`
//! over its own folio database (`folio_raft::open`) on its own disk, connected by an
//! in-memory network (a call to a node goes straight to its `Raft` handle; a node taken off
//! the router is unreachable, as a crashed machine is).
//!
//! The disks are folio's simulated ones (`folio_io::SimDirectory`), one per node as if on
//! three machines, so that killing a node is a real power cut: everything its database had
//! not synced is lost, and nothing of its close runs. On real directories a node opens with
//! `Database::open(path)` instead; nothing else changes.
//!
//! [`run_scenario`] is what the example prints and the test checks: elect a leader, write
//! through it, kill it, see a new leader elected and keep writing, restart the killed node
//! from what its disk kept and watch it catch up (by log or, once the log it missed was
//! purged, by snapshot); no acknowledged put may be missing anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use folio::{Database, WriteTransaction};
use folio_io::{CrashPolicy, SimDirectory};
use folio_raft::Apply;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Config, Entry, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};

pub type NodeId = u64;
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A client's request: put `value` under `key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Put {
    pub key: String,
    pub value: String,
}

openraft::declare_raft_types!(
    pub Types:
        D = Put,
        R = (),
        NodeId = NodeId,
        Node = BasicNode,
        Entry = Entry<Types>,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The state machine's application part: puts go into column family `kv`.
pub struct Kv;

pub const KV_CF: &str = "kv";

impl Apply<Types> for Kv {
    fn column_families(&self) -> Vec<String> {
        vec![KV_CF.into()]
    }

    fn apply(&self, txn: &mut WriteTransaction, put: &Put) -> folio::Result<()> {
        txn.put(KV_CF, put.key.as_bytes(), put.value.as_bytes())
    }

    fn response_without_request(&self) {}
}

/// The in-memory network: the live nodes by id.
#[derive(Clone, Default)]
pub struct Router {
    nodes: Arc<Mutex<BTreeMap<NodeId, Raft<Types>>>>,
    /// Snapshot chunks each node accepted through `install_snapshot`.
    installs: Arc<Mutex<BTreeMap<NodeId, u64>>>,
}

impl Router {
    /// Snapshot chunks node `id` has accepted from a leader so far.
    pub fn snapshots_installed(&self, id: NodeId) -> u64 {
        self.installs
            .lock()
            .expect("router lock")
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    fn add(&self, id: NodeId, raft: Raft<Types>) {
        self.nodes.lock().expect("router lock").insert(id, raft);
    }

    fn remove(&self, id: NodeId) {
        self.nodes.lock().expect("router lock").remove(&id);
    }

    fn get(&self, id: NodeId) -> Result<Raft<Types>, Unreachable> {
        self.nodes
            .lock()
            .expect("router lock")
            .get(&id)
            .cloned()
            .ok_or_else(|| Unreachable::new(&std::io::Error::other(format!("node {id} is down"))))
    }
}

/// One node's connection to `target`.
pub struct Connection {
    router: Router,
    target: NodeId,
}

impl RaftNetworkFactory<Types> for Router {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Connection {
        Connection {
            router: self.clone(),
            target,
        }
    }
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl RaftNetwork<Types> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<Types>,
        _option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        let raft = self.router.get(self.target)?;
        raft.append_entries(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<Types>,
        _option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        let raft = self.router.get(self.target)?;
        let response = raft
            .install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))?;
        *self
            .router
            .installs
            .lock()
            .expect("router lock")
            .entry(self.target)
            .or_default() += 1;
        Ok(response)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        let raft = self.router.get(self.target)?;
        raft.vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

/// A running node: its Raft handle, its database and the disk under it.
pub struct Node {
    pub id: NodeId,
    pub raft: Raft<Types>,
    pub db: Database,
    disk: SimDirectory,
}

/// Timeouts short enough for a test, a snapshot every 20 entries with no log kept behind it
/// (so a node that was down for longer catches up by snapshot).
fn config() -> Result<Arc<Config>, Error> {
    let config = Config {
        cluster_name: "replicated-kv".into(),
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(20),
        max_in_snapshot_log_to_keep: 0,
        ..Config::default()
    };
    Ok(Arc::new(config.validate()?))
}

/// Starts node `id` on the folio database on `disk` (created, or reopened after a crash).
pub async fn start_node(id: NodeId, disk: SimDirectory, router: &Router) -> Result<Node, Error> {
    let db = Database::builder().open_in(Arc::new(disk.clone()))?;
    let (log_store, state_machine) = folio_raft::open(&db, Kv)?;
    let raft = Raft::new(id, config()?, router.clone(), log_store, state_machine).await?;
    router.add(id, raft.clone());
    Ok(Node { id, raft, db, disk })
}

/// Kills `node` as a power cut does: off the network, and its disk keeps only what was
/// synced before the cut (the cut comes first, so nothing its shutdown or close would write
/// reaches the disk). Returns the disk as it comes back on, to restart the node from.
pub async fn kill(node: Node, router: &Router) -> SimDirectory {
    router.remove(node.id);
    let rebooted = node.disk.crash(CrashPolicy::DropUnsynced);
    // Both fail on the dead disk, as they would on a dead machine: nothing to report.
    let _ = node.raft.shutdown().await;
    drop(node.db);
    rebooted
}

/// The entries of `kv` in `db`.
pub fn contents(db: &Database) -> Result<BTreeMap<String, String>, Error> {
    let read = db.begin_read();
    let mut map = BTreeMap::new();
    for entry in read.tree(KV_CF)?.iter() {
        let (key, value) = entry?;
        map.insert(String::from_utf8(key)?, String::from_utf8(value.to_vec())?);
    }
    Ok(map)
}

/// Waits (bounded) until some node of `nodes` other than `not` leads; returns its id.
async fn leader_among(nodes: &[&Node], not: Option<NodeId>) -> Result<NodeId, Error> {
    let wait = nodes[0].raft.wait(Some(Duration::from_secs(20)));
    let metrics = wait
        .metrics(
            |m| m.current_leader.is_some() && m.current_leader != not,
            "a leader is elected",
        )
        .await?;
    Ok(metrics.current_leader.expect("checked above"))
}

/// Puts `count` keys `{prefix}-{i}` through `leader`; returns them as acknowledged.
async fn put_through(
    leader: &Node,
    prefix: &str,
    count: usize,
    acknowledged: &mut BTreeMap<String, String>,
) -> Result<(), Error> {
    for i in 0..count {
        let put = Put {
            key: format!("{prefix}-{i:04}"),
            value: format!("value of {prefix} {i}"),
        };
        leader.raft.client_write(put.clone()).await?;
        acknowledged.insert(put.key, put.value);
    }
    Ok(())
}

/// What the scenario saw.
#[derive(Debug)]
pub struct Report {
    pub first_leader: NodeId,
    pub second_leader: NodeId,
    pub acknowledged: usize,
    /// Whether the restarted node caught up through a snapshot install.
    pub restarted_installed_snapshot: bool,
}

/// Runs the scenario with `puts` puts per phase.
pub async fn run_scenario(puts: usize) -> Result<Report, Error> {
    let router = Router::default();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_node(id, SimDirectory::new(id), &router).await?);
    }
    let members: BTreeMap<NodeId, BasicNode> = (1..=3)
        .map(|id| (id, BasicNode::new(format!("node-{id}"))))
        .collect();
    nodes[0].raft.initialize(members).await?;

    let node_refs: Vec<&Node> = nodes.iter().collect();
    let first_leader = leader_among(&node_refs, None).await?;
    let mut acknowledged = BTreeMap::new();
    let leader_at = nodes
        .iter()
        .position(|n| n.id == first_leader)
        .expect("a member");
    put_through(&nodes[leader_at], "before", puts, &mut acknowledged).await?;

    // Kill the leader; the other two elect a new one and go on without it.
    let killed = nodes.remove(leader_at);
    let killed_id = killed.id;
    let killed_disk = kill(killed, &router).await;
    let survivors: Vec<&Node> = nodes.iter().collect();
    let second_leader = leader_among(&survivors, Some(killed_id)).await?;
    let leader = nodes
        .iter()
        .find(|n| n.id == second_leader)
        .expect("a survivor");
    put_through(leader, "after", puts, &mut acknowledged).await?;
    let on_leader = contents(&leader.db)?;
    let missing: BTreeSet<&String> = acknowledged
        .keys()
        .filter(|key| !on_leader.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(format!("the new leader lost acknowledged puts: {missing:?}").into());
    }

    // Restart the killed node from what its disk kept: it catches up.
    let last_index = leader.raft.metrics().borrow().last_log_index;
    let installs_before = router.snapshots_installed(killed_id);
    let restarted = start_node(killed_id, killed_disk, &router).await?;
    restarted
        .raft
        .wait(Some(Duration::from_secs(30)))
        .applied_index_at_least(last_index, "the restarted node catches up")
        .await?;
    // Counted at the network: a snapshot the node built itself, before the kill or while
    // catching up by log, does not count.
    let restarted_installed_snapshot = router.snapshots_installed(killed_id) > installs_before;
    for node in nodes.iter().chain(std::iter::once(&restarted)) {
        node.raft
            .wait(Some(Duration::from_secs(30)))
            .applied_index_at_least(last_index, "every node applies everything")
            .await?;
        let state = contents(&node.db)?;
        if state != acknowledged {
            let lost: Vec<&String> = acknowledged
                .keys()
                .filter(|k| !state.contains_key(*k))
                .collect();
            return Err(format!(
                "node {} differs from what was acknowledged: {} entries, missing {lost:?}",
                node.id,
                state.len()
            )
            .into());
        }
    }
    let report = Report {
        first_leader,
        second_leader,
        acknowledged: acknowledged.len(),
        restarted_installed_snapshot,
    };
    for node in nodes.into_iter().chain(std::iter::once(restarted)) {
        node.raft.shutdown().await?;
        node.db.close()?;
    }
    Ok(report)
}
