//! `repair`: rebuilds a damaged database directory from what survives, after copying every
//! file to a backup that it checks. It never writes a table with fewer rows than it could
//! read, and it reports, per table, the rows before, recovered and dropped, and where each
//! dropped row's bytes are kept.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::storage::codec::RowCodec;
use crate::storage::directory::{is_database, odd_temporaries};
use crate::storage::fs::{FileSystem, OddEntry, StdFs};
use crate::storage::inspect::{inspect, Inspection, SchemaSource};
use crate::storage::layout::{Layout, DAMAGED};
use crate::storage::manifest::{crc_hex, Manifest, TableEntry, FORMAT};
use crate::storage::recover::{create_dirs, take_lock};
use crate::storage::verify::Problem;
use crate::storage::wal::MAX_LSN;
use crate::storage::{write_atomic_with, SchemaFile};

/// How [`repair`] runs.
#[derive(Debug, Clone, Default)]
pub struct RepairOptions {
    /// The directory the backup is made in (default: the database directory's parent). It
    /// may not lie inside the database directory.
    pub backup_dir: Option<PathBuf>,
}

/// A row repair could not keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedRow {
    /// The file (in the backup) that holds its bytes.
    #[serde(serialize_with = "crate::path_text::serialize")]
    pub file: PathBuf,
    /// The 1-based line in that file (0: the whole file, or a row of the rebuilt table).
    pub line: u64,
    /// Why it was dropped.
    pub reason: String,
}

/// What repair did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRepair {
    /// The table.
    pub table: String,
    /// Rows its last checkpoint held, when a sound manifest says.
    pub rows_before: Option<u64>,
    /// Rows it holds now (the snapshot's readable rows with the log replayed over them).
    pub rows_recovered: u64,
    /// Rows or log entries of it that were read but could not be kept (listed in `dropped`).
    pub rows_dropped: u64,
    /// Rows the manifest promised that no bytes are left of in the snapshot (a truncated
    /// snapshot). A row the log wrote whole again since is back all the same, and counts in
    /// `rows_recovered` too.
    pub rows_missing: u64,
    /// Whether its schema came from the log (the record that created the table, in the log
    /// or an archived segment) because its schema file was missing or damaged.
    pub schema_from_log: bool,
    /// Whether its snapshot's checksum did not match a sound manifest's: the rows read
    /// from it are kept as they were found (every readable line), but nothing vouches that
    /// they are the rows the checkpoint wrote. The file as it was is in the backup.
    pub snapshot_unverified: bool,
    /// Each dropped row, and where its bytes are kept.
    pub dropped: Vec<DroppedRow>,
}

/// What [`repair`] found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// The problems `verify` found before.
    pub problems: Vec<Problem>,
    /// Where every file was copied before anything changed (`None` when nothing needed
    /// repair, and nothing changed), with this report in its `REPAIR-REPORT.json` (but for
    /// `remaining`), written before any file changed. After an interrupted repair, this is
    /// a copy of the half-rebuilt directory; the files as they were are in the first
    /// repair's backup, which the first problem names.
    #[serde(serialize_with = "crate::path_text::serialize_option")]
    pub backup: Option<PathBuf>,
    /// Per table, what was recovered and dropped.
    pub tables: Vec<TableRepair>,
    /// Tables with no readable schema anywhere: their files were moved to
    /// `<dir>/quarantine/` (and are in the backup), and the other tables open.
    pub quarantined: Vec<String>,
    /// Damaged log lines that were dropped (their table cannot be known); their bytes are
    /// in the backup's `wal/transaction.log`.
    pub log_dropped: Vec<DroppedRow>,
    /// What `verify` finds after the repair (empty when it succeeded).
    pub remaining: Vec<Problem>,
}

impl RepairReport {
    /// Whether the database verifies clean now.
    pub fn is_clean(&self) -> bool {
        self.remaining.is_empty()
    }
}

