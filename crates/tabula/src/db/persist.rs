//! The durable side of `Database`: opening a directory and recovering it, loading a table
//! the first time it is used, logging each commit, migrating a schema, and checkpoints.

use std::path::Path;
use std::sync::{Arc, PoisonError};

use crate::db::{Database, Shared};
use crate::error::{Error, Result};
use crate::record::{DynRow, Record, Table};
use crate::registry::{State, TableMeta};
use crate::schema::Schema;
use crate::storage::codec::corrupt;
use crate::storage::fs::FileSystem;
use crate::storage::wal::decode_ops;
use crate::storage::{Migration, Options, Storage};
use crate::table::{TableChanges, TableData};
use crate::txn::Transaction;

/// Opens a directory: the lock, the manifest, the schemas and the log are read now; table
/// data waits until a table is first used.
pub(crate) fn open(fs: Arc<dyn FileSystem>, root: &Path, options: Options) -> Result<Database> {
    let (storage, recovered) = Storage::open(fs.clone(), root, options)?;
    let mut state = State::default();
    for t in recovered {
        let meta = TableMeta {
            loaded: false,
            dirty: t.entry.is_none() || !t.pending.is_empty(),
            pending: t.pending,
            entry: t.entry,
            schema_crc32c: t.schema_crc32c,
            migrations: t.migrations,
        };
        state.push_dyn(t.schema, meta);
    }
    let needs_checkpoint = storage.needs_checkpoint;
    let db = Database::from_parts(state, Some(storage));
    if needs_checkpoint {
        // Salvage dropped a damaged record in the middle of the log: write what was kept as
        // snapshots and start a clean log, so the directory is consistent again.
        db.checkpoint()?;
    }
    Ok(db)
}

/// Loads a table's snapshot and replays its pending log records, once, as dynamic rows.
pub(crate) fn ensure_loaded(shared: &Shared, st: &mut State, idx: usize) -> Result<()> {
    let Some(meta) = st.meta.get(idx) else {
        return Err(Error::UnknownTable {
            table: format!("#{idx}"),
        });
    };
    if meta.loaded {
        return Ok(());
    }
    let t = load::<DynRow>(shared, st, idx)?;
    st.tables[idx] = Box::new(t);
    st.meta[idx].loaded = true;
    Ok(())
}

/// Reads table `idx` from disk into rows of kind `R`: the snapshot (verified against the
/// manifest), then the log records waiting for it.
fn load<R: Record>(shared: &Shared, st: &mut State, idx: usize) -> Result<TableData<R>> {
    let schema = st.tables[idx].schema().clone();
    let mut t = TableData::<R>::new(schema.clone());
    let Some(storage) = &shared.storage else {
        return Ok(t);
    };
    let meta = &mut st.meta[idx];
    let snapshot_path = storage.layout.records(&schema.table);
    let started = std::time::Instant::now();
    let n;
    if storage.options.recovery == crate::storage::wal::Recovery::Salvage && meta.entry.is_some() {
        // Keep every readable row that fits the table's constraints; report the rest, and
        // rewrite the snapshot at the next checkpoint.
        let rows = storage.salvage_snapshot(&schema);
        n = rows.len();
        for (line, values) in rows {
            let r = R::from_row(&schema, values).and_then(|row| t.insert(row));
            if let Err(e) = r {
                storage.report(&snapshot_path, line, e.to_string());
            }
        }
        t.commit();
        meta.dirty = true;
    } else {
        // Rows are converted to their type as they are parsed, on the parser threads.
        let convert = |values| R::from_row(&schema, values).map_err(|e| e.to_string());
        let chunks = storage.load_snapshot(&schema, meta.entry.as_ref(), &convert)?;
        n = chunks.iter().map(Vec::len).sum();
        t.load_rows(chunks)
            .map_err(|e| corrupt(&snapshot_path, 0, e.to_string()))?;
    }
    if let Some(e) = &meta.entry {
        t.bump_next_key(e.next_key);
    }
    let wal_path = storage.layout.wal();
    for (line, ops) in meta.pending.drain(..) {
        let changes = decode_ops(&wal_path, line, &schema, &ops)?;
        t.apply_changes(changes)
            .map_err(|e| corrupt(&wal_path, line, e.to_string()))?;
        if let Some(k) = ops.next_key {
            t.bump_next_key(k);
        }
    }
    tracing::debug!(table = %schema.table, snapshot_rows = n, rows = t.len(),
        elapsed = ?started.elapsed(), "loaded table");
    Ok(t)
}

