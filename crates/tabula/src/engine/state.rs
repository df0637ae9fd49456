//! The state of one database: every table (typed or dynamic, behind [`AnyTable`]) by
//! position and by name, with what the engine knows of each beyond its rows.
//!
//! A [`State`] is one *version*: immutable once published behind an `Arc`, read by any
//! number of readers with no lock. A writer clones the newest version (cheap: every table
//! is an `Arc`), changes its copy (a table is copied at its first change, sharing its rows
//! and indexes with the original, see `table::Slab`), and publishes it as the next version.

use hashbrown::HashMap;
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
#[derive(Debug, Clone)]
pub(crate) struct TableMeta {
    pub(crate) loaded: bool,
    /// Changed since the last checkpoint (or never checkpointed): the next one writes it.
    pub(crate) dirty: bool,
    /// Log records (line, operations) to replay when the table is loaded; shared by every
    /// version, which copies only the pointer.
    pub(crate) pending: Arc<Vec<(u64, RawTableOps)>>,
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
    /// The LSN of the log record that created the table (0 in memory, or for a table
    /// created before manifests recorded it): tells a table from one dropped and made again
    /// under its name.
    pub(crate) created_lsn: u64,
    /// The table was dropped: its position is kept (handles hold positions) by an empty
    /// table of its schema, which no name leads to and every handle refuses.
    pub(crate) dropped: bool,
    /// What a read-only open found wrong with the table's snapshot (see
    /// `TableStats::damaged`): kept with the version it describes, so that `stats` shows the
    /// damage of the snapshot its own manifest entry names, whatever a refresh reads since.
    pub(crate) snapshot_damage: Option<String>,
}

impl TableMeta {
    /// A table created now, not yet in any file.
    pub(crate) fn created() -> Self {
        TableMeta {
            loaded: true,
            dirty: true,
            pending: Arc::default(),
            entry: None,
            schema_on_disk: false,
            schema_crc32c: String::new(),
            migrations: Vec::new(),
            commits: 0,
            created_lsn: 0,
            dropped: false,
            snapshot_damage: None,
        }
    }
}

/// Every table of a database, by position (handles keep the position) and by name: one
/// version of the database.
#[derive(Default, Clone)]
pub(crate) struct State {
    pub(crate) tables: Vec<Arc<dyn AnyTable>>,
    /// Each table's metadata, shared between versions until one changes it
    /// ([`State::meta_mut`]): a commit copies the pointers, not the metadata.
    pub(crate) meta: Vec<Arc<TableMeta>>,
    pub(crate) by_name: Arc<HashMap<String, usize>>,
    /// Counts the versions of a database up from 0: a newer one has a greater number.
    pub(crate) version: u64,
}

impl State {
    /// Table `idx`'s metadata, to change in this version: copied first if another version
    /// shares it (see [`State::meta`]).
    pub(crate) fn meta_mut(&mut self, idx: usize) -> &mut TableMeta {
        Arc::make_mut(&mut self.meta[idx])
    }

