//! Loading a table the first time it is used: its snapshot (verified against the manifest),
//! then the log records waiting for it. Loading is not a change: a table's committed rows
//! move from disk into memory, and nothing is written.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, PoisonError};

use crate::engine::any_table::AnyTable;
use crate::engine::source::writing;
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::record::{DynRow, Record};
use crate::schema::Schema;
use crate::storage::manifest::TableEntry;
use crate::storage::wal::decode::decode_ops;
use crate::storage::wal::line::RawTableOps;
use crate::storage::wal::Recovery;
use crate::storage::Storage;
use crate::table::TableData;

/// A table a read decoded while a writer held the lock (see [`Engine::read_loaded`]), kept
/// for the next read of the same table as of the same files.
pub(crate) struct Staged {
    key: StagedKey,
    /// The table once decoded (`None` if the decode failed); readers of the same table
    /// wait for it rather than decode it too.
    cell: Arc<OnceLock<Option<Arc<dyn AnyTable>>>>,
}

/// What a decoded table was decoded from: its schema, its snapshot's manifest entry and
/// the log records replayed onto it.
#[derive(Clone)]
struct StagedKey {
    idx: usize,
    schema: Arc<Schema>,
    entry: Option<TableEntry>,
    pending: Arc<Vec<(u64, RawTableOps)>>,
}

impl StagedKey {
    /// Table `idx` of `st`, not loaded, as a key.
    fn of(st: &State, idx: usize) -> StagedKey {
        StagedKey {
            idx,
            schema: st.tables[idx].schema().clone(),
            entry: st.meta[idx].entry.clone(),
            pending: st.meta[idx].pending.clone(),
        }
    }

    /// The same table decoded from the same files.
    fn is(&self, other: &StagedKey) -> bool {
        self.idx == other.idx
            && Arc::ptr_eq(&self.schema, &other.schema)
            && Arc::ptr_eq(&self.pending, &other.pending)
            && self.entry == other.entry
    }
}

/// A staged table's cell while its reader decodes it: set to `None` when dropped unset (a
/// decode that panicked), so that the readers waiting for it go on.
struct Decoding<'c>(&'c OnceLock<Option<Arc<dyn AnyTable>>>);

impl Drop for Decoding<'_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}

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
    st.tables[idx] = Arc::new(t);
    st.meta_mut(idx).loaded = true;
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
    st.tables[idx] = Arc::new(t);
    st.meta_mut(idx).loaded = true;
    Ok(true)
}

/// Reads table `idx` from disk into rows of kind `R`: the snapshot, then the log records
/// waiting for it.
fn load<R: Record>(storage: Option<&Storage>, st: &mut State, idx: usize) -> Result<TableData<R>> {
    let schema = st.tables[idx].schema().clone();
    let Some(storage) = storage else {
        return TableData::<R>::new(schema);
    };
    let meta = st.meta_mut(idx);
    let (t, salvaged) = decode::<R>(storage, &schema, meta.entry.as_ref(), &meta.pending)?;
    meta.pending = Arc::default();
    meta.dirty |= salvaged;
    Ok(t)
}

/// Decodes a table from its snapshot and the log records waiting for it (`pending`), with no
/// lock held. True with the table when salvage mode dropped rows: the next checkpoint must
/// rewrite it.
pub(crate) fn decode<R: Record>(
    storage: &Storage,
    schema: &Arc<Schema>,
    entry: Option<&TableEntry>,
    pending: &[(u64, RawTableOps)],
) -> Result<(TableData<R>, bool)> {
    let mut t = TableData::<R>::new(schema.clone())?;
    let snapshot_path = storage.layout.records(&schema.table);
    let started = std::time::Instant::now();
    let n;
    let mut salvaged = false;
    if storage.options.recovery == Recovery::Salvage && entry.is_some() {
        // Keep every readable row that fits the table's constraints; report the rest, and
        // rewrite the snapshot at the next checkpoint.
        let rows = storage.salvage_snapshot(schema);
        n = rows.len() as u64;
        for (line, values) in rows {
            let r = R::from_row(schema, values).and_then(|row| t.insert(row));
            if let Err(e) = r {
                storage.report(&snapshot_path, line, e.to_string());
            }
        }
        t.commit();
        salvaged = true;
    } else {
        // Rows are converted to their type as they are parsed, on the parser threads, and
        // put in the table as they come, while the rest are parsed.
        let convert = |values| R::from_row(schema, values).map_err(|e| e.to_string());
        let refused = |e: Error| Error::corrupt(&snapshot_path, 0, e.to_string());
        // At most a row per 3 bytes (`{}` and its newline): the manifest's count cannot
        // make room for more rows than its snapshot can hold.
        let expected = entry.map_or(0, |e| e.rows.min(e.snapshot_bytes / 3));
        let mut loader = t.loader(usize::try_from(expected).unwrap_or(0));
        let mut each = |rows| loader.add(rows).map_err(refused);
        n = storage.load_snapshot(schema, entry, &convert, &mut each)?;
        loader.finish().map_err(refused)?;
    }
    if let Some(e) = entry {
        t.bump_next_key(e.next_key);
    }
    let wal_path = storage.layout.wal();
    for (line, ops) in pending {
        let changes = decode_ops(&wal_path, *line, schema, ops)?;
        t.apply_changes(&changes.deletes, changes.puts)
            .map_err(|e| Error::corrupt(&wal_path, *line, e.to_string()))?;
        if let Some(k) = ops.next_key {
            t.bump_next_key(k);
        }
    }
    tracing::debug!(table = %schema.table, snapshot_rows = n, rows = t.len(),
        elapsed = ?started.elapsed(), "loaded table");
    Ok((t, salvaged))
}

