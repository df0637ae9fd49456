//! The live log replayed over the snapshots' rows, and the logs an open set aside.

use super::table_state::Origin;
use super::{DroppedRow, Inspection, SchemaSource};
use crate::error::{Error, Result};
use crate::storage::directory::listing;
use crate::storage::fs::FileSystem;
use crate::storage::layout::{Layout, DAMAGED};
use crate::storage::verify::Problem;
use crate::storage::wal::decode::decode_ops;
use crate::storage::wal::line::{damaged_next_keys, fits_key};
use crate::storage::wal::scan::{damaged_break_reason, repeated_lsn, ScannedLine};

/// Damaged logs set aside by an open.
pub(super) fn report_set_aside_logs(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
) -> Result<()> {
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

/// The log replayed over the snapshots: every readable record in order, records after a
/// gap included (their rows are real; the gap is reported).
pub(super) fn replay_log(
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
