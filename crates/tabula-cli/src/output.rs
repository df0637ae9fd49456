//! Printing rows and tables: a bordered table for people, JSON, JSON Lines or CSV for scripts.
//!
//! Rows are streamed: the table format measures its columns in a first pass over the query
//! and prints in a second, so no format holds the result set in memory.

use std::fmt::Write as _;
use std::io::{self, Write};

use clap::ValueEnum;
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

/// Whether `e` is standard output closed by its reader (`| head`): not an error, as in
/// sqlite3 and rg.
pub fn closed_by_reader(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Standard output, buffered; every write error reaches the caller (a closed pipe ends the
/// command quietly in `main`).
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::new(io::stdout().lock())
}

/// Writes one line to standard output.
pub fn line(args: std::fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A value as people read it in a table: control characters and terminal escapes escaped.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) => escape(s),
        Value::Float(f) => float(*f),
        other => other.to_string(),
    }
}

/// Text with every control character (C0, DEL, C1), line or paragraph separator (which
/// some terminals break lines at) and bidirectional override or mark shown as an escape, so
/// a stored value can never move the cursor, recolour, break or reorder the terminal.
pub fn escape(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x100 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// How many terminal columns `s` takes (escaped already: no control characters): a CJK
/// character or an emoji takes two, a combining mark none.
pub fn columns(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Column widths in terminal columns, grown by each row seen.
pub struct Widths(Vec<usize>);

impl Widths {
    pub fn new(headers: &[String]) -> Self {
        Widths(headers.iter().map(|h| columns(&escape(h))).collect())
    }

    pub fn add(&mut self, cells: &[String]) {
        for (w, c) in self.0.iter_mut().zip(cells) {
            *w = (*w).max(columns(c));
        }
    }

    fn rule(
        &self,
        out: &mut (impl Write + ?Sized),
        left: &str,
        mid: &str,
        right: &str,
    ) -> io::Result<()> {
        let mut s = String::from(left);
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                s.push_str(mid);
            }
            s.push_str(&"─".repeat(w + 2));
        }
        s.push_str(right);
        writeln!(out, "{s}")
    }

    pub fn top(&self, out: &mut (impl Write + ?Sized), headers: &[String]) -> io::Result<()> {
        self.rule(out, "┌", "┬", "┐")?;
        let cells: Vec<String> = headers.iter().map(|h| escape(h)).collect();
        self.row(out, &cells)?;
        self.rule(out, "├", "┼", "┤")
    }

    pub fn row(&self, out: &mut (impl Write + ?Sized), cells: &[String]) -> io::Result<()> {
        let mut s = String::from("│");
        for (c, w) in cells.iter().zip(&self.0) {
            let pad = w.saturating_sub(columns(c));
            s.push(' ');
            s.push_str(c);
            s.extend(std::iter::repeat_n(' ', pad + 1));
            s.push('│');
        }
        writeln!(out, "{s}")
    }

    pub fn bottom(&self, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
        self.rule(out, "└", "┴", "┘")
    }
}

/// Writes a small, already computed grid with a header.
pub fn grid_to(
    out: &mut (impl Write + ?Sized),
    headers: &[String],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let mut widths = Widths::new(headers);
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c)).collect())
        .collect();
    for r in &rows {
        widths.add(r);
    }
    widths.top(out, headers)?;
    for r in &rows {
        widths.row(out, r)?;
    }
    widths.bottom(out)?;
    out.flush()
}

/// Prints a grid with a header; a failed write ends the process the way `main` ends a
/// failed command (quietly with 0 on a closed pipe, else exit 2).
pub fn grid(headers: &[String], rows: &[Vec<String>]) {
    if let Err(e) = grid_to(&mut stdout(), headers, rows) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        err_line(format_args!("tabula: writing to standard output: {e}"));
        std::process::exit(2);
    }
}

