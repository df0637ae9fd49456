//! Schema evolution: what turning a stored table into a new schema takes, change by change
//! ([`MigrationPlan`]), and the rebuilt table when every change is one tabula migrates:
//! added nullable or defaulted columns, renames (`renamed_from`), lossless widenings, drops
//! named in `dropped(...)`, and indexes, unique constraints and checks added or removed.
//! Anything else is refused, every reason listed, before a row is read; a change the stored
//! rows cannot take (duplicates under a new unique constraint, a row a new check makes
//! false, an integer a float cannot hold exactly) is refused naming the first such row.
//!
//! Nothing here touches the state or the disk: `attach` commits a plan, and
//! `Database::migration_plan` only shows it.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::expr::rename_columns;
use crate::record::{DynRow, Record, Row};
use crate::schema::{column_list, Column, ColumnType, Schema};
use crate::table::TableData;
use crate::value::Value;

/// What `Database::table::<T>()` would do to a stored table whose schema differs from `T`'s:
/// each change in words, in order. Its `Display` lists them, one per line.
///
/// Returned by [`Database::migration_plan`](crate::Database::migration_plan), which changes
/// nothing; a migration that would be refused is `Error::SchemaMismatch` instead, listing
/// every reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationPlan {
    table: String,
    changes: Vec<String>,
}

impl MigrationPlan {
    /// The table it migrates.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Each change in words: `rename full_name -> name`, `widen age i32 -> i64`,
    /// `drop nickname (2 values)`, `add score default 0`, `build unique index on label`.
    pub fn changes(&self) -> &[String] {
        &self.changes
    }

    /// Whether the stored table already has the schema (nothing to do).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub(crate) fn new(table: &str, changes: Vec<String>) -> Self {
        MigrationPlan {
            table: table.to_owned(),
            changes,
        }
    }
}

impl fmt::Display for MigrationPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return write!(f, "table {}: no changes", self.table);
        }
        write!(f, "table {}:", self.table)?;
        for c in &self.changes {
            write!(f, "\n  {c}")?;
        }
        Ok(())
    }
}

/// One migration in a table's history ([`Database::schema_history`]).
///
/// [`Database::schema_history`]: crate::Database::schema_history
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    /// The log position at which it was committed (0 in memory).
    pub lsn: u64,
    /// The change in words, as [`MigrationPlan::changes`] has it.
    pub change: String,
}

/// A migration worked out from the two schemas alone: its changes so far, and how stored
/// rows map onto the new columns.
#[derive(Debug)]
pub(crate) struct Draft {
    pub(crate) changes: Vec<String>,
    /// `(old, new)` names of the renamed columns.
    renames: Vec<(String, String)>,
    /// Stored columns dropped with their data.
    dropped: Vec<String>,
}

