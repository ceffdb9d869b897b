//! `folio watch`: the change feed (`Database::changes`) printed, one line per operation or
//! one JSON object per commit (JSON Lines).

use std::io::{BufWriter, Write};
use std::ops::Bound;

use folio::{Change, ChangeOp};
use serde_json::json;

use crate::args::WatchArgs;
use crate::failure::{CliResult, Failure};
use crate::render::{argument, show};

pub fn watch(args: &WatchArgs) -> CliResult {
    let db = &args.db;
    // Acknowledging writes the subscriber's position at close.
    let database = crate::commands::open_existing(db, args.subscriber.is_some())?;
    let failed = |e: &folio::Error| Failure::database(db, e);
    let from = match (&args.subscriber, args.from) {
        (_, Some(from)) => from,
        (Some(name), None) => database.register_subscriber(name).map_err(|e| failed(&e))?,
        (None, None) => database.earliest_change_position(),
    };
    let hex = args.format.hex;
    let mut feed = database.changes(from).map_err(|e| failed(&e))?;
    for cf in &args.cf {
        feed = feed.column_family(cf);
    }
    if let Some(prefix) = &args.prefix {
        feed = feed.prefix(&argument(prefix, hex, "prefix")?);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    while let Some(change) = feed.try_next().map_err(|e| failed(&e))? {
        if print(&mut out, &change, args.format.json, hex).is_err() {
            return Ok(()); // the reader went away (e.g. `| head`)
        }
    }
    let _ = out.flush();
    if let Some(name) = &args.subscriber {
        database
            .acknowledge(name, feed.position())
            .map_err(|e| failed(&e))?;
    }
    Ok(())
}

fn print(out: &mut impl Write, change: &Change, json: bool, hex: bool) -> std::io::Result<()> {
    if json {
        let ops: Vec<_> = change.ops.iter().map(|op| op_json(op, hex)).collect();
        let line = json!({"lsn": change.lsn, "durable": change.durable, "ops": ops});
        return writeln!(out, "{line}");
    }
    for op in &change.ops {
        let fields = op_fields(op, hex);
        writeln!(out, "{}\t{}", change.lsn, fields.join("\t"))?;
    }
    Ok(())
}

/// An operation as text fields: column family, operation, then its keys and values.
fn op_fields(op: &ChangeOp, hex: bool) -> Vec<String> {
    let text = |bytes: &[u8]| show(bytes, hex);
    match op {
        ChangeOp::Put { cf, key, value } => {
            vec![cf.to_string(), "put".into(), text(key), text(value)]
        }
        ChangeOp::Delete { cf, key } => vec![cf.to_string(), "delete".into(), text(key)],
        ChangeOp::DeleteRange { cf, start, end } => vec![
            cf.to_string(),
            "delete-range".into(),
            bound(start, hex),
            bound(end, hex),
        ],
        ChangeOp::Unlogged { cf } => vec![cf.to_string(), "unlogged".into()],
        ChangeOp::CreateCf { cf } => vec![cf.to_string(), "create-cf".into()],
        ChangeOp::DropCf { cf } => vec![cf.to_string(), "drop-cf".into()],
        ChangeOp::RenameCf { from, to } => {
            vec![from.to_string(), "rename-cf".into(), to.to_string()]
        }
        other => vec![format!("{other:?}")],
    }
}

fn op_json(op: &ChangeOp, hex: bool) -> serde_json::Value {
    let text = |bytes: &[u8]| show(bytes, hex);
    match op {
        ChangeOp::Put { cf, key, value } => {
            json!({"op": "put", "cf": &**cf, "key": text(key), "value": text(value)})
        }
        ChangeOp::Delete { cf, key } => json!({"op": "delete", "cf": &**cf, "key": text(key)}),
        ChangeOp::DeleteRange { cf, start, end } => json!({
            "op": "delete-range", "cf": &**cf, "start": bound(start, hex), "end": bound(end, hex)
        }),
        ChangeOp::Unlogged { cf } => json!({"op": "unlogged", "cf": &**cf}),
        ChangeOp::CreateCf { cf } => json!({"op": "create-cf", "cf": &**cf}),
        ChangeOp::DropCf { cf } => json!({"op": "drop-cf", "cf": &**cf}),
        ChangeOp::RenameCf { from, to } => json!({"op": "rename-cf", "cf": &**from, "to": &**to}),
        other => json!({"op": format!("{other:?}")}),
    }
}

/// A range bound: `[key` included, `(key` excluded, `*` unbounded.
fn bound(bound: &Bound<folio::Bytes>, hex: bool) -> String {
    match bound {
        Bound::Included(key) => format!("[{}", show(key, hex)),
        Bound::Excluded(key) => format!("({}", show(key, hex)),
        Bound::Unbounded => "*".into(),
    }
}
