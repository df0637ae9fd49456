//! `tabula`: inspect, query, change, verify and repair a tabula database directory without
//! writing Rust. Works on any directory through the dynamic, schema-driven API.
//!
//! Exit codes: 0 ok, 1 problems found (`verify`, `repair` that could not fix everything),
//! 2 usage or I/O errors.
#![forbid(unsafe_code)]

mod demo;
mod output;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use tabula::{Condition, Database, Row, Value};

use output::Format;

const AFTER_HELP: &str = "\
Examples:
  tabula demo                                   # ./data/university with sample data
  tabula tables data/university
  tabula query data/university students --where \"gpa > 3.5 AND year = 2024\" --order-by -gpa
  tabula query data/university students --where \"name LIKE 'A%'\" --columns name,email --format csv
  tabula insert data/university courses '{\"code\":\"CS301\",\"title\":\"Compilers\"}'
  tabula update data/university students --where \"name = 'Bob Smith'\" --set gpa=3.4
  tabula verify data/university && tabula stats data/university

Exit codes: 0 ok, 1 problems found, 2 usage or I/O errors.";

#[derive(Parser)]
#[command(name = "tabula", version, about = "Inspect, query, change, verify and repair tabula databases", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format: a table for people, or json/jsonl/csv for scripts (every command).
    #[arg(long, value_enum, default_value_t, global = true)]
    format: Format,
}

#[derive(Subcommand)]
enum Command {
    /// Create the university example database with sample data.
    #[command(after_help = "Example:\n  tabula demo ./data/university")]
    Demo {
        /// Where to create it.
        #[arg(default_value = "./data/university")]
        dir: PathBuf,
    },
    /// List tables with their row counts and sizes.
    #[command(after_help = "Example:\n  tabula tables data/university --format json")]
    Tables { dir: PathBuf },
    /// Show a table's schema.
    #[command(after_help = "Example:\n  tabula schema data/university students")]
    Schema { dir: PathBuf, table: String },
    /// Select rows with a SQL condition, order, window and column choice.
    #[command(
        after_help = "Examples:\n  tabula query data/university students --where \"year IN (2023, 2024) AND advisor IS NOT NULL\"\n  tabula query data/university students --order-by -gpa,name --limit 3 --format json\n  tabula query data/university students --where \"year = 2024\" --explain"
    )]
    Query {
        dir: PathBuf,
        table: String,
        /// A SQL boolean expression over the table's columns.
        #[arg(long = "where")]
        filter: Option<String>,
        /// Columns to order by, comma-separated; `-col` for descending.
        #[arg(long, allow_hyphen_values = true)]
        order_by: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        offset: Option<usize>,
        /// Columns to print, comma-separated (default: all).
        #[arg(long)]
        columns: Option<String>,
        /// Print the query plan instead of the rows.
        #[arg(long)]
        explain: bool,
    },
    /// Insert rows given as JSON objects, all in one transaction.
    #[command(
        after_help = "Example:\n  tabula insert data/university students '{\"name\":\"Zoe\",\"email\":\"zoe@university.edu\",\"year\":2025}'"
    )]
    Insert {
        dir: PathBuf,
        table: String,
        #[arg(required = true)]
        rows: Vec<String>,
    },
    /// Change columns of the rows matching a condition.
    #[command(
        after_help = "Example:\n  tabula update data/university students --where \"year = 2025\" --set advisor='Dr. Knuth'"
    )]
    Update {
        dir: PathBuf,
        table: String,
        #[arg(long = "where", required = true)]
        filter: String,
        /// `column=value`; the value is read as JSON (3.5, true, null, "text") or else as text.
        #[arg(long = "set", required = true)]
        set: Vec<String>,
    },
    /// Delete the rows matching a condition.
    #[command(
        after_help = "Example:\n  tabula delete data/university students --where \"gpa < 2.0\""
    )]
    Delete {
        dir: PathBuf,
        table: String,
        #[arg(long = "where", required = true)]
        filter: String,
    },
    /// Rows, bytes on disk per file kind, the log, archived segments.
    #[command(after_help = "Example:\n  tabula stats data/university --format json")]
    Stats { dir: PathBuf },
    /// Write snapshots of changed tables and archive the write-ahead log.
    #[command(after_help = "Example:\n  tabula checkpoint data/university")]
    Checkpoint { dir: PathBuf },
    /// Write every table to one JSON document.
    #[command(after_help = "Example:\n  tabula export data/university backup.json")]
    Export { dir: PathBuf, file: PathBuf },
    /// Read a JSON document written by `export`: everything, or nothing.
    #[command(after_help = "Example:\n  tabula import data/copy backup.json")]
    Import { dir: PathBuf, file: PathBuf },
    /// Read every file; report every problem with its file and line (exit 1 if any).
    #[command(
        after_help = "Example:\n  tabula verify data/university || tabula repair data/university"
    )]
    Verify { dir: PathBuf },
    /// Rebuild what can be read; back up every file first; report every row dropped.
    #[command(
        after_help = "Example:\n  tabula repair data/university   # originals go to data/university.backup-<UTC time>-<n>\n  tabula repair data/university --backup-dir /mnt/backups\n\nSee docs/RECOVERY.md for what the report means."
    )]
    Repair {
        dir: PathBuf,
        /// Where to make the backup (default: beside the database directory); never inside it.
        #[arg(long)]
        backup_dir: Option<PathBuf>,
    },
    /// List the records of the write-ahead log.
    #[command(after_help = "Example:\n  tabula wal data/university --format json")]
    Wal { dir: PathBuf },
}

