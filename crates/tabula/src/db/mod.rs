//! `Database`: the handle users hold. It owns the table registry and its lock, opens table
//! handles, runs transactions and, for a database directory, recovery, commits to the log,
//! checkpoints, export/import and statistics (in the submodules).

mod export;
#[cfg(test)]
mod fault_tests;
pub(crate) mod persist;
mod relations;
mod stats;

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Error, Result};
use crate::handle::{DynTable, TableHandle};
use crate::record::Table;
use crate::registry::State;
use crate::schema::Schema;
use crate::storage::fs::{FileSystem, StdFs};
use crate::storage::wal::{DroppedRecord, Durability, Recovery};
use crate::storage::{Options, Storage};
use crate::txn::{self, ReadTransaction, Transaction, WritingGuard};

pub use stats::{ArchivedSegment, Stats, TableStats};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The read lock of a database, marked as held by this thread while it lives.
pub(crate) struct ReadState<'a> {
    guard: RwLockReadGuard<'a, State>,
    _marker: txn::ReadingGuard,
}

impl std::ops::Deref for ReadState<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

/// An embedded table database. Cloning it is cheap: every clone is a handle to the same
/// tables, and it can be sent to and shared between threads.
///
/// ```
/// use tabula::{Database, Table};
///
/// #[derive(Table, Debug, Clone, PartialEq)]
/// #[table(name = "students")]
/// struct Student {
///     #[column(primary_key)]
///     id: u64,
///     name: String,
///     #[column(unique)]
///     email: String,
///     #[column(index)]
///     year: u32,
///     #[column(default = 0.0)]
///     gpa: f64,
///     advisor: Option<String>,
/// }
///
/// let db = Database::in_memory();
/// let students = db.table::<Student>()?;
/// for (name, year, gpa) in [("Alice", 2024, 3.8), ("Bob", 2023, 3.1), ("Cara", 2024, 3.6)] {
///     let email = format!("{}@uni.edu", name.to_lowercase());
///     students.insert(Student { id: 0, name: name.into(), email, year, gpa, advisor: None })?;
/// }
/// let best = students.select().where_eq("year", 2024).order_by("-gpa").first()?;
/// assert_eq!(best.unwrap().name, "Alice");
/// assert_eq!(students.count()?, 3);
/// # Ok::<(), tabula::Error>(())
/// ```
#[derive(Clone)]
pub struct Database {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) state: RwLock<State>,
    pub(crate) storage: Option<Storage>,
    pub(crate) closed: AtomicBool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Database");
        d.field("id", &self.shared.id);
        if let Some(s) = &self.shared.storage {
            d.field("path", &s.layout.root);
        }
        d.finish_non_exhaustive()
    }
}

/// Settings for opening a database directory; see [`Database::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    durability: Durability,
    recovery: Recovery,
    keep_archived: usize,
    auto_checkpoint_bytes: Option<u64>,
    fs: Option<Arc<dyn FileSystem>>,
}

impl std::fmt::Debug for dyn FileSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileSystem")
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            durability: Durability::Immediate,
            recovery: Recovery::TolerateTail,
            keep_archived: 10,
            auto_checkpoint_bytes: Some(64 << 20),
            fs: None,
        }
    }
}

impl Builder {
    /// When a commit returns: after its log line is on stable storage (`Immediate`, the
    /// default) or once it is written to the operating system (`Buffered`).
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// How a damaged write-ahead log is treated on open (default: `TolerateTail`).
    pub fn recovery(mut self, r: Recovery) -> Self {
        self.recovery = r;
        self
    }

    /// How many archived log segments a checkpoint keeps (default 10).
    pub fn keep_archived(mut self, n: usize) -> Self {
        self.keep_archived = n;
        self
    }

    /// Checkpoint automatically once the log passes this many bytes (default 64 MiB);
    /// `None` checkpoints only when asked.
    pub fn auto_checkpoint_bytes(mut self, bytes: Option<u64>) -> Self {
        self.auto_checkpoint_bytes = bytes;
        self
    }

