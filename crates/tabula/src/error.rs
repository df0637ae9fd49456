//! The one error type of tabula.

use std::path::{Path, PathBuf};

use crate::value::Value;

/// Every failure tabula reports.
///
/// Messages name the table, the column and the value involved, so that a log line is
/// enough to find the row at fault. A failed write changes nothing: not memory, not disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A unique column (or the primary key) already holds this value in another row.
    #[error(
        "unique constraint {table}.{column} violated by {}",
        violating(column, value)
    )]
    UniqueViolation {
        /// The table written to.
        table: String,
        /// The unique column (or primary key).
        column: String,
        /// The duplicated value.
        value: Value,
    },
    /// A column that is not nullable was given no value or `null`.
    #[error("{table}.{column} cannot be null")]
    NotNull {
        /// The table written to.
        table: String,
        /// The NOT NULL column.
        column: String,
    },
    /// A value does not fit the type of its column.
    #[error(
        "{table}.{column} is {expected}, which cannot hold {value}{}",
        why_not(expected, value)
    )]
    TypeMismatch {
        /// The table written to or queried.
        table: String,
        /// The column.
        column: String,
        /// The column's type, as written in the schema (`u8`, `text`, ...).
        expected: String,
        /// The value that was refused.
        value: Value,
    },
    /// No table of this name exists.
    #[error("no table named {table:?}")]
    UnknownTable {
        /// The name that was asked for.
        table: String,
    },
    /// A table has no column of this name.
    #[error("table {table} has no column {column:?}")]
    UnknownColumn {
        /// The table.
        table: String,
        /// The name that was asked for.
        column: String,
    },
    /// A row makes a check false (`#[column(check = "...")]`, `#[table(check = "...")]`):
    /// nothing was written.
    #[error(
        "check {constraint:?} on table {table} is false for {}{}",
        which_row(key),
        with_values(values)
    )]
    Check {
        /// The table.
        table: String,
        /// The check's condition, as written.
        constraint: String,
        /// The row's primary key; `Value::Null` when it was not assigned yet (an
        /// auto-increment insert).
        key: Value,
        /// The columns the check reads, in the table's order, with the row's values. A new
        /// row's auto-increment key shows here as the check saw it: the key the row would
        /// have been given.
        values: Vec<(String, Value)>,
    },
    /// SQL text that cannot be parsed or bound (an unknown table or column, a wrong number
    /// of arguments), with where it is: 1-based line and column (0 when not known).
    #[error("{}", sql_message(*line, *column, reason))]
    Sql {
        /// The line.
        line: u64,
        /// The column.
        column: u64,
        /// What is wrong.
        reason: String,
    },
    /// One statement of a SQL text of several failed while it ran (a constraint, a type, a
    /// foreign key): which one, where it starts, and the error itself as `source` (also
    /// through [`Error::innermost`]). The statements before it stay committed, as with
    /// `sqlite3_exec` (under `tx.sql`, they stay in the transaction, whose closure decides);
    /// a failure inside `BEGIN … COMMIT`, or of its `COMMIT` (a foreign key), rolled that
    /// transaction back.
    /// A text of one statement gives its error as it is; `Error::Sql` and
    /// `Error::Unsupported` carry the statement's number in their words instead, and errors
    /// about the database rather than the statement (`ReadOnly`, `Locked`, `Closed`,
    /// `Poisoned`) come as they are.
    #[error("{}", statement_message(*number, *line, *rolled_back, source))]
    Statement {
        /// The statement's number in the text, from 1.
        number: usize,
        /// The line it starts on, from 1 (0 when not known).
        line: u64,
        /// Whether it was inside `BEGIN … COMMIT`, whose statements were all rolled back.
        rolled_back: bool,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// A SQL feature tabula does not support ("window functions are not supported").
    #[error("not supported: {feature}")]
    Unsupported {
        /// The feature, in words.
        feature: String,
    },
    /// A SQL expression (`tabula query --where`, `Select::where_sql`) could not be parsed or
    /// does not fit the table.
    #[error("invalid expression {}: {reason}", clipped(expression))]
    InvalidExpression {
        /// The expression as written.
        expression: String,
        /// What is wrong, with the line and column where the parser saw it.
        reason: String,
    },
    /// A column was used in a way it does not allow: ordering by a `json` column, `get_by` on
    /// a column that is not unique, the sum of a text column.
    #[error("{table}.{column}: {reason}")]
    InvalidColumnUse {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is not allowed.
        reason: String,
    },
    /// An update tried to change a row's primary key; delete and insert instead.
    #[error("update of {table} would change the primary key {column} from {old} to {new}; delete the row and insert it under the new key instead")]
    PrimaryKeyChanged {
        /// The table.
        table: String,
        /// The primary-key column.
        column: String,
        /// The key before the update.
        old: Value,
        /// The key the update produced.
        new: Value,
    },
    /// The auto-increment counter of a table cannot produce another key of its column type.
    #[error("auto-increment key of {table}.{column} is exhausted after {last}")]
    KeyExhausted {
        /// The table.
        table: String,
        /// The primary-key column.
        column: String,
        /// The last key handed out.
        last: i64,
    },
    /// The schema of a Rust type does not match the table already registered or stored.
    #[error("schema of table {table} does not match: {reason}")]
    SchemaMismatch {
        /// The table.
        table: String,
        /// Which columns differ and how.
        reason: String,
    },
    /// A table or column name is not allowed.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The refused name.
        name: String,
        /// What a name may hold.
        reason: String,
    },
    /// A foreign key points at a row that does not exist, or a referenced row is still in use.
    #[error("foreign key {table}.{column} -> {references}: {reason} (value {value})")]
    ForeignKey {
        /// The referencing table.
        table: String,
        /// The referencing column.
        column: String,
        /// The referenced table.
        references: String,
        /// The key involved.
        value: Value,
        /// What went wrong.
        reason: String,
    },
    /// A table other tables reference through foreign keys cannot be dropped: their rows
    /// would point nowhere.
    #[error("table {table} cannot be dropped while referenced by {referenced_by}; drop the referencing tables (or their foreign keys) first")]
    TableReferenced {
        /// The table to drop.
        table: String,
        /// The referencing columns, as `table.column`, comma-separated.
        referenced_by: String,
    },
    /// A plain table handle wrote (or attached, checkpointed, ...) on the thread that is
    /// running a transaction of the same database, which would wait for that transaction to
    /// end; inside `Database::transaction` use the handles from `tx.table::<T>()`. (A plain
    /// handle's *read* there works: it sees the last committed version, without the
    /// transaction's writes.)
    #[error("{table}: this call would wait for the transaction running on this thread (a plain handle's write, a table's first load, an export, a checkpoint, a close); make it after that transaction (inside Database::transaction, write through tx.table())")]
    InTransaction {
        /// The table.
        table: String,
    },
    /// A table whose stored schema differs from its Rust type was attached inside a
    /// transaction. Migrating a stored table rewrites its files and cannot be undone, so it
    /// never runs inside a transaction: call `db.table::<T>()` before the transaction.
    #[error("table {table} needs a schema migration ({changes}), which cannot run inside a transaction; call db.table::<T>() before the transaction")]
    MigrationInTransaction {
        /// The table.
        table: String,
        /// What the migration would change.
        changes: String,
    },
    /// A handle from one database was used with another (a `TableHandle` given to the
    /// `ReadTransaction` of a different `Database`).
    #[error("the handle on table {table} belongs to another database")]
    WrongDatabase {
        /// The handle's table.
        table: String,
    },
    /// One transaction's changes would make a write-ahead log record larger than the log
    /// accepts; split the transaction.
    #[error("one transaction's log record would be {bytes} bytes, above the {limit} byte limit; split the transaction")]
    TransactionTooLarge {
        /// The size the record would have.
        bytes: u64,
        /// The largest record the log accepts.
        limit: u64,
    },
    /// A table has as many rows as it can address (`u32::MAX` slots).
    #[error("table {table} is full: it cannot hold more than {limit} rows")]
    TableFull {
        /// The table.
        table: String,
        /// The most rows a table holds.
        limit: u64,
    },
    /// A transaction's closure gave up with an error of the caller's own, made with
    /// [`Error::abort`]; it is this error's [`source`](std::error::Error::source) and can be
    /// downcast back to its type.
    #[error("transaction aborted: {0}")]
    Aborted(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A transaction's table was used from inside one of its own closures (a filter that
    /// writes, say) while that table was busy; finish the first call, then make the second.
    #[error("a transaction's table was used from inside a closure of another call on it; finish that call first")]
    Reentrant,
    /// `verify`, `repair` or a read-only open was pointed at a path that is not a database
    /// directory: it holds none of the files a database has (its write-ahead log, manifest,
    /// schema files, snapshots or archived log segments).
    #[error("{path} is not a tabula database directory (it holds no wal/transaction.log, manifest.json, schema file, snapshot or archived log segment)")]
    NotADatabase {
        /// The path.
        path: PathBuf,
    },
    /// An export or a dump was asked to write inside a database directory, where it would
    /// overwrite the database's own files.
    #[error("will not write {path}: it is inside the database directory {database}, whose files it could overwrite; choose a path outside it")]
    ExportIntoDatabase {
        /// The path asked for.
        path: PathBuf,
        /// The database directory it lies in.
        database: PathBuf,
    },
    /// A stored file is damaged.
    #[error("{}: corrupt: {reason}", place(file, *line))]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// The 1-based line (0 when the whole file is at fault).
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `Database` in this one) has the directory open.
    /// [`Database::open_read_only`](crate::Database::open_read_only) reads it beside that
    /// process.
    #[error("database {path} is locked: it is open in another process (or another Database in this one); it can be read beside it (Database::open_read_only, or any tabula read command), and written only through it")]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// A write (or a checkpoint, migration or import) on a database opened with
    /// [`Database::open_read_only`](crate::Database::open_read_only).
    #[error("cannot {operation}: database {path} was opened read-only")]
    ReadOnly {
        /// The database directory.
        path: PathBuf,
        /// What was refused ("write table students", "checkpoint", ...).
        operation: String,
    },
    /// A JSON document could not be read or written.
    #[error("JSON error in {context}: {source}")]
    Json {
        /// What was being read or written.
        context: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The database was closed with [`Database::close`](crate::Database::close).
    #[error("{}", closed_message(.path))]
    Closed {
        /// The database directory (empty for an in-memory database).
        path: PathBuf,
    },
    /// The database refuses reads and writes after an earlier failure left durability
    /// unknown, until it is closed and opened again.
    #[error("database refuses reads and writes until it is closed and opened again: {reason}")]
    Poisoned {
        /// The failure that caused it.
        reason: String,
    },
}

