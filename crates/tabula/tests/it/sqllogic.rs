//! The hand-written SQL cases in `tests/slt/*.slt`, in sqllogictest format, run through
//! `db.sql` by the `sqllogictest` crate: each file on a fresh in-memory database, every
//! record run (a failure does not stop the file), and every failure reported with its
//! file and line.
//!
//! How results print: `NULL`; an integer in decimal; a float in its shortest round-trip
//! form (`2.0`, `0.30000000000000004`, `1e20`); a boolean as `true` or `false` (tabula's
//! comparisons give booleans, where SQLite gives 1 and 0: a documented difference); the
//! empty string as `(empty)`. The type letters are `I` (integer), `R` (float), `T` (text),
//! `B` (boolean) and `?` (a column mixing types); a column of nulls only matches any letter.
//! A statement that returns no columns reports its changed rows, so `statement count N`
//! checks them.

use std::fmt;
use std::path::{Path, PathBuf};

use sqllogictest::{ColumnType, DBOutput, Record, Runner, DB};
use tabula::{Database, Value};

/// A result column's type letter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Letter {
    Integer,
    Real,
    Text,
    Bool,
    /// Values of several types in one column.
    Mixed,
    /// Only nulls (or no rows): no type to check.
    Unknown,
}

impl ColumnType for Letter {
    fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'I' => Letter::Integer,
            'R' => Letter::Real,
            'T' => Letter::Text,
            'B' => Letter::Bool,
            '?' => Letter::Mixed,
            _ => return None,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Letter::Integer => 'I',
            Letter::Real => 'R',
            Letter::Text => 'T',
            Letter::Bool => 'B',
            Letter::Mixed => '?',
            Letter::Unknown => '*',
        }
    }
}

fn letter(v: &Value) -> Letter {
    match v {
        Value::Null => Letter::Unknown,
        Value::Bool(_) => Letter::Bool,
        Value::Int(_) => Letter::Integer,
        Value::Float(_) => Letter::Real,
        Value::Text(_) => Letter::Text,
    }
}

/// A column's letters must match, but a column that held only nulls matches any letter.
#[expect(
    clippy::ptr_arg,
    reason = "the signature sqllogictest's validator takes"
)]
fn letters_match(actual: &Vec<Letter>, expected: &Vec<Letter>) -> bool {
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| a == e || *a == Letter::Unknown)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Text(s) if s.is_empty() => "(empty)".to_owned(),
        Value::Text(s) => s.clone(),
    }
}

/// tabula's error, as sqllogictest matches it (`statement error <regex>`).
#[derive(Debug)]
struct SqlError(tabula::Error);

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SqlError {}

/// One in-memory database per file.
struct Tabula(Database);

impl DB for Tabula {
    type Error = SqlError;
    type ColumnType = Letter;

    fn run(&mut self, sql: &str) -> Result<DBOutput<Letter>, SqlError> {
        let r = self.0.sql(sql).map_err(SqlError)?;
        if r.columns.is_empty() {
            return Ok(DBOutput::StatementComplete(r.changed));
        }
        let types = (0..r.columns.len())
            .map(|i| {
                let mut seen = Letter::Unknown;
                for row in &r.rows {
                    let l = letter(&row[i]);
                    if l == Letter::Unknown || l == seen {
                        continue;
                    }
                    seen = if seen == Letter::Unknown {
                        l
                    } else {
                        Letter::Mixed
                    };
                }
                seen
            })
            .collect();
        let rows = r
            .rows
            .iter()
            .map(|row| row.iter().map(text).collect())
            .collect();
        Ok(DBOutput::Rows { types, rows })
    }

    fn engine_name(&self) -> &str {
        "tabula"
    }
}

fn slt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

/// Runs every record of `file` on a fresh database; the failures, each with its file:line.
fn run_file(file: &Path) -> Vec<String> {
    let records = match sqllogictest::parse_file::<Letter>(file) {
        Ok(r) => r,
        Err(e) => return vec![format!("{}: does not parse: {e}", file.display())],
    };
    let mut runner = Runner::new(|| async { Ok(Tabula(Database::in_memory())) });
    runner.with_column_validator(letters_match);
    let mut failures = Vec::new();
    for record in records {
        if matches!(record, Record::Halt { .. }) {
            break;
        }
        if let Err(e) = runner.run(record) {
            failures.push(e.display(false).to_string());
        }
    }
    failures
}

fn run_dir(dir: &Path) -> (usize, Vec<String>) {
    let files = slt_files(dir);
    let failures = files.iter().flat_map(|f| run_file(f)).collect();
    (files.len(), failures)
}

#[test]
fn slt_files_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let (count, failures) = run_dir(&root);
    assert!(count > 0, "no .slt files in {}", root.display());
    assert!(
        failures.is_empty(),
        "{} sqllogictest record(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The runner itself: a wrong expected result, a wrong type letter, an error where none is
/// expected and a missing error are each reported, with their lines; right ones are not.
#[test]
fn the_runner_reports_each_failure_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.slt");
    std::fs::write(
        &file,
        "statement ok\nCREATE TABLE t (id INTEGER PRIMARY KEY, x REAL, s TEXT)\n\n\
         statement count 2\nINSERT INTO t (x, s) VALUES (1.5, ''), (NULL, 'b')\n\n\
         query IRT rowsort\nSELECT id, x, s FROM t\n----\n1 1.5 (empty)\n2 NULL b\n\n\
         query I\nSELECT 1 + 1\n----\n3\n\n\
         query T\nSELECT 2\n----\n2\n\n\
         statement ok\nSELECT * FROM nowhere\n\n\
         statement error no table\nSELECT 1\n\n\
         query B\nSELECT 1 < 2\n----\ntrue\n",
    )
    .unwrap();
    let failures = run_file(&file);
    let lines: Vec<&str> = failures
        .iter()
        .map(|f| f.rsplit("t.slt:").next().unwrap().trim())
        .collect();
    assert_eq!(lines, ["13", "18", "23", "26"], "{failures:#?}");
}
