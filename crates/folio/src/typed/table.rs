//! [`TableDefinition`] and the typed handles on read and write transactions.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use super::shared::{Batched, SharedTxn};
use super::{CodecError, CompositeKey, EncodeKey, EncodeValue, Key, LookupKey, Value};
use crate::{ConcurrentTransaction, Error, Range, ReadTransaction, Result, Tree, WriteTransaction};

/// Names a column family and the types of its keys and values. `const`, `Copy`, and free to
/// pass around; open it with [`ReadTransaction::table`] or [`WriteTransaction::table`].
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use folio::TableDefinition;
///
/// const COUNTS: TableDefinition<String, u64> = TableDefinition::new("counts");
///
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf(COUNTS.name())?;
/// let mut txn = db.begin_write(&[COUNTS.name()])?;
/// let mut counts = txn.table(COUNTS)?;
/// let seen = counts.get("home")?.unwrap_or(0);
/// counts.insert("home", &(seen + 1))?;
/// txn.commit()?;
/// assert_eq!(db.begin_read().table(COUNTS)?.get("home")?, Some(1));
/// # Ok(())
/// # }
/// ```
///
/// The name may also be made at run time (a table per tenant), borrowed for as long as the
/// definition is used:
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use folio::TableDefinition;
///
/// let db = folio::Database::open(dir.path())?;
/// for tenant in ["acme", "globex"] {
///     let name = format!("orders-{tenant}");
///     let orders: TableDefinition<u64, String> = TableDefinition::new(&name);
///     db.create_cf(orders.name())?;
///     let mut txn = db.begin_write(&[orders.name()])?;
///     txn.table(orders)?.insert(&1, "first order")?;
///     txn.commit()?;
/// }
/// assert_eq!(db.cf_names(), ["orders-acme", "orders-globex"]);
/// # Ok(())
/// # }
/// ```
pub struct TableDefinition<'a, K, V> {
    name: &'a str,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'a, K, V> TableDefinition<'a, K, V> {
    /// The table stored in column family `name` (a `&'static str` for a `const`
    /// definition, or any borrowed name).
    pub const fn new(name: &'a str) -> Self {
        Self {
            name,
            types: PhantomData,
        }
    }

    /// The column family's name.
    pub const fn name(&self) -> &'a str {
        self.name
    }
}

impl<K, V> Clone for TableDefinition<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for TableDefinition<'_, K, V> {}

impl<K, V> std::fmt::Debug for TableDefinition<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TableDefinition<{}, {}>({:?})",
            std::any::type_name::<K>(),
            std::any::type_name::<V>(),
            self.name
        )
    }
}

/// A codec failure of `T` (the table's key or value type) in column family `cf`.
fn decode_error<T: ?Sized>(cf: &str, source: CodecError) -> Error {
    Error::Codec {
        cf: cf.to_owned(),
        expected: std::any::type_name::<T>(),
        source,
    }
}

fn encode_bound<K: EncodeKey>(bound: Bound<&K>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(key) => Bound::Included(key.to_key_bytes()),
        Bound::Excluded(key) => Bound::Excluded(key.to_key_bytes()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn encode_value<W: EncodeValue + ?Sized>(cf: &str, value: &W) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    value
        .encode_value(&mut out)
        .map_err(|e| decode_error::<W>(cf, e))?;
    Ok(out)
}

/// Typed reads over a [`Tree`] (shared by both handles).
struct TypedTree<'t, K, V> {
    cf: Arc<str>,
    tree: Tree<'t>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'t, K: Key, V: Value> TypedTree<'t, K, V> {
    fn get<Q: EncodeKey + ?Sized>(&self, key: &Q) -> Result<Option<V>> {
        match self.tree.get(&key.to_key_bytes())? {
            Some(bytes) => V::decode_value(&bytes)
                .map(Some)
                .map_err(|e| decode_error::<V>(&self.cf, e)),
            None => Ok(None),
        }
    }

    fn range<R: RangeBounds<K>>(&self, range: R, reverse: bool) -> TypedRange<'t, K, V> {
        let bounds = (
            encode_bound(range.start_bound()),
            encode_bound(range.end_bound()),
        );
        let inner = if reverse {
            self.tree.range_rev::<Vec<u8>, _>(bounds)
        } else {
            self.tree.range::<Vec<u8>, _>(bounds)
        };
        TypedRange {
            cf: Arc::clone(&self.cf),
            inner: Entries::Range(inner),
            types: PhantomData,
        }
    }

    /// Entries whose key's first field is `first`: its self-delimiting encoding is a byte
    /// prefix of exactly those keys.
    fn prefix<Q: EncodeKey + ?Sized>(&self, first: &Q, reverse: bool) -> TypedRange<'t, K, V> {
        let mut prefix = Vec::new();
        first.encode_key(&mut prefix, false);
        let inner = if reverse {
            self.tree.prefix_rev(&prefix)
        } else {
            self.tree.prefix(&prefix)
        };
        TypedRange {
            cf: Arc::clone(&self.cf),
            inner: Entries::Range(inner),
            types: PhantomData,
        }
    }
}