/// Whether `new` only adds nullable or defaulted columns to `old` (and may change indexes
/// or defaults); otherwise, what differs.
fn compatible(old: &Schema, new: &Schema) -> std::result::Result<Vec<String>, Vec<String>> {
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
        Ok(added)
    } else {
        Err(problems)
    }
}

/// Rebuilds a stored table under a compatible new schema, records the migration in its
/// schema file, and checkpoints so that no log record spans two schemas.
fn migrate(shared: &Shared, st: &mut State, idx: usize, new: &Schema) -> Result<()> {
    let old = st.tables[idx].schema().clone();
    let changes = compatible(&old, new).map_err(|p| Error::SchemaMismatch {
        table: new.table.clone(),
        reason: p.join("; "),
    })?;
    let rows = st.tables[idx].dump()?;
    let mut t = TableData::<DynRow>::new(Arc::new(new.clone()));
    let images = rows
        .into_iter()
        .map(|values| {
            let row = crate::Row::with_names(crate::select::column_names(&old), values);
            crate::handle::resolve_row(new, &row)
        })
        .collect::<Result<Vec<_>>>()?;
    t.apply_changes(TableChanges {
        deletes: Vec::new(),
        puts: images,
    })?;
    t.bump_next_key(st.tables[idx].next_key());
    let mut migrations = st.meta[idx].migrations.clone();
    if let Some(storage) = &shared.storage {
        let lsn = storage.wal.last_lsn();
        migrations.extend(changes.iter().map(|c| Migration {
            lsn,
            change: c.clone(),
        }));
        let crc = storage.write_schema(new, &migrations)?;
        st.meta[idx].schema_crc32c = crc;
        tracing::info!(table = %new.table, changes = ?changes, "migrated schema");
    }
    st.tables[idx] = Box::new(t);
    st.meta[idx].migrations = migrations;
    st.meta[idx].dirty = true;
    checkpoint(shared, st)
}

/// Finds, loads, migrates or creates the table for `T`.
pub(crate) fn attach<T: Table>(shared: &Shared, st: &mut State) -> Result<usize> {
    let schema = T::schema();
    if let Some(&idx) = st.by_name.get(&schema.table) {
        if !st.meta[idx].loaded && st.tables[idx].schema().differences(schema).is_empty() {
            // Same schema: read the rows straight into the user's type.
            let t = load::<T>(shared, st, idx)?;
            st.tables[idx] = Box::new(t);
            st.meta[idx].loaded = true;
            return Ok(idx);
        }
        ensure_loaded(shared, st, idx)?;
        let existing = st.tables[idx].schema().clone();
        let same = existing.differences(schema).is_empty();
        if !same
            && existing
                .columns
                .iter()
                .all(|c| schema.position(&c.name).is_some())
        {
            if st.tables[idx].rust_type().is_some() {
                return st.register::<T>();
            }
            migrate(shared, st, idx, schema)?;
        }
        return st.register::<T>();
    }
    let idx = st.register::<T>()?;
    if let Some(storage) = &shared.storage {
        match storage.write_schema(schema, &[]) {
            Ok(crc) => st.meta[idx].schema_crc32c = crc,
            Err(e) => {
                st.pop();
                return Err(e);
            }
        }
    }
    Ok(idx)
}

/// Creates a dynamic table (writing its schema file) or returns the same existing one.
pub(crate) fn create(shared: &Shared, st: &mut State, schema: Schema) -> Result<usize> {
    if let Some(&idx) = st.by_name.get(&schema.table) {
        ensure_loaded(shared, st, idx)?;
        return st.create(schema);
    }
    let idx = st.create(schema)?;
    if let Some(storage) = &shared.storage {
        let schema = st.tables[idx].schema().clone();
        match storage.write_schema(&schema, &[]) {
            Ok(crc) => st.meta[idx].schema_crc32c = crc,
            Err(e) => {
                st.pop();
                return Err(e);
            }
        }
    }
    Ok(idx)
}

