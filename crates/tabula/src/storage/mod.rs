//! Everything that touches disk: the directory layout, schema files, snapshots, the
//! manifest, the write-ahead log and the lock. Nothing here knows user types; rows are
//! `Value`s in schema order.

pub(crate) mod codec;
pub(crate) mod fs;
pub(crate) mod layout;
pub(crate) mod manifest;
pub(crate) mod plain_row;
pub(crate) mod snapshot;
pub(crate) mod verify;
pub(crate) mod wal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::codec::corrupt;
use crate::storage::fs::{DirLock, FileSystem};
use crate::storage::layout::Layout;
use crate::storage::manifest::{
    crc_hex, crc_hex_parts, schema_disagreement, Manifest, TableEntry, FORMAT,
};
use crate::storage::wal::{DroppedRecord, Durability, RawTableOps, Recovery, WalWriter};
use crate::value::Value;

/// A compatible schema change recorded in a schema file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Migration {
    /// The log position at which it happened.
    pub(crate) lsn: u64,
    /// What changed, in words.
    pub(crate) change: String,
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

/// Options fixed when a database is opened.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) durability: Durability,
    pub(crate) recovery: Recovery,
    pub(crate) keep_archived: usize,
    pub(crate) auto_checkpoint_bytes: Option<u64>,
}

/// What recovery found for one table: its schema, and log operations to replay on load.
#[derive(Debug)]
pub(crate) struct RecoveredTable {
    pub(crate) schema: Schema,
    /// crc32c of the schema file as read.
    pub(crate) schema_crc32c: String,
    pub(crate) migrations: Vec<Migration>,
    pub(crate) entry: Option<TableEntry>,
    pub(crate) pending: Vec<(u64, RawTableOps)>,
}

/// A snapshot written to its temporary file, waiting for the manifest to commit it.
#[derive(Debug)]
pub(crate) struct StagedSnapshot {
    pub(crate) table: String,
    pub(crate) entry: TableEntry,
}

pub(crate) struct Storage {
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) layout: Layout,
    pub(crate) wal: WalWriter,
    pub(crate) options: Options,
    lock: Mutex<Option<Box<dyn DirLock>>>,
    pub(crate) manifest: Mutex<Manifest>,
    pub(crate) dropped: Mutex<Vec<DroppedRecord>>,
    /// Salvage mode dropped a damaged record before good ones: a checkpoint must rewrite the
    /// directory before it is consistent again.
    pub(crate) needs_checkpoint: bool,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("root", &self.layout.root)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Parses a JSON file, naming it on failure.
fn parse_json<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(path, e.line() as u64, e.to_string()))
}

