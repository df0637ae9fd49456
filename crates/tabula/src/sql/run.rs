//! Running SQL text: its statements (parsed by [`parse`](super::parse), or one at a time
//! by [`stream`](super::stream) for a long text), each committed on its own unless grouped
//! by `BEGIN … COMMIT`/`ROLLBACK` in the same text; a group of reads only runs on one pinned
//! version without the writers' lock. Each statement itself is run by
//! [`execute`](super::execute); an error is placed in its statement (number and line).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use sqlparser::ast::Statement;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::sql::alter;
use crate::sql::auto_index::AutoIndexes;
use crate::sql::cache;
use crate::sql::ddl::{check_forward, ForwardCheck};
use crate::sql::execute::{execute, written_table};
use crate::sql::parse::{check_params, Parsed};
use crate::sql::point;
use crate::sql::rows_to::Each;
use crate::sql::select;
use crate::sql::stream::{Next, Statements, Stream};
use crate::sql::target::{Snapshot, Target};
use crate::sql::unsupported;
use crate::txn::{ReadTransaction, Transaction};
use crate::value::Value;

/// What a SQL statement returned: the column names and rows of a `SELECT`, and how many
/// rows an `INSERT`, `UPDATE` or `DELETE` changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlResult {
    /// The result's column names (empty for a statement that returns no rows).
    pub columns: Vec<String>,
    /// The rows, each with a value per column.
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted.
    pub changed: u64,
}

impl SqlResult {
    /// The result of a statement that returns no rows and changed `changed`.
    pub(crate) fn of_changes(changed: u64) -> Self {
        SqlResult {
            changed,
            ..SqlResult::default()
        }
    }
}

/// A result's column names made distinct, as `tabula sql` prints them and the Python
/// package names its rows' keys: a name the result repeats (`SELECT a.id, b.id`) is `id`,
/// then `id:1`, `id:2`, … after its first use, skipping a name the query gave a column
/// itself (`2 AS "a:1"`), so that no column is lost where names key the values.
///
/// ```
/// let names = |c: &[&str]| tabula::distinct_column_names(&c.iter().map(|s| s.to_string()).collect::<Vec<_>>());
/// assert_eq!(names(&["id", "name", "id", "id"]), ["id", "name", "id:1", "id:2"]);
/// assert_eq!(names(&["a", "a", "a:1"]), ["a", "a:2", "a:1"]);
/// ```
pub fn distinct_column_names(columns: &[String]) -> Vec<String> {
    let given: std::collections::HashSet<&str> = columns.iter().map(String::as_str).collect();
    if given.len() == columns.len() {
        return columns.to_vec();
    }
    let mut names: Vec<String> = Vec::with_capacity(columns.len());
    let mut used = std::collections::HashSet::with_capacity(columns.len());
    // The last suffix given to each name: the next one starts after it, so that a result
    // repeating one name thousands of times is named in one pass.
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for c in columns {
        let mut name = c.clone();
        if used.contains(&name) {
            let n = last.entry(c.as_str()).or_insert(0);
            while used.contains(&name) || given.contains(name.as_str()) {
                *n += 1;
                name = format!("{c}:{n}");
            }
        }
        used.insert(name.clone());
        names.push(name);
    }
    names
}

/// Runs `text` (one or more statements separated by `;`) with `params` bound to its
/// placeholders, returning the last statement's result. See `Database::sql`.
pub(crate) fn run(engine: &Arc<Engine>, text: &str, params: &[Value]) -> Result<SqlResult> {
    run_each(engine, text, params, None)
}

/// [`run`], handing the last statement's result rows to `each` (see
/// `Database::sql_each`): streamed as they are found when that statement is a query of its
/// own, after it otherwise.
pub(crate) fn run_each(
    engine: &Arc<Engine>,
    text: &str,
    params: &[Value],
    each: Option<Each<'_>>,
) -> Result<SqlResult> {
    if text.len() > cache::LONGEST {
        // A script: run as it is parsed, a statement at a time (see `stream`).
        let stream = Stream::new(text)?;
        check_params(stream.placeholders(), params)?;
        let params = &*no_nan(params);
        return run_statements(
            engine,
            Statements::Streamed(Box::new(stream)),
            params,
            each,
            None,
        );
    }
    run_parsed(engine, &*cache::parsed(text)?, params, each, true, None)
}

/// What [`run_script`] hands each statement's result to; an error it returns ends the text
/// as a failing statement does.
pub(crate) type Done<'f> = &'f mut dyn FnMut(SqlResult) -> Result<()>;

/// Keeps the result of a statement that completed as the last (`run_statements`' `keep`).
type Keep<'k> = dyn FnMut(&mut SqlResult, SqlResult) -> Result<()> + 'k;