/// An `Error::Sql`'s words: where it is when that is known (a value that fails as the
/// statement runs has no place in the text).
fn sql_message(line: u64, column: u64, reason: &str) -> String {
    match (line, column) {
        (0, _) => format!("SQL error: {reason}"),
        (l, 0) => format!("SQL error at line {l}: {reason}"),
        (l, c) => format!("SQL error at line {l}, column {c}: {reason}"),
    }
}

/// A stored row that a Rust type cannot read (a json field whose type changed since the
/// row was written: `Vec<String>` to `Vec<u32>`) is `Error::SchemaMismatch` naming the row's
/// key and the column; any other error is returned as it is.
pub(crate) fn unreadable_stored(table: &str, key: &Value, e: Error) -> Error {
    match e {
        Error::Json { context, source } => {
            let column = context
                .strip_prefix("column ")
                .and_then(|c| c.strip_prefix(table))
                .and_then(|c| c.strip_prefix('.'))
                .unwrap_or(&context);
            Error::SchemaMismatch {
                table: table.to_owned(),
                reason: format!(
                    "the stored row with key {key} holds in {column} a JSON document that the \
                     field's type cannot read: {source}"
                ),
            }
        }
        e => e,
    }
}

/// The value a unique constraint's message shows: a composite one's (`column` is a list,
/// `(x, y)`) is the text of its values, `(1, "a")`, shown as it is rather than quoted again.
pub(crate) fn violating(column: &str, value: &Value) -> String {
    match value {
        Value::Text(t) if column.starts_with('(') => t.clone(),
        v => v.to_string(),
    }
}

