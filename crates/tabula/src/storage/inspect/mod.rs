//! Reading a whole database directory without changing it, the way `verify` and `repair`
//! both need it: every file checked, every problem found with its file and line, and the
//! rows that survive rebuilt table by table (snapshot rows, then every readable log record
//! replayed over them, then the constraints checked across tables). `verify` reports the
//! problems; `repair` writes the rebuilt tables back. Sharing one reading is what makes
//! them agree: what `verify` calls healthy opens, and what `repair` leaves verifies clean.
//!
//! [`inspect`] runs the steps in order; each module holds one: the schemas, the snapshots,
//! the live log's replay, the archived segments, the foreign keys, over the rebuilt
//! [`TableState`] of each table.

mod archives;
mod foreign_keys;
mod replay;
mod schemas;
mod snapshots;
mod table_state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::directory::{is_database, lost_log, newer_segment, odd_temporaries};
use crate::storage::fs::{FileSystem, OddEntry};
use crate::storage::layout::Layout;
use crate::storage::manifest::Manifest;
use crate::storage::verify::Problem;
use crate::storage::wal::scan::lines;

use archives::{
    check_archived_segments, lsns_of_archived_segments, next_keys_from_archives,
    recover_from_archives,
};
use foreign_keys::check_foreign_keys;
use replay::{replay_log, report_set_aside_logs};
use schemas::{
    check_listed_tables, quarantine_unreadable, read_schema_files, tables_created_in_log,
};
use snapshots::{find_snapshots, read_snapshots, snapshots_of_listed_tables};
pub(crate) use table_state::TableState;

/// Where a table's schema was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchemaSource {
    /// Its schema file.
    File,
    /// The log record that created it, in the log or in an archived segment of it (its
    /// schema file is missing or damaged).
    Log,
}

/// A row that could not be kept, and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DroppedRow {
    pub(crate) file: PathBuf,
    pub(crate) line: u64,
    pub(crate) reason: String,
}

/// What reading a directory found.
#[derive(Debug, Default)]
pub(crate) struct Inspection {
    pub(crate) problems: Vec<Problem>,
    /// The manifest, when it is present and sound.
    pub(crate) manifest: Option<Manifest>,
    pub(crate) tables: BTreeMap<String, TableState>,
    /// Tables with stored rows but no readable schema anywhere: repair sets their files
    /// aside, and the others open.
    pub(crate) quarantined: BTreeMap<String, Vec<PathBuf>>,
    /// Damaged log lines (their table cannot be known).
    pub(crate) log_dropped: Vec<DroppedRow>,
    /// The last LSN found, in the manifest or the log.
    pub(crate) last_lsn: u64,
    /// Archived log segments with damage (reported): repair removes them, once they are
    /// in its backup.
    pub(crate) damaged_segments: Vec<PathBuf>,
    /// The problem (its index in `problems`) of a last log line without its newline: a
    /// crash's unfinished commit, or, while a writer has the database open, the commit
    /// it is writing (see `verify`).
    pub(crate) unfinished_tail: Option<usize>,
    /// Files that exist but cannot be read (permission denied, say), each reported as a
    /// problem. Unreadable is not damaged: their rows may all be there, so `verify` goes on
    /// to the other files and `repair` refuses, rather than rebuild without them.
    pub(crate) unreadable: Vec<(PathBuf, std::io::Error)>,
    /// The tables those files belong to: what their rows or schema are is not known, so
    /// nothing is concluded from their absence (a foreign key naming no row of one, a log
    /// record of one, a table referencing one).
    pub(crate) unreadable_tables: BTreeSet<String>,
}

impl Inspection {
    /// A log line none of whose rows can be kept: reported, and listed as dropped.
    fn drop_log_line(&mut self, file: &Path, line: u64, reason: String) {
        self.log_dropped.push(DroppedRow {
            file: file.to_path_buf(),
            line,
            reason: reason.clone(),
        });
        self.problem(file, line, reason);
    }

