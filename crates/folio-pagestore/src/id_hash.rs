//! A fast hasher for page ids.

/// Hashes page ids for the maps keyed by them (the cache's shards, a writer's private pages):
/// ids are small distinct integers, so a multiply is enough, and `SipHash` was most of a
/// cache hit's cost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PageIdHasher(u64);

impl std::hash::Hasher for PageIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8 | u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
}

/// A `HashMap`/`HashSet` hasher for page ids.
pub(crate) type IdBuild = std::hash::BuildHasherDefault<PageIdHasher>;
