//! [`Value`]: types stored as values.
//!
//! Integers are stored little-endian in their full width, `bool` as one byte, `String`,
//! `Vec<u8>` and `[u8; N]` as their bytes, `()` as nothing. With the `serde` feature,
//! [`Serde<T>`](super::Serde) stores any serde type with postcard.

use super::CodecError;

/// Writes a value; implemented for every value type and for the unsized types they borrow
/// as (`str`, `[u8]`), so an insert takes `&str` for a `String` value.
pub trait EncodeValue {
    /// Appends the encoding to `out`; fails only for types a serde format cannot write.
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError>;
}

/// A type stored as a value.
pub trait Value: EncodeValue + Sized {
    /// Reads a value from all of `bytes`; foreign bytes give a [`CodecError`].
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError>;
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl EncodeValue for $t {
            fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&self.to_le_bytes());
                Ok(())
            }
        }
        impl Value for $t {
            fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
                let array = <[u8; size_of::<$t>()]>::try_from(bytes)
                    .map_err(|_| CodecError::new(stringify!($t), "wrong length"))?;
                Ok(<$t>::from_le_bytes(array))
            }
        }
    )*};
}
integer_value!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl EncodeValue for bool {
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(u8::from(*self));
        Ok(())
    }
}

impl Value for bool {
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(CodecError::new("bool", "not one byte 0 or 1")),
        }
    }
}

impl EncodeValue for () {
    fn encode_value(&self, _out: &mut Vec<u8>) -> Result<(), CodecError> {
        Ok(())
    }
}

impl Value for () {
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(CodecError::new("()", "not empty"))
        }
    }
}

impl<const N: usize> EncodeValue for [u8; N] {
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self);
        Ok(())
    }
}

impl<const N: usize> Value for [u8; N] {
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        <[u8; N]>::try_from(bytes).map_err(|_| CodecError::new("byte array", "wrong length"))
    }
}

impl EncodeValue for [u8] {
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self);
        Ok(())
    }
}

impl EncodeValue for Vec<u8> {
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self);
        Ok(())
    }
}

impl Value for Vec<u8> {
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(bytes.to_vec())
    }
}

impl EncodeValue for str {
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self.as_bytes());
        Ok(())
    }
}

impl EncodeValue for String {
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self.as_bytes());
        Ok(())
    }
}

impl Value for String {
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| CodecError::new("String", "not UTF-8"))
    }
}
