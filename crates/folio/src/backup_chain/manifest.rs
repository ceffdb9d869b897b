//! An increment's manifest: what it holds and the checksum of every file, as a small text
//! file (`NNNNNN.manifest`) written last, so an increment exists once its manifest does.
//!
//! ```text
//! folio-increment 1
//! number 3
//! kind log                       (or full)
//! chain 9f3a0c...                (the chain's id, 16 hex digits)
//! from 120                       (the source LSN it starts after; 0 for a full one)
//! to 450                         (the source LSN it ends at)
//! created 1765000000000          (milliseconds since the Unix epoch)
//! cf 1 7573657273                (full only: a source column family's id, name in hex)
//! file 000003.log 12345 1a2b...  (path in the chain directory, bytes, xxh3-64 in hex)
//! checksum 5e6f...               (xxh3-64 of every line above)
//! ```

use std::fmt::Write as _;

use folio_wal::Lsn;

/// What an increment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IncrementKind {
    /// A whole database at `to` (a copy made like `Database::backup_to`).
    Full,
    /// The commits after `from` up to `to`, as the log recorded them.
    Log,
}

/// One increment's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) number: u64,
    pub(crate) kind: IncrementKind,
    pub(crate) chain: u64,
    pub(crate) from: Lsn,
    pub(crate) to: Lsn,
    pub(crate) created_ms: u64,
    /// Full increments: the source's column families (id, name) at `to`, which the log
    /// increments after it name by id.
    pub(crate) cfs: Vec<(u64, String)>,
    /// (path relative to the chain directory, bytes, xxh3-64).
    pub(crate) files: Vec<(String, u64, u64)>,
}

const HEADER: &str = "folio-increment 1";

/// The manifest file of increment `number`.
pub(crate) fn manifest_name(number: u64) -> String {
    format!("{number:06}.manifest")
}

/// `number` from a manifest's file name.
pub(crate) fn parse_manifest_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".manifest")?;
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl Manifest {
    /// Writes the manifest into the chain directory, durably and atomically: the increment
    /// exists from here on.
    pub(crate) fn save(&self, chain_dir: &dyn folio_io::Directory) -> crate::Result<()> {
        let name = manifest_name(self.number);
        let temporary = format!("{name}.tmp");
        Ok(chain_dir.replace_file(&name, &temporary, self.encode().as_bytes())?)
    }

    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        let kind = match self.kind {
            IncrementKind::Full => "full",
            IncrementKind::Log => "log",
        };
        let _ = writeln!(text, "{HEADER}");
        let _ = writeln!(text, "number {}", self.number);
        let _ = writeln!(text, "kind {kind}");
        let _ = writeln!(text, "chain {:016x}", self.chain);
        let _ = writeln!(text, "from {}", self.from);
        let _ = writeln!(text, "to {}", self.to);
        let _ = writeln!(text, "created {}", self.created_ms);
        for (id, name) in &self.cfs {
            let _ = writeln!(text, "cf {id} {}", hex(name.as_bytes()));
        }
        for (path, bytes, checksum) in &self.files {
            let _ = writeln!(text, "file {path} {bytes} {checksum:016x}");
        }
        let checksum = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
        let _ = writeln!(text, "checksum {checksum:016x}");
        text
    }

    /// Parses a manifest; `Err` says what is wrong.
    pub(crate) fn decode(text: &str) -> Result<Self, String> {
        let body_end = text
            .rfind("checksum ")
            .ok_or_else(|| "no checksum line".to_owned())?;
        let (body, checksum_line) = text.split_at(body_end);
        let stated = checksum_line
            .trim_end()
            .strip_prefix("checksum ")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(|| "malformed checksum line".to_owned())?;
        if xxhash_rust::xxh3::xxh3_64(body.as_bytes()) != stated {
            return Err("the manifest's checksum does not match".to_owned());
        }
        let mut lines = body.lines();
        if lines.next() != Some(HEADER) {
            return Err("not a folio increment manifest (or a newer format)".to_owned());
        }
        let mut manifest = Self {
            number: 0,
            kind: IncrementKind::Log,
            chain: 0,
            from: 0,
            to: 0,
            created_ms: 0,
            cfs: Vec::new(),
            files: Vec::new(),
        };
        let bad = |line: &str| format!("malformed line {line:?}");
        for line in lines {
            let (field, rest) = line.split_once(' ').ok_or_else(|| bad(line))?;
            let number = |text: &str| text.parse::<u64>().map_err(|_| bad(line));
            match field {
                "number" => manifest.number = number(rest)?,
                "kind" => {
                    manifest.kind = match rest {
                        "full" => IncrementKind::Full,
                        "log" => IncrementKind::Log,
                        _ => return Err(bad(line)),
                    }
                }
                "chain" => manifest.chain = u64::from_str_radix(rest, 16).map_err(|_| bad(line))?,
                "from" => manifest.from = number(rest)?,
                "to" => manifest.to = number(rest)?,
                "created" => manifest.created_ms = number(rest)?,
                "cf" => {
                    let (id, name) = rest.split_once(' ').ok_or_else(|| bad(line))?;
                    let name = unhex(name)
                        .and_then(|bytes| String::from_utf8(bytes).ok())
                        .ok_or_else(|| bad(line))?;
                    manifest.cfs.push((number(id)?, name));
                }
                "file" => {
                    let mut parts = rest.split(' ');
                    let (Some(path), Some(bytes), Some(checksum), None) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        return Err(bad(line));
                    };
                    if path.contains("..") || path.starts_with('/') {
                        return Err(bad(line));
                    }
                    let checksum = u64::from_str_radix(checksum, 16).map_err(|_| bad(line))?;
                    manifest
                        .files
                        .push((path.to_owned(), number(bytes)?, checksum));
                }
                _ => return Err(bad(line)),
            }
        }
        Ok(manifest)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_damage_is_found() {
        let manifest = Manifest {
            number: 3,
            kind: IncrementKind::Full,
            chain: 0x9f3a,
            from: 0,
            to: 450,
            created_ms: 1_765_000_000_000,
            cfs: vec![(1, "users".into()), (4, "odd name\n".into())],
            files: vec![("000003.full/data.folio".into(), 8192, 0xabc)],
        };
        let text = manifest.encode();
        assert_eq!(Manifest::decode(&text).unwrap(), manifest);
        assert!(Manifest::decode(&text.replace("to 450", "to 451")).is_err());
        assert!(Manifest::decode(&text[..text.len() - 5]).is_err());
        assert_eq!(parse_manifest_name(&manifest_name(42)), Some(42));
        assert_eq!(parse_manifest_name("000042.manifest.tmp"), None);
    }
}