/// Repairs the database directory at `path`: see the module documentation and
/// `docs/RECOVERY.md`. Takes the directory's lock (`Error::Locked` while a process has it
/// open); a path that is not a database is `Error::NotADatabase`. If the backup cannot be
/// written and checked, nothing is changed.
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
/// std::fs::remove_file(path.join("manifest.json"))?;
/// let report = tabula::repair(&path, tabula::RepairOptions::default())?;
/// assert!(report.is_clean());
/// assert_eq!(report.tables[0].rows_recovered, 1);
/// assert!(report.backup.unwrap().exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn repair(path: impl AsRef<Path>, options: RepairOptions) -> Result<RepairReport> {
    let path = path.as_ref();
    if !is_database(&StdFs, path) {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    // Resolved, so that `repair .` has a name and a parent to put the backup beside.
    let root = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    let options = RepairOptions {
        backup_dir: match options.backup_dir {
            // Made only once a backup is needed, and never inside the database.
            Some(d) => Some(resolved(&d).map_err(|e| Error::io(&d, e))?),
            None => None,
        },
    };
    repair_with(&StdFs, &root, &options)
}

pub(crate) fn repair_with(
    fs: &dyn FileSystem,
    root: &Path,
    options: &RepairOptions,
) -> Result<RepairReport> {
    let layout = Layout::new(root);
    let _lock = take_lock(fs, &layout.lock(), root)?;
    // A repair cut short left the directory half rebuilt (some snapshots new, the log and
    // manifest old): reading it again would replay the log over rows that already hold it.
    // The files as they were before it are in its backup; this repair starts from there.
    let interrupted = interrupted_repair(fs, &layout)?;
    let source = interrupted.as_deref().unwrap_or(root);
    let mut found = inspect(fs, source)?;
    // What cannot be read may hold every row: rebuilt without it, they would be gone.
    if let Some((path, e)) = found.unreadable.drain(..).next() {
        return Err(unreadable_refusal(&path, e));
    }
    if let Some(first) = &interrupted {
        found.problems.insert(
            0,
            Problem {
                file: layout.repairing(),
                line: 0,
                message: format!(
                    "a repair was interrupted before it finished; repaired again from its \
                     backup {}",
                    first.display()
                ),
            },
        );
    }
    let mut report = RepairReport {
        problems: found.problems.clone(),
        backup: None,
        tables: Vec::new(),
        quarantined: found.quarantined.keys().cloned().collect(),
        log_dropped: Vec::new(),
        remaining: Vec::new(),
    };
    if found.problems.is_empty() {
        return Ok(report);
    }
    refuse_wrong_kinds(fs, &layout, &found)?;
    let backup = make_backup(fs, root, options.backup_dir.as_deref())?;
    // Rows found in the directory are kept in the new backup; rows found in an interrupted
    // repair's backup are kept there already.
    let in_backup = |p: &Path| {
        p.strip_prefix(root)
            .map_or_else(|_| p.to_path_buf(), |rel| backup.join(rel))
    };
    let dropped = |rows: &[crate::storage::inspect::DroppedRow]| -> Vec<DroppedRow> {
        rows.iter()
            .map(|d| DroppedRow {
                file: in_backup(&d.file),
                line: d.line,
                reason: d.reason.clone(),
            })
            .collect()
    };
    report.log_dropped = dropped(&found.log_dropped);
    for (name, t) in &found.tables {
        report.tables.push(TableRepair {
            table: name.clone(),
            rows_before: t.expected,
            rows_recovered: t.len(),
            rows_dropped: t.dropped.len() as u64,
            rows_missing: t.missing,
            schema_from_log: t.source == SchemaSource::Log,
            snapshot_unverified: t.snapshot_mismatch,
            dropped: dropped(&t.dropped),
        });
    }
    if interrupted.is_none() {
        let marker = serde_json::json!({ "backup": backup.to_string_lossy() });
        let mut bytes = serde_json::to_vec_pretty(&marker).map_err(|e| Error::Json {
            context: "the repair marker".into(),
            source: e,
        })?;
        bytes.push(b'\n');
        write_atomic_with(fs, &layout.repairing(), &bytes)?;
    }
    report.backup = Some(backup.clone());
    // What this repair drops, kept beside the files as they were before anything changes:
    // a repair killed once it has committed (after the marker is gone, before its report
    // is printed) would otherwise leave the rows it dropped reported nowhere, and the
    // next repair finds nothing to report.
    let mut report_bytes = serde_json::to_vec_pretty(&report).map_err(|e| Error::Json {
        context: "the repair report".into(),
        source: e,
    })?;
    report_bytes.push(b'\n');
    write_atomic_with(fs, &backup.join(REPORT), &report_bytes)?;
    write_rebuilt(fs, &layout, source, &found)?;
    let marker = layout.repairing();
    fs.remove(&marker).map_err(|e| Error::io(&marker, e))?;
    fs.sync_dir(root).map_err(|e| Error::io(root, e))?;
    report.remaining = inspect(fs, root)?.problems;
    Ok(report)
}

