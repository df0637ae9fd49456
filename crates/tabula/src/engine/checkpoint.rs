//! Checkpoints: every table changed since the last one is written as a snapshot, the
//! manifest commits them, and the log is archived. A checkpoint runs only under the write
//! lock taken outside any transaction, so the state it reads is committed state: no
//! transaction's uncommitted rows can reach a snapshot. It refuses to run otherwise.

use std::sync::PoisonError;

use crate::engine::load::ensure_loaded;
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::storage::Storage;

impl Engine {
    /// Snapshots every changed table, commits the manifest, archives the log. Does nothing
    /// for an in-memory database.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let Some(storage) = &self.storage else {
            return Ok(());
        };
        if storage.read_only() {
            return Err(storage.refuse("checkpoint"));
        }
        let mut st = self.write_state("(checkpoint)")?;
        checkpoint(storage, &mut st)
    }
}

/// Writes the schema file of every table that has none yet (tables created since the last
/// checkpoint, whose creation is in the log). The callers hold the write lock outside any
/// transaction, so every table in `st` is committed; the log is made durable first, so no
/// schema file is written for a creation a crash could still undo.
pub(crate) fn write_schema_files(storage: &Storage, st: &mut State) -> Result<()> {
    if st.meta.iter().all(|m| m.schema_on_disk) {
        return Ok(());
    }
    storage.wal()?.sync_all(&storage.layout.wal())?;
    for idx in 0..st.tables.len() {
        if st.meta[idx].schema_on_disk {
            continue;
        }
        let schema = st.tables[idx].schema().clone();
        let crc = storage.write_schema(&schema, &st.meta[idx].migrations)?;
        st.meta[idx].schema_crc32c = crc;
        st.meta[idx].schema_on_disk = true;
    }
    Ok(())
}

/// The checkpoint itself, with the write lock held (`st`).
pub(crate) fn checkpoint(storage: &Storage, st: &mut State) -> Result<()> {
    if let Some(t) = st.tables.iter().find(|t| t.has_changes()) {
        // Unreachable by construction (see the module's comment); refusing keeps it so.
        return Err(Error::InTransaction {
            table: t.schema().table.clone(),
        });
    }
    let wal = storage.wal()?;
    if let Some(reason) = wal.failure() {
        return Err(Error::Poisoned { reason });
    }
    wal.sync_all(&storage.layout.wal())?;
    write_schema_files(storage, st)?;
    for idx in 0..st.tables.len() {
        if !st.meta[idx].pending.is_empty() {
            ensure_loaded(Some(storage), st, idx)?;
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
        let staging = t.encode_snapshot().and_then(|snapshot| {
            storage.stage_snapshot(
                t.schema(),
                &snapshot,
                t.next_key(),
                meta.schema_crc32c.clone(),
            )
        });
        match staging {
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
    manifest.lsn = storage.wal()?.last_lsn();
    storage.commit_checkpoint(manifest.clone(), &staged)?;
    for (idx, s) in staged_idx.into_iter().zip(staged) {
        st.meta[idx].dirty = false;
        st.meta[idx].entry = Some(s.entry);
    }
    tracing::info!(lsn = manifest.lsn, "checkpoint complete");
    Ok(())
}
