//! [`Key`]: types stored as keys, encoded so that byte order is the type's order.
//!
//! # Encodings
//! - unsigned integers: big-endian; signed integers: big-endian with the sign bit flipped
//!   (so `-1 < 0 < 1` holds for the bytes too); `bool`: one byte;
//! - `[u8; N]`: the bytes;
//! - `String` and `Vec<u8>`: the bytes as they are when last in a key; inside a tuple
//!   (followed by more fields) every `0x00` is written `0x00 0xFF` and the field ends with
//!   `0x00 0x00`, so a shorter field sorts before a longer one it prefixes and the fields
//!   after it cannot change the order;
//! - tuples: their fields in order, each self-delimiting except the last.

use super::CodecError;

/// Writes a key, the way a [`Key`] type encodes itself; implemented for every key type and
/// for the unsized types they borrow as (`str`, `[u8]`), so lookups take `&str` for a
/// `String` key.
pub trait EncodeKey {
    /// Appends the encoding to `out`: as the last field of a key when `last`, else
    /// self-delimiting (see the module docs).
    fn encode_key(&self, out: &mut Vec<u8>, last: bool);

    /// The encoding as a whole key.
    fn to_key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_key(&mut out, true);
        out
    }
}

impl<T: EncodeKey + ?Sized> EncodeKey for &T {
    fn encode_key(&self, out: &mut Vec<u8>, last: bool) {
        (**self).encode_key(out, last);
    }
}

/// `Self` (a key type) can be looked up by a `Q` that encodes the same bytes: the key type
/// itself, the borrowed forms of keys that own their bytes (`str` and `&str` for `String`,
/// `[u8]` and `&[u8]` for `Vec<u8>`), and tuples of those field by field, so
/// `get(&("alice", 7))` reads a `(String, u64)` key without building its `String`.
///
/// A key type of your own implements it for itself (one line:
/// `impl folio::typed::LookupKey<MyKey> for MyKey {}`); the table's lookups require it.
///
/// A lookup by a type that encodes differently does not compile:
///
/// ```compile_fail
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = folio::Database::open(dir.path()).unwrap();
/// const ORDERS: folio::TableDefinition<(String, u64), u8> = folio::TableDefinition::new("o");
/// # db.create_cf("o").unwrap();
/// let read = db.begin_read();
/// read.table(ORDERS).unwrap().get(&("alice", 7u32)); // u32 is not u64
/// ```
pub trait LookupKey<Q: ?Sized> {}

impl<K: LookupKey<Q>, Q: ?Sized> LookupKey<&Q> for K {}

macro_rules! lookup_by_itself {
    ($($t:ty),*) => {$(impl LookupKey<$t> for $t {})*};
}
lookup_by_itself!(
    u8,
    u16,
    u32,
    u64,
    u128,
    i8,
    i16,
    i32,
    i64,
    i128,
    bool,
    String,
    Vec<u8>
);
impl<const N: usize> LookupKey<[u8; N]> for [u8; N] {}
impl LookupKey<str> for String {}
impl LookupKey<[u8]> for Vec<u8> {}

/// A type stored as a key: byte order of the encodings is the order of the values
/// (`a < b` exactly when `encode(a) < encode(b)`).
pub trait Key: EncodeKey + Sized {
    /// Reads a value from the front of `bytes` (all of them when `last`); returns it and
    /// the bytes it took. Foreign bytes give a [`CodecError`], never a panic.
    fn decode_key(bytes: &[u8], last: bool) -> Result<(Self, usize), CodecError>;

    /// Reads a whole key.
    fn from_key_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        let (key, used) = Self::decode_key(bytes, true)?;
        if used != bytes.len() {
            return Err(CodecError::new("key", "bytes left after the last field"));
        }
        Ok(key)
    }
}

macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        impl EncodeKey for $t {
            fn encode_key(&self, out: &mut Vec<u8>, _last: bool) {
                out.extend_from_slice(&self.to_be_bytes());
            }
        }
        impl Key for $t {
            fn decode_key(bytes: &[u8], _last: bool) -> Result<(Self, usize), CodecError> {
                let (head, _) = bytes
                    .split_first_chunk::<{ size_of::<$t>() }>()
                    .ok_or_else(|| CodecError::new(stringify!($t), "too few bytes"))?;
                Ok((<$t>::from_be_bytes(*head), size_of::<$t>()))
            }
        }
    )*};
}
unsigned_key!(u8, u16, u32, u64, u128);

macro_rules! signed_key {
    ($($t:ty => $u:ty),*) => {$(
        impl EncodeKey for $t {
            fn encode_key(&self, out: &mut Vec<u8>, last: bool) {
                (self.cast_unsigned() ^ (1 << (<$u>::BITS - 1))).encode_key(out, last);
            }
        }
        impl Key for $t {
            fn decode_key(bytes: &[u8], last: bool) -> Result<(Self, usize), CodecError> {
                let (raw, used) = <$u>::decode_key(bytes, last)
                    .map_err(|_| CodecError::new(stringify!($t), "too few bytes"))?;
                Ok(((raw ^ (1 << (<$u>::BITS - 1))).cast_signed(), used))
            }
        }
    )*};
}
signed_key!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

impl EncodeKey for bool {
    fn encode_key(&self, out: &mut Vec<u8>, _last: bool) {
        out.push(u8::from(*self));
    }
}

