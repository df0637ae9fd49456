//! Finding the table for a Rust type or a schema: attaching to a stored table (loading it,
//! straight into the type when the schemas agree), migrating a stored table whose schema
//! only gained nullable or defaulted columns, or creating a new one.
//!
//! Creating a table is part of a transaction: it exists only if that commits, and its log
//! line carries the creation. Migrating rewrites the table's files and cannot be rolled
//! back, so it runs only outside transactions, under the writers' lock with nothing
//! uncommitted in the state.

use std::sync::{Arc, PoisonError};

use crate::engine::load::{ensure_loaded, load_as};
use crate::engine::source::{Source, TxCore};
use crate::engine::state::State;
use crate::engine::write::WriteTx;
use crate::engine::{checkpoint, Engine};
use crate::error::{Error, Result};
use crate::record::{DynRow, Record, Row, Table};
use crate::schema::Schema;
use crate::storage::{Migration, Storage};
use crate::table::TableData;
use crate::value::Value;

/// What attaching `new` to a stored table of schema `old` takes: `Ok(None)` nothing (the
/// same schema), `Ok(Some(changes))` a migration (only nullable or defaulted columns added;
/// indexes, constraints, defaults and the column order may change), described change by
/// change, never empty; `Err` a schema mismatch naming what differs.
fn migration(old: &Schema, new: &Schema) -> Result<Option<Vec<String>>> {
    if old.differences(new).is_empty() {
        return Ok(None);
    }
    let mut added = Vec::new();
    let mut problems = Vec::new();
    for o in &old.columns {
        match new.columns.iter().find(|n| n.name == o.name) {
            None => problems.push(format!("column {} was removed", o.name)),
            Some(n) if n.ty != o.ty => problems.push(format!(
                "column {} changed type from {} to {}",
                o.name, o.ty, n.ty
            )),
            Some(n) if n.nullable != o.nullable => {
                problems.push(format!("column {} changed nullability", o.name))
            }
            Some(n) if n.primary_key != o.primary_key => {
                problems.push(format!("column {} changed primary key", o.name))
            }
            Some(n) if n != o => added.push(format!(
                "column {} changed: {}",
                o.name,
                old.differences(new)
                    .into_iter()
                    .find(|d| d.starts_with(&format!("column {} ", o.name)))
                    .unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    for n in &new.columns {
        if old.position(&n.name).is_none() {
            if n.nullable || n.default.is_some() {
                added.push(format!(
                    "added column {} ({})",
                    n.name,
                    if n.nullable { "nullable" } else { "defaulted" }
                ));
            } else {
                problems.push(format!(
                    "new column {} is neither nullable nor defaulted",
                    n.name
                ));
            }
        }
    }
    if problems.is_empty() {
        if added.is_empty() {
            // Only the order of the columns differs.
            added.push("columns reordered".into());
        }
        Ok(Some(added))
    } else {
        Err(Error::SchemaMismatch {
            table: new.table.clone(),
            reason: problems.join("; "),
        })
    }
}

/// Rebuilds loaded table `idx` under the compatible schema `new`, checking the stored rows
/// against its constraints: a new unique column's values must be unique (the rebuild's
/// inserts check it), a new foreign key's values must reference rows that exist. The schema
/// file, with the migration recorded, is the commit point: it is written before memory
/// changes, and a failure before it changes nothing. The checkpoint that follows (so that no
/// log record spans two schemas) is not needed for correctness: records logged under the old
/// schema read back under the new one, whose added columns take their defaults.
fn migrate(
    storage: Option<&Storage>,
    st: &mut State,
    idx: usize,
    new: &Schema,
    changes: Vec<String>,
) -> Result<()> {
    let old = st.tables[idx].schema().clone();
    let names: Arc<[String]> = old.columns.iter().map(|c| c.name.clone()).collect();
    let images = st.tables[idx]
        .dump()?
        .into_iter()
        .map(|values| Row::with_names(names.clone(), values).resolve(new))
        .collect::<Result<Vec<_>>>()?;
    let mut table = TableData::<DynRow>::new(Arc::new(new.clone()));
    table.apply_changes(&[], images)?;
    table.bump_next_key(st.tables[idx].next_key());
    check_new_references(storage, st, idx, &old, &table)?;
    let mut migrations = st.meta[idx].migrations.clone();
    if let Some(storage) = storage {
        let lsn = storage.wal()?.last_lsn();
        // The file it replaces: the one a manifest written before the migration names.
        let from = st.meta[idx]
            .schema_on_disk
            .then(|| st.meta[idx].schema_crc32c.clone());
        migrations.extend(changes.iter().map(|c| Migration {
            lsn,
            change: c.clone(),
            from_schema_crc32c: from.clone(),
        }));
        // A schema file is written only for a table whose creation is durable.
        storage.wal()?.sync_all(&storage.layout.wal())?;
        let crc = storage.write_schema(new, &migrations)?;
        st.meta[idx].schema_crc32c = crc;
        st.meta[idx].schema_on_disk = true;
        tracing::info!(table = %new.table, changes = ?changes, "migrated schema");
    }
    st.tables[idx] = Arc::new(table);
    st.meta[idx].migrations = migrations;
    st.meta[idx].dirty = true;
    if let Some(storage) = storage {
        if let Err(e) = checkpoint::checkpoint(storage, st) {
            tracing::warn!(table = %new.table, error = %e,
                "checkpoint after a migration failed; the migration stands");
        }
    }
    Ok(())
}

impl Engine {
    /// The position of the table for `T`, outside any transaction: attached if it exists
    /// (loaded, migrated if its stored schema only lacks nullable or defaulted columns),
    /// created (as a transaction of its own) if not.
    pub(crate) fn attach<T: Table>(&self) -> Result<usize> {
        let schema = T::schema();
        let name = &schema.table;
        {
            let st = self.state(name)?;
            if let Some(&idx) = st.by_name.get(name) {
                if st.tables[idx].as_any().is::<TableData<T>>() {
                    return Ok(idx);
                }
            }
        }
        // A stored table of the same schema loads straight into `T`'s rows, others as values;
        // either way its files are read with no lock held.
        let same_schema = {
            let st = self.state(name)?;
            st.by_name
                .get(name)
                .map(|&idx| st.tables[idx].schema().differences(schema).is_empty())
        };
        match same_schema {
            Some(true) => self.preload::<T>(name)?,
            Some(false) => self.preload::<DynRow>(name)?,
            None if self.read_only_storage().is_some() => {
                return Err(Error::UnknownTable {
                    table: name.clone(),
                });
            }
            None => {}
        }
        // Loaded (and migrated: its files are rewritten then) as one version, attached to
        // `T` as the next, so that a failure to attach keeps what is on disk in memory too.
        // A migration checkpoints: not beside another checkpoint.
        let _no_checkpoint = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let found = self.update(name, |st| {
            let Some(idx) = st.by_name.get(name).copied() else {
                return Ok(None);
            };
            let storage = self.storage.as_ref();
            if let Some(changes) = load_for::<T>(storage, st, idx)? {
                if let Some(s) = self.read_only_storage() {
                    return Err(s.refuse(format!("migrate table {name} ({})", changes.join("; "))));
                }
                migrate(storage, st, idx, schema, changes)?;
            }
            Ok(Some(idx))
        })?;
        if let Some(idx) = found {
            self.update(name, |st| st.attach_type::<T>(idx))?;
            return Ok(idx);
        }
        match self.write(name, |tx| tx.attach::<T>()) {
            // Another thread created the table with an older schema after the look above:
            // attach again, migrating outside the transaction.
            Err(Error::MigrationInTransaction { .. }) => self.attach::<T>(),
            r => r,
        }
    }

    /// Creates a dynamic table from a schema (as a transaction of its own), or finds the
    /// existing table of the same schema.
    pub(crate) fn create_table(&self, schema: Schema) -> Result<(usize, Arc<Schema>)> {
        let name = schema.table.clone();
        self.write(&name, |tx| {
            let idx = tx.create(schema)?;
            let st = tx.state(&name)?;
            Ok((idx, st.table(idx)?.schema().clone()))
        })
    }
}

/// Checks that every row of `table` (table `idx` rebuilt under a new schema) references a
/// row that exists through each foreign key the old schema did not have.
fn check_new_references(
    storage: Option<&Storage>,
    st: &mut State,
    idx: usize,
    old: &Schema,
    table: &TableData<DynRow>,
) -> Result<()> {
    let new = table.schema.clone();
    for (col, c) in new.columns.iter().enumerate() {
        let Some(fk) = &c.references else { continue };
        if old
            .position(&c.name)
            .is_some_and(|o| old.columns[o].references.as_ref() == Some(fk))
        {
            continue;
        }
        let refused = |value: Value, reason: String| Error::ForeignKey {
            table: new.table.clone(),
            column: c.name.clone(),
            references: fk.table.clone(),
            value,
            reason,
        };
        let parent = match st.by_name.get(&fk.table) {
            Some(&p) => Some(p),
            None if fk.table == new.table => None,
            None => {
                return Err(refused(
                    Value::Null,
                    format!("table {} does not exist", fk.table),
                ))
            }
        };
        if let Some(p) = parent.filter(|&p| p != idx) {
            ensure_loaded(storage, st, p)?;
        }
        for (_, row) in table.iter() {
            let v = row.col(col);
            if v.is_null() {
                continue;
            }
            let found = match parent.filter(|&p| p != idx) {
                Some(p) => {
                    let parent_schema = st.tables[p].schema().clone();
                    parent_schema
                        .coerce(parent_schema.primary_key(), v.to_owned())
                        .is_ok_and(|k| st.tables[p].has_key(&k))
                }
                None => new
                    .coerce(new.primary_key(), v.to_owned())
                    .is_ok_and(|k| table.find_key(k.as_ref()).is_some()),
            };
            if !found {
                return Err(refused(
                    v.to_owned(),
                    format!(
                        "a stored row references no row of {}, so the foreign key cannot be added",
                        fk.table
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Loads existing table `idx` for `T`: straight into `T`'s rows when the stored schema is
/// `T`'s, as dynamic rows otherwise. Returns the migration a dynamic table needs before `T`
/// can attach to it (`None`: none, or a mismatch that attaching will report).
fn load_for<T: Table>(
    storage: Option<&Storage>,
    st: &mut State,
    idx: usize,
) -> Result<Option<Vec<String>>> {
    let schema = T::schema();
    if st.tables[idx].schema().differences(schema).is_empty() {
        load_as::<T>(storage, st, idx)?;
        return Ok(None);
    }
    ensure_loaded(storage, st, idx)?;
    if st.tables[idx].rust_type().is_some() {
        return Ok(None);
    }
    let existing = st.tables[idx].schema().clone();
    migration(&existing, schema)
}

impl WriteTx<'_> {
    /// The position of the table for `T` inside this transaction: attached if it exists,
    /// created (with the transaction) if not. A stored table whose schema needs a migration
    /// is `Error::MigrationInTransaction`.
    pub(crate) fn attach<T: Table>(&self) -> Result<usize> {
        let schema = T::schema();
        let storage = self.engine().storage.as_ref();
        let mut st = self.state_mut()?;
        let Some(idx) = st.by_name.get(&schema.table).copied() else {
            let idx = st.push_typed::<T>();
            self.note_created(idx);
            return Ok(idx);
        };
        self.note_changed();
        if let Some(changes) = load_for::<T>(storage, &mut st, idx)? {
            return Err(Error::MigrationInTransaction {
                table: schema.table.clone(),
                changes: changes.join("; "),
            });
        }
        st.attach_type::<T>(idx)?;
        Ok(idx)
    }

    /// Creates a dynamic table from a (finished) schema inside this transaction, or finds
    /// the existing table of the same schema (loading it).
    pub(crate) fn create(&self, schema: Schema) -> Result<usize> {
        let storage = self.engine().storage.as_ref();
        let mut st = self.state_mut()?;
        if let Some(idx) = st.by_name.get(&schema.table).copied() {
            self.note_changed();
            ensure_loaded(storage, &mut st, idx)?;
            let diffs = st.tables[idx].schema().differences(&schema);
            if !diffs.is_empty() {
                return Err(Error::SchemaMismatch {
                    table: schema.table,
                    reason: diffs.join("; "),
                });
            }
            return Ok(idx);
        }
        let idx = st.push_dyn(schema, crate::engine::state::TableMeta::created());
        self.note_created(idx);
        Ok(idx)
    }
}
