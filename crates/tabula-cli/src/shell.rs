//! The interactive shell of `tabula sql DIR`: statements over several lines, each run when a
//! `;` ends it; dot commands; a transaction kept open across prompts after `BEGIN`. An
//! error is printed and the shell goes on. See docs/CLI.md ("The shell").

mod input;
mod session;
mod split;
mod transaction;

use std::path::Path;
use std::time::{Duration, Instant};

use clap::ValueEnum;

use crate::output::{self, CsvGuard, Format};
use input::{Input, Read};
use session::Session;

/// The prompt for a new statement.
const PROMPT: &str = "tabula> ";
/// The prompt for a new statement while a transaction is open.
const PROMPT_IN_TX: &str = "tabula*> ";
/// The prompt for the next line of an unfinished statement (as wide as [`PROMPT`]).
const MORE: &str = "   ...> ";
/// [`MORE`] as wide as [`PROMPT_IN_TX`].
const MORE_IN_TX: &str = "    ...> ";

const HELP: &str = "\
Statements end with ; and may span lines. Ctrl-C drops the statement being typed; Ctrl-D
or .quit leaves (an open transaction is rolled back).
  .tables               the tables, their rows and indexes
  .schema [TABLE]       the schema of TABLE, or of every table
  .mode [MODE]          how rows are printed: table, csv, json or jsonl
  .timer on|off         print the time each statement took to run
  .explain on|off       print each SELECT's plan before its rows
  .explain SELECT ...   print one query's plan, without running it
  .read FILE            run the statements and dot commands in FILE, as if typed
  .dump                 the committed database as a SQL script (SQLite's dialect)
  .help                 this text
  .quit, .exit          leave
BEGIN opens a transaction that stays open across prompts (the prompt shows tabula*>)
until COMMIT or ROLLBACK. The database is read-only until the first statement that writes
takes its lock: a transaction reads one version, with no lock, until its first write,
which fails if another process committed since BEGIN (ROLLBACK and run it again).";

/// How results are shown; the dot commands change it.
struct Settings {
    format: Format,
    guard: CsvGuard,
    timer: bool,
    explain: bool,
}

/// What a statement is, by its first word: the shell handles the transaction's own and
/// prints the others' results.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Begin,
    Commit,
    Rollback,
    /// INSERT, UPDATE, DELETE: "N row(s) changed".
    Change,
    /// SELECT and WITH, which `.explain on` plans.
    Query,
    /// Anything else (CREATE TABLE, EXPLAIN): rows if it has any, else "ok".
    Other,
}

/// `statement` with its comments (`-- …` to the end of the line, `/* … */`) left out, for
/// the words of a statement that holds no string or quoted name (a transaction's).
fn without_comments(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut rest = statement;
    loop {
        let line = rest.find("--");
        let block = rest.find("/*");
        let (at, end) = match (line, block) {
            (Some(l), Some(b)) if b < l => {
                (b, rest[b..].find("*/").map_or(rest.len(), |e| b + e + 2))
            }
            (Some(l), _) => (l, rest[l..].find('\n').map_or(rest.len(), |e| l + e)),
            (None, Some(b)) => (b, rest[b..].find("*/").map_or(rest.len(), |e| b + e + 2)),
            (None, None) => {
                out.push_str(rest);
                return out;
            }
        };
        out.push_str(&rest[..at]);
        out.push(' ');
        rest = &rest[end..];
    }
}

/// The words of `statement`, upper-cased (names, keywords and numbers alike; what is not
/// a letter, digit or `_` separates them).
fn words(statement: &str) -> impl Iterator<Item = String> + '_ {
    statement
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
}

