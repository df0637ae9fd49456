//! Opening a database directory: the lock, an interrupted checkpoint finished or undone, the
//! manifest and schema files read and checked, and the log scanned and grouped by table.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::checkpoint::remove_table_files;
use crate::storage::directory::{
    checkpointed, committed_schema, is_database, lost_log, newer_segment, read_log, staged_log,
};
use crate::storage::fs::{DirLock, FileSystem, OddEntry};
use crate::storage::layout::{self, Layout};
use crate::storage::manifest::{crc_hex, schema_disagreement, Manifest, TableEntry};
use crate::storage::wal::line::{fits_key, record_run_on, RawRecord, RawTableOps};
use crate::storage::wal::scan::Scan;
use crate::storage::wal::scan::{damaged_break_reason, scan, Recovery};
use crate::storage::wal::writer::WalWriter;
use crate::storage::{
    missing_snapshot, rows_differ, snapshot_lines, snapshot_mismatch, Migration, Options,
    ReadOnlyImage, SalvagedLog, SchemaFile, Storage,
};

/// What recovery found for one table: its schema, and log operations to replay on load.
#[derive(Debug)]
pub(crate) struct RecoveredTable {
    pub(crate) schema: Schema,
    /// crc32c of the schema file as read (empty when it has none yet).
    pub(crate) schema_crc32c: String,
    /// Whether `schema/<table>.schema.json` exists. A table created since the last
    /// checkpoint may be known only from the log record that created it.
    pub(crate) schema_on_disk: bool,
    pub(crate) migrations: Vec<Migration>,
    pub(crate) entry: Option<TableEntry>,
    pub(crate) pending: Vec<(u64, RawTableOps)>,
    /// The LSN of the record that created the table (see `TableEntry::created_lsn`).
    pub(crate) created_lsn: u64,
    /// Why the snapshot a read-only open read is not the one the manifest lists (that
    /// open's verdict; the table's load reports it).
    pub(crate) snapshot_damage: Option<String>,
}

