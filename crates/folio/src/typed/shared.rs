//! Several typed tables of one transaction open at once ([`Tables`]).
//!
//! A [`WriteTable`] made by `txn.table(..)` borrows its transaction mutably, so only one
//! can exist at a time. [`Tables`] holds the transaction in a `RefCell` instead and hands
//! out tables that borrow it only for the length of each call: a lookup, a write, or one
//! batch of a range ([`Batched`]). No borrow outlives the call that took it, so none can
//! fail, and a range of one table may be read while another table (or the same) is
//! written.

use std::cell::{Ref, RefCell, RefMut};
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use folio_btree::{OwnedBounds, bounds_contain};

use super::table::{TableTransaction, WriteTable};
use super::{Key, TableDefinition, Value};
use crate::{ConcurrentTransaction, Result, WriteTransaction};

/// Entries a range of a shared table reads per borrow of the transaction.
const BATCH: usize = 64;

/// Typed tables of one transaction, any number open at once
/// ([`WriteTransaction::tables`], [`ConcurrentTransaction::tables`]). The transaction
/// cannot commit while this lives.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use folio::TableDefinition;
///
/// const ORDERS: TableDefinition<u64, String> = TableDefinition::new("orders");
/// const BY_CUSTOMER: TableDefinition<(String, u64), ()> = TableDefinition::new("by_customer");
///
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf(ORDERS.name())?;
/// db.create_cf(BY_CUSTOMER.name())?;
/// let mut txn = db.begin_write(&[ORDERS.name(), BY_CUSTOMER.name()])?;
/// {
///     let tables = txn.tables();
///     let mut orders = tables.open(ORDERS)?;
///     let mut index = tables.open(BY_CUSTOMER)?;
///     for (id, customer) in [(1, "alice"), (2, "bob"), (3, "alice")] {
///         orders.insert(&id, customer)?;
///         index.insert(&(customer, id), &())?;
///     }
///     // Read one table while writing the other.
///     for entry in index.prefix("alice")? {
///         let ((_, id), ()) = entry?;
///         orders.insert(&id, "alice (vip)")?;
///     }
/// }
/// txn.commit()?;
/// # Ok(())
/// # }
/// ```
pub struct Tables<'txn, T: TableTransaction + ?Sized> {
    txn: RefCell<&'txn mut T>,
}

impl<'txn, T: TableTransaction + ?Sized> Tables<'txn, T> {
    pub(crate) fn new(txn: &'txn mut T) -> Self {
        Self {
            txn: RefCell::new(txn),
        }
    }

    /// The typed table `definition` (a column family the transaction may write). Each call
    /// gives a new handle; two handles of one table see each other's changes.
    pub fn open<K: Key, V: Value>(
        &self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<WriteTable<'_, K, V, T>> {
        self.txn.borrow().table_check(definition.name())?;
        Ok(WriteTable::shared(
            Arc::from(definition.name()),
            &self.txn as &dyn SharedTxn<T>,
        ))
    }
}

/// A transaction borrowed for the length of one call (see the module docs). A trait object,
/// so a table names only its own lifetime, not the transaction's.
pub(crate) trait SharedTxn<T: ?Sized> {
    fn read(&self) -> Ref<'_, T>;
    fn write(&self) -> RefMut<'_, T>;
}

impl<T: ?Sized> SharedTxn<T> for RefCell<&mut T> {
    fn read(&self) -> Ref<'_, T> {
        Ref::map(
            self.try_borrow()
                .expect("tables borrow their transaction only within one call"),
            |txn| &**txn,
        )
    }

    fn write(&self) -> RefMut<'_, T> {
        RefMut::map(
            self.try_borrow_mut()
                .expect("tables borrow their transaction only within one call"),
            |txn| &mut **txn,
        )
    }
}

/// Reads `limit` entries of `bounds` (from the end when `reverse`), copied out.
type Fetch<'t> = Box<dyn Fn(OwnedBounds, bool, usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> + 't>;