/// [`run`], handing every statement's result to `done` as the statement completes; returns
/// the last one's columns and the rows the text changed and kept (see
/// `Database::sql_script`).
pub(crate) fn run_script(
    engine: &Arc<Engine>,
    text: &str,
    params: &[Value],
    done: Done<'_>,
) -> Result<SqlResult> {
    if text.len() > cache::LONGEST {
        let stream = Stream::new(text)?;
        check_params(stream.placeholders(), params)?;
        let params = &*no_nan(params);
        let statements = Statements::Streamed(Box::new(stream));
        return run_statements(engine, statements, params, None, Some(done));
    }
    let parsed = cache::parsed(text)?;
    parsed.check_params(params)?;
    let params = &*no_nan(params);
    let statements = Statements::Parsed {
        parsed: &parsed,
        next: 0,
    };
    run_statements(engine, statements, params, None, Some(done))
}

/// [`run_each`] on statements parsed already (a prepared [`crate::Statement`]). `names`:
/// whether a streamed result needs its column names (`sql_each` returns them; a prepared
/// statement's `each` does not, which spares a point lookup their copies); `scratch`: what
/// a prepared statement's point lookup keeps from run to run (see [`point::run`]).
pub(crate) fn run_parsed(
    engine: &Arc<Engine>,
    parsed: &Parsed,
    params: &[Value],
    mut each: Option<Each<'_>>,
    names: bool,
    scratch: Option<&mut point::Scratch>,
) -> Result<SqlResult> {
    parsed.check_params(params)?;
    let params = &*no_nan(params);
    if let Some(p) = parsed.point() {
        let each = each.as_mut().map(Each::reborrow);
        if let Some(answer) = point::run(engine, p, params, each, names, scratch) {
            return answer;
        }
    }
    let statements = Statements::Parsed { parsed, next: 0 };
    run_statements(engine, statements, params, each, None)
}

/// Runs the statements one after the other (see `Database::sql`), each committing on its
/// own unless grouped by `BEGIN … COMMIT`/`ROLLBACK`. A group runs in one transaction as
/// its statements come: a nested `BEGIN`, a failing statement or the end of the text
/// before `COMMIT` rolls all of it back. `params` are checked against the placeholders
/// already, NaN made null. With `done`, each statement's result (but `BEGIN`'s, `COMMIT`'s
/// and `ROLLBACK`'s, which have none) goes to it as the statement completes, and the
/// result returned has the last one's columns and the rows the text changed and kept.
fn run_statements(
    engine: &Arc<Engine>,
    mut statements: Statements<'_>,
    params: &[Value],
    mut each: Option<Each<'_>>,
    mut done: Option<Done<'_>>,
) -> Result<SqlResult> {
    let mut last = SqlResult::default();
    // With `done`, the result returned counts the rows the whole text changed and kept:
    // each statement's once it commits, a transaction's at its COMMIT.
    let scripted = done.is_some();
    let mut committed = 0u64;
    // The result of a statement that completed: kept as the last; with `done`, handed to
    // it and kept without its rows.
    let mut keep = |last: &mut SqlResult, r: SqlResult| -> Result<()> {
        match done.as_mut() {
            Some(d) => {
                let kept = SqlResult {
                    columns: r.columns.clone(),
                    rows: Vec::new(),
                    changed: r.changed,
                };
                d(r)?;
                *last = kept;
                Ok(())
            }
            None => {
                *last = r;
                Ok(())
            }
        }
    };
    while let Some(next) = statements.next() {
        let Next {
            statement,
            index: i,
            start,
        } = next?;
        let number = i + 1;
        let at = |in_transaction| At {
            number,
            start,
            in_transaction,
        };
        match &*statement {
            Statement::StartTransaction { .. } => {
                let read = read_group_here(
                    engine,
                    &mut statements,
                    &statement,
                    (i, start),
                    params,
                    scripted,
                    &mut keep,
                )?;
                if let Some((committed, r)) = read {
                    // As a transaction's: the last result kept by its COMMIT (see below),
                    // none by a ROLLBACK.
                    last = if committed && !scripted {
                        r
                    } else {
                        SqlResult::default()
                    };
                    continue;
                }
                match write_group(engine, &mut statements, (number, start), params, &mut keep)? {
                    // With `done` each statement's result went out as it completed: the
                    // last statement is the COMMIT, which returns no rows (a caller
                    // printing the rows changed after the last query must not take the
                    // group's last query for it). Without, the group's last result is
                    // kept, its rows with it.
                    Some((r, changed)) => {
                        last = if scripted { SqlResult::default() } else { r };
                        committed += changed;
                    }
                    None => last = SqlResult::default(),
                }
            }
            Statement::Rollback {
                savepoint: Some(_), ..
            } => return Err(unsupported("savepoints")),
            Statement::Commit { .. } | Statement::Rollback { .. } => {
                return Err(error_at(
                    start,
                    format!("statement {number}: COMMIT or ROLLBACK without BEGIN"),
                ));
            }
            s if alter::is_migration(s) => {
                let r = alter::migrate(engine, s).map_err(|e| {
                    let several = i > 0 || statements.has_more();
                    numbered(e, at(false), several)
                })?;
                committed += r.changed;
                keep(&mut last, r)?;
            }
            s if is_read(s) => {
                let alone_last = !statements.has_more();
                let streamed = if alone_last { each.take() } else { None };
                let r = read(engine, s, params, streamed)
                    .map_err(|e| numbered(e, at(false), i > 0 || !alone_last))?;
                keep(&mut last, r)?;
            }
            s => {
                let tx = Transaction::new(engine.begin(&written_table(s))?);
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    let auto = AutoIndexes::default();
                    let r = execute(Target::tx(&tx, &auto), s, params)?;
                    check_forward(&tx, ForwardCheck::Alone)?;
                    Ok(r)
                }));
                let r = engine.finish(tx.tx, outcome).map_err(|e| {
                    let several = i > 0 || statements.has_more();
                    numbered(e, at(false), several)
                })?;
                committed += r.changed;
                keep(&mut last, r)?;
            }
        }
    }
    if scripted {
        last.changed = committed;
    }
    if let Some(f) = each {
        hand_out(f, &std::mem::take(&mut last.rows))?;
    }
    Ok(last)
}

