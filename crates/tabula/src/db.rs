//! `Database`: the handle users hold, a thin facade over the engine. Nothing inside the
//! library imports this module.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use crate::engine::migration::{MigrationPlan, SchemaChange};
use crate::engine::{Engine, Stats};
use crate::error::Result;
use crate::handle::{DynTable, TableHandle};
use crate::record::Table;
use crate::schema::Schema;
use crate::sql::{Each, SqlResult};
use crate::storage::fs::{FileSystem, StdFs};
use crate::storage::wal::{DroppedRecord, Durability, Recovery};
use crate::storage::Options;
use crate::txn::{ReadTransaction, Transaction};

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
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.engine.fmt(f)
    }
}

/// Settings for opening a database directory; see [`Database::builder`].
#[derive(Clone)]
pub struct Builder {
    durability: Durability,
    recovery: Recovery,
    keep_archived: usize,
    auto_checkpoint_bytes: Option<u64>,
    fs: Option<Arc<dyn FileSystem>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("durability", &self.durability)
            .field("recovery", &self.recovery)
            .field("keep_archived", &self.keep_archived)
            .field("auto_checkpoint_bytes", &self.auto_checkpoint_bytes)
            .finish_non_exhaustive()
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

    /// Opens the database on `fs`, an in-memory file system that fails chosen calls or loses
    /// power (for tests; with the `testing` feature only).
    #[cfg(any(test, feature = "testing"))]
    pub fn file_system(mut self, fs: crate::storage::faulty::FaultyFs) -> Self {
        self.fs = Some(Arc::new(fs.bound()));
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
        let engine = Engine::open(fs, path.as_ref(), options)?;
        Ok(Database { engine })
    }

    /// Opens the database directory at `path` read-only: see
    /// [`Database::open_read_only`]. Of the settings, only the recovery mode applies.
    pub fn open_read_only(self, path: impl AsRef<Path>) -> Result<Database> {
        let options = Options {
            durability: self.durability,
            recovery: self.recovery,
            keep_archived: self.keep_archived,
            auto_checkpoint_bytes: None,
        };
        let fs = self.fs.unwrap_or_else(|| Arc::new(StdFs));
        let engine = Engine::open_read_only(fs, path.as_ref(), options)?;
        Ok(Database { engine })
    }
}