impl Draft {
    /// Every change, the drops included (their counts come only once the rows are read).
    pub(crate) fn summary(&self) -> String {
        let drops = self.dropped.iter().map(|d| format!("drop {d}"));
        self.changes
            .iter()
            .cloned()
            .chain(drops)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Whether every value column type `from` can hold, `to` holds exactly: a wider integer
/// (unsigned into a wider signed one too), `f32` into `f64`. Integers into `f64` are checked
/// value by value instead.
fn widens(from: ColumnType, to: ColumnType) -> bool {
    match (from.int_range(), to.int_range()) {
        (Some((lo, hi)), Some((tlo, thi))) => tlo <= lo && hi <= thi,
        _ => from == ColumnType::F32 && to == ColumnType::F64,
    }
}

fn refuse(table: &str, problems: &[String]) -> Error {
    Error::SchemaMismatch {
        table: table.to_owned(),
        reason: problems.join("; "),
    }
}

/// Why stored column `gone` (neither dropped nor renamed) refuses the migration, and the
/// two ways out. When the struct has new columns, one may be `gone` under another name (a
/// rename made elsewhere, by SQL's `RENAME COLUMN` say, with the struct still using the old
/// name): the rename, which keeps the values, is offered first, naming them.
fn gone(old: &Schema, new: &Schema, renames: &[(String, String)], gone: &str) -> String {
    let added: Vec<&str> = new
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| old.position(n).is_none() && !renames.iter().any(|(_, to)| to == n))
        .collect();
    let drop = format!("to drop it and its data, name it in #[table(dropped(\"{gone}\"))]");
    let rename = format!("#[column(renamed_from = \"{gone}\")]");
    match added.as_slice() {
        [] => format!(
            "column {gone} is gone from the struct; {drop}, or to rename it, mark the new field \
             {rename}"
        ),
        [one] => format!(
            "column {gone} is gone from the struct, which has a new column {one}: if {one} is \
             {gone} under a new name, mark it {rename} (its values are kept); {drop}"
        ),
        more => format!(
            "column {gone} is gone from the struct, which has new columns {}: if one of them is \
             {gone} under a new name, mark it {rename} (its values are kept); {drop}",
            more.join(", ")
        ),
    }
}

/// The changes from stored schema `old` to `new`, with `new`'s evolution hints; `Err`
/// (`SchemaMismatch`, listing every reason) if one of them is not a migration tabula makes.
/// `None` when the schemas are the same.
pub(crate) fn draft(old: &Schema, new: &Schema) -> Result<Option<Draft>> {
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    // A rename applies while its old name is stored and its new one is free; a hint whose
    // old name is gone was applied already (hints stay in the code), and one whose new name
    // is stored too is left alone: that name may be a new column added since, under a name
    // a rename once freed. But renames among stored columns (a swap, a chain `a -> b`,
    // `b -> c`) cannot be told from hints applied long ago: refused rather than skipped,
    // which would leave every value under the name it had.
    let stored = |c: &String| old.position(c).is_some();
    let renames: Vec<(String, String)> = new
        .evolution
        .renamed
        .iter()
        .filter(|(o, n)| stored(o) && !stored(n))
        .cloned()
        .collect();
    let blocked: Vec<&(String, String)> = new
        .evolution
        .renamed
        .iter()
        .filter(|(o, n)| o != n && stored(o) && stored(n))
        .collect();
    for (o, n) in &blocked {
        if let Some((_, m)) = new
            .evolution
            .renamed
            .iter()
            .find(|(from, to)| from == n && to != n && stored(from))
        {
            problems.push(format!(
                "{n} is renamed from {o} while {m} is renamed from {n}: renames among stored \
                 columns (a swap, or a chain) are not made in one migration; rename through a \
                 name the table does not have, one migration at a time"
            ));
        }
    }
    // Two renames of one stored column: only one could take its values, and the other
    // would silently start empty (the derive refuses this at compile time; a schema built
    // by hand, or the Python package's, reaches here).
    for (i, (o, n)) in renames.iter().enumerate() {
        if let Some((_, m)) = renames[..i].iter().find(|(from, _)| from == o) {
            problems.push(format!(
                "columns {m} and {n} are both renamed from {o}: a stored column is renamed to \
                 one name"
            ));
        }
    }
    // Checked before this: a swap of two columns of one type leaves the schema as it was.
    if !problems.is_empty() {
        return Err(refuse(&new.table, &problems));
    }
    if old.differences(new).is_empty() {
        return Ok(None);
    }
    let new_name = |o: &str| -> String {
        renames
            .iter()
            .find(|(from, _)| from == o)
            .map_or_else(|| o.to_owned(), |(_, to)| to.clone())
    };
    let mut dropped = Vec::new();
    for o in &old.columns {
        let name = new_name(&o.name);
        let Some(n) = new.columns.iter().find(|c| c.name == name) else {
            if new.evolution.dropped.contains(&o.name) {
                // The number of values dropped is added once the rows are read.
                dropped.push(o.name.clone());
            } else if let Some((_, taken)) = blocked.iter().find(|(from, _)| *from == o.name) {
                problems.push(format!(
                    "column {} is gone from the struct, and {taken}'s renamed_from = \"{}\" \
                     cannot rename it: the stored table has a column {taken} already (drop \
                     it in one migration, then rename in a second)",
                    o.name, o.name
                ));
            } else {
                problems.push(gone(old, new, &renames, &o.name));
            }
            continue;
        };
        if name != o.name {
            changes.push(format!("rename {} -> {}", o.name, name));
        }
        column_changes(o, n, &renames, &mut changes, &mut problems);
    }
    let old_pk = new_name(&old.primary_key_column().name);
    if old_pk != new.primary_key_column().name {
        problems.push(format!(
            "the primary key would change from {} to {}; the keys of stored rows (and the \
             foreign keys that name them) cannot change",
            old.primary_key_column().name,
            new.primary_key_column().name
        ));
    }
    for n in &new.columns {
        if old.columns.iter().any(|o| new_name(&o.name) == n.name) {
            continue;
        }
        match (&n.default, n.nullable) {
            (Some(d), _) => changes.push(format!("add {} default {d}", n.name)),
            (None, true) => changes.push(format!("add {} (nullable)", n.name)),
            (None, false) => problems.push(format!(
                "new column {} is neither nullable nor defaulted, so stored rows have no value \
                 for it",
                n.name
            )),
        }
        if n.unique {
            changes.push(format!("build unique index on {}", n.name));
        }
        if n.index {
            changes.push(format!("build index on {}", n.name));
        }
        if let Some(c) = &n.check {
            changes.push(format!("add check {c}"));
        }
    }
    let renamed_list =
        |cols: &Vec<String>| -> Vec<String> { cols.iter().map(|c| new_name(c)).collect() };
    for (kind, olds, news) in [
        ("unique index", &old.unique, &new.unique),
        ("index", &old.index, &new.index),
    ] {
        let olds: Vec<Vec<String>> = olds.iter().map(renamed_list).collect();
        for cols in olds.iter().filter(|c| !news.contains(c)) {
            changes.push(format!("drop {kind} on {}", column_list(cols)));
        }
        for cols in news.iter().filter(|c| !olds.contains(c)) {
            changes.push(format!("build {kind} on {}", column_list(cols)));
        }
    }
    let old_checks: Vec<String> = old
        .checks
        .iter()
        .map(|c| rename_columns(c, &renames))
        .collect();
    for c in old_checks.iter().filter(|c| !new.checks.contains(c)) {
        changes.push(format!("drop check {c}"));
    }
    for c in new.checks.iter().filter(|c| !old_checks.contains(c)) {
        changes.push(format!("add check {c}"));
    }
    // A check added (not one the table had, renamed) is held to the rules a new table's
    // are (see `refuse_mixed_kinds`).
    let had: Vec<String> = old
        .all_checks()
        .map(|(_, c)| rename_columns(c, &renames))
        .collect();
    for (_, c) in new
        .all_checks()
        .filter(|(_, c)| !had.iter().any(|h| h == c))
    {
        if let Err(e) = crate::expr::refuse_mixed_kinds(new, c) {
            problems.push(e.to_string());
        }
    }
    let old_order: Vec<String> = old
        .columns
        .iter()
        .filter(|c| !dropped.contains(&c.name))
        .map(|c| new_name(&c.name))
        .collect();
    let new_order: Vec<&String> = new
        .columns
        .iter()
        .map(|c| &c.name)
        .filter(|n| old_order.contains(n))
        .collect();
    if old_order.iter().ne(new_order.iter().copied()) {
        changes.push("reorder columns".to_owned());
    }
    if !problems.is_empty() {
        return Err(refuse(&new.table, &problems));
    }
    if changes.is_empty() && dropped.is_empty() {
        // Only something `differences` sees and no change names (none known today).
        changes.push("rewrite the schema".to_owned());
    }
    Ok(Some(Draft {
        changes,
        renames,
        dropped,
    }))
}

/// The changes to one column kept under the same or a new name.
fn column_changes(
    o: &Column,
    n: &Column,
    renames: &[(String, String)],
    changes: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    let name = &n.name;
    if n.primary_key != o.primary_key {
        problems.push(format!(
            "column {name} would {} the primary key; the key of stored rows cannot change",
            if n.primary_key {
                "become"
            } else {
                "stop being"
            }
        ));
    }
    if n.ty != o.ty {
        if widens(o.ty, n.ty) || (o.ty.is_int() && n.ty == ColumnType::F64) {
            changes.push(format!("widen {name} {} -> {}", o.ty, n.ty));
        } else {
            problems.push(format!(
                "column {name} cannot change type from {} to {}: only widenings that lose \
                 nothing are migrated (i8 -> i16 -> i32 -> i64, u8 -> ... -> u64, unsigned to a \
                 wider signed, f32 -> f64, integers to f64, T to Option<T>)",
                o.ty, n.ty
            ));
        }
    }
    match (o.nullable, n.nullable) {
        (false, true) => changes.push(format!("make {name} nullable")),
        (true, false) => problems.push(format!(
            "column {name} would become NOT NULL, and stored rows may hold nulls"
        )),
        _ => {}
    }
    if n.default != o.default {
        match &n.default {
            Some(d) => changes.push(format!("set default of {name} to {d}")),
            None => changes.push(format!("remove default of {name}")),
        }
    }
    for (flag, had, has) in [
        ("unique index", o.unique, n.unique),
        ("index", o.index, n.index),
    ] {
        match (had, has) {
            (false, true) => changes.push(format!("build {flag} on {name}")),
            (true, false) => changes.push(format!("drop {flag} on {name}")),
            _ => {}
        }
    }
    match (&o.references, &n.references) {
        (Some(a), Some(b)) if a.table == b.table && a.on_delete != b.on_delete => {
            changes.push(format!(
                "change foreign key {name} -> {} on delete {} -> {}",
                b.table,
                a.on_delete.name(),
                b.on_delete.name()
            ));
        }
        (a, b) if a != b => {
            if let Some(r) = a {
                changes.push(format!("drop foreign key {name} -> {}", r.table));
            }
            if let Some(r) = b {
                changes.push(format!("add foreign key {name} -> {}", r.table));
            }
        }
        _ => {}
    }
    let old_check = o.check.as_deref().map(|c| rename_columns(c, renames));
    if old_check != n.check {
        if let Some(c) = &old_check {
            changes.push(format!("drop check {c}"));
        }
        if let Some(c) = &n.check {
            changes.push(format!("add check {c}"));
        }
    }
}

/// Builds table `new` from the stored rows of `old` (values in `old`'s column order, in key
/// order), with `next_key` as its counter: renamed columns keep their values, dropped ones
/// lose them (their counts join the draft's changes), widened ones are converted, and every
/// row passes the new schema's constraints and checks. `Err` (`SchemaMismatch`) names the
/// first row that cannot, and what stops it.
pub(crate) fn rebuild(
    old: &Schema,
    new: &Schema,
    draft: &mut Draft,
    rows: Vec<Vec<Value>>,
    next_key: i64,
) -> Result<TableData<DynRow>> {
    let mut table = TableData::<DynRow>::new(Arc::new(new.clone()))?;
    let keep: Vec<bool> = old
        .columns
        .iter()
        .map(|c| !draft.dropped.contains(&c.name))
        .collect();
    let names: Arc<[String]> = old
        .columns
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| {
            draft
                .renames
                .iter()
                .find(|(from, _)| *from == c.name)
                .map_or_else(|| c.name.clone(), |(_, to)| to.clone())
        })
        .collect();
    let pk = old.primary_key();
    let has_unique = !new.unique.is_empty() || new.columns.iter().any(|c| c.unique);
    let mut dropped_values = vec![0usize; old.columns.len()];
    table.reserve(rows.len());
    for values in rows {
        let key = values.get(pk).cloned().unwrap_or(Value::Null);
        let mut kept = Vec::with_capacity(names.len());
        for (i, v) in values.into_iter().enumerate() {
            if keep.get(i).copied().unwrap_or(false) {
                kept.push(v);
            } else if !v.is_null() {
                dropped_values[i] += 1;
            }
        }
        let row = Row::with_names(names.clone(), kept)
            .resolve(new)
            .map_err(|e| stored_row_refused(old, new, &key, None, e))?;
        // Kept to name the row it collides with, if a unique constraint refuses it.
        let copy = has_unique.then(|| row.clone());
        if let Err(e) = table.insert(DynRow(row.into())) {
            let first = match (&e, &copy) {
                (Error::UniqueViolation { column, .. }, Some(row)) => {
                    holder(&table, new, column, row)
                }
                _ => None,
            };
            return Err(stored_row_refused(old, new, &key, first, e));
        }
    }
    table.commit();
    table.bump_next_key(next_key);
    for (i, c) in old.columns.iter().enumerate() {
        if !keep[i] {
            let n = dropped_values[i];
            let s = if n == 1 { "" } else { "s" };
            draft
                .changes
                .push(format!("drop {} ({n} value{s})", c.name));
        }
    }
    Ok(table)
}