/// A `BEGIN` group (its statement `i`, at `start`) of reads only, run without a lock: its
/// statements read one version, as a transaction's would (and a read-only database runs
/// it). Whether it ended with COMMIT, and the result it keeps (through `keep`); `None` when
/// the group writes.
#[allow(clippy::too_many_arguments)]
fn read_group_here(
    engine: &Arc<Engine>,
    statements: &mut Statements<'_>,
    statement: &Statement,
    (i, start): (usize, (u64, u64)),
    params: &[Value],
    scripted: bool,
    keep: &mut Keep<'_>,
) -> Result<Option<(bool, SqlResult)>> {
    // A text parsed whole is checked first: a nested BEGIN or a missing end runs nothing
    // of the group (and takes no lock). A streamed one finds them as it goes, and rolls
    // back what ran.
    Ok(match statements {
        Statements::Parsed { parsed, next } => {
            check_group(parsed, i)?;
            match read_group_end(parsed, i) {
                Some(end) => {
                    let mut r = SqlResult::default();
                    read_group(engine, parsed, i, end, params, scripted, &mut |x| {
                        keep(&mut r, x)
                    })?;
                    *next = end + 1;
                    let committed = matches!(parsed.statements[end], Statement::Commit { .. });
                    Some((committed, r))
                }
                None => None,
            }
        }
        // A streamed text's group, on a database opened read-only: SQLite's
        // deferred BEGIN, reading one version until a write, which is refused
        // as any write is here (the reads before it changed nothing), for the
        // caller to run the text again with the lock.
        Statements::Streamed(_) => match engine.read_only_storage() {
            Some(storage) if is_deferred(statement) => {
                let mut r = SqlResult::default();
                let committed = streamed_read_group(
                    engine,
                    statements,
                    params,
                    (i + 1, start),
                    &mut |x| keep(&mut r, x),
                    || storage.refuse("write table (sql)"),
                )?;
                Some((committed, r))
            }
            _ => None,
        },
    })
}

