//! Foreign keys checked across the rebuilt tables, once every row is in.

use super::table_state::Origin;
use super::{DroppedRow, Inspection};
use crate::storage::layout::Layout;
use crate::storage::verify::Problem;
use crate::value::Value;

/// Every foreign key value must name a row of the table it references (after the log, and
/// across tables). A row that does not is reported, and left out of the rebuilt table, with
/// its bytes kept where they were found; rows that referenced it follow, until none is left.
pub(super) fn check_foreign_keys(out: &mut Inspection, layout: &Layout) {
    loop {
        let mut orphans: Vec<(String, Value, Origin, String)> = Vec::new();
        for (name, state) in &out.tables {
            for (col, c) in state.schema.columns.iter().enumerate() {
                let Some(fk) = &c.references else { continue };
                let parent = out.tables.get(&fk.table);
                if parent.is_none() && out.quarantined.contains_key(&fk.table) {
                    // The parent's rows are set aside, not gone: nothing to check against.
                    continue;
                }
                if out.unreadable_tables.contains(&fk.table) {
                    // Nor when its snapshot or schema could not be read.
                    continue;
                }
                for (row, origin) in state.rows.iter().zip(&state.origins) {
                    let Some(row) = row else { continue };
                    let v = &row[col];
                    if v.is_null() || parent.is_some_and(|p| p.has_key(v)) {
                        continue;
                    }
                    let key = state.key_of(row);
                    orphans.push((
                        name.clone(),
                        key.clone(),
                        *origin,
                        format!(
                            "row {key}: foreign key {name}.{} = {v} names no row of {}",
                            c.name, fk.table
                        ),
                    ));
                }
            }
        }
        if orphans.is_empty() {
            return;
        }
        for (name, key, origin, reason) in orphans {
            if let Some(state) = out.tables.get_mut(&name) {
                if !state.has_key(&key) {
                    continue;
                }
                state.delete(&key);
                let (file, line) = match origin {
                    Origin::Snapshot(line) => (layout.records(&name), line),
                    Origin::Log(line) => (layout.wal(), line),
                    Origin::Archived(lsn, line) => (layout.archived_wal(lsn), line),
                };
                state.dropped.push(DroppedRow {
                    file: file.clone(),
                    line,
                    reason: reason.clone(),
                });
                out.problems.push(Problem {
                    file,
                    line,
                    message: reason,
                });
            }
        }
    }
}
