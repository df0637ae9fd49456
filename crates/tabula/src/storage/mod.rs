//! Everything that touches disk: the directory layout, schema files, snapshots, the
//! manifest, the write-ahead log and the lock. Nothing here knows user types or the
//! in-memory tables: rows come in as borrowed columns and go out as `Value`s in schema
//! order.

pub(crate) mod checkpoint;
pub(crate) mod codec;
pub(crate) mod creation;
pub(crate) mod directory;
pub(crate) mod export;
#[cfg(any(test, feature = "testing"))]
pub(crate) mod faulty;
pub(crate) mod fs;
pub(crate) mod inspect;
pub(crate) mod layout;
pub(crate) mod manifest;
pub(crate) mod plain_row;
pub(crate) mod recover;
pub(crate) mod repair;
pub(crate) mod snapshot;
pub(crate) mod verify;
pub(crate) mod wal;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::fs::{DirLock, FileSystem};
use crate::storage::layout::Layout;
use crate::storage::manifest::{crc_hex, Manifest, TableEntry, FORMAT};
use crate::storage::wal::writer::WalWriter;
use crate::storage::wal::{DroppedRecord, Durability, Recovery};
use crate::value::Value;

/// A compatible schema change recorded in a schema file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Migration {
    /// The log position at which it happened.
    pub(crate) lsn: u64,
    /// What changed, in words.
    pub(crate) change: String,
    /// crc32c of the schema file the migration replaced (absent in files written before it
    /// was recorded, and for a table whose creation was still only in the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) from_schema_crc32c: Option<String>,
}

/// `schema/<table>.schema.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SchemaFile {
    pub(crate) format: u32,
    #[serde(flatten)]
    pub(crate) schema: Schema,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) migrations: Vec<Migration>,
}