/// Runs a `BEGIN` group that writes (its statement `number`, at `start`) in one
/// transaction, as its statements come, each statement's result going to `keep`: the
/// group's last result and the rows it changed once its COMMIT commits, `None` once its
/// ROLLBACK rolls it back. A nested `BEGIN`, a failing statement or the end of the text
/// before `COMMIT` rolls all of it back, and is the error.
fn write_group(
    engine: &Arc<Engine>,
    statements: &mut Statements<'_>,
    (number, start): (usize, (u64, u64)),
    params: &[Value],
    keep: &mut Keep<'_>,
) -> Result<Option<(SqlResult, u64)>> {
    let tx = Transaction::new(engine.begin("(sql)")?);
    // The COMMIT or ROLLBACK that ends the group (number and start), once met.
    let mut end: Option<(bool, usize, (u64, u64))> = None;
    let mut group_changed = 0u64;
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<SqlResult> {
        let mut r = SqlResult::default();
        loop {
            let Some(next) = statements.next() else {
                return Err(error_at(start, ends_inside_begin(number)));
            };
            // A statement of a streamed text that does not parse ends the
            // group too.
            let Next {
                statement: inner,
                index: k,
                start: inner_start,
            } = next.map_err(|e| match e {
                Error::Sql {
                    line,
                    column,
                    reason,
                } => Error::Sql {
                    line,
                    column,
                    reason: format!(
                        "{reason}; the transaction statement {number} began was \
                         rolled back"
                    ),
                },
                e => e,
            })?;
            let inner_at = At {
                number: k + 1,
                start: inner_start,
                in_transaction: true,
            };
            match &*inner {
                Statement::StartTransaction { .. } => {
                    return Err(error_at(
                        inner_start,
                        format!(
                            "statement {}: BEGIN inside the transaction statement \
                             {number} began; transactions do not nest. The \
                             transaction was rolled back",
                            k + 1
                        ),
                    ));
                }
                Statement::Commit { .. } => {
                    end = Some((true, k, inner_start));
                    check_forward(&tx, ForwardCheck::Commit)
                        .map_err(|e| numbered(e, inner_at, true))?;
                    return Ok(r);
                }
                Statement::Rollback {
                    savepoint: None, ..
                } => {
                    end = Some((false, k, inner_start));
                    return Err(Error::Aborted("ROLLBACK".into()));
                }
                s => {
                    let auto = AutoIndexes::default();
                    let result = execute(Target::tx(&tx, &auto), s, params)
                        .map_err(|e| numbered(e, inner_at, true))?;
                    group_changed += result.changed;
                    keep(&mut r, result)?;
                }
            }
        }
    }));
    match (engine.finish(tx.tx, outcome), end) {
        (Ok(r), _) => Ok(Some((r, group_changed))),
        (Err(Error::Aborted(_)), Some((false, ..))) => Ok(None),
        // A failure of the commit itself (a foreign key, checked then) is the COMMIT's; one
        // of a statement inside is already placed.
        (Err(e), Some((true, k, commit_start))) => {
            let commit_at = At {
                number: k + 1,
                start: commit_start,
                in_transaction: true,
            };
            Err(numbered(e, commit_at, true))
        }
        (Err(e), _) => Err(e),
    }
}

/// A SQL error at `(line, column)` of the text.
fn error_at((line, column): (u64, u64), reason: String) -> Error {
    Error::Sql {
        line,
        column,
        reason,
    }
}

/// Why a text whose statement `number` is a `BEGIN` with no `COMMIT` or `ROLLBACK` after
/// it fails (checked first for a text parsed whole, met at its end for a streamed one).
fn ends_inside_begin(number: usize) -> String {
    format!("statement {number}: the text ends inside BEGIN; the transaction was rolled back")
}

/// Checks the `BEGIN` group starting at statement `i` of a text parsed whole, before any
/// of it runs: it must end with `COMMIT` or `ROLLBACK`, with no `BEGIN` inside.
fn check_group(parsed: &Parsed, i: usize) -> Result<()> {
    let number = i + 1;
    let statements = &parsed.statements;
    let end = statements[i + 1..]
        .iter()
        .position(|s| {
            matches!(
                s,
                Statement::Commit { .. }
                    | Statement::Rollback {
                        savepoint: None,
                        ..
                    }
            )
        })
        .map(|p| i + 1 + p);
    let inner = &statements[i + 1..end.unwrap_or(statements.len())];
    if let Some(p) = inner
        .iter()
        .position(|s| matches!(s, Statement::StartTransaction { .. }))
    {
        let nested = i + 1 + p;
        return Err(parsed.error_at(
            nested,
            format!(
                "statement {}: BEGIN inside the transaction statement {number} began; \
                 transactions do not nest. Nothing of it ran",
                nested + 1
            ),
        ));
    }
    if end.is_none() {
        return Err(parsed.error_at(i, ends_inside_begin(number)));
    }
    Ok(())
}

/// The position of the `COMMIT` or `ROLLBACK` ending the group that statement `i` (a
/// `BEGIN`) of a text checked by [`check_group`] starts, when every statement inside it is a
/// read ([`is_read`]) and the `BEGIN` is a deferred one (SQLite's `BEGIN IMMEDIATE` and
/// `EXCLUSIVE` take the lock at once, and so do they here).
fn read_group_end(parsed: &Parsed, i: usize) -> Option<usize> {
    let statements = &parsed.statements;
    if !is_deferred(statements.get(i)?) {
        return None;
    }
    let end = i
        + 1
        + statements.get(i + 1..)?.iter().position(|s| {
            matches!(
                s,
                Statement::Commit { .. }
                    | Statement::Rollback {
                        savepoint: None,
                        ..
                    }
            )
        })?;
    statements[i + 1..end].iter().all(is_read).then_some(end)
}

