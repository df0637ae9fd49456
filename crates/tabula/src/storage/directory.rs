//! What a database directory's files show before any is parsed: whether it is a
//! database at all, whether it was ever written or checkpointed, where its log's bytes are,
//! which schema file the manifest commits, and what is at a temporary file's name. Opens,
//! `verify`, `repair` and `tabula wal` all start from these answers.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::fs::{FileSystem, OddEntry};
use crate::storage::layout::{Layout, TMP};
use crate::storage::manifest::{crc_hex, TableEntry};
use crate::storage::wal::MAX_LSN;

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

/// The entries of one of the database's directories: none when it is gone or a file is in
/// its place (what its files held is reported missing, and repair makes the directory
/// again), an error when it cannot be read otherwise: a directory another user owns, or a
/// failing disk, would make every file in it read as missing, and repair rebuild over them.
pub(crate) fn listing(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<PathBuf>> {
    use std::io::ErrorKind;
    match fs.list(dir) {
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            Ok(Vec::new())
        }
        listed => listed.map_err(|e| Error::io(dir, e)),
    }
}

/// The archived log segments among `listed` (a listing of `wal/`), with the LSN each is
/// named for, oldest first; a name past `MAX_LSN` is no segment a checkpoint wrote.
pub(crate) fn archived_segments(listed: Vec<PathBuf>) -> Vec<(u64, PathBuf)> {
    let mut segments: Vec<(u64, PathBuf)> = listed
        .into_iter()
        .filter_map(|p| Layout::archived_lsn(&p).map(|lsn| (lsn, p)))
        .filter(|(lsn, _)| *lsn <= MAX_LSN)
        .collect();
    segments.sort();
    segments
}