impl Database {
    /// A database that lives in memory only: no files at all.
    pub fn in_memory() -> Database {
        Database {
            engine: Engine::in_memory(),
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

    /// Opens an existing database directory read-only, beside a process that may have it
    /// open for writing, or where this user may only read: it takes no lock and writes
    /// nothing. Every table is read as of one consistent point (the manifest, each snapshot
    /// and the log's complete records; if a checkpoint renames files during the read, it
    /// starts again from the new manifest). Writes, checkpoints, migrations and imports
    /// return `Error::ReadOnly`; [`refresh`](Database::refresh) catches up with the writer.
    ///
    /// It sees every complete line of the log, including a commit the writer has written
    /// but not yet fsynced (with `Immediate` durability, one still waiting for its fsync;
    /// with `Buffered`, any): such a commit survives a crash of the writer's process, but
    /// not a power loss. A last line still being written is left out; a damaged complete
    /// last line is left out and listed in [`recovery_report`](Database::recovery_report),
    /// and nothing is moved. A path that holds no database is `Error::NotADatabase`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("university");
    /// use tabula::{Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Note { #[column(primary_key)] id: u64, text: String }
    ///
    /// let writer = Database::open(&path)?;            // holds the lock
    /// let notes = writer.table::<Note>()?;
    /// notes.insert(Note { id: 0, text: "first".into() })?;
    ///
    /// let reader = Database::open_read_only(&path)?;  // no lock: opens beside it
    /// assert_eq!(reader.table::<Note>()?.count()?, 1);
    /// notes.insert(Note { id: 0, text: "second".into() })?;
    /// assert_eq!(reader.table::<Note>()?.count()?, 1); // its point in time
    /// reader.refresh()?;
    /// assert_eq!(reader.table::<Note>()?.count()?, 2);
    /// assert!(matches!(
    ///     reader.table::<Note>()?.insert(Note { id: 0, text: "no".into() }),
    ///     Err(tabula::Error::ReadOnly { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().open_read_only(path)
    }

    /// A database opened with [`open_read_only`](Database::open_read_only) catches up with
    /// the directory: everything is read again as of a new consistent point and replaces
    /// what it shows, at once. Handles stay valid; a table attached to a Rust type stays
    /// attached. A table this database loaded (a typed or dynamic handle, a query, an export)
    /// that the writer migrated since is `Error::SchemaMismatch`, since its handles hold the
    /// old columns (open again); a table it never loaded takes its new schema. A
    /// writable or in-memory database is always current, so this does nothing. On error
    /// nothing changes.
    pub fn refresh(&self) -> Result<()> {
        self.engine.refresh()
    }

    /// Whether this database was opened with [`open_read_only`](Database::open_read_only).
    pub fn is_read_only(&self) -> bool {
        self.engine.read_only_storage().is_some()
    }

    /// Whether a thread other than the calling one holds one of the database's locks at
    /// this moment (a transaction or statement under way, a checkpoint or close, a table
    /// loading): an answer another thread may have changed by the time it is read. In a
    /// process forked from the one that opened the database it is exact, and it matters:
    /// only the forking thread runs in the child, so a lock another thread held at the fork
    /// is never given back, and every call that needs it would wait forever. (The calling
    /// thread's own transaction is not counted: it goes on in the child and ends.)
    ///
    /// ```
    /// let db = tabula::Database::in_memory();
    /// assert!(!db.is_locked_elsewhere());
    /// let other = db.clone();
    /// db.transaction(|_| {
    ///     // This thread's own transaction does not count; another thread sees it.
    ///     assert!(!db.is_locked_elsewhere());
    ///     assert!(std::thread::spawn(move || other.is_locked_elsewhere()).join().unwrap());
    ///     Ok(())
    /// })?;
    /// assert!(!db.is_locked_elsewhere());
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn is_locked_elsewhere(&self) -> bool {
        self.engine.is_locked_elsewhere()
    }

    /// Settings for [`open`](Database::open): durability, recovery mode, archived segments
    /// kept, automatic checkpoints.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The directory of a persistent database.
    pub fn path(&self) -> Option<&Path> {
        self.engine.path()
    }

    /// The log lines recovery dropped when this database was opened (an unfinished last
    /// commit; in salvage mode, every damaged line).
    pub fn recovery_report(&self) -> Vec<DroppedRecord> {
        self.engine.recovery_report()
    }

    /// The table for `T`: created if new (in a transaction of its own, its schema file
    /// written once that commit is durable), loaded from disk on first use, attached if it
    /// exists with the same schema.
    ///
    /// A type whose schema differs from the stored table's migrates it, if every difference
    /// is one tabula migrates: a nullable or defaulted column added, a column renamed
    /// (`#[column(renamed_from = "old")]`), widened without loss (`i32` to `i64`, `f32` to
    /// `f64`, an integer to `f64` when every stored value converts exactly, `T` to
    /// `Option<T>`) or dropped (`#[table(dropped("old"))]`), indexes, unique constraints,
    /// checks, defaults or foreign keys added or removed, the column order. The stored rows
    /// are checked against new unique constraints, checks and foreign keys first. Anything
    /// else is `Error::SchemaMismatch` listing every difference; a migration the rows cannot
    /// take is `Error::SchemaMismatch` naming the first offending row's key. Either way
    /// nothing changes. A migration is one durable step, recorded in the schema file's
    /// history ([`Database::schema_history`]); it never runs inside a transaction
    /// (`Error::MigrationInTransaction`). [`Database::migration_plan`] shows it first.
    ///
    /// A check of `T` that does not compile (it does not parse, names a column `T` lacks,
    /// or compares one with a value it cannot hold) is `Error::InvalidExpression`, naming
    /// the check.
    ///
    /// A table holds its rows as one Rust type at a time: once attached to `T`, another
    /// type of the same schema (a copy of the struct in another module, say) is
    /// `Error::SchemaMismatch` naming both types, for as long as the database is open.
    /// [`Database::dyn_table`] reads and writes it beside `T`.
    pub fn table<T: Table>(&self) -> Result<TableHandle<T>> {
        let idx = self.engine.attach::<T>()?;
        Ok(TableHandle::new(self.engine.clone(), idx))
    }

    /// A schema-driven handle on an existing table, with rows of [`Value`](crate::Value).
    pub fn dyn_table(&self, name: &str) -> Result<DynTable> {
        let (idx, schema) = self.engine.dyn_table(name)?;
        Ok(DynTable::new(self.engine.clone(), idx, schema))
    }

    /// Creates a table from a schema (for tools and imports), or returns the existing table
    /// if its schema is the same.
    pub fn create_table(&self, schema: Schema) -> Result<DynTable> {
        let mut schema = schema;
        schema.finish()?;
        let (idx, schema) = self.engine.create_table(schema)?;
        Ok(DynTable::new(self.engine.clone(), idx, schema))
    }

    /// Drops a table: its rows, its schema and, for a database directory, its files. It
    /// runs outside any transaction as one durable step of its own (`Error::InTransaction`
    /// inside one), as a migration does; while another table references it through a
    /// foreign key it is refused with `Error::TableReferenced`. A failure changes nothing.
    ///
    /// Handles on the table fail afterwards with `Error::UnknownTable`; its name is free
    /// for a new table (`db.table::<T>()` creates it again, empty).
    ///
    /// ```
    /// use tabula::{Column, ColumnType, Database, Error, Schema};
    /// let db = Database::in_memory();
    /// let notes = db.create_table(Schema::new("note", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    /// ])?)?;
    /// db.drop_table("note")?;
    /// assert!(db.table_names()?.is_empty());
    /// assert!(matches!(notes.count(), Err(Error::UnknownTable { .. })));
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn drop_table(&self, name: &str) -> Result<()> {
        self.drop_tables(&[name])
    }

    /// Drops several tables as one step, all of them or none: tables that reference each
    /// other (a parent and its children, a cycle) go together, where
    /// [`Database::drop_table`] refuses each while the others reference it.
    pub fn drop_tables(&self, names: &[&str]) -> Result<()> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        self.engine.drop_tables(&names)
    }