/// Parses a JSON file, naming it on failure.
fn parse_json<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::corrupt(path, e.line() as u64, e.to_string()))
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
        // The root holds the lock; its subdirectories are made only once the directory is
        // known to be one this open accepts, so that a refused open leaves it as it was
        // (but for the lock file, which is never removed: a process waiting on it would
        // otherwise lock a file no one else can find).
        create_root(&*fs, &layout)?;
        let lock_path = layout.lock();
        let lock = take_lock(&*fs, &lock_path, &layout.root)?;
        refuse_interrupted_repair(&*fs, &layout)?;

        let manifest_path = layout.manifest();
        refuse_lost_manifest(&*fs, &layout)?;
        // Without one (a database never checkpointed) every table is created in the log.
        let had_manifest = fs.exists(&manifest_path);
        let mut manifest: Manifest = if had_manifest {
            let bytes = fs
                .read(&manifest_path)
                .map_err(|e| Error::io(&manifest_path, e))?;
            Manifest::parse(&bytes)
                .map_err(|(line, reason)| Error::corrupt(&manifest_path, line, reason))?
        } else {
            Manifest::default()
        };
        // Before anything is finished or removed: a refused directory stays as it was found,
        // for its backup.
        let wal_path = layout.wal();
        if let Some(reason) = lost_log(&*fs, &layout, manifest.lsn) {
            return Err(Error::corrupt(&wal_path, 0, reason));
        }
        if had_manifest {
            if let Some((segment, reason)) = newer_segment(&*fs, &layout, manifest.lsn)? {
                return Err(Error::corrupt(&segment, 0, reason));
            }
        }
        create_dirs(&*fs, &layout)?;
        finish_interrupted_checkpoint(&*fs, &layout, &manifest)?;
        let mut tables = read_schemas(&*fs, &layout, &manifest)?;

        // The log: records after the checkpoint, grouped by table; a record may create one.
        // (Missing only from a database never written.)
        let bytes = if fs.exists(&wal_path) {
            fs.read(&wal_path).map_err(|e| Error::io(&wal_path, e))?
        } else {
            Vec::new()
        };
        let mut scan = scan(&wal_path, &bytes, options.recovery, manifest.lsn)?;
        let records = add_pending(&mut tables, std::mem::take(&mut scan.records), &wal_path)?;
        // The keys the lines dropped handed out are not handed out again: raised in the
        // table's manifest entry (which the next checkpoint writes as it is, without
        // loading the table), or for a table created since, as a change still to apply.
        // Made durable by the table's next commit or the next checkpoint: a process that
        // ends before either leaves the next open to raise them again, from a salvaged
        // log, but not from a tail it cut (kept aside in a `.damaged` file).
        for (table, k) in std::mem::take(&mut scan.lost_next_keys) {
            let Some(t) = tables.get_mut(&table).filter(|t| fits_key(&t.schema, k)) else {
                continue;
            };
            match (&mut t.entry, manifest.tables.get_mut(&table)) {
                (Some(entry), Some(listed)) => {
                    entry.next_key = entry.next_key.max(k);
                    listed.next_key = listed.next_key.max(k);
                }
                _ => t.pending.push((0, RawTableOps::next_key_only(table, k))),
            }
        }
        if had_manifest {
            refuse_unaccounted(&*fs, &tables, &layout, manifest.lsn, options.recovery)?;
        }
        // A dropped table's files that its `DROP TABLE` could not remove: only once the
        // log has been read whole, so that an open refused for a log that does not follow
        // the manifest (an older copy of it put back) removes nothing.
        for name in manifest.dropped.iter().filter(|n| manifest.is_dropped(n)) {
            remove_table_files(&*fs, &layout, name)?;
        }
        manifest.dropped.clear();
        let mut dropped = scan.dropped;
        let mut file = fs
            .open_log(&wal_path)
            .map_err(|e| Error::io(&wal_path, e))?;
        // The log's name must be durable before a commit's fsync can make it count: synced on
        // every open, since the process that created it may have died before it could.
        let wal_dir = layout.wal_dir();
        fs.sync_dir(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
        if scan.valid_len < bytes.len() as u64 {
            // Cut the unfinished tail so the next append starts on a line boundary; bytes
            // other than preallocated zeros are kept beside the log first.
            let tail = without_zeros(&bytes[scan.valid_len as usize..]);
            if !tail.is_empty() {
                let kept = keep_damaged_tail(&*fs, &layout, scan.last_lsn, tail)?;
                tracing::warn!(file = %wal_path.display(), kept_in = %kept.display(),
                    bytes = tail.len(), "cut a damaged tail from the write-ahead log");
                let kept_lines = bytes[..scan.valid_len as usize]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
                for d in dropped.iter_mut().filter(|d| d.line > kept_lines) {
                    d.kept_in = Some(kept.clone());
                }
            }
            file.truncate(scan.valid_len)
                .map_err(|e| Error::io(&wal_path, e))?;
        }
        // Damage before good records, salvaged: the checkpoint this open makes keeps the
        // log as it is in the first free `.damaged` name (after the tail's, just taken).
        let salvaged = scan.damaged_middle.then(|| {
            let damaged = free_damaged_name(&*fs, &layout, scan.last_lsn);
            for d in dropped.iter_mut().filter(|d| d.kept_in.is_none()) {
                d.kept_in = Some(damaged.clone());
            }
            SalvagedLog {
                kept: std::mem::take(&mut scan.kept_text),
                damaged,
            }
        });
        // The records read may be only in the page cache (a process killed before its
        // fsync, or one writing with `Durability::Buffered`): made durable before any new
        // record, which would otherwise claim, by its batch, that they were acknowledged.
        file.syncer()
            .and_then(|s| s.sync_data())
            .map_err(|e| Error::io(&wal_path, e))?;
        let wal = WalWriter::new(
            file,
            scan.valid_len,
            records,
            scan.last_lsn,
            options.durability,
        )
        .map_err(|e| Error::io(&wal_path, e))?;
        let storage = Storage {
            fs,
            layout,
            wal: Some(wal),
            image: Mutex::new(ReadOnlyImage::default()),
            options,
            lock: Mutex::new(Some(lock)),
            manifest: Mutex::new(manifest),
            dropped: Mutex::new(dropped),
            needs_checkpoint: scan.damaged_middle,
            salvaged: Mutex::new(salvaged),
        };
        Ok((storage, tables.into_values().collect()))
    }
}

