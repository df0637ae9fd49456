//! Checkpoints: every table changed since the last one is written as a snapshot, the
//! manifest commits them, and the log is archived. A checkpoint reads committed state only:
//! it runs outside any transaction, and no transaction's uncommitted rows can reach a
//! snapshot (it refuses to run otherwise).
//!
//! [`Engine::checkpoint`] takes the newest version and the log's position under the
//! writers' lock, for a moment; encodes and writes that version's snapshots, commits the
//! manifest at its LSN and copies the log up to there into an archived segment with no lock
//! held, writers committing meanwhile; then, under the writers' lock again for a moment,
//! replaces the log by the records written since (`Storage::carry_log_tail`). Readers never
//! wait. Checkpoints never overlap (the `checkpointing` mutex, which `close` and migrations
//! take too, since they checkpoint under the writers' lock). Tables waiting for log records
//! are loaded first, with no lock held.

use std::sync::{Arc, PoisonError};

use crate::engine::load::ensure_loaded;
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::storage::checkpoint::{CommitFailure, Rotate};
use crate::storage::manifest::TableEntry;
use crate::storage::Storage;

impl Engine {
    /// Snapshots every changed table, commits the manifest, archives the log. Does nothing
    /// for an in-memory database. Neither readers nor writers wait while snapshots are
    /// encoded and written.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        self.checkpoint_with(true)
    }

    /// [`Engine::checkpoint`]; with `wait` false it does nothing while another checkpoint
    /// runs (an automatic checkpoint, which that one covers).
    pub(crate) fn checkpoint_with(&self, wait: bool) -> Result<()> {
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
        let _one_at_a_time = if wait {
            self.checkpointing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        } else {
            match self.checkpointing.try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
            }
        };
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
        // Under the writers' lock, for a moment: the log durable, schema files written,
        // waiting tables loaded, and the version to write taken with the log's position.
        let (version, lsn, bytes, records) = {
            let mut head = self.lock_head("(checkpoint)")?;
            self.settle()?;
            let mut next = (**head).clone();
            prepare(storage, &mut next)?;
            self.install(&mut head, next);
            let wal = storage.wal()?;
            let (bytes, records) = wal.size();
            (Arc::clone(&*head), wal.last_lsn(), bytes, records)
        };
        // With no lock: writers commit meanwhile, into the log after `bytes`.
        let written = write_snapshots(storage, &version, lsn, Rotate::Later)?;
        drop(version);
        storage.archive_log_prefix(lsn, bytes)?;
        // Under the writers' lock, for a moment: the log keeps only the records after the
        // checkpoint, and the tables written are clean unless a commit changed them since.
        let mut head = self.lock_head("(checkpoint)")?;
        self.settle()?;
        storage.carry_log_tail(bytes, records)?;
        let mut next = (**head).clone();
        record(&mut next, written);
        self.install(&mut head, next);
        Ok(())
    }
}

/// A checkpoint of `st`, the newest version, with the writers' lock held throughout (a
/// migration's, a close's).
pub(crate) fn checkpoint(storage: &Storage, st: &mut State) -> Result<()> {
    prepare(storage, st)?;
    let lsn = storage.wal()?.last_lsn();
    let written = write_snapshots(storage, st, lsn, Rotate::Now)?;
    record(st, written);
    Ok(())
}

