//! The engine: the shared state of one database (its tables, as versions) and, for a
//! database directory, its storage. It owns everything that changes state: loading tables,
//! running write transactions and committing them (foreign keys, the log, memory),
//! attaching and migrating tables, checkpoints, export and import. It knows nothing of
//! handles: the layers above reach it through [`Engine`]'s methods and the traits in
//! [`source`].
//!
//! The state is kept as immutable versions (see [`state::State`] and `docs/ARCHITECTURE.md`,
//! "Versions"). Readers take the newest *published* version (the newest durable one) and
//! work on it with no lock: they never wait for a writer, a commit's fsync or a
//! checkpoint. Writers are serialised by the `head` mutex, which holds the newest committed
//! version, durable or not: a write transaction changes a private copy of it and makes the
//! copy the new head at commit; the copy is published once its log line is durable.

pub(crate) mod any_table;
mod attach;
mod checkpoint;
mod drop_table;
mod exchange;
mod foreign_keys;
pub(crate) mod load;
pub(crate) mod migration;
mod reclaim;
pub(crate) mod source;
pub(crate) mod state;
mod stats;
pub(crate) mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, TryLockError, Weak};

use crate::engine::source::{writing, Source, StateRef};
use crate::engine::state::{State, TableMeta};
use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::fs::FileSystem;
use crate::storage::wal::DroppedRecord;
use crate::storage::{Options, Storage};

pub use stats::{ArchivedSegment, Stats, TableStats};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One database's state and storage, shared by every clone of its `Database` and by every
/// handle on its tables.
pub(crate) struct Engine {
    /// Tells databases apart (handles check they are used with their own).
    pub(crate) id: u64,
    /// The newest durable version: what every read starts from. Held for a pointer copy or
    /// a pointer swap, never longer.
    published: RwLock<Arc<State>>,
    /// The writers' lock, holding the newest committed version (durable or not): the base
    /// of the next write transaction, load, migration or checkpoint.
    head: Mutex<Arc<State>>,
    /// Every version published, while any reader still holds it (for `stats`).
    versions: Mutex<Vec<Weak<State>>>,
    pub(crate) storage: Option<Storage>,
    closed: AtomicBool,
    /// `close` has finished: the lock is released (it is set after `closed`, once the log
    /// is synced and the directory free for another open).
    released: AtomicBool,
    /// Held while a table loads outside the writers' lock ([`Engine::preload`]), and by a
    /// read-only refresh, so that neither installs what the other replaced.
    loading: Mutex<()>,
    /// Tables SQL reads decoded while a writer held the writers' lock, for the next read
    /// to take and install ([`Engine::read_loaded`]).
    staged: Mutex<Vec<load::Staged>>,
    /// Whether `staged` may hold a table: a commit then drops those it has loaded.
    any_staged: AtomicBool,
    /// One checkpoint at a time (a manual one and an automatic one may meet; a close and a
    /// migration, which checkpoint under the writers' lock, take it too).
    checkpointing: Mutex<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Database");
        d.field("id", &self.id);
        if let Some(s) = &self.storage {
            d.field("path", &s.layout.root);
        }
        d.finish_non_exhaustive()
    }
}

impl Engine {
    fn new(state: State, storage: Option<Storage>) -> Arc<Engine> {
        let state = Arc::new(state);
        Arc::new(Engine {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            published: RwLock::new(state.clone()),
            head: Mutex::new(state),
            versions: Mutex::new(Vec::new()),
            storage,
            closed: AtomicBool::new(false),
            released: AtomicBool::new(false),
            loading: Mutex::new(()),
            staged: Mutex::new(Vec::new()),
            any_staged: AtomicBool::new(false),
            checkpointing: Mutex::new(()),
        })
    }

    /// A database with no files at all.
    pub(crate) fn in_memory() -> Arc<Engine> {
        Engine::new(State::default(), None)
    }

    /// Opens a directory: the lock, the manifest, the schemas and the log are read now;
    /// table data waits until a table is first used.
    pub(crate) fn open(
        fs: Arc<dyn FileSystem>,
        root: &Path,
        options: Options,
    ) -> Result<Arc<Engine>> {
        let (storage, recovered) = Storage::open(fs, root, options)?;
        let needs_checkpoint = storage.needs_checkpoint;
        let engine = Engine::new(state_of(recovered)?, Some(storage));
        if needs_checkpoint {
            // Salvage dropped a damaged record in the middle of the log: write what was kept
            // as snapshots and start a clean log, so the directory is consistent again.
            engine.checkpoint()?;
        }
        Ok(engine)
    }

