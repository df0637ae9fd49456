//! The log as `tabula wal` lists it: every line, good or damaged, read with the same scanner
//! as recovery, so the listing ends where recovery says the log ends.

use std::path::Path;

use crate::error::Result;
use crate::storage::directory::read_log;
use crate::storage::fs::{FileSystem, StdFs};
use crate::storage::layout::Layout;
use crate::storage::manifest::Manifest;
use crate::storage::verify::held_by_a_writer;
use crate::storage::wal::scan::{damaged_break_reason, lines, repeated_lsn};

/// One line of `wal/transaction.log`, as `tabula wal` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct LogRecord {
    /// The 1-based line.
    pub line: u64,
    /// The record's LSN (0 for a damaged line).
    pub lsn: u64,
    /// Per table: name, rows written, keys deleted.
    pub tables: Vec<(String, usize, usize)>,
    /// The tables this record creates (its transaction created them).
    pub created: Vec<String>,
    /// Why the line cannot be used, if it cannot.
    pub problem: Option<String>,
}

/// Lists the records of the current write-ahead log of the database at `path`, damaged
/// lines included (with the reason), without changing anything. The preallocated zeros a
/// running or killed writer leaves after its last record are the end of the log, not a
/// line; so, while a writer has the database open, is the commit it is writing (a last line
/// without its newline).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use tabula::{Database, Table};
/// #[derive(Table, Clone, Debug)]
/// struct Note { #[column(primary_key)] id: u64, text: String }
/// let path = dir.path().join("db");
/// let db = Database::open(&path)?;
/// db.table::<Note>()?.insert(Note { id: 0, text: "hi".into() })?;
/// let records = tabula::log_records(&path)?;
/// assert_eq!(records[0].created, ["note"]); // the table's creation, then the insert
/// assert_eq!(records[1].tables, vec![("note".to_string(), 1, 0)]);
/// assert!(records.iter().all(|r| r.problem.is_none()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn log_records(path: impl AsRef<Path>) -> Result<Vec<LogRecord>> {
    log_records_with(&StdFs, path.as_ref())
}

pub(crate) fn log_records_with(fs: &dyn FileSystem, root: &Path) -> Result<Vec<LogRecord>> {
    let layout = Layout::new(root);
    // The checkpoint's LSN decides which damaged writes count as torn; a manifest that
    // cannot be read leaves every record after LSN 0.
    let after = fs
        .read(&layout.manifest())
        .ok()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .map_or(0, |m| m.lsn);
    let bytes = read_log(fs, &layout, after)?;
    let mut lines = lines(&bytes, after);
    // An unfinished last line is the commit a writer is writing while one has the database
    // open (as `verify` has it): not listed, as the read-only open leaves it out. After a
    // crash it is listed, damaged.
    let unfinished = lines.last().is_some_and(|l| l.unfinished_in(&bytes));
    if unfinished && held_by_a_writer(fs, root) {
        lines.pop();
    }
    // LSNs only grow: a record at or below one listed before is a copy or out of place,
    // which recovery does not replay (`verify` and `repair` say so too).
    let mut last = 0;
    Ok(lines
        .into_iter()
        .map(|l| match l.parsed {
            Ok(rec) => LogRecord {
                problem: if rec.lsn <= last {
                    Some(format!("{}, not replayed", repeated_lsn(rec.lsn, last)))
                } else {
                    last = rec.lsn;
                    l.damaged_break.map(damaged_break_reason)
                },
                line: l.no,
                lsn: rec.lsn,
                tables: rec
                    .tables
                    .iter()
                    .map(|t| (t.table.clone(), t.put.len(), t.delete.len()))
                    .collect(),
                created: rec
                    .tables
                    .iter()
                    .filter(|t| t.create.is_some())
                    .map(|t| t.table.clone())
                    .collect(),
            },
            Err(reason) => LogRecord {
                line: l.no,
                lsn: 0,
                tables: Vec::new(),
                created: Vec::new(),
                problem: Some(reason),
            },
        })
        .collect())
}
