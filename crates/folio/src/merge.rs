//! Merge operators ([`MergeOperator`]): a column family's rule for combining a stored value
//! with an operand, so a transaction can change a value without reading it first
//! ([`crate::WriteTransaction::merge`], [`crate::ConcurrentTransaction::merge`]).
//!
//! A merge is resolved when it is applied (at once in an exclusive transaction, at the
//! commit in a concurrent one) and the log records its result as a plain put: recovery and
//! replicas never call the operator, and a database opens without it.

use std::sync::Arc;

use crate::{Error, Result};

/// The function of a [`MergeOperator`]: given the key, its current value (`None`: absent)
/// and the operand, the new value, or `Err(reason)` to refuse the merge.
pub type MergeFn =
    dyn Fn(&[u8], Option<&[u8]>, &[u8]) -> std::result::Result<Vec<u8>, String> + Send + Sync;

/// A column family's merge operator, registered by column-family name
/// ([`crate::DatabaseBuilder::merge_operator`], `DatabaseOptions::merge_operators`).
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use folio::MergeOperator;
///
/// // Appends each operand to a comma-separated list.
/// let append = MergeOperator::new(|_key, now, operand| {
///     Ok(match now {
///         Some(list) => [list, b",", operand].concat(),
///         None => operand.to_vec(),
///     })
/// });
/// let db = folio::Database::builder()
///     .merge_operator("tags", append)
///     .open(dir.path())?;
/// db.create_cf("tags")?;
/// let mut txn = db.begin_write(&["tags"])?;
/// txn.merge("tags", b"post-1", b"rust")?;
/// txn.merge("tags", b"post-1", b"db")?;
/// txn.commit()?;
/// assert_eq!(&*db.begin_read().get("tags", b"post-1")?.unwrap(), b"rust,db");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MergeOperator(Arc<MergeFn>);

impl MergeOperator {
    /// Wraps `f` (see [`MergeFn`]). It must be deterministic and quick: it runs while the
    /// column family's writer is held.
    pub fn new(
        f: impl Fn(&[u8], Option<&[u8]>, &[u8]) -> std::result::Result<Vec<u8>, String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self(Arc::new(f))
    }

    /// The value `key` of column family `cf` gets when `operand` is merged into `now`; a
    /// refusal or a result over the size limits is [`Error::MergeFailed`].
    pub(crate) fn apply(
        &self,
        cf: &str,
        key: &[u8],
        now: Option<&[u8]>,
        operand: &[u8],
    ) -> Result<Vec<u8>> {
        let failed = |reason: String| Error::MergeFailed {
            cf: cf.to_owned(),
            key: key.to_vec(),
            reason,
        };
        let merged = (self.0)(key, now, operand).map_err(failed)?;
        folio_btree::check_entry_sizes(key.len(), merged.len())
            .map_err(|e| failed(format!("the merged value: {e}")))?;
        Ok(merged)
    }

    /// Merges `operands` into `now` in order.
    pub(crate) fn apply_all<'o>(
        &self,
        cf: &str,
        key: &[u8],
        now: Option<&[u8]>,
        operands: impl IntoIterator<Item = &'o Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let mut value: Option<Vec<u8>> = now.map(<[u8]>::to_vec);
        for operand in operands {
            value = Some(self.apply(cf, key, value.as_deref(), operand)?);
        }
        value.ok_or_else(|| Error::MergeFailed {
            cf: cf.to_owned(),
            key: key.to_vec(),
            reason: "no operand".to_owned(),
        })
    }
}

impl std::fmt::Debug for MergeOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MergeOperator(..)")
    }
}

/// The merge operator registered for column family `cf`, or [`no_operator`].
pub(crate) fn operator_for<'o>(
    operators: &'o std::collections::BTreeMap<String, MergeOperator>,
    cf: &str,
    key: &[u8],
) -> Result<&'o MergeOperator> {
    operators.get(cf).ok_or_else(|| no_operator(cf, key))
}

/// [`Error::MergeFailed`] for a merge into a column family without an operator.
pub(crate) fn no_operator(cf: &str, key: &[u8]) -> Error {
    Error::MergeFailed {
        cf: cf.to_owned(),
        key: key.to_vec(),
        reason: "no merge operator is registered for this column family \
                 (DatabaseBuilder::merge_operator)"
            .to_owned(),
    }
}