impl Kind {
    pub(crate) fn of(statement: &str) -> Kind {
        let first = words(statement).next().unwrap_or_default();
        // A transaction's statement only in the forms SQLite and PostgreSQL write it; any
        // other (`BEGIN foo`, `COMMIT please`, `ROLLBACK TO a savepoint`) goes to the
        // library, which says what is wrong with it, rather than being read by its first
        // word.
        let rest: Vec<String> = if matches!(
            first.as_str(),
            "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK"
        ) {
            words(&without_comments(statement))
                .skip(1)
                .take(3)
                .collect()
        } else {
            Vec::new()
        };
        let only = |allowed: &[&str]| {
            rest.len() <= 1 && rest.iter().all(|w| allowed.contains(&w.as_str()))
        };
        match first.as_str() {
            "BEGIN"
                if only(&["DEFERRED", "IMMEDIATE", "EXCLUSIVE", "TRANSACTION", "WORK"])
                    || matches!(rest.as_slice(), [mode, t]
                    if ["DEFERRED", "IMMEDIATE", "EXCLUSIVE"].contains(&mode.as_str())
                        && t == "TRANSACTION") =>
            {
                Kind::Begin
            }
            "START" if rest == ["TRANSACTION"] => Kind::Begin,
            "COMMIT" if only(&["TRANSACTION", "WORK"]) => Kind::Commit,
            "END" if only(&["TRANSACTION"]) => Kind::Commit,
            "ROLLBACK" if only(&["TRANSACTION", "WORK"]) => Kind::Rollback,
            "INSERT" | "UPDATE" | "DELETE" | "REPLACE" => Kind::Change,
            "SELECT" | "WITH" => Kind::Query,
            _ => Kind::Other,
        }
    }

    /// Whether `statement`, a `BEGIN`, takes the writers' lock at once: `BEGIN IMMEDIATE`
    /// or `BEGIN EXCLUSIVE`, as in SQLite.
    pub(crate) fn locks_at_once(statement: &str) -> bool {
        words(statement)
            .nth(1)
            .is_some_and(|w| w == "IMMEDIATE" || w == "EXCLUSIVE")
    }

    /// Whether `statement` is `COPY … FROM stdin`, whose rows follow it in the text (a
    /// script's, or a dump's): typed at the prompt, there is no text after it to read.
    pub(crate) fn copies_from_stdin(statement: &str) -> bool {
        let words: Vec<String> = words(statement).collect();
        words.first().is_some_and(|w| w == "COPY")
            && words.windows(2).any(|w| w[0] == "FROM" && w[1] == "STDIN")
    }

    /// Whether `statement` names `SELECT` more than once, or `WITH`: it may hold a
    /// subquery or a common table expression (or only the word, in a string).
    pub(crate) fn may_nest(statement: &str) -> bool {
        let mut selects = 0;
        words(statement).any(|w| {
            selects += usize::from(w == "SELECT");
            w == "WITH" || selects > 1
        })
    }

    /// The kind of each statement of `text`, a whole script whose last statement need not
    /// end with `;`.
    pub(crate) fn of_each(text: &str) -> Vec<Kind> {
        // The line end closes a trailing `--` comment, so that the added `;` ends the
        // statement.
        let split = split::split_script(&format!("{text}\n;"));
        split.statements.iter().map(|s| Kind::of(&s.text)).collect()
    }

    /// The kind of the last statement of `text`, a whole script whose last statement need
    /// not end with `;`, for what its result says: a `COMMIT` is a change when a statement
    /// of its transaction is one (`BEGIN; INSERT …; SELECT …; COMMIT` counts the rows the
    /// INSERT changed; `BEGIN; CREATE …; COMMIT` changed no rows, it is "ok"), and a `BEGIN`
    /// or `ROLLBACK` changes no rows. `None` when the text holds no statement (empty, `;`,
    /// comments).
    pub(crate) fn of_last(text: &str) -> Option<Kind> {
        let mut kinds = Kind::of_each(text).into_iter().rev();
        Some(match kinds.next()? {
            Kind::Commit => {
                if kinds
                    .take_while(|k| *k != Kind::Begin)
                    .any(|k| k == Kind::Change)
                {
                    Kind::Change
                } else {
                    Kind::Other
                }
            }
            Kind::Begin | Kind::Rollback => Kind::Other,
            k => k,
        })
    }
}

/// What a dot command asks of the loop.
enum Next {
    Continue,
    /// `.quit`: leaves the shell, or, inside a `.read`, that file (as in sqlite3).
    Quit,
    /// Standard output went away: the shell ends, whatever file it was reading.
    Gone,
}

