//! How Raft values are stored: openraft's types (entries, votes, log ids, membership,
//! snapshot metadata) as JSON, which carries any application request type serde can
//! describe (untagged and flattened types included, which compact formats refuse).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The stored bytes of `value`.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(value)
}

/// The value stored as `bytes`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}