/// A typed table in a read transaction ([`ReadTransaction::table`]): reads its snapshot
/// for as long as it lives.
pub struct ReadTable<K, V> {
    inner: TypedTree<'static, K, V>,
}

impl<K: Key, V: Value> ReadTable<K, V> {
    /// The value of `key` (a `&str` will do for a `String` key, `&("alice", 7)` for a
    /// `(String, u64)` key: [`LookupKey`]).
    pub fn get<Q: EncodeKey + ?Sized>(&self, key: &Q) -> Result<Option<V>>
    where
        K: LookupKey<Q>,
    {
        self.inner.get(key)
    }

    /// True when `key` is present.
    pub fn contains_key<Q: EncodeKey + ?Sized>(&self, key: &Q) -> Result<bool>
    where
        K: LookupKey<Q>,
    {
        self.inner.tree.contains_key(&key.to_key_bytes())
    }

    /// Entries in the table.
    pub fn len(&self) -> u64 {
        self.inner.tree.len()
    }

    /// True when the table holds no entry.
    pub fn is_empty(&self) -> bool {
        self.inner.tree.is_empty()
    }

    /// Entries with keys in `range`, in key order.
    pub fn range<R: RangeBounds<K>>(&self, range: R) -> TypedRange<'static, K, V> {
        self.inner.range(range, false)
    }

    /// Entries with keys in `range`, in reverse key order.
    pub fn range_rev<R: RangeBounds<K>>(&self, range: R) -> TypedRange<'static, K, V> {
        self.inner.range(range, true)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> TypedRange<'static, K, V> {
        self.inner.range(.., false)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(K, V)>> {
        self.iter().next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(K, V)>> {
        self.inner.range(.., true).next().transpose()
    }
}

impl<K: CompositeKey, V: Value> ReadTable<K, V> {
    /// Entries whose (tuple) key's first field is `first`, in key order: all `(first, *)`
    /// (a `&str` will do for a `String` field).
    pub fn prefix<Q: EncodeKey + ?Sized>(&self, first: &Q) -> TypedRange<'static, K, V>
    where
        K::First: LookupKey<Q>,
    {
        self.inner.prefix(first, false)
    }

    /// [`ReadTable::prefix`] in reverse key order.
    pub fn prefix_rev<Q: EncodeKey + ?Sized>(&self, first: &Q) -> TypedRange<'static, K, V>
    where
        K::First: LookupKey<Q>,
    {
        self.inner.prefix(first, true)
    }
}

impl<K: Key, V: Value> IntoIterator for &ReadTable<K, V> {
    type Item = Result<(K, V)>;
    type IntoIter = TypedRange<'static, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A typed table in a write transaction ([`WriteTransaction::table`] or
/// [`ConcurrentTransaction::table`]); it borrows the transaction, so the transaction cannot
/// commit while it lives.
pub struct WriteTable<'txn, K, V, T: TableTransaction + ?Sized = WriteTransaction> {
    cf: Arc<str>,
    txn: TxnRef<'txn, T>,
    types: PhantomData<fn() -> (K, V)>,
}

