//! Prepared statements: SQL text parsed once and run many times with different parameters
//! ([`Database::prepare`](crate::Database::prepare)).

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use crate::engine::Engine;
use crate::error::Result;
use crate::sql::cache;
use crate::sql::parse::Parsed;
use crate::sql::point::Scratch;
use crate::sql::rows_to::Each;
use crate::sql::run::{is_read, result_columns, run_in_parsed, run_parsed, SqlResult};
use crate::txn::Transaction;
use crate::value::{Value, ValueRef};

/// SQL text parsed once, to be run many times with different parameters: what
/// [`Database::prepare`](crate::Database::prepare) returns.
///
/// Running it is [`Database::sql_with`](crate::Database::sql_with) on its text without
/// parsing it again, with the same semantics: one or more statements, each committing on its
/// own unless grouped by `BEGIN … COMMIT` in the text. [`run_in`](Statement::run_in) runs it
/// inside a transaction instead, as [`Transaction::sql_with`] does. Parsing is all that is
/// done ahead: names are bound to tables and columns on every run, so a table created or
/// altered after `prepare` is seen as it is then, and an unknown name is an error of the
/// run, not of `prepare`. A statement may be shared by threads.
///
/// [`each`](Statement::each) hands result rows out one by one without collecting them or
/// copying the column names, the cheapest way to run a lookup many times.
///
/// ```
/// use tabula::{Database, Value};
/// let db = Database::in_memory();
/// db.sql("CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER)")?;
/// let insert = db.prepare("INSERT INTO n (v) VALUES (?)")?;
/// assert_eq!(insert.run(&[Value::Int(10)])?.changed, 1);
/// // Many rows in one commit: the same statement inside a transaction.
/// db.transaction(|tx| {
///     for v in [20, 30] {
///         insert.run_in(tx, &[Value::Int(v)])?;
///     }
///     Ok(())
/// })?;
/// let get = db.prepare("SELECT v FROM n WHERE id = ?")?;
/// let mut sum = 0;
/// for id in 1..=3 {
///     get.each(&[Value::Int(id)], |row| {
///         sum += row[0].as_i64().unwrap_or(0);
///         Ok(true)
///     })?;
/// }
/// assert_eq!(sum, 60);
/// # Ok::<(), tabula::Error>(())
/// ```
pub struct Statement<'db> {
    engine: &'db Arc<Engine>,
    text: Box<str>,
    parsed: Arc<Parsed>,
    /// What a point lookup keeps from run to run (its names' binding, and the row `each`
    /// is handed). Taken with `try_lock`, never waited for: a run on another thread, or
    /// one inside this statement's own callback, binds and builds a row of its own.
    scratch: Mutex<Scratch>,
}

impl std::fmt::Debug for Statement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("text", &self.text)
            .finish_non_exhaustive()
    }
}

impl<'db> Statement<'db> {
    /// Parses `text` for a database.
    pub(crate) fn new(engine: &'db Arc<Engine>, text: &str) -> Result<Self> {
        Ok(Statement {
            engine,
            text: text.into(),
            parsed: cache::parsed(text)?,
            scratch: Mutex::new(Scratch::default()),
        })
    }

    /// The statement's text, as given to `prepare`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether running it only reads: every statement of its text is a query, an `EXPLAIN`
    /// or a pragma (tabula's change nothing). As SQLite's `sqlite3_stmt_readonly`, except
    /// that `BEGIN`, `COMMIT` and `ROLLBACK` are not reads here. What a read-only database or a read transaction
    /// ([`ReadTransaction::sql`](crate::ReadTransaction::sql)) runs; anything else needs
    /// the writers' lock.
    ///
    /// ```
    /// let db = tabula::Database::in_memory();
    /// db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")?;
    /// assert!(db.prepare("SELECT * FROM t")?.reads_only());
    /// assert!(!db.prepare("DELETE FROM t")?.reads_only());
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn reads_only(&self) -> bool {
        self.parsed.statements.iter().all(is_read)
    }

