//! The dump format: versioned, line-oriented, streamed in both directions, so a database can
//! be moved between folio versions or inspected with text tools.
//!
//! ```text
//! folio-dump 2
//! cf <name as hex> compression=<none|lz4|zstd-N>
//! <key as hex> <value as hex>       (ascending keys)
//! ...
//! end <entries in this column family>
//! cf ...
//! done <column families>
//! ```
//!
//! Version 1 (still read) had no settings on the `cf` line.

use std::io::{BufRead, Write};

use folio::{Database, ReadTransaction};

use crate::failure::{CliResult, Failure};
use crate::render::{from_hex, to_hex};

const HEADER: &str = "folio-dump 2";
/// The version before column-family settings were dumped: read, never written.
const HEADER_V1: &str = "folio-dump 1";

/// Writes every column family of `read` to `out`; `progress` gets the entries written.
pub fn write_dump(
    read: &ReadTransaction,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> CliResult<u64> {
    let io = |e: std::io::Error| Failure::error(format!("writing the dump failed: {e}"));
    writeln!(out, "{HEADER}").map_err(io)?;
    let mut total = 0;
    let names = read.cf_names();
    for name in &names {
        let settings = read
            .cf_options(name)
            .map_err(|e| Failure::error(format!("column family {name:?}: {e}")))?;
        writeln!(
            out,
            "cf {} compression={}",
            to_hex(name.as_bytes()),
            settings.compression.label()
        )
        .map_err(io)?;
        let tree = read
            .tree(name)
            .map_err(|e| Failure::error(format!("column family {name:?}: {e}")))?;
        let mut count = 0u64;
        for entry in tree.iter() {
            let (key, value) =
                entry.map_err(|e| Failure::error(format!("column family {name:?}: {e}")))?;
            writeln!(out, "{} {}", to_hex(&key), to_hex(&value)).map_err(io)?;
            count += 1;
            total += 1;
            if total % 10_000 == 0 {
                progress(total);
            }
        }
        writeln!(out, "end {count}").map_err(io)?;
    }
    writeln!(out, "done {}", names.len()).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(total)
}

/// Reads a dump from `input` into `db` (each column family bulk-loaded; none may exist).
/// `created` gets the name of each column family as it is created, so a caller can undo a
/// load that fails part way.
pub fn read_dump(
    db: &Database,
    input: impl BufRead,
    mut progress: impl FnMut(u64),
    created: &mut Vec<String>,
) -> CliResult<u64> {
    let mut lines = input.lines().enumerate();
    let mut next = || -> CliResult<Option<(usize, String)>> {
        match lines.next() {
            None => Ok(None),
            Some((n, Ok(line))) => Ok(Some((n + 1, line))),
            Some((n, Err(e))) => Err(Failure::error(format!("line {}: {e}", n + 1))),
        }
    };
    let bad = |n: usize, what: &str| Failure::error(format!("dump line {n}: {what}"));
    match next()? {
        Some((_, line)) if line == HEADER || line == HEADER_V1 => {}
        Some((_, line)) if line.starts_with("folio-dump ") => {
            return Err(Failure::error(format!(
                "this dump is {line:?}; this folio reads {HEADER:?} and {HEADER_V1:?}: use a folio version that reads it"
            )));
        }
        _ => {
            return Err(bad(
                1,
                &format!("not a folio dump (expected the line {HEADER:?})"),
            ));
        }
    }
    let mut total = 0;
    let mut column_families = 0u64;
    loop {
        let Some((n, line)) = next()? else {
            return Err(bad(
                0,
                "the dump ends early (no \"done\" line): it is truncated",
            ));
        };
        if let Some(count) = line.strip_prefix("done ") {
            let expected: u64 = count.parse().map_err(|_| bad(n, "bad count"))?;
            if expected != column_families {
                return Err(bad(n, "column family count differs: the dump is damaged"));
            }
            return Ok(total);
        }
        let (name, settings) = column_family_line(&line).map_err(|what| bad(n, &what))?;
        db.create_cf_with(&name, settings)
            .map_err(|e| Failure::error(format!("column family {name:?}: {e}")))?;
        created.push(name.clone());
        let mut load = db
            .bulk_load(&name)
            .map_err(|e| Failure::error(format!("column family {name:?}: {e}")))?;
        let mut count = 0u64;
        loop {
            let Some((n, line)) = next()? else {
                return Err(bad(
                    0,
                    "the dump ends inside a column family: it is truncated",
                ));
            };
            if let Some(expected) = line.strip_prefix("end ") {
                let expected: u64 = expected.parse().map_err(|_| bad(n, "bad count"))?;
                if expected != count {
                    return Err(bad(n, "entry count differs: the dump is damaged"));
                }
                break;
            }
            let (key, value) = line
                .split_once(' ')
                .and_then(|(k, v)| Some((from_hex(k)?, from_hex(v)?)))
                .ok_or_else(|| bad(n, "expected \"<key as hex> <value as hex>\""))?;
            load.put(&key, &value)
                .map_err(|e| Failure::error(format!("dump line {n}: {e}")))?;
            count += 1;
            total += 1;
            if total % 10_000 == 0 {
                progress(total);
            }
        }
        load.finish()
            .map_err(|e| Failure::error(format!("column family {name:?}: {e}")))?;
        column_families += 1;
    }
}

/// The name and settings of a `cf <name as hex> [compression=<codec>]` line.
fn column_family_line(line: &str) -> Result<(String, folio::ColumnFamilyOptions), String> {
    let expected = || "expected \"cf <name as hex> [compression=<codec>]\"".to_owned();
    let mut fields = line.strip_prefix("cf ").ok_or_else(expected)?.split(' ');
    let name = fields
        .next()
        .and_then(from_hex)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(expected)?;
    let mut settings = folio::ColumnFamilyOptions::new();
    for field in fields {
        let codec = field.strip_prefix("compression=").ok_or_else(expected)?;
        settings = settings.with_compression(codec.parse()?);
    }
    Ok((name, settings))
}