impl Storage {
    /// Opens (creating if needed) the directory: takes the lock, finishes or discards an
    /// interrupted checkpoint, reads the manifest and schemas, and scans the log.
    pub(crate) fn open(
        fs: Arc<dyn FileSystem>,
        root: &Path,
        options: Options,
    ) -> Result<(Storage, Vec<RecoveredTable>)> {
        let layout = Layout::new(root);
        for dir in [
            layout.root.clone(),
            layout.schema_dir(),
            layout.data_dir(),
            layout.wal_dir(),
        ] {
            fs.create_dir_all(&dir).map_err(io(&dir))?;
        }
        let lock_path = layout.lock();
        let lock = Self::lock(&*fs, &lock_path, &layout.root)?;

        let manifest_path = layout.manifest();
        let manifest: Manifest = if fs.exists(&manifest_path) {
            let bytes = fs.read(&manifest_path).map_err(io(&manifest_path))?;
            parse_json(&manifest_path, &bytes)?
        } else {
            Manifest::default()
        };
        if manifest.format != FORMAT {
            return Err(corrupt(
                &manifest_path,
                0,
                format!("unknown format {}", manifest.format),
            ));
        }
        Self::finish_interrupted_checkpoint(&*fs, &layout, &manifest)?;

        // Schemas: every file in schema/, checked against the manifest where it lists them.
        let mut tables: BTreeMap<String, RecoveredTable> = BTreeMap::new();
        let schema_dir = layout.schema_dir();
        for path in fs.list(&schema_dir).map_err(io(&schema_dir))? {
            let Some(name) = Layout::table_of_schema(&path) else {
                continue;
            };
            let bytes = fs.read(&path).map_err(io(&path))?;
            let mut file: SchemaFile = parse_json(&path, &bytes)?;
            file.schema
                .finish()
                .map_err(|e| corrupt(&path, 0, e.to_string()))?;
            if file.schema.table != name {
                return Err(corrupt(
                    &path,
                    0,
                    format!("names table {:?}", file.schema.table),
                ));
            }
            let entry = manifest.tables.get(&name).cloned();
            if let Some(reason) =
                schema_disagreement(entry.as_ref(), &bytes, &file.migrations, manifest.lsn)
            {
                return Err(corrupt(&path, 0, reason));
            }
            tables.insert(
                name,
                RecoveredTable {
                    schema: file.schema,
                    schema_crc32c: crc_hex(&bytes),
                    migrations: file.migrations,
                    entry,
                    pending: Vec::new(),
                },
            );
        }
        for name in manifest.tables.keys() {
            if !tables.contains_key(name) {
                return Err(corrupt(
                    &layout.schema(name),
                    0,
                    "listed in the manifest but missing",
                ));
            }
        }

        // The log: records after the checkpoint, grouped by table.
        let wal_path = layout.wal();
        let bytes = if fs.exists(&wal_path) {
            fs.read(&wal_path).map_err(io(&wal_path))?
        } else {
            Vec::new()
        };
        let scan = wal::scan(&wal_path, &bytes, options.recovery, manifest.lsn)?;
        let mut records = 0u64;
        for (line, rec) in scan.records {
            records += 1;
            for ops in rec.tables {
                let Some(t) = tables.get_mut(&ops.table) else {
                    return Err(corrupt(
                        &wal_path,
                        line,
                        format!("unknown table {:?}", ops.table),
                    ));
                };
                t.pending.push((line, ops));
            }
        }
        let mut file = fs.open_log(&wal_path).map_err(io(&wal_path))?;
        if scan.valid_len < bytes.len() as u64 {
            // Cut the unfinished tail so the next append starts on a line boundary.
            file.truncate(scan.valid_len).map_err(io(&wal_path))?;
        }
        let wal = WalWriter::new(
            file,
            scan.valid_len,
            records,
            scan.last_lsn,
            options.durability,
        )
        .map_err(io(&wal_path))?;
        let storage = Storage {
            fs,
            layout,
            wal,
            options,
            lock: Mutex::new(Some(lock)),
            manifest: Mutex::new(manifest),
            dropped: Mutex::new(scan.dropped),
            needs_checkpoint: scan.damaged_middle,
        };
        Ok((storage, tables.into_values().collect()))
    }

    /// Takes the directory's lock. A lock that is held is asked for again for a short while
    /// (at most a quarter of a second) before `Error::Locked`: between `fork` and `exec`, a
    /// child process of *this* process briefly shares every open file, and with it a lock
    /// its parent has just released. A real second holder keeps the lock and is reported.
    fn lock(fs: &dyn FileSystem, path: &Path, root: &Path) -> Result<Box<dyn DirLock>> {
        let mut wait = std::time::Duration::from_millis(1);
        let mut waited = std::time::Duration::ZERO;
        loop {
            if let Some(lock) = fs.try_lock(path).map_err(io(path))? {
                return Ok(lock);
            }
            if waited >= std::time::Duration::from_millis(250) {
                return Err(Error::Locked {
                    path: root.to_path_buf(),
                });
            }
            std::thread::sleep(wait);
            waited += wait;
            wait = (wait * 2).min(std::time::Duration::from_millis(50));
        }
    }

    /// A crash during a checkpoint leaves `.tmp` files. A snapshot whose temporary file
    /// matches the manifest was committed but not yet renamed: finish it. Every other
    /// temporary file belongs to a checkpoint that never committed: remove it.
    fn finish_interrupted_checkpoint(
        fs: &dyn FileSystem,
        layout: &Layout,
        manifest: &Manifest,
    ) -> Result<()> {
        let mut changed = false;
        for dir in [
            layout.root.clone(),
            layout.schema_dir(),
            layout.data_dir(),
            layout.wal_dir(),
        ] {
            for path in fs.list(&dir).map_err(io(&dir))? {
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(final_name) = name.strip_suffix(layout::TMP) else {
                    continue;
                };
                let final_path = dir.join(final_name);
                let table = final_name.strip_suffix(".records");
                let committed = match table.and_then(|t| manifest.tables.get(t)) {
                    Some(entry) if dir == layout.data_dir() => {
                        let bytes = fs.read(&path).map_err(io(&path))?;
                        crc_hex(&bytes) == entry.snapshot_crc32c
                            && bytes.len() as u64 == entry.snapshot_bytes
                    }
                    _ => false,
                };
                if committed {
                    tracing::info!(file = %final_path.display(), "finishing an interrupted checkpoint");
                    fs.rename(&path, &final_path).map_err(io(&path))?;
                } else {
                    tracing::info!(file = %path.display(), "removing a leftover temporary file");
                    fs.remove(&path).map_err(io(&path))?;
                }
                changed = true;
            }
            if changed {
                fs.sync_dir(&dir).map_err(io(&dir))?;
                changed = false;
            }
        }
        Ok(())
    }

