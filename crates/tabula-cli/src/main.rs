//! `tabula`: inspect, query, change, verify and repair a tabula database directory without
//! writing Rust. Works on any directory through the dynamic, schema-driven API.
//!
//! Exit codes: see `AFTER_HELP`.
#![forbid(unsafe_code)]

mod demo;
mod describe;
mod dump;
mod output;
mod shell;
mod sql_cmd;
mod text_input;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
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

CSV: NULL is an empty unquoted field, empty text is \"\" (quoted). TEXT values that start
with =, +, -, @, tab or CR get a leading ' so spreadsheets do not run them as formulas
(--csv-raw turns this off); numbers are written as they are.

Output to a closed pipe (e.g. `| head`) ends quietly with exit 0.

tables, schema, query, stats, export and dump open the database read-only: they work while
another process has it open and is writing, and on a directory you may only read. insert,
update, delete, checkpoint, import and repair take its lock.

Exit codes:
  0  ok
  1  problems found (verify, or a repair that could not fix everything)
  2  usage or I/O error; nothing was changed by a write command
  3  a write command committed (the data is safe in the write-ahead log), then the
     checkpoint at close or writing its output failed; the next open recovers from the log";

#[derive(Parser)]
#[command(name = "tabula", version, about = "Inspect, query, change, verify and repair tabula databases", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format: a table for people, or json/jsonl/csv for scripts (every command but
    /// dump, which writes SQL).
    #[arg(long, value_enum, default_value_t, global = true)]
    format: Format,
    /// CSV: write TEXT values as they are, without the leading ' that guards formulas.
    #[arg(long, global = true)]
    csv_raw: bool,
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
    /// Run SQL: the statements given, a script on standard input, or with neither on a
    /// terminal an interactive shell (`.help` inside). Reads open the database read-only; the
    /// first statement that writes takes its lock. A directory that does not exist yet is
    /// created.
    #[command(
        after_help = "Examples:\n  tabula sql data/university \"SELECT name, gpa FROM students WHERE year = 2024 ORDER BY gpa DESC LIMIT 3\"\n  tabula sql data/university \"UPDATE students SET gpa = 3.9 WHERE id = 1\"\n  tabula sql data/new < schema.sql\n  tabula sql data/university              # the shell: statements end with ;, .help lists the rest"
    )]
    Sql {
        dir: PathBuf,
        /// The SQL text (default: the shell on a terminal, else a script on standard input).
        sql: Option<String>,
        /// Run the interactive shell even when standard input is not a terminal: each prompt
        /// is printed and each line read is echoed after it (for programs that drive it).
        #[arg(long, conflicts_with = "sql")]
        interactive: bool,
    },
    /// Write the database as a SQL script that recreates it: tables with their keys,
    /// constraints and indexes, the rows, and the next auto-increment keys. `tabula sql`
    /// reads it back; so do sqlite3 (--dialect sqlite) and psql (--dialect postgres).
    /// Opens the database read-only.
    #[command(
        after_help = "Examples:\n  tabula dump data/university > university.sql\n  tabula dump data/university --dialect postgres -o university.pg.sql\n  tabula dump data/university | tabula sql data/copy\n  tabula dump data/university | sqlite3 university.db"
    )]
    Dump {
        dir: PathBuf,
        /// The SQL dialect: sqlite (INSERT batches) or postgres (COPY blocks, for psql).
        #[arg(long, value_enum, default_value_t)]
        dialect: dump::DialectArg,
        /// Write to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
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
        after_help = "Examples:\n  tabula insert data/university students '{\"name\":\"Zoe\",\"email\":\"zoe@university.edu\",\"year\":2025}'\n  tabula insert data/university students --file new.jsonl\n  cat new.json | tabula insert data/university students -"
    )]
    Insert {
        dir: PathBuf,
        table: String,
        /// JSON objects, one per argument; `-` (or none, with stdin not a terminal) reads stdin.
        rows: Vec<String>,
        /// Read rows from FILE (`-` for stdin): JSON Lines, or one JSON array of objects.
        #[arg(long, value_name = "FILE", conflicts_with = "rows")]
        file: Option<PathBuf>,
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
    /// Write every table to one JSON document (FILE `-`: standard output).
    #[command(after_help = "Example:\n  tabula export data/university backup.json")]
    Export { dir: PathBuf, file: PathBuf },
    /// Read a JSON document written by `export`: everything, or nothing (FILE `-`: standard
    /// input).
    #[command(
        after_help = "Example:\n  tabula import data/copy backup.json\n  tabula export data/university - | tabula import data/copy -"
    )]
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

impl Command {
    /// The database directory the command works on.
    fn dir(&self) -> &Path {
        match self {
            Command::Demo { dir }
            | Command::Tables { dir }
            | Command::Sql { dir, .. }
            | Command::Dump { dir, .. }
            | Command::Schema { dir, .. }
            | Command::Query { dir, .. }
            | Command::Insert { dir, .. }
            | Command::Update { dir, .. }
            | Command::Delete { dir, .. }
            | Command::Stats { dir }
            | Command::Checkpoint { dir }
            | Command::Export { dir, .. }
            | Command::Import { dir, .. }
            | Command::Verify { dir }
            | Command::Repair { dir, .. }
            | Command::Wal { dir } => dir,
        }
    }
}

