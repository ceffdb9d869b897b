//! `folio backup --incremental`, `folio backup prune` and `folio restore`: backup chains
//! (docs/operations.md, "Backup chains").

use std::path::Path;

use folio::{EncryptionKey, IncrementKind, RestoreOptions};
use serde_json::json;

use crate::commands::{open_existing, print_json};
use crate::failure::{CliResult, Failure};

fn kind(kind: IncrementKind) -> &'static str {
    match kind {
        IncrementKind::Full => "full",
        IncrementKind::Log => "log",
        _ => "other",
    }
}

pub fn increment(db: &Path, chain: &Path, as_json: bool) -> CliResult {
    // Registers the chain's subscriber and acknowledges: a command that writes.
    let database = open_existing(db, true)?;
    let report = database
        .backup_incremental(chain)
        .map_err(|e| Failure::of_kind(chain, &e))?;
    if as_json {
        print_json(&json!({
            "number": report.number,
            "kind": kind(report.kind),
            "full_because": report.full_because,
            "from_lsn": report.from,
            "to_lsn": report.to,
            "records": report.records,
            "bytes": report.bytes,
        }));
    } else {
        let why = report
            .full_because
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default();
        println!(
            "increment {} ({}{why}): LSN {} to {}, {} records, {} bytes in {}",
            report.number,
            kind(report.kind),
            report.from,
            report.to,
            report.records,
            report.bytes,
            chain.display()
        );
    }
    Ok(())
}

pub fn list(chain: &Path, as_json: bool) -> CliResult {
    let increments = folio::list_backup(chain).map_err(|e| Failure::of_kind(chain, &e))?;
    if as_json {
        let rows: Vec<_> = increments
            .iter()
            .map(|i| {
                json!({
                    "number": i.number,
                    "kind": kind(i.kind),
                    "from_lsn": i.from,
                    "to_lsn": i.to,
                    "created_unix_ms": i.created_ms,
                    "bytes": i.bytes,
                })
            })
            .collect();
        print_json(&serde_json::Value::Array(rows));
    } else {
        println!("increment\tkind\tfrom_lsn\tto_lsn\tcreated_unix_s\tbytes");
        for i in &increments {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                i.number,
                kind(i.kind),
                i.from,
                i.to,
                i.created_ms / 1000,
                i.bytes
            );
        }
    }
    Ok(())
}

pub fn prune(chain: &Path, keep: usize, as_json: bool, key: Option<EncryptionKey>) -> CliResult {
    let report = folio::prune_backup(chain, keep, key).map_err(|e| Failure::of_kind(chain, &e))?;
    if as_json {
        print_json(&json!({"removed": report.removed, "merged_into": report.merged_into}));
    } else {
        let merged = report
            .merged_into
            .map(|n| format!("; older ones merged into full copy {n}"))
            .unwrap_or_default();
        println!("removed {} increments{merged}", report.removed.len());
    }
    Ok(())
}

pub fn restore(
    chain: &Path,
    target: &Path,
    to_lsn: Option<u64>,
    to_time: Option<&str>,
    as_json: bool,
    key: Option<EncryptionKey>,
) -> CliResult {
    let to_time_ms = to_time.map(parse_time).transpose()?;
    let options = RestoreOptions {
        to_lsn,
        to_time_ms,
        encryption_key: key,
    };
    let report = folio::restore_backup(chain, target, &options).map_err(|e| match e {
        folio::Error::BackupTargetExists { .. } => Failure::error(format!(
            "{}: already exists; choose a new directory to restore into",
            target.display()
        )),
        other => Failure::of_kind(chain, &other),
    })?;
    if as_json {
        print_json(&json!({
            "lsn": report.lsn,
            "increments": report.increments,
            "commits_applied": report.commits_applied,
            "path": report.path.display().to_string(),
        }));
    } else {
        println!(
            "restored to LSN {} from increments {:?} ({} logged commits applied) into {}",
            report.lsn,
            report.increments,
            report.commits_applied,
            report.path.display()
        );
    }
    Ok(())
}

/// Unix seconds, or UTC as `YYYY-MM-DDTHH:MM:SSZ`, as milliseconds since the epoch.
fn parse_time(text: &str) -> CliResult<u64> {
    let bad = || {
        Failure::error(format!(
            "--to-time {text:?}: give Unix seconds or UTC as 2026-12-06T03:00:00Z"
        ))
    };
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds.saturating_mul(1000));
    }
    let digits = |range: std::ops::Range<usize>| -> CliResult<i64> {
        text.get(range).and_then(|d| d.parse().ok()).ok_or_else(bad)
    };
    let shape_ok = text.len() == 20
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-'
        && text.as_bytes()[10] == b'T'
        && text.as_bytes()[13] == b':'
        && text.as_bytes()[16] == b':'
        && text.ends_with('Z');
    if !shape_ok {
        return Err(bad());
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    // Days from 1970-01-01 to the civil date (the proleptic Gregorian calendar).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(seconds).map(|s| s * 1000).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_parse_as_unix_milliseconds() {
        assert_eq!(super::parse_time("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(super::parse_time("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            super::parse_time("2026-12-06T03:00:00Z").unwrap(),
            1_796_526_000_000
        );
        assert_eq!(
            super::parse_time("2000-03-01T00:00:00Z").unwrap(),
            951_868_800_000
        );
        assert!(super::parse_time("2026-13-06T03:00:00Z").is_err());
        assert!(super::parse_time("yesterday").is_err());
    }
}
