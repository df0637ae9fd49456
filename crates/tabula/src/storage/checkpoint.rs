//! A checkpoint's file work: snapshots staged in temporary files, the manifest written as
//! the commit point, the snapshots renamed into place, and the log rotated into an archived
//! segment. Which tables to snapshot, and from what rows, is the engine's business.

use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::fs::FileSystem;
use crate::storage::layout::Layout;
use crate::storage::manifest::{crc_hex_parts, Manifest, TableEntry};
use crate::storage::{snapshot, Storage};

/// A snapshot written to its temporary file, waiting for the manifest to commit it.
#[derive(Debug)]
pub(crate) struct StagedSnapshot {
    pub(crate) table: String,
    pub(crate) entry: TableEntry,
}

/// A checkpoint that failed, and whether it failed after its manifest replaced the old one
/// (then the next open may find the new checkpoint, and finishes it).
#[derive(Debug)]
pub(crate) struct CommitFailure {
    pub(crate) error: Box<Error>,
    pub(crate) committed: bool,
}

/// When a committed checkpoint archives the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rotate {
    /// At once: the whole log is archived and a new one started (writers are held off).
    Now,
    /// Later, by [`Storage::archive_log_prefix`] and [`Storage::carry_log_tail`]: writers
    /// went on while the snapshots were written, so the log holds records past the
    /// checkpoint.
    Later,
}