/// For an error naming a table that does not exist: the table whose name differs from it
/// only in case, among those `dir` has a schema file for (no open needed), as "; did you
/// mean …?" (names are case-sensitive, as SQL's here).
fn table_hint(e: &anyhow::Error, dir: &Path) -> Option<String> {
    let missing = e
        .chain()
        .find_map(|c| match c.downcast_ref::<tabula::Error>() {
            Some(tabula::Error::UnknownTable { table }) => Some(table.clone()),
            _ => None,
        })?;
    let names = std::fs::read_dir(dir.join("schema"))
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            Some(name.to_str()?.strip_suffix(".schema.json")?.to_owned())
        });
    describe::named_like(&missing, names).map(|n| format!("; did you mean {n}?"))
}

/// Opens the database for a command that writes: takes the directory's lock (a process
/// that has it open makes this `Error::Locked`, which says so).
fn open(dir: &Path) -> anyhow::Result<Database> {
    must_be_database(dir)?;
    let db = Database::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    warn_recovered(&db);
    Ok(db)
}

/// Opens the database for a command that only reads: no lock, nothing written, so it works
/// on a database another process has open and on a directory this user may only read.
fn open_read_only(dir: &Path) -> anyhow::Result<Database> {
    let db = while_created(dir, || {
        must_be_database(dir)?;
        Database::open_read_only(dir)
            .with_context(|| format!("opening {} read-only", dir.display()))
    })?;
    warn_recovered(&db);
    Ok(db)
}

/// How long a read waits for another process to finish creating the database.
const CREATION_WAIT: Duration = Duration::from_secs(2);

/// `read()`, tried again while it fails and another process holds the directory's lock
/// with no log there yet: that process is creating the database (its first files appear
/// one after another), and a moment later it is whole. Without the wait, a reader started
/// beside the creator (two `tabula sql NEW …` at once) reported it as no database.
fn while_created<T>(dir: &Path, mut read: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let start = std::time::Instant::now();
    // The entries a creation makes last, read before each try: one that appeared while
    // the read failed means it read a database still being made.
    let made = || ["wal/transaction.log", "manifest.json"].map(|f| dir.join(f).exists());
    loop {
        let before = made();
        match read() {
            Err(_)
                if start.elapsed() < CREATION_WAIT && (being_created(dir) || made() != before) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

/// Whether `dir` looks like a database another process is creating: no log yet, and its
/// lock held, or nothing in it yet but the first entries a creation makes (the lock file
/// is made before it is locked).
fn being_created(dir: &Path) -> bool {
    if dir.join("wal").join("transaction.log").exists() {
        return false;
    }
    let lock_path = dir.join("LOCK");
    // Only a regular file: opening a pipe in its place would wait for a writer to it.
    if lock_path.metadata().is_ok_and(|m| m.is_file()) {
        if let Ok(lock) = std::fs::File::open(&lock_path) {
            // Taken and released at once when free.
            if matches!(
                lock.try_lock_shared(),
                Err(std::fs::TryLockError::WouldBlock)
            ) {
                return true;
            }
        }
    }
    // The lock file is made first: an empty directory is no database being made.
    let first = ["LOCK", "wal", "schema", "data"];
    lock_path.exists()
        && std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().all(|e| {
                let empty = std::fs::read_dir(e.path()).map_or(true, |mut d| d.next().is_none());
                first.iter().any(|f| e.file_name() == *f) && empty
            })
        })
}

/// `stats()` with exact row counts: a table not yet loaded is counted from its checkpoint,
/// so the ones with log records since (a live database's, say) are loaded first.
fn exact_stats(db: &Database) -> anyhow::Result<tabula::Stats> {
    for t in db.stats()?.tables {
        // A damaged snapshot: its load fails with the error naming it, rather than its
        // manifest's count shown as the table's.
        if !t.loaded && (t.pending_records > 0 || t.damaged.is_some()) {
            db.dyn_table(&t.name)?;
        }
    }
    Ok(db.stats()?)
}

fn must_be_database(dir: &Path) -> anyhow::Result<()> {
    if dir.is_file() {
        bail!(
            "{} is a file, not a tabula database directory",
            dir.display()
        );
    }
    // Any of a database's own entries: one with `wal/` removed by hand is still a database,
    // whose open then says what is missing.
    let entries = ["wal", "schema", "data", "manifest.json"];
    if !entries.iter().any(|e| dir.join(e).exists()) {
        bail!(
            "no tabula database at {} (`tabula sql DIR` creates one in a new or empty \
             directory; `tabula demo DIR` one with sample data)",
            dir.display()
        );
    }
    Ok(())
}

/// Tells, once per open, what the open's recovery dropped (an unfinished log tail, say).
fn warn_recovered(db: &Database) {
    /// More than this many entries are counted, not listed: `verify` lists them all.
    const SHOWN: usize = 10;
    let report = db.recovery_report();
    if report.len() > SHOWN {
        output::err_line(format_args!(
            "tabula: warning: {} more damaged log line(s) than the {SHOWN} below; `tabula verify` \
             lists them all",
            report.len() - SHOWN
        ));
    }
    for d in report.into_iter().take(SHOWN) {
        if db.is_read_only() {
            output::err_line(format_args!(
                "tabula: warning: left out damaged {}:{}: {} (read-only: nothing was moved; \
                 the next command that writes sets it aside)",
                d.file.display(),
                d.line,
                d.reason
            ));
            continue;
        }
        let kept = d
            .kept_in
            .as_ref()
            .map(|k| format!(" (its bytes are kept in {})", k.display()))
            .unwrap_or_default();
        output::err_line(format_args!(
            "tabula: warning: recovered by dropping {}:{}: {}{kept}",
            d.file.display(),
            d.line,
            d.reason
        ));
    }
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

/// One row to insert, parsed, with where it came from (`argument 2`, `rows.jsonl line 7`).
struct InputRow {
    place: String,
    row: Row,
}

/// A JSON object's members in the order written, each value's text as written, and the
/// first key written twice (JSON leaves a repeated key's meaning open; serde_json and most
/// readers keep the last, which would drop a value without a word).
struct Members {
    pairs: Vec<(String, Box<serde_json::value::RawValue>)>,
    repeated: Option<String>,
}

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Members, A::Error> {
                let mut out = Members {
                    pairs: Vec::new(),
                    repeated: None,
                };
                let mut seen = std::collections::HashSet::new();
                while let Some(k) = m.next_key::<String>()? {
                    let v = m.next_value()?;
                    if !seen.insert(k.clone()) {
                        out.repeated.get_or_insert(k);
                        continue;
                    }
                    out.pairs.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(Object)
    }
}

/// A JSON object as a row; each value read by `Value::parse_json` (exact integers). Errors
/// name the place and the column, never repeat the whole input.
fn parse_row(place: &str, table: &str, text: &str) -> anyhow::Result<InputRow> {
    let members: Members = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) if e.is_data() => bail!("{place}: expected a JSON object with a row of {table}"),
        Err(e) => bail!("{place}: not JSON: {e}"),
    };
    if let Some(k) = members.repeated {
        bail!("{place}: {table}.{k} is given twice");
    }
    let mut pairs = Vec::with_capacity(members.pairs.len());
    for (k, raw) in members.pairs {
        let v = Value::parse_json(raw.get())
            .with_context(|| format!("{place}: {table}.{k}: value {} cannot be read", raw.get()))?;
        pairs.push((k, v));
    }
    Ok(InputRow {
        place: place.to_owned(),
        row: Row::from_pairs(pairs),
    })
}