impl Key for bool {
    fn decode_key(bytes: &[u8], _last: bool) -> Result<(Self, usize), CodecError> {
        match bytes.first() {
            Some(0) => Ok((false, 1)),
            Some(1) => Ok((true, 1)),
            _ => Err(CodecError::new("bool", "not 0 or 1")),
        }
    }
}

impl<const N: usize> EncodeKey for [u8; N] {
    fn encode_key(&self, out: &mut Vec<u8>, _last: bool) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> Key for [u8; N] {
    fn decode_key(bytes: &[u8], _last: bool) -> Result<(Self, usize), CodecError> {
        let (head, _) = bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| CodecError::new("byte array", "too few bytes"))?;
        Ok((*head, N))
    }
}

/// Writes variable-length bytes: as they are when last, else escaped and terminated.
fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>, last: bool) {
    if last {
        out.extend_from_slice(bytes);
        return;
    }
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Reads what [`encode_bytes`] wrote; returns the bytes and how many were taken.
fn decode_bytes(bytes: &[u8], last: bool) -> Result<(Vec<u8>, usize), CodecError> {
    if last {
        return Ok((bytes.to_vec(), bytes.len()));
    }
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        match (bytes.get(at), bytes.get(at + 1)) {
            (Some(0), Some(0)) => return Ok((out, at + 2)),
            (Some(0), Some(0xFF)) => {
                out.push(0);
                at += 2;
            }
            (Some(0), _) => return Err(CodecError::new("bytes", "bad escape in a key field")),
            (Some(&byte), _) => {
                out.push(byte);
                at += 1;
            }
            (None, _) => return Err(CodecError::new("bytes", "key field not terminated")),
        }
    }
}

impl EncodeKey for [u8] {
    fn encode_key(&self, out: &mut Vec<u8>, last: bool) {
        encode_bytes(self, out, last);
    }
}

impl EncodeKey for Vec<u8> {
    fn encode_key(&self, out: &mut Vec<u8>, last: bool) {
        encode_bytes(self, out, last);
    }
}

impl Key for Vec<u8> {
    fn decode_key(bytes: &[u8], last: bool) -> Result<(Self, usize), CodecError> {
        decode_bytes(bytes, last)
    }
}

impl EncodeKey for str {
    fn encode_key(&self, out: &mut Vec<u8>, last: bool) {
        encode_bytes(self.as_bytes(), out, last);
    }
}

impl EncodeKey for String {
    fn encode_key(&self, out: &mut Vec<u8>, last: bool) {
        encode_bytes(self.as_bytes(), out, last);
    }
}

impl Key for String {
    fn decode_key(bytes: &[u8], last: bool) -> Result<(Self, usize), CodecError> {
        let (raw, used) = decode_bytes(bytes, last)?;
        let text = String::from_utf8(raw).map_err(|_| CodecError::new("String", "not UTF-8"))?;
        Ok((text, used))
    }
}

/// A tuple key, whose first field can select a run of keys: every key with the same first
/// field sorts together, so "all orders of one customer" is one prefix scan
/// ([`crate::ReadTable::prefix`]).
pub trait CompositeKey: Key {
    /// The type of the first field.
    type First: Key;
}

macro_rules! tuple_key {
    ($first:ident . 0 $(, $name:ident . $index:tt)* ; $last_name:ident . $last_index:tt) => {
        impl<$first: Key, $($name: Key,)* $last_name: Key> CompositeKey
            for ($first, $($name,)* $last_name,)
        {
            type First = $first;
        }
        tuple_key!(@codec $first.0 $(, $name.$index)* ; $last_name.$last_index);
    };
    (@codec $($name:ident . $index:tt),+ ; $last_name:ident . $last_index:tt) => {
        impl<$($name: EncodeKey,)+ $last_name: EncodeKey> EncodeKey for ($($name,)+ $last_name,) {
            fn encode_key(&self, out: &mut Vec<u8>, last: bool) {
                $(self.$index.encode_key(out, false);)+
                self.$last_index.encode_key(out, last);
            }
        }
        impl<$($name: Key,)+ $last_name: Key> Key for ($($name,)+ $last_name,) {
            fn decode_key(bytes: &[u8], last: bool) -> Result<(Self, usize), CodecError> {
                let mut at = 0;
                let value = (
                    $({
                        let _ = $index;
                        let (field, used) = $name::decode_key(&bytes[at..], false)?;
                        at += used;
                        field
                    },)+
                    {
                        let (field, used) = $last_name::decode_key(&bytes[at..], last)?;
                        at += used;
                        field
                    },
                );
                Ok((value, at))
            }
        }
    };
}
// Tuples are looked up field by field.
impl<A: LookupKey<QA>, B: LookupKey<QB>, QA, QB> LookupKey<(QA, QB)> for (A, B) {}
impl<A: LookupKey<QA>, B: LookupKey<QB>, C: LookupKey<QC>, QA, QB, QC> LookupKey<(QA, QB, QC)>
    for (A, B, C)
{
}
impl<A, B, C, D, QA, QB, QC, QD> LookupKey<(QA, QB, QC, QD)> for (A, B, C, D)
where
    A: LookupKey<QA>,
    B: LookupKey<QB>,
    C: LookupKey<QC>,
    D: LookupKey<QD>,
{
}

tuple_key!(A.0; B.1);
tuple_key!(A.0, B.1; C.2);
tuple_key!(A.0, B.1, C.2; D.3);
