//! [`Write`]: one buffered change of a concurrent transaction, and the counter encoding
//! that [`Write::Add`] works on.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// A buffered change of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    Put(Vec<u8>),
    Delete,
    /// Adds to a counter at the commit, to whatever value it has then: not a read, so
    /// concurrent increments of one key never conflict.
    Add(i64),
}

/// Buffered writes of one column family.
pub(crate) type Writes = BTreeMap<Vec<u8>, Write>;

/// Bytes of a counter: an `i64`, little-endian (what a typed table's `i64` value is).
pub(crate) const COUNTER_BYTES: usize = 8;

/// The counter stored as `value` (`None`: absent, which counts as 0).
pub(crate) fn counter(cf: &str, key: &[u8], value: Option<&[u8]>) -> Result<i64> {
    match value {
        None => Ok(0),
        Some(bytes) => {
            let bytes: [u8; COUNTER_BYTES] = bytes.try_into().map_err(|_| Error::NotACounter {
                cf: cf.to_owned(),
                key: key.to_vec(),
                reason: format!("its value is {} bytes, not 8", bytes.len()),
            })?;
            Ok(i64::from_le_bytes(bytes))
        }
    }
}

/// `value + delta`, or an error naming the key when it overflows.
pub(crate) fn add(cf: &str, key: &[u8], value: i64, delta: i64) -> Result<i64> {
    value.checked_add(delta).ok_or_else(|| Error::NotACounter {
        cf: cf.to_owned(),
        key: key.to_vec(),
        reason: format!("{value} + {delta} overflows an i64"),
    })
}

/// The stored form of counter `value`.
pub(crate) fn encode(value: i64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

/// The counter after adding `delta` to the stored `value`, encoded.
pub(crate) fn added(cf: &str, key: &[u8], value: Option<&[u8]>, delta: i64) -> Result<Vec<u8>> {
    Ok(encode(add_to_counter(cf, key, value, delta)?))
}

/// The counter after adding `delta` to the stored `value`.
pub(crate) fn add_to_counter(
    cf: &str,
    key: &[u8],
    value: Option<&[u8]>,
    delta: i64,
) -> Result<i64> {
    add(cf, key, counter(cf, key, value)?, delta)
}
