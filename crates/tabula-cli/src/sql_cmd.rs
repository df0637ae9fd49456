//! `tabula sql DIR [SQL]`: run the SQL given as an argument or piped on standard input,
//! printing each query's rows as it completes (as `sqlite3` does) and, when the last
//! statement returns no rows, what it changed; with neither (standard input a terminal, or
//! `--interactive`), the shell of [`crate::shell`].

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use tabula::{Database, Row, SqlResult};

use crate::output::{self, CsvGuard, Format};
use crate::shell::Kind;

/// Runs the `sql` command.
pub fn run(
    dir: &Path,
    sql: Option<String>,
    interactive: bool,
    format: Format,
    guard: CsvGuard,
) -> anyhow::Result<()> {
    let text = match sql {
        Some(t) => t,
        None if interactive || std::io::stdin().is_terminal() => {
            return crate::shell::run(dir, format, guard);
        }
        None => crate::text_input::read_text(std::io::stdin(), "stdin")?,
    };
    // A byte-order mark some editors write is not SQL.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "{} is not a directory: a tabula database is a directory",
            dir.display()
        );
    }
    let mut printer = Printer {
        format,
        guard,
        gone: false,
        queried_last: false,
    };
    // A directory that is not there yet, or is empty, becomes a new database.
    let fresh = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
    let (last, wrote) = if !fresh {
        // Read-only first (no lock), its results held back: a text that writes is refused
        // before it changes anything, and runs again from its start with the lock.
        let ro = crate::database::open_read_only(dir)?;
        if let Some(last) = streamed_query(&ro, &text, &mut printer) {
            return last.and_then(|last| printer.finish(&text, &last));
        }
        let mut held = Vec::new();
        let read = ro.sql_script(&text, &[], |r| {
            held.push(r);
            Ok(())
        });
        match read {
            Err(tabula::Error::ReadOnly { .. }) => {
                drop(ro);
                let db = match crate::database::open(dir) {
                    Ok(db) => db,
                    Err(e) => {
                        // The statements before the first write ran (on the version read):
                        // their rows are printed, as before any other failing statement.
                        for r in held {
                            printer.take(r)?;
                        }
                        return Err(e);
                    }
                };
                drop(held);
                let last = run_writing(&db, &text, &mut printer)?;
                // As every writing command: the database closes with a checkpoint.
                crate::database::close_after_commit(&db)?;
                (last, true)
            }
            read => (printer.take_read(held, read, &text)?, false),
        }
    } else if let Some((held, read)) = reads_on_an_empty_database(&text) {
        // A text that only reads (or fails before its first write) creates nothing: it
        // ran on an empty database in memory, which is what the new one would have been.
        // (Creating the directory for it, then removing it, could remove a database
        // another process made there meanwhile.)
        (printer.take_read(held, read, &text)?, false)
    } else {
        let existed = dir.exists();
        // The directories above `dir` that creating it makes, innermost first.
        let made_above: Vec<&Path> = dir
            .ancestors()
            .skip(1)
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .collect();
        let db = create(dir)?;
        let fresh = fingerprint(&db);
        let ran = run_writing(&db, &text, &mut printer);
        // A database made for a text that failed before creating any table, or that (too
        // long to be tried in memory first) changed nothing, is not left behind (a
        // mistyped directory name stays a mistake, not a database); an empty directory
        // that was there is left empty (see `clean_while_held`: no other process can have
        // opened it and written there meanwhile).
        let unused = match &ran {
            Ok(_) => fresh.is_some() && fingerprint(&db) == fresh,
            Err(_) => db.table_names().is_ok_and(|t| t.is_empty()),
        };
        if unused {
            crate::database::clean_while_held(db, || {
                crate::database::empty_out(dir);
                if !existed {
                    // Only while empty: nothing another process put there is removed.
                    for made in std::iter::once(dir).chain(made_above.iter().copied()) {
                        let _ = std::fs::remove_dir(made);
                    }
                }
            });
            let last = ran?;
            (last, false)
        } else {
            let last = ran?;
            crate::database::close_after_commit(&db)?;
            (last, true)
        }
    };
    // After a write, failing to print is not "nothing changed".
    match printer.finish(&text, &last) {
        Err(e) if wrote => Err(e.context(crate::database::Committed::Output)),
        r => r,
    }
}

/// Prints each statement's result as it comes: a query's rows at once; at the end, when
/// the last statement returned no rows, its count (or "ok").
struct Printer {
    format: Format,
    guard: CsvGuard,
    /// Standard output was closed by its reader: the rest of the text runs, unprinted (a
    /// closed pipe ends every command quietly).
    gone: bool,
    /// Whether the last result taken was a query's.
    queried_last: bool,
}