/// How often a read-only open starts again when a checkpoint moved the files while it read.
const READ_ONLY_ATTEMPTS: u32 = 100;

impl Storage {
    /// Opens the directory read-only, beside a process that may be writing it: takes no lock
    /// and writes nothing. Reads the manifest, the schema files, every table's snapshot and
    /// the log's complete records as of one consistent point: the manifest is read before
    /// and after, and everything is read again if a checkpoint committed in between (or
    /// renamed a file under the read). A log line still being written (unterminated) is not
    /// yet committed and is left out; a complete damaged last line is reported in place
    /// (nothing is moved), unless its checksum matches (a commit that does not read, which
    /// fails the open as it fails a writable one); damage before good lines fails as it does
    /// for any open.
    pub(crate) fn open_read_only(
        fs: Arc<dyn FileSystem>,
        root: &Path,
        options: Options,
    ) -> Result<(Storage, Vec<RecoveredTable>)> {
        let layout = Layout::new(root);
        if !is_database(&*fs, root) {
            return Err(Error::NotADatabase {
                path: root.to_path_buf(),
            });
        }
        let manifest_path = layout.manifest();
        // Only a missing manifest means "no checkpoint yet"; an unreadable one is an error.
        let read_manifest = || match fs.read(&manifest_path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&manifest_path, e)),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            // After two passes that found the files stable but inconsistent, what is found
            // is what is there: damage, reported as it is (a writer's commit or checkpoint
            // in flight changes the files between passes).
            let settled = attempt > 2;
            let before = read_manifest()?;
            let read = read_consistent_point(&*fs, &layout, before.as_deref(), &options, settled);
            let moved = read_manifest()? != before;
            match read {
                Ok(found) if !moved => {
                    let (manifest, tables, image, dropped) = found;
                    let storage = Storage {
                        fs,
                        layout,
                        wal: None,
                        image: Mutex::new(image),
                        options,
                        lock: Mutex::new(None),
                        manifest: Mutex::new(manifest),
                        dropped: Mutex::new(dropped),
                        needs_checkpoint: false,
                        salvaged: Mutex::new(None),
                    };
                    return Ok((storage, tables));
                }
                Err(e) if !moved && settled => return Err(e),
                Err(e) if attempt >= READ_ONLY_ATTEMPTS => return Err(e),
                _ if attempt >= READ_ONLY_ATTEMPTS => {
                    return Err(Error::io(
                        &manifest_path,
                        std::io::Error::other(
                            "the database kept changing under a read-only open; try again",
                        ),
                    ))
                }
                // A checkpoint committed (or renamed a snapshot) while this read: again.
                _ => std::thread::sleep(std::time::Duration::from_millis(attempt.min(20).into())),
            }
        }
    }
}

/// What one read-only pass over a directory found.
type ConsistentPoint = (
    Manifest,
    Vec<RecoveredTable>,
    ReadOnlyImage,
    Vec<crate::storage::wal::DroppedRecord>,
);

