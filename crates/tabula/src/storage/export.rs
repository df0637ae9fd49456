//! The export format: one portable JSON document,
//! `{"format":"tabula-export","version":1,"tables":[{"schema":{...},"next_key":N,"rows":[{...},...]}]}`,
//! with each row as its snapshot line writes it (`next_key` only for a table with an
//! auto-increment key).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::codec::{decode_row, RowsWriter};
use crate::storage::fs::FileSystem;
use crate::storage::layout::{Layout, TMP};
use crate::value::Value;

const FORMAT: &str = "tabula-export";
const VERSION: u32 = 1;

/// Writes an export document, table after table.
pub(crate) struct ExportWriter {
    out: Vec<u8>,
    tables: usize,
}

impl ExportWriter {
    pub(crate) fn new() -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(
            format!("{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"tables\":[").as_bytes(),
        );
        ExportWriter { out, tables: 0 }
    }

    /// Adds a table: its schema, its auto-increment counter (`next_key`, the key its next
    /// row gets, for a table with an auto-increment key), then the rows `rows` writes (one
    /// per line).
    pub(crate) fn table(
        &mut self,
        schema: &Schema,
        next_key: i64,
        rows: impl FnOnce(&mut RowsWriter<'_>) -> Result<()>,
    ) -> Result<()> {
        if self.tables > 0 {
            self.out.push(b',');
        }
        self.tables += 1;
        self.out.extend_from_slice(b"\n{\"schema\":");
        serde_json::to_writer(&mut self.out, schema).map_err(|e| Error::Json {
            context: format!("schema of {}", schema.table),
            source: e,
        })?;
        if schema.auto_increment() {
            self.out
                .extend_from_slice(format!(",\"next_key\":{next_key}").as_bytes());
        }
        self.out.extend_from_slice(b",\"rows\":[\n");
        rows(&mut RowsWriter::new(schema, &mut self.out, b",\n"))?;
        self.out.extend_from_slice(b"]}");
        Ok(())
    }

    /// The whole document.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"\n]}\n");
        self.out
    }
}

#[derive(Deserialize)]
struct Document {
    format: String,
    version: u32,
    tables: Vec<TableDoc>,
}

#[derive(Deserialize)]
struct TableDoc {
    schema: Schema,
    /// Absent from documents written before it was exported, and for tables without an
    /// auto-increment key.
    #[serde(default)]
    next_key: Option<i64>,
    rows: Vec<Box<RawValue>>,
}

/// One table of an export document: its checked schema, its auto-increment counter when
/// the document has one, and its rows as values in schema order.
#[derive(Debug)]
pub(crate) struct Exported {
    pub(crate) schema: Schema,
    pub(crate) next_key: Option<i64>,
    pub(crate) rows: Vec<Vec<Value>>,
}