    /// How many statements the text holds (`;` separates them; empty ones are not
    /// counted).
    ///
    /// ```
    /// let db = tabula::Database::in_memory();
    /// assert_eq!(db.prepare("SELECT 1; SELECT 'a;b';")?.statement_count(), 2);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn statement_count(&self) -> usize {
        self.parsed.statements.len()
    }

    /// The names of the columns a run with `params` would give its rows now (the text's
    /// last statement's, as [`SqlResult::columns`]), without running the statement for
    /// its rows; `None` when that statement is not a query. Names are bound as a run binds
    /// them, so an unknown table or column is this call's error too; a table an earlier
    /// statement of the text would create is not there yet. Binding runs what a run
    /// computes before reading a row: the subqueries in `FROM`, the `WITH` tables the query
    /// reads and its other subqueries that name nothing of the row. For a caller that
    /// prints the names before the rows it streams ([`each`](Statement::each)).
    ///
    /// ```
    /// let db = tabula::Database::in_memory();
    /// db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")?;
    /// let st = db.prepare("SELECT name, id * 2 AS twice FROM t")?;
    /// assert_eq!(st.columns(&[])?, Some(vec!["name".to_string(), "twice".to_string()]));
    /// assert_eq!(db.prepare("DELETE FROM t")?.columns(&[])?, None);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn columns(&self, params: &[Value]) -> Result<Option<Vec<String>>> {
        result_columns(self.engine, &self.parsed, params)
    }

    /// Runs the statement with `params` bound to its placeholders (`?` in order, or `$1`,
    /// `$2`, …) and returns the last statement's result, as
    /// [`Database::sql_with`](crate::Database::sql_with) does.
    pub fn run(&self, params: &[Value]) -> Result<SqlResult> {
        let mut scratch = self.scratch();
        let scratch = scratch.as_deref_mut();
        run_parsed(self.engine, &self.parsed, params, None, true, scratch)
    }

    /// Runs the statement with `params`, handing the last statement's result rows to `each`
    /// one at a time (see [`Database::sql_each`](crate::Database::sql_each)); `each`
    /// returns `Ok(false)` to stop. An error it returns ends the call; in a text of several
    /// statements it may come back placed in its statement, as other failures do (see
    /// [`Error::innermost`](crate::Error::innermost)). Returns the rows the last statement
    /// changed (0 for a query). Unlike `sql_each`, the column names are not copied out:
    /// [`run`](Statement::run) gives them.
    pub fn each(
        &self,
        params: &[Value],
        mut each: impl FnMut(&[Value]) -> Result<bool>,
    ) -> Result<u64> {
        self.stream(params, Each::Values(&mut each))
    }

    /// [`each`](Statement::each) handing each row out borrowed, as a slice of
    /// [`ValueRef`]: a point lookup (`SELECT … FROM t WHERE key = ?` on the primary key or a
    /// unique column) then copies nothing, not even its texts, and reads the row where the
    /// table keeps it. A query whose items are all plain columns and whose rows go out as
    /// they are found (one query, the text's last statement, with no `ORDER BY`, grouping,
    /// aggregate, `DISTINCT`, set operation or correlated subquery) lends each row's
    /// columns from where it reads them: a table scanned or probed from where the table
    /// keeps the row, a table joined by hash or nested loop from its one copy per query.
    /// Rows of other queries are borrowed from the values the query made.
    ///
    /// ```
    /// use tabula::{Database, Value, ValueRef};
    /// let db = Database::in_memory();
    /// db.sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")?;
    /// db.sql("INSERT INTO users (name) VALUES ('ada'), ('grace')")?;
    /// let get = db.prepare("SELECT name FROM users WHERE id = ?")?;
    /// let mut letters = 0;
    /// for id in 1..=2 {
    ///     get.each_ref(&[Value::Int(id)], |row| {
    ///         if let [ValueRef::Text(name)] = row {
    ///             letters += name.len();
    ///         }
    ///         Ok(true)
    ///     })?;
    /// }
    /// assert_eq!(letters, 8);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn each_ref(
        &self,
        params: &[Value],
        mut each: impl FnMut(&[ValueRef<'_>]) -> Result<bool>,
    ) -> Result<u64> {
        self.stream(params, Each::Refs(&mut each))
    }

    /// Runs the statement with its rows going to `each`, without their column names; the
    /// rows the last statement changed.
    fn stream(&self, params: &[Value], each: Each<'_>) -> Result<u64> {
        let mut scratch = self.scratch();
        let scratch = scratch.as_deref_mut();
        let r = run_parsed(
            self.engine,
            &self.parsed,
            params,
            Some(each),
            false,
            scratch,
        )?;
        Ok(r.changed)
    }

    /// [`run`](Statement::run) inside `tx`, as [`Transaction::sql_with`] runs a text: its
    /// writes commit or roll back with the transaction, its reads see the transaction's own
    /// writes. A text holding `BEGIN`, `COMMIT` or `ROLLBACK` is refused before any of it
    /// runs. The statement runs in `tx`'s database (a parsed text belongs to no database:
    /// one prepared on another database runs here just the same).
    pub fn run_in(&self, tx: &Transaction<'_>, params: &[Value]) -> Result<SqlResult> {
        run_in_parsed(tx, &self.parsed, params, None)
    }

    /// [`each`](Statement::each) inside `tx` (see [`run_in`](Statement::run_in)). The
    /// callback may read through `tx`; a write through it while the query is still reading
    /// the table (rows handed out as they are found) is `Error::Reentrant`.
    pub fn each_in(
        &self,
        tx: &Transaction<'_>,
        params: &[Value],
        mut each: impl FnMut(&[Value]) -> Result<bool>,
    ) -> Result<u64> {
        Ok(run_in_parsed(tx, &self.parsed, params, Some(Each::Values(&mut each)))?.changed)
    }

    /// [`each_ref`](Statement::each_ref) inside `tx` (see [`each_in`](Statement::each_in)),
    /// the rows lent as `each_ref` lends them, from the transaction's own version of its
    /// tables.
    pub fn each_ref_in(
        &self,
        tx: &Transaction<'_>,
        params: &[Value],
        mut each: impl FnMut(&[ValueRef<'_>]) -> Result<bool>,
    ) -> Result<u64> {
        Ok(run_in_parsed(tx, &self.parsed, params, Some(Each::Refs(&mut each)))?.changed)
    }

    /// The statement's scratch, unless another run holds it. A callback that panicked
    /// left it as it was, which is harmless: the binding is checked and the row refilled
    /// before any use.
    fn scratch(&self) -> Option<MutexGuard<'_, Scratch>> {
        match self.scratch.try_lock() {
            Ok(s) => Some(s),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_statement_can_be_shared_by_threads() {
        fn is<T: Send + Sync>() {}
        is::<super::Statement<'static>>();
    }
}