/// One read-only pass (see [`Storage::open_read_only`]), from the manifest bytes read just
/// before it.
fn read_consistent_point(
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest_bytes: Option<&[u8]>,
    options: &Options,
    settled: bool,
) -> Result<ConsistentPoint> {
    refuse_interrupted_repair(fs, layout)?;
    let manifest_path = layout.manifest();
    let manifest = match manifest_bytes {
        Some(bytes) => Manifest::parse(bytes)
            .map_err(|(line, reason)| Error::corrupt(&manifest_path, line, reason))?,
        None => {
            refuse_lost_manifest(fs, layout)?;
            Manifest::default()
        }
    };
    // A segment a checkpoint archived after this manifest's: a checkpoint that committed
    // while this read (then the manifest read again differs, and the open reads again), or
    // an older manifest put back.
    if manifest_bytes.is_some() {
        if let Some((segment, reason)) = newer_segment(fs, layout, manifest.lsn)? {
            return Err(Error::corrupt(&segment, 0, reason));
        }
    }
    let mut tables = read_schemas(fs, layout, &manifest)?;
    let mut image = ReadOnlyImage::default();
    for (name, entry) in &manifest.tables {
        // The snapshot, or the checkpoint's committed temporary file not yet renamed over
        // it; the rename may happen between two reads, so the final name is read twice.
        let path = layout.records(name);
        let tmp = Layout::tmp(&path);
        let matches = |bytes: &Vec<u8>| snapshot_mismatch(bytes, entry).is_none();
        let mut first = None;
        let mut found = None;
        for p in [&path, &tmp, &path] {
            // A link or a pipe at the temporary name is no checkpoint's (a writable open
            // removes it): never read as the snapshot.
            if p == &tmp && fs.odd_entry(&tmp).is_some() {
                continue;
            }
            match fs.read(p) {
                Ok(bytes) if matches(&bytes) => {
                    found = Some(bytes);
                    break;
                }
                Ok(bytes) if p == &path => {
                    first.get_or_insert(Ok(bytes));
                }
                Err(e) if p == &path => {
                    first.get_or_insert(Err((e.kind(), e.to_string())));
                }
                _ => {}
            }
        }
        let matched = found.is_some();
        let snapshot = match (found, first) {
            (Some(bytes), _) => Ok(Arc::new(bytes)),
            // A checkpoint may be renaming files under this pass: look again.
            (None, _) if !settled => return Err(Error::corrupt(
                &path,
                0,
                "does not match the manifest's checksum (nor does a checkpoint's temporary file)",
            )),
            // Damage, left for the table's first load to report (or salvage), as a
            // writable open would: the other tables open.
            (None, Some(first)) => first.map(Arc::new),
            (None, None) => Err((std::io::ErrorKind::NotFound, "missing".to_owned())),
        };
        // What the table's load will say, for `stats` to show before then: the checksum
        // (bytes that matched are not checked again), and the rows as loading counts them
        // (a manifest without its own checksum may list others). Salvage loads what the
        // snapshot's lines hold.
        if options.recovery != Recovery::Salvage {
            let damage = match &snapshot {
                Ok(bytes) if matched => rows_differ(snapshot_lines(bytes), entry),
                Ok(bytes) => snapshot_mismatch(bytes, entry),
                Err((std::io::ErrorKind::NotFound, _)) => Some(missing_snapshot(entry)),
                Err((_, reason)) => Some(reason.clone()),
            };
            if let Some(t) = tables.get_mut(name) {
                t.snapshot_damage = damage;
            }
        }
        image.snapshots.insert(name.clone(), snapshot);
    }
    let wal_path = layout.wal();
    // Missing and not lost: staged by a checkpoint moving the log into its archive, or
    // there again by now (a rotation finished since; the manifest read after says).
    let bytes = read_log(fs, layout, manifest.lsn)?;
    // A last line without its newline is a commit still being written: not yet committed,
    // and no damage, whatever the recovery mode. It is not scanned.
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // Unless it is a whole record whose line break was damaged (a commit being written
    // shows a zero or the file's end after its record, never another byte nor a whole
    // record): the writable open refuses that, and so does this one, once a second look
    // finds the same (a read is not atomic against a write).
    if let Some(run) = record_run_on(&bytes[complete..], false, complete) {
        let line = bytes[..complete].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        return Err(Error::corrupt(
            &wal_path,
            line,
            damaged_break_reason(run.damage),
        ));
    }
    let Scan {
        records,
        dropped,
        valid_len,
        last_lsn,
        ..
    } = scan(
        &wal_path,
        &bytes[..complete],
        options.recovery,
        manifest.lsn,
    )?;
    // A complete line that fails its checksum may be a commit caught half written (a read
    // is not atomic against a write): look again before calling it damage. Once settled,
    // it is reported where it is, and nothing is moved.
    if !dropped.is_empty() && !settled {
        return Err(Error::corrupt(
            &wal_path,
            dropped[0].line,
            dropped[0].reason.clone(),
        ));
    }
    for d in &dropped {
        tracing::warn!(file = %d.file.display(), line = d.line, reason = %d.reason,
            "a read-only open left out a damaged log record (nothing was moved)");
    }
    image.log_bytes = valid_len;
    image.log_records = add_pending(&mut tables, records, &wal_path)?;
    if manifest_bytes.is_some() {
        refuse_unaccounted(fs, &tables, layout, manifest.lsn, options.recovery)?;
    }
    image.last_lsn = last_lsn;
    Ok((manifest, tables.into_values().collect(), image, dropped))
}

