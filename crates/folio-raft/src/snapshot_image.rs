//! The bytes of a snapshot: every entry of the application's column families, read from
//! one folio snapshot.
//!
//! Format (all integers little-endian): a magic `FRSNAP01`, then per column family its name
//! (a `u32` length, then the bytes) and its entry count (`u64`), then each entry as its key
//! and its value, each a `u32` length and the bytes. A length is checked against the bytes
//! left before it is trusted, so damaged or hostile snapshot bytes give an error, never a
//! panic or a huge allocation.

use folio::ReadTransaction;

const MAGIC: &[u8; 8] = b"FRSNAP01";

/// One column family's entries.
pub(crate) type CfImage = (String, Vec<(Vec<u8>, Vec<u8>)>);

/// Encodes the column families `cfs` as `read` sees them.
pub(crate) fn encode(read: &ReadTransaction, cfs: &[String]) -> folio::Result<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    for cf in cfs {
        let tree = read.tree(cf.as_str())?;
        put_bytes(&mut out, cf.as_bytes());
        out.extend_from_slice(&tree.len().to_le_bytes());
        for entry in tree.iter() {
            let (key, value) = entry?;
            put_bytes(&mut out, &key);
            put_bytes(&mut out, &value);
        }
    }
    Ok(out)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("folio keys and values fit in u32 lengths");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Decodes snapshot bytes; `Err` says what is wrong with them.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<CfImage>, String> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(MAGIC.len())? != MAGIC {
        return Err("not a folio-raft snapshot (bad magic)".into());
    }
    let mut cfs = Vec::new();
    while reader.at < bytes.len() {
        let name = String::from_utf8(reader.chunk()?.to_vec())
            .map_err(|_| "a column family name is not UTF-8".to_owned())?;
        let count = reader.u64()?;
        // Each entry takes at least 8 bytes: a count beyond that is damage, not a reason to
        // reserve memory.
        let left = (bytes.len() - reader.at) as u64;
        if count > left / 8 {
            return Err(format!(
                "{name}: {count} entries cannot fit in {left} bytes"
            ));
        }
        let mut entries = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let key = reader.chunk()?.to_vec();
            let value = reader.chunk()?.to_vec();
            entries.push((key, value));
        }
        cfs.push((name, entries));
    }
    Ok(cfs)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {} (wanted {len} more)", self.at))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn chunk(&mut self) -> Result<&'a [u8], String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
        self.take(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_bytes_are_errors_never_panics() {
        assert!(decode(b"").is_err());
        assert!(decode(b"FRSNAP00").is_err());
        assert_eq!(decode(MAGIC).unwrap(), Vec::new());
        let mut huge_count = MAGIC.to_vec();
        put_bytes(&mut huge_count, b"cf");
        huge_count.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge_count).unwrap_err().contains("cannot fit"));
        let mut truncated = MAGIC.to_vec();
        put_bytes(&mut truncated, b"cf");
        truncated.extend_from_slice(&1u64.to_le_bytes());
        truncated.extend_from_slice(&100u32.to_le_bytes());
        truncated.extend_from_slice(b"abcd"); // 4 of the key's 100 bytes
        assert!(decode(&truncated).unwrap_err().contains("truncated"));
        // Every prefix and random bytes: never a panic.
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..512 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                })
                .collect();
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode(&framed);
        }
    }
}
