//! Node pages: the byte layout of leaves and branches, owned nodes for editing, and reads.

mod branch;
mod layout;
mod leaf;
mod stored;

/// Layout constants and readers shared with the overflow and integrity code.
pub(crate) mod layout_consts {
    pub(crate) use super::layout::{KIND_OVERFLOW, get_u32, get_u64};
}

pub(crate) use branch::{BranchEntry, BranchNode, BranchView};
pub use layout::{KEY_BYTES_MAX, VALUE_BYTES_MAX};
pub(crate) use layout::{NodeKind, node_kind};
pub(crate) use layout::{key_inline_max, value_inline_max};
pub(crate) use leaf::{KeyRef, LeafEntry, LeafNode, LeafView, ValueRef, splice_leaf};
pub(crate) use stored::Stored;

/// Bytes of a leaf's header (before its offset table).
pub(crate) fn leaf_header_bytes() -> usize {
    layout::HEADER_BYTES
}

/// Bytes of a branch's header (before its offset table).
pub(crate) fn branch_header_bytes() -> usize {
    layout::BRANCH_HEADER_BYTES
}