    pub(crate) fn index_of(&self, name: &str) -> Result<usize> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownTable { table: name.into() })
    }

    /// The table at `idx` (a handle's position: it exists while its database is open,
    /// unless it was dropped).
    pub(crate) fn table(&self, idx: usize) -> Result<&dyn AnyTable> {
        match self.tables.get(idx) {
            Some(t) if !self.is_dropped(idx) => Ok(&**t),
            Some(t) => Err(Error::UnknownTable {
                table: t.schema().table.clone(),
            }),
            None => Err(Error::UnknownTable {
                table: format!("#{idx}"),
            }),
        }
    }

    /// Refuses a new table whose checks compare columns of different kinds (see
    /// [`refuse_mixed_kinds`](crate::expr::refuse_mixed_kinds)), or whose name is a reserved
    /// one (see [`check_new_table_name`](crate::schema::check_new_table_name)) or differs
    /// from another table's (one dropped since the open too) only by case: on a file system
    /// that ignores case (macOS's and Windows' by default) the two tables' files would be
    /// the same files.
    pub(crate) fn check_new_table(&self, schema: &crate::schema::Schema) -> Result<()> {
        let name = schema.table.as_str();
        crate::schema::check_new_table_name(name)?;
        for (_, check) in schema.all_checks() {
            crate::expr::refuse_mixed_kinds(schema, check)?;
        }
        let folded = name.to_lowercase();
        // A table dropped since the open counts too: its name may still be among the
        // manifest's dropped, whose files an open removes (a removal that failed), and
        // those would be the new table's.
        // A live table first: it blocks the name after a reopen too.
        let other = (0..self.tables.len())
            .map(|i| (self.tables[i].schema().table.as_str(), self.is_dropped(i)))
            .filter(|(t, _)| *t != name && t.to_lowercase() == folded)
            .min_by_key(|&(_, dropped)| dropped);
        match other {
            Some((other, dropped)) => {
                let (when, remedy) = if dropped {
                    (
                        " (dropped since this database was opened)",
                        "; open the database again to use the name",
                    )
                } else {
                    ("", "")
                };
                Err(Error::InvalidName {
                    name: name.to_owned(),
                    reason: format!(
                        "table {other}{when} differs from it only by case: on a file system \
                         that ignores case (macOS's and Windows' by default) both would be \
                         kept in the same files{remedy}"
                    ),
                })
            }
            None => Ok(()),
        }
    }

    /// Whether the table at `idx` was dropped.
    pub(crate) fn is_dropped(&self, idx: usize) -> bool {
        self.meta.get(idx).is_some_and(|m| m.dropped)
    }

    /// The positions of the tables that were not dropped.
    pub(crate) fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.tables.len()).filter(|&i| !self.is_dropped(i))
    }

    /// Drops the table at `idx`: its name is free for a new table, its rows are freed once
    /// no version holds them, and its position stays, held by an empty table of its schema
    /// (so that every other position, and every handle, keeps its meaning).
    pub(crate) fn drop_table(&mut self, idx: usize) -> Result<()> {
        let schema = self.table(idx)?.schema().clone();
        let name = schema.table.clone();
        let empty = TableData::<DynRow>::new(schema)?;
        self.tables[idx] = Arc::new(empty);
        let meta = self.meta_mut(idx);
        // What the files held is gone with them; the position alone stays (until the
        // database is opened again: a database that drops and makes tables without end grows
        // by one empty table per drop).
        meta.dropped = true;
        meta.loaded = true;
        meta.dirty = false;
        meta.pending = Arc::default();
        meta.entry = None;
        meta.migrations = Vec::new();
        meta.schema_crc32c = String::new();
        if self.by_name.get(&name) == Some(&idx) {
            Arc::make_mut(&mut self.by_name).remove(&name);
        }
        Ok(())
    }

    /// Adds a dropped table of `schema`: a position no name leads to (a read-only database
    /// keeps the positions of the tables the writer dropped).
    pub(crate) fn push_dropped(&mut self, schema: Arc<Schema>) -> Result<()> {
        self.tables
            .push(Arc::new(TableData::<DynRow>::new(schema)?));
        let mut meta = TableMeta::created();
        meta.dirty = false;
        meta.dropped = true;
        meta.schema_on_disk = true;
        self.meta.push(Arc::new(meta));
        Ok(())
    }

    /// The error for a handle of `T` whose table `idx` is not a table of `T`: dropped, or
    /// attached to another type.
    pub(crate) fn not_typed<T: Table>(&self, idx: usize) -> Error {
        if self.is_dropped(idx) {
            return Error::UnknownTable {
                table: T::schema().table.clone(),
            };
        }
        detached::<T>()
    }

    /// [`State::table`], to change: a table another version still shares is first
    /// replaced by a copy of it (which shares its rows and indexes until they are written).
    pub(crate) fn table_mut(&mut self, idx: usize) -> Result<&mut (dyn AnyTable + 'static)> {
        self.table(idx)?;
        let Some(t) = self.tables.get_mut(idx) else {
            return Err(Error::UnknownTable {
                table: format!("#{idx}"),
            });
        };
        // Only this state holds an `Arc` whose count is 1, so nothing can share it between
        // the check and the borrow.
        if Arc::get_mut(t).is_none() {
            let copy = t.clone_arc();
            *t = copy;
        }
        Arc::get_mut(t).ok_or_else(|| Error::UnknownTable {
            table: format!("#{idx}"),
        })
    }

    /// The bytes of this version's tables that `newer` does not share: what keeping this
    /// version alive beside `newer` costs.
    pub(crate) fn bytes_not_in(&self, newer: &State) -> u64 {
        self.tables
            .iter()
            .enumerate()
            .map(|(i, t)| match newer.tables.get(i) {
                Some(n) if Arc::ptr_eq(t, n) => 0,
                n => t.bytes_not_in(n.map(|n| &**n)),
            })
            .sum()
    }

    /// The typed table at `idx`.
    #[inline]
    pub(crate) fn typed<T: Table>(&self, idx: usize) -> Result<&TableData<T>> {
        self.typed_opt(idx).ok_or_else(|| self.not_typed::<T>(idx))
    }

    /// [`State::typed`], `None` for a table not of `T`.
    #[inline(always)]
    pub(crate) fn typed_opt<T: Table>(&self, idx: usize) -> Option<&TableData<T>> {
        self.tables
            .get(idx)
            .and_then(|t| t.as_any().downcast_ref::<TableData<T>>())
    }

    /// Adds a table created now (not yet in any file) for `T`; fails if a check of its
    /// schema does not compile.
    pub(crate) fn push_typed<T: Table>(&mut self) -> Result<usize> {
        let schema = T::schema();
        let table = TableData::<T>::new(Arc::new(schema.clone()))?;
        let idx = self.tables.len();
        self.tables.push(Arc::new(table));
        self.meta.push(Arc::new(TableMeta::created()));
        Arc::make_mut(&mut self.by_name).insert(schema.table.clone(), idx);
        Ok(idx)
    }

    /// Adds a dynamic table; fails if a check of its schema does not compile.
    pub(crate) fn push_dyn(&mut self, schema: Schema, meta: TableMeta) -> Result<usize> {
        let table = TableData::<DynRow>::new(Arc::new(schema))?;
        let idx = self.tables.len();
        Arc::make_mut(&mut self.by_name).insert(table.schema.table.clone(), idx);
        self.tables.push(Arc::new(table));
        self.meta.push(Arc::new(meta));
        Ok(idx)
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
        self.tables[idx] = Arc::new(typed);
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
