//! [`Write`]: one buffered change of a concurrent transaction, the counter encoding that
//! [`Write::Add`] works on, and what a buffered change makes of a stored value
//! ([`after`]).

use std::collections::BTreeMap;

use crate::{Error, MergeOperator, Result};

/// A buffered change of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    Put(Vec<u8>),
    Delete,
    /// Adds to a counter at the commit, to whatever value it has then: not a read, so
    /// concurrent increments of one key never conflict.
    Add(i64),
    /// Merges these operands, in order, with the column family's merge operator at the
    /// commit, into whatever value the key has then: not a read either.
    Merge(Vec<Vec<u8>>),
}

impl Write {
    /// True for the writes applied to the value the key has at the commit (not reads).
    pub(crate) fn is_blind_update(&self) -> bool {
        matches!(self, Write::Add(_) | Write::Merge(_))
    }
}

/// The value `write` leaves at `key` of column family `cf` when the stored value is
/// `stored` (`None`: absent or deleted). `operator`: the column family's merge operator,
/// needed for [`Write::Merge`].
pub(crate) fn after(
    cf: &str,
    key: &[u8],
    stored: Option<&[u8]>,
    write: &Write,
    operator: Option<&MergeOperator>,
) -> Result<Option<Vec<u8>>> {
    Ok(match write {
        Write::Put(value) => Some(value.clone()),
        Write::Delete => None,
        Write::Add(delta) => Some(added(cf, key, stored, *delta)?),
        Write::Merge(operands) => {
            let operator = operator.ok_or_else(|| crate::merge::no_operator(cf, key))?;
            Some(operator.apply_all(cf, key, stored, operands)?)
        }
    })
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