/// How a table reaches its transaction: borrowed for the table's life (one table at a
/// time), or shared with other tables and borrowed call by call ([`super::Tables`]).
enum TxnRef<'txn, T: ?Sized> {
    Own(&'txn mut T),
    Shared(&'txn dyn SharedTxn<T>),
}

impl<T: ?Sized> TxnRef<'_, T> {
    fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        match self {
            TxnRef::Own(txn) => f(txn),
            TxnRef::Shared(cell) => f(&cell.read()),
        }
    }

    fn with_mut<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        match self {
            TxnRef::Own(txn) => f(txn),
            TxnRef::Shared(cell) => f(&mut cell.write()),
        }
    }
}

/// The transactions a [`WriteTable`] works in: [`WriteTransaction`] and
/// [`ConcurrentTransaction`] (sealed: its methods are the table's plumbing).
pub trait TableTransaction: sealed::Sealed {
    #[doc(hidden)]
    fn table_get(&self, cf: &str, key: &[u8]) -> Result<Option<crate::Value>>;
    #[doc(hidden)]
    fn table_scan(&self, cf: &str, bounds: OwnedBounds, reverse: bool) -> Result<Range<'_>>;
    #[doc(hidden)]
    fn table_put(&mut self, cf: &str, key: &[u8], value: &[u8]) -> Result<()>;
    #[doc(hidden)]
    fn table_delete(&mut self, cf: &str, key: &[u8]) -> Result<bool>;
    #[doc(hidden)]
    fn table_increment(&mut self, cf: &str, key: &[u8], delta: i64) -> Result<()>;
    #[doc(hidden)]
    fn table_merge(&mut self, cf: &str, key: &[u8], operand: &[u8]) -> Result<()>;
    /// Refuses a column family the transaction cannot write.
    #[doc(hidden)]
    fn table_check(&self, cf: &str) -> Result<()>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::WriteTransaction {}
    impl Sealed for crate::ConcurrentTransaction {}
}

/// A key range by owned bounds.
type OwnedBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

impl TableTransaction for WriteTransaction {
    fn table_get(&self, cf: &str, key: &[u8]) -> Result<Option<crate::Value>> {
        self.get(cf, key)
    }

    fn table_scan(&self, cf: &str, bounds: OwnedBounds, reverse: bool) -> Result<Range<'_>> {
        let view = self.view(cf)?;
        Ok(if reverse {
            view.range_rev::<Vec<u8>, _>(bounds)
        } else {
            view.range::<Vec<u8>, _>(bounds)
        })
    }

    fn table_put(&mut self, cf: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.put(cf, key, value)
    }

    fn table_delete(&mut self, cf: &str, key: &[u8]) -> Result<bool> {
        self.delete(cf, key)
    }

    fn table_increment(&mut self, cf: &str, key: &[u8], delta: i64) -> Result<()> {
        self.increment(cf, key, delta).map(|_| ())
    }

    fn table_merge(&mut self, cf: &str, key: &[u8], operand: &[u8]) -> Result<()> {
        self.merge(cf, key, operand)
    }

    fn table_check(&self, cf: &str) -> Result<()> {
        self.view(cf).map(drop) // refuses a column family outside the transaction
    }
}

impl TableTransaction for ConcurrentTransaction {
    fn table_get(&self, cf: &str, key: &[u8]) -> Result<Option<crate::Value>> {
        self.get(cf, key)
    }

    fn table_scan(&self, cf: &str, bounds: OwnedBounds, reverse: bool) -> Result<Range<'_>> {
        self.scan(crate::CfName::cf_ref(cf), bounds, reverse)
    }

    fn table_put(&mut self, cf: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.put(cf, key, value)
    }

    fn table_delete(&mut self, cf: &str, key: &[u8]) -> Result<bool> {
        self.delete(cf, key)
    }

    fn table_increment(&mut self, cf: &str, key: &[u8], delta: i64) -> Result<()> {
        self.increment(cf, key, delta)
    }

    fn table_merge(&mut self, cf: &str, key: &[u8], operand: &[u8]) -> Result<()> {
        self.merge(cf, key, operand)
    }

    fn table_check(&self, cf: &str) -> Result<()> {
        self.check_cf(cf) // refuses a missing column family now
    }
}