fn open(dir: &Path) -> anyhow::Result<Database> {
    if !dir.join("wal").is_dir() {
        bail!(
            "no tabula database at {} (create one with `tabula demo {}`)",
            dir.display(),
            dir.display()
        );
    }
    Database::open(dir).with_context(|| format!("opening {}", dir.display()))
}

/// A spinner on stderr for long work, only when stderr is a terminal.
fn spinner(msg: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_owned());
    pb.enable_steady_tick(Duration::from_millis(100));
    Some(pb)
}

fn finish(pb: Option<indicatif::ProgressBar>) {
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
}

/// A JSON value for a column: scalars as they are, objects and arrays as JSON text.
fn json_value(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => Value::Text(v.to_string()),
        other => serde_json::from_value(other).unwrap_or(Value::Null),
    }
}

fn parse_row(text: &str) -> anyhow::Result<Row> {
    let v: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("{text:?} is not JSON"))?;
    let serde_json::Value::Object(map) = v else {
        bail!("{text:?} is not a JSON object")
    };
    Ok(Row::from_pairs(
        map.into_iter().map(|(k, v)| (k, json_value(v))),
    ))
}

fn parse_set(s: &str) -> anyhow::Result<(String, Value)> {
    let (col, val) = s
        .split_once('=')
        .with_context(|| format!("--set {s:?}: expected column=value"))?;
    let value = match serde_json::from_str::<serde_json::Value>(val) {
        Ok(v) => json_value(v),
        Err(_) => Value::Text(val.trim_matches('\'').to_owned()),
    };
    Ok((col.trim().to_owned(), value))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let format = cli.format;
    let json = format != Format::Table;
    match cli.command {
        Command::Demo { dir } => {
            let (s, c, r) = demo::create(&dir)?;
            if json {
                let v = serde_json::json!({"path": dir, "students": s, "courses": c, "registrations": r});
                println!("{v}");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Created {} with {s} students, {c} courses and {r} registrations.",
                dir.display()
            );
            println!("\nTry next:");
            let d = dir.display();
            println!("  tabula tables {d}");
            println!("  tabula query {d} students --where \"gpa > 3.5\" --order-by -gpa");
            println!("  tabula query {d} registrations --where \"course_id = 1\" --explain");
            println!("  tabula stats {d}");
            println!("  tabula verify {d}");
            println!("  cat {d}/wal/transaction.log | cut -c1-120");
        }
        Command::Tables { dir } => {
            let db = open(&dir)?;
            let stats = db.stats()?;
            if format == Format::Table {
                let rows: Vec<Vec<String>> = stats
                    .tables
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.rows.to_string(),
                            t.snapshot_bytes.to_string(),
                            t.indexes.join(", "),
                        ]
                    })
                    .collect();
                output::grid(
                    &[
                        "table".into(),
                        "rows".into(),
                        "snapshot bytes".into(),
                        "indexes".into(),
                    ],
                    &rows,
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&stats.tables)?);
            }
        }
        Command::Schema { dir, table } => {
            let db = open(&dir)?;
            let schema = db.schema(&table)?;
            if format == Format::Table {
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
                            flags.push(
                                format!("references {} ({:?})", r.table, r.on_delete)
                                    .to_lowercase(),
                            );
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
                println!("table {}", schema.table);
                output::grid(
                    &[
                        "column".into(),
                        "type".into(),
                        "nullable".into(),
                        "default".into(),
                        "constraints".into(),
                    ],
                    &rows,
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&schema)?);
            }
        }
        Command::Query {
            dir,
            table,
            filter,
            order_by,
            limit,
            offset,
            columns,
            explain,
        } => {
            let db = open(&dir)?;
            let t = db.dyn_table(&table)?;
            let mut q = t.select();
            if let Some(f) = &filter {
                q = q.where_sql(f);
            }
            for key in order_by
                .iter()
                .flat_map(|o| o.split(','))
                .map(str::trim)
                .filter(|k| !k.is_empty())
            {
                q = q.order_by(key);
            }
            if let Some(l) = limit {
                q = q.limit(l);
            }
            if let Some(o) = offset {
                q = q.offset(o);
            }
            if explain {
                println!("{}", q.explain()?);
                return Ok(ExitCode::SUCCESS);
            }
            let names: Vec<String> = match &columns {
                Some(c) => c.split(',').map(|s| s.trim().to_owned()).collect(),
                None => t.schema().columns.iter().map(|c| c.name.clone()).collect(),
            };
            for n in &names {
                t.schema().column_index(n)?;
            }
            let rows = q.all()?;
            output::rows(&names, &rows, format)?;
        }
        Command::Insert { dir, table, rows } => {
            let db = open(&dir)?;
            let parsed = rows
                .iter()
                .map(|r| parse_row(r))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let t = db.dyn_table(&table)?;
            let keys = t.insert_many(parsed)?;
            db.close()?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"table": table, "inserted": keys.len(), "keys": keys})
                );
            } else {
                let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
                println!(
                    "inserted {} row(s) into {table}: keys {}",
                    keys.len(),
                    shown.join(", ")
                );
            }
        }
        Command::Update {
            dir,
            table,
            filter,
            set,
        } => {
            let db = open(&dir)?;
            let t = db.dyn_table(&table)?;
            let cond = Condition::parse(t.schema(), &filter)?;
            let changes = set
                .iter()
                .map(|s| parse_set(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for (c, _) in &changes {
                t.schema().column_index(c)?;
            }
            let n = t.update(
                |r| cond.matches(r.values()),
                |r| {
                    for (c, v) in &changes {
                        r.set(c, v.clone());
                    }
                },
            )?;
            db.close()?;
            if json {
                println!("{}", serde_json::json!({"table": table, "updated": n}));
            } else {
                println!("updated {n} row(s) of {table}");
            }
        }
        Command::Delete { dir, table, filter } => {
            let db = open(&dir)?;
            let t = db.dyn_table(&table)?;
            let cond = Condition::parse(t.schema(), &filter)?;
            let n = t.delete(|r| cond.matches(r.values()))?;
            db.close()?;
            if json {
                println!("{}", serde_json::json!({"table": table, "deleted": n}));
            } else {
                println!("deleted {n} row(s) from {table}");
            }
        }
        Command::Stats { dir } => {
            let db = open(&dir)?;
            let stats = db.stats()?;
            if format == Format::Table {
                println!("{stats}");
            } else {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            }
        }
        Command::Checkpoint { dir } => {
            let db = open(&dir)?;
            let pb = spinner("checkpointing");
            db.checkpoint()?;
            finish(pb);
            let s = db.stats()?;
            if json {
                let v = serde_json::json!({"checkpoint_lsn": s.checkpoint_lsn, "archived": s.archived.len()});
                println!("{v}");
            } else {
                println!(
                    "checkpoint at LSN {}; {} archived segment(s)",
                    s.checkpoint_lsn,
                    s.archived.len()
                );
            }
        }
        Command::Export { dir, file } => {
            let db = open(&dir)?;
            let pb = spinner("exporting");
            db.export_json(&file)?;
            finish(pb);
            let n = db.table_names()?.len();
            if json {
                println!("{}", serde_json::json!({"file": file, "tables": n}));
            } else {
                println!("exported {n} table(s) to {}", file.display());
            }
        }
        Command::Import { dir, file } => {
            let db = open(&dir)?;
            let pb = spinner("importing");
            let n = db.import_json(&file);
            finish(pb);
            let n = n?;
            db.close()?;
            if json {
                println!("{}", serde_json::json!({"file": file, "rows": n}));
            } else {
                println!("imported {n} row(s) from {}", file.display());
            }
        }
        Command::Verify { dir } => {
            let problems = tabula::verify(&dir)?;
            if format == Format::Table {
                for p in &problems {
                    println!("{p}");
                }
                if problems.is_empty() {
                    println!("{}: no problems found", dir.display());
                } else {
                    println!(
                        "{} problem(s) found; `tabula repair {}` salvages what can be read",
                        problems.len(),
                        dir.display()
                    );
                }
            } else {
                println!("{}", serde_json::to_string_pretty(&problems)?);
            }
            return Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Repair { dir, backup_dir } => return repair(&dir, backup_dir, json),
        Command::Wal { dir } => {
            let records = tabula::log_records(&dir)?;
            if format == Format::Table {
                let rows: Vec<Vec<String>> = records
                    .iter()
                    .map(|r| {
                        let tables = r
                            .tables
                            .iter()
                            .map(|(t, p, d)| {
                                let created = if r.created.contains(t) {
                                    "created, "
                                } else {
                                    ""
                                };
                                format!("{t}: {created}{p} put, {d} delete")
                            })
                            .collect::<Vec<_>>()
                            .join("; ");
                        vec![
                            r.line.to_string(),
                            r.lsn.to_string(),
                            tables,
                            r.problem.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                output::grid(
                    &[
                        "line".into(),
                        "lsn".into(),
                        "changes".into(),
                        "problem".into(),
                    ],
                    &rows,
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&records)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn repair(dir: &Path, backup_dir: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let report = tabula::repair(dir, tabula::RepairOptions { backup_dir })?;
    if json {
        let mut v = serde_json::to_value(&report)?;
        v["clean"] = report.is_clean().into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", repair_text(dir, &report));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The repair report for people: problems found, the backup, per table the rows before,
/// recovered and dropped with where each dropped row's bytes are kept, and the verdict.
fn repair_text(dir: &Path, r: &tabula::RepairReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut say = |line: String| {
        let _ = writeln!(out, "{line}");
    };
    if r.problems.is_empty() {
        say(format!(
            "{}: no problems found; nothing to repair",
            dir.display()
        ));
        return out;
    }
    say(format!("{} problem(s) found:", r.problems.len()));
    for p in &r.problems {
        say(format!("  {p}"));
    }
    if let Some(b) = &r.backup {
        say(format!("backed up every file to {} (checked)", b.display()));
    }
    for t in &r.tables {
        let before = t
            .rows_before
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
        say(format!(
            "table {}: rows at the last checkpoint: {before}; recovered: {}; dropped: {}; \
             missing (no bytes left): {}{}",
            t.table,
            t.rows_recovered,
            t.rows_dropped,
            t.rows_missing,
            if t.schema_from_log {
                "; schema rebuilt from the log"
            } else {
                ""
            }
        ));
        for d in &t.dropped {
            say(format!(
                "  dropped {}:{}: {} (bytes kept there)",
                d.file.display(),
                d.line,
                d.reason
            ));
        }
    }
    for d in &r.log_dropped {
        say(format!(
            "dropped log line {}:{}: {}",
            d.file.display(),
            d.line,
            d.reason
        ));
    }
    for q in &r.quarantined {
        say(format!(
            "table {q}: no readable schema anywhere; its files were moved to {}",
            dir.join("quarantine").display()
        ));
    }
    if r.is_clean() {
        say(format!("{} verifies clean", dir.display()));
    } else {
        for p in &r.remaining {
            say(format!("still wrong: {p}"));
        }
    }
    out
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tabula: {e:#}");
            ExitCode::from(2)
        }
    }
}