impl Engine {
    /// `pinned` (a SQL statement's version) with table `name` in memory, for a read that
    /// never waits for a writer. If the published version has the table loaded, that one
    /// (the statement moves to it, as before). Otherwise the table is decoded as `pinned`
    /// has it, with no lock held, or taken from [`Engine::staged`] where an earlier read
    /// left it; installed and published if the writers' lock is free now, else staged for
    /// the next read; and the read gets `pinned` with the table in it, a version of its own
    /// that nobody else sees. Nothing here waits: a writer may hold the lock for a whole
    /// transaction, on another thread or on this one (a read in its callback).
    ///
    /// A read-only database (whose refresh replaces the files a load reads) and a salvaging
    /// open (whose decode reports what it drops) load the usual way, with
    /// [`Engine::dyn_table`]: no writer holds their lock for long.
    pub(crate) fn read_loaded(&self, name: &str, pinned: &Arc<State>) -> Result<Arc<State>> {
        let idx = pinned.index_of(name)?;
        let Some(storage) = self.storage.as_ref() else {
            return Ok(pinned.clone());
        };
        if pinned.meta[idx].loaded {
            return Ok(pinned.clone());
        }
        if storage.read_only() || storage.options.recovery == Recovery::Salvage {
            self.dyn_table(name)?;
            return self.read_state(name);
        }
        let now = self.read_state(name)?;
        if now.index_of(name).is_ok_and(|i| now.meta[i].loaded) {
            self.unstage_loaded(&now);
            return Ok(now);
        }
        let key = StagedKey::of(pinned, idx);
        // The table as another read decoded it (or is decoding it: waited for, a decode
        // and not a writer), or a cell this read decodes into for the others.
        let (cell, mine, stale) = {
            let mut staged = self.staged();
            match staged.iter().find(|s| s.key.is(&key)) {
                Some(s) => (s.cell.clone(), false, Vec::new()),
                None => {
                    let cell = Arc::new(OnceLock::new());
                    let (stale, kept) = std::mem::take(&mut *staged)
                        .into_iter()
                        .partition(|s| s.key.idx == idx);
                    *staged = kept;
                    staged.push(Staged {
                        key: key.clone(),
                        cell: cell.clone(),
                    });
                    self.any_staged.store(true, Ordering::Release);
                    (cell, true, stale)
                }
            }
        };
        // Freed with no lock held.
        drop::<Vec<Staged>>(stale);
        if mine {
            // Set even if the decode panics, so that no reader waits for ever.
            let decoding = Decoding(&cell);
            // With the loaders' mutex when it is free (a checkpoint loads under it); never
            // waiting for it: a loader holding it may be waiting for the writers' lock.
            let _one_at_a_time = self.loading.try_lock().ok();
            let decoded = decode::<DynRow>(storage, &key.schema, key.entry.as_ref(), &key.pending);
            let _ = decoding
                .0
                .set(decoded.ok().map(|(t, _)| Arc::new(t) as Arc<dyn AnyTable>));
        }
        let table = match cell.wait().clone() {
            Some(t) => t,
            None => {
                self.unstage(&key);
                if writing(self.id) {
                    // This thread's transaction holds the lock (no drop or migration can
                    // run): the error is the files'.
                    let (t, _) =
                        decode::<DynRow>(storage, &key.schema, key.entry.as_ref(), &key.pending)?;
                    Arc::new(t)
                } else {
                    // The files moved on since `pinned` (a drop, a migration or a
                    // checkpoint replaced them), or they are damaged: the usual load, which
                    // waits for the writer doing that and reads what is there then (or
                    // reports the damage).
                    self.dyn_table(name)?;
                    return self.read_state(name);
                }
            }
        };
        let installed = self.try_update(|head| {
            let Ok(i) = head.index_of(name) else {
                return false;
            };
            // Loaded meanwhile (by a write under the lock, or another read), or not the
            // table decoded (its files or schema changed since): left as it is.
            if i != idx || head.meta[i].loaded || !key.is(&StagedKey::of(head, i)) {
                return false;
            }
            let meta = head.meta_mut(i);
            meta.loaded = true;
            meta.pending = Arc::default();
            head.tables[i] = table.clone();
            true
        });
        let installed = match installed {
            Ok(installed) => installed,
            Err(e) => {
                // Closed (or a log that would not sync): nothing will install it.
                self.unstage(&key);
                return Err(e);
            }
        };
        if installed.is_some() || self.is_closed() {
            // Taken, or found loaded or changed by the head: no read will want it staged.
            self.unstage(&key);
        }
        let mut own = (**pinned).clone();
        own.tables[idx] = table;
        let meta = own.meta_mut(idx);
        meta.loaded = true;
        meta.pending = Arc::default();
        Ok(Arc::new(own))
    }