fn statement_message(number: usize, line: u64, rolled_back: bool, source: &Error) -> String {
    let at = if line > 0 {
        format!(" (line {line})")
    } else {
        String::new()
    };
    let undone = if rolled_back {
        "; its transaction was rolled back"
    } else {
        ""
    };
    format!("statement {number}{at} failed{undone}: {source}")
}

impl Error {
    /// The error itself, under any [`Error::Statement`] that says where in a SQL text it
    /// happened: what to match on to handle a kind of failure whatever text it came from.
    ///
    /// ```
    /// use tabula::{Database, Error};
    /// let db = Database::in_memory();
    /// let e = db
    ///     .sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);
    ///           INSERT INTO t (v) VALUES (1);
    ///           INSERT INTO t (v) VALUES (1)")
    ///     .unwrap_err();
    /// assert!(e.to_string().starts_with("statement 3 (line 3) failed: unique constraint"));
    /// assert!(matches!(e.innermost(), Error::UniqueViolation { .. }));
    /// // The statements before it stay committed.
    /// assert_eq!(db.sql("SELECT COUNT(*) FROM t")?.rows[0][0], tabula::Value::Int(1));
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn innermost(&self) -> &Error {
        match self {
            Error::Statement { source, .. } => source.innermost(),
            e => e,
        }
    }

