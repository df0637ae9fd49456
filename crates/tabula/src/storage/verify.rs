//! `verify`: reads every file of a database directory without changing any, and reports
//! every problem with its file and line (see [`inspect`](crate::storage::inspect) for what
//! is checked).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::fs::{FileSystem, StdFs};
use crate::storage::inspect::{inspect, Inspection};
use crate::storage::layout::Layout;

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file at fault.
    #[serde(serialize_with = "crate::path_text::serialize")]
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
/// not a database is `Error::NotADatabase`. Beside a process writing the database, a
/// checkpoint can replace files while they are read: `verify` then reads again, until one
/// reading begins and ends with the same manifest and the same files in `data/` and `wal/`
/// (commits appended to the log meanwhile are fine: it reads whole lines). After many
/// tries with the directory still changing it reports the problems every reading that
/// completed found (a file replaced while it was read is damaged in one reading only; a
/// file's own damage is in each), with a last problem saying so.
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

/// Readings tried before the problems common to all of them are reported.
const ATTEMPTS: u32 = 50;

pub(crate) fn verify_with(fs: &dyn FileSystem, root: &Path) -> Result<Vec<Problem>> {
    let mut attempt = 0;
    // The problems found by every reading so far that the directory changed under: a file
    // replaced while it was read shows as damage in one reading (a checksum, a row count)
    // and not in the next, where the damage a file really has is in each.
    let mut in_every: Option<Vec<Problem>> = None;
    loop {
        attempt += 1;
        let before = shape(fs, root);
        let reading = inspect(fs, root);
        let still = before.is_some() && shape(fs, root) == before;
        // A file that vanished mid-read (a checkpoint's staged file renamed) is the
        // directory changing too.
        let vanished = matches!(&reading, Err(Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound);
        if still && !vanished {
            return Ok(without_live_tail(fs, root, reading?));
        }
        if let Ok(r) = &reading {
            in_every = Some(match in_every {
                None => r.problems.clone(),
                Some(so_far) => so_far
                    .into_iter()
                    .filter(|p| r.problems.contains(p))
                    .collect(),
            });
        }
        if attempt >= ATTEMPTS {
            // Only readings that failed whole (a file vanished each time): the last error.
            let Some(mut problems) = in_every else {
                return Ok(reading?.problems);
            };
            if !problems.is_empty() {
                // Said, so that the reader knows no reading held still.
                problems.push(Problem {
                    file: root.to_path_buf(),
                    line: 0,
                    message: format!(
                        "the directory changed during each of {ATTEMPTS} readings (a process \
                         is writing it); the problems above were found by every reading that \
                         completed"
                    ),
                });
            }
            return Ok(problems);
        }
        std::thread::sleep(std::time::Duration::from_millis(u64::from(attempt.min(20))));
    }
}

/// The problems of `reading`, but that a last log line without its newline is no problem
/// while a writer has the database open: it is the commit the writer is writing (a
/// writable open cuts a crash's unfinished tail off before it writes, so a writer's log
/// ends with no other), which the read-only open leaves out too. Whether a writer has it
/// open is asked of the lock, taken and given back at once when no one holds it; where it
/// cannot be asked (a directory this user may only read), the line stays reported.
fn without_live_tail(fs: &dyn FileSystem, root: &Path, mut reading: Inspection) -> Vec<Problem> {
    if let Some(i) = reading.unfinished_tail {
        if held_by_a_writer(fs, root) {
            reading.problems.remove(i);
        }
    }
    reading.problems
}

/// Whether another holder has the database at `root` open for writing (its lock is held):
/// the lock is taken and given back at once when no one holds it; `false` where it cannot
/// be asked (a directory this user may only read).
pub(crate) fn held_by_a_writer(fs: &dyn FileSystem, root: &Path) -> bool {
    let lock = Layout::new(root).lock();
    fs.exists(&lock) && matches!(fs.try_lock(&lock), Ok(None))
}

/// What a checkpoint (or a migration) changes: the manifest's bytes and the names of the
/// files in `schema/`, `data/` and `wal/` (`None` if the manifest cannot be read or a directory cannot be listed).
fn shape(fs: &dyn FileSystem, root: &Path) -> Option<(Option<Vec<u8>>, Vec<PathBuf>)> {
    let layout = Layout::new(root);
    let manifest = layout.manifest();
    let bytes = if fs.exists(&manifest) {
        Some(fs.read(&manifest).ok()?)
    } else {
        None
    };
    let mut files = Vec::new();
    for dir in [layout.schema_dir(), layout.data_dir(), layout.wal_dir()] {
        if fs.exists(&dir) {
            match fs.list(&dir) {
                Ok(listed) => files.extend(listed),
                // Not a directory (a file in its place): the same on every reading, and
                // the reading reports it.
                Err(_) if fs.len(&dir).is_ok() => files.push(dir),
                Err(_) => return None,
            }
        }
    }
    files.sort();
    Some((bytes, files))
}