/// The key of the row of `table` holding `row`'s values in the columns a unique violation
/// names (`email`, or `(student, course)`).
fn holder(table: &TableData<DynRow>, new: &Schema, column: &str, row: &[Value]) -> Option<Value> {
    let names = column.trim_start_matches('(').trim_end_matches(')');
    let cols: Vec<usize> = names
        .split(", ")
        .map(|n| new.position(n))
        .collect::<Option<_>>()?;
    let pk = new.primary_key();
    table
        .iter()
        .find(|(_, r)| cols.iter().all(|&c| r.col(c) == row[c].as_ref()))
        .map(|(_, r)| r.col(pk).to_owned())
}

/// Why the stored row with `key` cannot enter the migrated table (`first`: the key of the
/// row it collides with, for a unique constraint).
fn stored_row_refused(
    old: &Schema,
    new: &Schema,
    key: &Value,
    first: Option<Value>,
    e: Error,
) -> Error {
    let reason = match e {
        Error::TypeMismatch {
            column,
            expected,
            value,
            ..
        } => format!(
            "column {column} cannot become {expected}: the stored row with key {key} holds \
             {value}, which {expected} does not take (an integer becomes a float only up to \
             2^53 in magnitude, where every integer is exact)"
        ),
        Error::UniqueViolation { column, value, .. } => {
            let value = crate::error::violating(&column, &value);
            match first {
                Some(first) => format!(
                    "cannot build unique index on {column}: value {value} is stored in the \
                     rows with keys {first} and {key}"
                ),
                None => format!(
                    "cannot build unique index on {column}: value {value} is stored more \
                     than once (again in the row with key {key})"
                ),
            }
        }
        // A check the table had already that a stored row now fails: a column it reads
        // changed type (an `f32` compared its nearest float, the widened `f64` compares the
        // double it holds). Said so, since nothing is being added.
        Error::Check {
            constraint, values, ..
        } if old.all_checks().any(|(_, c)| c == constraint) => {
            format!(
                "the check {constraint}, which the table has already, is false for the stored \
                 row with key {key} under the new column types ({}): change the check or the \
                 row first",
                crate::error::shown_values(&values)
            )
        }
        Error::Check {
            constraint, values, ..
        } => {
            format!(
                "cannot add check {constraint}: it is false for the stored row with key {key} \
                 ({})",
                crate::error::shown_values(&values)
            )
        }
        Error::NotNull { column, .. } => {
            format!("column {column} cannot be null, and the stored row with key {key} has none")
        }
        other => return other,
    };
    Error::SchemaMismatch {
        table: new.table.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widenings_lose_nothing() {
        use ColumnType::*;
        for (from, to) in [
            (I8, I16),
            (I32, I64),
            (U8, I16),
            (U32, I64),
            (U8, U64),
            (F32, F64),
        ] {
            assert!(widens(from, to), "{from} -> {to}");
        }
        for (from, to) in [
            (I16, I8),
            (I8, U8),
            (U16, I16),
            (F64, F32),
            (I32, Text),
            (Bool, I8),
        ] {
            assert!(!widens(from, to), "{from} -> {to}");
        }
    }
}
