//! The snapshot files: which file is each table's (one renamed into another's place
//! included), then every line of each read into its table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::archives::rows_from_archives;
use super::table_state::Origin;
use super::{read, unreadable_cause, DroppedRow, Inspection, SchemaSource};
use crate::error::Result;
use crate::storage::directory::{checkpointed, listing};
use crate::storage::fs::FileSystem;
use crate::storage::layout::{Layout, TMP};
use crate::storage::manifest::crc_hex;
use crate::storage::snapshot::decode_lines;
use crate::storage::verify::Problem;
use crate::value::Value;

/// Snapshot files in each other's places (renamed by hand): a file whose length is not its
/// own table's entry's, and whose length and checksum are exactly another listed table's
/// (whose own file is not its own either), is that table's snapshot: reported, and read as
/// that table's (repair writes it back in its place). A table whose file went to another
/// is left without one, and reported missing as any table is.
pub(super) fn swapped_snapshots(
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

/// The snapshot file of each table, by table.
pub(super) fn find_snapshots(
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

/// Every table the manifest lists: its next key, and its snapshot, which must exist (one
/// missing is rebuilt from the archived log segments when they hold it).
pub(super) fn snapshots_of_listed_tables(
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
pub(super) fn read_snapshots(
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