/// `export DIR -`: the document written to a temporary file, then copied to standard
/// output as it is, whatever that is (a pipe, or a file opened for appending, which the
/// library's write-then-rename of `/dev/stdout` would replace).
fn export_to_stdout(db: &Database) -> anyhow::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp =
        std::env::temp_dir().join(format!("tabula-export-{}-{nanos}.json", std::process::id()));
    let copied = (|| -> anyhow::Result<()> {
        db.export_json(&temp)?;
        let mut doc =
            std::fs::File::open(&temp).with_context(|| format!("reading {}", temp.display()))?;
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut doc, &mut out).context("writing to standard output")?;
        std::io::Write::flush(&mut out).context("writing to standard output")?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&temp);
    copied
}

/// Removes what a failed command created in a database directory (best effort: the
/// command's error is what the user needs to see), the lock file last: removed first,
/// another opener would make a new one, find the directory locked and leave it behind.
fn empty_out(dir: &Path) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort_by_key(|p| p.file_name().is_some_and(|n| n == "LOCK"));
    for path in entries {
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Runs `clean`, which removes the database `db` a command made, while `db` still holds
/// the directory's lock on Unix, so that no other command can open the database between
/// the look and the removal (one that tries finds it locked); elsewhere open files cannot
/// be removed, so once it is closed.
fn clean_while_held(db: Database, clean: impl FnOnce()) {
    if cfg!(unix) {
        clean();
        drop(db);
    } else {
        drop(db);
        clean();
    }
}

/// Rows from a file or stdin: a JSON array of objects, or JSON Lines (one object a line).
fn parse_rows(name: &str, table: &str, text: &str) -> anyhow::Result<Vec<InputRow>> {
    if text.trim_start().starts_with('[') {
        let items: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(text).with_context(|| format!("{name}: not a JSON array"))?;
        return items
            .iter()
            .enumerate()
            .map(|(i, raw)| parse_row(&format!("{name} element {}", i + 1), table, raw.get()))
            .collect();
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_row(&format!("{name} line {}", i + 1), table, l))
        .collect()
}

/// `value` for column `column` of `schema`, read as the output formats and `export` write
/// it: in a float column the strings `"NaN"`, `"inf"` and `"-inf"` are those floats (JSON
/// has no spelling for them), and in a json column a number or a boolean is that JSON text
/// (an object or an array is read as its text already). So `query --format jsonl` output
/// inserts back as it was. Anything else is the value as given.
fn as_written(schema: &tabula::Schema, column: &str, value: Value) -> Value {
    use tabula::ColumnType;
    let Ok(i) = schema.column_index(column) else {
        return value;
    };
    match (schema.columns[i].ty, value) {
        (ColumnType::F32 | ColumnType::F64, Value::Text(t)) => match t.as_str() {
            "NaN" => Value::Float(f64::NAN),
            "inf" => Value::Float(f64::INFINITY),
            "-inf" => Value::Float(f64::NEG_INFINITY),
            _ => Value::Text(t),
        },
        (ColumnType::Json, Value::Int(n)) => Value::Text(n.to_string()),
        (ColumnType::Json, Value::Bool(b)) => Value::Text(b.to_string()),
        (ColumnType::Json, Value::Float(f)) => match serde_json::Number::from_f64(f) {
            Some(n) => Value::Text(n.to_string()),
            None => Value::Float(f),
        },
        (_, v) => v,
    }
}

/// `row` as `insert` takes it: [`as_written`] for every column, and a null for a key the
/// table assigns left out, so that it is assigned (as SQL's `INSERT` and Python's `insert`
/// take `NULL`/`None` there).
fn row_to_insert(schema: &tabula::Schema, row: &Row) -> Row {
    let assigned = schema
        .auto_increment()
        .then(|| schema.primary_key_column().name.as_str());
    Row::from_pairs(
        row.iter()
            .filter(|&(name, v)| !(v.is_null() && Some(name) == assigned))
            .map(|(name, v)| (name.to_owned(), as_written(schema, name, v.clone()))),
    )
}

fn parse_set(s: &str) -> anyhow::Result<(String, Value)> {
    let (col, val) = s
        .split_once('=')
        .with_context(|| format!("--set {s:?}: expected column=value"))?;
    let col = col.trim();
    // JSON when it is JSON (exact integers); text only when it is not.
    let value = if serde_json::from_str::<serde::de::IgnoredAny>(val).is_ok() {
        Value::parse_json(val).with_context(|| {
            if val.trim().parse::<f64>().is_ok_and(f64::is_infinite) {
                format!(
                    "--set {col}: {val} is beyond the range of a 64-bit float (inf and -inf \
                     are the infinities)"
                )
            } else {
                format!("--set {col}: cannot use {val}; quote it ('\"...\"') to store it as text")
            }
        })?
    } else {
        Value::Text(val.trim_matches('\'').to_owned())
    };
    Ok((col.to_owned(), value))
}

/// Writes one line to standard output, returning the write error from the enclosing function.
macro_rules! outln {
    ($($t:tt)*) => {
        output::line(format_args!($($t)*)).context("writing to standard output")?
    };
}

/// [`outln`] after a committed write: a failure is exit 3.
macro_rules! committed_outln {
    ($($t:tt)*) => {
        output::line(format_args!($($t)*))
            .context("writing to standard output")
            .context(Committed::Output)?
    };
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let format = cli.format;
    let json = format != Format::Table;
    let guard = if cli.csv_raw {
        output::CsvGuard::Raw
    } else {
        output::CsvGuard::Formulas
    };
    match cli.command {
        Command::Demo { dir } => {
            let (s, c, r) = demo::create(&dir)?;
            if json {
                // Paths as text: `json!` of a path that is not UTF-8 would panic.
                let v = serde_json::json!({"path": dir.to_string_lossy(), "students": s, "courses": c, "registrations": r});
                committed_outln!("{v}");
                return Ok(ExitCode::SUCCESS);
            }
            committed_outln!(
                "Created {} with {s} students, {c} courses and {r} registrations.",
                dir.display()
            );
            committed_outln!("\nTry next:");
            let d = dir.display();
            committed_outln!("  tabula tables {d}");
            committed_outln!("  tabula query {d} students --where \"gpa > 3.5\" --order-by -gpa");
            committed_outln!(
                "  tabula query {d} registrations --where \"course_id = 1\" --explain"
            );
            committed_outln!("  tabula stats {d}");
            committed_outln!("  tabula verify {d}");
            committed_outln!("  cat {d}/wal/transaction.log | cut -c1-120");
        }
        Command::Tables { dir } => {
            let db = open_read_only(&dir)?;
            describe::print_tables(&exact_stats(&db)?, format)?;
        }
        Command::Sql {
            dir,
            sql,
            interactive,
        } => sql_cmd::run(&dir, sql, interactive, format, guard)?,
        Command::Dump {
            dir,
            dialect,
            output,
        } => {
            // A dump is SQL: a format given for it would be ignored without a word.
            if format != Format::Table {
                bail!(
                    "dump writes a SQL script: --format does not apply (--dialect sqlite or \
                     postgres chooses the SQL)"
                );
            }
            dump::run(&dir, dialect, output.as_ref())?
        }
        Command::Schema { dir, table } => {
            let db = open_read_only(&dir)?;
            describe::print_schema(&db, &table, format)?;
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
            let db = open_read_only(&dir)?;
            let t = db.dyn_table(&table)?;
            // Built twice by the table format (measure, then print): a read-only database
            // is one fixed point in time, so both passes see the same rows.
            let query = || {
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
                q
            };
            if explain {
                outln!("{}", query().explain()?);
                return Ok(ExitCode::SUCCESS);
            }
            let names: Vec<String> = match &columns {
                Some(c) => c.split(',').map(|s| s.trim().to_owned()).collect(),
                None => t.schema().columns.iter().map(|c| c.name.clone()).collect(),
            };
            for n in &names {
                t.schema().column_index(n)?;
            }
            // A query that cannot run (a value its column cannot hold) fails before the
            // output starts: no half-written JSON array or lone csv header.
            query().explain()?;
            // The query reads on once the output has failed (it prints nothing more).
            let each: output::EachRow<'_> = &|f| {
                query().for_each(|r| {
                    f(r);
                })
            };
            output::print_rows(&names, each, format, guard)?;
        }
        Command::Insert {
            dir,
            table,
            rows,
            file,
        } => {
            let from_stdin = file.as_deref() == Some(Path::new("-"))
                || rows == ["-"]
                || (rows.is_empty() && file.is_none());
            let parsed = if let Some(f) = file.as_ref().filter(|_| !from_stdin) {
                let text = text_input::read_file(f)?;
                parse_rows(&f.display().to_string(), &table, &text)?
            } else if from_stdin {
                if std::io::stdin().is_terminal() {
                    bail!("no rows: give JSON objects as arguments, --file FILE, or pipe them on stdin");
                }
                let text = text_input::read_text(std::io::stdin(), "stdin")?;
                parse_rows("stdin", &table, &text)?
            } else {
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| parse_row(&format!("argument {}", i + 1), &table, r))
                    .collect::<anyhow::Result<Vec<_>>>()?
            };
            let db = open(&dir)?;
            let schema = db.dyn_table(&table)?.schema().clone();
            let mut failed_at = None;
            let keys = db.transaction(|tx| {
                let t = tx.dyn_table(&table)?;
                let mut keys = Vec::with_capacity(parsed.len());
                for r in &parsed {
                    failed_at = Some(r.place.as_str());
                    keys.push(t.insert(row_to_insert(&schema, &r.row))?);
                }
                failed_at = None;
                Ok(keys)
            });
            let keys = match (keys, failed_at) {
                (Ok(k), _) => k,
                (Err(e), Some(place)) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("{place}: nothing was inserted"))
                    )
                }
                (Err(e), None) => {
                    // Foreign keys are checked as the transaction commits: the first row
                    // giving the missing key is the one to name.
                    let place = match &e {
                        tabula::Error::ForeignKey { column, value, .. } => parsed
                            .iter()
                            .find(|r| row_to_insert(&schema, &r.row).get(column) == Some(value)),
                        _ => None,
                    };
                    return Err(match place {
                        Some(r) => anyhow::Error::new(e)
                            .context(format!("{}: nothing was inserted", r.place)),
                        None => e.into(),
                    });
                }
            };
            close_after_commit(&db)?;
            if json {
                committed_outln!(
                    "{}",
                    serde_json::json!({"table": table, "inserted": keys.len(), "keys": keys})
                );
            } else if keys.is_empty() {
                committed_outln!("inserted 0 row(s) into {table}");
            } else {
                committed_outln!(
                    "inserted {} row(s) into {table}: {}",
                    keys.len(),
                    keys_in_words(&keys)
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
                .map(|s| {
                    let (c, v) = parse_set(s)?;
                    let v = as_written(t.schema(), &c, v);
                    Ok((c, v))
                })
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
            close_after_commit(&db)?;
            if json {
                committed_outln!("{}", serde_json::json!({"table": table, "updated": n}));
            } else {
                committed_outln!("updated {n} row(s) of {table}");
            }
        }
        Command::Delete { dir, table, filter } => {
            let db = open(&dir)?;
            let t = db.dyn_table(&table)?;
            let cond = Condition::parse(t.schema(), &filter)?;
            // Cascading foreign keys delete from other tables too: count every table before
            // and after (the CLI holds the database exclusively, so only this delete runs).
            let names = db.table_names()?;
            let count_all = || -> anyhow::Result<Vec<usize>> {
                names
                    .iter()
                    .map(|n| Ok(db.dyn_table(n)?.count()?))
                    .collect()
            };
            let before = count_all()?;
            let n = t.delete(|r| cond.matches(r.values()))?;
            let after = count_all()?;
            // The table itself among them: a key referencing its own table (a tree)
            // cascades into it.
            let cascaded: Vec<(&String, usize)> = names
                .iter()
                .zip(before.iter().zip(&after))
                .map(|(name, (b, a))| {
                    let direct = if *name == table { n } else { 0 };
                    (name, b.saturating_sub(*a).saturating_sub(direct))
                })
                .filter(|(_, d)| *d > 0)
                .collect();
            close_after_commit(&db)?;
            if json {
                let by_table: serde_json::Map<String, serde_json::Value> = cascaded
                    .iter()
                    .map(|(name, d)| ((*name).clone(), serde_json::json!(d)))
                    .collect();
                committed_outln!(
                    "{}",
                    serde_json::json!({"table": table, "deleted": n, "cascaded": by_table})
                );
            } else {
                let mut msg = format!("deleted {n} row(s) from {table}");
                if !cascaded.is_empty() {
                    let parts: Vec<String> = cascaded
                        .iter()
                        .map(|(name, d)| format!("{d} row(s) from {name}"))
                        .collect();
                    msg.push_str(&format!(", and by cascade {}", parts.join(", ")));
                }
                committed_outln!("{msg}");
            }
        }
        Command::Stats { dir } => {
            let db = open_read_only(&dir)?;
            let stats = exact_stats(&db)?;
            if format == Format::Table {
                outln!("{stats}");
            } else {
                // JSON Lines: the whole report on one line; CSV: a line per table.
                let whole = serde_json::to_value(&stats)?;
                let printed = match format {
                    Format::Csv => output::list(format, &whole["tables"], describe::TABLE_KEYS),
                    _ => output::records(format, &whole, std::slice::from_ref(&whole), &[]),
                };
                printed.context("writing to standard output")?;
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
                committed_outln!("{v}");
            } else {
                committed_outln!(
                    "checkpoint at LSN {}; {} archived segment(s)",
                    s.checkpoint_lsn,
                    s.archived.len()
                );
            }
        }
        Command::Export { dir, file } => {
            let db = open_read_only(&dir)?;
            let pb = spinner("exporting");
            let dash = file.as_os_str() == "-";
            if dash {
                export_to_stdout(&db)?;
            } else {
                db.export_json(&file)?;
            }
            finish(pb);
            let n = db.table_names()?.len();
            // The document itself may be on standard output (`-`, `/dev/stdout`): the
            // report goes to standard error then, so it never joins the document.
            let to_stdout = dash || file.metadata().is_ok_and(|m| !m.is_file() && !m.is_dir());
            let report = if json {
                serde_json::json!({"file": file.to_string_lossy(), "tables": n}).to_string()
            } else {
                format!("exported {n} table(s) to {}", file.display())
            };
            if to_stdout {
                output::err_line(format_args!("{report}"));
            } else {
                committed_outln!("{report}");
            }
        }
        Command::Import { dir, file } => {
            let dash = cfg!(unix) && file.as_os_str() == "-";
            // What messages call the input: the user typed `-`, not `/dev/stdin`.
            let shown = if dash {
                "standard input".to_owned()
            } else {
                file.display().to_string()
            };
            let file = if dash {
                PathBuf::from("/dev/stdin")
            } else {
                file
            };
            // Read the file's metadata first, so a missing file creates no database.
            std::fs::metadata(&file).with_context(|| format!("reading {shown}"))?;
            let created = !dir.exists();
            let was_empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
            let db = if dir.join("wal").is_dir() {
                open(&dir)?
            } else {
                // Import creates the database in a missing or empty directory.
                if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
                    bail!(
                        "{} is not empty and holds no tabula database; import into a new directory",
                        dir.display()
                    );
                }
                Database::open(&dir).with_context(|| format!("creating {}", dir.display()))?
            };
            let pb = spinner("importing");
            let n = db.import_json(&file);
            finish(pb);
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    // Everything or nothing: a database this import created goes too, and
                    // a directory that was empty is left empty. Only while it holds no
                    // table: another command may have created the database between the
                    // look at the directory and the open (two imports at once), and its
                    // tables are its own.
                    let ours = db.table_names().is_ok_and(|t| t.is_empty());
                    clean_while_held(db, || {
                        if (created || was_empty) && ours {
                            empty_out(&dir);
                        }
                        if created && ours {
                            let _ = std::fs::remove_dir(&dir);
                        }
                    });
                    return Err(match e {
                        // The document is at fault, not the database: no repair hint (the
                        // message stops being a `tabula::Error`, which is what asks for it).
                        e if matches!(&e, tabula::Error::Corrupt { file: at, .. } if *at == file) =>
                        {
                            let e = e.to_string();
                            let e = match dash {
                                true => e.replacen("/dev/stdin", "standard input", 1),
                                false => e,
                            };
                            anyhow!("{e}; nothing was imported")
                        }
                        // Reading the document (not the database's own files).
                        tabula::Error::Json {
                            source,
                            ref context,
                        } if dash && *context == format!("import {}", file.display()) => {
                            anyhow!("JSON error in import of standard input: {source}; nothing was imported")
                        }
                        e @ tabula::Error::Json { .. }
                            if matches!(&e, tabula::Error::Json { context, .. }
                                if *context == format!("import {}", file.display())) =>
                        {
                            anyhow::Error::from(e).context("nothing was imported")
                        }
                        tabula::Error::Io { source, ref path } if dash && *path == file => {
                            anyhow!("I/O error on standard input: {source}")
                        }
                        // A row the document or the database refuses (a key twice, a
                        // check), before anything is written: the value names the row, this
                        // names the file.
                        e @ (tabula::Error::UniqueViolation { .. }
                        | tabula::Error::NotNull { .. }
                        | tabula::Error::TypeMismatch { .. }
                        | tabula::Error::Check { .. }
                        | tabula::Error::ForeignKey { .. }
                        | tabula::Error::SchemaMismatch { .. }
                        | tabula::Error::UnknownColumn { .. }) => anyhow::Error::from(e)
                            .context(format!("importing {shown}; nothing was imported")),
                        // Anything else (the log, the disk) is the database's, as it says.
                        e => e.into(),
                    });
                }
            };
            close_after_commit(&db)?;
            let named = if dash {
                serde_json::json!("-")
            } else {
                serde_json::json!(file.to_string_lossy())
            };
            if json {
                committed_outln!("{}", serde_json::json!({"file": named, "rows": n}));
            } else {
                committed_outln!("imported {n} row(s) from {shown}");
            }
        }
        Command::Verify { dir } => {
            let problems = tabula::verify(&dir)?;
            if format == Format::Table {
                for p in &problems {
                    outln!("{p}");
                }
                // A lock file that is no file keeps repair out too (it takes the lock):
                // it goes first, by hand.
                let lock = dir.join("LOCK");
                let lock_first = problems.iter().any(|p| p.file == lock);
                let others = problems.iter().any(|p| p.file != lock);
                if problems.is_empty() {
                    outln!("{}: no problems found", dir.display());
                } else if lock_first && !others {
                    outln!(
                        "{} problem(s) found; remove {} (no command can take the database's lock while it is there)",
                        problems.len(),
                        lock.display()
                    );
                } else {
                    let first = if lock_first {
                        format!("remove {}, then ", lock.display())
                    } else {
                        String::new()
                    };
                    outln!(
                        "{} problem(s) found; {first}`tabula repair {}` backs up every file and rebuilds what can be read",
                        problems.len(),
                        dir.display()
                    );
                }
            } else {
                output::list(
                    format,
                    &serde_json::to_value(&problems)?,
                    &["file", "line", "message"],
                )
                .context("writing to standard output")?;
            }
            return Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Repair { dir, backup_dir } => return repair(&dir, backup_dir, json),
        Command::Wal { dir } => {
            let records = while_created(&dir, || {
                must_be_database(&dir)?;
                Ok(tabula::log_records(&dir)?)
            })?;
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
                let keys = &["line", "lsn", "tables", "created", "problem"];
                output::list(format, &serde_json::to_value(&records)?, keys)
                    .context("writing to standard output")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn repair(dir: &Path, backup_dir: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let report = tabula::repair(dir, tabula::RepairOptions { backup_dir })?;
    let text = if json {
        let mut v = serde_json::to_value(&report)?;
        v["clean"] = report.is_clean().into();
        serde_json::to_string_pretty(&v)?
    } else {
        repair_text(dir, &report).trim_end().to_owned()
    };
    // A repair that changed files (it backed them up first) is committed: a failure to
    // report it is exit 3, so that a script does not take it for one that did nothing.
    if report.backup.is_some() {
        committed_outln!("{text}");
    } else {
        outln!("{text}");
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
    let shown = as_given(dir);
    let problem = |p: &tabula::Problem| {
        let mut p = p.clone();
        p.file = shown(&p.file);
        p
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
        say(format!("  {}", problem(p)));
    }
    if let Some(b) = &r.backup {
        say(format!(
            "backed up every file to {} (checked)",
            shown(b).display()
        ));
    }
    for t in &r.tables {
        let before = t
            .rows_before
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
        say(format!(
            "table {}: rows at the last checkpoint: {before}; recovered: {}; dropped: {}; \
             missing from its snapshot (no bytes left there): {}{}",
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
        if t.snapshot_unverified {
            say(
                "  its snapshot did not match the manifest's checksum: the rows read from it \
                 are kept as found, unverified (they may differ from what was committed; the \
                 file as it was is in the backup)"
                    .to_owned(),
            );
        }
        for d in &t.dropped {
            say(format!(
                "  dropped {}:{}: {} (bytes kept there)",
                shown(&d.file).display(),
                d.line,
                d.reason
            ));
        }
    }
    for d in &r.log_dropped {
        say(format!(
            "dropped log line {}:{}: {}",
            shown(&d.file).display(),
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
    if r.is_clean() && r.tables.iter().any(|t| t.snapshot_unverified) {
        say(format!(
            "{} verifies clean: its files agree again, with the unverified rows above in them",
            dir.display()
        ));
    } else if r.is_clean() {
        say(format!("{} verifies clean", dir.display()));
    } else {
        for p in &r.remaining {
            say(format!("still wrong: {}", problem(p)));
        }
    }
    out
}

/// Maps a path in the database directory `dir` as resolved (repair reports absolute paths)
/// to the same path in `dir` as given, as `verify` names files; one in a directory beside it
/// named after it (the backup, `<dir>.backup-…`) to the same beside `dir` as given. Others
/// stay whole.
fn as_given(dir: &Path) -> impl Fn(&Path) -> PathBuf + '_ {
    let root = std::fs::canonicalize(dir).ok();
    // The backup is named after the directory resolved: beside `dir` as given only where
    // that is the same place under the same name (not through a symbolic link).
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = std::fs::canonicalize(parent.unwrap_or(Path::new("."))).ok();
    let beside_as_given = root
        .as_ref()
        .is_some_and(|r| r.file_name() == dir.file_name() && r.parent() == parent.as_deref());
    // `base/rest`, without the trailing separator `join` leaves for an empty `rest`.
    let under = |base: PathBuf, rest: &Path| {
        if rest.as_os_str().is_empty() {
            base
        } else {
            base.join(rest)
        }
    };
    move |p: &Path| {
        let Some(root) = &root else {
            return p.to_path_buf();
        };
        if let Ok(rest) = p.strip_prefix(root) {
            return under(dir.to_path_buf(), rest);
        }
        let name = root.file_name().and_then(|n| n.to_str());
        let given = dir.file_name().and_then(|n| n.to_str());
        let (Some(name), Some(given), true) = (name, given, beside_as_given) else {
            return p.to_path_buf();
        };
        // The directory beside the root whose name starts with the root's: the path's
        // ancestor there, and what follows it.
        let beside = p.ancestors().find_map(|a| {
            let file = a.file_name()?.to_str()?;
            let suffix = file
                .strip_prefix(name)
                .filter(|_| a.parent() == root.parent())?;
            let rest = p.strip_prefix(a).ok()?;
            Some(under(dir.with_file_name(format!("{given}{suffix}")), rest))
        });
        beside.unwrap_or_else(|| p.to_path_buf())
    }
}

/// The error chain joined by `: `, skipping a cause whose text the message already holds
/// (many errors repeat their source's text in their own).
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        // Names and values from the input are quoted in errors as given: their control
        // characters escaped keep the message on one line, and a terminal's escapes inert.
        let text = output::escape(&cause.to_string());
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    shortened(msg)
}

/// The longest error message printed whole: one quoting a value of megabytes (a text given
/// for an integer column) keeps its start and end, the middle said to be left out.
const LONGEST_MESSAGE: usize = 4096;

fn shortened(msg: String) -> String {
    if msg.len() <= LONGEST_MESSAGE {
        return msg;
    }
    let half = LONGEST_MESSAGE / 2;
    let head_end = (0..=half)
        .rev()
        .find(|&i| msg.is_char_boundary(i))
        .unwrap_or(0);
    let tail_start = (msg.len() - half..msg.len())
        .find(|&i| msg.is_char_boundary(i))
        .unwrap_or(msg.len());
    format!(
        "{} … ({} bytes left out) … {}",
        &msg[..head_end],
        tail_start - head_end,
        &msg[tail_start..]
    )
}

/// A write command committed, then something after it failed: exit 3, not 2 (which says
/// nothing changed), so that a script does not run the write again.
#[derive(Debug)]
pub(crate) enum Committed {
    /// Closing the database (its checkpoint) failed.
    CheckpointAtClose,
    /// Writing the command's output failed (a full disk, say).
    Output,
    /// A statement of a `sql` text failed after earlier ones committed.
    LaterStatement,
}

impl std::fmt::Display for Committed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Committed::CheckpointAtClose => {
                "the change is committed and safe in the write-ahead log, \
                 but the checkpoint at close failed (the next open recovers from the log)"
            }
            Committed::Output => "the change is committed, but its output could not be written",
            Committed::LaterStatement => {
                "the statements before the failing one are committed (as in sqlite3); \
                 do not run them again"
            }
        })
    }
}

impl std::error::Error for Committed {}

/// Closes the database after a committed write; a failure is exit 3, not 2.
fn close_after_commit(db: &Database) -> anyhow::Result<()> {
    db.close()
        .map_err(|e| anyhow::Error::new(e).context(Committed::CheckpointAtClose))
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
    let dir = cli.command.dir().to_path_buf();
    // SQL compiles and evaluates expressions recursively: a deep one (up to the 200 levels
    // the library allows) needs more stack than a main thread may have in a debug build.
    let outcome = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || run(cli))
        .map_err(anyhow::Error::from)
        .and_then(|worker| {
            worker
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the command panicked")))
        });
    match outcome {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error, as in sqlite3 and rg.
        Err(e) if output::closed_by_reader(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let hint = table_hint(&e, &dir).unwrap_or_default();
            output::err_line(format_args!("tabula: {}{hint}", message(&e)));
            let damaged = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<tabula::Error>(),
                    Some(tabula::Error::Corrupt { .. })
                )
            });
            if damaged {
                output::err_line(format_args!(
                    "tabula: `tabula verify DIR` lists every problem, and `tabula repair DIR` \
                     backs up every file, then rebuilds what can be read (see docs/RECOVERY.md)"
                ));
            }
            match e.downcast_ref::<Committed>() {
                Some(_) => ExitCode::from(3),
                None => ExitCode::from(2),
            }
        }
    }
}

/// The keys an insert made, for people: all of them when few, a range when they follow one
/// another, else the first ones and how many more (`--format json` lists every one).
fn keys_in_words(keys: &[tabula::Value]) -> String {
    const SHOWN: usize = 10;
    let ints: Option<Vec<i64>> = keys
        .iter()
        .map(|k| match k {
            tabula::Value::Int(i) => Some(*i),
            _ => None,
        })
        .collect();
    let list = |ks: &[tabula::Value]| {
        ks.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ints {
        _ if keys.len() <= SHOWN => format!("keys {}", list(keys)),
        Some(k) if k.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])) => {
            format!("keys {} to {}", k[0], k[k.len() - 1])
        }
        _ => format!(
            "keys {}, and {} more (--format json lists them all)",
            list(&keys[..SHOWN]),
            keys.len() - SHOWN
        ),
    }
}
