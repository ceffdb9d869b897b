//! Where each piece of Raft state lives: column families and keys.

/// Log entries, keyed by [`index_key`]: one entry per key, in index order.
pub const LOG_CF: &str = "raft.log";
/// The log's metadata: the vote, the last purged log id, the committed log id.
pub const LOG_META_CF: &str = "raft.log-meta";
/// The state machine's metadata: last applied log id and membership, written in the same
/// transaction as the application's changes.
pub const STATE_CF: &str = "raft.state";
/// The current snapshot: its metadata and its bytes.
pub const SNAPSHOT_CF: &str = "raft.snapshot";

pub(crate) const VOTE: &[u8] = b"vote";
pub(crate) const PURGED: &[u8] = b"purged";
pub(crate) const COMMITTED: &[u8] = b"committed";
pub(crate) const APPLIED: &[u8] = b"applied";
pub(crate) const MEMBERSHIP: &[u8] = b"membership";
pub(crate) const SNAPSHOT_META: &[u8] = b"meta";
pub(crate) const SNAPSHOT_DATA: &[u8] = b"data";

/// The key of the log entry at `index`: big-endian, so key order is index order.
pub fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index of a log key; `None` for a key that is not 8 bytes (a damaged log).
pub(crate) fn key_index(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// True when `name` is one of the column families this crate owns.
pub(crate) fn is_raft_cf(name: &str) -> bool {
    [LOG_CF, LOG_META_CF, STATE_CF, SNAPSHOT_CF].contains(&name)
}
