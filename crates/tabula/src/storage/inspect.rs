//! Reading a whole database directory without changing it, the way `verify` and `repair`
//! both need it: every file checked, every problem found with its file and line, and the
//! rows that survive rebuilt table by table (snapshot rows, then every readable log record
//! replayed over them, then the constraints checked across tables). `verify` reports the
//! problems; `repair` writes the rebuilt tables back. Sharing one reading is what makes
//! them agree: what `verify` calls healthy opens, and what `repair` leaves verifies clean.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::expr::Condition;
use crate::schema::{column_list, Schema};
use crate::storage::creation::{archived_creation, fits, matches_manifest};
use crate::storage::fs::{FileSystem, OddEntry};
use crate::storage::layout::{Layout, DAMAGED, TMP};
use crate::storage::manifest::{crc_hex, schema_disagreement, Manifest, TableEntry};
use crate::storage::snapshot::decode_lines;
use crate::storage::verify::Problem;
use crate::storage::wal::decode::{decode_ops, LoggedChanges};
use crate::storage::wal::line::{damaged_next_keys, fits_key};
use crate::storage::wal::scan::{
    damaged_break_found, damaged_break_reason, lines, repeated_lsn, ScannedLine,
};
use crate::storage::wal::MAX_LSN;
use crate::storage::{Migration, SchemaFile};
use crate::value::Value;

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

/// Removes from `schema` (as read from a file, not yet finished) each composite unique
/// constraint, composite index and check that is invalid on its own (an unknown or repeated
/// column, a check that does not compile), returning why each went. Nothing is removed when
/// the columns themselves are invalid: that is the whole schema's problem.
fn salvage_constraints(schema: &mut Schema) -> Vec<String> {
    let original = schema.clone();
    let mut base = schema.clone();
    base.unique.clear();
    base.index.clear();
    base.checks.clear();
    for c in &mut base.columns {
        c.check = None;
    }
    if base.finish().is_err() {
        return Vec::new();
    }
    let mut reasons = Vec::new();
    let mut kept = base.clone();
    for (is_unique, lists) in [
        (true, std::mem::take(&mut schema.unique)),
        (false, std::mem::take(&mut schema.index)),
    ] {
        for cols in lists {
            let mut trial = kept.clone();
            if is_unique {
                trial.unique.push(cols);
            } else {
                trial.index.push(cols);
            }
            match trial.finish() {
                Ok(()) => kept = trial,
                Err(e) => reasons.push(e.to_string()),
            }
        }
    }
    let compiles = |text: &str| Condition::parse(&base, text).map(drop);
    for text in std::mem::take(&mut schema.checks) {
        match compiles(&text) {
            Ok(()) => kept.checks.push(text),
            Err(e) => reasons.push(format!("check {text:?}: {e}")),
        }
    }
    for (i, c) in schema.columns.iter().enumerate() {
        if let Some(text) = &c.check {
            match compiles(text) {
                Ok(()) => kept.columns[i].check = Some(text.clone()),
                Err(e) => reasons.push(format!("check {text:?} on column {}: {e}", c.name)),
            }
        }
    }
    if reasons.is_empty() {
        *schema = original;
    } else {
        *schema = kept;
    }
    reasons
}

/// Which row holds each value of one unique key.
type Holders = HashMap<Vec<Value>, usize>;

/// A row's values of a unique key's columns; `None` if one is null (it collides with
/// nothing).
fn unique_key(cols: &[usize], values: &[Value]) -> Option<Vec<Value>> {
    cols.iter()
        .map(|&c| values.get(c).filter(|v| !v.is_null()).cloned())
        .collect()
}

/// One table as it survives.
#[derive(Debug, Clone)]
pub(crate) struct TableState {
    pub(crate) schema: Schema,
    pub(crate) source: SchemaSource,
    pub(crate) migrations: Vec<Migration>,
    /// The rows, in the order they were found (`None`: deleted since).
    rows: Vec<Option<Vec<Value>>>,
    /// Where each row's bytes are: its snapshot's line, or the log's.
    origins: Vec<Origin>,
    /// Per unique key (the primary key first, then unique columns, then composite unique
    /// constraints): its columns and which row holds each value of it.
    holders: Vec<(Vec<usize>, Holders)>,
    /// The LSN of the record that created the table, as the manifest lists it (0 when
    /// unknown), or of its creation in the log.
    pub(crate) created_lsn: u64,
    pub(crate) next_key: i64,
    /// The snapshot's row count according to a sound manifest.
    pub(crate) expected: Option<u64>,
    /// Rows read from the snapshot.
    pub(crate) read: u64,
    /// Rows the manifest promised that no bytes remain for (a truncated snapshot).
    pub(crate) missing: u64,
    /// Whether the snapshot's checksum or length differs from a sound manifest's: its
    /// readable rows are not known to be the ones the checkpoint wrote.
    pub(crate) snapshot_mismatch: bool,
    pub(crate) dropped: Vec<DroppedRow>,
}

impl TableState {
    fn new(schema: Schema, source: SchemaSource, migrations: Vec<Migration>) -> Self {
        let pk = schema.primary_key();
        let composites = schema
            .unique
            .iter()
            .map(|names| names.iter().filter_map(|n| schema.position(n)).collect());
        let holders = std::iter::once(vec![pk])
            .chain(
                (0..schema.columns.len())
                    .filter(|&c| schema.columns[c].unique && c != pk)
                    .map(|c| vec![c]),
            )
            .chain(composites)
            .map(|cols| (cols, HashMap::new()))
            .collect();
        TableState {
            schema,
            source,
            migrations,
            rows: Vec::new(),
            origins: Vec::new(),
            holders,
            created_lsn: 0,
            next_key: 1,
            expected: None,
            read: 0,
            missing: 0,
            snapshot_mismatch: false,
            dropped: Vec::new(),
        }
    }