    /// Opens a directory read-only, beside a process that may be writing it (see
    /// [`Storage::open_read_only`]): every table's files are read as of one consistent point
    /// now; rows are decoded when a table is first used.
    pub(crate) fn open_read_only(
        fs: Arc<dyn FileSystem>,
        root: &Path,
        options: Options,
    ) -> Result<Arc<Engine>> {
        let (storage, recovered) = Storage::open_read_only(fs, root, options)?;
        Ok(Engine::new(state_of(recovered)?, Some(storage)))
    }

    /// A read-only database catches up with the directory: everything is read again as of a
    /// new consistent point and replaces what this database shows at once (tables keep their
    /// positions, so handles stay valid; a table used through a Rust type is loaded again
    /// as that type). A writable or in-memory database is always current: nothing to do.
    /// On error nothing changes.
    pub(crate) fn refresh(&self) -> Result<()> {
        // Before the loader mutex: a call that would wait for itself fails first.
        self.refuse_in_transaction("(refresh)")?;
        self.check_open()?;
        let Some(storage) = self.read_only_storage() else {
            return Ok(());
        };
        let _no_load = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
        // What this database shows now: each table's schema, whether it is loaded, and the
        // Rust type of a typed one (the published version; loads wait for `loading`).
        let shown: Vec<(Arc<Schema>, bool, bool, u64)> = {
            let st = self.read_state("(refresh)")?;
            st.tables
                .iter()
                .zip(&st.meta)
                .map(|(t, m)| (t.schema().clone(), m.loaded, m.dropped, m.created_lsn))
                .collect()
        };
        let (fresh, recovered) = Storage::open_read_only(
            storage.fs.clone(),
            &storage.layout.root,
            storage.options.clone(),
        )?;
        let mut next = state_of(recovered)?;
        // Old positions first, so every handle still finds its table, with the schema it
        // has (a handle keeps its table's column names): a table this database loaded (so a
        // typed or dynamic handle may hold its columns) and the writer migrated since needs
        // a new open; a table it never loaded just takes its new schema; a table the writer
        // dropped (and perhaps made again under its name: another creation) keeps its
        // position as a dropped one. Tables created since come after them.
        let mut order: Vec<Result<usize, Arc<Schema>>> = Vec::with_capacity(next.tables.len());
        for (schema, loaded, dropped, created) in &shown {
            match next.by_name.get(&schema.table) {
                Some(&i) if !*dropped && next.meta[i].created_lsn == *created => {
                    if *loaded {
                        migrated_since(schema, next.tables[i].schema())?;
                    }
                    order.push(Ok(i));
                }
                _ => order.push(Err(schema.clone())),
            }
        }
        let new_ones: Vec<usize> = (0..next.tables.len())
            .filter(|i| !order.contains(&Ok(*i)))
            .collect();
        order.extend(new_ones.into_iter().map(Ok));
        let mut tables: Vec<Option<Arc<dyn any_table::AnyTable>>> =
            std::mem::take(&mut next.tables)
                .into_iter()
                .map(Some)
                .collect();
        let mut metas: Vec<Option<Arc<TableMeta>>> = std::mem::take(&mut next.meta)
            .into_iter()
            .map(Some)
            .collect();
        let mut state = State::default();
        for slot in order {
            match slot {
                Ok(i) => {
                    let (Some(t), Some(meta)) = (tables[i].take(), metas[i].take()) else {
                        continue;
                    };
                    let at = state.tables.len();
                    Arc::make_mut(&mut state.by_name).insert(t.schema().table.clone(), at);
                    state.tables.push(t);
                    state.meta.push(meta);
                }
                Err(schema) => state.push_dropped(schema)?,
            }
        }
        // Tables this database had loaded are loaded again now (from the new point), with no
        // lock held; readers go on with the old point meanwhile.
        for (idx, (_, loaded, _, _)) in shown.iter().enumerate() {
            if *loaded {
                load::ensure_loaded(Some(&fresh), &mut state, idx)?;
            }
        }
        let mut head = self.lock_head("(refresh)")?;
        for idx in 0..shown.len().min(head.tables.len()) {
            if !state.meta[idx].loaded && head.meta[idx].loaded {
                // Loaded by a path that does not wait for `loading`: load it now too, unless
                // its schema changed (a handle may hold the old one).
                migrated_since(head.tables[idx].schema(), state.tables[idx].schema())?;
                load::ensure_loaded(Some(&fresh), &mut state, idx)?;
            }
            if head.tables[idx].rust_type().is_some() && !state.is_dropped(idx) {
                let reloaded = head.tables[idx].same_kind_from(&*state.tables[idx])?;
                state.tables[idx] = reloaded;
            }
        }
        storage.replace_with(fresh);
        self.install(&mut head, state);
        Ok(())
    }

