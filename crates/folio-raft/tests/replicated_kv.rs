//! The `replicated_kv` example's scenario as a test: a three-node cluster on folio loses its
//! leader to a power cut (nothing of its close runs; its disk keeps only what was synced),
//! elects another, loses no acknowledged put, and the killed node catches up from what its
//! disk kept after a restart.

#[path = "../examples/replicated_kv/cluster.rs"]
#[allow(dead_code, missing_docs)]
mod cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_no_acknowledged_put_lost_and_it_catches_up() {
    let report = cluster::run_scenario(40).await.unwrap();
    assert_ne!(report.first_leader, report.second_leader);
    assert_eq!(report.acknowledged, 80);
    // 40 puts after the kill with a snapshot every 20 entries and no log kept behind it:
    // the restarted node must have caught up through a snapshot a leader sent it.
    assert!(report.restarted_installed_snapshot);
}
