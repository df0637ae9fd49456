//! Write transactions. One at a time holds the writers' lock, from its first statement to
//! its commit, and changes a private copy of the newest version (readers go on with the
//! published one); every statement is journalled, so a statement rolls back exactly, and a
//! transaction that fails simply drops its copy. A commit enforces foreign keys, appends the
//! transaction's one log line (its changes, and the creation of every table it created),
//! and makes the copy the newest version; it is published to readers once its line is
//! durable (at once for `Buffered` durability and in memory). With `Immediate` durability
//! the commit returns once the line is on stable storage. A table created in a transaction
//! exists only if it commits.

use std::cell::{RefCell, RefMut};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, MutexGuard};

use crate::engine::source::{reentrant, reentrant_mut, LockMark, Source, StateRef, TxCore};
use crate::engine::state::State;
use crate::engine::{checkpoint, foreign_keys, load, make_head, Engine};
use crate::error::Result;
use crate::storage::wal::line::RecordWriter;
use crate::storage::wal::writer::Committer;
use crate::storage::wal::Durability;
use crate::table::Mark;
use crate::value::Value;

/// A write transaction in progress: the state, held, and what it has written. Begun by
/// [`Engine::begin`] and ended by [`Engine::finish`] (or both through [`Engine::write`]).
pub(crate) struct WriteTx<'e> {
    engine: &'e Engine,
    /// The transaction's copy of the newest version, its writes included.
    state: RefCell<State>,
    /// Whether the copy differs from the version it was taken from (a write, a creation, a
    /// table loaded).
    changed: std::cell::Cell<bool>,
    // Fields drop in order: the lock first, then this thread's mark of holding it, then the
    // count of transactions under way (an fsync leader may be waiting for it to fall).
    head: RefCell<MutexGuard<'e, Arc<State>>>,
    /// The number of the version this transaction started from.
    base_version: u64,
    _mark: LockMark,
    _committer: Option<Committer<'e>>,
    /// The first mark of every table written, in the order first written.
    marks: RefCell<Vec<(usize, Mark)>>,
    /// Tables this transaction created, in order (they are the last in the state).
    created: RefCell<Vec<usize>>,
    /// Rows a cascade deleted, (table, key), with the row whose deletion it followed: for
    /// a `restrict` refusal's words (see `foreign_keys::cascade_origin`).
    cascaded: RefCell<hashbrown::HashMap<(usize, Value), (usize, Value)>>,
}

/// What a commit did: the log record's LSN (if it wrote one), whether it created tables,
/// and the version it made (`None` if it changed nothing).
struct Committed {
    lsn: Option<u64>,
    created: bool,
    version: Option<Arc<State>>,
    /// The changes committed (undo journal entries), which tell how much of the version
    /// it replaces is not shared with it.
    changes: usize,
}

impl WriteTx<'_> {
    /// The names of the tables the transaction sees, its own creations included (none
    /// while a statement holds its state: this is for error messages).
    pub(crate) fn table_names(&self) -> Vec<String> {
        self.state
            .try_borrow()
            .map(|st| st.by_name.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl Source for WriteTx<'_> {
    fn state(&self, _table: &str) -> Result<StateRef<'_>> {
        let st = self.state.try_borrow().map_err(reentrant)?;
        Ok(StateRef::InTransaction(st))
    }
}

impl TxCore for WriteTx<'_> {
    fn state_mut(&self) -> Result<RefMut<'_, State>> {
        self.state.try_borrow_mut().map_err(reentrant_mut)
    }
    fn touch(&self, idx: usize, mark: Mark) {
        self.changed.set(true);
        let mut marks = self.marks.borrow_mut();
        if !marks.iter().any(|(i, _)| *i == idx) {
            marks.push((idx, mark));
        }
    }

    fn delete_actions_of_step(
        &self,
        idx: usize,
        mark: Mark,
        changed: &mut Vec<(usize, Mark)>,
    ) -> Result<()> {
        foreign_keys::act_now(self, idx, mark, changed)
    }
}

impl std::fmt::Debug for WriteTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("tables_written", &self.marks.borrow().len())
            .finish_non_exhaustive()
    }
}

impl<'e> WriteTx<'e> {
    /// The engine this transaction writes to.
    pub(crate) fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// Notes that a cascade deleted row `key` of table `idx` after row `from` was deleted.
    pub(crate) fn note_cascade(&self, idx: usize, key: Value, from: (usize, Value)) {
        self.cascaded.borrow_mut().insert((idx, key), from);
    }

    /// The row whose deletion a cascade followed to delete row `key` of table `idx`, if
    /// one did.
    pub(crate) fn cascaded_from(&self, idx: usize, key: &Value) -> Option<(usize, Value)> {
        self.cascaded.borrow().get(&(idx, key.clone())).cloned()
    }