    /// The rows that survive, in the order found.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &Vec<Value>> {
        self.rows.iter().flatten()
    }

    pub(crate) fn len(&self) -> u64 {
        self.rows().count() as u64
    }

    fn key_of(&self, values: &[Value]) -> Value {
        values[self.schema.primary_key()].clone()
    }

    /// Whether the table holds each of `rows` as it is: the same values under its key.
    fn holds_each(&self, rows: &[Vec<Value>]) -> bool {
        rows.iter().all(|r| {
            let key = self.key_of(r);
            self.holders[0]
                .1
                .get(std::slice::from_ref(&key))
                .and_then(|&at| self.rows[at].as_ref())
                .is_some_and(|held| held == r)
        })
    }

    /// Puts a row image, replacing the row with its key; refused (with the reason) if another
    /// row holds one of its unique values.
    /// Applies one log record's changes, as loading applies a record: its deletes, then
    /// the old row of every key it writes, then its images (so a record may swap unique
    /// values between rows), and the next key it gives. Returns why each image a
    /// constraint refused was left out.
    fn apply(
        &mut self,
        changes: LoggedChanges,
        next_key: Option<i64>,
        origin: Origin,
    ) -> Vec<String> {
        if let Some(k) = next_key {
            self.next_key = self.next_key.max(k);
        }
        for key in &changes.deletes {
            self.delete(key);
        }
        for values in &changes.puts {
            let key = self.key_of(values);
            self.delete(&key);
        }
        changes
            .puts
            .into_iter()
            .filter_map(|values| self.put(values, false, origin).err())
            .collect()
    }

    /// `refused`'s message, naming where the row kept in its place (row `at`) was read:
    /// of two rows that collide the first read is kept, and either may be the one a damage
    /// changed, so the report names both.
    fn also_held(&self, refused: Error, at: usize) -> String {
        let held = match self.origins.get(at) {
            Some(Origin::Snapshot(line)) => format!("line {line} of the snapshot"),
            Some(Origin::Log(line)) => format!("line {line} of the log"),
            Some(Origin::Archived(lsn, line)) => {
                format!("line {line} of the archived segment from LSN {lsn}")
            }
            None => return refused.to_string(),
        };
        format!("{refused}, which the row from {held} holds too (the row read first is kept)")
    }

    fn put(
        &mut self,
        values: Vec<Value>,
        replace: bool,
        origin: Origin,
    ) -> std::result::Result<(), String> {
        // The table's checks are not judged again: the row met them when it was written,
        // and an open does not judge it again either (`TableData::insert_stored`).
        let key = self.key_of(&values);
        let existing = self.holders[0].1.get(std::slice::from_ref(&key)).copied();
        if let Some(at) = existing.filter(|_| !replace) {
            let refused = Error::UniqueViolation {
                table: self.schema.table.clone(),
                column: self.schema.primary_key_column().name.clone(),
                value: key,
            };
            return Err(self.also_held(refused, at));
        }
        for (cols, holders) in &self.holders[1..] {
            let Some(v) = unique_key(cols, &values) else {
                continue;
            };
            if let Some(&other) = holders.get(&v) {
                if Some(other) != existing {
                    let names: Vec<String> = cols
                        .iter()
                        .map(|&c| self.schema.columns[c].name.clone())
                        .collect();
                    let (column, value) = match (&names[..], &v[..]) {
                        ([name], [value]) => (name.clone(), value.clone()),
                        _ => {
                            let shown: Vec<String> = v.iter().map(Value::to_string).collect();
                            (
                                column_list(&names),
                                Value::Text(format!("({})", shown.join(", "))),
                            )
                        }
                    };
                    let refused = Error::UniqueViolation {
                        table: self.schema.table.clone(),
                        column,
                        value,
                    };
                    return Err(self.also_held(refused, other));
                }
            }
        }
        let at = match existing {
            Some(at) => {
                self.forget(at);
                self.rows[at] = Some(values);
                self.origins[at] = origin;
                at
            }
            None => {
                self.rows.push(Some(values));
                self.origins.push(origin);
                self.rows.len() - 1
            }
        };
        if let Some(Some(row)) = self.rows.get(at) {
            if let Value::Int(k) = row[self.schema.primary_key()] {
                self.next_key = self.next_key.max(k.saturating_add(1));
            }
            let row = row.clone();
            for (cols, holders) in &mut self.holders {
                if let Some(v) = unique_key(cols, &row) {
                    holders.insert(v, at);
                }
            }
        }
        Ok(())
    }

    /// Removes the unique values of row `at` from the holders.
    fn forget(&mut self, at: usize) {
        if let Some(Some(row)) = self.rows.get(at) {
            for (cols, holders) in &mut self.holders {
                if let Some(v) = unique_key(cols, row) {
                    if holders.get(&v) == Some(&at) {
                        holders.remove(&v);
                    }
                }
            }
        }
    }

    fn delete(&mut self, key: &Value) {
        if let Some(&at) = self.holders[0].1.get(std::slice::from_ref(key)) {
            self.forget(at);
            self.rows[at] = None;
        }
    }

    fn has_key(&self, key: &Value) -> bool {
        self.holders[0].1.contains_key(std::slice::from_ref(key))
    }
}

/// Where a row's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// This line of the table's snapshot.
    Snapshot(u64),
    /// This line of the log.
    Log(u64),
    /// This line (second) of the archived log segment named for this LSN (first).
    Archived(u64, u64),
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

/// Whether `root` looks like a tabula database directory: it holds a log, or a file only a
/// database that was written holds ([`written`]).
pub(crate) fn is_database(fs: &dyn FileSystem, root: &Path) -> bool {
    let layout = Layout::new(root);
    fs.list(root).is_ok() && (fs.exists(&layout.wal()) || written(fs, &layout).is_some())
}

/// A file that shows the database was written: the manifest, a schema file, or what a
/// checkpoint leaves ([`checkpointed`]). Creating a table and making a checkpoint both
/// write the log first, so a database holding any of them has a log.
fn written(fs: &dyn FileSystem, layout: &Layout) -> Option<PathBuf> {
    Some(layout.manifest())
        .filter(|m| fs.exists(m))
        .or_else(|| {
            first_in(fs, &layout.schema_dir(), |p| {
                Layout::table_of_schema(p).is_some()
            })
        })
        .or_else(|| checkpointed(fs, layout))
}

/// A file only a checkpoint writes, and only after a manifest named it: a snapshot under
/// its final name or an archived log segment.
pub(crate) fn checkpointed(fs: &dyn FileSystem, layout: &Layout) -> Option<PathBuf> {
    first_in(fs, &layout.data_dir(), |p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".records"))
    })
    .or_else(|| first_in(fs, &layout.wal_dir(), |p| Layout::archived_lsn(p).is_some()))
}

/// The first file of `dir` that `is_it` picks (none if `dir` cannot be listed).
fn first_in(fs: &dyn FileSystem, dir: &Path, is_it: fn(&Path) -> bool) -> Option<PathBuf> {
    fs.list(dir)
        .ok()
        .and_then(|files| files.into_iter().find(|p| is_it(p)))
}

/// Whether a checkpoint at `manifest_lsn` staged its new log and stopped before putting it
/// in place: `transaction.<lsn>.next` ([`Layout::next_wal`]), empty, beside the archived
/// segment of that LSN (`rotate_wal` stages it, archives the log, then renames it into the
/// log's place). With no log in place, it is the log.
pub(crate) fn staged_log(fs: &dyn FileSystem, layout: &Layout, manifest_lsn: u64) -> bool {
    let next = layout.next_wal(manifest_lsn);
    // An empty regular file: a device or a pipe (whose length reads 0) is not one, nor a
    // link (to an empty file), which the open removes as no checkpoint's.
    fs.len(&next).is_ok_and(|n| n == 0)
        && fs.odd_entry(&next).is_none()
        && fs.exists(&layout.archived_wal(manifest_lsn))
}

