//! Finding the table for a Rust type or a schema: attaching to a stored table (loading it,
//! straight into the type when the schemas agree), migrating a stored table whose schema
//! differs in ways tabula migrates (see [`migration`]), or creating a new one.
//!
//! Creating a table is part of a transaction: it exists only if that commits, and its log
//! line carries the creation. Migrating rewrites the table's files and cannot be rolled
//! back, so it runs only outside transactions, under the writers' lock with nothing
//! uncommitted in the state.

use std::sync::{Arc, PoisonError};

use crate::engine::load::{ensure_loaded, load_as};
use crate::engine::migration::{self, Draft, MigrationPlan};
use crate::engine::source::{Source, TxCore};
use crate::engine::state::State;
use crate::engine::write::WriteTx;
use crate::engine::{checkpoint, Engine};
use crate::error::{Error, Result};
use crate::record::{DynRow, Record, Table};
use crate::schema::Schema;
use crate::storage::{Migration, Storage};
use crate::table::TableData;
use crate::value::Value;

/// Rebuilds loaded table `idx` under the schema `new` (see [`migration::rebuild`]),
/// checking its rows against the new constraints and checks and each new foreign key
/// against the rows it references; then commits it as one durable step
/// ([`checkpoint::commit_migration`]): a crash leaves the old table or the new one. A
/// failure changes nothing. The caller holds the writers' lock outside any transaction.
fn migrate(
    storage: Option<&Storage>,
    st: &mut State,
    idx: usize,
    new: &Schema,
    mut draft: Draft,
) -> Result<Vec<String>> {
    let old = st.tables[idx].schema().clone();
    check_reference_kinds(st, new)?;
    let rows = st.tables[idx].dump()?;
    let table = migration::rebuild(&old, new, &mut draft, rows, st.tables[idx].next_key())?;
    check_new_references(storage, st, idx, &old, &table)?;
    let changes = draft.changes;
    match storage {
        Some(storage) => checkpoint::commit_migration(storage, st, idx, table, &changes)?,
        None => {
            st.tables[idx] = Arc::new(table);
            st.meta_mut(idx)
                .migrations
                .extend(changes.iter().map(|c| Migration {
                    lsn: 0,
                    change: c.clone(),
                    from_schema_crc32c: None,
                }));
        }
    }
    tracing::info!(table = %new.table, changes = ?changes, "migrated schema");
    Ok(changes)
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
            Some(true) => {
                if let Err(e) = self.preload::<T>(name) {
                    // A row `T` cannot read (a json field whose type changed) fails the load
                    // as a damaged file would. Loaded as values, the file's soundness
                    // decides: if it loads, converting the rows to `T` (below) names the
                    // row instead.
                    self.preload::<DynRow>(name).map_err(|_| e)?;
                }
            }
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
        // A migration checkpoints: not beside another checkpoint. Refused first on the
        // thread of a transaction: a checkpoint holding the mutex waits for its lock.
        self.refuse_in_transaction(name)?;
        let _no_checkpoint = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let found = self.update(name, |st| {
            let Some(idx) = st.by_name.get(name).copied() else {
                return Ok(None);
            };
            let storage = self.storage.as_ref();
            if let Some(draft) = load_for::<T>(storage, st, idx)? {
                if let Some(s) = self.read_only_storage() {
                    return Err(s.refuse(format!("migrate table {name} ({})", draft.summary())));
                }
                migrate(storage, st, idx, schema, draft)?;
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

    /// What [`Engine::attach`] would do to the stored table of `T`, changing nothing: the
    /// table is loaded if it was not (its rows are read, not changed), and the migration is
    /// worked out on copies. A refused migration is `Error::SchemaMismatch` listing every
    /// reason; a check of `T` that does not compile is reported as attaching reports it.
    pub(crate) fn migration_plan<T: Table>(&self) -> Result<MigrationPlan> {
        let name = &T::schema().table;
        let plan = self.plan(T::schema())?;
        if plan.is_empty() {
            // Nothing migrates, but attaching still reads the stored rows into `T` (a json
            // field's type may not read them) and refuses a table another Rust type holds:
            // done on a copy of the state (`plan` loaded the table), kept from no one.
            let mut st = (*self.read_state(name)?).clone();
            if let Some(&idx) = st.by_name.get(name) {
                st.attach_type::<T>(idx)?;
            }
        }
        Ok(plan)
    }

    /// What [`Engine::alter`] would do with `schema`, changing nothing (see
    /// [`Engine::migration_plan`]); a table that does not exist plans its creation, as
    /// `Database::create_table` would make it (the Python package's dry run of a class).
    pub(crate) fn plan(&self, schema: &Schema) -> Result<MigrationPlan> {
        let name = &schema.table;
        TableData::<DynRow>::new(Arc::new(schema.clone()))?;
        let st = self.state(name)?;
        if !st.by_name.contains_key(name) {
            return creation_plan(&st, schema);
        }
        drop(st);
        self.preload::<DynRow>(name)?;
        // The tables its foreign keys reference are loaded where every reader finds them,
        // not only on the copy below: a read-only open keeps a table's snapshot bytes until
        // a load takes them, and a load on a copy thrown away would leave none.
        for fk in schema.columns.iter().filter_map(|c| c.references.as_ref()) {
            if fk.table != *name {
                self.preload::<DynRow>(&fk.table)?;
            }
        }
        let mut st = (*self.read_state(name)?).clone();
        let Some(&idx) = st.by_name.get(name) else {
            return creation_plan(&st, schema);
        };
        let storage = self.storage.as_ref();
        ensure_loaded(storage, &mut st, idx)?;
        let old = st.tables[idx].schema().clone();
        let Some(mut draft) = migration::draft(&old, schema)? else {
            return Ok(MigrationPlan::new(name, Vec::new()));
        };
        check_reference_kinds(&st, schema)?;
        let rows = st.tables[idx].dump()?;
        let table = migration::rebuild(&old, schema, &mut draft, rows, st.tables[idx].next_key())?;
        check_new_references(storage, &mut st, idx, &old, &table)?;
        Ok(MigrationPlan::new(name, draft.changes))
    }

    /// Migrates stored table `schema.table` to `schema` (its `evolution` naming renamed and
    /// dropped columns) as one durable step, outside any transaction, as attaching a Rust
    /// type with that schema would; returns what changed (empty: nothing to do). Handles of
    /// the table made before report it detached afterwards. A refused migration is
    /// `Error::SchemaMismatch` listing every reason, and changes nothing.
    pub(crate) fn alter(&self, schema: Schema) -> Result<MigrationPlan> {
        let name = schema.table.clone();
        // Checks that do not compile are refused before a row is read.
        TableData::<DynRow>::new(Arc::new(schema.clone()))?;
        // Before the checkpoint's mutex: a checkpoint holding it waits for the writers'
        // lock, which this thread holds inside a transaction.
        self.refuse_in_transaction(&name)?;
        self.preload::<DynRow>(&name)?;
        let _no_checkpoint = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let changes = self.update(&name, |st| {
            let idx = st.index_of(&name)?;
            let storage = self.storage.as_ref();
            ensure_loaded(storage, st, idx)?;
            let old = st.tables[idx].schema().clone();
            let Some(draft) = migration::draft(&old, &schema)? else {
                return Ok(Vec::new());
            };
            if let Some(s) = self.read_only_storage() {
                return Err(s.refuse(format!("migrate table {name} ({})", draft.summary())));
            }
            migrate(storage, st, idx, &schema, draft)
        })?;
        Ok(MigrationPlan::new(&name, changes))
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

/// The plan of a table that does not exist: its creation, refused as creating it would
/// refuse it.
fn creation_plan(st: &State, schema: &Schema) -> Result<MigrationPlan> {
    st.check_new_table(schema)?;
    check_reference_kinds(st, schema)?;
    let name = &schema.table;
    Ok(MigrationPlan::new(
        name,
        vec![format!("create table {name}")],
    ))
}

/// Where a new foreign key's values are looked up (see [`check_new_references`]).
#[derive(Clone, Copy)]
enum Parent {
    /// Another table, at this position.
    Other(usize),
    /// The table itself, rebuilt.
    Itself,
    /// A table that does not exist yet: no value finds a row.
    Missing,
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
        // A table that does not exist yet has no rows: as for a new table, which may
        // reference one made later, only a stored value refuses it.
        let parent = match st.by_name.get(&fk.table) {
            Some(&p) if p == idx => Parent::Itself,
            Some(&p) if !st.is_dropped(p) => Parent::Other(p),
            _ if fk.table == new.table => Parent::Itself,
            _ => Parent::Missing,
        };
        if let Parent::Other(p) = parent {
            ensure_loaded(storage, st, p)?;
        }
        let pk = new.primary_key();
        for (_, row) in table.iter() {
            let v = row.col(col);
            if v.is_null() {
                continue;
            }
            let found = match parent {
                Parent::Other(p) => {
                    let parent_schema = st.tables[p].schema().clone();
                    parent_schema
                        .coerce(parent_schema.primary_key(), v.to_owned())
                        .is_ok_and(|k| st.tables[p].has_key(&k))
                }
                Parent::Itself => new
                    .coerce(new.primary_key(), v.to_owned())
                    .is_ok_and(|k| table.find_key(k.as_ref()).is_some()),
                Parent::Missing => false,
            };
            if !found {
                let missing = match parent {
                    Parent::Missing => "references a table that does not exist,",
                    _ => "references no row of",
                };
                return Err(refused(
                    v.to_owned(),
                    format!(
                        "the stored row with key {} {missing} {}, so the foreign key cannot be \
                         added",
                        row.col(pk),
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
/// can attach to it (`None`: none, or a mismatch that attaching will report); a migration
/// tabula does not make is `Error::SchemaMismatch`.
fn load_for<T: Table>(
    storage: Option<&Storage>,
    st: &mut State,
    idx: usize,
) -> Result<Option<Draft>> {
    let schema = T::schema();
    if st.tables[idx].schema().differences(schema).is_empty() {
        load_as::<T>(storage, st, idx)?;
        return Ok(None);
    }
    ensure_loaded(storage, st, idx)?;
    // A table another Rust type holds migrates too: that type's handles then report the
    // table detached from them.
    let existing = st.tables[idx].schema().clone();
    migration::draft(&existing, schema)
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
            st.check_new_table(schema)?;
            check_reference_kinds(&st, schema)?;
            let idx = st.push_typed::<T>()?;
            self.note_created(idx);
            return Ok(idx);
        };
        self.note_changed();
        if let Some(draft) = load_for::<T>(storage, &mut st, idx)? {
            return Err(Error::MigrationInTransaction {
                table: schema.table.clone(),
                changes: draft.summary(),
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
        st.check_new_table(&schema)?;
        check_reference_kinds(&st, &schema)?;
        let idx = st.push_dyn(schema, crate::engine::state::TableMeta::created())?;
        self.note_created(idx);
        Ok(idx)
    }
}

/// Refuses a new table with a foreign key of another kind than the key it references (a
/// text column referencing an integer key finds no row whatever it holds, so every insert
/// would fail): an integer key takes integer columns of any width, any other key its own
/// type. Both ways: the new table's own foreign keys against the tables they reference,
/// and the foreign keys of the tables made before it (a reference may name a table that
/// does not exist yet) against its key.
fn check_reference_kinds(st: &State, schema: &Schema) -> Result<()> {
    let key = schema.primary_key_column();
    for (i, t) in st.tables.iter().enumerate() {
        let child = t.schema();
        if st.is_dropped(i) || child.table == schema.table {
            continue;
        }
        let referencing = child.columns.iter().filter(|c| {
            c.references
                .as_ref()
                .is_some_and(|fk| fk.table == schema.table)
        });
        for c in referencing {
            if let Some(reason) = c.reference_mismatch(&schema.table, key) {
                return Err(Error::SchemaMismatch {
                    table: schema.table.clone(),
                    reason: format!("table {}, made before it: {reason}", child.table),
                });
            }
        }
    }
    for c in &schema.columns {
        let Some(fk) = &c.references else { continue };
        let parent = if fk.table == schema.table {
            Some(schema)
        } else {
            st.by_name
                .get(&fk.table)
                .filter(|&&i| !st.is_dropped(i))
                .map(|&i| &**st.tables[i].schema())
        };
        let Some(parent) = parent else { continue };
        if let Some(reason) = c.reference_mismatch(&parent.table, parent.primary_key_column()) {
            return Err(Error::SchemaMismatch {
                table: schema.table.clone(),
                reason,
            });
        }
    }
    Ok(())
}