    /// The storage of a database opened read-only (`None` for any other database).
    pub(crate) fn read_only_storage(&self) -> Option<&Storage> {
        self.storage.as_ref().filter(|s| s.read_only())
    }

    /// The directory of a persistent database.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.storage.as_ref().map(|s| s.layout.root.as_path())
    }

    /// The log lines recovery dropped when this database was opened.
    pub(crate) fn recovery_report(&self) -> Vec<DroppedRecord> {
        self.storage.as_ref().map_or_else(Vec::new, |s| {
            s.dropped
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }

    #[inline]
    /// Whether `close` has finished (the directory is free to open again).
    pub(crate) fn is_closed(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(self.closed_error());
        }
        Ok(())
    }

    /// Out of line: every read checks for it, few meet it.
    #[cold]
    #[inline(never)]
    fn closed_error(&self) -> Error {
        Error::Closed {
            path: self.path().map_or_else(PathBuf::new, Path::to_path_buf),
        }
    }

    /// The newest published version, for one read (a plain handle call, a query, a read
    /// transaction): a pointer copy, with no wait for any writer. A plain-handle read on a
    /// thread running a transaction of this database sees the version before it.
    #[inline]
    pub(crate) fn read_state(&self, _table: &str) -> Result<Arc<State>> {
        self.check_readable()?;
        let v = self
            .published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // `close` marks the database closed before it publishes the empty version: a read
        // that got that version sees the mark too.
        self.check_open()?;
        Ok(v)
    }

    /// Checks that the database may be read: open, and its log not poisoned.
    #[inline]
    fn check_readable(&self) -> Result<()> {
        self.check_open()?;
        if let Some(wal) = self.storage.as_ref().and_then(|s| s.wal.as_ref()) {
            // After a failed fsync the log's state is unknown until the database is opened
            // again: no read may show a version that the reopened database might contradict.
            if wal.is_poisoned() {
                return Err(poisoned(wal));
            }
        }
        Ok(())
    }

    /// `Error::InTransaction` on a thread running a transaction of this database: for calls
    /// that take another mutex before the writers' lock (a loader waiting for that lock
    /// while holding it would wait for this thread forever).
    pub(crate) fn refuse_in_transaction(&self, table: &str) -> Result<()> {
        if writing(self.id) {
            return Err(Error::InTransaction {
                table: table.to_owned(),
            });
        }
        Ok(())
    }

    /// The writers' lock, with the newest committed version. A thread running a transaction
    /// of this database already holds it: its call is `Error::InTransaction` instead of a
    /// wait for itself. `table` names what it is taken for, in errors.
    pub(crate) fn lock_head(&self, table: &str) -> Result<MutexGuard<'_, Arc<State>>> {
        self.refuse_in_transaction(table)?;
        self.check_open()?;
        let head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
        // `close` may have emptied the state while this call waited for the lock.
        self.check_open()?;
        Ok(head)
    }

    /// Whether a thread other than this one holds one of the engine's locks now (see
    /// `Database::is_locked_elsewhere`). The writers' lock may be this thread's own (a
    /// fork inside a transaction's closure): that one is given back.
    pub(crate) fn is_locked_elsewhere(&self) -> bool {
        fn held<G>(r: std::result::Result<G, TryLockError<G>>) -> bool {
            matches!(r, Err(TryLockError::WouldBlock))
        }
        (held(self.head.try_lock()) && !writing(self.id))
            || held(self.published.try_write())
            || held(self.versions.try_lock())
            || held(self.loading.try_lock())
            || held(self.checkpointing.try_lock())
    }

    /// Runs `f` on a copy of the newest version outside any transaction (loading,
    /// migrating, writing schema files: nothing a log record holds) and installs the result
    /// as the next version. The head is made durable first, so the new version may be
    /// published at once. On error nothing changes.
    pub(crate) fn update<O>(
        &self,
        table: &str,
        f: impl FnOnce(&mut State) -> Result<O>,
    ) -> Result<O> {
        let mut head = self.lock_head(table)?;
        self.settle()?;
        let mut next = (**head).clone();
        let out = f(&mut next)?;
        self.install(&mut head, next);
        Ok(out)
    }

    /// [`Engine::update`] if the writers' lock is free now, publishing a version only if `f`
    /// says it changed the state (`true`): `None`, having done nothing, while a writer holds
    /// the lock (this thread included: its call does not wait for itself).
    pub(crate) fn try_update(&self, f: impl FnOnce(&mut State) -> bool) -> Result<Option<bool>> {
        if writing(self.id) {
            return Ok(None);
        }
        self.check_open()?;
        let mut head = match self.head.try_lock() {
            Ok(head) => head,
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        // `close` may have emptied the state meanwhile, as in `lock_head`.
        self.check_open()?;
        let mut next = (**head).clone();
        if !f(&mut next) {
            return Ok(Some(false));
        }
        self.settle()?;
        self.install(&mut head, next);
        Ok(Some(true))
    }

    /// Makes every commit in the log durable (under `Immediate` durability), so that the
    /// head may be published.
    fn settle(&self) -> Result<()> {
        if let Some((s, wal)) = self
            .storage
            .as_ref()
            .and_then(|s| Some((s, s.wal.as_ref()?)))
        {
            if wal.must_wait() {
                wal.sync_all(&s.layout.wal())?;
            }
        }
        Ok(())
    }

    /// Makes `next` (built from the head, and durable) the head and publishes it.
    fn install(&self, head: &mut MutexGuard<'_, Arc<State>>, next: State) {
        let next = make_head(head, next);
        // A read-only open keeps each table's snapshot bytes until a load of the table is
        // in the published state: a load whose state was thrown away (an update that
        // failed after it) must find them again.
        if let Some(storage) = self.storage.as_ref().filter(|s| s.read_only()) {
            for (t, meta) in next.tables.iter().zip(&next.meta) {
                // A dropped table's place (an empty table, "loaded") has its name, which a
                // table made since may have taken: those bytes are the new table's.
                if meta.loaded && !meta.dropped {
                    storage.loaded(&t.schema().table);
                }
            }
        }
        self.publish(next);
    }

    /// Makes `v` what readers see, unless a newer version is published already (commits
    /// publish in the order their fsyncs end, which may not be their order).
    pub(crate) fn publish(&self, v: Arc<State>) {
        self.publish_replacing(v, usize::MAX);
    }

    /// [`Engine::publish`] of a version `changes` rows apart from the one it replaces
    /// (about): that one is freed on this thread when it holds too little to be worth
    /// waking the reclaiming thread for.
    pub(crate) fn publish_replacing(&self, v: Arc<State>, changes: usize) {
        let weak = Arc::downgrade(&v);
        // Tables SQL reads decoded beside a writer that this version has loaded (the
        // writer loaded them too) are dropped (see `Engine::read_loaded`).
        let unstage = self.any_staged.load(Ordering::Acquire).then(|| v.clone());
        let old = {
            let mut p = self
                .published
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if p.version >= v.version {
                return;
            }
            std::mem::replace(&mut *p, v)
        };
        {
            let mut versions = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
            versions.retain(|w| w.strong_count() > 0);
            versions.push(weak);
        }
        if let Some(v) = unstage {
            self.unstage_loaded(&v);
        }
        // The old version is freed outside the lock, if no reader holds it, and off this
        // thread when it can be.
        reclaim::later(old, changes);
    }

    /// The number of the published version (`None` once the database is closed).
    pub(crate) fn published_version(&self) -> Option<u64> {
        self.read_state("").ok().map(|v| v.version)
    }

    /// The versions readers still hold besides the published one, and the bytes of theirs
    /// that the published version does not share (a node held by two old versions counts
    /// for each).
    pub(crate) fn versions_held(&self) -> (usize, u64) {
        let published = self
            .published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let held: Vec<Arc<State>> = {
            let versions = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
            versions
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|v| v.version != published.version)
                .collect()
        };
        let bytes = held.iter().map(|v| v.bytes_not_in(&published)).sum();
        (held.len(), bytes)
    }

    /// The names of every table, sorted.
    pub(crate) fn table_names(&self) -> Result<Vec<String>> {
        let st = self.read_state("")?;
        let mut names: Vec<String> = st.by_name.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    /// The schema of a table.
    pub(crate) fn schema(&self, table: &str) -> Result<Schema> {
        let st = self.read_state(table)?;
        let idx = st.index_of(table)?;
        Ok((**st.tables[idx].schema()).clone())
    }

    /// The migrations table `table` went through, oldest first.
    pub(crate) fn schema_history(&self, table: &str) -> Result<Vec<migration::SchemaChange>> {
        let st = self.read_state(table)?;
        let idx = st.index_of(table)?;
        Ok(st.meta[idx]
            .migrations
            .iter()
            .map(|m| migration::SchemaChange {
                lsn: m.lsn,
                change: m.change.clone(),
            })
            .collect())
    }

    /// Loads table `name` if needed; its position and schema.
    pub(crate) fn dyn_table(&self, name: &str) -> Result<(usize, Arc<Schema>)> {
        self.preload::<crate::record::DynRow>(name)?;
        {
            let st = self.read_state(name)?;
            let idx = st.index_of(name)?;
            if st.meta[idx].loaded {
                return Ok((idx, st.tables[idx].schema().clone()));
            }
        }
        self.update(name, |st| {
            let idx = st.index_of(name)?;
            load::ensure_loaded(self.storage.as_ref(), st, idx)?;
            Ok((idx, st.tables[idx].schema().clone()))
        })
    }

    /// Checkpoints if anything changed since the last checkpoint, makes every commit durable
    /// and releases the directory's lock; every later call is `Error::Closed`. The rows'
    /// memory is freed once no reader holds a version any more.
    pub(crate) fn close(&self) -> Result<()> {
        // Its checkpoint must not overlap one running with no lock held; the transaction
        // check comes first (a checkpoint holding the mutex may wait for this thread).
        self.refuse_in_transaction("(close)")?;
        let _no_checkpoint = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut head = self.lock_head("(close)")?;
        let checkpoint = match &self.storage {
            Some(s)
                if !s.read_only() && head.meta.iter().any(|m| m.dirty || !m.pending.is_empty()) =>
            {
                let mut next = (**head).clone();
                checkpoint::checkpoint(s, &mut next)
            }
            _ => Ok(()),
        };
        self.closed.store(true, Ordering::Release);
        let closed = match &self.storage {
            Some(s) => s.close(),
            None => Ok(()),
        };
        // Every call now returns `Error::Closed` (the lock holders check after locking), so
        // the rows are unreachable: let them go now, or a closed database whose handles live
        // on (in a server's state, say) would keep all its memory. The head's reference goes
        // first, so that the published one is the last and the rows are freed off this
        // thread (see `reclaim`) unless a reader still holds them.
        let empty = State {
            version: head.version + 1,
            ..State::default()
        };
        drop(std::mem::replace(&mut *head, Arc::new(empty)));
        self.publish(head.clone());
        drop(head);
        // And the tables SQL reads decoded and staged (a read that stages one after this
        // finds the database closed and unstages it).
        self.unstage_where(|_| true);
        self.released.store(true, Ordering::Release);
        checkpoint.and(closed)
    }
}

