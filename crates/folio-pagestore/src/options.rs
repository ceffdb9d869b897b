//! [`PageStoreOptions`]: every tunable of the page store, validated.

use crate::{Error, Result};

/// Smallest supported page size.
pub const PAGE_SIZE_MIN: usize = 4096;
/// Largest supported page size.
pub const PAGE_SIZE_MAX: usize = 64 * 1024;

/// Options of a [`crate::PageStore`]. [`PageStoreOptions::default`] is a sound choice for most
/// uses; [`PageStoreOptions::validate`] explains any value it refuses.
#[derive(Debug, Clone)]
pub struct PageStoreOptions {
    /// Page size in bytes for a new store (a power of two, 4 KiB ..= 64 KiB). An existing
    /// file keeps the page size it was created with: opening it adopts the file's page size
    /// whatever this says. Default: 4096.
    pub page_size: usize,
    /// Upper bound, in bytes, of *clean* cached pages plus dirty ones: once it is exceeded,
    /// clean pages are evicted. Dirty pages are pinned until a checkpoint writes them, so
    /// the layer above bounds them by checkpointing (the cache reports `dirty_bytes`).
    /// Default: 64 MiB. At least 16 pages.
    pub cache_bytes_max: usize,
    /// Independent cache shards (a power of two). Lookups lock only their page's shard.
    /// Default: 16.
    pub cache_shards: usize,
    /// Pages an owner (a column-family writer) takes from the shared allocator at a time;
    /// larger extents mean fewer visits to the shared lock and more contiguous writes.
    /// Default: 64. Range 1 ..= 65536.
    pub extent_pages: u32,
    /// How the file grows (always preallocated with `fallocate`, so a data sync rarely
    /// updates file metadata): while smaller than this it doubles (a new database starts at
    /// its header and stays small while it holds little); beyond, it grows by this many bytes
    /// or an eighth of its size, whichever is more, so growth stays rare. Default: 8 MiB.
    pub growth_step_bytes: u64,
    /// Encrypts every page with this key (XChaCha20-Poly1305; see `docs/security.md`). A
    /// new store is created encrypted when set; an existing one must be opened with the key
    /// it was created with, and a plain one without a key. Default: none.
    pub encryption_key: Option<folio_io::EncryptionKey>,
    /// Reads clean pages of a plain file through a read-only memory map (no system call or
    /// copy per read, each page's checksum verified once per contents) instead of `pread`
    /// into the cache. Where the storage cannot be mapped (memory, the simulated disk) or the
    /// store is encrypted, reads go through the cache whatever this says. Trade-offs: an
    /// I/O error on a mapped read kills the process (`SIGBUS`) instead of returning an
    /// error, and a page is not re-verified if the device changes it after its first read
    /// (see `docs/pagestore.md`). Default: true.
    pub memory_map: bool,
    /// A bound shared with other stores on the page memory of all of them together: cached
    /// pages, clean and dirty, and spare page buffers ([`crate::MemoryBudget`]). Each store's
    /// `cache_bytes_max` still applies. Default: none (each store bounded by its own options).
    pub memory_budget: Option<crate::MemoryBudget>,
}

impl Default for PageStoreOptions {
    fn default() -> Self {
        Self {
            page_size: 4096,
            cache_bytes_max: 64 << 20,
            cache_shards: 16,
            extent_pages: 64,
            growth_step_bytes: 8 << 20,
            encryption_key: None,
            memory_map: true,
            memory_budget: None,
        }
    }
}

impl PageStoreOptions {
    /// The length a file of `current` bytes grows to so it holds at least `needed`
    /// (see [`PageStoreOptions::growth_step_bytes`]); a multiple of the page size.
    pub(crate) fn grown_len(&self, current: u64, needed: u64) -> u64 {
        if needed <= current {
            return current;
        }
        let page = self.page_size as u64;
        let step = current
            .min(self.growth_step_bytes)
            .max(current / 8)
            .max(page);
        needed.max(current + step).next_multiple_of(page)
    }

    /// Checks every option, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        check_page_size(self.page_size)?;
        if self.cache_bytes_max < 16 * self.page_size {
            return Err(invalid(
                "cache_bytes_max",
                format!(
                    "{} bytes is less than 16 pages ({} bytes)",
                    self.cache_bytes_max,
                    16 * self.page_size
                ),
            ));
        }
        if !self.cache_shards.is_power_of_two() || self.cache_shards > 1024 {
            return Err(invalid(
                "cache_shards",
                format!("{} is not a power of two in 1 ..= 1024", self.cache_shards),
            ));
        }
        if self.extent_pages == 0 || self.extent_pages > 65_536 {
            return Err(invalid(
                "extent_pages",
                format!("{} is not in 1 ..= 65536", self.extent_pages),
            ));
        }
        if self.growth_step_bytes < self.page_size as u64 {
            return Err(invalid(
                "growth_step_bytes",
                format!("{} is less than one page", self.growth_step_bytes),
            ));
        }
        Ok(())
    }
}

/// Checks that `page_size` is a supported page size.
pub fn check_page_size(page_size: usize) -> Result<()> {
    if page_size.is_power_of_two() && (PAGE_SIZE_MIN..=PAGE_SIZE_MAX).contains(&page_size) {
        Ok(())
    } else {
        Err(invalid(
            "page_size",
            format!("{page_size} is not a power of two in {PAGE_SIZE_MIN} ..= {PAGE_SIZE_MAX}"),
        ))
    }
}

fn invalid(name: &'static str, reason: String) -> Error {
    Error::InvalidOption { name, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        PageStoreOptions::default().validate().unwrap();
        let cases: [(PageStoreOptions, &str); 5] = [
            (
                PageStoreOptions {
                    page_size: 5000,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                PageStoreOptions {
                    cache_bytes_max: 4096,
                    ..Default::default()
                },
                "cache_bytes_max",
            ),
            (
                PageStoreOptions {
                    cache_shards: 3,
                    ..Default::default()
                },
                "cache_shards",
            ),
            (
                PageStoreOptions {
                    extent_pages: 0,
                    ..Default::default()
                },
                "extent_pages",
            ),
            (
                PageStoreOptions {
                    growth_step_bytes: 1,
                    ..Default::default()
                },
                "growth_step_bytes",
            ),
        ];
        for (options, name) in cases {
            match options.validate() {
                Err(Error::InvalidOption { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: expected InvalidOption, got {other:?}"),
            }
        }
    }
}
