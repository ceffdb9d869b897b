//! Page allocation: a file-level allocator that hands out extents, and the persisted free
//! list that commits atomically with the header, and the early reuse of pages that lived
//! only between two checkpoints.

mod extent_set;
mod file_allocator;
mod freelist;
mod young;

pub use extent_set::ExtentSet;
pub(crate) use file_allocator::{FileAllocator, PreparedCheckpoint, Settlement};
pub(crate) use freelist::{decode_chain, encode_chain};