    /// Writes a file atomically: temporary file, fsync, rename, fsync of the directory.
    pub(crate) fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        write_atomic_with(&*self.fs, path, bytes)
    }

    /// Writes a table's schema file; returns its bytes' checksum. For a new table, a failure
    /// removes the file again, so that a creation that reported an error left nothing.
    pub(crate) fn write_schema(&self, schema: &Schema, migrations: &[Migration]) -> Result<String> {
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
        let path = self.layout.schema(&schema.table);
        let new = !self.fs.exists(&path);
        if let Err(e) = self.write_atomic(&path, &bytes) {
            if new && self.fs.exists(&path) {
                let _ = self.fs.remove(&path);
                let _ = self.fs.sync_dir(&self.layout.schema_dir());
            }
            return Err(e);
        }
        Ok(crc_hex(&bytes))
    }

    /// Reads and verifies a table's snapshot (empty if the table has none yet), converting
    /// each row as it is read; the rows come in file order, in chunks (see
    /// [`snapshot::decode`]).
    pub(crate) fn load_snapshot<T: Send>(
        &self,
        schema: &Schema,
        entry: Option<&TableEntry>,
        convert: snapshot::Convert<'_, T>,
    ) -> Result<Vec<Vec<T>>> {
        let Some(entry) = entry else {
            return Ok(Vec::new());
        };
        let path = self.layout.records(&schema.table);
        let bytes = self.fs.read(&path).map_err(io(&path))?;
        let crc = crc_hex(&bytes);
        if crc != entry.snapshot_crc32c || bytes.len() as u64 != entry.snapshot_bytes {
            return Err(corrupt(
                &path,
                0,
                format!(
                    "checksum {crc} ({} bytes) does not match the manifest's {} ({} bytes)",
                    bytes.len(),
                    entry.snapshot_crc32c,
                    entry.snapshot_bytes
                ),
            ));
        }
        let chunks = snapshot::decode(&path, schema, &bytes, convert)?;
        let rows: usize = chunks.iter().map(Vec::len).sum();
        if rows as u64 != entry.rows {
            return Err(corrupt(
                &path,
                0,
                format!("{rows} rows, the manifest says {}", entry.rows),
            ));
        }
        Ok(chunks)
    }

    /// Salvage mode: every line of a snapshot that parses, with its line number, whatever the
    /// checksum says; what cannot be read is reported and dropped.
    pub(crate) fn salvage_snapshot(&self, schema: &Schema) -> Vec<(u64, Vec<Value>)> {
        let path = self.layout.records(&schema.table);
        let bytes = match self.fs.read(&path) {
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
            });
    }

    /// Writes a snapshot to its temporary file (step one of a checkpoint).
    pub(crate) fn stage_snapshot(
        &self,
        schema: &Schema,
        snapshot: &snapshot::Encoded,
        next_key: i64,
        schema_crc32c: String,
    ) -> Result<StagedSnapshot> {
        let tmp = Layout::tmp(&self.layout.records(&schema.table));
        let parts: Vec<&[u8]> = snapshot.parts.iter().map(Vec::as_slice).collect();
        self.fs.write_synced(&tmp, &parts).map_err(io(&tmp))?;
        Ok(StagedSnapshot {
            table: schema.table.clone(),
            entry: TableEntry {
                rows: snapshot.rows,
                next_key,
                snapshot_crc32c: crc_hex_parts(&parts),
                snapshot_bytes: parts.iter().map(|p| p.len() as u64).sum(),
                schema_crc32c,
            },
        })
    }

    /// Removes staged temporary snapshots after a failed checkpoint (best effort: the next
    /// open removes any that remain).
    pub(crate) fn discard_staged(&self, staged: &[StagedSnapshot]) {
        for s in staged {
            let _ = self.fs.remove(&Layout::tmp(&self.layout.records(&s.table)));
        }
    }

    /// Commits a checkpoint: the manifest (the commit point), then the snapshots' renames,
    /// then the log's rotation into an archived segment.
    ///
    /// Until the manifest's rename, a failure discards the staged snapshots (the old
    /// checkpoint stands). After it, they are kept whatever happens: the new manifest may be
    /// on disk and point at them, and the next open finishes or removes them.
    pub(crate) fn commit_checkpoint(
        &self,
        manifest: Manifest,
        staged: &[StagedSnapshot],
    ) -> Result<()> {
        let data = self.layout.data_dir();
        let path = self.layout.manifest();
        let tmp = Layout::tmp(&path);
        let before_commit = |e: Error| {
            self.discard_staged(staged);
            let _ = self.fs.remove(&tmp);
            e
        };
        if !staged.is_empty() {
            self.fs
                .sync_dir(&data)
                .map_err(io(&data))
                .map_err(before_commit)?;
        }
        let mut bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::Json {
                context: "manifest".into(),
                source: e,
            })
            .map_err(before_commit)?;
        bytes.push(b'\n');
        self.fs
            .write_synced(&tmp, &[&bytes])
            .map_err(io(&tmp))
            .map_err(before_commit)?;
        self.fs
            .rename(&tmp, &path)
            .map_err(io(&path))
            .map_err(before_commit)?;
        self.fs
            .sync_dir(&self.layout.root)
            .map_err(io(&self.layout.root))?;
        let lsn = manifest.lsn;
        *self.manifest.lock().unwrap_or_else(PoisonError::into_inner) = manifest;
        // Committed. A failure from here on leaves files the next open completes.
        for s in staged {
            let fin = self.layout.records(&s.table);
            self.fs.rename(&Layout::tmp(&fin), &fin).map_err(io(&fin))?;
        }
        if !staged.is_empty() {
            self.fs.sync_dir(&data).map_err(io(&data))?;
        }
        self.rotate_wal(lsn)
    }

    fn rotate_wal(&self, lsn: u64) -> Result<()> {
        let (_, records) = self.wal.size();
        if records == 0 {
            return Ok(());
        }
        let current = self.layout.wal();
        let archived = self.layout.archived_wal(lsn);
        // An archived segment holds its records and nothing else (no preallocated zeros).
        self.wal.trim().map_err(io(&current))?;
        self.fs.rename(&current, &archived).map_err(io(&current))?;
        let reopened = self.fs.open_log(&current).and_then(|f| self.wal.reset(f));
        if let Err(e) = reopened {
            // Appends would go to the archived file: refuse writes until reopened.
            self.wal
                .poison_for(format!("could not start a new log after rotation: {e}"));
            return Err(Error::Io {
                path: current,
                source: e,
            });
        }
        let wal_dir = self.layout.wal_dir();
        self.fs.sync_dir(&wal_dir).map_err(io(&wal_dir))?;
        self.prune_archives()
    }

    /// Keeps the newest `keep_archived` archived segments.
    fn prune_archives(&self) -> Result<()> {
        let mut archives = self.archives()?;
        let keep = self.options.keep_archived;
        if archives.len() <= keep {
            return Ok(());
        }
        archives.sort_by_key(|(lsn, _, _)| *lsn);
        let remove = archives.len() - keep;
        for (_, path, _) in archives.into_iter().take(remove) {
            self.fs.remove(&path).map_err(io(&path))?;
        }
        Ok(())
    }

    /// Archived segments: (last LSN, path, bytes).
    pub(crate) fn archives(&self) -> Result<Vec<(u64, PathBuf, u64)>> {
        let dir = self.layout.wal_dir();
        let mut out = Vec::new();
        for path in self.fs.list(&dir).map_err(io(&dir))? {
            if let Some(lsn) = Layout::archived_lsn(&path) {
                let len = self.fs.len(&path).unwrap_or(0);
                out.push((lsn, path, len));
            }
        }
        Ok(out)
    }

    /// Bytes of a file, 0 if missing.
    pub(crate) fn file_len(&self, path: &Path) -> u64 {
        self.fs.len(path).unwrap_or(0)
    }

    /// Flushes the log and releases the lock.
    pub(crate) fn close(&self) -> Result<()> {
        let wal = self.layout.wal();
        let r = self
            .wal
            .sync_all(&wal)
            .and_then(|()| self.wal.trim().map_err(io(&wal)));
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
        if held {
            if let Err(e) = self.wal.trim() {
                tracing::warn!(error = %e, "could not cut the preallocated end of the log");
            }
        }
    }
}

/// Writes a file atomically: temporary file, fsync, rename, fsync of its directory. Used for
/// the files of a database directory and for exports.
pub(crate) fn write_atomic_with(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = Layout::tmp(path);
    fs.write_synced(&tmp, &[bytes]).map_err(io(&tmp))?;
    if let Err(e) = fs.rename(&tmp, path) {
        let _ = fs.remove(&tmp);
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        });
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs.sync_dir(dir).map_err(io(dir)),
        _ => Ok(()),
    }
}
