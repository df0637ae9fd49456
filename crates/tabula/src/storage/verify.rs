//! `verify`: reads every file of a database directory without changing any, and reports
//! every problem with its file and line (see [`inspect`](crate::storage::inspect) for what
//! is checked).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::storage::fs::{FileSystem, StdFs};
use crate::storage::inspect::inspect;

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file at fault.
    pub file: PathBuf,
    /// The 1-based line, or 0 when the whole file is at fault.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

/// Checks every file of the database directory at `path` and returns every problem found
/// (empty when the directory is sound). Nothing is changed. It checks the checksums of
/// every file (the manifest's own included), LSN continuity, that schemas and rows agree,
/// and, after replaying the log, primary-key, unique, NOT NULL and foreign-key constraints
/// across tables; it reports log tails an open set aside (`wal/*.damaged`). A path that is
/// not a database is `Error::NotADatabase`. Run it while no process has the database
/// open: a database being written can look inconsistent between two writes.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use tabula::{Database, Table};
/// #[derive(Table, Clone, Debug)]
/// struct Note { #[column(primary_key)] id: u64, text: String }
/// let path = dir.path().join("db");
/// let db = Database::open(&path)?;
/// db.table::<Note>()?.insert(Note { id: 0, text: "hi".into() })?;
/// db.close()?;
/// assert!(tabula::verify(&path)?.is_empty());
/// std::fs::write(path.join("data/note.records"), "{\"id\":1,\"text\":\"changed\"}\n")?;
/// let problems = tabula::verify(&path)?;
/// assert!(problems[0].to_string().contains("note.records"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(path: impl AsRef<Path>) -> Result<Vec<Problem>> {
    verify_with(&StdFs, path.as_ref())
}

pub(crate) fn verify_with(fs: &dyn FileSystem, root: &Path) -> Result<Vec<Problem>> {
    Ok(inspect(fs, root)?.problems)
}