/// The file in a repair's backup that holds its report (`RepairReport` as JSON, but for
/// `remaining`, which only the finished repair knows), written before any file changes.
pub(crate) const REPORT: &str = "REPAIR-REPORT.json";

/// Refuses, before anything is backed up or changed, an entry of the wrong kind where the
/// repair writes, reads or removes: a directory, a pipe or a device where a file goes (a
/// snapshot, a schema file, the manifest, the log, a quarantined table's file, an entry of
/// `data/`), or a file where `schema/`, `data/`, `wal/` or `quarantine/` goes. The rewrite
/// would fail halfway on it, leaving a directory every tool refuses, so it is the person's
/// to move aside first (`Error::Io` naming it).
fn refuse_wrong_kinds(fs: &dyn FileSystem, layout: &Layout, found: &Inspection) -> Result<()> {
    let refused = |path: &Path, what: &str| {
        Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{what} stands where repair writes; move it aside, then repair again"),
            ),
        )
    };
    let data_dir = layout.data_dir();
    let quarantine = layout.root.join(QUARANTINE);
    for dir in [
        layout.schema_dir(),
        data_dir.clone(),
        layout.wal_dir(),
        quarantine,
    ] {
        if fs.exists(&dir) && fs.list(&dir).is_err() {
            return Err(refused(&dir, "a file, not a directory,"));
        }
    }
    let mut files = vec![layout.manifest(), layout.wal()];
    for name in found.tables.keys() {
        files.push(layout.schema(name));
        files.push(layout.records(name));
    }
    files.extend(found.quarantined.values().flatten().cloned());
    files.extend(fs.list(&data_dir).unwrap_or_default());
    // What repair reads or removes in `schema/` and `wal/` (schema files, the log, archived
    // and damaged segments), not whatever else is there (`lost+found` on a mount point).
    let named = |p: &PathBuf, prefix: &str, suffix: &str| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
    };
    for p in fs.list(&layout.schema_dir()).unwrap_or_default() {
        if named(&p, "", ".schema.json") {
            files.push(p);
        }
    }
    for p in fs.list(&layout.wal_dir()).unwrap_or_default() {
        if named(&p, "transaction.", "") {
            files.push(p);
        }
    }
    for f in files {
        if fs.exists(&f) && (fs.is_special(&f) || fs.list(&f).is_ok()) {
            return Err(refused(&f, "a directory, pipe or device, not a file,"));
        }
    }
    // A symbolic link to nothing (its target's disk gone, or a loop) where the backup reads:
    // the backup could not copy it, and would stop halfway.
    for dir in [
        layout.root.clone(),
        layout.schema_dir(),
        data_dir,
        layout.wal_dir(),
        layout.root.join(QUARANTINE),
    ] {
        for p in fs.list(&dir).unwrap_or_default() {
            if fs.odd_entry(&p) == Some(OddEntry::Link) && !fs.exists(&p) {
                return Err(refused(
                    &p,
                    "a symbolic link to nothing (what it names is missing or is a loop)",
                ));
            }
        }
    }
    // Temporary names, which repair writes (and never through a link or a pipe).
    if let Some((p, odd)) = odd_temporaries(fs, layout)?.into_iter().next() {
        return Err(refused(&p, &format!("{}, not a file,", odd.what())));
    }
    Ok(())
}