/// Runs the reads of the group `BEGIN` (statement `begin`) … `end` (its `COMMIT` or
/// `ROLLBACK`) of `parsed` on one committed version, pinned by their first read, without
/// the writers' lock: what a transaction of reads sees, as in SQLite (whose deferred
/// `BEGIN` takes no lock until the first write). Each result goes to `out` as its
/// statement completes, so that those before a failing one are not lost. A table loaded
/// from disk after a commit changed one the group had read already (a database written by
/// another process) tears the version: the group runs again from its start, a few times
/// at most, unless `handed_out` says `out` shows results to someone already (then it is an
/// error saying so).
fn read_group(
    engine: &Arc<Engine>,
    parsed: &Parsed,
    begin: usize,
    end: usize,
    params: &[Value],
    handed_out: bool,
    out: &mut dyn FnMut(SqlResult) -> Result<()>,
) -> Result<()> {
    let mut tries = 0;
    'again: loop {
        tries += 1;
        let snap = Snapshot::new(engine);
        for k in begin + 1..end {
            let at = At {
                number: k + 1,
                start: parsed.start(k),
                in_transaction: true,
            };
            let r = execute(Target::read(&snap), &parsed.statements[k], params);
            // Checked before the statement's own outcome: a torn version can fail it too.
            if snap.torn() {
                if (k == begin + 1 || !handed_out) && tries < 3 {
                    continue 'again;
                }
                return Err(numbered(
                    Error::Sql {
                        line: at.start.0,
                        column: 0,
                        reason: "commits kept changing the tables this transaction read \
                                 while others were loaded from disk; run it again"
                            .into(),
                    },
                    at,
                    true,
                ));
            }
            out(r.map_err(|e| numbered(e, at, true))?)?;
        }
        return Ok(());
    }
}

/// Whether `s` is a `BEGIN` that takes no lock until the first write (SQLite's default;
/// `IMMEDIATE` and `EXCLUSIVE` take it at once).
fn is_deferred(s: &Statement) -> bool {
    matches!(
        s,
        Statement::StartTransaction {
            modifier: None | Some(sqlparser::ast::TransactionModifier::Deferred),
            ..
        }
    )
}

/// The statements after a `BEGIN` (statement `begin`, at its start) of a streamed text, run
/// as reads on one version until its `COMMIT` (`Ok(true)`) or `ROLLBACK` (`Ok(false)`),
/// each result to `out` as it completes. A statement that writes is `write()`'s error, the
/// reads before it having changed nothing; a version torn by a table loaded from disk after
/// a commit (rows went out already) is an error saying to run the text again.
fn streamed_read_group(
    engine: &Arc<Engine>,
    statements: &mut Statements<'_>,
    params: &[Value],
    (begin, start): (usize, (u64, u64)),
    out: &mut dyn FnMut(SqlResult) -> Result<()>,
    write: impl Fn() -> Error,
) -> Result<bool> {
    let snap = Snapshot::new(engine);
    loop {
        let Some(next) = statements.next() else {
            let (line, column) = start;
            return Err(Error::Sql {
                line,
                column,
                reason: ends_inside_begin(begin),
            });
        };
        let Next {
            statement,
            index: k,
            start: inner_start,
        } = next?;
        match &*statement {
            Statement::Commit { .. } => return Ok(true),
            Statement::Rollback {
                savepoint: None, ..
            } => return Ok(false),
            Statement::StartTransaction { .. } => {
                let (line, column) = inner_start;
                return Err(Error::Sql {
                    line,
                    column,
                    reason: format!(
                        "statement {}: BEGIN inside the transaction statement {begin} began; \
                         transactions do not nest. The transaction was rolled back",
                        k + 1
                    ),
                });
            }
            s if is_read(s) => {
                let at = At {
                    number: k + 1,
                    start: inner_start,
                    in_transaction: true,
                };
                let r = execute(Target::read(&snap), s, params);
                if snap.torn() {
                    return Err(Error::Sql {
                        line: at.start.0,
                        column: 0,
                        reason: format!(
                            "statement {}: a commit changed a table this transaction had read \
                             while it loaded another from disk; run it again",
                            at.number
                        ),
                    });
                }
                out(r.map_err(|e| numbered(e, at, true))?)?;
            }
            _ => return Err(write()),
        }
    }
}

/// SQL inside a transaction. (Here rather than in `txn`, which `sql` builds on.)
impl Transaction<'_> {
    /// Runs SQL inside this transaction (see [`Database::sql`](crate::Database::sql)): its
    /// writes commit or roll back with the transaction, and its reads see the transaction's
    /// own writes. `BEGIN`, `COMMIT` and `ROLLBACK` are refused here.
    pub fn sql(&self, text: &str) -> Result<SqlResult> {
        run_in(self, text, &[])
    }

    /// [`Transaction::sql`] with `params` bound to its placeholders.
    pub fn sql_with(&self, text: &str, params: &[Value]) -> Result<SqlResult> {
        run_in(self, text, params)
    }
}

