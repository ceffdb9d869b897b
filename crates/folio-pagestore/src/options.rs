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
    /// The file grows by at least this many bytes at a time (preallocated with
    /// `fallocate`), and by at least an eighth of its size, so growth is rare and a data
    /// sync need not update file metadata. Default: 8 MiB.
    pub growth_bytes_min: u64,
}

impl Default for PageStoreOptions {
    fn default() -> Self {
        Self {
            page_size: 4096,
            cache_bytes_max: 64 << 20,
            cache_shards: 16,
            extent_pages: 64,
            growth_bytes_min: 8 << 20,
        }
    }
}

impl PageStoreOptions {
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
        if self.growth_bytes_min < self.page_size as u64 {
            return Err(invalid(
                "growth_bytes_min",
                format!("{} is less than one page", self.growth_bytes_min),
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
                    growth_bytes_min: 1,
                    ..Default::default()
                },
                "growth_bytes_min",
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