    /// A file that exists and cannot be read: reported, and kept for `repair` to refuse.
    fn unreadable(&mut self, file: &Path, table: Option<&str>, what: &str, e: std::io::Error) {
        if let Some(table) = table {
            self.unreadable_tables.insert(table.to_owned());
        }
        // A directory or a pipe in the file's place reads as "not a regular file".
        let then = if e.to_string().contains("not a regular file") {
            "move it aside or remove it: `repair` refuses while it is there"
        } else {
            "`repair` refuses until it can be read"
        };
        self.problem(file, 0, format!("cannot read {what}: {e}; {then}"));
        self.unreadable.push((file.to_path_buf(), e));
    }

    fn problem(&mut self, file: &Path, line: u64, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        });
    }
}

/// Reads every file of the database at `root`; see the module documentation. The steps
/// below run in this order because each reads what the ones before found: the manifest
/// decides which snapshot and schema files count, the schema files and the log's creations
/// which tables there are, the snapshots their rows before the log is replayed over them.
pub(crate) fn inspect(fs: &dyn FileSystem, root: &Path) -> Result<Inspection> {
    if !is_database(fs, root) {
        return Err(Error::NotADatabase {
            path: root.to_path_buf(),
        });
    }
    let layout = Layout::new(root);
    let mut out = Inspection::default();
    check_markers(&mut out, fs, &layout);
    check_temporary_names(&mut out, fs, &layout)?;
    read_manifest(&mut out, fs, &layout)?;
    let manifest_lsn = out.manifest.as_ref().map_or(0, |m| m.lsn);
    out.last_lsn = manifest_lsn;
    let snapshots = find_snapshots(&mut out, fs, &layout)?;
    report_set_aside_logs(&mut out, fs, &layout)?;
    let schemas = read_schema_files(&mut out, fs, &layout, manifest_lsn)?;

    // With the manifest older than the files, it knows less of the next keys than the
    // segments after it do.
    let mut older_manifest = false;
    if out.manifest.is_some() {
        if let Some((p, reason)) = newer_segment(fs, &layout, manifest_lsn)? {
            out.problem(&p, 0, reason);
            older_manifest = true;
        }
    }
    let wal_path = layout.wal();
    let log_bytes = if fs.exists(&wal_path) {
        read(fs, &wal_path)?
    } else {
        if fs.odd_entry(&wal_path) == Some(OddEntry::Link) {
            // A link to no file is not a lost log: what it held may be where it pointed.
            let e = std::io::Error::from(std::io::ErrorKind::NotFound);
            out.unreadable(&wal_path, None, "the log", behind_link(fs, &wal_path, e));
        } else if let Some(reason) = lost_log(fs, &layout, manifest_lsn) {
            out.problem(&wal_path, 0, reason);
        }
        Vec::new()
    };
    // The log, read once: a table whose schema file is gone may be created in it.
    let log = lines(&log_bytes, manifest_lsn);
    tables_created_in_log(&mut out, &layout, &log, manifest_lsn);
    recover_from_archives(
        &mut out,
        fs,
        &layout,
        &schemas.disagreeing,
        &snapshots,
        &log,
    );
    check_listed_tables(&mut out, &layout, &schemas);
    snapshots_of_listed_tables(&mut out, fs, &layout, &snapshots, manifest_lsn);
    read_snapshots(
        &mut out,
        fs,
        &layout,
        &snapshots,
        manifest_lsn,
        &schemas.unreadable,
    )?;
    quarantine_unreadable(&mut out, fs, &layout, &schemas.unreadable);
    replay_log(&mut out, fs, &layout, &log, &log_bytes, manifest_lsn);
    lsns_of_archived_segments(&mut out, fs, &layout)?;
    check_archived_segments(&mut out, fs, &layout)?;
    // `manifest_lsn` is the sound manifest's LSN, 0 without one.
    if out.manifest.is_none() || older_manifest {
        next_keys_from_archives(&mut out, fs, &layout, manifest_lsn)?;
    }
    check_foreign_keys(&mut out, &layout);
    only_unreadable(&mut out);
    Ok(out)
}

/// A read of `path` that failed with `e`, sorted: `Ok` with the error to report when the
/// file is there and unreadable (another user's, or a link, a directory or a pipe in its
/// place: repair refuses while it is so, as its rows may all be there), `Err(e)` otherwise.
fn unreadable_cause(
    fs: &dyn FileSystem,
    path: &Path,
    e: std::io::Error,
) -> std::result::Result<std::io::Error, std::io::Error> {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        return Ok(e);
    }
    match fs.odd_entry(path) {
        Some(OddEntry::Link) => Ok(behind_link(fs, path, e)),
        Some(_) => Ok(e),
        None => Err(e),
    }
}