/// Runs the shell on `dir` until `.quit` or the end of input, printing rows in `format`.
pub fn run(dir: &Path, format: Format, guard: CsvGuard) -> anyhow::Result<()> {
    let mut session = Session::open(dir)?;
    let mut input = Input::new()?;
    let mut settings = Settings {
        format,
        guard,
        timer: false,
        explain: false,
    };
    say(&format!(
        "Connected to {} ({}).\nStatements end with ;  .help lists the commands, .quit leaves.",
        dir.display(),
        if session.writable() {
            "writable"
        } else {
            "read-only until a statement writes"
        }
    ));
    let mut buffer = String::new();
    loop {
        let prompt = match (buffer.is_empty(), session.in_transaction()) {
            (true, false) => PROMPT,
            (true, true) => PROMPT_IN_TX,
            (false, false) => MORE,
            (false, true) => MORE_IN_TX,
        };
        // The prompt and the line read are echoed when the input is not a terminal: a
        // reader that went away ends the shell there, which then closes as at the end of
        // input (an open transaction is rolled back, and said so).
        let read = match input.read(prompt) {
            Ok(read) => read,
            Err(e) if output::closed_by_reader(&e) => break,
            Err(e) => return Err(e),
        };
        let line = match read {
            Read::Line(l) => l,
            Read::Interrupted => {
                buffer.clear();
                continue;
            }
            Read::NotUtf8 => {
                note(if buffer.is_empty() {
                    "that line is not UTF-8: it was not run"
                } else {
                    "that line is not UTF-8: it and the statement it continued were not run"
                });
                buffer.clear();
                continue;
            }
            Read::End => {
                // Leave on a line of its own (the prompt is still on the last one).
                say("");
                if !buffer.trim().is_empty() {
                    // The statements the input completed run; only the unfinished one
                    // after them does not.
                    let split = split::split(&buffer);
                    if !split.statements.is_empty() {
                        input.remember(&buffer);
                        run_statements(&split.statements, &mut session, &settings, None);
                    }
                    if !split.complete {
                        note("the unfinished statement at the end of the input was not run");
                    }
                }
                break;
            }
        };
        if buffer.is_empty() {
            if line.trim().is_empty() {
                continue;
            }
            if let Some(command) = line.trim_start().strip_prefix('.') {
                input.remember(&line);
                match dot(command, &mut session, &mut settings, 0) {
                    Ok(Next::Continue) => continue,
                    Ok(Next::Quit | Next::Gone) => break,
                    Err(e) if output::closed_by_reader(&e) => break,
                    Err(e) => {
                        error(&e);
                        continue;
                    }
                }
            }
        } else {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        let split = split::split(&buffer);
        if !split.complete {
            continue;
        }
        input.remember(&buffer);
        buffer.clear();
        if !run_statements(&split.statements, &mut session, &settings, None) {
            break;
        }
    }
    input.finish();
    if session.close()? {
        note("the open transaction was rolled back (COMMIT keeps a transaction's changes)");
    }
    Ok(())
}

/// Runs the statements of one input in order, stopping at the first error. `false` when
/// standard output went away (the shell ends then). `file`: the file a `.read` took them
/// from (their lines are its lines), named after an error.
fn run_statements(
    statements: &[split::Statement],
    session: &mut Session,
    settings: &Settings,
    file: Option<&str>,
) -> bool {
    for (i, statement) in statements.iter().enumerate() {
        let text = &statement.text;
        let kind = Kind::of(text);
        let in_tx = session.in_transaction();
        if Kind::copies_from_stdin(text) {
            error(&anyhow::anyhow!(
                "COPY … FROM stdin reads its rows from the lines after it in a script: load \
                 the file with `tabula sql DIR < FILE`"
            ));
            return true;
        }
        if settings.explain && kind == Kind::Query {
            // The plan of a query the library cannot explain is left out: running the query
            // says what is wrong with it.
            if let Ok(plan) = session.run(&format!("EXPLAIN {text}")) {
                if let Err(e) = print_plan(&plan) {
                    return !output::closed_by_reader(&e);
                }
            }
        }
        let started = Instant::now();
        let outcome = match kind {
            Kind::Begin => session
                .begin(Kind::locks_at_once(text))
                .map(|()| Done::Said("transaction open")),
            // A transaction that never took the lock (its writes, if any, refused) wrote
            // nothing: "committed" would say otherwise.
            Kind::Commit => session.commit().map(|wrote| {
                Done::Said(match wrote {
                    true => "committed",
                    false => "ended: it only read, so there was nothing to commit",
                })
            }),
            Kind::Rollback => session.rollback().map(|()| Done::Said("rolled back")),
            _ => session
                .run(text)
                .map(Done::Result)
                .map_err(|e| placed(e, statement)),
        };
        let took = started.elapsed();
        let printed = match outcome {
            Ok(done) => show(done, kind, settings),
            Err(e) => {
                error(&e);
                if let Some(file) = file {
                    note(&format!(
                        "in {file}, the statement at line {}",
                        statement.line
                    ));
                }
                explain_failure(&e, in_tx, session.in_transaction(), kind);
                let left = statements.len() - i - 1;
                if left > 0 {
                    note(&format!(
                        "the {left} statement(s) after it in the same input were not run"
                    ));
                }
                return true;
            }
        };
        if let Err(e) = printed {
            if output::closed_by_reader(&e) {
                return false;
            }
            error(&e);
        }
        if settings.timer {
            say(&timing(took));
        }
    }
    true
}

/// `e` with a SQL error's place in `statement`'s text made its place in the input as typed.
fn placed(e: anyhow::Error, statement: &split::Statement) -> anyhow::Error {
    // Only a bare error (a downcast would drop any context around it).
    let bare = e.chain().count() == 1
        && matches!(
            e.downcast_ref(),
            Some(tabula::Error::Sql { .. } | tabula::Error::Unsupported { .. })
        );
    if !bare {
        return e;
    }
    match e.downcast::<tabula::Error>() {
        Ok(tabula::Error::Sql {
            line,
            column,
            reason,
        }) => {
            let (line, column) = statement.in_input(line, column);
            tabula::Error::Sql {
                line,
                column,
                // Words that place it too ("… at Line: 1, Column: 8"; the library takes
                // the parser's own out of its reasons) are placed in the input as well.
                reason: replace_place(&reason, "at Line: ", ", Column: ", statement),
            }
            .into()
        }
        Ok(tabula::Error::Unsupported { feature }) => tabula::Error::Unsupported {
            feature: replace_place(&feature, "at line ", ", column ", statement),
        }
        .into(),
        Ok(other) => other.into(),
        Err(e) => e,
    }
}

/// `text` with its last place written `{before}L{between}C` made a place in the input.
fn replace_place(text: &str, before: &str, between: &str, statement: &split::Statement) -> String {
    let Some(at) = text.rfind(before) else {
        return text.to_owned();
    };
    let rest = &text[at + before.len()..];
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    let l = digits(rest);
    let Some(after_line) = rest[l..].strip_prefix(between) else {
        return text.to_owned();
    };
    let c = digits(after_line);
    let (Ok(line), Ok(column)) = (rest[..l].parse::<u64>(), after_line[..c].parse::<u64>()) else {
        return text.to_owned();
    };
    let (line, column) = statement.in_input(line, column);
    format!(
        "{}{before}{line}{between}{column}{}",
        &text[..at],
        &after_line[c..]
    )
}

/// What a statement did.
enum Done {
    /// A transaction's beginning or end, in words.
    Said(&'static str),
    /// Rows or a count.
    Result(tabula::SqlResult),
}

/// Prints what a statement did.
fn show(done: Done, kind: Kind, settings: &Settings) -> anyhow::Result<()> {
    let result = match done {
        Done::Said(words) => {
            say(words);
            return Ok(());
        }
        Done::Result(r) => r,
    };
    if !result.columns.is_empty() {
        return crate::sql_cmd::print_rows(result, settings.format, settings.guard);
    }
    let text = match (settings.format, kind) {
        (Format::Table, Kind::Change) => format!("{} row(s) changed", result.changed),
        (Format::Table, _) => "ok".to_owned(),
        _ => serde_json::json!({ "changed": result.changed }).to_string(),
    };
    output::line(format_args!("{text}")).map_err(anyhow::Error::new)
}

/// After a failed statement, what became of the transaction.
fn explain_failure(e: &anyhow::Error, was_in_tx: bool, in_tx: bool, kind: Kind) {
    if was_in_tx && in_tx && !matches!(kind, Kind::Begin) {
        note("the transaction is still open; the failed statement changed nothing");
    } else if was_in_tx && !in_tx && kind != Kind::Rollback {
        note("the transaction was rolled back: none of its changes were kept");
    }
    let locked = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<tabula::Error>(),
            Some(tabula::Error::Locked { .. })
        )
    });
    if locked {
        note("the shell stays read-only: reads go on; a write can be tried again later");
    }
}