impl<K: Key, T: TableTransaction + ?Sized> WriteTable<'_, K, i64, T> {
    /// Adds `delta` to the counter at `key` (absent: 0). In a concurrent transaction it is
    /// applied at the commit and is not a read: concurrent increments never conflict
    /// ([`ConcurrentTransaction::increment`]).
    pub fn increment<Q: EncodeKey + ?Sized>(&mut self, key: &Q, delta: i64) -> Result<()>
    where
        K: LookupKey<Q>,
    {
        let cf = &self.cf;
        self.txn
            .with_mut(|txn| txn.table_increment(cf, &key.to_key_bytes(), delta))
    }
}

impl<'txn, K: Key, V: Value, T: TableTransaction + ?Sized> WriteTable<'txn, K, V, T> {
    pub(super) fn shared(cf: Arc<str>, txn: &'txn dyn SharedTxn<T>) -> Self {
        Self {
            cf,
            txn: TxnRef::Shared(txn),
            types: PhantomData,
        }
    }

    /// The entries of `bounds` (from the end when `reverse`): the transaction's range when
    /// this table borrows it, batches of it when shared.
    fn scan_bounds(&self, bounds: OwnedBounds, reverse: bool) -> Result<TypedRange<'_, K, V>> {
        let entries = match &self.txn {
            TxnRef::Own(txn) => Entries::Range(txn.table_scan(&self.cf, bounds, reverse)?),
            TxnRef::Shared(cell) => {
                let (cell, cf) = (*cell, Arc::clone(&self.cf));
                let fetch = move |bounds: OwnedBounds, from_end: bool, limit: usize| {
                    let txn = cell.read();
                    txn.table_scan(&cf, bounds, from_end)?
                        .take(limit)
                        .map(|entry| entry.map(|(key, value)| (key, value.to_vec())))
                        .collect()
                };
                Entries::Batched(Batched::new(Box::new(fetch), bounds, reverse))
            }
        };
        Ok(TypedRange {
            cf: Arc::clone(&self.cf),
            inner: entries,
            types: PhantomData,
        })
    }

    fn scan<R: RangeBounds<K>>(&self, range: R, reverse: bool) -> Result<TypedRange<'_, K, V>> {
        let bounds = (
            encode_bound(range.start_bound()),
            encode_bound(range.end_bound()),
        );
        self.scan_bounds(bounds, reverse)
    }

    /// Inserts or replaces `key` (a `&str` will do for `String` keys and values).
    pub fn insert<Q, W>(&mut self, key: &Q, value: &W) -> Result<()>
    where
        K: LookupKey<Q>,
        V: Borrow<W>,
        Q: EncodeKey + ?Sized,
        W: EncodeValue + ?Sized,
    {
        let value = encode_value(&self.cf, value)?;
        let cf = &self.cf;
        self.txn
            .with_mut(|txn| txn.table_put(cf, &key.to_key_bytes(), &value))
    }

    /// Merges `operand` (encoded as a value of its own type) into the value of `key` with
    /// the column family's merge operator ([`crate::MergeOperator`], which sees the stored
    /// bytes); in a concurrent transaction at the commit, and not a read
    /// ([`ConcurrentTransaction::merge`]).
    pub fn merge<Q, W>(&mut self, key: &Q, operand: &W) -> Result<()>
    where
        K: LookupKey<Q>,
        Q: EncodeKey + ?Sized,
        W: EncodeValue + ?Sized,
    {
        let operand = encode_value(&self.cf, operand)?;
        let cf = &self.cf;
        self.txn
            .with_mut(|txn| txn.table_merge(cf, &key.to_key_bytes(), &operand))
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q: EncodeKey + ?Sized>(&mut self, key: &Q) -> Result<Option<V>>
    where
        K: LookupKey<Q>,
    {
        let old = self.get(key)?;
        if old.is_some() {
            let cf = &self.cf;
            self.txn
                .with_mut(|txn| txn.table_delete(cf, &key.to_key_bytes()))?;
        }
        Ok(old)
    }

    /// The value of `key`, this transaction's changes included.
    pub fn get<Q: EncodeKey + ?Sized>(&self, key: &Q) -> Result<Option<V>>
    where
        K: LookupKey<Q>,
    {
        let found = self
            .txn
            .with(|txn| txn.table_get(&self.cf, &key.to_key_bytes()))?;
        match found {
            Some(bytes) => V::decode_value(&bytes)
                .map(Some)
                .map_err(|e| decode_error::<V>(&self.cf, e)),
            None => Ok(None),
        }
    }

    /// Entries with keys in `range`, in key order (borrows the table: no change while it
    /// lives).
    pub fn range<R: RangeBounds<K>>(&self, range: R) -> Result<TypedRange<'_, K, V>> {
        self.scan(range, false)
    }

    /// Entries with keys in `range`, in reverse key order.
    pub fn range_rev<R: RangeBounds<K>>(&self, range: R) -> Result<TypedRange<'_, K, V>> {
        self.scan(range, true)
    }

    /// Every entry, in key order.
    #[expect(
        clippy::iter_not_returning_iterator,
        reason = "opening the transaction's view can fail; the entries are the iterator"
    )]
    pub fn iter(&self) -> Result<TypedRange<'_, K, V>> {
        self.range(..)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(K, V)>> {
        self.scan(.., false)?.next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(K, V)>> {
        self.scan(.., true)?.next().transpose()
    }
}

