//! `tabula`: inspect, query, change, verify and repair a tabula database directory without
//! writing Rust. Works on any directory through the dynamic, schema-driven API.
//!
//! This file holds the command line (`Cli`, `Command`), the dispatch and the error report;
//! each command's work is in the module named for it: `rows` (query, insert, update,
//! delete), `transfer` (export, import), `maintenance` (checkpoint, verify, repair, wal),
//! `describe` (tables, schema, stats), `sql_cmd` and `shell` (sql), `dump`, `demo`;
//! `database` opens a database for a command, `output` prints.
//!
//! Exit codes: see `AFTER_HELP`.
#![forbid(unsafe_code)]

/// Writes one line to standard output, returning the write error from the enclosing function.
macro_rules! outln {
    ($($t:tt)*) => {
        ::anyhow::Context::context(
            $crate::output::line(format_args!($($t)*)),
            "writing to standard output",
        )?
    };
}

/// [`outln`] after a committed write: a failure is exit 3.
macro_rules! committed_outln {
    ($($t:tt)*) => {
        ::anyhow::Context::context(
            ::anyhow::Context::context(
                $crate::output::line(format_args!($($t)*)),
                "writing to standard output",
            ),
            $crate::database::Committed::Output,
        )?
    };
}

mod database;
mod demo;
mod describe;
mod dump;
mod maintenance;
mod output;
mod rows;
mod shell;
mod sql_cmd;
mod text_input;
mod transfer;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use clap::{Parser, Subcommand};

use database::{open_read_only, stats_of_what_loads, Committed};
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
with =, +, -, @, tab or CR get a leading ' so spreadsheets do not run them as formulas,
and so do those starting with ', so that removing one leading ' undoes it (--csv-raw turns
this off); numbers are written as they are.

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
    Query(rows::QueryArgs),
    /// Insert rows given as JSON objects, all in one transaction.
    #[command(
        after_help = "Examples:\n  tabula insert data/university students '{\"name\":\"Zoe\",\"email\":\"zoe@university.edu\",\"year\":2025}'\n  tabula insert data/university students --file new.jsonl\n  cat new.json | tabula insert data/university students -"
    )]
    Insert(rows::InsertArgs),
    /// Change columns of the rows matching a condition.
    #[command(
        after_help = "Example:\n  tabula update data/university students --where \"year = 2025\" --set advisor='Dr. Knuth'"
    )]
    Update(rows::UpdateArgs),
    /// Delete the rows matching a condition.
    #[command(
        after_help = "Example:\n  tabula delete data/university students --where \"gpa < 2.0\""
    )]
    Delete(rows::DeleteArgs),
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
            | Command::Stats { dir }
            | Command::Checkpoint { dir }
            | Command::Export { dir, .. }
            | Command::Import { dir, .. }
            | Command::Verify { dir }
            | Command::Repair { dir, .. }
            | Command::Wal { dir } => dir,
            Command::Query(a) => &a.dir,
            Command::Insert(a) => &a.dir,
            Command::Update(a) => &a.dir,
            Command::Delete(a) => &a.dir,
        }
    }
}

/// Runs the command; the exit code says how it ended (see `AFTER_HELP`).
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let format = cli.format;
    let json = format != Format::Table;
    let guard = if cli.csv_raw {
        output::CsvGuard::Raw
    } else {
        output::CsvGuard::Formulas
    };
    match cli.command {
        Command::Demo { dir } => demo::run(&dir, json)?,
        Command::Tables { dir } => {
            let db = open_read_only(&dir)?;
            let (stats, unreadable) = stats_of_what_loads(&db)?;
            describe::print_tables(&stats, format)?;
            return Ok(reported(&unreadable));
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
        Command::Query(args) => rows::query(args, format, guard)?,
        Command::Insert(args) => rows::insert(args, json)?,
        Command::Update(args) => rows::update(args, json)?,
        Command::Delete(args) => rows::delete(args, json)?,
        Command::Stats { dir } => {
            let db = open_read_only(&dir)?;
            let (stats, unreadable) = stats_of_what_loads(&db)?;
            describe::print_stats(&stats, format)?;
            return Ok(reported(&unreadable));
        }
        Command::Checkpoint { dir } => maintenance::checkpoint(&dir, json)?,
        Command::Export { dir, file } => transfer::export(&dir, &file, json)?,
        Command::Import { dir, file } => transfer::import(&dir, file, json)?,
        Command::Verify { dir } => return maintenance::verify(&dir, format),
        Command::Repair { dir, backup_dir } => return maintenance::repair(&dir, backup_dir, json),
        Command::Wal { dir } => maintenance::wal(&dir, format)?,
    }
    Ok(ExitCode::SUCCESS)
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
                output::err_line(format_args!("tabula: {RESCUE}"));
            }
            match e.downcast_ref::<Committed>() {
                Some(_) => ExitCode::from(3),
                None => ExitCode::from(2),
            }
        }
    }
}

/// After `tables` or `stats` printed every table: the errors of those that would not load,
/// on standard error with where to go next, and exit 1 if there were any (as `verify` exits
/// when it found problems).
fn reported(unreadable: &[tabula::Error]) -> ExitCode {
    if unreadable.is_empty() {
        return ExitCode::SUCCESS;
    }
    for e in unreadable {
        output::err_line(format_args!("tabula: {}", output::escape(&e.to_string())));
    }
    output::err_line(format_args!("tabula: {RESCUE}"));
    ExitCode::from(1)
}

/// Where to go after an error that found a damaged file.
pub(crate) const RESCUE: &str =
    "`tabula verify DIR` lists every problem, and `tabula repair DIR` backs up \
                      every file, then rebuilds what can be read (see docs/RECOVERY.md)";

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