/// How deep `.read` may nest (a file that reads itself stops there).
const READ_DEPTH: usize = 16;

/// Runs the lines of `text` (the file `name`) as if typed at the prompt: statements as
/// each one completes, dot commands at the start of a line between statements. An
/// unfinished statement at the end is not run; a `.quit` ends the file, not the shell, as
/// in sqlite3. `depth`: the `.read` commands around this one.
fn read_lines(
    text: &str,
    name: &str,
    session: &mut Session,
    settings: &mut Settings,
    depth: usize,
) -> anyhow::Result<Next> {
    let mut buffer = String::new();
    // The file's line the buffer starts at: statements are placed in the file.
    let mut first = 1;
    let in_file = |split: split::Split, first: u64| {
        let mut statements = split.statements;
        for s in &mut statements {
            s.line += first - 1;
        }
        statements
    };
    // Split at line feeds only: a carriage return before one belongs to the line, which
    // matters inside a string literal (a dump's text keeps it).
    for (n, line) in (1..).zip(text.split_terminator('\n')) {
        if buffer.is_empty() {
            first = n;
            if line.trim().is_empty() {
                continue;
            }
            if let Some(command) = line.trim_start().strip_prefix('.') {
                // As typed: a command that fails is reported, and the next line runs.
                match dot(command, session, settings, depth) {
                    Ok(Next::Continue) => continue,
                    Ok(Next::Quit) => return Ok(Next::Continue),
                    Ok(Next::Gone) => return Ok(Next::Gone),
                    Err(e) if output::closed_by_reader(&e) => return Err(e),
                    Err(e) => {
                        error(&e);
                        continue;
                    }
                }
            }
        } else {
            buffer.push('\n');
        }
        buffer.push_str(line);
        let split = split::split(&buffer);
        if !split.complete {
            continue;
        }
        buffer.clear();
        if !run_statements(&in_file(split, first), session, settings, Some(name)) {
            return Ok(Next::Gone);
        }
    }
    if !buffer.trim().is_empty() {
        let split = split::split(&buffer);
        let complete = split.complete;
        let statements = in_file(split, first);
        if !statements.is_empty() && !run_statements(&statements, session, settings, Some(name)) {
            return Ok(Next::Gone);
        }
        if !complete {
            note(&format!(
                "the unfinished statement at the end of {name} was not run (end it with ;)"
            ));
        }
    }
    Ok(Next::Continue)
}