/// Commits a transaction: logs its changes as one record (if there is a log and anything
/// changed), then makes them permanent in memory. Returns the record's LSN. On error nothing
/// is committed and the caller rolls back.
pub(crate) fn commit(shared: &Shared, tx: &Transaction<'_>) -> Result<Option<u64>> {
    crate::db::relations::enforce(shared, tx)?;
    let written = tx.written();
    let mut st = tx.state.borrow_mut();
    let mut lsn = None;
    if let Some(storage) = &shared.storage {
        let parts: Vec<usize> = written
            .iter()
            .copied()
            .filter(|&idx| st.tables[idx].has_changes())
            .collect();
        if !parts.is_empty() {
            let wal_path = storage.layout.wal();
            let tables = &st.tables;
            // Rows are encoded straight into the log line, one at a time: a big transaction
            // costs its line, not a second copy of its rows as values.
            let n = storage.wal.append(&wal_path, |lsn, json| {
                json.extend_from_slice(b"{\"lsn\":");
                json.extend_from_slice(itoa::Buffer::new().format(lsn).as_bytes());
                json.extend_from_slice(b",\"tables\":[");
                for (i, idx) in parts.iter().enumerate() {
                    if i > 0 {
                        json.push(b',');
                    }
                    tables[*idx].encode_changes(json)?;
                }
                // The closing brace comes with the record's batch (see `WalWriter::append`).
                json.push(b']');
                Ok(())
            })?;
            for idx in &parts {
                st.meta[*idx].dirty = true;
            }
            lsn = Some(n);
        }
    }
    for idx in written {
        st.tables[idx].commit();
    }
    Ok(lsn)
}

/// Checkpoints when the log has grown past the configured size.
pub(crate) fn maybe_auto_checkpoint(db: &Database) -> Result<()> {
    let Some(storage) = &db.shared.storage else {
        return Ok(());
    };
    let Some(limit) = storage.options.auto_checkpoint_bytes else {
        return Ok(());
    };
    if storage.wal.size().0 < limit {
        return Ok(());
    }
    db.checkpoint()
}

/// Snapshots every changed table, commits the manifest, archives the log.
pub(crate) fn checkpoint(shared: &Shared, st: &mut State) -> Result<()> {
    let Some(storage) = &shared.storage else {
        return Ok(());
    };
    if let Some(reason) = storage.wal.failure() {
        return Err(Error::Poisoned { reason });
    }
    storage.wal.sync_all(&storage.layout.wal())?;
    for idx in 0..st.tables.len() {
        if !st.meta[idx].pending.is_empty() {
            ensure_loaded(shared, st, idx)?;
        }
    }
    let mut manifest = storage
        .manifest
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut staged = Vec::new();
    let mut staged_idx = Vec::new();
    for idx in 0..st.tables.len() {
        let meta = &st.meta[idx];
        if !meta.dirty && meta.entry.is_some() {
            continue;
        }
        let t = &st.tables[idx];
        let path = storage.layout.records(&t.schema().table);
        let snapshot = match t.encode_snapshot(&path) {
            Ok(r) => r,
            Err(e) => {
                storage.discard_staged(&staged);
                return Err(e);
            }
        };
        match storage.stage_snapshot(
            t.schema(),
            &snapshot,
            t.next_key(),
            meta.schema_crc32c.clone(),
        ) {
            Ok(s) => {
                manifest.tables.insert(s.table.clone(), s.entry.clone());
                staged.push(s);
                staged_idx.push(idx);
            }
            Err(e) => {
                storage.discard_staged(&staged);
                return Err(e);
            }
        }
    }
    for idx in 0..st.tables.len() {
        // Clean tables keep their entry; a migration may have changed their schema file.
        let name = st.tables[idx].schema().table.clone();
        if let Some(e) = manifest.tables.get_mut(&name) {
            e.schema_crc32c = st.meta[idx].schema_crc32c.clone();
        }
    }
    manifest.lsn = storage.wal.last_lsn();
    storage.commit_checkpoint(manifest.clone(), &staged)?;
    for (idx, s) in staged_idx.into_iter().zip(staged) {
        st.meta[idx].dirty = false;
        st.meta[idx].entry = Some(s.entry);
    }
    tracing::info!(lsn = manifest.lsn, "checkpoint complete");
    Ok(())
}

/// Removes tables created by a failed import: from memory, and their schema files.
pub(crate) fn drop_created(shared: &Shared, st: &mut State, names: &[String]) {
    for name in names.iter().rev() {
        if st.tables.last().is_some_and(|t| &t.schema().table == name) {
            st.pop();
            if let Some(storage) = &shared.storage {
                let _ = storage.fs.remove(&storage.layout.schema(name));
            }
        }
    }
}