/// The backup an interrupted repair names, if its marker is there. A marker whose backup
/// cannot be found is an error: repairing the half-rebuilt directory as it is would replay
/// the log over rows that already hold it, and the files as they were are only in that
/// backup.
fn interrupted_repair(fs: &dyn FileSystem, layout: &Layout) -> Result<Option<PathBuf>> {
    let path = layout.repairing();
    let bytes = match fs.read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let named = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|m| Some(PathBuf::from(m.get("backup")?.as_str()?)));
    match named {
        Some(backup) if is_database(fs, &backup) => Ok(Some(backup)),
        named => Err(Error::corrupt(
            &path,
            0,
            format!(
                "a repair was interrupted, and the backup it made of the files as they were \
                 ({}) is not there: put it back and repair again, or remove this file to \
                 repair the half-rebuilt directory as it is (rows may then be reported \
                 dropped that are not lost)",
                named.map_or_else(|| "unreadable name".into(), |b| b.display().to_string())
            ),
        )),
    }
}

/// `path` with its symbolic links and `..` resolved as far as it exists, the rest (the
/// directories still to make) joined on, so that it can be compared with the database's
/// own path before anything is created.
fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            // `..` after a directory that does not exist: where it leads is not known
            // until that directory is made, so it is refused rather than guessed.
            _ if existing.ends_with("..") => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "`..` follows a directory that does not exist; name the backup \
                     directory without it",
                ))
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(existing)?;
    out.extend(rest.iter().rev());
    Ok(out)
}