/// The file name `.read` was given, without the quotes around it, if any.
fn unquoted(name: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = name.strip_prefix(q).and_then(|n| n.strip_suffix(q)) {
            return inner;
        }
    }
    name
}

/// Runs the dot command `command` (the line without its leading `.`); `depth`: the `.read`
/// commands it is inside.
fn dot(
    command: &str,
    session: &mut Session,
    settings: &mut Settings,
    depth: usize,
) -> anyhow::Result<Next> {
    let command = command.trim().trim_end_matches(';').trim_end();
    let (name, rest) = command
        .split_once(char::is_whitespace)
        .map_or((command, ""), |(n, r)| (n, r.trim()));
    match (name, rest) {
        ("quit" | "exit", "") => return Ok(Next::Quit),
        ("help", _) => say(HELP),
        ("tables", "") => {
            // As `tabula tables`: every table, a damaged one marked so, then why.
            let (stats, damaged) = session.stats()?;
            crate::describe::print_tables(&stats, settings.format)?;
            for e in &damaged {
                error(&anyhow::anyhow!("{e}"));
            }
            if !damaged.is_empty() {
                note(crate::RESCUE);
            }
        }
        ("schema", table) => {
            let db = session.database()?;
            let names = if table.is_empty() {
                db.table_names()?
            } else {
                // A name quoted as SQL or a shell would (`.schema "order"`) is that name.
                vec![unquoted(table).to_owned()]
            };
            if names.is_empty() {
                say("no tables yet");
            }
            for (i, name) in names.iter().enumerate() {
                if i > 0 && settings.format == Format::Table {
                    say("");
                }
                crate::describe::print_schema(db, name, settings.format)?;
            }
        }
        ("mode", "") => say(&format!("mode {}", mode_name(settings.format))),
        ("mode", mode) => match Format::from_str(mode, true) {
            Ok(f) => settings.format = f,
            Err(_) => anyhow::bail!("unknown mode {mode:?}: one of table, csv, json, jsonl"),
        },
        ("timer", "") => say(&format!("timer {}", on_off(settings.timer))),
        ("timer", value) => settings.timer = switch(value, ".timer")?,
        ("explain", "") => say(&format!(
            "explain {} (.explain on|off, or .explain SELECT ...)",
            on_off(settings.explain)
        )),
        ("explain", v) if v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("off") => {
            settings.explain = switch(v, ".explain")?;
        }
        // One word that starts no query is most likely a mistyped on or off.
        ("explain", word) if mistyped_switch(word) => {
            anyhow::bail!(".explain takes on, off or a query, not {word:?}")
        }
        ("explain", query) => {
            // One query, planned and never run: a text of several would run the ones after
            // the first (a `DROP TABLE` after the `;`). Counted by the library's own parse,
            // which `EXPLAIN` runs: the shell's split reads the text's words for where
            // statements end, not as the library reads every token (a `E'\''` string), and a
            // text the library does not parse gets its error, placed in the text.
            let count = session.database()?.prepare(query)?.statement_count();
            if count != 1 {
                anyhow::bail!(".explain takes one query, not {count} statements: nothing was run")
            }
            print_plan(&session.run(&format!("EXPLAIN {query}"))?)?
        }
        ("read", "") => anyhow::bail!(".read takes the name of a file of SQL"),
        ("read", _) if depth >= READ_DEPTH => {
            anyhow::bail!(".read nested {READ_DEPTH} deep (does a file read itself?): stopped")
        }
        ("read", file) => {
            let file = unquoted(file);
            let text = crate::text_input::read_file(std::path::Path::new(file))?;
            // A byte-order mark some editors write is not SQL.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            if split::split(text)
                .statements
                .iter()
                .any(|s| Kind::copies_from_stdin(&s.text))
            {
                anyhow::bail!(
                    "{file} holds COPY … FROM stdin, whose rows are lines of the file, not \
                     statements: nothing of it was run; load it with `tabula sql DIR < {file}`"
                );
            }
            return read_lines(text, file, session, settings, depth + 1);
        }
        // Loading a table not yet in memory takes the writers' lock, which an open write
        // transaction holds (the dump would wait for the shell's own COMMIT); beside a
        // read transaction it would load tables under it, and not show its version.
        ("dump", "") if session.in_transaction() => anyhow::bail!(
            ".dump reads the committed database, not the open transaction's: COMMIT or \
             ROLLBACK first"
        ),
        ("dump", "") => crate::dump::to_stdout(session.database()?, tabula::Dialect::Sqlite)?,
        ("dump", _) => anyhow::bail!(
            ".dump takes no argument: it writes every table (`tabula dump DIR --dialect \
             postgres` writes PostgreSQL's dialect)"
        ),
        ("quit" | "exit" | "tables", _) => anyhow::bail!(".{name} takes no argument"),
        _ => anyhow::bail!("unknown command .{name} (.help lists the commands)"),
    }
    Ok(Next::Continue)
}