/// The error of reading through the symbolic link at `path` (`e`), as what is in the
/// file's place.
fn behind_link(fs: &dyn FileSystem, path: &Path, e: std::io::Error) -> std::io::Error {
    // Followed, it leads to nothing, or back to itself.
    let what = if !fs.exists(path) {
        "a symbolic link that leads to no file is in its place".to_owned()
    } else {
        format!("a symbolic link is in its place, and reading through it failed: {e}")
    };
    std::io::Error::new(e.kind(), format!("not a regular file: {what}"))
}

/// A file that cannot be read is reported as that alone: how repair would rebuild it
/// without its bytes is moot, as repair refuses until it can be read.
fn only_unreadable(out: &mut Inspection) {
    if out.unreadable.is_empty() {
        return;
    }
    let tail = out.unfinished_tail.map(|i| out.problems[i].clone());
    let files: Vec<PathBuf> = out.unreadable.iter().map(|(p, _)| p.clone()).collect();
    out.problems
        .retain(|p| !files.contains(&p.file) || p.message.starts_with("cannot read"));
    out.unfinished_tail = tail.and_then(|t| out.problems.iter().position(|p| *p == t));
}

/// A file's bytes, an error naming it if they cannot be read.
fn read(fs: &dyn FileSystem, p: &Path) -> Result<Vec<u8>> {
    fs.read(p).map_err(|e| Error::io(p, e))
}

/// An interrupted repair's marker, and a lock file that is no file.
fn check_markers(out: &mut Inspection, fs: &dyn FileSystem, layout: &Layout) {
    let marker = layout.repairing();
    if fs.exists(&marker) {
        out.problem(
            &marker,
            0,
            "a repair was interrupted before it finished; run repair again (it starts over \
             from the backup this file names)",
        );
    }

    // The lock file: anything else in its place keeps every writer out.
    let lock = layout.lock();
    if fs.is_special(&lock) || fs.list(&lock).is_ok() {
        out.problem(
            &lock,
            0,
            "not a regular file: no process can open the database to write it (taking its \
             lock fails); remove it, and the next writer makes it anew",
        );
    }
}

/// What is no regular file at a temporary file's name (`*.tmp`, or a staged log
/// `wal/transaction.<lsn>.next`). An open for writing removes what it finds there as a
/// checkpoint's leftover, and cannot remove a directory, so no writer can open the
/// database; repair writes there, and refuses to write through a link or a pipe.
fn check_temporary_names(out: &mut Inspection, fs: &dyn FileSystem, layout: &Layout) -> Result<()> {
    for (p, odd) in odd_temporaries(fs, layout)? {
        let why = if odd == OddEntry::Directory {
            "which an open for writing removes and cannot remove this (no process can open \
             the database to write it); move it aside"
        } else {
            "which the next open for writing removes, and repair refuses to write through; \
             remove it"
        };
        out.problem(
            &p,
            0,
            format!(
                "not a regular file: {} is in the place of a temporary file, {why}",
                odd.what()
            ),
        );
    }
    Ok(())
}

/// The manifest, into `out.manifest` when it reads.
fn read_manifest(out: &mut Inspection, fs: &dyn FileSystem, layout: &Layout) -> Result<()> {
    let manifest_path = layout.manifest();
    if fs.exists(&manifest_path) {
        match Manifest::parse(&read(fs, &manifest_path)?) {
            Ok(m) => out.manifest = Some(m),
            Err((line, reason)) => out.problem(&manifest_path, line, reason),
        }
    } else if fs.odd_entry(&manifest_path) == Some(OddEntry::Link) {
        // A link to no file is not a missing manifest (repair would rebuild one over it):
        // reported as what it is, and the problems of a missing one with it left out.
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        out.unreadable(
            &manifest_path,
            None,
            "the manifest",
            behind_link(fs, &manifest_path, e),
        );
    }
    Ok(())
}