/// Commits a migration of table `idx` to `table` (rebuilt under its new schema) as one
/// durable step, with the writers' lock held: the log made durable and every pending table
/// loaded (before the table changes, so that no schema file of the new schema is written
/// outside this step); then the new schema file staged beside the table's new snapshot,
/// and the manifest naming both written: the commit point. The log is archived whole, so no
/// record under the old schema is replayed under the new one. A crash before the manifest
/// leaves the old table (the open removes the staged files), after it the new one (the open
/// finishes the renames). A failure before the commit changes nothing on disk; `st` is the
/// caller's copy of the state (`Engine::update`), which a failure leaves uninstalled.
pub(crate) fn commit_migration(
    storage: &Storage,
    st: &mut State,
    idx: usize,
    table: crate::table::TableData<crate::record::DynRow>,
    changes: &[String],
) -> Result<()> {
    prepare(storage, st)?;
    let lsn = storage.wal()?.last_lsn();
    // The schema file the new one replaces: the one the manifest names, if it names one.
    let from = st.meta[idx]
        .schema_on_disk
        .then(|| st.meta[idx].schema_crc32c.clone());
    let mut migrations = st.meta[idx].migrations.clone();
    migrations.extend(changes.iter().map(|c| crate::storage::Migration {
        lsn,
        change: c.clone(),
        from_schema_crc32c: from.clone(),
    }));
    let schema = table.schema.clone();
    let crc = storage.stage_schema(&schema, &migrations)?;
    st.tables[idx] = Arc::new(table);
    let meta = st.meta_mut(idx);
    meta.schema_crc32c = crc;
    meta.schema_on_disk = true;
    meta.migrations = migrations;
    meta.dirty = true;
    match write_snapshots_reporting(storage, st, lsn, Rotate::Now, &[]) {
        Ok(written) => record(st, written),
        Err(CommitFailure {
            error,
            committed: false,
        }) => {
            storage.discard_staged_schema(&schema.table);
            return Err(*error);
        }
        Err(CommitFailure {
            error,
            committed: true,
        }) => {
            // The manifest naming the new schema may be on disk, or not (a directory sync
            // failed). Which table the directory holds is settled by the next open, which
            // finishes the staged schema file or removes it: until then nothing more is
            // written, so nothing lands under the wrong schema.
            let what = format!("the migration of table {}", schema.table);
            return Err(poison_after_commit(storage, &what, *error));
        }
    }
    // Committed: a failure to rename is finished by the next open. Until then the staged
    // file is the schema the manifest names, which the next migration of the table would
    // stage its own over: nothing more is written.
    if let Err(e) = storage.finish_staged_schema(&schema.table) {
        let what = format!("the migration of table {}", schema.table);
        return Err(poison_after_commit(storage, &what, e));
    }
    Ok(())
}

/// Commits the drop of tables `names` (already dropped from `st`, the caller's copy of the
/// state, with the writers' lock held) as one durable step: a checkpoint whose manifest no
/// longer lists the tables and names them among the dropped, the commit point; the log is
/// archived whole, so no record of them is replayed. Then the tables' files are
/// removed; if that fails, every open removes them (see `recover`), so a leftover schema
/// file never brings a table back. A failure before the commit changes nothing on disk.
pub(crate) fn commit_drop(storage: &Storage, st: &mut State, names: &[String]) -> Result<()> {
    prepare(storage, st)?;
    let lsn = storage.wal()?.last_lsn();
    match write_snapshots_reporting(storage, st, lsn, Rotate::Now, names) {
        Ok(written) => record(st, written),
        Err(CommitFailure {
            error,
            committed: false,
        }) => return Err(*error),
        // The manifest without the tables may be on disk, or not: the next open settles
        // which; until then nothing more is written.
        Err(CommitFailure {
            error,
            committed: true,
        }) => {
            let what = format!("dropping table {}", names.join(", "));
            return Err(poison_after_commit(storage, &what, *error));
        }
    }
    for name in names {
        if let Err(e) = storage.remove_dropped_files(name) {
            tracing::warn!(table = %name, error = %e,
                "table dropped; its files are removed at the next open");
        }
    }
    Ok(())
}

