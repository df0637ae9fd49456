//! Checkpoints: every table changed since the last one is written as a snapshot, the
//! manifest commits them, and the log is archived. A checkpoint reads committed state only:
//! it runs outside any transaction, and no transaction's uncommitted rows can reach a
//! snapshot (it refuses to run otherwise).
//!
//! [`Engine::checkpoint`] holds the writers' lock throughout, so no commit lands between
//! the snapshots and the manifest's LSN; readers go on with the published version (a
//! checkpoint changes no row: the version it publishes differs only in what the engine
//! knows of the files). Tables waiting for log records are loaded first, with no lock held.

use std::sync::PoisonError;

use crate::engine::load::ensure_loaded;
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::storage::manifest::TableEntry;
use crate::storage::Storage;

impl Engine {
    /// Snapshots every changed table, commits the manifest, archives the log. Does nothing
    /// for an in-memory database. Readers are not held up while snapshots are encoded and
    /// written; writers wait for it.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        self.check_open()?;
        let Some(storage) = &self.storage else {
            return Ok(());
        };
        if storage.read_only() {
            return Err(storage.refuse("checkpoint"));
        }
        // Before the checkpoint's mutex: an automatic checkpoint holding it waits for the
        // writers' lock this thread may hold.
        self.refuse_in_transaction("(checkpoint)")?;
        let _one_at_a_time = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Tables still waiting for log records are loaded with no lock held first.
        let waiting: Vec<String> = {
            let st = self.read_state("(checkpoint)")?;
            st.meta
                .iter()
                .zip(&st.tables)
                .filter(|(m, _)| !m.loaded && !m.pending.is_empty())
                .map(|(_, t)| t.schema().table.clone())
                .collect()
        };
        for name in waiting {
            self.preload::<crate::record::DynRow>(&name)?;
        }
        self.update("(checkpoint)", |st| checkpoint(storage, st))
    }
}

/// A checkpoint of `st`, the newest version, with the writers' lock held throughout.
pub(crate) fn checkpoint(storage: &Storage, st: &mut State) -> Result<()> {
    prepare(storage, st)?;
    let written = write_snapshots(storage, st)?;
    record(st, written);
    Ok(())
}

/// What the checkpoint wrote for a table: its position, its commit count when encoded, and
/// its new manifest entry.
struct Written {
    idx: usize,
    commits: u64,
    entry: TableEntry,
}

/// Refuses to write a state holding a transaction's uncommitted rows. Unreachable by
/// construction (see the module's comment); refusing keeps it so.
fn refuse_uncommitted(st: &State) -> Result<()> {
    match st.tables.iter().find(|t| t.has_changes()) {
        Some(t) => Err(Error::InTransaction {
            table: t.schema().table.clone(),
        }),
        None => Ok(()),
    }
}

/// Under the writers' lock: the log durable, every schema file written, every table with log
/// records loaded.
fn prepare(storage: &Storage, st: &mut State) -> Result<()> {
    refuse_uncommitted(st)?;
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
    Ok(())
}

/// Encodes and stages every changed table's snapshot, then commits the manifest and
/// rotates the log. Needs only to read the state, and no commit may happen meanwhile (the
/// caller holds a lock of the state).
fn write_snapshots(storage: &Storage, st: &State) -> Result<Vec<Written>> {
    refuse_uncommitted(st)?;
    // Commits made between `prepare` and now must be durable before a snapshot holds them.
    let wal = storage.wal()?;
    wal.sync_all(&storage.layout.wal())?;
    let mut manifest = storage
        .manifest
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut staged = Vec::new();
    let mut written = Vec::new();
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
                written.push(Written {
                    idx,
                    commits: meta.commits,
                    entry: s.entry.clone(),
                });
                staged.push(s);
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
    manifest.lsn = wal.last_lsn();
    storage.commit_checkpoint(manifest.clone(), &staged)?;
    tracing::info!(lsn = manifest.lsn, "checkpoint complete");
    Ok(written)
}

/// Under the writers' lock: each written table's new entry; it is clean again unless a commit
/// changed it after it was encoded (then the next checkpoint writes it again).
fn record(st: &mut State, written: Vec<Written>) {
    for w in written {
        let meta = &mut st.meta[w.idx];
        meta.entry = Some(w.entry);
        if meta.commits == w.commits {
            meta.dirty = false;
        }
    }
}

/// Writes the schema file of every table that has none yet (tables created since the last
/// checkpoint, whose creation is in the log). The callers hold the writers' lock outside any
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::TableMeta;
    use crate::schema::{Column, ColumnType, Schema};

    fn entry(rows: u64) -> TableEntry {
        TableEntry {
            rows,
            next_key: 1,
            snapshot_crc32c: String::new(),
            snapshot_bytes: 0,
            schema_crc32c: String::new(),
        }
    }

    /// A commit between the encoding of a table and the recording of its entry keeps the
    /// table dirty: otherwise the next checkpoint would skip it and archive the log that
    /// holds the commit.
    #[test]
    fn a_commit_after_encoding_keeps_the_table_dirty() {
        let schema =
            Schema::new("t", vec![Column::new("id", ColumnType::U64).primary_key()]).unwrap();
        let mut st = State::default();
        st.push_dyn(schema.clone(), TableMeta::created());
        st.push_dyn(
            Schema::new("u", schema.columns.clone()).unwrap(),
            TableMeta::created(),
        );
        st.meta[0].commits = 3;
        st.meta[1].commits = 3;
        let written = |idx| Written {
            idx,
            commits: 3,
            entry: entry(7),
        };
        st.meta[1].commits += 1; // committed after it was encoded
        record(&mut st, vec![written(0), written(1)]);
        assert!(!st.meta[0].dirty);
        assert!(st.meta[1].dirty);
        assert_eq!(st.meta[1].entry.as_ref().map(|e| e.rows), Some(7));
    }
}