    /// Forgets the staged table of `key`.
    fn unstage(&self, key: &StagedKey) {
        self.unstage_where(|s| s.key.is(key));
    }

    /// Drops the staged tables `st` (a version being published) has loaded, or has not as
    /// staged (its files moved on): no read will take them. A table still being decoded
    /// stays (its decoder unstages it).
    pub(crate) fn unstage_loaded(&self, st: &State) {
        self.unstage_where(|s| {
            let i = s.key.idx;
            s.cell.get().is_some()
                && !(st.meta.get(i).is_some_and(|m| !m.loaded) && s.key.is(&StagedKey::of(st, i)))
        });
    }

    /// Forgets the staged tables `gone` picks, freeing them with no lock held.
    pub(crate) fn unstage_where(&self, gone: impl Fn(&Staged) -> bool) {
        let gone: Vec<Staged> = {
            let mut staged = self.staged();
            let (gone, kept) = std::mem::take(&mut *staged).into_iter().partition(gone);
            *staged = kept;
            self.any_staged.store(!staged.is_empty(), Ordering::Release);
            gone
        };
        drop(gone);
    }

    /// The tables reads decoded but could not install (see [`Engine::read_loaded`]).
    fn staged(&self) -> std::sync::MutexGuard<'_, Vec<Staged>> {
        self.staged.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads table `name` as rows of kind `R` if it is not in memory yet, reading and
    /// decoding its files with no lock held: writers of other tables go on meanwhile (and
    /// readers never wait). Only the install takes the writers' lock, for a moment. One
    /// load runs at a time; a load that a write made meanwhile (under its own lock) wins,
    /// and this one is dropped.
    pub(crate) fn preload<R: Record>(&self, name: &str) -> Result<()> {
        let Some(storage) = self.storage.as_ref() else {
            return Ok(());
        };
        {
            let st = self.read_state(name)?;
            let Some(&idx) = st.by_name.get(name) else {
                return Ok(());
            };
            if st.meta[idx].loaded {
                // Nothing to wait for: a handle on a loaded table, or a dry run, may be
                // made inside a transaction.
                return Ok(());
            }
        }
        // Before the loader's mutex: this thread may hold the writers' lock, which a loader
        // holding the mutex waits for, and the install below takes it.
        self.refuse_in_transaction(name)?;
        let _one_at_a_time = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let (idx, schema, entry, pending) = {
            let st = self.read_state(name)?;
            // Dropped while this waited for the mutex: nothing to load, as above.
            let Some(&idx) = st.by_name.get(name) else {
                return Ok(());
            };
            let meta = &st.meta[idx];
            if meta.loaded {
                return Ok(());
            }
            let schema = st.tables[idx].schema().clone();
            (idx, schema, meta.entry.clone(), meta.pending.clone())
        };
        let decoded = decode::<R>(storage, &schema, entry.as_ref(), &pending);
        self.update(name, |st| {
            if st.meta[idx].loaded {
                // A write loaded it meanwhile, under its lock (and a checkpoint may have
                // replaced the snapshot this load read, failing it): that load stands.
                return Ok(());
            }
            let (t, salvaged) = decoded?;
            let meta = st.meta_mut(idx);
            meta.loaded = true;
            meta.pending = Arc::default();
            meta.dirty |= salvaged;
            st.tables[idx] = Arc::new(t);
            Ok(())
        })
    }
}
