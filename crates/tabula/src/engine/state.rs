//! The state of one database: every table (typed or dynamic, behind [`AnyTable`]) by
//! position and by name, with what the engine knows of each beyond its rows.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::any_table::AnyTable;
use crate::error::{Error, Result};
use crate::record::{DynRow, Table};
use crate::schema::Schema;
use crate::storage::manifest::TableEntry;
use crate::storage::wal::line::RawTableOps;
use crate::storage::Migration;
use crate::table::TableData;

/// What the engine knows about a table beyond its rows: whether its snapshot is loaded, log
/// records waiting to be replayed on load, whether it changed since the last checkpoint, and
/// its files. Tables of an in-memory database are always loaded.
#[derive(Debug)]
pub(crate) struct TableMeta {
    pub(crate) loaded: bool,
    /// Changed since the last checkpoint (or never checkpointed): the next one writes it.
    pub(crate) dirty: bool,
    /// Log records (line, operations) to replay when the table is loaded.
    pub(crate) pending: Vec<(u64, RawTableOps)>,
    /// The table as of the last checkpoint.
    pub(crate) entry: Option<TableEntry>,
    /// Whether `schema/<table>.schema.json` exists. A table is created by the commit of its
    /// transaction's log record; its schema file is written only once that is durable.
    pub(crate) schema_on_disk: bool,
    /// crc32c of the schema file (empty until it is written).
    pub(crate) schema_crc32c: String,
    pub(crate) migrations: Vec<Migration>,
    /// Commits that changed the table since the database opened: a checkpoint that wrote it
    /// marks it clean only if no commit came after it encoded the table.
    pub(crate) commits: u64,
}

impl TableMeta {
    /// A table created now, not yet in any file.
    pub(crate) fn created() -> Self {
        TableMeta {
            loaded: true,
            dirty: true,
            pending: Vec::new(),
            entry: None,
            schema_on_disk: false,
            schema_crc32c: String::new(),
            migrations: Vec::new(),
            commits: 0,
        }
    }
}

/// Every table of a database, by position (handles keep the position) and by name.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) tables: Vec<Box<dyn AnyTable>>,
    pub(crate) meta: Vec<TableMeta>,
    pub(crate) by_name: HashMap<String, usize>,
}

impl State {
    pub(crate) fn index_of(&self, name: &str) -> Result<usize> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownTable { table: name.into() })
    }

    /// The table at `idx` (a handle's position: it exists while its database is open).
    pub(crate) fn table(&self, idx: usize) -> Result<&dyn AnyTable> {
        match self.tables.get(idx) {
            Some(t) => Ok(&**t),
            None => Err(Error::UnknownTable {
                table: format!("#{idx}"),
            }),
        }
    }

    /// [`State::table`], to change.
    pub(crate) fn table_mut(&mut self, idx: usize) -> Result<&mut dyn AnyTable> {
        match self.tables.get_mut(idx) {
            Some(t) => Ok(&mut **t),
            None => Err(Error::UnknownTable {
                table: format!("#{idx}"),
            }),
        }
    }

    /// The typed table at `idx`.
    pub(crate) fn typed<T: Table>(&self, idx: usize) -> Result<&TableData<T>> {
        self.tables
            .get(idx)
            .and_then(|t| t.as_any().downcast_ref::<TableData<T>>())
            .ok_or_else(detached::<T>)
    }

    /// Adds a table created now (not yet in any file) for `T`.
    pub(crate) fn push_typed<T: Table>(&mut self) -> usize {
        let schema = T::schema();
        let idx = self.tables.len();
        self.tables
            .push(Box::new(TableData::<T>::new(Arc::new(schema.clone()))));
        self.meta.push(TableMeta::created());
        self.by_name.insert(schema.table.clone(), idx);
        idx
    }

    /// Adds a dynamic table.
    pub(crate) fn push_dyn(&mut self, schema: Schema, meta: TableMeta) -> usize {
        let idx = self.tables.len();
        self.by_name.insert(schema.table.clone(), idx);
        self.tables
            .push(Box::new(TableData::<DynRow>::new(Arc::new(schema))));
        self.meta.push(meta);
        idx
    }

    /// Removes the table added last (a creation rolled back with its transaction).
    pub(crate) fn pop(&mut self) {
        if let Some(t) = self.tables.pop() {
            self.by_name.remove(&t.schema().table);
            self.meta.pop();
        }
    }

    /// Makes the existing, loaded table at `idx` the table of `T`: a dynamic table of the
    /// same schema becomes typed (slot for slot, its journal kept); a table of another Rust
    /// type or another schema is `Error::SchemaMismatch`.
    pub(crate) fn attach_type<T: Table>(&mut self, idx: usize) -> Result<()> {
        let schema = T::schema();
        let existing = self.table(idx)?;
        if existing.as_any().is::<TableData<T>>() {
            return Ok(());
        }
        let diffs = existing.schema().differences(schema);
        if !diffs.is_empty() {
            return Err(Error::SchemaMismatch {
                table: schema.table.clone(),
                reason: diffs.join("; "),
            });
        }
        if let Some(other) = existing.rust_type() {
            return Err(Error::SchemaMismatch {
                table: schema.table.clone(),
                reason: format!(
                    "already used through Rust type {other}, not {}",
                    std::any::type_name::<T>()
                ),
            });
        }
        let typed = match existing.as_any().downcast_ref::<TableData<DynRow>>() {
            Some(dynamic) => dynamic.convert::<T>()?,
            None => {
                return Err(Error::SchemaMismatch {
                    table: schema.table.clone(),
                    reason: "table is attached to another Rust type".into(),
                })
            }
        };
        self.tables[idx] = Box::new(typed);
        Ok(())
    }
}

/// A handle's table no longer holds rows of its type.
pub(crate) fn detached<T: Table>() -> Error {
    Error::SchemaMismatch {
        table: T::schema().table.clone(),
        reason: format!(
            "the table is not attached to {}",
            std::any::type_name::<T>()
        ),
    }
}
