//! [`Serde<T>`]: any serde type as a value, in postcard's compact format.

use serde::{Serialize, de::DeserializeOwned};

use super::{CodecError, EncodeValue, Value};

/// A value stored with serde in postcard's compact format (`serde` feature):
/// `TableDefinition<u64, Serde<User>>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Serde<T>(pub T);

impl<T: Serialize> EncodeValue for Serde<T> {
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let bytes = postcard::to_allocvec(&self.0).map_err(|_| {
            CodecError::new(std::any::type_name::<T>(), "serde could not encode it")
        })?;
        out.extend_from_slice(&bytes);
        Ok(())
    }
}

impl<T: Serialize + DeserializeOwned> Value for Serde<T> {
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        let (value, rest) = postcard::take_from_bytes(bytes).map_err(|_| {
            CodecError::new(
                std::any::type_name::<T>(),
                "not this type's postcard encoding",
            )
        })?;
        if !rest.is_empty() {
            return Err(CodecError::new(
                std::any::type_name::<T>(),
                "bytes left after the value",
            ));
        }
        Ok(Serde(value))
    }
}