/// How CSV guards cells that spreadsheets would run as formulas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvGuard {
    /// TEXT values starting with `=`, `+`, `-`, `@`, tab or CR get a leading `'`; so does
    /// one starting with `'`, so that the guard can be undone (one leading `'` removed from
    /// every guarded field) without `'=1` and `=1` reading back alike. A spreadsheet hides
    /// the `'` it adds, showing `'=1` as typed.
    Formulas,
    /// Values as they are.
    Raw,
}

fn csv_quote(s: &str) -> String {
    if s.is_empty() || s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One CSV field: NULL is an empty unquoted field, empty text is `""`.
pub fn csv_value(v: &Value, guard: CsvGuard) -> String {
    match v {
        Value::Null => String::new(),
        Value::Text(s) => {
            if guard == CsvGuard::Formulas && s.starts_with(['=', '+', '-', '@', '\t', '\r', '\''])
            {
                csv_quote(&format!("'{s}"))
            } else {
                csv_quote(s)
            }
        }
        Value::Float(f) => float(*f),
        other => other.to_string(),
    }
}

/// A float as people (and spreadsheets) read it back: the shortest text that gives the same
/// float, always with a `.` or an exponent so that it never passes for an integer (`100.0`,
/// `-0.0`, `1e20`, `1e-300`), and `inf`, `-inf`, `NaN`.
pub fn float(f: f64) -> String {
    format!("{f:?}")
}

/// The header line of a CSV file: names are guarded as TEXT values are (a SQL alias may be
/// any text, `SELECT 1 AS "=cmd"`).
pub fn csv_header(columns: &[String], guard: CsvGuard) -> String {
    columns
        .iter()
        .map(|c| csv_value(&Value::Text(c.clone()), guard))
        .collect::<Vec<_>>()
        .join(",")
}

/// One CSV record for the chosen columns.
pub fn csv_row(columns: &[String], r: &Row, guard: CsvGuard) -> String {
    columns
        .iter()
        .map(|c| r.get(c).map_or(String::new(), |v| csv_value(v, guard)))
        .collect::<Vec<_>>()
        .join(",")
}

/// One JSON object with its keys in the order of `columns` (not sorted).
pub fn json_object(columns: &[String], r: &Row) -> String {
    let mut s = String::from("{");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let key = serde_json::Value::String(c.clone()).to_string();
        // JSON has no NaN or infinity: they are the strings the database's own files
        // (and `export`) write, never a null that would pass for a missing value.
        let value = match r.get(c) {
            Some(Value::Float(f)) if !f.is_finite() => format!("\"{}\"", float(*f)),
            Some(v) => serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
            None => "null".into(),
        };
        s.push_str(&key);
        s.push(':');
        s.push_str(&value);
    }
    s.push('}');
    s
}

/// [`records`] for a result that is a list: in JSON Lines and CSV, a record per element.
pub fn list(format: Format, whole: &serde_json::Value, columns: &[&str]) -> std::io::Result<()> {
    let elements = whole.as_array().map_or(&[][..], Vec::as_slice);
    records(format, whole, elements, columns)
}