impl<K: Key, V: Value> WriteTable<'_, K, V, WriteTransaction> {
    /// Removes every entry with a key in `range`; returns how many there were. By pages,
    /// not entries ([`WriteTransaction::delete_range`]).
    pub fn delete_range<R: RangeBounds<K>>(&mut self, range: R) -> Result<u64> {
        let bounds = (
            encode_bound(range.start_bound()),
            encode_bound(range.end_bound()),
        );
        let cf = &self.cf;
        self.txn.with_mut(|txn| txn.delete_range(&**cf, bounds))
    }

    /// Entries in the table, this transaction's changes included.
    pub fn len(&self) -> u64 {
        // `view` fails only for a column family outside the transaction, which
        // `WriteTransaction::table` refused when it made this table.
        self.txn
            .with(|txn| txn.view(&*self.cf).map_or(0, |tree| tree.len()))
    }

    /// True when the table holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Key, V: Value> WriteTable<'_, K, V, ConcurrentTransaction> {
    /// Entries in the table, this transaction's changes included (a read of the whole
    /// table: see [`ConcurrentTransaction::len`]).
    pub fn len(&self) -> Result<u64> {
        self.txn.with(|txn| txn.len(&*self.cf))
    }

    /// True when the table holds no entry.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

impl<K: CompositeKey, V: Value, T: TableTransaction + ?Sized> WriteTable<'_, K, V, T> {
    fn scan_prefix<Q: EncodeKey + ?Sized>(
        &self,
        first: &Q,
        reverse: bool,
    ) -> Result<TypedRange<'_, K, V>> {
        let mut prefix = Vec::new();
        first.encode_key(&mut prefix, false);
        self.scan_bounds(folio_btree::prefix_bounds(&prefix), reverse)
    }

    /// Entries whose (tuple) key's first field is `first`, in key order, this transaction's
    /// changes included.
    pub fn prefix<Q: EncodeKey + ?Sized>(&self, first: &Q) -> Result<TypedRange<'_, K, V>>
    where
        K::First: LookupKey<Q>,
    {
        self.scan_prefix(first, false)
    }

    /// [`WriteTable::prefix`] in reverse key order.
    pub fn prefix_rev<Q: EncodeKey + ?Sized>(&self, first: &Q) -> Result<TypedRange<'_, K, V>>
    where
        K::First: LookupKey<Q>,
    {
        self.scan_prefix(first, true)
    }
}