/// A range of a shared table: read [`BATCH`] entries at a time, each batch under its own
/// borrow of the transaction, from either end. Each end remembers the last key it yielded,
/// so the two ends meet without a repeat or a gap; a change made while the range is open is
/// seen by the batches read after it.
pub(crate) struct Batched<'t> {
    fetch: Fetch<'t>,
    /// What is left: after the last key yielded from the front, before the last from the
    /// back.
    bounds: OwnedBounds,
    front: VecDeque<(Vec<u8>, Vec<u8>)>,
    back: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// An end that read a short batch (or failed) reads no more.
    front_done: bool,
    back_done: bool,
    /// A reverse range: its front is the key order's end.
    reverse: bool,
    /// Entries read per borrow ([`BATCH`]).
    batch: usize,
}

impl<'t> Batched<'t> {
    pub(crate) fn new(fetch: Fetch<'t>, bounds: OwnedBounds, reverse: bool) -> Self {
        Self {
            fetch,
            bounds,
            front: VecDeque::new(),
            back: VecDeque::new(),
            front_done: false,
            back_done: false,
            reverse,
            batch: BATCH,
        }
    }

    /// The next entry from the range's front (`back` false) or its back.
    pub(crate) fn next_from(&mut self, back: bool) -> Option<Result<(Vec<u8>, Vec<u8>)>> {
        // From here on, `reverse` means from the end of the key order.
        let reverse = back != self.reverse;
        let (buffer, done) = if reverse {
            (&mut self.back, &mut self.back_done)
        } else {
            (&mut self.front, &mut self.front_done)
        };
        if buffer.is_empty() && !*done {
            match (self.fetch)(self.bounds.clone(), reverse, self.batch) {
                Ok(batch) => {
                    *done = batch.len() < self.batch;
                    buffer.extend(batch);
                }
                Err(error) => {
                    (self.front_done, self.back_done) = (true, true);
                    self.front.clear();
                    self.back.clear();
                    return Some(Err(error));
                }
            }
        }
        let (key, value) = buffer.pop_front()?;
        // The other end may have yielded it already (both buffered it).
        if !bounds_contain(&self.bounds, &key) {
            (self.front_done, self.back_done) = (true, true);
            self.front.clear();
            self.back.clear();
            return None;
        }
        if reverse {
            self.bounds.1 = Bound::Excluded(key.clone());
        } else {
            self.bounds.0 = Bound::Excluded(key.clone());
        }
        Some(Ok((key, value)))
    }
}

impl WriteTransaction {
    /// Several typed tables of this transaction open at once ([`Tables`]).
    pub fn tables(&mut self) -> Tables<'_, WriteTransaction> {
        Tables::new(self)
    }
}

impl ConcurrentTransaction {
    /// Several typed tables of this transaction open at once ([`Tables`]).
    pub fn tables(&mut self) -> Tables<'_, ConcurrentTransaction> {
        Tables::new(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::Bound;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Batches of 3 from both ends, interleaved as `ends` says: every key yielded once,
        /// in order from each end, and the two ends meet with no gap.
        #[test]
        fn both_ends_meet_without_a_repeat_or_a_gap(
            keys in prop::collection::btree_set(0u8..100, 0..40),
            ends in prop::collection::vec(any::<bool>(), 0..60),
            reverse in any::<bool>(),
        ) {
            let map: BTreeMap<Vec<u8>, Vec<u8>> = keys.iter().map(|&k| (vec![k], vec![k])).collect();
            let fetch = |bounds: OwnedBounds, from_end: bool, limit: usize| {
                let entries = map.range::<Vec<u8>, _>(bounds).map(|(k, v)| (k.clone(), v.clone()));
                Ok(if from_end {
                    entries.rev().take(limit).collect()
                } else {
                    entries.take(limit).collect()
                })
            };
            let mut batched = Batched::new(Box::new(fetch), (Bound::Unbounded, Bound::Unbounded), reverse);
            batched.batch = 3;
            let mut expected: Vec<Vec<u8>> = map.keys().cloned().collect();
            if reverse {
                expected.reverse();
            }
            let mut expected = expected.into_iter();
            for back in ends {
                let got = batched.next_from(back).map(|e| e.unwrap().0);
                let want = if back { expected.next_back() } else { expected.next() };
                prop_assert_eq!(got, want);
            }
            let rest: Vec<Vec<u8>> = std::iter::from_fn(|| batched.next_from(false)).map(|e| e.unwrap().0).collect();
            prop_assert_eq!(rest, expected.collect::<Vec<_>>());
            prop_assert!(batched.next_from(true).is_none());
        }
    }
}
