//! Helpers shared by folio's cross-crate test suites (`tests/tests/*.rs`): small-device
//! options and whole-column-family reads.

use std::collections::BTreeMap;

use folio::{DatabaseOptions, ReadTransaction};

/// One column family's contents.
pub type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// Options for tests on a simulated device: small log segments, growth steps and replay
/// batches (so the scenarios cross segment and growth boundaries, and every replay of more
/// than a few changes goes through sorted runs), no background threads.
pub fn small_options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        replay_batch_bytes: 4096,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options.wal.segment_bytes = 64 * 1024;
    options.page_store.growth_step_bytes = 64 * 1024;
    options.page_store.extent_pages = 8;
    options
}

/// Every entry of `cf` in `read`, or the first error.
pub fn read_cf(read: &ReadTransaction, cf: &str) -> folio::Result<State> {
    let tree = read.tree(cf)?;
    let mut state = State::new();
    for entry in tree.iter() {
        let (key, value) = entry?;
        state.insert(key, value.to_vec());
    }
    Ok(state)
}

/// Key `i` of the rolling workloads.
pub fn rolling_key(i: u64) -> Vec<u8> {
    format!("key-{i:03}").into_bytes()
}

/// The states of a rolling workload of `txns` transactions: transaction `i` puts
/// `rolling_key(i)` = `value(i)` and removes the key of transaction `i - 3`. `states[0]` is
/// empty; `states[i + 1]` follows transaction `i`.
pub fn rolling_states(txns: u64, value: impl Fn(u64) -> Vec<u8>) -> Vec<State> {
    let mut states = vec![State::new()];
    let mut state = State::new();
    for i in 0..txns {
        state.insert(rolling_key(i), value(i));
        if i >= 3 {
            state.remove(&rolling_key(i - 3));
        }
        states.push(state.clone());
    }
    states
}

pub use folio_io::AtRest;

/// The database options of a suite kept [`AtRest`].
pub trait AtRestOptions {
    /// `options` stored this way.
    fn apply(self, options: DatabaseOptions) -> DatabaseOptions;

    /// [`small_options`] stored this way.
    fn small_options(self) -> DatabaseOptions;
}

impl AtRestOptions for AtRest {
    fn apply(self, options: DatabaseOptions) -> DatabaseOptions {
        DatabaseOptions {
            encryption_key: self.key(),
            ..options
        }
    }

    fn small_options(self) -> DatabaseOptions {
        self.apply(small_options())
    }
}

/// The key encrypted suites use.
pub fn test_key() -> folio::EncryptionKey {
    folio::EncryptionKey::from_bytes(AtRest::TEST_KEY)
}
