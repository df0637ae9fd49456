//! One table as `inspect` rebuilds it: its rows in the order they were found, where each
//! row's bytes are, and the unique keys that decide which of two colliding rows is kept.

use std::collections::HashMap;

use crate::error::Error;
use crate::schema::{column_list, Schema};
use crate::storage::wal::decode::LoggedChanges;
use crate::storage::Migration;
use crate::value::Value;

use super::{DroppedRow, SchemaSource};

/// Which row holds each value of one unique key.
pub(super) type Holders = HashMap<Vec<Value>, usize>;

/// A row's values of a unique key's columns; `None` if one is null (it collides with
/// nothing).
pub(super) fn unique_key(cols: &[usize], values: &[Value]) -> Option<Vec<Value>> {
    cols.iter()
        .map(|&c| values.get(c).filter(|v| !v.is_null()).cloned())
        .collect()
}

/// One table as it survives.
#[derive(Debug, Clone)]
pub(crate) struct TableState {
    pub(crate) schema: Schema,
    pub(crate) source: SchemaSource,
    pub(crate) migrations: Vec<Migration>,
    /// The rows, in the order they were found (`None`: deleted since).
    pub(super) rows: Vec<Option<Vec<Value>>>,
    /// Where each row's bytes are: its snapshot's line, or the log's.
    pub(super) origins: Vec<Origin>,
    /// Per unique key (the primary key first, then unique columns, then composite unique
    /// constraints): its columns and which row holds each value of it.
    pub(super) holders: Vec<(Vec<usize>, Holders)>,
    /// The LSN of the record that created the table, as the manifest lists it (0 when
    /// unknown), or of its creation in the log.
    pub(crate) created_lsn: u64,
    pub(crate) next_key: i64,
    /// The snapshot's row count according to a sound manifest.
    pub(crate) expected: Option<u64>,
    /// Rows read from the snapshot.
    pub(crate) read: u64,
    /// Rows the manifest promised that no bytes remain for (a truncated snapshot).
    pub(crate) missing: u64,
    /// Whether the snapshot's checksum or length differs from a sound manifest's: its
    /// readable rows are not known to be the ones the checkpoint wrote.
    pub(crate) snapshot_mismatch: bool,
    pub(crate) dropped: Vec<DroppedRow>,
}

impl TableState {
    pub(super) fn new(schema: Schema, source: SchemaSource, migrations: Vec<Migration>) -> Self {
        let pk = schema.primary_key();
        let composites = schema
            .unique
            .iter()
            .map(|names| names.iter().filter_map(|n| schema.position(n)).collect());
        let holders = std::iter::once(vec![pk])
            .chain(
                (0..schema.columns.len())
                    .filter(|&c| schema.columns[c].unique && c != pk)
                    .map(|c| vec![c]),
            )
            .chain(composites)
            .map(|cols| (cols, HashMap::new()))
            .collect();
        TableState {
            schema,
            source,
            migrations,
            rows: Vec::new(),
            origins: Vec::new(),
            holders,
            created_lsn: 0,
            next_key: 1,
            expected: None,
            read: 0,
            missing: 0,
            snapshot_mismatch: false,
            dropped: Vec::new(),
        }
    }