fn mode_name(format: Format) -> &'static str {
    match format {
        Format::Table => "table",
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Jsonl => "jsonl",
    }
}

/// Whether `text` starts with a word a query can start with.
/// A single word of letters that starts no query (`.explain of`): anything else (a query,
/// one in parentheses or after a comment) is the engine's to read.
fn mistyped_switch(text: &str) -> bool {
    let word = text.trim();
    !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphabetic())
        && !["select", "with", "values"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn switch(value: &str, command: &str) -> anyhow::Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => anyhow::bail!("{command} takes on or off, not {value:?}"),
    }
}

/// Prints the lines of an `EXPLAIN` result, one a line.
fn print_plan(plan: &tabula::SqlResult) -> anyhow::Result<()> {
    for row in &plan.rows {
        let line: Vec<String> = row.iter().map(output::cell).collect();
        output::line(format_args!("plan: {}", line.join(" ")))?;
    }
    Ok(())
}

/// The time a statement took, in milliseconds.
fn timing(took: Duration) -> String {
    format!("time: {:.3} ms", took.as_secs_f64() * 1000.0)
}

/// Prints a line of the shell's own to standard output (a closed output is noticed at the
/// next result).
fn say(text: &str) {
    let _ = output::line(format_args!("{text}"));
}

/// Prints an error to standard error: the library's message, with the context the shell
/// added (the path it was opening, say).
fn error(e: &anyhow::Error) {
    crate::output::err_line(format_args!("error: {}", crate::message(e)));
}

/// Prints a remark about an error to standard error.
fn note(text: &str) {
    crate::output::err_line(format_args!("note: {text}"));
}
