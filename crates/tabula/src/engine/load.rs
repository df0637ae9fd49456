//! Loading a table the first time it is used: its snapshot (verified against the manifest),
//! then the log records waiting for it. Loading is not a change: a table's committed rows
//! move from disk into memory, and nothing is written.

use crate::engine::state::State;
use crate::error::{Error, Result};
use crate::record::{DynRow, Record};
use crate::storage::wal::decode::decode_ops;
use crate::storage::wal::Recovery;
use crate::storage::Storage;
use crate::table::TableData;

/// Loads table `idx` as dynamic rows, once.
pub(crate) fn ensure_loaded(storage: Option<&Storage>, st: &mut State, idx: usize) -> Result<()> {
    let Some(meta) = st.meta.get(idx) else {
        return Err(Error::UnknownTable {
            table: format!("#{idx}"),
        });
    };
    if meta.loaded {
        return Ok(());
    }
    let t = load::<DynRow>(storage, st, idx)?;
    st.tables[idx] = Box::new(t);
    st.meta[idx].loaded = true;
    Ok(())
}

/// Loads table `idx` straight into rows of kind `R`, once (a typed table attached to a
/// stored table of the same schema). False if it was loaded already.
pub(crate) fn load_as<R: Record>(
    storage: Option<&Storage>,
    st: &mut State,
    idx: usize,
) -> Result<bool> {
    if st.meta[idx].loaded {
        return Ok(false);
    }
    let t = load::<R>(storage, st, idx)?;
    st.tables[idx] = Box::new(t);
    st.meta[idx].loaded = true;
    Ok(true)
}

/// Reads table `idx` from disk into rows of kind `R`: the snapshot, then the log records
/// waiting for it.
fn load<R: Record>(storage: Option<&Storage>, st: &mut State, idx: usize) -> Result<TableData<R>> {
    let schema = st.tables[idx].schema().clone();
    let mut t = TableData::<R>::new(schema.clone());
    let Some(storage) = storage else {
        return Ok(t);
    };
    let meta = &mut st.meta[idx];
    let snapshot_path = storage.layout.records(&schema.table);
    let started = std::time::Instant::now();
    let n;
    if storage.options.recovery == Recovery::Salvage && meta.entry.is_some() {
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
            .map_err(|e| Error::corrupt(&snapshot_path, 0, e.to_string()))?;
    }
    if let Some(e) = &meta.entry {
        t.bump_next_key(e.next_key);
    }
    let wal_path = storage.layout.wal();
    for (line, ops) in meta.pending.drain(..) {
        let changes = decode_ops(&wal_path, line, &schema, &ops)?;
        t.apply_changes(&changes.deletes, changes.puts)
            .map_err(|e| Error::corrupt(&wal_path, line, e.to_string()))?;
        if let Some(k) = ops.next_key {
            t.bump_next_key(k);
        }
    }
    tracing::debug!(table = %schema.table, snapshot_rows = n, rows = t.len(),
        elapsed = ?started.elapsed(), "loaded table");
    Ok(t)
}
