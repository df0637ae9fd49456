//! Entry points for fuzzing the readers of untrusted bytes (with the `testing` feature):
//! each takes any bytes and must return, never panic, abort or hang. `fuzz/` drives them
//! with cargo-fuzz; `tests/it/fuzz_smoke.rs` runs them on stable with proptest in CI.

use std::path::Path;

use crate::error::Result;
use crate::expr::Condition;
use crate::schema::{Column, ColumnType, OnDelete, Schema};
use crate::storage::manifest::Manifest;
use crate::storage::snapshot::{decode, decode_lines};
use crate::storage::wal::decode::decode_ops;
use crate::storage::wal::line::{frame, parse_line};
use crate::storage::wal::scan::{scan, Recovery};
use crate::storage::SchemaFile;
use crate::value::Value;

/// A schema with a column of every kind the readers treat differently.
pub fn schema() -> Schema {
    Schema::new(
        "t",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("name", ColumnType::Text).unique(),
            Column::new("small", ColumnType::I8).nullable(),
            Column::new("gpa", ColumnType::F64).nullable(),
            Column::new("f", ColumnType::F32).nullable(),
            Column::new("ok", ColumnType::Bool).nullable(),
            Column::new("doc", ColumnType::Json).nullable(),
            Column::new("parent", ColumnType::U64)
                .nullable()
                .references("t", OnDelete::SetNull),
        ],
    )
    .unwrap_or_else(|e| unreachable!("a fixed, valid schema: {e}"))
}

/// A log: split into lines and scanned in every recovery mode; every good record's rows
/// decoded against [`schema`].
pub fn log(bytes: &[u8]) {
    let schema = schema();
    let path = Path::new("wal/transaction.log");
    for mode in [Recovery::Strict, Recovery::TolerateTail, Recovery::Salvage] {
        if let Ok(s) = scan(path, bytes, mode, 0) {
            for (line, rec) in &s.records {
                for ops in &rec.tables {
                    let _ = decode_ops(path, *line, &schema, ops);
                }
            }
        }
    }
}

/// One log line (without its newline), as it is and with `bytes` as the JSON of a line with
/// a correct checksum (so that the JSON reader is reached, not just the checksum).
pub fn log_line(bytes: &[u8]) {
    let mut sealed = frame(bytes);
    sealed.pop();
    for line in [bytes, &sealed] {
        one_log_line(line);
    }
}

fn one_log_line(bytes: &[u8]) {
    let schema = schema();
    if let Ok(rec) = parse_line(bytes) {
        for ops in &rec.tables {
            let _ = decode_ops(Path::new("log"), 1, &schema, ops);
            if let Some(created) = &ops.create {
                let _ = created.clone().finish();
            }
        }
    }
}

/// A snapshot, read the way loading reads it and the way verify and repair read it; both
/// must agree on whether it is sound.
pub fn snapshot(bytes: &[u8]) {
    let schema = schema();
    let mut handed = 0;
    let whole = decode(
        Path::new("t.records"),
        &schema,
        bytes,
        &|v: Vec<Value>| Ok(v),
        &mut |chunk| {
            handed += chunk.len();
            Ok(())
        },
    );
    let lines = decode_lines(&schema, bytes);
    if let Ok(rows) = whole {
        assert_eq!(rows, handed as u64, "rows counted and handed over differ");
        assert!(
            lines.iter().all(|(_, r)| r.is_ok()) && rows as usize == lines.len(),
            "loading accepted a snapshot that line-by-line reading refuses"
        );
    }
}

/// A schema file.
pub fn schema_file(bytes: &[u8]) {
    if let Ok(mut f) = serde_json::from_slice::<SchemaFile>(bytes) {
        if f.schema.finish().is_ok() {
            let _ = serde_json::to_vec(&f.schema);
        }
    }
}

/// A manifest.
pub fn manifest(bytes: &[u8]) {
    if let Ok(m) = Manifest::parse(bytes) {
        // What it writes, it reads back.
        let again = Manifest::parse(&m.to_bytes());
        assert!(again.is_ok_and(|a| a
            == Manifest {
                crc32c: a.crc32c.clone(),
                ..m
            }));
    }
}

/// An export document, imported into an empty in-memory database through a file in `dir`.
pub fn import_document(dir: &Path, bytes: &[u8]) -> Result<usize> {
    let file = dir.join("doc.json");
    std::fs::write(&file, bytes).map_err(|e| crate::error::Error::io(&file, e))?;
    crate::db::Database::in_memory().import_json(&file)
}

/// A `--where` condition over [`schema`], evaluated on a few rows.
pub fn condition(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let schema = schema();
    if let Ok(c) = Condition::parse(&schema, text) {
        let rows = [
            vec![
                Value::Int(1),
                Value::from("Ann"),
                Value::Int(-3),
                Value::Float(3.5),
                Value::Float(0.5),
                Value::Bool(true),
                Value::from("{\"a\":1}"),
                Value::Null,
            ],
            vec![
                Value::Int(2),
                Value::from(""),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Int(1),
            ],
        ];
        for r in &rows {
            let _ = c.matches(r);
        }
        let _ = c.pushdown();
    }
}