    /// Aborts a transaction with the caller's own error: return `Err(Error::abort(e))` from
    /// the closure given to [`Database::transaction`](crate::Database::transaction). The
    /// transaction rolls back and returns [`Error::Aborted`], whose `source()` is `e`.
    ///
    /// ```
    /// use tabula::{Database, Error, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Account { #[column(primary_key)] id: u64, balance: i64 }
    ///
    /// #[derive(Debug)]
    /// struct Overdrawn(i64);
    /// impl std::fmt::Display for Overdrawn {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         write!(f, "balance would be {}", self.0)
    ///     }
    /// }
    /// impl std::error::Error for Overdrawn {}
    ///
    /// let db = Database::in_memory();
    /// let err = db
    ///     .transaction(|tx| {
    ///         let a = tx.table::<Account>()?;
    ///         a.insert(Account { id: 1, balance: -5 })?;
    ///         Err::<(), _>(Error::abort(Overdrawn(-5)))
    ///     })
    ///     .unwrap_err();
    /// let cause = std::error::Error::source(&err).unwrap();
    /// assert_eq!(cause.downcast_ref::<Overdrawn>().unwrap().0, -5);
    /// assert_eq!(db.table::<Account>()?.count()?, 0);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn abort(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Error {
        Error::Aborted(error.into())
    }

    /// `Error::Corrupt` for `file` at 1-based `line` (0: the whole file).
    pub(crate) fn corrupt(file: &Path, line: u64, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            file: file.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }

    /// `Error::Io` for `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `file:line`, or `file` alone for line 0 (the whole file).
fn place(file: &Path, line: u64) -> String {
    if line == 0 {
        file.display().to_string()
    } else {
        format!("{}:{line}", file.display())
    }
}