/// SQL inside a read transaction. (Here rather than in `txn`, which `sql` builds on.)
impl ReadTransaction<'_> {
    /// Runs SQL that only reads (queries, `EXPLAIN`) on this transaction's version: every
    /// statement, in this call and the transaction's later ones, sees the same committed
    /// rows, whatever writers commit meanwhile, and none takes a lock. Returns the last
    /// statement's result, as [`Database::sql`](crate::Database::sql) does.
    ///
    /// A statement that writes is refused (`Error::Sql`: a read transaction only reads;
    /// write inside `Database::transaction`), and so are `BEGIN`, `COMMIT` and `ROLLBACK`:
    /// in a text of 4 KiB or less before any of it runs, in a longer one (run as it is
    /// parsed) when reached, the reads before it having changed nothing. A table the
    /// transaction reads that was not loaded from disk when it began is loaded then, if the
    /// database published no other version meanwhile (a commit, or another thread's load
    /// of a table; its rows could be newer than the transaction's): else that statement
    /// fails, saying so, and the transaction can be run again (a table read once before
    /// `db.read`, through `db.dyn_table` say, is loaded).
    ///
    /// ```
    /// use tabula::{Database, Value};
    /// let db = Database::in_memory();
    /// db.sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
    ///         INSERT INTO accounts (balance) VALUES (60), (40)")?;
    /// let (total, rich) = db.read(|r| {
    ///     let total = r.sql("SELECT SUM(balance) FROM accounts")?;
    ///     // A writer may commit here: the next statement still sees the same rows.
    ///     let rich = r.sql_with("SELECT COUNT(*) FROM accounts WHERE balance > ?", &[Value::Int(50)])?;
    ///     Ok((total.rows[0][0].clone(), rich.rows[0][0].clone()))
    /// })?;
    /// assert_eq!((total, rich), (Value::Int(100), Value::Int(1)));
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn sql(&self, text: &str) -> Result<SqlResult> {
        run_read(self, text, &[])
    }

    /// [`ReadTransaction::sql`] with `params` bound to its placeholders.
    pub fn sql_with(&self, text: &str, params: &[Value]) -> Result<SqlResult> {
        run_read(self, text, params)
    }
}

/// Runs `text` in the read transaction `rt` (`rt.sql`). Every statement is checked to be a
/// read before the first runs, as a text given to `db.sql` is checked for its groups; a
/// text over [`cache::LONGEST`] runs as it is parsed, and a write in it is refused when
/// reached (reads change nothing, so the ones before it leave nothing to undo).
fn run_read(rt: &ReadTransaction<'_>, text: &str, params: &[Value]) -> Result<SqlResult> {
    if text.len() > cache::LONGEST {
        let stream = Stream::new(text)?;
        check_params(stream.placeholders(), params)?;
        let params = &*no_nan(params);
        return run_read_statements(rt, Statements::Streamed(Box::new(stream)), params);
    }
    let parsed = cache::parsed(text)?;
    for (i, statement) in parsed.statements.iter().enumerate() {
        let (line, column) = parsed.start(i);
        if let Some(reason) = not_a_read(statement, i + 1) {
            return Err(Error::Sql {
                line,
                column,
                reason,
            });
        }
    }
    parsed.check_params(params)?;
    let params = &*no_nan(params);
    let statements = Statements::Parsed {
        parsed: &parsed,
        next: 0,
    };
    run_read_statements(rt, statements, params)
}

/// Why statement `number` cannot run in a read transaction, if it cannot.
fn not_a_read(s: &Statement, number: usize) -> Option<String> {
    if is_transaction_control(s) {
        Some(format!(
            "statement {number}: inside db.read the closure is the transaction; BEGIN, \
             COMMIT and ROLLBACK are refused"
        ))
    } else if !is_read(s) {
        Some(format!(
            "statement {number} writes, and a read transaction (db.read) only reads; write \
             inside db.transaction"
        ))
    } else {
        None
    }
}

/// The statements of [`run_read`], each on the transaction's version (with what earlier
/// statements loaded into it).
fn run_read_statements(
    rt: &ReadTransaction<'_>,
    mut statements: Statements<'_>,
    params: &[Value],
) -> Result<SqlResult> {
    let mut last = SqlResult::default();
    while let Some(next) = statements.next() {
        let Next {
            statement,
            index: i,
            start,
        } = next?;
        if let Some(reason) = not_a_read(&statement, i + 1) {
            let (line, column) = start;
            return Err(Error::Sql {
                line,
                column,
                reason,
            });
        }
        let several = i > 0 || statements.has_more();
        let version = rt
            .sql_state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let snap = Snapshot::within(rt.engine, version);
        let result = execute(Target::read(&snap), &statement, params);
        // Kept with the tables it loaded for the next statements; another thread's statement
        // in the same transaction may have kept a later one meanwhile.
        if let Some(version) = snap.into_state() {
            let mut kept = rt
                .sql_state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if version.version > kept.version {
                *kept = version;
            }
        }
        let at = At {
            number: i + 1,
            start,
            in_transaction: false,
        };
        last = result.map_err(|e| numbered(e, at, several))?;
    }
    Ok(last)
}

