//! `verify`: reads every file of a database directory without changing any, and reports
//! every problem with its file and line: checksums, LSN continuity, schema/record agreement,
//! primary-key, unique and NOT NULL constraints, leftover temporary files.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::fs::{FileSystem, StdFs};
use crate::storage::layout::{Layout, TMP};
use crate::storage::manifest::{crc_hex, schema_disagreement, Manifest};
use crate::storage::snapshot::decode_lines;
use crate::storage::wal::decode::decode_ops;
use crate::storage::wal::scan::{scan, Recovery};
use crate::storage::SchemaFile;
use crate::value::Value;

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
/// (empty when the directory is sound). Nothing is changed. Run it while no process has the
/// database open: a database being written can look inconsistent between two writes.
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
    let layout = Layout::new(root);
    let mut problems = Vec::new();
    let mut report = |file: &Path, line: u64, message: String| {
        problems.push(Problem {
            file: file.to_path_buf(),
            line,
            message,
        })
    };
    if !fs.exists(root) {
        return Err(Error::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no database directory here"),
        ));
    }
    let read = |p: &Path| fs.read(p).map_err(|e| Error::io(p, e));

    let manifest_path = layout.manifest();
    let manifest: Manifest = if fs.exists(&manifest_path) {
        match serde_json::from_slice(&read(&manifest_path)?) {
            Ok(m) => m,
            Err(e) => {
                report(
                    &manifest_path,
                    e.line() as u64,
                    format!("unreadable manifest: {e}"),
                );
                Manifest::default()
            }
        }
    } else {
        Manifest::default()
    };

    for dir in [
        layout.root.clone(),
        layout.schema_dir(),
        layout.data_dir(),
        layout.wal_dir(),
    ] {
        if let Ok(list) = fs.list(&dir) {
            for p in list {
                if p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(TMP))
                {
                    report(
                        &p,
                        0,
                        "leftover temporary file of an interrupted write".into(),
                    );
                }
            }
        }
    }

    // Schemas.
    let mut schemas: BTreeMap<String, Schema> = BTreeMap::new();
    for p in fs.list(&layout.schema_dir()).unwrap_or_default() {
        let Some(name) = Layout::table_of_schema(&p) else {
            continue;
        };
        let bytes = read(&p)?;
        let mut file: SchemaFile = match serde_json::from_slice(&bytes) {
            Ok(f) => f,
            Err(e) => {
                report(&p, e.line() as u64, format!("unreadable schema: {e}"));
                continue;
            }
        };
        if let Err(e) = file.schema.finish() {
            report(&p, 0, format!("invalid schema: {e}"));
            continue;
        }
        if file.schema.table != name {
            report(&p, 0, format!("names table {:?}", file.schema.table));
        }
        let entry = manifest.tables.get(&name);
        if let Some(reason) = schema_disagreement(entry, &bytes, &file.migrations, manifest.lsn) {
            report(&p, 0, reason);
        }
        schemas.insert(name, file.schema);
    }

    // Snapshots: checksum, every line, constraints.
    for (name, entry) in &manifest.tables {
        let Some(schema) = schemas.get(name) else {
            report(
                &layout.schema(name),
                0,
                "listed in the manifest but missing".into(),
            );
            continue;
        };
        let p = layout.records(name);
        let bytes = match fs.read(&p) {
            Ok(b) => b,
            Err(e) => {
                report(&p, 0, format!("cannot read the snapshot: {e}"));
                continue;
            }
        };
        if crc_hex(&bytes) != entry.snapshot_crc32c || bytes.len() as u64 != entry.snapshot_bytes {
            report(
                &p,
                0,
                format!(
                    "checksum {} ({} bytes) does not match the manifest's {} ({} bytes)",
                    crc_hex(&bytes),
                    bytes.len(),
                    entry.snapshot_crc32c,
                    entry.snapshot_bytes
                ),
            );
        }
        let mut keys = UniqueKeys::new(schema);
        let mut rows = 0u64;
        for (no, row) in decode_lines(schema, &bytes) {
            match row {
                Ok(values) => {
                    rows += 1;
                    if let Err(e) = keys.add(&values) {
                        report(&p, no, e.to_string());
                    }
                }
                Err(e) => report(&p, no, e),
            }
        }
        if rows != entry.rows {
            report(
                &p,
                0,
                format!("{rows} readable rows, the manifest says {}", entry.rows),
            );
        }
    }
    for p in fs.list(&layout.data_dir()).unwrap_or_default() {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(t) = name.strip_suffix(".records") {
            if !manifest.tables.contains_key(t) {
                report(
                    &p,
                    0,
                    "snapshot of a table the manifest does not list".into(),
                );
            }
        }
    }

    // The log: every line, LSN continuity, tables created and rows.
    let wal_path = layout.wal();
    if fs.exists(&wal_path) {
        let bytes = read(&wal_path)?;
        match scan(&wal_path, &bytes, Recovery::Salvage, manifest.lsn) {
            Ok(scan) => {
                for d in scan.dropped {
                    report(&wal_path, d.line, d.reason);
                }
                for (line, rec) in &scan.records {
                    for ops in &rec.tables {
                        if let Some(created) = &ops.create {
                            let mut created = created.clone();
                            match created.finish() {
                                Err(e) => {
                                    report(&wal_path, *line, format!("invalid schema: {e}"));
                                    continue;
                                }
                                Ok(()) => {
                                    let stored = schemas.entry(ops.table.clone());
                                    let s = stored.or_insert_with(|| created.clone());
                                    let diffs = s.differences(&created);
                                    if !diffs.is_empty() {
                                        report(
                                            &wal_path,
                                            *line,
                                            format!(
                                                "creates table {} unlike its schema file: {}",
                                                ops.table,
                                                diffs.join("; ")
                                            ),
                                        );
                                    }
                                }
                            }
                        }
                        match schemas.get(&ops.table) {
                            None => {
                                report(&wal_path, *line, format!("unknown table {:?}", ops.table))
                            }
                            Some(s) => {
                                if let Err(e) = decode_ops(&wal_path, *line, s, ops) {
                                    report(&wal_path, *line, e.to_string());
                                }
                            }
                        }
                    }
                }
            }
            Err(e) => report(&wal_path, 0, e.to_string()),
        }
    }
    Ok(problems)
}