/// The result type of every fallible tabula call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The row a check refused: by its key, or as a new row whose key auto-increment had not
/// given it (a check that reads the key saw the one it would have had, shown with the
/// values: saying "not assigned" beside `id = 3` would read as a contradiction).
fn which_row(key: &Value) -> String {
    if key.is_null() {
        "a new row".to_owned()
    } else {
        format!("the row with key {key}")
    }
}

/// `: a = 1, b = "x"`, or nothing for no values.
fn with_values(values: &[(String, Value)]) -> String {
    if values.is_empty() {
        String::new()
    } else {
        format!(": {}", shown_values(values))
    }
}

/// `a = 1, b = "x"`: a check's columns with a row's values.
pub(crate) fn shown_values(values: &[(String, Value)]) -> String {
    let shown: Vec<String> = values.iter().map(|(c, v)| format!("{c} = {v}")).collect();
    shown.join(", ")
}

/// A text quoted for a message, cut after its first [`CLIPPED`] characters: a message
/// about a 50 kB expression need not repeat it (the error's field keeps it whole).
fn clipped(text: &str) -> String {
    match text.char_indices().nth(CLIPPED) {
        Some((end, _)) => format!("{:?}… ({} characters)", &text[..end], text.chars().count()),
        None => format!("{text:?}"),
    }
}

/// How much of an expression a message quotes, at most, in characters.
const CLIPPED: usize = 200;

fn closed_message(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        "the in-memory database is closed".to_owned()
    } else {
        format!("database {} is closed", path.display())
    }
}

/// Why a value of the right kind does not fit a column's type, where the type's name alone
/// does not say (`TypeMismatch`'s message). Types are known here by name only: the schema
/// module uses this one.
fn why_not(expected: &str, value: &Value) -> String {
    match (expected, value) {
        ("f64" | "f32", Value::Int(i))
            if i.unsigned_abs() > 1u64 << if expected == "f64" { 53 } else { 24 } =>
        {
            let bits = if expected == "f64" { 53 } else { 24 };
            format!(
                " (an integer beyond ±2^{bits} has no exact {expected} value: store it in an \
                 integer column, or write it as a float)"
            )
        }
        ("f32", Value::Float(_)) => " (beyond f32's range)".to_owned(),
        ("json", Value::Text(t)) => format!(" ({})", json_refusal(t)),
        (t, Value::Float(f)) if int_bounds(t).is_some() && (f.fract() != 0.0 || !f.is_finite()) => {
            " (not a whole number)".to_owned()
        }
        (t, Value::Int(_) | Value::Float(_)) => match int_bounds(t) {
            Some((lo, hi)) => format!(" ({t} holds {lo} to {hi})"),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// Why a `json` column refuses `text`. It holds only what `serde_json::Value` reads back,
/// so that a typed field reads every stored document: valid JSON is refused too when a
/// number is beyond a double's range or it nests deeper than serde_json reads.
fn json_refusal(text: &str) -> String {
    let Err(e) = serde_json::from_str::<serde_json::Value>(text) else {
        return "not a JSON document".to_owned();
    };
    let place = format!("line {}, column {}", e.line(), e.column());
    let reason = e.to_string();
    if reason.starts_with("number out of range") {
        format!("a number beyond a double's range, at {place}: a json column keeps only numbers a double holds")
    } else if reason.starts_with("recursion limit exceeded") {
        format!("nested more than 127 levels deep, at {place}: a json column keeps only what serde_json reads back")
    } else {
        format!("not a JSON document: {reason}")
    }
}

/// The values an integer type holds, by its name (`ColumnType::int_range`, which a test
/// there keeps this in step with).
pub(crate) fn int_bounds(name: &str) -> Option<(i64, i64)> {
    Some(match name {
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" => (i64::MIN, i64::MAX),
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" => (0, i64::MAX),
        _ => return None,
    })
}