/// A schema file's bytes: pretty JSON and a final newline.
fn schema_file_bytes(schema: &Schema, migrations: &[Migration]) -> Result<Vec<u8>> {
    let file = SchemaFile {
        format: FORMAT,
        schema: schema.clone(),
        migrations: migrations.to_vec(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::Json {
        context: format!("schema of {}", schema.table),
        source: e,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Options fixed when a database is opened.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) durability: Durability,
    pub(crate) recovery: Recovery,
    pub(crate) keep_archived: usize,
    pub(crate) auto_checkpoint_bytes: Option<u64>,
}

pub(crate) struct Storage {
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) layout: Layout,
    /// The log's writer; `None` when the directory was opened read-only.
    pub(crate) wal: Option<WalWriter>,
    /// A read-only open's consistent point: each table's snapshot bytes as of the open
    /// (taken by the table's first load, so a checkpoint renaming files under a reader
    /// cannot mix two points), and the log as read.
    pub(crate) image: Mutex<ReadOnlyImage>,
    pub(crate) options: Options,
    lock: Mutex<Option<Box<dyn DirLock>>>,
    pub(crate) manifest: Mutex<Manifest>,
    pub(crate) dropped: Mutex<Vec<DroppedRecord>>,
    /// Salvage mode dropped a damaged record before good ones: a checkpoint must rewrite the
    /// directory before it is consistent again.
    pub(crate) needs_checkpoint: bool,
    /// What that checkpoint archives in place of the damaged log (see [`SalvagedLog`]).
    pub(crate) salvaged: Mutex<Option<SalvagedLog>>,
}

/// A log a salvaging open kept records of around damage. The checkpoint that open makes
/// (the first) archives those records alone, and keeps the log as it was in `damaged`:
/// no archived segment holds damage (verify reads them, and repair rebuilds from them).
/// Nothing is moved before that checkpoint, so an open that fails on the way leaves the
/// damage where it was, for the next open to refuse again.
#[derive(Debug)]
pub(crate) struct SalvagedLog {
    /// Where each record kept is in the log, in order (the records past the checkpoint the
    /// manifest names; those it covers an earlier checkpoint archived).
    pub(crate) kept: Vec<std::ops::Range<usize>>,
    /// The file the log as it was goes to (`wal/transaction.<lsn>[-n].damaged`).
    pub(crate) damaged: std::path::PathBuf,
}

/// Why a read-only open could not read a snapshot: the kind of the error (a missing file
/// is damage the first load reports as such) and its text.
pub(crate) type SnapshotError = (std::io::ErrorKind, String);

/// What a read-only open read, beyond the tables: see [`Storage::image`].
#[derive(Debug, Default)]
pub(crate) struct ReadOnlyImage {
    /// Each table's snapshot bytes, or why they could not be read (reported by the table's
    /// first load, as a writable open would; the other tables open). Dropped once a load of
    /// the table is published ([`Storage::loaded`]).
    pub(crate) snapshots: HashMap<String, std::result::Result<Arc<Vec<u8>>, SnapshotError>>,
    /// Bytes of the log up to its last complete record, and how many records it held.
    pub(crate) log_bytes: u64,
    pub(crate) log_records: u64,
    pub(crate) last_lsn: u64,
}

/// Why a snapshot's bytes are not the ones `entry` lists (their length and checksum), if
/// they are not.
pub(crate) fn snapshot_mismatch(bytes: &[u8], entry: &TableEntry) -> Option<String> {
    let crc = crc_hex(bytes);
    (crc != entry.snapshot_crc32c || bytes.len() as u64 != entry.snapshot_bytes).then(|| {
        format!(
            "checksum {crc} ({} bytes) does not match the manifest's {} ({} bytes)",
            bytes.len(),
            entry.snapshot_crc32c,
            entry.snapshot_bytes
        )
    })
}

/// Why a snapshot the manifest lists and the directory lacks is damage.
pub(crate) fn missing_snapshot(entry: &TableEntry) -> String {
    // Damage as much as a bad checksum: the manifest lists rows the directory no longer
    // has (verify and repair say the same).
    format!("missing; the manifest lists {} rows", entry.rows)
}

/// A snapshot of `rows` rows is the one `entry` lists only with as many: otherwise
/// `Error::Corrupt` naming it.
fn rows_as_listed(path: &Path, rows: usize, entry: &TableEntry) -> Result<()> {
    match rows_differ(rows, entry) {
        Some(reason) => Err(Error::corrupt(path, 0, reason)),
        None => Ok(()),
    }
}

/// Why a snapshot of `rows` rows is not the one `entry` lists, if it is not.
pub(crate) fn rows_differ(rows: usize, entry: &TableEntry) -> Option<String> {
    (rows as u64 != entry.rows).then(|| format!("{rows} rows, the manifest says {}", entry.rows))
}

/// The rows of a snapshot as loading counts them: every line one, the last with or without
/// its newline.
pub(crate) fn snapshot_lines(bytes: &[u8]) -> usize {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    newlines + usize::from(bytes.last().is_some_and(|&b| b != b'\n'))
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("root", &self.layout.root)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Whether the directory was opened read-only (no lock, no writes).
    pub(crate) fn read_only(&self) -> bool {
        self.wal.is_none()
    }

    /// `Error::ReadOnly` for `operation` ("write table students", "checkpoint", ...).
    pub(crate) fn refuse(&self, operation: impl Into<String>) -> Error {
        Error::ReadOnly {
            path: self.layout.root.clone(),
            operation: operation.into(),
        }
    }

    /// A read-only open's new consistent point (from a refresh) replaces the old one.
    pub(crate) fn replace_with(&self, fresh: Storage) {
        fn take<T: Default>(m: &Mutex<T>) -> T {
            std::mem::take(&mut *m.lock().unwrap_or_else(PoisonError::into_inner))
        }
        fn put<T>(m: &Mutex<T>, v: T) {
            *m.lock().unwrap_or_else(PoisonError::into_inner) = v;
        }
        put(&self.image, take(&fresh.image));
        put(&self.manifest, take(&fresh.manifest));
        put(&self.dropped, take(&fresh.dropped));
    }

    /// The log's writer; `Error::ReadOnly` for a read-only open.
    pub(crate) fn wal(&self) -> Result<&WalWriter> {
        self.wal.as_ref().ok_or_else(|| self.refuse("write"))
    }

    /// The log's size in bytes and records, and its last LSN.
    pub(crate) fn log_position(&self) -> (u64, u64, u64) {
        match &self.wal {
            Some(w) => {
                let (bytes, records) = w.size();
                (bytes, records, w.last_lsn())
            }
            None => {
                let image = self.image.lock().unwrap_or_else(PoisonError::into_inner);
                (image.log_bytes, image.log_records, image.last_lsn)
            }
        }
    }

    /// A table's snapshot bytes: the file, or for a read-only open the bytes read at its
    /// consistent point.
    fn snapshot_bytes(&self, table: &str, path: &Path) -> std::io::Result<Arc<Vec<u8>>> {
        if !self.read_only() {
            return self.fs.read(path).map(Arc::new);
        }
        let image = self.image.lock().unwrap_or_else(PoisonError::into_inner);
        match image.snapshots.get(table) {
            Some(Ok(bytes)) => Ok(bytes.clone()),
            Some(Err((kind, reason))) => Err(std::io::Error::new(*kind, reason.clone())),
            // Not `NotFound`, which a first load reports as a snapshot gone from the
            // directory: these bytes were dropped (a load whose state was thrown away).
            None => Err(std::io::Error::other(
                "no snapshot was read for this table when the database was opened",
            )),
        }
    }

    /// Table `table` is in memory in the published state now: a read-only open drops the
    /// snapshot bytes it kept.
    pub(crate) fn loaded(&self, table: &str) {
        if self.read_only() {
            self.image
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .snapshots
                .remove(table);
        }
    }

    /// Writes a file atomically: temporary file, fsync, rename, fsync of the directory.
    pub(crate) fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        if self.read_only() {
            return Err(self.refuse(format!("write {}", path.display())));
        }
        write_atomic_with(&*self.fs, path, bytes)
    }

    /// Writes a table's schema file atomically; returns its bytes' checksum.
    pub(crate) fn write_schema(&self, schema: &Schema, migrations: &[Migration]) -> Result<String> {
        let bytes = schema_file_bytes(schema, migrations)?;
        self.write_atomic(&self.layout.schema(&schema.table), &bytes)?;
        Ok(crc_hex(&bytes))
    }

    /// Writes a table's schema file to its temporary name, synced, for a checkpoint to
    /// commit (a migration's); returns its bytes' checksum, which the manifest will name.
    pub(crate) fn stage_schema(&self, schema: &Schema, migrations: &[Migration]) -> Result<String> {
        if self.read_only() {
            return Err(self.refuse(format!("migrate table {}", schema.table)));
        }
        let bytes = schema_file_bytes(schema, migrations)?;
        let tmp = Layout::tmp(&self.layout.schema(&schema.table));
        self.fs
            .write_synced(&tmp, &[&bytes])
            .map_err(|e| Error::io(&tmp, e))?;
        // Its name must survive a power loss once the manifest names it.
        let dir = self.layout.schema_dir();
        self.fs.sync_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(crc_hex(&bytes))
    }

    /// Removes a staged schema file whose checkpoint failed (best effort: the next open
    /// removes it too).
    pub(crate) fn discard_staged_schema(&self, table: &str) {
        let _ = self.fs.remove(&Layout::tmp(&self.layout.schema(table)));
    }

    /// Renames a staged schema file, which a committed manifest names, into place.
    pub(crate) fn finish_staged_schema(&self, table: &str) -> Result<()> {
        let path = self.layout.schema(table);
        self.fs
            .rename(&Layout::tmp(&path), &path)
            .map_err(|e| Error::io(&path, e))?;
        let dir = self.layout.schema_dir();
        self.fs.sync_dir(&dir).map_err(|e| Error::io(&dir, e))
    }

    /// Reads and verifies a table's snapshot (nothing if the table has none yet), converting
    /// each row as it is read and handing the rows to `each` in file order, a chunk at a
    /// time (see [`snapshot::decode`]); the number of rows. An error `each` returns is
    /// returned as it is. A snapshot holding other than the manifest's row count is
    /// `Error::Corrupt` once every row has been handed over.
    pub(crate) fn load_snapshot<T: Send>(
        &self,
        schema: &Schema,
        entry: Option<&TableEntry>,
        convert: snapshot::Convert<'_, T>,
        each: &mut dyn FnMut(Vec<T>) -> Result<()>,
    ) -> Result<u64> {
        let Some(entry) = entry else {
            return Ok(0);
        };
        let path = self.layout.records(&schema.table);
        let bytes = self.checked_snapshot(&schema.table, &path, entry)?;
        let rows = snapshot::decode(&path, schema, &bytes, convert, each)?;
        rows_as_listed(&path, rows as usize, entry)?;
        Ok(rows)
    }

    /// A table's snapshot, as the manifest's entry describes it (its length and checksum):
    /// a snapshot that is missing or differs is `Error::Corrupt` naming it.
    fn checked_snapshot(
        &self,
        table: &str,
        path: &Path,
        entry: &TableEntry,
    ) -> Result<Arc<Vec<u8>>> {
        let bytes = self
            .snapshot_bytes(table, path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::corrupt(path, 0, missing_snapshot(entry)),
                _ => Error::io(path, e),
            })?;
        if let Some(reason) = snapshot_mismatch(&bytes, entry) {
            return Err(Error::corrupt(path, 0, reason));
        }
        Ok(bytes)
    }

    /// Salvage mode: every line of a snapshot that parses, with its line number, whatever the
    /// checksum says; what cannot be read is reported and dropped.
    pub(crate) fn salvage_snapshot(&self, schema: &Schema) -> Vec<(u64, Vec<Value>)> {
        let path = self.layout.records(&schema.table);
        let bytes = match self.snapshot_bytes(&schema.table, &path) {
            Ok(b) => b,
            Err(e) => {
                self.report(&path, 0, format!("unreadable snapshot: {e}"));
                return Vec::new();
            }
        };
        let mut rows = Vec::new();
        for (no, row) in snapshot::decode_lines(schema, &bytes) {
            match row {
                Ok(v) => rows.push((no, v)),
                Err(reason) => self.report(&path, no, reason),
            }
        }
        rows
    }

    /// Adds a dropped record to the recovery report.
    pub(crate) fn report(&self, file: &Path, line: u64, reason: String) {
        tracing::warn!(file = %file.display(), line, %reason, "salvage dropped a record");
        self.dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(DroppedRecord {
                file: file.to_path_buf(),
                line,
                reason,
                kept_in: None,
            });
    }

    /// Bytes of a file, 0 if missing.
    pub(crate) fn file_len(&self, path: &Path) -> u64 {
        self.fs.len(path).unwrap_or(0)
    }

    /// Flushes the log and releases the lock.
    pub(crate) fn close(&self) -> Result<()> {
        let Some(writer) = &self.wal else {
            return Ok(());
        };
        let wal = self.layout.wal();
        let r = writer
            .sync_all(&wal)
            .and_then(|()| writer.trim().map_err(|e| Error::io(&wal, e)));
        self.lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        r
    }
}

impl Drop for Storage {
    /// A clean drop leaves the log without its preallocated zeros, as `close` does. Only while
    /// this process still holds the lock: after `close` the directory may be another's.
    fn drop(&mut self) {
        let held = self
            .lock
            .get_mut()
            .map_or_else(|e| e.into_inner().is_some(), |l| l.is_some());
        if let (true, Some(writer)) = (held, &self.wal) {
            if let Err(e) = writer.trim() {
                tracing::warn!(error = %e, "could not cut the preallocated end of the log");
            }
        }
    }
}

/// Writes a file atomically: temporary file, fsync, rename, fsync of its directory. Used for
/// the files of a database directory and for exports.
pub(crate) fn write_atomic_with(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = Layout::tmp(path);
    fs.write_synced(&tmp, &[bytes])
        .map_err(|e| Error::io(&tmp, e))?;
    if let Err(e) = fs.rename(&tmp, path) {
        let _ = fs.remove(&tmp);
        return Err(Error::io(path, e));
    }
    // A bare file name lives in the current directory.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}