/// Reads an export document (`path` names it in errors). A table named twice is refused.
pub(crate) fn read_export(path: &Path, bytes: &[u8]) -> Result<Vec<Exported>> {
    let doc: Document = serde_json::from_slice(bytes).map_err(|e| Error::Json {
        context: format!("import {}", path.display()),
        source: e,
    })?;
    let bad = |reason: String| Error::corrupt(path, 0, reason);
    if doc.format != FORMAT || doc.version != VERSION {
        return Err(bad(format!(
            "not a {FORMAT} version {VERSION} document (format {:?}, version {})",
            doc.format, doc.version
        )));
    }
    let mut tables: Vec<Exported> = Vec::new();
    for t in doc.tables {
        let mut schema = t.schema;
        schema.finish()?;
        if tables.iter().any(|e| e.schema.table == schema.table) {
            return Err(bad(format!("table {} appears twice", schema.table)));
        }
        let rows = t
            .rows
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                decode_row(&schema, raw.get())
                    .map_err(|e| bad(format!("table {} row {}: {e}", schema.table, i + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(why) = t.next_key.and_then(|n| schema.counter_refused(n)) {
            return Err(bad(format!("table {}: next_key {why}", schema.table)));
        }
        tables.push(Exported {
            schema,
            next_key: t.next_key,
            rows,
        });
    }
    Ok(tables)
}

/// Refuses an export target that lies inside a database directory: `own_root` (the
/// exporting database's, if it has one) or any directory holding a `wal/transaction.log`,
/// or a `manifest.json` beside a `schema/` directory, the
/// target's own directory and every one above it. The target is resolved first (symbolic
/// links and `..`), so no spelling of a path inside a database gets through. Overwriting a
/// database's files with an export would leave it unopenable.
pub(crate) fn check_export_target(
    fs: &dyn FileSystem,
    own_root: Option<&Path>,
    target: &Path,
) -> Result<()> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let resolved_parent = fs.canonical(parent).map_err(|e| Error::io(parent, e))?;
    let own = own_root.and_then(|r| fs.canonical(r).ok());
    for dir in resolved_parent.ancestors() {
        let layout = Layout::new(dir);
        // A `manifest.json` alone is many tools' file (a web app's, an extension's): a
        // database's stands beside its schema directory.
        let database = fs.exists(&layout.wal())
            || (fs.exists(&layout.manifest()) && fs.exists(&layout.schema_dir()));
        if own.as_deref() == Some(dir) || database {
            return Err(Error::ExportIntoDatabase {
                path: target.to_path_buf(),
                database: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Refuses `target` as the path of a file holding a database's contents (an export, a SQL
/// dump) when it lies inside a database directory, the check
/// [`Database::export_json`](crate::Database::export_json) makes of its path: the
/// directory `target` is in, or any above it, holds a `wal/transaction.log`, or a
/// `manifest.json` beside a `schema/` directory. `target`'s symbolic links are resolved
/// first, a dangling one too (a link to a place inside a database is refused); a device or
/// a pipe is never refused. Writing there would overwrite the database's own
/// files and leave it unopenable. `Error::ExportIntoDatabase` names the directory.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let db = tabula::Database::open(dir.path().join("db"))?;
/// db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")?;
/// let inside = dir.path().join("db").join("manifest.json");
/// assert!(matches!(
///     tabula::check_output_path(&inside),
///     Err(tabula::Error::ExportIntoDatabase { .. })
/// ));
/// tabula::check_output_path(&dir.path().join("dump.sql"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_output_path(target: &Path) -> Result<()> {
    let fs = crate::storage::fs::StdFs;
    if fs.is_special(target) {
        // A device or a pipe (`/dev/stdout`, `>(…)`): nothing a database holds can be
        // overwritten through it, and it may not resolve to a path at all.
        return Ok(());
    }
    check_export_target(&fs, None, &resolved(target))
}

/// `target` with its symbolic links resolved, a dangling one too (a write through it would
/// create the file it points to), as far as they lead.
fn resolved(target: &Path) -> PathBuf {
    let mut path = target.to_path_buf();
    // Links to links, to a bound: a loop resolves to where it stands.
    for _ in 0..40 {
        if let Ok(real) = std::fs::canonicalize(&path) {
            return real;
        }
        match std::fs::read_link(&path) {
            Ok(to) => {
                path = match path.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                }
            }
            Err(_) => break,
        }
    }
    path
}

/// Writes an export document to `target` without ever writing through a name it did not
/// create: the bytes go to a new temporary file beside it (a unique name, created
/// exclusively, so a link or an existing file there is never followed or truncated), which
/// is fsynced and renamed over the target. A target that is a symbolic link has the file
/// it points to replaced (checked again against the databases, once resolved); a device or
/// a pipe (`/dev/stdout`) is written through.
pub(crate) fn write_export(
    fs: &dyn FileSystem,
    own_root: Option<&Path>,
    target: &Path,
    bytes: &[u8],
) -> Result<()> {
    if fs.is_special(target) {
        // A device or a pipe (`/dev/stdout`): nothing a database holds can be overwritten
        // through it, and it cannot be replaced.
        return fs
            .write_through(target, &[bytes])
            .map_err(|e| Error::io(target, e));
    }
    let dest = if fs.exists(target) {
        fs.canonical(target).map_err(|e| Error::io(target, e))?
    } else {
        target.to_path_buf()
    };
    check_export_target(fs, own_root, &dest)?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp = loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}{TMP}", std::process::id()));
        match fs.write_new_synced(&tmp, &[bytes]) {
            Ok(()) => break tmp,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&tmp, e)),
        }
    };
    if let Err(e) = fs.rename(&tmp, &dest) {
        let _ = fs.remove(&tmp);
        return Err(Error::io(&dest, e));
    }
    fs.sync_dir(&dir).map_err(|e| Error::io(&dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    #[test]
    fn a_document_reads_back_as_written() {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("name", ColumnType::Text),
            ],
        )
        .unwrap();
        let rows = [
            vec![Value::Int(1), Value::from("a")],
            vec![Value::Int(2), Value::from("b\"c")],
        ];
        let mut w = ExportWriter::new();
        w.table(&schema, 7, |out| {
            rows.iter()
                .try_for_each(|r| out.row(|i| r[i].as_ref(), || Ok(r.clone())))
        })
        .unwrap();
        let bytes = w.finish();
        let back = read_export(Path::new("x.json"), &bytes).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].schema, schema);
        assert_eq!(back[0].next_key, Some(7));
        assert_eq!(back[0].rows, rows.to_vec());
        // A document without counters (written before they were exported) reads too.
        let old =
            br#"{"format":"tabula-export","version":1,"tables":[{"schema":SCHEMA,"rows":[]}]}"#;
        let old = String::from_utf8_lossy(old)
            .replace("SCHEMA", &serde_json::to_string(&schema).unwrap());
        let back = read_export(Path::new("x.json"), old.as_bytes()).unwrap();
        assert_eq!(back[0].next_key, None);
        let e = read_export(
            Path::new("x.json"),
            br#"{"format":"other","version":1,"tables":[]}"#,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    }
}