/// Prints the result of a command that is not a query in a machine format: `Json` as the
/// one document `whole`; `Jsonl` as one compact object per line, `records`; `Csv` as a header
/// (`columns`, then any other key the records have, in the order met) and one line per
/// record, nested values as compact JSON. Text cells get the formula guard, as a query's.
pub fn records(
    format: Format,
    whole: &serde_json::Value,
    records: &[serde_json::Value],
    columns: &[&str],
) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = stdout();
    match format {
        Format::Table => {}
        Format::Json => {
            let text = serde_json::to_string_pretty(whole).map_err(std::io::Error::other)?;
            writeln!(out, "{text}")?;
        }
        Format::Jsonl => {
            for r in records {
                writeln!(out, "{r}")?;
            }
        }
        Format::Csv => {
            let mut keys: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
            for r in records {
                if let serde_json::Value::Object(m) = r {
                    for k in m.keys() {
                        if !keys.contains(k) {
                            keys.push(k.clone());
                        }
                    }
                }
            }
            if keys.is_empty() {
                return out.flush();
            }
            writeln!(out, "{}", csv_header(&keys, CsvGuard::Formulas))?;
            for r in records {
                let cells: Vec<String> = keys
                    .iter()
                    .map(|k| match r.get(k) {
                        None | Some(serde_json::Value::Null) => String::new(),
                        Some(serde_json::Value::String(s)) => {
                            csv_value(&Value::Text(s.clone()), CsvGuard::Formulas)
                        }
                        Some(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) => {
                            csv_quote(&v.to_string())
                        }
                        Some(v) => v.to_string(),
                    })
                    .collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
    }
    out.flush()
}

/// Rows to print, each given to the callback, which answers whether to go on (false once
/// the output has failed: a reader that went away); the number of rows.
pub type EachRow<'e> = &'e dyn Fn(&mut dyn FnMut(&Row) -> bool) -> tabula::Result<usize>;

/// Streams the rows `each` gives in `format`, with the columns `names`; the first failed
/// write stops the output (and asks `each` for no more rows).
pub fn print_rows(
    names: &[String],
    each: EachRow<'_>,
    format: Format,
    guard: CsvGuard,
) -> anyhow::Result<()> {
    let mut out = stdout();
    let mut failed: Option<std::io::Error> = None;
    // Whether the output still works.
    let mut write = |f: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>| -> bool {
        if failed.is_none() {
            if let Err(e) = f(&mut out) {
                failed = Some(e);
            }
        }
        failed.is_none()
    };
    let cells = |r: &Row| -> Vec<String> {
        names
            .iter()
            .map(|c| r.get(c).map_or_else(String::new, cell))
            .collect()
    };
    match format {
        Format::Table => {
            let mut widths = Widths::new(names);
            each(&mut |r| {
                widths.add(&cells(r));
                true
            })?;
            write(&mut |o| widths.top(o, names));
            let n = each(&mut |r| write(&mut |o| widths.row(o, &cells(r))))?;
            write(&mut |o| {
                widths.bottom(o)?;
                writeln!(o, "{n} row(s)")
            });
        }
        // The array's opening and the csv header go out with the first row (or once the
        // rows ended, when there are none), so that rows failing before the first one
        // (`each` streams a query that can fail on any row) leave no half document.
        Format::Json => {
            let mut first = true;
            each(&mut |r| {
                let sep = if first { "[\n  " } else { ",\n  " };
                first = false;
                write(&mut |o| write!(o, "{sep}{}", json_object(names, r)))
            })?;
            let end = if first { "[]" } else { "\n]" };
            write(&mut |o| writeln!(o, "{end}"));
        }
        Format::Jsonl => {
            each(&mut |r| write(&mut |o| writeln!(o, "{}", json_object(names, r))))?;
        }
        Format::Csv => {
            let mut first = true;
            let header = |o: &mut dyn Write| writeln!(o, "{}", csv_header(names, guard));
            each(&mut |r| {
                let head = std::mem::take(&mut first);
                write(&mut |o| {
                    if head {
                        header(o)?;
                    }
                    writeln!(o, "{}", csv_row(names, r, guard))
                })
            })?;
            if first {
                write(&mut |o| header(o));
            }
        }
    }
    write(&mut |o| o.flush());
    match failed {
        Some(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
        None => Ok(()),
    }
}

/// Writes a line to standard error. A closed (or failing) standard error is left alone:
/// the line is lost, and the exit status still tells what happened (`eprintln!` would panic
/// there, as the tools promise a closed pipe never makes them do).
pub(crate) fn err_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

/// A spinner on stderr for long work, only when stderr is a terminal.
pub fn spinner(msg: &str) -> Option<indicatif::ProgressBar> {
    if !io::IsTerminal::is_terminal(&io::stderr()) {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_owned());
    pb.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(pb)
}

/// Clears the spinner [`spinner`] made, if any.
pub fn finish(pb: Option<indicatif::ProgressBar>) {
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
}