impl Printer {
    /// Prints the results of a text that only read, held back as it ran (what the
    /// statements before a failing one returned, then its error): the last one's result.
    fn take_read(
        &mut self,
        held: Vec<SqlResult>,
        read: tabula::Result<SqlResult>,
        text: &str,
    ) -> anyhow::Result<SqlResult> {
        for r in held {
            self.take(r)?;
        }
        read.map_err(|e| dot_command_hint(e, text))
    }

    fn take(&mut self, r: SqlResult) -> anyhow::Result<()> {
        self.queried_last = !r.columns.is_empty();
        if self.gone || r.columns.is_empty() {
            return Ok(());
        }
        let printed = print_rows(r, self.format, self.guard);
        self.settle(printed)
    }

    /// `printed`, the outcome of printing a result, but that a reader that went away is no
    /// error: nothing more is printed.
    fn settle(&mut self, printed: anyhow::Result<()>) -> anyhow::Result<()> {
        match printed {
            Err(e) if crate::output::closed_by_reader(&e) => {
                self.gone = true;
                Ok(())
            }
            r => r,
        }
    }

    /// The last statement's line, when it returned no rows; `last` is its result.
    fn finish(&self, text: &str, last: &SqlResult) -> anyhow::Result<()> {
        if self.gone || !last.columns.is_empty() {
            return Ok(());
        }
        // A text without a statement (empty, `;`, comments) says nothing, as sqlite3.
        let Some(kind) = Kind::of_last(text) else {
            return Ok(());
        };
        // As the shell says it: a count for the statements that change rows, "ok" for the
        // others (CREATE, DROP, ALTER), whose count would be a meaningless 0. A text that
        // changed no rows and ended with a transaction after a query (`BEGIN; SELECT …;
        // COMMIT`) says nothing more than its rows, as sqlite3.
        if kind == Kind::Other && self.queried_last && last.changed == 0 {
            return Ok(());
        }
        let line = if self.format == Format::Table {
            match kind {
                Kind::Other => "ok".to_owned(),
                _ => format!("{} row(s) changed", last.changed),
            }
        } else {
            serde_json::json!({ "changed": last.changed }).to_string()
        };
        output::line(format_args!("{line}")).context("writing to standard output")
    }
}

/// `e` with a hint when it is a parse error and `text` has a line that looks like the
/// shell's dot command (`.tables`): a script holds SQL only.
fn dot_command_hint(e: tabula::Error, text: &str) -> anyhow::Error {
    let dotted = text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with('.') && l[1..].starts_with(|c: char| c.is_ascii_alphabetic())
    });
    let hint = matches!(e, tabula::Error::Sql { .. }) && dotted;
    let e = anyhow::Error::new(e);
    if hint {
        e.context(
            "dot commands (.tables, .schema, .mode, ...) work in the interactive shell \
             (`tabula sql DIR --interactive`); SQL given as an argument or on standard input \
             is SQL only",
        )
    } else {
        e
    }
}

/// The longest text tried on an empty database first: a longer one (a dump, which writes
/// from its first statements) goes to the new database at once, so that it is not
/// read through twice (a long text is read through whole before its first statement runs).
const PROBED: usize = 4096;

/// `text` run on an empty database in memory, as far as its first statement that writes:
/// `None` when it has one (it must run on the new database itself), or is longer than
/// [`PROBED`]; else the results of its statements and how the text ended (the last one's
/// result, or the error that stopped it before any write).
fn reads_on_an_empty_database(text: &str) -> Option<(Vec<SqlResult>, tabula::Result<SqlResult>)> {
    if text.len() > PROBED {
        return None;
    }
    let empty = Database::in_memory();
    let mut held = Vec::new();
    let mut writes = false;
    let read = empty.sql_script(text, &[], |r| {
        // A statement that is not a query (CREATE, INSERT, …) gives a result of no columns.
        if r.columns.is_empty() {
            writes = true;
            return Err(tabula::Error::abort("the text writes"));
        }
        held.push(r);
        Ok(())
    });
    // And should a statement that writes ever give rows: what it wrote shows.
    let changed = empty.stats().map_or(true, |s| s.last_lsn != 0)
        || empty.table_names().map_or(true, |t| !t.is_empty());
    (!writes && !changed).then_some((held, read))
}