/// Copies every file of the database (not its lock) to a new directory
/// `<parent>/<name>.backup-<UTC time>-<n>`, and reads each copy back to check it.
fn make_backup(fs: &dyn FileSystem, root: &Path, dir: Option<&Path>) -> Result<PathBuf> {
    let parent = match dir {
        Some(d) => d.to_path_buf(),
        None => root
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    if parent.starts_with(root) {
        return Err(Error::io(
            &parent,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the backup may not go inside the database directory it backs up",
            ),
        ));
    }
    // Nor inside another database: its files are its own, and a repair of it would find
    // the backup among them.
    let holds_database = |dir: &Path| {
        let other = Layout::new(dir);
        fs.exists(&other.lock()) && (fs.exists(&other.wal()) || fs.exists(&other.manifest()))
    };
    if let Some(other) = parent.ancestors().find(|a| holds_database(a)) {
        return Err(Error::io(
            &parent,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the backup may not go inside another database directory ({}); \
                     choose another backup directory",
                    other.display()
                ),
            ),
        ));
    }
    let not_a_directory = |e: std::io::Error| e.kind() == std::io::ErrorKind::NotADirectory;
    if fs.exists(&parent) && fs.list(&parent).is_err_and(not_a_directory) {
        return Err(Error::io(
            &parent,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a directory: the backup goes into a directory (made if missing)",
            ),
        ));
    }
    let layout = Layout::new(root);
    let dirs = [
        layout.root.clone(),
        layout.schema_dir(),
        layout.data_dir(),
        layout.wal_dir(),
        root.join(QUARANTINE),
    ];
    // Directories (`lost+found`, readable or not), and pipes and devices at names that are
    // not repair's (at its own names `refuse_wrong_kinds` refused them): no file of the
    // database, and nothing that reads.
    let copied = |file: &Path| {
        !(file == layout.lock()
            || fs.list(file).is_ok()
            || fs.odd_entry(file) == Some(OddEntry::Directory)
            || fs.is_special(file))
    };
    // Every file opens before the backup is begun: one that does not (another user's)
    // would stop the copy halfway, leaving a partial backup.
    for dir in &dirs {
        let Ok(files) = fs.list(dir) else { continue };
        for file in files.iter().filter(|f| copied(f)) {
            fs.read_from(file, fs.len(file).unwrap_or(0))
                .map_err(|e| unreadable_refusal(file, e))?;
        }
    }
    fs.create_dir_all(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    // As text: the interrupted-repair marker names the backup in JSON, which holds text
    // only, so a name that is not UTF-8 is the backup's with U+FFFD in its place.
    let name = root
        .file_name()
        .map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
    let stamp = utc_stamp(std::time::SystemTime::now());
    let mut n = 1u32;
    let backup = loop {
        let candidate = parent.join(format!("{name}.backup-{stamp}-{n}"));
        match fs.create_dir(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(Error::io(&candidate, e)),
        }
    };
    // Every directory first, then the backup's own entries made durable: a power loss after
    // the repair must not take a subdirectory of the backup with it.
    for dir in &dirs {
        if fs.list(dir).is_ok() {
            let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
            let to_dir = backup.join(rel);
            fs.create_dir_all(&to_dir)
                .map_err(|e| Error::io(&to_dir, e))?;
        }
    }
    fs.sync_dir(&backup).map_err(|e| Error::io(&backup, e))?;
    for dir in &dirs {
        let Ok(files) = fs.list(dir) else { continue };
        let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
        let to_dir = backup.join(rel);
        for file in files {
            let Some(file_name) = file.file_name() else {
                continue;
            };
            if !copied(&file) {
                continue;
            }
            let bytes = fs.read(&file).map_err(|e| Error::io(&file, e))?;
            let to = to_dir.join(file_name);
            fs.write_synced(&to, &[&bytes])
                .map_err(|e| Error::io(&to, e))?;
            let back = fs.read(&to).map_err(|e| Error::io(&to, e))?;
            if crc_hex(&back) != crc_hex(&bytes) || back.len() != bytes.len() {
                return Err(Error::corrupt(
                    &to,
                    0,
                    "the backup copy does not read back as written; nothing was changed",
                ));
            }
        }
        fs.sync_dir(&to_dir).map_err(|e| Error::io(&to_dir, e))?;
    }
    fs.sync_dir(&parent).map_err(|e| Error::io(&parent, e))?;
    Ok(backup)
}

/// Repair's refusal of a file it cannot read (`e`), saying what to do first.
fn unreadable_refusal(path: &Path, e: std::io::Error) -> Error {
    let advice = if e.to_string().contains("not a regular file") {
        "move it aside, then repair again"
    } else {
        "repair backs up every file before it changes one: make this one readable, then \
         repair again"
    };
    Error::io(
        path,
        std::io::Error::new(e.kind(), format!("{e}; {advice}")),
    )
}

/// Where repair moves the files of a table whose schema cannot be found.
const QUARANTINE: &str = "quarantine";