/// A step that failed after its commit point (`what` failed with `error`): the manifest may
/// be the new one or the old, which the next open settles; the log refuses every write until
/// then. Returns `error`.
fn poison_after_commit(storage: &Storage, what: &str, error: Error) -> Error {
    if let Ok(wal) = storage.wal() {
        wal.poison(format!(
            "{what} failed after its commit point ({error}); reopen the database to finish \
             or undo it"
        ));
    }
    error
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

/// Encodes and stages every changed table's snapshot of `st` (the version as of `lsn`, every
/// commit in it durable), then commits the manifest, and with `Rotate::Now` archives the
/// log (the caller holds the writers' lock then, so the log ends at `lsn`).
///
/// A failure after the commit point poisons the log: the manifest on disk may name
/// snapshots still in their temporary files, which the next open renames into place. A
/// later checkpoint would stage its own snapshots in those same files (or remove them when
/// it failed), leaving the manifest naming a snapshot that no longer exists.
fn write_snapshots(
    storage: &Storage,
    st: &State,
    lsn: u64,
    rotate: Rotate,
) -> Result<Vec<Written>> {
    write_snapshots_reporting(storage, st, lsn, rotate, &[]).map_err(|f| match f.committed {
        false => *f.error,
        true => poison_after_commit(storage, "a checkpoint", *f.error),
    })
}

/// [`write_snapshots`], saying on failure whether the manifest was replaced.
fn write_snapshots_reporting(
    storage: &Storage,
    st: &State,
    lsn: u64,
    rotate: Rotate,
    dropping: &[String],
) -> std::result::Result<Vec<Written>, CommitFailure> {
    let not_committed = |error: Error| CommitFailure {
        error: Box::new(error),
        committed: false,
    };
    refuse_uncommitted(st).map_err(not_committed)?;
    let mut manifest = storage
        .manifest
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for name in dropping {
        manifest.tables.remove(name);
        manifest.dropped.insert(name.clone());
    }
    let mut staged = Vec::new();
    let mut written = Vec::new();
    for idx in st.live() {
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
                meta.created_lsn,
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
                return Err(not_committed(e));
            }
        }
    }
    for idx in st.live() {
        // Clean tables keep their entry; a migration may have changed their schema file.
        let name = st.tables[idx].schema().table.clone();
        if let Some(e) = manifest.tables.get_mut(&name) {
            e.schema_crc32c = st.meta[idx].schema_crc32c.clone();
        }
    }
    // A name a table has again is that table's: its files are no longer to be removed.
    let tables = &manifest.tables;
    manifest.dropped.retain(|name| !tables.contains_key(name));
    manifest.lsn = lsn;
    storage.commit_checkpoint(manifest.clone(), &staged, rotate)?;
    tracing::info!(lsn = manifest.lsn, "checkpoint complete");
    Ok(written)
}

/// Under the writers' lock: each written table's new entry; it is clean again unless a commit
/// changed it after it was encoded (then the next checkpoint writes it again).
fn record(st: &mut State, written: Vec<Written>) {
    for w in written {
        let meta = st.meta_mut(w.idx);
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
    if st.live().all(|idx| st.meta[idx].schema_on_disk) {
        return Ok(());
    }
    storage.wal()?.sync_all(&storage.layout.wal())?;
    for idx in st.live().collect::<Vec<_>>() {
        if st.meta[idx].schema_on_disk {
            continue;
        }
        let schema = st.tables[idx].schema().clone();
        let crc = storage.write_schema(&schema, &st.meta[idx].migrations)?;
        let meta = st.meta_mut(idx);
        meta.schema_crc32c = crc;
        meta.schema_on_disk = true;
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
            created_lsn: 0,
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
        st.push_dyn(schema.clone(), TableMeta::created()).unwrap();
        st.push_dyn(
            Schema::new("u", schema.columns.clone()).unwrap(),
            TableMeta::created(),
        )
        .unwrap();
        st.meta_mut(0).commits = 3;
        st.meta_mut(1).commits = 3;
        let written = |idx| Written {
            idx,
            commits: 3,
            entry: entry(7),
        };
        st.meta_mut(1).commits += 1; // committed after it was encoded
        record(&mut st, vec![written(0), written(1)]);
        assert!(!st.meta[0].dirty);
        assert!(st.meta[1].dirty);
        assert_eq!(st.meta[1].entry.as_ref().map(|e| e.rows), Some(7));
    }
}
