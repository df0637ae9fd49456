//! Printing rows and tables: a comfy-table for people, JSON, JSON Lines or CSV for scripts.

use std::io::Write;

use clap::ValueEnum;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use tabula::{Row, Value};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
}

pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) => s.clone(),
        Value::Float(f) => format!("{f}"),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Prints a grid with a header.
pub fn grid(headers: &[String], rows: &[Vec<String>]) {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(headers);
    for r in rows {
        t.add_row(r);
    }
    println!("{t}");
}

/// Prints rows (already cut to the chosen columns) in the chosen format.
pub fn rows(columns: &[String], rows: &[Row], format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let pick = |r: &Row| -> Vec<Value> { columns.iter().map(|c| r[c.as_str()].clone()).collect() };
    match format {
        Format::Table => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| pick(r).iter().map(cell).collect())
                .collect();
            grid(columns, &body);
            println!("{} row(s)", rows.len());
        }
        Format::Json => {
            let v: Vec<serde_json::Value> = rows.iter().map(|r| object(columns, r)).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Jsonl => {
            for r in rows {
                writeln!(out, "{}", object(columns, r))?;
            }
        }
        Format::Csv => {
            writeln!(
                out,
                "{}",
                columns
                    .iter()
                    .map(|c| csv_field(c))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for r in rows {
                let line: Vec<String> = pick(r)
                    .iter()
                    .map(|v| {
                        if v.is_null() {
                            String::new()
                        } else {
                            csv_field(&cell(v))
                        }
                    })
                    .collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
    }
    Ok(())
}

fn object(columns: &[String], r: &Row) -> serde_json::Value {
    serde_json::Value::Object(
        columns
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    serde_json::to_value(&r[c.as_str()]).unwrap_or(serde_json::Value::Null),
                )
            })
            .collect(),
    )
}