/// Makes `next`, built from the version in `head`, the next version and the head.
pub(crate) fn make_head(head: &mut MutexGuard<'_, Arc<State>>, mut next: State) -> Arc<State> {
    next.version = head.version + 1;
    let next = Arc::new(next);
    **head = next.clone();
    next
}

/// The state of a directory just opened: every table it has, none loaded yet.
/// Fails if a table's checks do not compile (recovery has checked that they do).
fn state_of(recovered: Vec<crate::storage::recover::RecoveredTable>) -> Result<State> {
    let mut state = State::default();
    for t in recovered {
        let meta = TableMeta {
            loaded: false,
            dirty: t.entry.is_none() || !t.pending.is_empty(),
            pending: Arc::new(t.pending),
            entry: t.entry,
            schema_on_disk: t.schema_on_disk,
            schema_crc32c: t.schema_crc32c,
            migrations: t.migrations,
            commits: 0,
            created_lsn: t.created_lsn,
            dropped: false,
            snapshot_damage: t.snapshot_damage,
        };
        state.push_dyn(t.schema, meta)?;
    }
    Ok(state)
}

/// `Error::SchemaMismatch` if a table this database loaded (`shown`, its schema then) has
/// another schema on disk now (`fresh`): its handles hold the old columns.
fn migrated_since(shown: &Schema, fresh: &Schema) -> Result<()> {
    // "The other schema" in the differences is the one on disk now.
    let diffs = shown.differences(fresh);
    if diffs.is_empty() {
        return Ok(());
    }
    Err(Error::SchemaMismatch {
        table: shown.table.clone(),
        reason: format!(
            "changed on disk since this database loaded it ({}); its handles hold the old \
             columns: open the database again to see the new schema",
            diffs.join("; ")
        ),
    })
}

/// The error of a read from a poisoned log. Out of line, as [`Engine::closed_error`].
#[cold]
#[inline(never)]
fn poisoned(wal: &crate::storage::wal::writer::WalWriter) -> Error {
    Error::Poisoned {
        // Never empty: the log stores its reason before it raises the flag, under the
        // mutex `failure` takes.
        reason: wal.failure().unwrap_or_default(),
    }
}

/// A plain handle reads the newest published version, one call at a time.
impl Source for Engine {
    #[inline]
    fn state(&self, table: &str) -> Result<StateRef<'_>> {
        self.read_state(table).map(StateRef::Version)
    }
}