    /// The names of every table, sorted.
    pub fn table_names(&self) -> Result<Vec<String>> {
        self.engine.table_names()
    }

    /// The schema of a table.
    pub fn schema(&self, table: &str) -> Result<Schema> {
        self.engine.schema(table)
    }

    /// Runs SQL text: one or more statements separated by `;`, returning the last one's
    /// result. Each statement commits on its own unless grouped by `BEGIN … COMMIT` (or
    /// `ROLLBACK`) in the same text; a text that ends inside `BEGIN` rolls it back and is an
    /// error. If a statement fails, the ones before it stay committed. `docs/SQL.md` lists
    /// what runs (queries with joins, grouping, subqueries, set operations and `WITH`;
    /// `INSERT` with upserts, `UPDATE`, `DELETE`; `CREATE`/`ALTER`/`DROP`) and every
    /// difference from SQLite; what is not supported is `Error::Unsupported`.
    ///
    /// ```
    /// use tabula::{Database, Table, Value};
    /// #[derive(Table, Debug, Clone)]
    /// struct Note { #[column(primary_key)] id: u64, text: String, stars: i32 }
    /// let db = Database::in_memory();
    /// db.table::<Note>()?;
    /// db.sql("INSERT INTO note (text, stars) VALUES ('a', 3), ('b', 5)")?;
    /// let r = db.sql("SELECT text, stars * 2 AS double FROM note WHERE stars > 3")?;
    /// assert_eq!(r.columns, ["text", "double"]);
    /// assert_eq!(r.rows, [[Value::from("b"), Value::Int(10)]]);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn sql(&self, text: &str) -> Result<SqlResult> {
        crate::sql::run(&self.engine, text, &[])
    }

    /// [`Database::sql`] with `params` bound to its placeholders (`?` in order, or `$1`,
    /// `$2`, …).
    pub fn sql_with(&self, text: &str, params: &[crate::value::Value]) -> Result<SqlResult> {
        crate::sql::run(&self.engine, text, params)
    }

    /// [`Database::sql_with`], handing the last statement's result rows to `each` one at a
    /// time instead of collecting them; `each` returns `Ok(false)` to stop (the query stops
    /// reading), and an error it returns ends the call with that error. A query that needs
    /// all its rows first (`ORDER BY`, `GROUP BY`, `DISTINCT`) hands them out once it has
    /// them; others as they are found, with no copy of the whole result. The returned
    /// [`SqlResult`] has the columns and no rows.
    ///
    /// ```
    /// use tabula::{Database, Value};
    /// let db = Database::in_memory();
    /// db.sql("CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER);
    ///         INSERT INTO n (v) VALUES (10), (20), (30)")?;
    /// let mut seen = Vec::new();
    /// let r = db.sql_each("SELECT v FROM n WHERE v > ?", &[Value::Int(10)], |row| {
    ///     seen.push(row[0].clone());
    ///     Ok(true)
    /// })?;
    /// assert_eq!(r.columns, ["v"]);
    /// assert_eq!(seen, [Value::Int(20), Value::Int(30)]);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn sql_each(
        &self,
        text: &str,
        params: &[crate::value::Value],
        mut each: impl FnMut(&[crate::value::Value]) -> Result<bool>,
    ) -> Result<SqlResult> {
        crate::sql::run_each(&self.engine, text, params, Some(Each::Values(&mut each)))
    }

    /// [`Database::sql_with`], handing every statement's result to `each` as the statement
    /// completes, in order, rather than returning the last one's: what running a script
    /// and showing each query's rows (as `sqlite3` does) needs. `BEGIN`, `COMMIT` and
    /// `ROLLBACK` give no result; a statement between them gives its result as it runs,
    /// before the transaction commits or rolls back. Returns the last statement's columns
    /// (none when it returns no rows) and, as `changed`, the rows the whole text changed
    /// and kept: a statement's once it commits, a transaction's at its `COMMIT`, none for
    /// one rolled back. An error `each` returns (make one of your own with
    /// [`Error::abort`](crate::Error::abort)) ends the text there: the statement whose
    /// result `each` was given stays committed, as do those before it, unless it is inside
    /// `BEGIN … COMMIT`, which then rolls back.
    ///
    /// ```
    /// use tabula::Database;
    /// let db = Database::in_memory();
    /// let mut results = Vec::new();
    /// db.sql_script(
    ///     "CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER);
    ///      INSERT INTO n (v) VALUES (10), (20);
    ///      SELECT count(*) FROM n;
    ///      SELECT max(v) FROM n",
    ///     &[],
    ///     |r| {
    ///         results.push(r);
    ///         Ok(())
    ///     },
    /// )?;
    /// assert_eq!(results.len(), 4);
    /// assert_eq!(results[1].changed, 2);
    /// assert_eq!(results[2].rows, [[tabula::Value::Int(2)]]);
    /// assert_eq!(results[3].columns, ["max(v)"]);
    /// let last = db.sql_script(
    ///     "BEGIN; DELETE FROM n; ROLLBACK; BEGIN; INSERT INTO n (v) VALUES (1); \
    ///      INSERT INTO n (v) VALUES (2), (3); COMMIT",
    ///     &[],
    ///     |_| Ok(()),
    /// )?;
    /// assert_eq!(last.changed, 3);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn sql_script(
        &self,
        text: &str,
        params: &[crate::value::Value],
        mut each: impl FnMut(SqlResult) -> Result<()>,
    ) -> Result<SqlResult> {
        crate::sql::run_script(&self.engine, text, params, &mut each)
    }

    /// Parses `text` (one or more statements) once, for running many times with different
    /// parameters: see [`Statement`](crate::sql::Statement). A text that does not parse is
    /// `Error::Sql` here; names are bound to tables and columns when it runs.
    ///
    /// ```
    /// use tabula::{Database, Value};
    /// let db = Database::in_memory();
    /// db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")?;
    /// let add = db.prepare("INSERT INTO t (name) VALUES (?)")?;
    /// add.run(&[Value::from("a")])?;
    /// add.run(&[Value::from("b")])?;
    /// assert_eq!(db.sql("SELECT COUNT(*) FROM t")?.rows, [[Value::Int(2)]]);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn prepare(&self, text: &str) -> Result<crate::sql::Statement<'_>> {
        crate::sql::Statement::new(&self.engine, text)
    }

    /// Writes a SQL script that recreates the database, in SQLite's or PostgreSQL's
    /// dialect, to `out`: one transaction creating every table (referenced tables first)
    /// with its types, keys, `NOT NULL`, `UNIQUE`, defaults, checks and foreign keys, then
    /// the rows (`INSERT` batches, or `COPY … FROM stdin`) and next auto-increment key of
    /// each; after the transaction, `CREATE INDEX` for the ordered indexes and, for
    /// PostgreSQL, the foreign keys of tables in a cycle of references. [`Database::sql`]
    /// (and `tabula sql DIR < FILE`) reads either back
    /// into the same schemas, rows and next keys; `sqlite3` and `psql` load their own. The
    /// script shows one committed version: commits made meanwhile are wholly in it or wholly
    /// out of it. A read-only database dumps beside a live writer. See `docs/SQL.md`
    /// ("Dump") for the type mapping and what does not carry over exactly.
    ///
    /// Text holding a NUL character cannot be written (`Error::Unsupported`, naming table,
    /// column and key); a failed write to `out` is `Error::Io`.
    ///
    /// ```
    /// use tabula::{Database, Dialect, Table};
    /// #[derive(Table, Debug, Clone)]
    /// struct Note { #[column(primary_key)] id: u64, text: String }
    /// let db = Database::in_memory();
    /// db.table::<Note>()?.insert(Note { id: 0, text: "it's".into() })?;
    /// let mut script = Vec::new();
    /// db.dump_sql(Dialect::Sqlite, &mut script)?;
    /// let script = String::from_utf8(script).unwrap();
    /// assert!(script.contains("INSERT INTO note (id, text) VALUES\n(1, 'it''s');"));
    ///
    /// let copy = Database::in_memory();
    /// copy.sql(&script)?;
    /// assert_eq!(copy.schema("note")?, db.schema("note")?);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn dump_sql(
        &self,
        dialect: crate::sql::Dialect,
        out: &mut impl std::io::Write,
    ) -> Result<()> {
        crate::sql::dump::dump(&self.engine, dialect, out)
    }

    /// What [`Database::table::<T>()`](Database::table) would do to the stored table of
    /// `T`, changing nothing, in memory or on disk: each change in words ("rename full_name
    /// -> name", "widen age i32 -> i64", "drop nickname (2 values)", "add score default 0",
    /// "build unique index on label"), "create table ..." for a table that does not exist,
    /// nothing for one that already has `T`'s schema. A migration that would be refused is
    /// the same `Error::SchemaMismatch` attaching would return, listing every reason.
    ///
    /// ```
    /// use tabula::{Database, Table};
    /// #[derive(Table, Debug, Clone)]
    /// struct Note { #[column(primary_key)] id: u64, text: String }
    /// let db = Database::in_memory();
    /// let plan = db.migration_plan::<Note>()?;
    /// assert_eq!(plan.changes(), ["create table note"]);
    /// db.table::<Note>()?;
    /// assert!(db.migration_plan::<Note>()?.is_empty());
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn migration_plan<T: Table>(&self) -> Result<MigrationPlan> {
        self.engine.migration_plan::<T>()
    }

    /// Migrates a stored table to `schema` (the table it names), as attaching a Rust type
    /// with that schema would: new nullable or defaulted columns, renames and drops named in
    /// `schema.evolution`, lossless widenings, indexes, unique constraints and checks added
    /// or removed. Returns what changed (empty when the table already has `schema`). It runs
    /// outside any transaction as one durable step; a refused migration is
    /// `Error::SchemaMismatch` listing every reason and changes nothing. SQL's `ALTER TABLE`
    /// and `CREATE INDEX` run through it.
    ///
    /// ```
    /// use tabula::{Column, ColumnType, Database, Schema};
    /// let db = Database::in_memory();
    /// let schema = Schema::new("note", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("text", ColumnType::Text),
    /// ])?;
    /// db.create_table(schema.clone())?;
    /// let plan = db.alter_table(schema.with_index(&["text"])?)?;
    /// assert_eq!(plan.changes(), ["build index on text"]);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn alter_table(&self, schema: Schema) -> Result<MigrationPlan> {
        let mut schema = schema;
        schema.finish()?;
        self.engine.alter(schema)
    }

    /// What [`Database::alter_table`] would do with `schema`, changing nothing, in memory or
    /// on disk: the dry run of a migration, as [`Database::migration_plan`] is for a Rust
    /// type. The stored rows are checked against the new schema (unique constraints,
    /// checks, widenings), so a plan that comes back will run.
    ///
    /// ```
    /// use tabula::{Column, ColumnType, Database, Schema};
    /// let db = Database::in_memory();
    /// let schema = Schema::new("note", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("text", ColumnType::Text),
    /// ])?;
    /// db.create_table(schema.clone())?;
    /// let wider = schema.clone().with_index(&["text"])?;
    /// assert_eq!(db.alter_plan(wider)?.changes(), ["build index on text"]);
    /// assert_eq!(db.schema("note")?, schema);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn alter_plan(&self, schema: Schema) -> Result<MigrationPlan> {
        let mut schema = schema;
        schema.finish()?;
        self.engine.plan(&schema)
    }

    /// The migrations a table went through, oldest first, each with the log position at
    /// which it was committed (0 for an in-memory database) and the change in words; the
    /// schema file keeps them. `tabula schema DIR TABLE` shows them.
    pub fn schema_history(&self, table: &str) -> Result<Vec<SchemaChange>> {
        self.engine.schema_history(table)
    }

    /// Runs `f` as one transaction across any tables: if it returns `Ok`, everything it wrote
    /// is committed at once (as one line of the write-ahead log, for a persistent database);
    /// if it returns `Err` or panics, nothing it wrote remains, tables it created included
    /// (a panic goes on unwinding after the rollback). To give up with an error of your own,
    /// return `Err(Error::abort(e))`: the transaction returns `Error::Aborted`, whose
    /// `source()` is `e`.
    ///
    /// Inside, reads through the transaction's handles see its own writes. Other threads see
    /// the state before it or after it, never part of it. A statement that fails inside the
    /// transaction changes nothing and leaves the transaction usable.
    ///
    /// A plain handle *read* on the thread running the transaction sees the last committed
    /// version, not the transaction's writes (read through `tx.table::<T>()` to see them); a
    /// plain handle *write* there returns `Error::InTransaction`, since it would wait for the
    /// transaction it runs in. Readers on other threads go on meanwhile: they never wait for
    /// a transaction, nor for a commit's fsync.
    ///
    /// ```
    /// use tabula::{Database, Error, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Account { #[column(primary_key)] id: u64, balance: i64 }
    ///
    /// let db = Database::in_memory();
    /// let accounts = db.table::<Account>()?;
    /// accounts.insert_many(vec![Account { id: 1, balance: 100 }, Account { id: 2, balance: 0 }])?;
    /// let moved = db.transaction(|tx| {
    ///     let a = tx.table::<Account>()?;
    ///     a.update(|x| x.id == 1, |x| x.balance -= 150)?;
    ///     a.update(|x| x.id == 2, |x| x.balance += 150)?;
    ///     if a.get(1u64)?.map_or(0, |x| x.balance) < 0 {
    ///         return Err(Error::abort("account 1 would be overdrawn"));
    ///     }
    ///     Ok(())
    /// });
    /// assert!(matches!(moved, Err(Error::Aborted(_))));
    /// assert_eq!(accounts.get(1u64)?.unwrap().balance, 100);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn transaction<O>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<O>) -> Result<O> {
        let tx = Transaction::new(self.engine.begin("(transaction)")?);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let out = f(&tx)?;
            crate::sql::check_forward(&tx, crate::sql::ForwardCheck::Closure)?;
            Ok(out)
        }));
        self.engine.finish(tx.tx, outcome)
    }

    /// Runs `f` in a read transaction: every table read through it shows the same committed
    /// version, taken when it starts, and the reads inside take no lock at all. Writers go on
    /// meanwhile (their commits are seen by reads that start later); nothing waits for `f`.
    /// A plain handle used inside `f` reads the newest version at its own call. A version
    /// kept a long time holds the memory of what was written since (see `Stats::versions_held`).
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
        f(&ReadTransaction::new(&self.engine)?)
    }

    /// Writes a snapshot of every table changed since the last checkpoint, commits them with
    /// the manifest, and archives the write-ahead log. Afterwards opening the database reads
    /// the snapshots and an empty log. Only committed rows are written. Does nothing for an
    /// in-memory database.
    pub fn checkpoint(&self) -> Result<()> {
        self.engine.checkpoint()
    }

    /// Another name for [`checkpoint`](Database::checkpoint), as the seed called it.
    pub fn save(&self) -> Result<()> {
        self.checkpoint()
    }

    /// Writes every table's schema and rows to one JSON document at `path`, atomically (a
    /// temporary file renamed into place). The document is one consistent state of every
    /// table: commits made while it is written are wholly in it or wholly out of it.
    pub fn export_json(&self, path: impl AsRef<Path>) -> Result<()> {
        self.engine.export_json(path.as_ref())
    }

    /// Reads a document written by [`export_json`](Database::export_json): creates the tables
    /// that are missing, validates every row, and inserts everything in one transaction, or
    /// nothing. A malformed document, a table whose schema differs from the existing one, a
    /// key or unique value that collides with an existing row, or a value that does not fit
    /// its column is an error that changes nothing. Returns the number of rows inserted.
    pub fn import_json(&self, path: impl AsRef<Path>) -> Result<usize> {
        self.engine.import_json(path.as_ref())
    }

    /// Rows per table, bytes on disk per file kind, the log since the last checkpoint,
    /// archived segments and the total. A table not loaded yet shows the rows of its last
    /// checkpoint; on a read-only database, whose open read every snapshot, one found
    /// unlike what the manifest lists says so in [`TableStats::damaged`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use tabula::{Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Note { #[column(primary_key)] id: u64, text: String }
    /// let db = Database::open(dir.path().join("db"))?;
    /// db.table::<Note>()?.insert(Note { id: 0, text: "hello".into() })?;
    /// let stats = db.stats()?;
    /// assert_eq!(stats.tables[0].rows, 1);
    /// assert_eq!(stats.wal_records, 2); // the table's creation, then the insert
    /// println!("{stats}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Result<Stats> {
        self.engine.stats()
    }

    /// Checkpoints if anything changed since the last checkpoint (so the next open reads
    /// snapshots, not the log, as SQLite checkpoints its WAL when its last connection closes),
    /// makes every commit durable and releases the directory's lock. Every clone of this
    /// handle is closed with it: later calls return `Error::Closed`. Dropping the last clone
    /// also releases the lock, without the checkpoint (and, with `Buffered` durability,
    /// without the final fsync); nothing committed is lost either way. The rows' memory is
    /// let go here, not when the last handle goes (nothing can reach them any more): freed
    /// by a background thread, which may still be freeing them when `close` returns, or on
    /// this one when that thread is busy, or by the last reader still holding them.
    ///
    /// A failure of that last checkpoint or fsync is returned, and the database is closed
    /// all the same (its lock released): a database poisoned by a failed write
    /// (`Error::Poisoned`) is closed this way, and then opened again.
    pub fn close(&self) -> Result<()> {
        self.engine.close()
    }

    /// Whether [`close`](Database::close) has closed this database and released its
    /// directory (another open may then take it). Every call returns `Error::Closed` from
    /// the moment `close` starts closing.
    pub fn is_closed(&self) -> bool {
        self.engine.is_closed()
    }
}
