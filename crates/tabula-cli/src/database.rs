//! Opening a database for a command (read-only for the commands that only read, with the
//! lock for those that write), and what a write command does once it has committed.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use tabula::Database;

use crate::output;

/// Opens the database for a command that writes: takes the directory's lock (a process
/// that has it open makes this `Error::Locked`, which says so).
pub fn open(dir: &Path) -> anyhow::Result<Database> {
    must_be_database(dir)?;
    let db = Database::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    warn_recovered(&db);
    Ok(db)
}

/// Opens the database for a command that only reads: no lock, nothing written, so it works
/// on a database another process has open and on a directory this user may only read.
pub fn open_read_only(dir: &Path) -> anyhow::Result<Database> {
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
pub fn while_created<T>(
    dir: &Path,
    mut read: impl FnMut() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
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

/// The statistics `tables` and `stats` print: `stats()` with exact row counts, where a
/// table not yet loaded is counted from its checkpoint, so the ones with log records since
/// (a live database's, say) or a damaged snapshot are loaded first. One that does not load
/// keeps the manifest's figures, marked damaged with why, and its error is returned beside
/// them, so that one damaged table hides neither the others nor itself.
pub fn stats_of_what_loads(db: &Database) -> anyhow::Result<(tabula::Stats, Vec<tabula::Error>)> {
    let mut failed = Vec::new();
    for t in db.stats()?.tables {
        if !t.loaded && (t.pending_records > 0 || t.damaged.is_some()) {
            if let Err(e) = db.dyn_table(&t.name) {
                failed.push((t.name, e));
            }
        }
    }
    let mut stats = db.stats()?;
    for t in &mut stats.tables {
        if let Some((_, e)) = failed.iter().find(|(name, _)| *name == t.name) {
            t.damaged.get_or_insert_with(|| e.to_string());
        }
    }
    Ok((stats, failed.into_iter().map(|(_, e)| e).collect()))
}

/// [`stats_of_what_loads`], failing with the first table's error that does not load (its
/// load's error names the damage, rather than its manifest's count shown as the table's).
pub fn exact_stats(db: &Database) -> anyhow::Result<tabula::Stats> {
    let (stats, failed) = stats_of_what_loads(db)?;
    match failed.into_iter().next() {
        Some(e) => Err(e.into()),
        None => Ok(stats),
    }
}

pub fn must_be_database(dir: &Path) -> anyhow::Result<()> {
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
pub fn warn_recovered(db: &Database) {
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

/// Removes what a failed command created in a database directory (best effort: the
/// command's error is what the user needs to see), the lock file last: removed first,
/// another opener would make a new one, find the directory locked and leave it behind.
pub fn empty_out(dir: &Path) {
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
pub fn clean_while_held(db: Database, clean: impl FnOnce()) {
    if cfg!(unix) {
        clean();
        drop(db);
    } else {
        drop(db);
        clean();
    }
}

/// A write command committed, then something after it failed: exit 3, not 2 (which says
/// nothing changed), so that a script does not run the write again.
#[derive(Debug)]
pub enum Committed {
    /// Closing the database (its checkpoint) failed.
    CheckpointAtClose,
    /// Writing the command's output failed (a full disk, say).
    Output,
    /// A statement of a `sql` text failed after earlier ones committed.
    LaterStatement,
    /// A repair failed after it began rewriting files; its marker names the backup.
    RepairStopped(String),
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
            Committed::RepairStopped(backup) => {
                return write!(
                    f,
                    "repair stopped after it began rewriting files: every file as it was is \
                     in its backup {backup}, and REPAIRING marks the directory, which the \
                     other commands refuse until a repair finishes; remove the cause, then \
                     run repair again (it starts over from that backup)"
                );
            }
        })
    }
}

impl std::error::Error for Committed {}

/// Closes the database after a committed write; a failure is exit 3, not 2.
pub fn close_after_commit(db: &Database) -> anyhow::Result<()> {
    db.close()
        .map_err(|e| anyhow::Error::new(e).context(Committed::CheckpointAtClose))
}
