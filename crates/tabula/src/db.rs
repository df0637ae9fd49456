//! `Database`: the handle users hold. It owns the table registry and its lock, opens table
//! handles and runs transactions.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use crate::error::{Error, Result};
use crate::handle::{DynTable, TableHandle};
use crate::record::Table;
use crate::registry::State;
use crate::schema::Schema;
use crate::txn::{self, Transaction, WritingGuard};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// A database that lives in memory only: no files at all.
    pub fn in_memory() -> Database {
        Database {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                state: RwLock::new(State::default()),
            }),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.shared.id
    }

    /// Refuses a plain-handle call made on the thread that holds this database's write lock
    /// (it would wait for itself forever).
    pub(crate) fn check_thread(&self, table: &str) -> Result<()> {
        if txn::writing(self.id()) {
            return Err(Error::InTransaction {
                table: table.to_owned(),
            });
        }
        Ok(())
    }

    pub(crate) fn read_state(&self, table: &str) -> Result<RwLockReadGuard<'_, State>> {
        self.check_thread(table)?;
        Ok(self
            .shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// The table for `T`: created if new, attached if it exists with the same schema.
    ///
    /// Fails with `Error::SchemaMismatch` naming the columns when a table of that name exists
    /// with another schema.
    pub fn table<T: Table>(&self) -> Result<TableHandle<T>> {
        let name = &T::schema().table;
        self.check_thread(name)?;
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
        let st = self.read_state(name)?;
        let idx = st.index_of(name)?;
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
        let name = schema.table.clone();
        let idx = self.transaction(|tx| tx.create(schema))?;
        let st = self.read_state(&name)?;
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
    /// is committed at once; if it returns `Err` or panics, nothing it wrote remains (a panic
    /// goes on unwinding after the rollback).
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
        self.check_thread("")?;
        let guard = self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let writing = WritingGuard::new(self.id());
        let tx = Transaction {
            state: std::cell::RefCell::new(guard),
            marks: std::cell::RefCell::new(Vec::new()),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&tx)));
        let result = match outcome {
            Ok(Ok(out)) => self.commit(&tx).map(|()| out),
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
        result
    }

    /// Makes a transaction's writes permanent (in memory; the storage layer logs them first).
    fn commit(&self, tx: &Transaction<'_>) -> Result<()> {
        let written = tx.written();
        let mut st = tx.state.borrow_mut();
        for idx in written {
            st.tables[idx].commit();
        }
        Ok(())
    }
}
