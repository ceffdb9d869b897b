//! Node pages: the byte layout of leaves and branches (`layout`), reading them in place
//! (`LeafView`, `BranchView`), and editing them in place (`Slotted`).

mod branch;
mod compare;
mod layout;
mod leaf;
mod slotted;

/// Layout constants and readers shared with the overflow and integrity code.
pub(crate) mod layout_consts {
    pub(crate) use super::layout::{KIND_OVERFLOW, get_u32, get_u64};
}

pub(crate) use branch::{BranchView, branch_entry_key, branch_entry_len, write_branch_entry};
pub(crate) use compare::{SearchKey, compare_keys};
pub use layout::{KEY_BYTES_MAX, VALUE_BYTES_MAX};
pub(crate) use layout::{KeyRef, NodeKind, node_kind, table_at};
pub(crate) use layout::{key_inline_max, value_fits_inline};
pub(crate) use leaf::{LeafEntry, LeafView, StoredRef, ValueRef, entry_key, entry_value};
pub(crate) use slotted::{Slotted, check_slotted, node_entry};

/// Where a leaf entry's key (bytes or overflow reference) starts, from the entry's start.
pub(crate) const LEAF_KEY_AT: usize = layout::LEAF_ENTRY_HEADER_BYTES;
/// Where a branch entry's key starts, from the entry's start.
pub(crate) const BRANCH_KEY_AT: usize = layout::BRANCH_ENTRY_HEADER_BYTES;

/// Bytes a key takes in an entry: inline, or an overflow reference.
pub(crate) fn stored_key_bytes(key: KeyRef<'_>) -> usize {
    match key {
        KeyRef::Inline(bytes) => bytes.len(),
        KeyRef::Overflow { .. } => layout::OVERFLOW_REF_BYTES,
    }
}