impl Storage {
    /// Writes a snapshot to its temporary file (step one of a checkpoint).
    pub(crate) fn stage_snapshot(
        &self,
        schema: &Schema,
        snapshot: &snapshot::Encoded,
        next_key: i64,
        schema_crc32c: String,
        created_lsn: u64,
    ) -> Result<StagedSnapshot> {
        let tmp = Layout::tmp(&self.layout.records(&schema.table));
        let parts: Vec<&[u8]> = snapshot.parts.iter().map(Vec::as_slice).collect();
        self.fs
            .write_synced(&tmp, &parts)
            .map_err(|e| Error::io(&tmp, e))?;
        Ok(StagedSnapshot {
            table: schema.table.clone(),
            entry: TableEntry {
                rows: snapshot.rows,
                next_key,
                snapshot_crc32c: crc_hex_parts(&parts),
                snapshot_bytes: parts.iter().map(|p| p.len() as u64).sum(),
                schema_crc32c,
                created_lsn,
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
        rotate: Rotate,
    ) -> std::result::Result<(), CommitFailure> {
        let mut committed = false;
        self.commit_checkpoint_inner(manifest, staged, rotate, &mut committed)
            .map_err(|error| CommitFailure {
                error: Box::new(error),
                committed,
            })
    }

    fn commit_checkpoint_inner(
        &self,
        manifest: Manifest,
        staged: &[StagedSnapshot],
        rotate: Rotate,
        committed: &mut bool,
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
                .map_err(|e| Error::io(&data, e))
                .map_err(before_commit)?;
        }
        let bytes = manifest.to_bytes();
        self.fs
            .write_synced(&tmp, &[&bytes])
            .map_err(|e| Error::io(&tmp, e))
            .map_err(before_commit)?;
        self.fs
            .rename(&tmp, &path)
            .map_err(|e| Error::io(&path, e))
            .map_err(before_commit)?;
        // From here on the new manifest may be what a reopen finds.
        *committed = true;
        self.fs
            .sync_dir(&self.layout.root)
            .map_err(|e| Error::io(&self.layout.root, e))?;
        let lsn = manifest.lsn;
        *self.manifest.lock().unwrap_or_else(PoisonError::into_inner) = manifest;
        // Committed. A failure from here on leaves files the next open completes.
        for s in staged {
            let fin = self.layout.records(&s.table);
            self.fs
                .rename(&Layout::tmp(&fin), &fin)
                .map_err(|e| Error::io(&fin, e))?;
        }
        if !staged.is_empty() {
            self.fs.sync_dir(&data).map_err(|e| Error::io(&data, e))?;
        }
        match rotate {
            Rotate::Now => self.rotate_wal(lsn),
            Rotate::Later => Ok(()),
        }
    }

    /// Removes the files of table `name`, which the manifest just committed dropped, and
    /// forgets it among the dropped (the next manifest no longer names it).
    pub(crate) fn remove_dropped_files(&self, name: &str) -> Result<()> {
        remove_table_files(&*self.fs, &self.layout, name)?;
        self.manifest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped
            .remove(name);
        Ok(())
    }

    /// Copies the log's first `bytes` (every record up to `lsn`, which a checkpoint just
    /// committed) into the archived segment for `lsn`. Those records are durable and the
    /// log only grows past them, so writers may go on meanwhile. A segment already there
    /// holding just those bytes is an earlier attempt's (one that failed before the cut).
    /// After a salvaging open, the segment holds the records it kept, and the log as it was
    /// goes to its `.damaged` file (see [`SalvagedLog`](crate::storage::SalvagedLog)).
    pub(crate) fn archive_log_prefix(&self, lsn: u64, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let current = self.layout.wal();
        let archived = self.layout.archived_wal(lsn);
        let log = self.fs.read(&current).map_err(|e| Error::io(&current, e))?;
        let prefix = usize::try_from(bytes)
            .ok()
            .and_then(|n| log.get(..n))
            .ok_or_else(|| Error::corrupt(&current, 0, "shorter than the records written to it"))?;
        let salvaged = self
            .salvaged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let clean;
        let prefix = match salvaged {
            Some(s) => {
                crate::storage::write_atomic_with(&*self.fs, &s.damaged, prefix)?;
                tracing::warn!(file = %current.display(), kept_in = %s.damaged.display(),
                    "salvage: archived the write-ahead log without its damage");
                clean = s
                    .kept
                    .iter()
                    .filter_map(|r| prefix.get(r.clone()))
                    .flat_map(|text| text.iter().chain(b"\n"))
                    .copied()
                    .collect::<Vec<u8>>();
                &clean[..]
            }
            None => prefix,
        };
        // A salvaged log whose every record kept the manifest covered: nothing to archive
        // (an earlier checkpoint did), and an empty segment would read as one cut short.
        if prefix.is_empty() {
            return Ok(());
        }
        if self.fs.exists(&archived) {
            if self.fs.read(&archived).is_ok_and(|a| a == prefix) {
                return Ok(());
            }
            // Never over an earlier segment: its records may be the only copy of some rows.
            return Err(Error::corrupt(
                &archived,
                0,
                "an archived log segment of this LSN exists already; the log was not rotated",
            ));
        }
        self.put_synced(&archived, prefix)?;
        let wal_dir = self.layout.wal_dir();
        self.fs
            .sync_dir(&wal_dir)
            .map_err(|e| Error::io(&wal_dir, e))
    }

    /// Puts `bytes` at `path` in one rename of a synced temporary file (removing one an
    /// earlier failed attempt left); the caller syncs the directory.
    fn put_synced(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = Layout::tmp(path);
        if self.fs.exists(&tmp) {
            self.fs.remove(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        self.fs
            .write_new_synced(&tmp, &[bytes])
            .map_err(|e| Error::io(&tmp, e))?;
        self.fs.rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Cuts the log's first `bytes` (`records` records, archived by
    /// [`Storage::archive_log_prefix`]): the records written after them, since the
    /// checkpoint's version, are carried into a new log that replaces the current one in
    /// one rename. Called with the writers' lock held and every commit durable. Until the
    /// rename the old log stands whole (recovery skips the records the manifest covers).
    pub(crate) fn carry_log_tail(&self, bytes: u64, records: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let wal = self.wal()?;
        let (len, total) = wal.size();
        let current = self.layout.wal();
        // Only the records after the checkpoint are read: this runs under the writers' lock.
        let log = self
            .fs
            .read_from(&current, bytes)
            .map_err(|e| Error::io(&current, e))?;
        let tail = usize::try_from(len.saturating_sub(bytes))
            .ok()
            .filter(|_| bytes <= len)
            .and_then(|n| log.get(..n))
            .ok_or_else(|| Error::corrupt(&current, 0, "shorter than the records written to it"))?;
        self.put_synced(&current, tail)?;
        self.start_log(tail.len() as u64, total.saturating_sub(records))
    }

    fn rotate_wal(&self, lsn: u64) -> Result<()> {
        let wal = self.wal()?;
        let (_, records) = wal.size();
        if records == 0 {
            return Ok(());
        }
        let current = self.layout.wal();
        let archived = self.layout.archived_wal(lsn);
        // An archived segment holds its records and nothing else (no preallocated zeros).
        wal.trim().map_err(|e| Error::io(&current, e))?;
        if self.fs.exists(&archived) {
            // A checkpoint at this LSN that failed before cutting the log archived these
            // same records: the log's rename below replaces that copy with its twin. Never
            // over any other segment: its records may be the only copy of some rows.
            let same = match (self.fs.read(&archived), self.fs.read(&current)) {
                (Ok(a), Ok(c)) => a == c,
                _ => false,
            };
            if !same {
                return Err(Error::corrupt(
                    &archived,
                    0,
                    "an archived log segment of this LSN exists already; the log was not rotated",
                ));
            }
        }
        // The new, empty log is staged, durably, before the old one moves: a crash between
        // the two renames leaves it beside the archived segment, and the next open puts it
        // in place (`staged_log`), so a missing log always means one lost (`lost_log`).
        let staged = self.layout.next_wal(lsn);
        let wal_dir = self.layout.wal_dir();
        self.fs
            .write_synced(&staged, &[])
            .map_err(|e| Error::io(&staged, e))?;
        self.fs
            .sync_dir(&wal_dir)
            .map_err(|e| Error::io(&wal_dir, e))?;
        self.fs
            .rename(&current, &archived)
            .map_err(|e| Error::io(&current, e))?;
        self.fs
            .rename(&staged, &current)
            .map_err(|e| Error::io(&staged, e))?;
        self.start_log(0, 0)
    }

    /// Makes the log writer append to the file now at the log's name, which holds `len`
    /// bytes of `records` records, makes that name durable, and prunes old segments. On a
    /// failure writes are refused until the database is reopened: appends would go to the
    /// file that was there before, or into a name a power loss could undo.
    fn start_log(&self, len: u64, records: u64) -> Result<()> {
        let wal = self.wal()?;
        let current = self.layout.wal();
        let reopened = self
            .fs
            .open_log(&current)
            .and_then(|f| wal.reset_to(f, len, records));
        if let Err(e) = reopened {
            wal.poison(format!("could not start the new log at a checkpoint: {e}"));
            return Err(Error::io(&current, e));
        }
        let wal_dir = self.layout.wal_dir();
        if let Err(e) = self.fs.sync_dir(&wal_dir) {
            // The new log's name may not survive a power loss, and commits fsynced into it
            // with it: refuse them until the database is reopened (which syncs it).
            wal.poison(format!(
                "could not make the new log's name durable at a checkpoint: {e}"
            ));
            return Err(Error::io(&wal_dir, e));
        }
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
            self.fs.remove(&path).map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// Archived segments: (last LSN, path, bytes).
    pub(crate) fn archives(&self) -> Result<Vec<(u64, PathBuf, u64)>> {
        let dir = self.layout.wal_dir();
        let mut out = Vec::new();
        for path in self.fs.list(&dir).map_err(|e| Error::io(&dir, e))? {
            if let Some(lsn) = Layout::archived_lsn(&path) {
                let len = self.fs.len(&path).unwrap_or(0);
                out.push((lsn, path, len));
            }
        }
        Ok(out)
    }
}

/// Removes table `name`'s schema file and snapshot (and their temporary files), those that
/// are there, and makes the removals durable.
pub(crate) fn remove_table_files(fs: &dyn FileSystem, layout: &Layout, name: &str) -> Result<()> {
    let schema = layout.schema(name);
    let records = layout.records(name);
    for (dir, file) in [(layout.schema_dir(), schema), (layout.data_dir(), records)] {
        let mut removed = false;
        for path in [Layout::tmp(&file), file] {
            if fs.exists(&path) {
                fs.remove(&path).map_err(|e| Error::io(&path, e))?;
                removed = true;
            }
        }
        if removed {
            fs.sync_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    Ok(())
}