    #[cfg(test)]
    pub(crate) fn file_system(mut self, fs: Arc<dyn FileSystem>) -> Self {
        self.fs = Some(fs);
        self
    }

    /// Opens (creating if needed) the database directory at `path`.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Database> {
        let options = Options {
            durability: self.durability,
            recovery: self.recovery,
            keep_archived: self.keep_archived,
            auto_checkpoint_bytes: self.auto_checkpoint_bytes,
        };
        let fs = self.fs.unwrap_or_else(|| Arc::new(StdFs));
        persist::open(fs, path.as_ref(), options)
    }
}

impl Database {
    /// A database that lives in memory only: no files at all.
    pub fn in_memory() -> Database {
        Database::from_parts(State::default(), None)
    }

    pub(crate) fn from_parts(state: State, storage: Option<Storage>) -> Database {
        Database {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                state: RwLock::new(state),
                storage,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Opens (creating if needed) a database directory with the default settings: durable
    /// commits, an unfinished last commit dropped on recovery, automatic checkpoints.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("university");
    /// use tabula::{Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Note { #[column(primary_key)] id: u64, text: String }
    ///
    /// let db = Database::open(&path)?;
    /// db.table::<Note>()?.insert(Note { id: 0, text: "kept".into() })?;
    /// db.close()?;
    ///
    /// let db = Database::open(&path)?;
    /// assert_eq!(db.table::<Note>()?.get(1u64)?.unwrap().text, "kept");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().open(path)
    }

    /// Settings for [`open`](Database::open): durability, recovery mode, archived segments
    /// kept, automatic checkpoints.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn id(&self) -> u64 {
        self.shared.id
    }

    /// The directory of a persistent database.
    pub fn path(&self) -> Option<&Path> {
        self.shared
            .storage
            .as_ref()
            .map(|s| s.layout.root.as_path())
    }

    /// The log lines recovery dropped when this database was opened (an unfinished last
    /// commit; in salvage mode, every damaged line).
    pub fn recovery_report(&self) -> Vec<DroppedRecord> {
        self.shared.storage.as_ref().map_or_else(Vec::new, |s| {
            s.dropped
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed {
                path: self.path().map_or_else(PathBuf::new, Path::to_path_buf),
            });
        }
        Ok(())
    }

    /// Refuses a plain-handle call made on the thread that holds this database's write lock
    /// (it would wait for itself forever).
    pub(crate) fn check_thread(&self, table: &str) -> Result<()> {
        if txn::writing(self.id()) {
            return Err(Error::InTransaction {
                table: table.to_owned(),
            });
        }
        self.check_open()
    }