/// The names of the columns of the rows `parsed`'s last statement gives, bound as a run
/// would bind them now (see `Statement::columns`); `None` when that statement is not a
/// query.
pub(crate) fn result_columns(
    engine: &Arc<Engine>,
    parsed: &Parsed,
    params: &[Value],
) -> Result<Option<Vec<String>>> {
    parsed.check_params(params)?;
    let params = &*no_nan(params);
    match parsed.statements.last() {
        Some(Statement::Query(q)) if !alter::is_setval(q) => {
            let snap = Snapshot::new(engine);
            let mut bound = select::Bound::default();
            let r = select::query(Target::read(&snap), q, params, None, None, Some(&mut bound))?;
            Ok(Some(r.columns))
        }
        _ => Ok(None),
    }
}

/// The parameters as SQL sees them: it has no NaN (SQLite's rule, which tabula's SQL
/// follows), so a NaN parameter is null, and `WHERE f = ?` bound to NaN matches nothing.
fn no_nan(params: &[Value]) -> std::borrow::Cow<'_, [Value]> {
    if params
        .iter()
        .any(|p| matches!(p, Value::Float(f) if f.is_nan()))
    {
        params
            .iter()
            .map(|p| match p {
                Value::Float(f) if f.is_nan() => Value::Null,
                other => other.clone(),
            })
            .collect()
    } else {
        std::borrow::Cow::Borrowed(params)
    }
}

/// Runs `text` inside `tx` (`tx.sql`): every statement is part of the transaction, so
/// `BEGIN`, `COMMIT` and `ROLLBACK` are refused. A text over [`cache::LONGEST`] runs as it
/// is parsed, as `db.sql`'s does: a statement that does not parse, or that is `BEGIN`,
/// `COMMIT` or `ROLLBACK`, is found when reached, and its error goes back to the closure
/// (whose `Err` rolls the transaction back, the statements before it with it).
fn run_in(tx: &Transaction<'_>, text: &str, params: &[Value]) -> Result<SqlResult> {
    if text.len() > cache::LONGEST {
        let stream = Stream::new(text)?;
        check_params(stream.placeholders(), params)?;
        let params = &*no_nan(params);
        return run_in_statements(tx, Statements::Streamed(Box::new(stream)), params, None);
    }
    run_in_parsed(tx, &*cache::parsed(text)?, params, None)
}

/// [`run_in`] on statements parsed already, handing the last statement's rows to `each`
/// when it is a query (streamed as found) and `each` is given.
pub(crate) fn run_in_parsed(
    tx: &Transaction<'_>,
    parsed: &Parsed,
    params: &[Value],
    each: Option<Each<'_>>,
) -> Result<SqlResult> {
    parsed.refuse_transaction_control()?;
    parsed.check_params(params)?;
    let params = &*no_nan(params);
    run_in_statements(tx, Statements::Parsed { parsed, next: 0 }, params, each)
}

/// The statements of [`run_in`] and [`run_in_parsed`], one after the other, `params`
/// checked already.
fn run_in_statements(
    tx: &Transaction<'_>,
    mut statements: Statements<'_>,
    params: &[Value],
    mut each: Option<Each<'_>>,
) -> Result<SqlResult> {
    let mut last = SqlResult::default();
    while let Some(next) = statements.next() {
        let Next {
            statement,
            index: i,
            start,
        } = next?;
        if is_transaction_control(&statement) {
            // Only a streamed text gets here: one parsed whole was checked before it ran.
            let (line, column) = start;
            return Err(Error::Sql {
                line,
                column,
                reason: refused_in_transaction(i + 1),
            });
        }
        let alone_last = !statements.has_more();
        let auto = AutoIndexes::default();
        let result = match (&*statement, &mut each) {
            (Statement::Query(q), Some(f)) if alone_last && !alter::is_setval(q) => {
                select::select_each(Target::tx(tx, &auto), q, params, None, Some(f.reborrow()))
            }
            (s, _) => execute(Target::tx(tx, &auto), s, params),
        };
        let at = At {
            number: i + 1,
            start,
            in_transaction: false,
        };
        last = result.map_err(|e| numbered(e, at, i > 0 || !alone_last))?;
    }
    if let Some(f) = each {
        hand_out(f, &std::mem::take(&mut last.rows))?;
    }
    Ok(last)
}

/// `BEGIN`, `COMMIT` or `ROLLBACK`.
pub(crate) fn is_transaction_control(s: &Statement) -> bool {
    matches!(
        s,
        Statement::StartTransaction { .. } | Statement::Commit { .. } | Statement::Rollback { .. }
    )
}