/// The primary-key and unique values seen so far in one snapshot: a second row holding one
/// is reported as the insert that loads it would report it.
struct UniqueKeys<'s> {
    schema: &'s Schema,
    /// Per checked column (the primary key first, then unique columns): its position and the
    /// values seen.
    seen: Vec<(usize, HashSet<Value>)>,
}

impl<'s> UniqueKeys<'s> {
    fn new(schema: &'s Schema) -> Self {
        let pk = schema.primary_key();
        let seen = std::iter::once(pk)
            .chain((0..schema.columns.len()).filter(|&c| schema.columns[c].unique && c != pk))
            .map(|c| (c, HashSet::new()))
            .collect();
        UniqueKeys { schema, seen }
    }

    /// Records a row's values; a value some earlier row holds is `Error::UniqueViolation`
    /// (nulls never collide).
    fn add(&mut self, values: &[Value]) -> Result<()> {
        for (col, seen) in &self.seen {
            let v = &values[*col];
            if v.is_null() {
                continue;
            }
            if seen.contains(v) {
                return Err(Error::UniqueViolation {
                    table: self.schema.table.clone(),
                    column: self.schema.columns[*col].name.clone(),
                    value: v.clone(),
                });
            }
        }
        for (col, seen) in &mut self.seen {
            if !values[*col].is_null() {
                seen.insert(values[*col].clone());
            }
        }
        Ok(())
    }
}