/// Runs `text` on a database open for writing, printing each result as it comes; returns
/// the last statement's result (without its rows). Statements before a failing one stay
/// committed (as `sqlite3_exec`): when any of them changed the database, the error is exit
/// 3 ("committed"), not 2 ("changed nothing"), so that a script does not run them again.
/// Output that cannot be written (but for a reader that went away) ends the text there, as
/// a failing statement does.
fn run_writing(db: &Database, text: &str, printer: &mut Printer) -> anyhow::Result<SqlResult> {
    let before = fingerprint(db);
    let mut output_failed = None;
    // Whether a statement that succeeded left the database changed: taken after each one
    // until one has (the database may refuse reads after a later failure, a failed log
    // write poisoning it, and could then not say). A transaction's `COMMIT` gives no
    // result to look after.
    let mut changed = false;
    let ran = db.sql_script(text, &[], |r| {
        if !changed {
            changed = before.is_some() && fingerprint(db).is_some_and(|now| Some(now) != before);
        }
        printer.take(r).map_err(|e| {
            output_failed = Some(e);
            tabula::Error::abort("the output could not be written")
        })
    });
    let committed = || {
        let Some(before) = &before else {
            return false;
        };
        changed
            || match fingerprint(db) {
                Some(now) => now != *before,
                // Poisoned by a failed log write: what is on disk tells (a `COMMIT` before
                // the failure, or the failed write itself when it could not be cut from
                // the log, and the next open finds it). When even that cannot be read,
                // they may have committed.
                None => db
                    .path()
                    .and_then(|dir| Database::open_read_only(dir).ok())
                    .and_then(|on_disk| fingerprint(&on_disk))
                    .is_none_or(|now| now != *before),
            }
    };
    match (ran, output_failed) {
        (Ok(last), _) => Ok(last),
        (Err(_), Some(e)) => Err(if committed() {
            e.context(crate::database::Committed::Output)
        } else {
            e
        }),
        (Err(e), None) => {
            let e = dot_command_hint(e, text);
            Err(if committed() {
                e.context(crate::database::Committed::LaterStatement)
            } else {
                e
            })
        }
    }
}

/// What a statement that commits changes: the log's last record (rows), the tables, their
/// schemas and the length of each one's history (`DROP TABLE` and migrations, which are
/// checkpoints and leave no log record; two migrations can leave a schema as it was, a
/// column dropped and added again with its values gone, but each is a step of its history).
fn fingerprint(db: &Database) -> Option<(u64, String)> {
    let lsn = db.stats().ok()?.last_lsn;
    let mut schemas = String::new();
    for t in db.table_names().ok()? {
        let steps = db.schema_history(&t).ok()?.len();
        schemas.push_str(&format!("{steps} {:?}\n", db.schema(&t).ok()?));
    }
    Some((lsn, schemas))
}

/// Creates the database at `dir`, which does not exist yet.
pub fn create(dir: &Path) -> anyhow::Result<Database> {
    Database::open(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Prints the rows of a result that has columns, in `format`. Rows are printed by name: a
/// name the result repeats (`a.id, b.id`) becomes `id:1`, `id:2`, … after its first use.
pub fn print_rows(result: SqlResult, format: Format, guard: CsvGuard) -> anyhow::Result<()> {
    let names = tabula::distinct_column_names(&result.columns);
    let rows: Vec<Row> = result
        .rows
        .into_iter()
        .map(|values| Row::from_pairs(names.iter().cloned().zip(values)))
        .collect();
    output::print_rows(
        &names,
        &|f| {
            let mut n = 0;
            for r in &rows {
                n += 1;
                if !f(r) {
                    break;
                }
            }
            Ok(n)
        },
        format,
        guard,
    )
}

/// A text that is one query without subqueries or `WITH`, in a format that prints a row at
/// a time (csv, json, jsonl), run with each row printed as the query finds it: a result
/// larger than memory prints whole, and a reader that stops reading (`| head`) stops the
/// query. `None` for any other
/// text, or one whose names do not bind (it runs as a script then, which says why); else
/// the query's result, without rows. An error met after rows went out (a value a
/// computation cannot give, in a later row) ends the output there, as in sqlite3.
fn streamed_query(
    db: &Database,
    text: &str,
    printer: &mut Printer,
) -> Option<anyhow::Result<SqlResult>> {
    // A query that may hold a subquery or a WITH is held as before: naming its columns
    // (`Statement::columns`) runs those, and the run would then compute them again.
    if printer.format == Format::Table
        || Kind::of_each(text) != [Kind::Query]
        || Kind::may_nest(text)
    {
        return None;
    }
    let st = db
        .prepare(text)
        .ok()
        .filter(|st| st.statement_count() == 1 && st.reads_only())?;
    let columns = st.columns(&[]).ok().flatten()?;
    let names = tabula::distinct_column_names(&columns);
    printer.queried_last = true;
    let printed = output::print_rows(
        &names,
        &|f| {
            let mut n = 0;
            st.each(&[], |values| {
                if values.len() != names.len() {
                    // Another process altered the table between naming and running.
                    return Err(tabula::Error::abort(
                        "the query's columns changed while it ran (its table was altered); \
                         run it again",
                    ));
                }
                n += 1;
                Ok(f(&Row::from_pairs(
                    names.iter().cloned().zip(values.iter().cloned()),
                )))
            })?;
            Ok(n)
        },
        printer.format,
        printer.guard,
    );
    Some(match printer.settle(printed) {
        Err(e) => Err(match e.downcast::<tabula::Error>() {
            Ok(e) => dot_command_hint(e, text),
            Err(e) => e,
        }),
        Ok(()) => Ok(SqlResult {
            columns,
            ..SqlResult::default()
        }),
    })
}