    /// The rows that survive, in the order found.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &Vec<Value>> {
        self.rows.iter().flatten()
    }

    pub(crate) fn len(&self) -> u64 {
        self.rows().count() as u64
    }

    pub(super) fn key_of(&self, values: &[Value]) -> Value {
        values[self.schema.primary_key()].clone()
    }

    /// Whether the table holds each of `rows` as it is: the same values under its key.
    pub(super) fn holds_each(&self, rows: &[Vec<Value>]) -> bool {
        rows.iter().all(|r| {
            let key = self.key_of(r);
            self.holders[0]
                .1
                .get(std::slice::from_ref(&key))
                .and_then(|&at| self.rows[at].as_ref())
                .is_some_and(|held| held == r)
        })
    }

    /// Puts a row image, replacing the row with its key; refused (with the reason) if another
    /// row holds one of its unique values.
    /// Applies one log record's changes, as loading applies a record: its deletes, then
    /// the old row of every key it writes, then its images (so a record may swap unique
    /// values between rows), and the next key it gives. Returns why each image a
    /// constraint refused was left out.
    pub(super) fn apply(
        &mut self,
        changes: LoggedChanges,
        next_key: Option<i64>,
        origin: Origin,
    ) -> Vec<String> {
        if let Some(k) = next_key {
            self.next_key = self.next_key.max(k);
        }
        for key in &changes.deletes {
            self.delete(key);
        }
        for values in &changes.puts {
            let key = self.key_of(values);
            self.delete(&key);
        }
        changes
            .puts
            .into_iter()
            .filter_map(|values| self.put(values, false, origin).err())
            .collect()
    }

    /// `refused`'s message, naming where the row kept in its place (row `at`) was read:
    /// of two rows that collide the first read is kept, and either may be the one a damage
    /// changed, so the report names both.
    pub(super) fn also_held(&self, refused: Error, at: usize) -> String {
        let held = match self.origins.get(at) {
            Some(Origin::Snapshot(line)) => format!("line {line} of the snapshot"),
            Some(Origin::Log(line)) => format!("line {line} of the log"),
            Some(Origin::Archived(lsn, line)) => {
                format!("line {line} of the archived segment from LSN {lsn}")
            }
            None => return refused.to_string(),
        };
        format!("{refused}, which the row from {held} holds too (the row read first is kept)")
    }

    pub(super) fn put(
        &mut self,
        values: Vec<Value>,
        replace: bool,
        origin: Origin,
    ) -> std::result::Result<(), String> {
        // The table's checks are not judged again: the row met them when it was written,
        // and an open does not judge it again either (`TableData::insert_stored`).
        let key = self.key_of(&values);
        let existing = self.holders[0].1.get(std::slice::from_ref(&key)).copied();
        if let Some(at) = existing.filter(|_| !replace) {
            let refused = Error::UniqueViolation {
                table: self.schema.table.clone(),
                column: self.schema.primary_key_column().name.clone(),
                value: key,
            };
            return Err(self.also_held(refused, at));
        }
        for (cols, holders) in &self.holders[1..] {
            let Some(v) = unique_key(cols, &values) else {
                continue;
            };
            if let Some(&other) = holders.get(&v) {
                if Some(other) != existing {
                    let names: Vec<String> = cols
                        .iter()
                        .map(|&c| self.schema.columns[c].name.clone())
                        .collect();
                    let (column, value) = match (&names[..], &v[..]) {
                        ([name], [value]) => (name.clone(), value.clone()),
                        _ => {
                            let shown: Vec<String> = v.iter().map(Value::to_string).collect();
                            (
                                column_list(&names),
                                Value::Text(format!("({})", shown.join(", "))),
                            )
                        }
                    };
                    let refused = Error::UniqueViolation {
                        table: self.schema.table.clone(),
                        column,
                        value,
                    };
                    return Err(self.also_held(refused, other));
                }
            }
        }
        let at = match existing {
            Some(at) => {
                self.forget(at);
                self.rows[at] = Some(values);
                self.origins[at] = origin;
                at
            }
            None => {
                self.rows.push(Some(values));
                self.origins.push(origin);
                self.rows.len() - 1
            }
        };
        if let Some(Some(row)) = self.rows.get(at) {
            if let Value::Int(k) = row[self.schema.primary_key()] {
                self.next_key = self.next_key.max(k.saturating_add(1));
            }
            let row = row.clone();
            for (cols, holders) in &mut self.holders {
                if let Some(v) = unique_key(cols, &row) {
                    holders.insert(v, at);
                }
            }
        }
        Ok(())
    }

    /// Removes the unique values of row `at` from the holders.
    pub(super) fn forget(&mut self, at: usize) {
        if let Some(Some(row)) = self.rows.get(at) {
            for (cols, holders) in &mut self.holders {
                if let Some(v) = unique_key(cols, row) {
                    if holders.get(&v) == Some(&at) {
                        holders.remove(&v);
                    }
                }
            }
        }
    }

    pub(super) fn delete(&mut self, key: &Value) {
        if let Some(&at) = self.holders[0].1.get(std::slice::from_ref(key)) {
            self.forget(at);
            self.rows[at] = None;
        }
    }

    pub(super) fn has_key(&self, key: &Value) -> bool {
        self.holders[0].1.contains_key(std::slice::from_ref(key))
    }
}

/// Where a row's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// This line of the table's snapshot.
    Snapshot(u64),
    /// This line of the log.
    Log(u64),
    /// This line (second) of the archived log segment named for this LSN (first).
    Archived(u64, u64),
}
