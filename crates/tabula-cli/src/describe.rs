//! Describing a database: the list of its tables and a table's schema, in every output
//! format. `tabula tables` and `tabula schema` print these, and so do the shell's `.tables`
//! and `.schema`, so both look the same.

use std::io::Write;

use anyhow::Context;
use tabula::{Database, Stats};

use crate::output::{self, Format};

/// The keys of a table's record (`tables`, `stats`), in the order CSV prints them: a header
/// even when there is no table.
pub const TABLE_KEYS: &[&str] = &[
    "name",
    "rows",
    "loaded",
    "pending_records",
    "snapshot_bytes",
    "schema_bytes",
    "indexes",
];

/// Prints the tables of `stats`: a grid of name, rows, snapshot bytes and indexes for
/// people, a record per table in the other formats.
pub fn print_tables(stats: &Stats, format: Format) -> anyhow::Result<()> {
    if format != Format::Table {
        return output::list(format, &serde_json::to_value(&stats.tables)?, TABLE_KEYS)
            .context("writing to standard output");
    }
    let rows: Vec<Vec<String>> = stats
        .tables
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                // Inside a shell's read transaction, which loads no table: the rows its
                // manifest lists, which a load would refuse.
                match &t.damaged {
                    Some(_) => format!("{} (damaged snapshot)", t.rows),
                    None => t.rows.to_string(),
                },
                t.snapshot_bytes.to_string(),
                t.indexes.join(", "),
            ]
        })
        .collect();
    output::grid_to(
        &mut output::stdout(),
        &[
            "table".into(),
            "rows".into(),
            "snapshot bytes".into(),
            "indexes".into(),
        ],
        &rows,
    )
    .context("writing to standard output")
}

/// The least of `names` that differs from `missing` only in case: the table a "did you
/// mean" offers (names are case-sensitive, as SQL's here).
pub fn named_like(missing: &str, names: impl IntoIterator<Item = String>) -> Option<String> {
    names
        .into_iter()
        .filter(|n| n != missing && n.eq_ignore_ascii_case(missing))
        .min()
}

/// Prints the schema of `table`: for people, `table NAME`, a grid of its columns (type,
/// nullable, default, constraints), its composite unique keys, indexes and checks, and its
/// migration history; in JSON the whole schema with its history; in JSON Lines and CSV a
/// record per column, with the table's name.
pub fn print_schema(db: &Database, table: &str, format: Format) -> anyhow::Result<()> {
    let schema = db.schema(table).map_err(|e| {
        // A table named in another case: the shell's `.schema` says which, as SQL does.
        let near = db.table_names().ok().and_then(|n| named_like(table, n));
        match (&e, near) {
            (tabula::Error::UnknownTable { .. }, Some(n)) => {
                anyhow::anyhow!("{e}; did you mean {n}?")
            }
            _ => anyhow::Error::new(e),
        }
    })?;
    let history = db.schema_history(table)?;
    if format != Format::Table {
        let mut whole = serde_json::to_value(&schema)?;
        if let serde_json::Value::Object(m) = &mut whole {
            let steps: Vec<serde_json::Value> = history
                .iter()
                .map(|h| serde_json::json!({ "lsn": h.lsn, "change": h.change }))
                .collect();
            m.insert("history".into(), steps.into());
        }
        let mut list = Vec::new();
        for c in &schema.columns {
            let mut v = serde_json::to_value(c)?;
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("table".into(), schema.table.clone().into());
            }
            list.push(v);
        }
        return output::records(format, &whole, &list, &["table", "name", "type"])
            .context("writing to standard output");
    }
    let rows: Vec<Vec<String>> = schema
        .columns
        .iter()
        .map(|c| {
            let mut flags = Vec::new();
            if c.primary_key {
                flags.push("primary key".to_string());
            }
            if c.unique {
                flags.push("unique".into());
            }
            if c.index {
                flags.push("index".into());
            }
            if let Some(r) = &c.references {
                flags.push(format!("references {} ({})", r.table, r.on_delete.name()));
            }
            if let Some(check) = &c.check {
                flags.push(format!("check {check}"));
            }
            vec![
                c.name.clone(),
                c.ty.to_string(),
                if c.nullable { "yes" } else { "no" }.into(),
                c.default
                    .as_ref()
                    .map_or(String::new(), ToString::to_string),
                flags.join(", "),
            ]
        })
        .collect();
    let mut out = output::stdout();
    let mut write = || -> std::io::Result<()> {
        writeln!(out, "table {}", schema.table)?;
        output::grid_to(
            &mut out,
            &[
                "column".into(),
                "type".into(),
                "nullable".into(),
                "default".into(),
                "constraints".into(),
            ],
            &rows,
        )?;
        for cols in &schema.unique {
            writeln!(out, "unique ({})", cols.join(", "))?;
        }
        for cols in &schema.index {
            writeln!(out, "index ({})", cols.join(", "))?;
        }
        for check in &schema.checks {
            writeln!(out, "check {check}")?;
        }
        if !history.is_empty() {
            writeln!(out, "history:")?;
            for h in &history {
                writeln!(out, "  lsn {}  {}", h.lsn, h.change)?;
            }
        }
        out.flush()
    };
    write().context("writing to standard output")
}

/// `tabula stats`: the report for people, or as JSON (one document) or CSV (a line per
/// table).
pub fn print_stats(stats: &Stats, format: Format) -> anyhow::Result<()> {
    if format == Format::Table {
        outln!("{stats}");
        return Ok(());
    }
    // JSON Lines: the whole report on one line; CSV: a line per table.
    let whole = serde_json::to_value(stats)?;
    let printed = match format {
        Format::Csv => output::list(format, &whole["tables"], TABLE_KEYS),
        _ => output::records(format, &whole, std::slice::from_ref(&whole), &[]),
    };
    printed.context("writing to standard output")
}