/// Writes the rebuilt tables: schema files, snapshots, then the manifest (the commit point),
/// then an empty log (every record is in the snapshots now). Quarantined tables' files are
/// set aside first: copied from `source` (the directory, or an interrupted repair's backup)
/// to `<dir>/quarantine/`, then removed from the directory.
fn write_rebuilt(
    fs: &dyn FileSystem,
    layout: &Layout,
    source: &Path,
    found: &Inspection,
) -> Result<()> {
    // A directory removed by hand (`wal/`, say) is made again: the rebuilt files go in it.
    create_dirs(fs, layout)?;
    let quarantine = layout.root.join(QUARANTINE);
    for files in found.quarantined.values() {
        fs.create_dir_all(&quarantine)
            .map_err(|e| Error::io(&quarantine, e))?;
        fs.sync_dir(&layout.root)
            .map_err(|e| Error::io(&layout.root, e))?;
        for f in files {
            let Some(name) = f.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // Never over a file an earlier repair set aside.
            let mut to = quarantine.join(name);
            let mut n = 1;
            while fs.exists(&to) {
                n += 1;
                to = quarantine.join(format!("{name}.{n}"));
            }
            let bytes = fs.read(f).map_err(|e| Error::io(f, e))?;
            fs.write_synced(&to, &[&bytes])
                .map_err(|e| Error::io(&to, e))?;
            let here = f
                .strip_prefix(source)
                .map_or_else(|_| f.clone(), |rel| layout.root.join(rel));
            if fs.exists(&here) {
                fs.remove(&here).map_err(|e| Error::io(&here, e))?;
                if let Some(dir) = here.parent() {
                    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
                }
            }
        }
        fs.sync_dir(&quarantine)
            .map_err(|e| Error::io(&quarantine, e))?;
    }
    let mut manifest = Manifest {
        format: FORMAT,
        lsn: found.last_lsn,
        // A dropped table's leftover files stay the next open's to remove.
        dropped: found
            .manifest
            .as_ref()
            .map(|m| {
                m.dropped
                    .iter()
                    .filter(|n| !found.tables.contains_key(*n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        ..Manifest::default()
    };
    for (name, t) in &found.tables {
        let file = SchemaFile {
            format: FORMAT,
            schema: t.schema.clone(),
            migrations: t.migrations.clone(),
        };
        let mut schema_bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::Json {
            context: format!("schema of {name}"),
            source: e,
        })?;
        schema_bytes.push(b'\n');
        write_atomic_with(fs, &layout.schema(name), &schema_bytes)?;
        let codec = RowCodec::new(&t.schema);
        let mut bytes = Vec::new();
        let mut rows = 0u64;
        for row in t.rows() {
            codec.encode(&t.schema, row, &mut bytes);
            bytes.push(b'\n');
            rows += 1;
        }
        write_atomic_with(fs, &layout.records(name), &bytes)?;
        manifest.tables.insert(
            name.clone(),
            TableEntry {
                rows,
                next_key: t.next_key,
                snapshot_crc32c: crc_hex(&bytes),
                snapshot_bytes: bytes.len() as u64,
                schema_crc32c: crc_hex(&schema_bytes),
                // As the sound manifest or the log had it, so that a read-only database
                // open beside the repair still knows the table.
                created_lsn: t.created_lsn,
            },
        );
    }
    // Snapshots nothing lists any more (a quarantined or a stale table's) are in the backup.
    for p in fs.list(&layout.data_dir()).unwrap_or_default() {
        let listed = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".records"))
            .is_some_and(|t| manifest.tables.contains_key(t));
        if !listed {
            fs.remove(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    write_atomic_with(fs, &layout.manifest(), &manifest.to_bytes())?;
    write_atomic_with(fs, &layout.wal(), b"")?;
    // Damaged logs an open set aside, files named as archived segments past the largest
    // LSN (no checkpoint wrote them), and damaged archived segments are in the backup now,
    // and reported in its report.
    let wal_dir = layout.wal_dir();
    let damaged_segment = |p: &Path| {
        found
            .damaged_segments
            .iter()
            .any(|d| d.file_name() == p.file_name())
    };
    for p in fs.list(&wal_dir).unwrap_or_default() {
        let damaged = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(DAMAGED));
        let beyond = Layout::archived_lsn(&p).is_some_and(|lsn| lsn > MAX_LSN);
        if damaged || beyond || damaged_segment(&p) {
            fs.remove(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    fs.sync_dir(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
    Ok(())
}

/// `YYYYMMDDTHHMMSSZ` for a time, in UTC (no time-zone database needed).
fn utc_stamp(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_131_845);
        assert_eq!(utc_stamp(t), "20261201T133045Z");
        assert_eq!(utc_stamp(std::time::UNIX_EPOCH), "19700101T000000Z");
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(utc_stamp(leap), "20000229T000000Z");
    }
}