    /// The tables written so far, with their first marks.
    pub(crate) fn marks(&self) -> Vec<(usize, Mark)> {
        self.marks.borrow().clone()
    }

    /// Loads table `idx` if it is not yet in memory (its committed rows; not a change).
    pub(crate) fn load(&self, idx: usize) -> Result<()> {
        self.changed.set(true);
        load::ensure_loaded(self.engine.storage.as_ref(), &mut *self.state_mut()?, idx)
    }

    /// Records that this transaction's copy of the state differs from the version it was
    /// taken from in something other than a statement's writes (a table loaded or attached
    /// to its type): committing it makes a new version.
    pub(crate) fn note_changed(&self) {
        self.changed.set(true);
    }

    /// Records that table `idx` was created by this transaction.
    pub(crate) fn note_created(&self, idx: usize) {
        self.changed.set(true);
        self.created.borrow_mut().push(idx);
    }

    /// Drops everything written in this transaction: its copy of the state goes, and the
    /// newest version stays as it was.
    fn rollback(&self) {
        self.marks.borrow_mut().clear();
        self.created.borrow_mut().clear();
        if let Ok(mut st) = self.state.try_borrow_mut() {
            *st = State::default();
        }
        self.changed.set(false);
    }

    /// Commits: foreign keys, then one log record (if there is a log and anything to log),
    /// then memory. On error nothing is committed and the caller rolls back.
    fn commit(&self) -> Result<Committed> {
        foreign_keys::enforce(self)?;
        let written: Vec<usize> = self.marks.borrow().iter().map(|(i, _)| *i).collect();
        let created = self.created.borrow().clone();
        let mut st = self.state.borrow_mut();
        let mut lsn = None;
        if let Some(storage) = &self.engine.storage {
            // A created table's entry carries its schema, with or without rows.
            let mut parts: Vec<(usize, bool)> = created.iter().map(|&idx| (idx, true)).collect();
            parts.extend(
                written
                    .iter()
                    .filter(|&&idx| !created.contains(&idx) && st.tables[idx].has_changes())
                    .map(|&idx| (idx, false)),
            );
            if !parts.is_empty() {
                let wal_path = storage.layout.wal();
                let tables = &st.tables;
                // Rows are encoded straight into the log line, one at a time: a big
                // transaction costs its line, not a second copy of its rows as values.
                let n = storage.wal()?.append(&wal_path, |lsn, line| {
                    let mut record = RecordWriter::new(lsn, line);
                    for &(idx, create) in &parts {
                        tables[idx].log_changes(create, &mut record)?;
                    }
                    record.finish();
                    Ok(())
                })?;
                for &(idx, create) in &parts {
                    let meta = st.meta_mut(idx);
                    meta.dirty = true;
                    meta.commits += 1;
                    if create {
                        meta.created_lsn = n;
                    }
                }
                lsn = Some(n);
            }
        }
        let mut changes = 0;
        for idx in written.into_iter().chain(created.iter().copied()) {
            changes += st.tables.get(idx).map_or(0, |t| t.pending_changes());
            match st.table_mut(idx) {
                Ok(t) => t.commit(),
                Err(e) => {
                    // The log has the line already: rolling memory back under it would
                    // bring the transaction back at the next open. Nothing more is
                    // written until then.
                    if let (Some(n), Some(storage)) = (lsn, &self.engine.storage) {
                        if let Ok(wal) = storage.wal() {
                            wal.poison(format!(
                                "a commit logged as record {n} could not be applied in memory: {e}"
                            ));
                        }
                    }
                    return Err(e);
                }
            }
        }
        // Committed: a later rollback (there is none) must not remove them.
        self.created.borrow_mut().clear();
        let version = if self.changed.get() {
            let next = std::mem::take(&mut *st);
            Some(make_head(&mut self.head.borrow_mut(), next))
        } else {
            None
        };
        Ok(Committed {
            lsn,
            created: !created.is_empty(),
            version,
            changes,
        })
    }
}

