//! Helpers shared by folio's cross-crate test suites (`tests/tests/*.rs`): small-device
//! options and whole-column-family reads.

use std::collections::BTreeMap;

use folio::{DatabaseOptions, ReadTransaction};

/// One column family's contents.
pub type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// Options for tests on a simulated device: small log segments and growth steps (so the
/// scenarios cross segment and growth boundaries), no background threads.
pub fn small_options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options.wal.segment_bytes = 64 * 1024;
    options.page_store.growth_bytes_min = 64 * 1024;
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