    /// The read lock. With `Immediate` durability a reader first waits for the fsync of a
    /// commit already applied in memory, so it never sees a commit that is not yet durable.
    pub(crate) fn read_state(&self, table: &str) -> Result<ReadState<'_>> {
        self.check_thread(table)?;
        if txn::reading(self.id()) {
            return Err(Error::NestedRead {
                table: table.to_owned(),
            });
        }
        let guard = self
            .shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        // `close` may have emptied the state while this call waited for the lock.
        self.check_open()?;
        let marker = txn::ReadingGuard::new(self.id());
        if let Some(s) = &self.shared.storage {
            if s.wal.must_wait() {
                s.wal.sync_all(&s.layout.wal())?;
            }
        }
        Ok(ReadState {
            guard,
            _marker: marker,
        })
    }

    pub(crate) fn write_state(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.check_thread("")?;
        if txn::reading(self.id()) {
            // This thread's own read lock would make the write lock wait forever.
            return Err(Error::NestedRead {
                table: "(a write)".into(),
            });
        }
        let guard = self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // `close` may have emptied the state while this call waited for the lock.
        self.check_open()?;
        Ok(guard)
    }

    /// The table for `T`: created if new (with its schema file, for a persistent database),
    /// loaded from disk on first use, attached if it exists with the same schema.
    ///
    /// A stored table whose schema differs only by new nullable or defaulted columns is
    /// migrated (recorded in its schema file); any other difference is
    /// `Error::SchemaMismatch` naming the columns.
    pub fn table<T: Table>(&self) -> Result<TableHandle<T>> {
        let name = &T::schema().table;
        {
            let st = self.read_state(name)?;
            if let Some(&idx) = st.by_name.get(name) {
                if st.tables[idx].as_any().is::<crate::table::TableData<T>>() {
                    return Ok(TableHandle::new(self.clone(), idx));
                }
            }
        }
        let idx = self.transaction(|tx| tx.register::<T>())?;
        Ok(TableHandle::new(self.clone(), idx))
    }

    /// A schema-driven handle on an existing table, with rows of [`Value`](crate::Value).
    pub fn dyn_table(&self, name: &str) -> Result<DynTable> {
        {
            let st = self.read_state(name)?;
            let idx = st.index_of(name)?;
            if st.meta[idx].loaded {
                return Ok(DynTable::new(
                    self.clone(),
                    idx,
                    st.tables[idx].schema().clone(),
                ));
            }
        }
        let mut st = self.write_state()?;
        let idx = st.index_of(name)?;
        persist::ensure_loaded(&self.shared, &mut st, idx)?;
        Ok(DynTable::new(
            self.clone(),
            idx,
            st.tables[idx].schema().clone(),
        ))
    }

    /// Creates a table from a schema (for tools and imports), or returns the existing table
    /// if its schema is the same.
    pub fn create_table(&self, schema: Schema) -> Result<DynTable> {
        let mut schema = schema;
        schema.finish()?;
        let idx = self.transaction(|tx| tx.create(schema))?;
        let st = self.read_state("")?;
        Ok(DynTable::new(
            self.clone(),
            idx,
            st.tables[idx].schema().clone(),
        ))
    }

    /// The names of every table, sorted.
    pub fn table_names(&self) -> Result<Vec<String>> {
        let st = self.read_state("")?;
        let mut names: Vec<String> = st.by_name.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    /// The schema of a table.
    pub fn schema(&self, table: &str) -> Result<Schema> {
        let st = self.read_state(table)?;
        let idx = st.index_of(table)?;
        Ok((**st.tables[idx].schema()).clone())
    }

    /// Runs `f` as one transaction across any tables: if it returns `Ok`, everything it wrote
    /// is committed at once (as one line of the write-ahead log, for a persistent database);
    /// if it returns `Err` or panics, nothing it wrote remains (a panic goes on unwinding
    /// after the rollback).
    ///
    /// Inside, reads through the transaction's handles see its own writes. Other threads see
    /// the state before it or after it, never part of it. A statement that fails inside the
    /// transaction changes nothing and leaves the transaction usable.
    ///
    /// ```
    /// use tabula::{Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Account { #[column(primary_key)] id: u64, balance: i64 }
    ///
    /// let db = Database::in_memory();
    /// let accounts = db.table::<Account>()?;
    /// accounts.insert_many(vec![Account { id: 1, balance: 100 }, Account { id: 2, balance: 0 }])?;
    /// let moved: Result<(), tabula::Error> = db.transaction(|tx| {
    ///     let a = tx.table::<Account>()?;
    ///     a.update(|x| x.id == 1, |x| x.balance -= 150)?;
    ///     a.update(|x| x.id == 2, |x| x.balance += 150)?;
    ///     if a.get(1u64)?.map_or(0, |x| x.balance) < 0 {
    ///         return Err(tabula::Error::InvalidName { name: "balance".into(), reason: "overdrawn".into() });
    ///     }
    ///     Ok(())
    /// });
    /// assert!(moved.is_err());
    /// assert_eq!(accounts.get(1u64)?.unwrap().balance, 100);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn transaction<O>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<O>) -> Result<O> {
        // Counted from before the lock is taken, so an fsync leader can wait for this commit.
        let committer = self.shared.storage.as_ref().map(|s| s.wal.committer());
        let guard = self.write_state()?;
        let writing = WritingGuard::new(self.id());
        let tx = Transaction {
            shared: &self.shared,
            state: std::cell::RefCell::new(guard),
            marks: std::cell::RefCell::new(Vec::new()),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&tx)));
        let result = match outcome {
            Ok(Ok(out)) => match persist::commit(&self.shared, &tx) {
                Ok(lsn) => Ok((out, lsn)),
                Err(e) => {
                    tx.rollback();
                    Err(e)
                }
            },
            Ok(Err(e)) => {
                tx.rollback();
                Err(e)
            }
            Err(panic) => {
                tx.rollback();
                drop(tx);
                drop(writing);
                resume_unwind(panic);
            }
        };
        drop(tx);
        drop(writing);
        drop(committer);
        let (out, lsn) = result?;
        if let (Some(lsn), Some(storage)) = (lsn, &self.shared.storage) {
            if storage.wal.durability == Durability::Immediate {
                storage.wal.wait_durable(&storage.layout.wal(), lsn, true)?;
            }
            persist::maybe_auto_checkpoint(self)?;
        }
        Ok(out)
    }

    /// Runs `f` in a read transaction: every table read through it shows the same committed
    /// state, and the reads inside take no lock of their own (the read lock is taken once,
    /// here). Writers wait until `f` returns; other readers run alongside. A plain handle used
    /// inside `f` returns `Error::NestedRead`: read through the transaction instead.
    ///
    /// ```
    /// use tabula::{Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Account { #[column(primary_key)] id: u64, balance: i64 }
    ///
    /// let db = Database::in_memory();
    /// let accounts = db.table::<Account>()?;
    /// accounts.insert_many((1..=100).map(|id| Account { id, balance: 10 }))?;
    /// let total: i64 = db.read(|r| {
    ///     let a = r.table(&accounts)?;
    ///     let mut sum = 0;
    ///     for id in 1..=100u64 {
    ///         sum += a.get_with(id, |x| x.balance)?.unwrap_or(0);
    ///     }
    ///     Ok(sum)
    /// })?;
    /// assert_eq!(total, 1000);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn read<O>(&self, f: impl FnOnce(&ReadTransaction<'_>) -> Result<O>) -> Result<O> {
        let state = self.read_state("(read transaction)")?;
        f(&ReadTransaction { db: self, state })
    }

    /// Writes a snapshot of every table changed since the last checkpoint, commits them with
    /// the manifest, and archives the write-ahead log. Afterwards opening the database reads
    /// the snapshots and an empty log. Does nothing for an in-memory database.
    pub fn checkpoint(&self) -> Result<()> {
        let mut st = self.write_state()?;
        persist::checkpoint(&self.shared, &mut st)
    }

    /// Another name for [`checkpoint`](Database::checkpoint), as the seed called it.
    pub fn save(&self) -> Result<()> {
        self.checkpoint()
    }

    /// Checkpoints if anything changed since the last checkpoint (so the next open reads
    /// snapshots, not the log, as SQLite checkpoints its WAL when its last connection closes),
    /// makes every commit durable and releases the directory's lock. Every clone of this
    /// handle is closed with it: later calls return `Error::Closed`. Dropping the last clone
    /// also releases the lock, without the checkpoint (and, with `Buffered` durability,
    /// without the final fsync); nothing committed is lost either way. The rows' memory is
    /// released here, not when the last handle goes: nothing can reach them any more.
    pub fn close(&self) -> Result<()> {
        let mut st = self.write_state()?;
        let checkpoint = match &self.shared.storage {
            Some(_) if st.meta.iter().any(|m| m.dirty || !m.pending.is_empty()) => {
                persist::checkpoint(&self.shared, &mut st)
            }
            _ => Ok(()),
        };
        self.shared.closed.store(true, Ordering::Release);
        let closed = match &self.shared.storage {
            Some(s) => s.close(),
            None => Ok(()),
        };
        // Every call now returns `Error::Closed` (the lock holders check after locking), so
        // the rows are unreachable: free them now, or a closed database whose handles live on
        // (in a server's state, say) would keep all its memory.
        drop(std::mem::take(&mut *st));
        checkpoint.and(closed)
    }
}