impl<K: CompositeKey, V: Value> WriteTable<'_, K, V, WriteTransaction> {
    /// Removes every entry whose (tuple) key's first field is `first` (all `(first, *)`);
    /// returns how many there were. A range deletion: by pages, not entries.
    pub fn delete_prefix<Q: EncodeKey + ?Sized>(&mut self, first: &Q) -> Result<u64>
    where
        K::First: LookupKey<Q>,
    {
        let mut prefix = Vec::new();
        first.encode_key(&mut prefix, false);
        let (cf, bounds) = (&self.cf, folio_btree::prefix_bounds(&prefix));
        self.txn.with_mut(|txn| txn.delete_range(&**cf, bounds))
    }
}

/// Typed entries of a range, in order (or from the back: it is double-ended); each
/// `(key, value)` or the first error.
pub struct TypedRange<'t, K, V> {
    cf: Arc<str>,
    inner: Entries<'t>,
    types: PhantomData<fn() -> (K, V)>,
}

/// Where a typed range's entries come from.
#[expect(
    clippy::large_enum_variant,
    reason = "the range is the common case and stays unboxed (no allocation per range)"
)]
enum Entries<'t> {
    /// A range of a snapshot or of a transaction this table borrows.
    Range(Range<'t>),
    /// Batches of a transaction shared by several tables.
    Batched(Batched<'t>),
}

impl Entries<'_> {
    fn next_from(&mut self, back: bool) -> Option<Result<(Vec<u8>, Vec<u8>)>> {
        match self {
            Entries::Range(range) => {
                let entry = if back {
                    range.next_back()
                } else {
                    range.next()
                }?;
                Some(entry.map(|(key, value)| (key, value.to_vec())))
            }
            Entries::Batched(batched) => batched.next_from(back),
        }
    }
}

impl<K: Key, V: Value> Iterator for TypedRange<'_, K, V> {
    type Item = Result<(K, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.inner.next_from(false)?;
        Some(entry.and_then(|(key, value)| decode_entry(&self.cf, &key, &value)))
    }
}

impl<K: Key, V: Value> DoubleEndedIterator for TypedRange<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let entry = self.inner.next_from(true)?;
        Some(entry.and_then(|(key, value)| decode_entry(&self.cf, &key, &value)))
    }
}

impl<K: Key, V: Value> std::iter::FusedIterator for TypedRange<'_, K, V> {}

fn decode_entry<K: Key, V: Value>(cf: &str, key: &[u8], value: &[u8]) -> Result<(K, V)> {
    let key = K::from_key_bytes(key).map_err(|e| decode_error::<K>(cf, e))?;
    let value = V::decode_value(value).map_err(|e| decode_error::<V>(cf, e))?;
    Ok((key, value))
}

impl ReadTransaction {
    /// The typed table `definition` of this snapshot.
    pub fn table<K: Key, V: Value>(
        &self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<ReadTable<K, V>> {
        Ok(ReadTable {
            inner: TypedTree {
                cf: Arc::from(definition.name),
                tree: self.tree(definition.name)?,
                types: PhantomData,
            },
        })
    }
}

impl ConcurrentTransaction {
    /// The typed table `definition`, to read and change in this transaction.
    pub fn table<K: Key, V: Value>(
        &mut self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<WriteTable<'_, K, V, ConcurrentTransaction>> {
        self.check_cf(definition.name)?; // refuses a missing column family now
        Ok(WriteTable {
            cf: Arc::from(definition.name),
            txn: TxnRef::Own(self),
            types: PhantomData,
        })
    }
}

impl WriteTransaction {
    /// The typed table `definition`, to read and change in this transaction (its column
    /// family must be one the transaction began with).
    pub fn table<K: Key, V: Value>(
        &mut self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<WriteTable<'_, K, V>> {
        self.view(definition.name)?; // refuses a column family outside the transaction
        Ok(WriteTable {
            cf: Arc::from(definition.name),
            txn: TxnRef::Own(self),
            types: PhantomData,
        })
    }
}