/// `bytes` of a log without the preallocated zeros after them (a megabyte, often), which
/// hold nothing.
fn without_zeros(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)]
}

/// Writes a damaged log tail (cut after record `last_lsn`) to the first free
/// `wal/transaction.<lsn>[-n].damaged`, durably, and returns its path.
fn keep_damaged_tail(
    fs: &dyn FileSystem,
    layout: &Layout,
    last_lsn: u64,
    tail: &[u8],
) -> Result<std::path::PathBuf> {
    let path = free_damaged_name(fs, layout, last_lsn);
    crate::storage::write_atomic_with(fs, &path, tail)?;
    Ok(path)
}

/// The first free `wal/transaction.<lsn>[-n].damaged` for a log cut after `last_lsn`.
fn free_damaged_name(fs: &dyn FileSystem, layout: &Layout, last_lsn: u64) -> std::path::PathBuf {
    (1..=u32::MAX)
        .map(|n| layout.damaged_wal(last_lsn, n))
        .find(|p| !fs.exists(p))
        .unwrap_or_else(|| layout.damaged_wal(last_lsn, u32::MAX))
}

/// Creates the directory and its subdirectories where missing, and makes their names
/// durable (a directory is only found again after a power loss if its parent was fsynced).
/// The root is synced on every open: a process that created a subdirectory may have died
/// before it could.
pub(crate) fn create_dirs(fs: &dyn FileSystem, layout: &Layout) -> Result<()> {
    create_root(fs, layout)?;
    for dir in [layout.schema_dir(), layout.data_dir(), layout.wal_dir()] {
        if !fs.exists(&dir) {
            fs.create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    fs.sync_dir(&layout.root)
        .map_err(|e| Error::io(&layout.root, e))
}

/// Creates the database's root directory if it is missing, durably (its parent synced).
fn create_root(fs: &dyn FileSystem, layout: &Layout) -> Result<()> {
    let existed = fs.exists(&layout.root);
    // Also when it exists: a file in its place is an error naming it, said as such rather
    // than as the "File exists" that creating the directory meets.
    fs.create_dir_all(&layout.root).map_err(|e| {
        let e = match e.kind() {
            std::io::ErrorKind::AlreadyExists => std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!(
                    "{} is in its place, and a database is a directory",
                    // A link here leads to no directory (one that does is followed).
                    fs.odd_entry(&layout.root).map_or("a file", OddEntry::what)
                ),
            ),
            _ => e,
        };
        Error::io(&layout.root, e)
    })?;
    if !existed {
        if let Some(parent) = layout.root.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
    }
    Ok(())
}

/// Takes the directory's lock. A lock that is held is asked for again for a short while
/// (at most a quarter of a second) before `Error::Locked`: between `fork` and `exec`, a
/// child process of *this* process briefly shares every open file, and with it a lock its
/// parent has just released. A real second holder keeps the lock and is reported.
pub(crate) fn take_lock(fs: &dyn FileSystem, path: &Path, root: &Path) -> Result<Box<dyn DirLock>> {
    let mut wait = std::time::Duration::from_millis(1);
    let mut waited = std::time::Duration::ZERO;
    loop {
        if let Some(lock) = fs.try_lock(path).map_err(|e| Error::io(path, e))? {
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

/// A crash during a checkpoint leaves `.tmp` files. A snapshot (or a migration's schema
/// file) whose temporary file matches the manifest was committed but not yet renamed:
/// finish it. Every other temporary file
/// belongs to a checkpoint that never committed (or to an atomic write that never
/// finished): remove it.
fn finish_interrupted_checkpoint(
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest: &Manifest,
) -> Result<()> {
    // A checkpoint's staged new log: with no log in place, the rotation stopped between
    // its two renames, after the manifest committed, and it is the log. Beside a log (the
    // rotation stopped before its first rename, or an older checkpoint's), a leftover.
    let wal_dir = layout.wal_dir();
    let wal = layout.wal();
    let mut moved = false;
    for path in fs.list(&wal_dir).map_err(|e| Error::io(&wal_dir, e))? {
        if !Layout::is_next_wal(&path) {
            continue;
        }
        // A link or a pipe there is no checkpoint's: removed, never renamed into place.
        if !fs.exists(&wal)
            && fs.odd_entry(&path).is_none()
            && path == layout.next_wal(manifest.lsn)
            && staged_log(fs, layout, manifest.lsn)
        {
            tracing::info!(file = %wal.display(), "finishing an interrupted checkpoint's log rotation");
            fs.rename(&path, &wal).map_err(|e| Error::io(&path, e))?;
        } else {
            tracing::info!(file = %path.display(), "removing a leftover staged log");
            remove_leftover(fs, &path)?;
        }
        moved = true;
    }
    if moved {
        fs.sync_dir(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
    }
    for dir in [
        layout.root.clone(),
        layout.schema_dir(),
        layout.data_dir(),
        layout.wal_dir(),
    ] {
        let mut changed = false;
        for path in fs.list(&dir).map_err(|e| Error::io(&dir, e))? {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(final_name) = name.strip_suffix(layout::TMP) else {
                continue;
            };
            let final_path = dir.join(final_name);
            let snapshot = final_name.strip_suffix(".records");
            let schema = final_name.strip_suffix(".schema.json");
            // A link or a pipe there is no checkpoint's: removed, never renamed into place.
            let committed = if fs.odd_entry(&path).is_some() {
                false
            } else if let (Some(t), true) = (snapshot, dir == layout.data_dir()) {
                manifest.tables.get(t).is_some_and(|entry| {
                    fs.read(&path)
                        .is_ok_and(|bytes| snapshot_mismatch(&bytes, entry).is_none())
                })
            } else if let (Some(t), true) = (schema, dir == layout.schema_dir()) {
                // A migration's new schema file, staged beside its snapshot: committed when
                // the manifest names it (and the file in place is not it).
                manifest.tables.get(t).is_some_and(|entry| {
                    fs.read(&path)
                        .is_ok_and(|bytes| crc_hex(&bytes) == entry.schema_crc32c)
                        && !fs
                            .read(&final_path)
                            .is_ok_and(|bytes| crc_hex(&bytes) == entry.schema_crc32c)
                })
            } else {
                false
            };
            if committed {
                tracing::info!(file = %final_path.display(), "finishing an interrupted checkpoint");
                fs.rename(&path, &final_path)
                    .map_err(|e| Error::io(&path, e))?;
            } else {
                tracing::info!(file = %path.display(), "removing a leftover temporary file");
                remove_leftover(fs, &path)?;
            }
            changed = true;
        }
        if changed {
            fs.sync_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    Ok(())
}

/// Removes a checkpoint's leftover temporary file (a link or a pipe in its place too: the
/// link, not what it names); a directory in its place, which no checkpoint made, is the
/// person's to move aside, and an error naming it.
fn remove_leftover(fs: &dyn FileSystem, path: &Path) -> Result<()> {
    if fs.odd_entry(path) == Some(OddEntry::Directory) {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file: a directory is in the place of a temporary file, which an \
                 open for writing removes; move it aside",
            ),
        ));
    }
    fs.remove(path).map_err(|e| Error::io(path, e))
}

/// Every schema file, checked against the manifest where it lists the table; every table
/// the manifest lists must have one.
fn read_schemas(
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest: &Manifest,
) -> Result<BTreeMap<String, RecoveredTable>> {
    let mut tables = BTreeMap::new();
    let schema_dir = layout.schema_dir();
    // A `schema/` removed by hand holds no files: a table the manifest lists is reported
    // missing below; one created in the log since has its schema there.
    let listed = match fs.list(&schema_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        listed => listed.map_err(|e| Error::io(&schema_dir, e))?,
    };
    for path in listed {
        let Some(name) = Layout::table_of_schema(&path) else {
            continue;
        };
        if manifest.is_dropped(&name) {
            // Left by a `DROP TABLE` (a read-only open removes nothing); a table of that name
            // created since is created again by its log record.
            continue;
        }
        let entry = manifest.tables.get(&name).cloned();
        // A migration committed but its schema file not yet renamed into place (an open for
        // writing renames it first; a read-only open reads it where it is).
        let bytes = committed_schema(
            fs,
            &path,
            fs.read(&path).map_err(|e| Error::io(&path, e))?,
            entry.as_ref(),
        );
        let mut file: SchemaFile = parse_json(&path, &bytes)?;
        file.schema
            .finish()
            .and_then(|()| check_conditions(&file.schema))
            .map_err(|e| Error::corrupt(&path, 0, e.to_string()))?;
        if file.schema.table != name {
            return Err(Error::corrupt(
                &path,
                0,
                format!("names table {:?}", file.schema.table),
            ));
        }
        if let Some(reason) =
            schema_disagreement(entry.as_ref(), &bytes, &file.migrations, manifest.lsn)
        {
            return Err(Error::corrupt(&path, 0, reason));
        }
        tables.insert(
            name,
            RecoveredTable {
                schema: file.schema,
                schema_crc32c: crc_hex(&bytes),
                schema_on_disk: true,
                migrations: file.migrations,
                created_lsn: entry.as_ref().map_or(0, |e| e.created_lsn),
                entry,
                pending: Vec::new(),
                snapshot_damage: None,
            },
        );
    }
    for name in manifest.tables.keys() {
        if !tables.contains_key(name) {
            return Err(Error::corrupt(
                &layout.schema(name),
                0,
                "listed in the manifest but missing",
            ));
        }
    }
    Ok(tables)
}

/// A directory a repair was rebuilding when it stopped is half old, half new: no open
/// accepts it until a repair finishes the job.
fn refuse_interrupted_repair(fs: &dyn FileSystem, layout: &Layout) -> Result<()> {
    let marker = layout.repairing();
    if fs.exists(&marker) {
        return Err(Error::corrupt(
            &marker,
            0,
            "a repair was interrupted before it finished; run `tabula repair` again (it \
             starts over from the backup this file names)",
        ));
    }
    Ok(())
}

/// A missing manifest means "never checkpointed" only when nothing a checkpoint writes is
/// there: a snapshot under its final name or an archived log segment (both are written only
/// after a manifest named them). Otherwise the manifest was lost, and opening as a new
/// database would show every table empty, and the next checkpoint would overwrite the
/// snapshots and the archived segments that hold the rows: refuse, and point at repair,
/// which rebuilds the manifest from them.
fn refuse_lost_manifest(fs: &dyn FileSystem, layout: &Layout) -> Result<()> {
    let manifest = layout.manifest();
    if fs.exists(&manifest) {
        return Ok(());
    }
    match checkpointed(fs, layout) {
        Some(evidence) => Err(Error::corrupt(
            &manifest,
            0,
            format!(
                "missing, though {} shows a checkpoint was made; `tabula repair` rebuilds it \
                 from the snapshots and the log",
                evidence.display()
            ),
        )),
        None => Ok(()),
    }
}

/// Hands each log record's operations to its table (creating the tables records create),
/// to replay when the table is loaded; returns how many records there were.
fn add_pending(
    tables: &mut BTreeMap<String, RecoveredTable>,
    records: Vec<(u64, RawRecord)>,
    wal_path: &Path,
) -> Result<u64> {
    let count = records.len() as u64;
    for (line, rec) in records {
        for mut ops in rec.tables {
            if let Some(created) = ops.create.take() {
                recover_creation(tables, created, wal_path, line, rec.lsn)?;
            }
            let Some(t) = tables.get_mut(&ops.table) else {
                return Err(Error::corrupt(
                    wal_path,
                    line,
                    format!("unknown table {:?}", ops.table),
                ));
            };
            t.pending.push((line, ops));
        }
    }
    Ok(count)
}

/// Refuses a table whose schema file neither the manifest lists nor a log record after the
/// manifest's checkpoint (`lsn`) creates (called only where a manifest file was read): a
/// table's file is written once its creation is durable, and a checkpoint lists it before
/// the log loses that record, so such files come from another state of the database (a
/// manifest restored from an older copy, files copied in). Opened, the table would read as
/// empty and the next checkpoint would write over its snapshot. When salvaging, which may
/// have dropped the record that created it, only a table with a snapshot is refused: a
/// snapshot's final name is given only to a file a committed manifest listed, so that one
/// is from another state whatever the log lost.
fn refuse_unaccounted(
    fs: &dyn FileSystem,
    tables: &BTreeMap<String, RecoveredTable>,
    layout: &Layout,
    lsn: u64,
    recovery: Recovery,
) -> Result<()> {
    match tables.iter().find(|(name, t)| {
        t.entry.is_none()
            && t.created_lsn == 0
            && (recovery != Recovery::Salvage || fs.exists(&layout.records(name)))
    }) {
        Some((name, _)) => Err(Error::corrupt(
            &layout.schema(name),
            0,
            format!(
                "table {name} is neither in the manifest nor created by a log record after \
                 its checkpoint (LSN {lsn}): its files do not belong to this state of the \
                 database (was the manifest restored from an older copy?); `tabula verify` \
                 lists the damage and `tabula repair` keeps what it can"
            ),
        )),
        None => Ok(()),
    }
}

/// Compiles every check of a schema read from a file or a log, so that a damaged one is
/// reported where it was read.
pub(crate) fn check_conditions(schema: &Schema) -> Result<()> {
    for (_, text) in schema.all_checks() {
        crate::expr::Condition::parse(schema, text)?;
    }
    Ok(())
}

/// A log record (`lsn`, on `line`) created a table: it is new, or its schema file (written
/// once the creation was durable) must say the same, unless a migration recorded since
/// explains the difference (a crash came between the migration's schema file and its
/// checkpoint).
fn recover_creation(
    tables: &mut BTreeMap<String, RecoveredTable>,
    mut created: Schema,
    wal_path: &Path,
    line: u64,
    lsn: u64,
) -> Result<()> {
    created
        .finish()
        .and_then(|()| check_conditions(&created))
        .map_err(|e| Error::corrupt(wal_path, line, format!("invalid schema: {e}")))?;
    match tables.get_mut(&created.table) {
        Some(t) => {
            if t.entry.is_none() && t.created_lsn == 0 {
                // Its schema file was written once the creation was durable. A second
                // record creating it (saying the same, checked below) does not move the
                // creation after the rows written between the two, as verify has it.
                t.created_lsn = lsn;
            }
            let diffs = t.schema.differences(&created);
            let migrated_since = t.migrations.iter().any(|m| m.lsn >= lsn);
            if !diffs.is_empty() && !migrated_since {
                return Err(Error::corrupt(
                    wal_path,
                    line,
                    format!(
                        "creates table {} unlike its schema file: {}",
                        created.table,
                        diffs.join("; ")
                    ),
                ));
            }
        }
        None => {
            tables.insert(
                created.table.clone(),
                RecoveredTable {
                    schema: created,
                    schema_crc32c: String::new(),
                    schema_on_disk: false,
                    migrations: Vec::new(),
                    entry: None,
                    pending: Vec::new(),
                    created_lsn: lsn,
                    snapshot_damage: None,
                },
            );
        }
    }
    Ok(())
}