impl Engine {
    /// Begins a write transaction: waits for the writers' lock. `table` names what the
    /// transaction is for, in errors.
    pub(crate) fn begin(&self, table: &str) -> Result<WriteTx<'_>> {
        if let Some(s) = self.read_only_storage() {
            return Err(s.refuse(format!("write table {table}")));
        }
        // Counted from before the lock is taken, so an fsync leader can wait for this commit.
        let committer = self
            .storage
            .as_ref()
            .and_then(|s| s.wal.as_ref())
            .map(|w| w.committer());
        let head = self.lock_head(table)?;
        Ok(WriteTx {
            engine: self,
            base_version: head.version,
            state: RefCell::new((**head).clone()),
            changed: std::cell::Cell::new(false),
            head: RefCell::new(head),
            _mark: LockMark::writing(self.id),
            _committer: committer,
            marks: RefCell::new(Vec::new()),
            created: RefCell::new(Vec::new()),
            cascaded: RefCell::default(),
        })
    }

    /// Ends a transaction begun by [`Engine::begin`]: if the work done in it (`outcome`)
    /// returned `Ok`, everything it wrote commits at once; if it returned `Err` or panicked,
    /// nothing it wrote remains (a panic goes on unwinding after the rollback). With
    /// `Immediate` durability a commit returns once its log line is on stable storage.
    pub(crate) fn finish<O>(
        &self,
        tx: WriteTx<'_>,
        outcome: std::thread::Result<Result<O>>,
    ) -> Result<O> {
        // The commit runs user code too (a json column's `Serialize` while the log line is
        // encoded): a panic there rolls back like one in the transaction's body. It cannot
        // come after the line is queued, the last step that can fail.
        let outcome = match outcome {
            Ok(Ok(out)) => {
                catch_unwind(AssertUnwindSafe(|| tx.commit())).map(|c| c.map(|c| (out, c)))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(panic) => Err(panic),
        };
        let base_version = tx.base_version;
        let result = match outcome {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => {
                tx.rollback();
                Err(e)
            }
            Err(panic) => {
                tx.rollback();
                drop(tx);
                // What the transaction read may hold commits whose fsync is still running:
                // nothing it tells its caller (a panic message) may come before they are
                // durable. A failed wait leaves the log poisoned; the panic goes on anyway.
                let _ = self.wait_until_published(base_version);
                resume_unwind(panic);
            }
        };
        // Other transactions may start: a commit's fsync waits outside the lock, shared with
        // theirs (group commit).
        drop(tx);
        let (out, committed) = match result {
            Ok(done) => done,
            Err(e) => {
                // An error may name what the transaction read (a unique value taken by a
                // commit still waiting for its fsync): it is returned once that is durable.
                self.wait_until_published(base_version)?;
                return Err(e);
            }
        };
        let Some(version) = committed.version else {
            // Nothing changed, but what the transaction read may hold commits whose fsync is
            // still running: it returns once they are durable, as a reader would see them.
            self.wait_until_published(base_version)?;
            return Ok(out);
        };
        if let Some(storage) = &self.storage {
            let wal = storage.wal()?;
            if wal.durability == Durability::Immediate {
                // Everything in this version is in the log up to here: a transaction that
                // wrote no line (it only loaded a table) waits for the commits before it.
                let lsn = committed.lsn.unwrap_or_else(|| wal.last_lsn());
                wal.wait_durable(&storage.layout.wal(), lsn, true)?;
            }
        }
        self.publish_replacing(version, committed.changes);
        if let (Some(_), Some(_)) = (committed.lsn, &self.storage) {
            if committed.created {
                self.write_new_schema_files();
            }
            self.maybe_auto_checkpoint();
        }
        Ok(out)
    }

    /// Waits until the commits of version `v` are durable (under `Immediate` durability).
    fn wait_until_published(&self, v: u64) -> Result<()> {
        let published = self.published_version().is_some_and(|p| p >= v);
        if published {
            return Ok(());
        }
        if let Some(storage) = &self.storage {
            let wal = storage.wal()?;
            if wal.durability == Durability::Immediate {
                wal.sync_all(&storage.layout.wal())?;
            }
        }
        Ok(())
    }

    /// Runs `f` as one write transaction (see [`Engine::finish`]).
    pub(crate) fn write<O>(
        &self,
        table: &str,
        f: impl FnOnce(&WriteTx<'_>) -> Result<O>,
    ) -> Result<O> {
        let tx = self.begin(table)?;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&tx)));
        self.finish(tx, outcome)
    }

    /// Writes the schema file of every table whose creation has committed. A creation
    /// commits with its transaction's log line, and the file follows only once the log is
    /// durable (synced under the writers' lock, so a creation another thread commits meanwhile
    /// is covered too): a file for a creation that a crash undid would bring the table back. The
    /// commit stands whatever happens here, so a failure is logged, and the next checkpoint
    /// (which writes missing schema files first) tries again.
    fn write_new_schema_files(&self) {
        let Some(storage) = &self.storage else {
            return;
        };
        let written = self.update("(schema files)", |st| {
            checkpoint::write_schema_files(storage, st)
        });
        if let Err(e) = written {
            tracing::warn!(error = %e, "a new table's schema file was not written; the next checkpoint writes it");
        }
    }

    /// Checkpoints when the log has grown past the configured size. The commit that called
    /// it stands whatever happens here, so a failure is logged; the next commit tries again.
    fn maybe_auto_checkpoint(&self) {
        let Some(storage) = &self.storage else {
            return;
        };
        let Some(limit) = storage.options.auto_checkpoint_bytes else {
            return;
        };
        if storage.log_position().0 < limit {
            return;
        }
        if let Err(e) = self.checkpoint_with(false) {
            tracing::warn!(error = %e, "automatic checkpoint failed; the next commit tries again");
        }
    }
}
