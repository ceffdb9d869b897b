//! Group commit: the engine and its loom models.

mod engine;

pub use engine::Durability;
pub(crate) use engine::{BatchSink, GroupCommit, PendingRecord, SinkError, TaskWait};

#[cfg(all(test, folio_loom))]
mod loom_tests;
