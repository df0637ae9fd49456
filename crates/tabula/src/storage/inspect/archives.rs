//! The archived log segments: checked as the live log is, and what they rebuild when a
//! snapshot, a schema file or the manifest's next keys are gone.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::table_state::{Origin, TableState};
use super::{behind_link, Inspection, SchemaSource};
use crate::error::Result;
use crate::storage::creation::{archived_creation, fits, matches_manifest};
use crate::storage::directory::{archived_segments, listing};
use crate::storage::fs::{FileSystem, OddEntry};
use crate::storage::layout::Layout;
use crate::storage::manifest::TableEntry;
use crate::storage::wal::decode::decode_ops;
use crate::storage::wal::scan::{damaged_break_found, lines, ScannedLine};
use crate::storage::wal::MAX_LSN;

/// Archived segments name the last LSN they hold: LSNs never go back below them. (Not past
/// `MAX_LSN`: such a name is no segment a checkpoint wrote.)
pub(super) fn lsns_of_archived_segments(
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
pub(super) fn check_archived_segments(
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

/// Without a sound manifest (or with one older than the files), the next key of each table
/// is known only from its rows and the live log, which give less than the manifest did when
/// the rows with the highest keys were deleted before the checkpoint: the archived
/// segments' records carry the next key they gave, and each table's is raised to the
/// highest since the last record creating it (an older table of the same name counted keys
/// of its own, perhaps of a wider type). Only tables created at or before `created_by` (0:
/// created before the manifests recorded it, or with none to say): one created in the live
/// log is newer than every archived record, and left as it is.
pub(super) fn next_keys_from_archives(
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
pub(super) fn rows_from_archives(
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
pub(super) fn recover_from_archives(
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