/// Why statement `number` of a text given to `tx.sql` is refused.
pub(crate) fn refused_in_transaction(number: usize) -> String {
    format!(
        "statement {number}: inside db.transaction the closure's result commits or rolls \
         back; BEGIN, COMMIT and ROLLBACK are refused"
    )
}

/// Runs a read statement on one pinned version; again, if a table it read changed while
/// another was loaded from disk (see [`Snapshot`]).
/// Rows already streamed cannot be taken back: a torn snapshot is then an error.
fn read(
    engine: &Arc<Engine>,
    s: &Statement,
    params: &[Value],
    mut each: Option<Each<'_>>,
) -> Result<SqlResult> {
    let mut tries = 0;
    loop {
        let snap = Snapshot::new(engine);
        let r = match (&mut each, s) {
            (Some(f), Statement::Query(q)) if !alter::is_setval(q) => {
                let r =
                    select::select_each(Target::read(&snap), q, params, None, Some(f.reborrow()));
                if snap.torn() {
                    return Err(Error::Sql {
                        line: 0,
                        column: 0,
                        reason: "a commit changed a table this query had read while it loaded \
                                 another from disk, and rows were already handed out; run it \
                                 again"
                            .into(),
                    });
                }
                return r;
            }
            _ => execute(Target::read(&snap), s, params),
        };
        tries += 1;
        if snap.torn() && tries == 3 {
            return Err(Error::Sql {
                line: 0,
                column: 0,
                reason: "commits kept changing the tables this query read while others were \
                         loaded from disk; run it again"
                    .into(),
            });
        }
        if !snap.torn() {
            if let (Some(f), Ok(r)) = (each, &r) {
                hand_out(f, &r.rows)?;
                return Ok(SqlResult {
                    rows: Vec::new(),
                    ..r.clone()
                });
            }
            return r;
        }
    }
}

/// Hands `rows` to `each` in order, until it asks for no more.
fn hand_out(mut each: Each<'_>, rows: &[Vec<Value>]) -> Result<()> {
    for row in rows {
        if !each.give(row)? {
            break;
        }
    }
    Ok(())
}

/// Whether `s` only reads: a query (but `setval`), `EXPLAIN`, or a pragma.
pub(crate) fn is_read(s: &Statement) -> bool {
    match s {
        Statement::Query(q) => !alter::is_setval(q),
        // A pragma or setting tabula takes changes nothing: no write lock for it.
        s => matches!(
            s,
            Statement::Explain { .. } | Statement::Pragma { .. } | Statement::Set(_)
        ),
    }
}

/// Names the statement an `Error::Sql` comes from in a text of `several`; other
/// errors keep their own variant.
fn numbered(e: Error, at: At, several: bool) -> Error {
    // An error with no place of its own (about the statement as a whole, or a value it
    // computed), in a text of several: its statement's start.
    let e = match e {
        Error::Sql {
            line: 0,
            column: 0,
            reason,
        } if several => Error::Sql {
            line: at.start.0,
            column: at.start.1,
            reason,
        },
        e => e,
    };
    match e {
        e if !several => e,
        Error::Sql {
            line,
            column,
            reason,
        } if !reason.starts_with("statement ") => Error::Sql {
            line,
            column,
            reason: format!(
                "statement {}: {reason}{}",
                at.number,
                if at.in_transaction {
                    "; its transaction was rolled back"
                } else {
                    ""
                }
            ),
        },
        // Placed in its words, as `Sql` is, so that it stays the variant it is.
        Error::Unsupported { feature } if !feature.contains("(statement ") => {
            let line = if at.start.0 > 0 {
                format!(", line {}", at.start.0)
            } else {
                String::new()
            };
            let rolled_back = if at.in_transaction {
                "; its transaction was rolled back"
            } else {
                ""
            };
            Error::Unsupported {
                feature: format!("{feature} (statement {}{line}{rolled_back})", at.number),
            }
        }
        // Already placed, or about the database rather than the statement (`ReadOnly` is
        // how a read-only open asks for the lock).
        // `Aborted` is the caller's own (a `sql_each` callback's), handed back as it is.
        e @ (Error::Sql { .. }
        | Error::Unsupported { .. }
        | Error::Statement { .. }
        | Error::Aborted(_)
        | Error::ReadOnly { .. }
        | Error::Locked { .. }
        | Error::Closed { .. }
        | Error::Poisoned { .. }) => e,
        e => Error::Statement {
            number: at.number,
            line: at.start.0,
            rolled_back: at.in_transaction,
            source: Box::new(e),
        },
    }
}

/// Where a statement is in its text, for [`numbered`].
#[derive(Clone, Copy)]
struct At {
    /// From 1.
    number: usize,
    /// The line and column it starts at (`(0, 0)` when not known).
    start: (u64, u64),
    /// Inside `BEGIN … COMMIT`.
    in_transaction: bool,
}