/// The log's bytes for a reader that changes nothing (a read-only open, `tabula wal`):
/// missing from a database never written, or staged by a checkpoint that has not put it
/// in place (every record in the checkpoint), it holds no records; otherwise missing, it
/// was lost ([`lost_log`]), and that is `Error::Corrupt`.
pub(crate) fn read_log(fs: &dyn FileSystem, layout: &Layout, manifest_lsn: u64) -> Result<Vec<u8>> {
    let path = layout.wal();
    match fs.read(&path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match lost_log(fs, layout, manifest_lsn) {
                Some(reason) => Err(Error::corrupt(&path, 0, reason)),
                None => Ok(Vec::new()),
            }
        }
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Why the database's log is missing when it must be there, if it is: `None` when it is
/// there, staged ([`staged_log`]), or when nothing shows the database was ever written
/// ([`written`]). Without it every commit since the last checkpoint would be silently
/// gone, and the next commit would start a log that hides the loss for good: opens refuse,
/// verify reports it, and repair starts an empty log once a backup of everything is made.
pub(crate) fn lost_log(fs: &dyn FileSystem, layout: &Layout, manifest_lsn: u64) -> Option<String> {
    if fs.exists(&layout.wal()) || staged_log(fs, layout, manifest_lsn) {
        return None;
    }
    let evidence = written(fs, layout)?;
    let since = if fs.exists(&layout.manifest()) {
        "the last checkpoint"
    } else {
        "the database was created"
    };
    Some(format!(
        "missing, though {} shows the database was written: any commit made since {since} \
         was only in it, and is lost without it. Put the file back from a backup if there is \
         one; `tabula repair` starts an empty log (after backing up every file)",
        evidence.display()
    ))
}

/// Why an archived segment named past the manifest's LSN shows the manifest older than the
/// files, if there is one: a checkpoint archives the log under its own LSN only after its
/// manifest commits (and repair's manifest names the largest LSN found), so the manifest
/// was put back from an older copy, and the commits since its checkpoint are in no
/// snapshot. An open refuses the directory; verify reports it. (A name past `MAX_LSN` is
/// no segment a checkpoint wrote, reported on its own.)
pub(crate) fn newer_segment(
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest_lsn: u64,
) -> Result<Option<(PathBuf, String)>> {
    // A directory under a segment's name is none a checkpoint wrote (it is what keeps a
    // checkpoint from archiving there).
    let newer = archived_segments(listing(fs, &layout.wal_dir())?)
        .into_iter()
        .rfind(|(lsn, p)| *lsn > manifest_lsn && fs.list(p).is_err());
    Ok(newer.map(|(lsn, p)| {
        let reason = format!(
            "archived segment named for LSN {lsn}, past the manifest's checkpoint at LSN \
             {manifest_lsn}: a later checkpoint archived it, so manifest.json is older than the \
             files (put back from an older copy?), and the commits after LSN {manifest_lsn} \
             are in no snapshot. Put the newer manifest back if there is one; `tabula repair` \
             makes the files agree again (after backing up every file), with the rows the \
             snapshots and the log hold"
        );
        (p, reason)
    }))
}

/// The bytes of the schema file at `path` as the manifest's `entry` commits them: the file's
/// own, or, where a migration committed and its schema file was not yet renamed into place
/// (an open for writing renames it first), the staged `.tmp` beside it, when that is the one
/// whose checksum the manifest holds. Rows written under the migrated schema read only
/// against it.
pub(crate) fn committed_schema(
    fs: &dyn FileSystem,
    path: &Path,
    bytes: Vec<u8>,
    entry: Option<&TableEntry>,
) -> Vec<u8> {
    let Some(entry) = entry else { return bytes };
    if crc_hex(&bytes) == entry.schema_crc32c {
        return bytes;
    }
    let staged = Layout::tmp(path);
    match fs.read(&staged) {
        Ok(b) if crc_hex(&b) == entry.schema_crc32c => b,
        // Renamed into place since the first read, perhaps (an open finishing the
        // migration): the file as it is now.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs.read(path).unwrap_or(bytes),
        _ => bytes,
    }
}

/// Snapshot files in each other's places (renamed by hand): a file whose length is not its
/// own table's entry's, and whose length and checksum are exactly another listed table's
/// (whose own file is not its own either), is that table's snapshot: reported, and read as
/// that table's (repair writes it back in its place). A table whose file went to another
/// is left without one, and reported missing as any table is.
fn swapped_snapshots(
    fs: &dyn FileSystem,
    out: &mut Inspection,
    snapshots: &mut BTreeMap<String, PathBuf>,
) {
    let Some(manifest) = &out.manifest else {
        return;
    };
    let own_len = |t: &str, len: u64| {
        manifest
            .tables
            .get(t)
            .is_some_and(|e| e.snapshot_bytes == len)
    };
    let lens: BTreeMap<&String, u64> = snapshots
        .iter()
        .filter_map(|(t, p)| Some((t, fs.len(p).ok()?)))
        .collect();
    let mut moved: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
    for (t, path) in snapshots.iter() {
        let Some(&len) = lens.get(t) else { continue };
        if own_len(t, len) {
            continue;
        }
        let Ok(bytes) = fs.read(path) else { continue };
        let crc = crc_hex(&bytes);
        let owner = manifest.tables.iter().find(|(u, e)| {
            *u != t
                && e.snapshot_bytes == len
                && e.snapshot_crc32c == crc
                && !lens.get(u).is_some_and(|&l| own_len(u, l))
        });
        if let Some((u, _)) = owner {
            moved.insert(u.clone(), (t.clone(), path.clone()));
        }
    }
    for (u, (t, path)) in &moved {
        out.problems.push(Problem {
            file: path.clone(),
            line: 0,
            message: format!(
                "holds table {u}'s snapshot, not table {t}'s (its length and checksum are \
                 those the manifest lists for {u}): read as {u}'s, and repair puts it back \
                 in its place"
            ),
        });
    }
    let taken: Vec<String> = moved.values().map(|(t, _)| t.clone()).collect();
    for t in taken {
        if !moved.contains_key(&t) {
            snapshots.remove(&t);
        }
    }
    for (u, (_, path)) in moved {
        snapshots.insert(u, path);
    }
}

/// The entries of one of the database's directories: none when it is gone or a file is in
/// its place (what its files held is reported missing, and repair makes the directory
/// again), an error when it cannot be read otherwise: a directory another user owns, or a
/// failing disk, would make every file in it read as missing, and repair rebuild over them.
fn listing(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<PathBuf>> {
    use std::io::ErrorKind;
    match fs.list(dir) {
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            Ok(Vec::new())
        }
        listed => listed.map_err(|e| Error::io(dir, e)),
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

/// The schema files that could not be used, by table.
struct SchemaFiles {
    /// Unreadable or invalid: the table has no schema from its file.
    unreadable: Vec<String>,
    /// Readable, but their checksum is not the manifest's (edited, or damaged in a way that
    /// still parses).
    disagreeing: Vec<String>,
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

/// Every entry at a temporary file's name ([`is_temporary_name`]) that is no regular file,
/// in the directories checkpoints and repairs write: the top, `schema/`, `data/`, `wal/`.
pub(crate) fn odd_temporaries(
    fs: &dyn FileSystem,
    layout: &Layout,
) -> Result<Vec<(PathBuf, OddEntry)>> {
    let mut odd = Vec::new();
    for dir in [
        layout.root.clone(),
        layout.schema_dir(),
        layout.data_dir(),
        layout.wal_dir(),
    ] {
        for p in listing(fs, &dir)? {
            if let (Some(kind), true) = (fs.odd_entry(&p), is_temporary_name(layout, &p)) {
                odd.push((p, kind));
            }
        }
    }
    Ok(odd)
}

/// Whether `p` is at a temporary file's name: `*.tmp`, or `wal/transaction.<lsn>.next`.
pub(crate) fn is_temporary_name(layout: &Layout, p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(TMP))
        || (p.parent() == Some(layout.wal_dir().as_path()) && Layout::is_next_wal(p))
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

/// The snapshot file of each table, by table.
fn find_snapshots(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
) -> Result<BTreeMap<String, PathBuf>> {
    // Snapshot files: a committed `.tmp` (the checkpoint's manifest names its bytes, and the
    // next open finishes its rename) stands for the snapshot; other `.tmp` files are the
    // next open's to remove, and no problem.
    // A dropped table's files, which the next open removes: not part of the database.
    let manifest = out.manifest.clone();
    let dropped = |t: &str| manifest.as_ref().is_some_and(|m| m.is_dropped(t));
    let mut snapshots: BTreeMap<String, PathBuf> = BTreeMap::new();
    let data_dir = layout.data_dir();
    for p in listing(fs, &data_dir)? {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(t) = name.strip_suffix(".records") {
            if dropped(t) {
                continue;
            }
            snapshots.entry(t.to_owned()).or_insert(p.clone());
        } else if let Some(t) = name.strip_suffix(&format!(".records{TMP}")) {
            if fs.odd_entry(&p).is_some() {
                // Reported by `check_temporary_names`.
                continue;
            }
            let entry = out.manifest.as_ref().and_then(|m| m.tables.get(t));
            if let Some(entry) = entry {
                let bytes = read(fs, &p)?;
                if crc_hex(&bytes) == entry.snapshot_crc32c
                    && bytes.len() as u64 == entry.snapshot_bytes
                {
                    snapshots.insert(t.to_owned(), p.clone());
                }
            }
        }
    }
    swapped_snapshots(fs, out, &mut snapshots);
    let manifest_path = layout.manifest();
    if out.manifest.is_none() && !fs.exists(&manifest_path) && checkpointed(fs, layout).is_some() {
        out.problem(
            &manifest_path,
            0,
            "missing, though snapshots or archived log segments exist (repair rebuilds it \
             from them and the log)",
        );
    }
    Ok(snapshots)
}

/// Damaged logs set aside by an open.
fn report_set_aside_logs(out: &mut Inspection, fs: &dyn FileSystem, layout: &Layout) -> Result<()> {
    for p in listing(fs, &layout.wal_dir())? {
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(DAMAGED))
        {
            let bytes = fs.len(&p).unwrap_or(0);
            out.problem(
                &p,
                0,
                format!(
                    "{bytes} bytes of a damaged log an open set aside (a tail it cut, or the \
                     whole log a salvage rewrote without its damage), kept for you to look \
                     at; remove the file once you have"
                ),
            );
        }
    }
    Ok(())
}

/// The schema files: each table's schema, into `out.tables`.
fn read_schema_files(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest_lsn: u64,
) -> Result<SchemaFiles> {
    let manifest = out.manifest.clone();
    let dropped = |t: &str| manifest.as_ref().is_some_and(|m| m.is_dropped(t));
    let mut unreadable_schemas = Vec::new();
    let mut disagreeing = Vec::new();
    for p in listing(fs, &layout.schema_dir())? {
        let Some(name) = Layout::table_of_schema(&p) else {
            continue;
        };
        if dropped(&name) {
            continue;
        }
        let entry = out
            .manifest
            .as_ref()
            .and_then(|m| m.tables.get(&name))
            .cloned();
        let bytes = match fs.read(&p).map_err(|e| unreadable_cause(fs, &p, e)) {
            Ok(bytes) => committed_schema(fs, &p, bytes, entry.as_ref()),
            // Vanished while read: the directory changed (`verify` reads it again).
            Err(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::io(&p, e))
            }
            // Any other failure to read it is the file's: none is damage repair could mend.
            Err(Ok(e) | Err(e)) => {
                out.unreadable(&p, Some(&name), "the schema file", e);
                unreadable_schemas.push(name);
                continue;
            }
        };
        let mut file: SchemaFile = match serde_json::from_slice(&bytes) {
            Ok(f) => f,
            Err(e) => {
                out.problem(&p, e.line() as u64, format!("unreadable schema: {e}"));
                unreadable_schemas.push(name);
                continue;
            }
        };
        // A constraint that is invalid on its own costs only itself: repair writes the
        // schema without it, and the table keeps its rows.
        for reason in salvage_constraints(&mut file.schema) {
            out.problem(
                &p,
                0,
                format!("invalid constraint, which repair removes: {reason}"),
            );
        }
        if let Err(e) = file.schema.finish() {
            out.problem(&p, 0, format!("invalid schema: {e}"));
            unreadable_schemas.push(name);
            continue;
        }
        if file.schema.table != name {
            out.problem(&p, 0, format!("names table {:?}", file.schema.table));
            unreadable_schemas.push(name);
            continue;
        }
        if let Some(reason) =
            schema_disagreement(entry.as_ref(), &bytes, &file.migrations, manifest_lsn)
        {
            out.problem(&p, 0, reason);
            disagreeing.push(name.clone());
        }
        let mut state = TableState::new(file.schema, SchemaSource::File, file.migrations);
        state.created_lsn = entry.as_ref().map_or(0, |e| e.created_lsn);
        out.tables.insert(name, state);
    }
    Ok(SchemaFiles {
        unreadable: unreadable_schemas,
        disagreeing,
    })
}

/// The tables the log creates after the manifest's checkpoint: a table whose schema file
/// is gone gets its schema from there, and one whose file says otherwise is reported.
fn tables_created_in_log(
    out: &mut Inspection,
    layout: &Layout,
    log: &[ScannedLine],
    manifest_lsn: u64,
) {
    let wal_path = layout.wal();
    for l in log {
        let Ok(rec) = &l.parsed else { continue };
        // A record the sound manifest's checkpoint covers is not replayed, as an open does
        // not replay it: a table it created and a `DROP TABLE` dropped since stays dropped.
        if out.manifest.is_some() && rec.lsn <= manifest_lsn {
            continue;
        }
        for ops in &rec.tables {
            let Some(created) = &ops.create else { continue };
            let mut created = created.clone();
            if let Err(e) = created.finish() {
                out.problem(&wal_path, l.no, format!("invalid schema: {e}"));
                continue;
            }
            let listed = out
                .manifest
                .as_ref()
                .is_some_and(|m| m.tables.contains_key(&ops.table));
            match out.tables.get_mut(&ops.table) {
                Some(t) => {
                    if !listed && t.created_lsn == 0 {
                        // Its schema file was written once the creation was durable. A
                        // second record creating it (an open accepts one that says the
                        // same) does not move the creation after records between the two.
                        t.created_lsn = rec.lsn;
                    }
                    let diffs = t.schema.differences(&created);
                    let migrated_since = t.migrations.iter().any(|m| m.lsn >= rec.lsn);
                    if !diffs.is_empty() && !migrated_since {
                        out.problem(
                            &wal_path,
                            l.no,
                            format!(
                                "creates table {} unlike its schema file: {}",
                                ops.table,
                                diffs.join("; ")
                            ),
                        );
                    }
                }
                None => {
                    let mut state = TableState::new(created, SchemaSource::Log, Vec::new());
                    state.created_lsn = rec.lsn;
                    out.tables.insert(ops.table.clone(), state);
                }
            }
        }
    }
}

/// A schema file of a table a sound manifest does not list and no log record after its
/// checkpoint creates, and a table the manifest lists whose schema file is missing.
fn check_listed_tables(out: &mut Inspection, layout: &Layout, schemas: &SchemaFiles) {
    let listed: Vec<String> = out
        .manifest
        .as_ref()
        .map(|m| m.tables.keys().cloned().collect())
        .unwrap_or_default();
    // A schema file of a table a sound manifest does not list and no log record after its
    // checkpoint creates: an open refuses it (its files are from another state of the
    // database); repair keeps the table, with the rows its snapshot holds.
    if out.manifest.is_some() {
        for (name, t) in &out.tables {
            if t.source == SchemaSource::File && t.created_lsn == 0 && !listed.contains(name) {
                out.problems.push(Problem {
                    file: layout.schema(name),
                    line: 0,
                    message: format!(
                        "table {name} is neither in the manifest nor created by a log record \
                         after its checkpoint; repair keeps it, with the rows of its snapshot"
                    ),
                });
            }
        }
    }
    for name in &listed {
        let on_disk = out
            .tables
            .get(name)
            .is_some_and(|t| t.source == SchemaSource::File);
        // A disagreeing file is there; when its table's creation replaces it, that was
        // reported as such.
        if !on_disk && !schemas.unreadable.contains(name) && !schemas.disagreeing.contains(name) {
            out.problem(
                &layout.schema(name),
                0,
                "listed in the manifest but missing",
            );
        }
    }
}

/// Every table the manifest lists: its next key, and its snapshot, which must exist (one
/// missing is rebuilt from the archived log segments when they hold it).
fn snapshots_of_listed_tables(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    snapshots: &BTreeMap<String, PathBuf>,
    manifest_lsn: u64,
) {
    let entries: Vec<(String, crate::storage::manifest::TableEntry)> = out
        .manifest
        .as_ref()
        .map(|m| {
            m.tables
                .iter()
                .map(|(n, e)| (n.clone(), e.clone()))
                .collect()
        })
        .unwrap_or_default();
    for (name, entry) in &entries {
        let Some(state) = out.tables.get_mut(name) else {
            continue;
        };
        state.next_key = state.next_key.max(entry.next_key);
        if !snapshots.contains_key(name) {
            state.expected = Some(entry.rows);
            let path = layout.records(name);
            let listed = format!("missing; the manifest lists {} rows", entry.rows);
            match rows_from_archives(fs, layout, entry, manifest_lsn, state) {
                Ok(rebuilt) => out.problem(
                    &path,
                    0,
                    format!(
                        "{listed}, which repair rebuilds from the archived log segments: \
                         {rebuilt}"
                    ),
                ),
                Err(why) => {
                    state.missing = entry.rows;
                    let reason = if entry.rows == 0 {
                        listed
                    } else {
                        format!("{listed} (the archived log segments cannot rebuild them: {why})")
                    };
                    out.problem(&path, 0, reason);
                }
            }
        }
    }
}

/// The snapshots: checksum, every line, constraints.
fn read_snapshots(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    snapshots: &BTreeMap<String, PathBuf>,
    manifest_lsn: u64,
    unreadable_schemas: &[String],
) -> Result<()> {
    for (name, path) in snapshots {
        let entry = out.manifest.as_ref().map(|m| m.tables.get(name).cloned());
        let Some(state) = out.tables.get_mut(name) else {
            // A stray snapshot: no schema file, log record or sound manifest names its
            // table (an unreadable schema file or a damaged manifest is reported as such).
            // It is no part of the database, and `repair` moves it aside: said here, so
            // that `verify` and `repair` agree.
            if matches!(entry, Some(None)) && !unreadable_schemas.contains(name) {
                out.problem(
                    path,
                    0,
                    format!(
                        "a snapshot of table {name}, which no schema file, log record or the \
                         manifest names: `repair` moves it to quarantine/"
                    ),
                );
            }
            out.quarantined
                .entry(name.clone())
                .or_default()
                .push(path.clone());
            continue;
        };
        let entry = match entry {
            // A sound manifest that does not list a table no log record creates either (see
            // above): its rows are read as those of a table without a manifest entry.
            Some(None) if state.created_lsn == 0 && state.source == SchemaSource::File => None,
            // A table created in the log since the manifest's checkpoint has no snapshot:
            // the file is not part of the database, and its rows are not the table's.
            Some(None) => {
                out.problems.push(Problem {
                    file: path.clone(),
                    line: 0,
                    message: "snapshot of a table the manifest does not list".into(),
                });
                continue;
            }
            Some(Some(e)) => Some(e),
            None => None,
        };
        let bytes = match fs.read(path).map_err(|e| unreadable_cause(fs, path, e)) {
            Ok(b) => b,
            // Unreadable is not damaged: its rows may all be there (repair would drop them).
            Err(Ok(e)) => {
                out.unreadable(path, Some(name), "the snapshot", e);
                continue;
            }
            Err(Err(e)) => {
                let message = format!("cannot read the snapshot: {e}");
                state.dropped.push(DroppedRow {
                    file: path.clone(),
                    line: 0,
                    reason: message.clone(),
                });
                out.problems.push(Problem {
                    file: path.clone(),
                    line: 0,
                    message,
                });
                continue;
            }
        };
        let mut problems = Vec::new();
        if let Some(entry) = &entry {
            state.expected = Some(entry.rows);
            state.next_key = state.next_key.max(entry.next_key);
            let crc = crc_hex(&bytes);
            if crc != entry.snapshot_crc32c || bytes.len() as u64 != entry.snapshot_bytes {
                let mismatch = format!(
                    "checksum {crc} ({} bytes) does not match the manifest's {} ({} bytes)",
                    bytes.len(),
                    entry.snapshot_crc32c,
                    entry.snapshot_bytes
                );
                // A snapshot cut short or changed is no better than one gone: when the
                // archived segments give the rows the checkpoint wrote, they are the table's,
                // not what is left of the file. Only when every row the file still reads is
                // among them as it is, though: segments of another database, or a manifest
                // older than an intact newer snapshot, give other rows, and what the file
                // holds is then kept as before (a changed value reads as another row, and
                // keeps the file's rows too).
                let readable: Vec<Vec<Value>> = decode_lines(&state.schema, &bytes)
                    .into_iter()
                    .filter_map(|(_, row)| row.ok())
                    .collect();
                let mut trial = state.clone();
                let rebuilt = rows_from_archives(fs, layout, entry, manifest_lsn, &mut trial)
                    .ok()
                    .filter(|_| trial.holds_each(&readable));
                if let Some(rebuilt) = rebuilt {
                    *state = trial;
                    // Two problems: the mismatch is the same in every reading, while what
                    // the segments give moves with a writer's checkpoints (verify beside
                    // one reports only what every reading found).
                    for message in [
                        mismatch,
                        format!("repair rebuilds it from the archived log segments: {rebuilt}"),
                    ] {
                        out.problems.push(Problem {
                            file: path.clone(),
                            line: 0,
                            message,
                        });
                    }
                    continue;
                }
                state.snapshot_mismatch = true;
                problems.push((0, mismatch));
            }
        }
        let mut lines_seen = 0u64;
        // Rows that read but collide with a row read before them.
        let mut colliding = 0u64;
        for (no, row) in decode_lines(&state.schema, &bytes) {
            lines_seen += 1;
            let read = row.is_ok();
            let kept = row.and_then(|values| state.put(values, false, Origin::Snapshot(no)));
            colliding += u64::from(read && kept.is_err());
            match kept {
                Ok(()) => state.read += 1,
                Err(reason) => {
                    state.dropped.push(DroppedRow {
                        file: path.clone(),
                        line: no,
                        reason: reason.clone(),
                    });
                    problems.push((no, reason));
                }
            }
        }
        if let Some(entry) = &entry {
            if state.read != entry.rows {
                let kept = match colliding {
                    0 => format!("{} readable rows", state.read),
                    n => format!(
                        "{} readable rows, {n} of them colliding with a row before them on a \
                         key or a unique column, so {} kept",
                        state.read + n,
                        state.read
                    ),
                };
                problems.push((0, format!("{kept}, the manifest says {}", entry.rows)));
            }
            state.missing = entry.rows.saturating_sub(lines_seen);
        }
        for (line, message) in problems {
            out.problems.push(Problem {
                file: path.clone(),
                line,
                message,
            });
        }
    }
    Ok(())
}

/// Tables without a readable schema are set aside (quarantined), and with them every table
/// whose foreign key names one.
fn quarantine_unreadable(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    unreadable: &[String],
) {
    for name in unreadable {
        if !out.tables.contains_key(name) {
            let files = out.quarantined.entry(name.clone()).or_default();
            files.push(layout.schema(name));
        }
    }

    // A table whose foreign key names a quarantined table cannot open without it: it is set
    // aside too (its rows are not orphans; their parent is only set aside).
    let mut set_aside = BTreeSet::new();
    loop {
        let dependent: Vec<(String, String)> = out
            .tables
            .iter()
            .filter_map(|(n, t)| {
                // A table whose schema file could not be read is not known to be lost:
                // repair refuses until it can be read, and nothing is set aside for it.
                let parent = t.schema.columns.iter().find_map(|c| {
                    c.references.as_ref().filter(|fk| {
                        out.quarantined.contains_key(&fk.table)
                            && (set_aside.contains(&fk.table)
                                || !out.unreadable_tables.contains(&fk.table))
                    })
                })?;
                Some((n.clone(), parent.table.clone()))
            })
            .collect();
        if dependent.is_empty() {
            break;
        }
        for (name, parent) in dependent {
            let why = if set_aside.contains(&parent) {
                format!("references table {parent}, which is set aside for a table it references")
            } else {
                format!("references table {parent}, which has no readable schema")
            };
            set_aside.insert(name.clone());
            out.tables.remove(&name);
            let files = out.quarantined.entry(name.clone()).or_default();
            for f in [layout.schema(&name), layout.records(&name)] {
                if fs.exists(&f) && !files.contains(&f) {
                    files.push(f);
                }
            }
            out.problem(
                &layout.schema(&name),
                0,
                format!("{why}; set aside with it"),
            );
        }
    }
}

/// The log replayed over the snapshots: every readable record in order, records after a
/// gap included (their rows are real; the gap is reported).
fn replay_log(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    log: &[ScannedLine],
    log_bytes: &[u8],
    manifest_lsn: u64,
) {
    let wal_path = layout.wal();
    let mut last = manifest_lsn;
    let first_good_lsn = log
        .iter()
        .find_map(|l| l.parsed.as_ref().ok().map(|r| r.lsn));
    // Without a sound manifest, the snapshots' LSN is unknown: every record is replayed
    // (replaying a record the snapshot holds gives the same rows), and continuity starts
    // at the log's first record.
    if out.manifest.is_none() && fs.exists(&layout.manifest()) {
        last = first_good_lsn.map_or(0, |l| l.saturating_sub(1));
    }
    let sound_manifest = out.manifest.is_some();
    let covered = |lsn: u64| sound_manifest && lsn <= manifest_lsn;
    let last_good_index = log.iter().rposition(|l| l.parsed.is_ok());
    // Damaged lines right after a record at `last` (the last replayed, or the checkpoint's
    // own): the LSNs they held are the gap after them, reported with them already. After a
    // record the checkpoint covers and not at its end, a damaged line may have held a
    // covered LSN too, and is not counted, so that no missing record goes unreported.
    let mut damaged_run = 0u64;
    let mut prev_good: Option<u64> = None;
    for (i, l) in log.iter().enumerate() {
        if let Some(damage) = l.damaged_break {
            out.problem(&wal_path, l.no, damaged_break_reason(damage));
        }
        let rec = match &l.parsed {
            Ok(rec) => rec,
            Err(reason) => {
                let reason = if last_good_index.is_some_and(|g| i < g) {
                    format!("{reason}, followed by good records")
                } else {
                    reason.clone()
                };
                if i + 1 == log.len() && l.unfinished_in(log_bytes) {
                    out.unfinished_tail = Some(out.problems.len());
                }
                out.drop_log_line(&wal_path, l.no, reason);
                if prev_good.is_some_and(|p| p >= last) {
                    damaged_run += 1;
                }
                for (table, k) in damaged_next_keys(&log_bytes[l.text.clone()]) {
                    if let Some(state) = out
                        .tables
                        .get_mut(&table)
                        .filter(|s| fits_key(&s.schema, k))
                    {
                        state.next_key = state.next_key.max(k);
                    }
                }
                continue;
            }
        };
        prev_good = Some(rec.lsn);
        let damaged_before = std::mem::take(&mut damaged_run);
        if covered(rec.lsn) {
            continue;
        }
        if rec.lsn <= last {
            // LSNs only grow: a record at or below one already replayed is a copy or out
            // of place, and replaying it would put older images over newer ones.
            out.drop_log_line(
                &wal_path,
                l.no,
                format!("{}, not replayed", repeated_lsn(rec.lsn, last)),
            );
            continue;
        }
        if rec.lsn != last + 1 && rec.lsn - last - 1 > damaged_before {
            out.problem(
                &wal_path,
                l.no,
                format!("LSN {} follows {last}: records are missing", rec.lsn),
            );
        }
        last = last.max(rec.lsn);
        for ops in &rec.tables {
            let Some(state) = out.tables.get_mut(&ops.table) else {
                // A table whose schema file could not be read is not unknown.
                if !out.unreadable_tables.contains(&ops.table) {
                    out.drop_log_line(&wal_path, l.no, format!("unknown table {:?}", ops.table));
                }
                continue;
            };
            // A record writing a table a later record creates names a table that does not
            // exist yet where it stands: an open refuses it as an unknown table (unless the
            // table's schema file is there, which an open reads first).
            if state.created_lsn > rec.lsn && state.source == SchemaSource::Log {
                let reason = format!(
                    "unknown table {:?}: the record that creates it is later (LSN {})",
                    ops.table, state.created_lsn
                );
                out.drop_log_line(&wal_path, l.no, reason);
                continue;
            }
            let changes = match decode_ops(&wal_path, l.no, &state.schema, ops) {
                Ok(c) => c,
                Err(e) => {
                    // Placed already (this file and line): the reason alone.
                    let reason = match e {
                        Error::Corrupt { reason, .. } => reason,
                        e => e.to_string(),
                    };
                    state.dropped.push(DroppedRow {
                        file: wal_path.clone(),
                        line: l.no,
                        reason: reason.clone(),
                    });
                    out.problem(&wal_path, l.no, reason);
                    continue;
                }
            };
            for reason in state.apply(changes, ops.next_key, Origin::Log(l.no)) {
                let reason = format!("table {}: {reason}", ops.table);
                state.dropped.push(DroppedRow {
                    file: wal_path.clone(),
                    line: l.no,
                    reason: reason.clone(),
                });
                out.problems.push(Problem {
                    file: wal_path.clone(),
                    line: l.no,
                    message: reason,
                });
            }
        }
    }
    out.last_lsn = out.last_lsn.max(last);
}

/// Archived segments name the last LSN they hold: LSNs never go back below them. (Not past
/// `MAX_LSN`: such a name is no segment a checkpoint wrote.)
fn lsns_of_archived_segments(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
) -> Result<()> {
    for p in listing(fs, &layout.wal_dir())? {
        match Layout::archived_lsn(&p) {
            Some(lsn) if lsn > MAX_LSN => out.problem(
                &p,
                0,
                format!(
                    "named for LSN {lsn}, beyond {MAX_LSN}: no checkpoint wrote it, and \
                     LSNs do not follow it (remove it once you have looked at it)"
                ),
            ),
            Some(lsn) => out.last_lsn = out.last_lsn.max(lsn),
            None => {}
        }
    }
    Ok(())
}

/// Reads every archived log segment as the live log is read: nothing opens them, but
/// `repair` rebuilds lost snapshots and next keys from them, so damage there is reported
/// (a line that does not read, a damaged line break, an LSN repeated or going back, or a
/// last record other than the LSN the segment is named for, which is the last it holds). A segment pruned by a
/// checkpoint while this reads is no problem. Repair removes a damaged segment (its backup
/// keeps it): its records are in the snapshots, and the rebuilds it serves need every
/// record of a segment.
fn check_archived_segments(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
) -> Result<()> {
    for (named, p) in archived_segments(listing(fs, &layout.wal_dir())?) {
        let bytes = match fs.read(&p) {
            Ok(b) => b,
            // Listed, and leading to no file: repair, which backs it up, refuses.
            Err(e)
                if e.kind() != std::io::ErrorKind::PermissionDenied
                    && fs.odd_entry(&p) == Some(OddEntry::Link) =>
            {
                out.unreadable(&p, None, "the archived segment", behind_link(fs, &p, e));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            // Another user's: repair, which backs it up first, refuses until it reads.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                out.unreadable(&p, None, "the archived segment", e);
                continue;
            }
            Err(e) => {
                out.problem(&p, 0, format!("cannot be read: {e}"));
                continue;
            }
        };
        let mut prev: Option<u64> = None;
        let reported = out.problems.len();
        for l in lines(&bytes, 0) {
            if let Some(damage) = l.damaged_break {
                let found = damaged_break_found(damage);
                out.problem(&p, l.no, format!("{found} (an archived segment)"));
            }
            let rec = match l.parsed {
                Ok(rec) => rec,
                Err(reason) => {
                    out.problem(&p, l.no, format!("{reason} (an archived segment)"));
                    continue;
                }
            };
            if rec.lsn > named {
                out.problem(
                    &p,
                    l.no,
                    format!(
                        "LSN {} is past {named}, the last LSN the segment's name says it holds",
                        rec.lsn
                    ),
                );
            } else if let Some(before) = prev.filter(|&b| rec.lsn <= b) {
                // A gap is no damage here: an open that cut a damaged tail among records a
                // checkpoint covers (archived already) leaves one in the next segment.
                out.problem(
                    &p,
                    l.no,
                    format!(
                        "LSN {} follows {before}: a record repeated or out of order",
                        rec.lsn
                    ),
                );
            }
            prev = Some(rec.lsn);
        }
        // Named for the last LSN it holds: one that ends before it was cut short.
        if prev.is_none_or(|last| last < named) {
            let holds = prev.map_or_else(
                || "holds no record".to_owned(),
                |last| format!("ends at LSN {last}"),
            );
            out.problem(
                &p,
                0,
                format!("{holds}, though its name says it holds the records up to LSN {named}: cut short"),
            );
        }
        if out.problems.len() > reported {
            out.damaged_segments.push(p);
        }
    }
    Ok(())
}

/// The archived log segments among `listed` (a listing of `wal/`), with the LSN each is
/// named for, oldest first; a name past `MAX_LSN` is no segment a checkpoint wrote.
fn archived_segments(listed: Vec<PathBuf>) -> Vec<(u64, PathBuf)> {
    let mut segments: Vec<(u64, PathBuf)> = listed
        .into_iter()
        .filter_map(|p| Layout::archived_lsn(&p).map(|lsn| (lsn, p)))
        .filter(|(lsn, _)| *lsn <= MAX_LSN)
        .collect();
    segments.sort();
    segments
}

/// Without a sound manifest (or with one older than the files), the next key of each table
/// is known only from its rows and the live log, which give less than the manifest did when
/// the rows with the highest keys were deleted before the checkpoint: the archived
/// segments' records carry the next key they gave, and each table's is raised to the
/// highest since the last record creating it (an older table of the same name counted keys
/// of its own, perhaps of a wider type). Only tables created at or before `created_by` (0:
/// created before the manifests recorded it, or with none to say): one created in the live
/// log is newer than every archived record, and left as it is.
fn next_keys_from_archives(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    created_by: u64,
) -> Result<()> {
    let segments = archived_segments(listing(fs, &layout.wal_dir())?);
    let mut highest: BTreeMap<String, i64> = BTreeMap::new();
    for (_, p) in &segments {
        // Unreadable segments hold no next key this can use (reported elsewhere); a damaged
        // one's whole records still count.
        let Ok(bytes) = fs.read(p) else { continue };
        for l in lines(&bytes, 0) {
            let Ok(rec) = l.parsed else { continue };
            for ops in &rec.tables {
                let k = ops.next_key.unwrap_or(1);
                match highest.get_mut(&ops.table) {
                    Some(h) if ops.create.is_none() => *h = (*h).max(k),
                    _ => {
                        highest.insert(ops.table.clone(), k);
                    }
                }
            }
        }
    }
    for (name, k) in highest {
        if let Some(state) = out
            .tables
            .get_mut(&name)
            .filter(|s| s.created_lsn <= created_by)
        {
            state.next_key = state.next_key.max(k);
        }
    }
    Ok(())
}

/// The rows of a table whose snapshot is gone, replayed from the archived log segments into
/// `state` (which holds none yet) when they can be vouched for: every record from the
/// table's creation (`entry.created_lsn`) to the checkpoint (`manifest_lsn`) is there and
/// reads, the table has not migrated since (records before a migration are in its old
/// schema), and they give as many rows as the manifest counts. They are then the rows the
/// checkpoint wrote. Returns what was replayed, or why nothing could be.
fn rows_from_archives(
    fs: &dyn FileSystem,
    layout: &Layout,
    entry: &TableEntry,
    manifest_lsn: u64,
    state: &mut TableState,
) -> std::result::Result<String, String> {
    if !state.migrations.is_empty() {
        return Err("the table migrated since it was created".into());
    }
    if entry.created_lsn == 0 {
        return Err("the manifest does not say when the table was created".into());
    }
    let name = state.schema.table.clone();
    let mut segments = archived_segments(fs.list(&layout.wal_dir()).unwrap_or_default());
    segments.retain(|(lsn, _)| *lsn >= entry.created_lsn);
    // A checkpoint archives the log it replaces only once its manifest has committed,
    // naming the segment for its own LSN: a segment past the manifest's LSN means a newer
    // checkpoint committed (the manifest was put back from an older copy), whose snapshot
    // holds newer rows than these records give.
    if let Some((newest, path)) = segments.last().filter(|(lsn, _)| *lsn > manifest_lsn) {
        return Err(format!(
            "{} holds records up to LSN {newest}, past the manifest's checkpoint (LSN \
             {manifest_lsn}): the manifest is older than the files",
            path.strip_prefix(&layout.root).unwrap_or(path).display()
        ));
    }
    let mut replay = TableState::new(state.schema.clone(), state.source, Vec::new());
    // The LSN the next record must have: every one is needed, since any may write the
    // table.
    let mut next = entry.created_lsn;
    let mut first_file = None;
    for (segment, path) in &segments {
        let bytes = fs
            .read(path)
            .map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
        for l in lines(&bytes, 0) {
            // A line that does not read is no record this needs unless its LSN is then
            // missing, which the next record shows.
            let Ok(rec) = l.parsed else { continue };
            if rec.lsn > *segment {
                return Err(format!(
                    "{}:{}: LSN {} in a segment named for LSN {segment}",
                    path.display(),
                    l.no,
                    rec.lsn
                ));
            }
            if rec.lsn < next {
                continue;
            }
            if rec.lsn > manifest_lsn {
                // Not in a segment named for the manifest's LSN or before (checked above),
                // unless a segment's name understates its records, which the check of
                // each record against its segment's name refuses first.
                return Err(format!(
                    "{}:{}: LSN {} is past the manifest's checkpoint (LSN {manifest_lsn})",
                    path.display(),
                    l.no,
                    rec.lsn
                ));
            }
            if rec.lsn > next {
                return Err(format!("no archived segment holds LSN {next}"));
            }
            if rec.lsn == entry.created_lsn
                && !rec
                    .tables
                    .iter()
                    .any(|ops| ops.table == name && ops.create.is_some())
            {
                return Err(format!(
                    "the record of LSN {} does not create the table",
                    rec.lsn
                ));
            }
            first_file.get_or_insert_with(|| path.clone());
            next += 1;
            for ops in rec.tables.iter().filter(|ops| ops.table == name) {
                let changes =
                    decode_ops(path, l.no, &replay.schema, ops).map_err(|e| e.to_string())?;
                let origin = Origin::Archived(*segment, l.no);
                if let Some(reason) = replay.apply(changes, ops.next_key, origin).first() {
                    return Err(format!("{}:{}: {reason}", path.display(), l.no));
                }
            }
        }
    }
    if next <= manifest_lsn {
        return Err(format!(
            "no archived segment holds LSN {next} (the checkpoint's is {manifest_lsn})"
        ));
    }
    if replay.len() != entry.rows {
        return Err(format!(
            "they give {} rows, not the manifest's {}",
            replay.len(),
            entry.rows
        ));
    }
    let rebuilt = format!(
        "{} rows, from every record since the table's creation (LSN {}{}) to the \
         checkpoint (LSN {manifest_lsn})",
        replay.len(),
        entry.created_lsn,
        // Named within the database's directory: verify and repair (which works on the
        // directory's canonical path) say the same.
        first_file.map_or(String::new(), |f| {
            let f = f.strip_prefix(&layout.root).unwrap_or(&f);
            format!(", in {}", f.display())
        })
    );
    replay.created_lsn = state.created_lsn;
    replay.next_key = replay.next_key.max(state.next_key);
    replay.expected = state.expected;
    replay.read = replay.len();
    *state = replay;
    Ok(rebuilt)
}

/// The tables a sound manifest lists that have no usable schema (their file damaged or
/// gone, and their creation not in the live log), or whose schema file is not the one the
/// manifest names (`disagreeing`): the table's creation in the archived log segments, when
/// the schema file it gives is the one the manifest names and the table's rows read with
/// it ([`fits`]). Each finding is reported on the schema file, for
/// `verify`; `repair` writes the schema back. Without a sound manifest nothing can vouch
/// for a creation, and none is used (see [`creation`](crate::storage::creation)).
fn recover_from_archives(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    disagreeing: &[String],
    snapshots: &BTreeMap<String, PathBuf>,
    log: &[ScannedLine],
) {
    let Some(manifest) = out.manifest.clone() else {
        return;
    };
    for (name, entry) in &manifest.tables {
        let replaces_file = disagreeing.contains(name);
        if out.tables.contains_key(name) && !replaces_file {
            continue;
        }
        let Some(found) = archived_creation(fs, layout, name, entry.created_lsn) else {
            if !replaces_file {
                out.problem(
                    &layout.schema(name),
                    0,
                    "no record of the table's creation is left to rebuild its schema from \
                     (archived log segments are pruned): repair sets the table aside",
                );
            }
            continue;
        };
        let from = format!(
            "its creation in {} line {} (LSN {})",
            found.file.display(),
            found.line,
            found.lsn
        );
        if let Err(crc) = matches_manifest(&found.schema, &entry.schema_crc32c) {
            if !replaces_file {
                out.problem(
                    &layout.schema(name),
                    0,
                    format!(
                        "{from} gives a schema file with checksum {crc}, not the manifest's \
                         {} (migrated since): repair sets the table aside",
                        entry.schema_crc32c
                    ),
                );
            }
            continue;
        }
        let bytes = match snapshots.get(name).map(|p| fs.read(p)) {
            Some(Ok(b)) => Some(b),
            // Unreadable: reported where the snapshots are read.
            Some(Err(_)) | None => None,
        };
        let snapshot = snapshots
            .get(name)
            .zip(bytes.as_deref())
            .map(|(p, b)| (p.as_path(), b));
        let replayed = |lsn: u64| lsn > manifest.lsn;
        match fits(&found.schema, snapshot, (&layout.wal(), log), replayed) {
            Ok(()) => {
                out.problem(
                    &layout.schema(name),
                    0,
                    format!(
                        "repair rebuilds it from {from}: the schema file the manifest names \
                         (its checksum matches), which the rows fit"
                    ),
                );
                let mut state = TableState::new(found.schema, SchemaSource::Log, Vec::new());
                state.created_lsn = found.lsn;
                out.tables.insert(name.clone(), state);
            }
            Err(reason) => out.problem(
                &layout.schema(name),
                0,
                format!("{from} does not fit its rows: {reason}"),
            ),
        }
    }
}

/// Every foreign key value must name a row of the table it references (after the log, and
/// across tables). A row that does not is reported, and left out of the rebuilt table, with
/// its bytes kept where they were found; rows that referenced it follow, until none is left.
fn check_foreign_keys(out: &mut Inspection, layout: &Layout) {
    loop {
        let mut orphans: Vec<(String, Value, Origin, String)> = Vec::new();
        for (name, state) in &out.tables {
            for (col, c) in state.schema.columns.iter().enumerate() {
                let Some(fk) = &c.references else { continue };
                let parent = out.tables.get(&fk.table);
                if parent.is_none() && out.quarantined.contains_key(&fk.table) {
                    // The parent's rows are set aside, not gone: nothing to check against.
                    continue;
                }
                if out.unreadable_tables.contains(&fk.table) {
                    // Nor when its snapshot or schema could not be read.
                    continue;
                }
                for (row, origin) in state.rows.iter().zip(&state.origins) {
                    let Some(row) = row else { continue };
                    let v = &row[col];
                    if v.is_null() || parent.is_some_and(|p| p.has_key(v)) {
                        continue;
                    }
                    let key = state.key_of(row);
                    orphans.push((
                        name.clone(),
                        key.clone(),
                        *origin,
                        format!(
                            "row {key}: foreign key {name}.{} = {v} names no row of {}",
                            c.name, fk.table
                        ),
                    ));
                }
            }
        }
        if orphans.is_empty() {
            return;
        }
        for (name, key, origin, reason) in orphans {
            if let Some(state) = out.tables.get_mut(&name) {
                if !state.has_key(&key) {
                    continue;
                }
                state.delete(&key);
                let (file, line) = match origin {
                    Origin::Snapshot(line) => (layout.records(&name), line),
                    Origin::Log(line) => (layout.wal(), line),
                    Origin::Archived(lsn, line) => (layout.archived_wal(lsn), line),
                };
                state.dropped.push(DroppedRow {
                    file: file.clone(),
                    line,
                    reason: reason.clone(),
                });
                out.problems.push(Problem {
                    file,
                    line,
                    message: reason,
                });
            }
        }
    }
}
