//! [`WriteBatch`]: blind writes to any column families, committed atomically by
//! [`crate::Database::write`] through the commit queue.

use crate::column_family::CfName;

/// One change in a batch; `cf` indexes the batch's column-family names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchOp<'a> {
    Put {
        cf: usize,
        key: &'a [u8],
        value: &'a [u8],
    },
    Delete {
        cf: usize,
        key: &'a [u8],
    },
}

const PUT: u8 = 1;
const DELETE: u8 = 2;

/// Puts and deletes to apply together, atomically, without reading first. Many threads
/// writing small batches to the same column family do not take its writer lock in turn: the
/// commit queue merges their batches into one commit (one log record, one lock round).
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("counters")?;
/// let mut batch = folio::WriteBatch::new();
/// batch.put("counters", b"visits", b"1");
/// batch.delete("counters", b"stale");
/// db.write(batch)?;
/// assert_eq!(&*db.begin_read().get("counters", b"visits")?.unwrap(), b"1");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Distinct column-family names, in order of first use (each op refers to one by index,
    /// so a batch of many changes to one column family holds its name once).
    pub(crate) cfs: Vec<String>,
    /// Every change, back to back in one buffer (no allocation per change):
    /// `kind u8, cf index u32, key_len u32, key, [value_len u32, value]`.
    data: Vec<u8>,
    count: usize,
    bytes: usize,
    /// The longest key and value (checked against the limits before the batch is applied).
    key_max: usize,
    value_max: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` in column family `cf` (the last change to a key wins). A
    /// [`crate::ColumnFamily`] handle is taken by its name now.
    pub fn put<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8], value: &[u8]) -> &mut Self {
        self.bytes += key.len() + value.len();
        self.value_max = self.value_max.max(value.len());
        self.push(PUT, &cf.cf_ref().name(), key);
        self.push_bytes(value);
        self
    }

    /// Removes `key` from column family `cf`.
    pub fn delete<C: CfName + ?Sized>(&mut self, cf: &C, key: &[u8]) -> &mut Self {
        self.bytes += key.len();
        self.push(DELETE, &cf.cf_ref().name(), key);
        self
    }

    fn push(&mut self, kind: u8, cf: &str, key: &[u8]) {
        let cf = self.cf_index(cf) as u32;
        self.key_max = self.key_max.max(key.len());
        self.data.push(kind);
        self.data.extend_from_slice(&cf.to_le_bytes());
        self.push_bytes(key);
        self.count += 1;
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        // Lengths past u32 are caught by the size checks before the batch is applied; the
        // stored length is then never read.
        self.data
            .extend_from_slice(&(bytes.len().min(u32::MAX as usize) as u32).to_le_bytes());
        self.data.extend_from_slice(bytes);
    }

    /// The changes, in order.
    pub(crate) fn ops(&self) -> impl Iterator<Item = BatchOp<'_>> {
        let mut at = 0;
        let data = &self.data;
        std::iter::from_fn(move || {
            let kind = *data.get(at)?;
            let word =
                |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
            let cf = word(at + 1) as usize;
            let key_len = word(at + 5) as usize;
            let key = &data[at + 9..at + 9 + key_len];
            at += 9 + key_len;
            Some(if kind == PUT {
                let value_len = word(at) as usize;
                let value = &data[at + 4..at + 4 + value_len];
                at += 4 + value_len;
                BatchOp::Put { cf, key, value }
            } else {
                BatchOp::Delete { cf, key }
            })
        })
    }

    /// The longest key and value in the batch.
    pub(crate) fn largest(&self) -> (usize, usize) {
        (self.key_max, self.value_max)
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of keys and values held.
    pub fn payload_bytes(&self) -> usize {
        self.bytes
    }

    /// Removes every change, keeping the allocation.
    pub fn clear(&mut self) {
        self.cfs.clear();
        self.data.clear();
        self.count = 0;
        self.bytes = 0;
        self.key_max = 0;
        self.value_max = 0;
    }

    /// The distinct column families the batch writes, sorted.
    pub(crate) fn cf_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.cfs.iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The index of `cf` in `cfs`, adding it on first use (batches name few column
    /// families, so a scan beats a map).
    fn cf_index(&mut self, cf: &str) -> usize {
        if let Some(index) = self.cfs.iter().position(|name| name == cf) {
            return index;
        }
        self.cfs.push(cf.to_owned());
        self.cfs.len() - 1
    }
}
