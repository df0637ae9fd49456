//! Running SQL text: statements split and parsed by `sqlparser`, each committed on its own
//! unless grouped by `BEGIN … COMMIT`/`ROLLBACK` in the same text. So far one table per
//! statement: `SELECT [DISTINCT] … FROM t [WHERE] [ORDER BY] [LIMIT] [OFFSET]` (and
//! `SELECT` without `FROM`), `INSERT INTO t [(cols)] VALUES …`, `UPDATE t SET … [WHERE]`,
//! `DELETE FROM t [WHERE]`. Everything else is `Error::Unsupported`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use sqlparser::ast::{
    FromTable, Ident, ObjectName, SetExpr, Spanned, Statement, TableFactor, TableWithJoins,
};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::query::{Pred, RowTest};
use crate::record::Cols;
use crate::schema::Schema;
use crate::sql::cache;
use crate::sql::numeric;
use crate::sql::point::{self, Point};
use crate::sql::rows_to::{lend, Each, RowsTo};
use crate::sql::scalar::{self, sql_error, Params, Scalar, Scope};
use crate::sql::stream::{Next, Statements, Stream};
use crate::sql::target::{Snapshot, Target};
use crate::sql::upsert;
use crate::sql::{alter, ddl};
use crate::sql::{correlated, explain, from, select};
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
    let rows_to = match each {
        Some(each) => RowsTo::Values(each),
        None => RowsTo::Collect,
    };
    run_parsed(engine, &*cache::parsed(text)?, params, rows_to, true, None)
}

/// What [`run_script`] hands each statement's result to; an error it returns ends the text
/// as a failing statement does.
pub(crate) type Done<'f> = &'f mut dyn FnMut(SqlResult) -> Result<()>;

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
    mut rows_to: RowsTo<'_>,
    names: bool,
    scratch: Option<&mut point::Scratch>,
) -> Result<SqlResult> {
    parsed.check_params(params)?;
    let params = &*no_nan(params);
    if let Some(p) = parsed.point() {
        if let Some(answer) = point::run(engine, p, params, rows_to.reborrow(), names, scratch) {
            return answer;
        }
    }
    let statements = Statements::Parsed { parsed, next: 0 };
    match rows_to {
        RowsTo::Collect => run_statements(engine, statements, params, None, None),
        RowsTo::Values(each) => run_statements(engine, statements, params, Some(each), None),
        RowsTo::Refs(each) => {
            let mut values = |row: &[Value]| lend(&mut *each, row);
            run_statements(engine, statements, params, Some(&mut values), None)
        }
    }
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
            line: start.0,
            in_transaction,
        };
        let error_at = |(line, column): (u64, u64), reason: String| Error::Sql {
            line,
            column,
            reason,
        };
        match &*statement {
            Statement::StartTransaction { .. } => {
                // A text parsed whole is checked first: a nested BEGIN or a missing end runs
                // nothing of the group (and takes no lock). A streamed one finds them as it
                // goes, and rolls back what ran.
                // A group of reads only takes no lock: its statements read one version, as
                // a transaction's would (and a read-only database runs it). Whether it ended
                // with COMMIT, and the result to keep.
                let read: Option<(bool, SqlResult)> = match &mut statements {
                    Statements::Parsed { parsed, next } => {
                        check_group(parsed, i)?;
                        match read_group_end(parsed, i) {
                            Some(end) => {
                                let mut r = SqlResult::default();
                                read_group(engine, parsed, i, end, params, scripted, &mut |x| {
                                    keep(&mut r, x)
                                })?;
                                *next = end + 1;
                                let committed =
                                    matches!(parsed.statements[end], Statement::Commit { .. });
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
                        Some(storage) if is_deferred(&statement) => {
                            let mut r = SqlResult::default();
                            let committed = streamed_read_group(
                                engine,
                                &mut statements,
                                params,
                                (number, start),
                                &mut |x| keep(&mut r, x),
                                || storage.refuse("write table (sql)"),
                            )?;
                            Some((committed, r))
                        }
                        _ => None,
                    },
                };
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
                            line: inner_start.0,
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
                                let result = execute(Target::Tx(&tx), s, params)
                                    .map_err(|e| numbered(e, inner_at, true))?;
                                group_changed += result.changed;
                                keep(&mut r, result)?;
                            }
                        }
                    }
                }));
                match (engine.finish(tx.tx, outcome), end) {
                    (Ok(r), _) => {
                        // With `done` each statement's result went out as it completed: the
                        // last statement is the COMMIT, which returns no rows (a caller
                        // printing the rows changed after the last query must not take the
                        // group's last query for it). Without, the group's last result is
                        // kept, its rows with it.
                        last = if scripted { SqlResult::default() } else { r };
                        committed += group_changed;
                    }
                    (Err(Error::Aborted(_)), Some((false, ..))) => last = SqlResult::default(),
                    // A failure of the commit itself (a foreign key, checked then) is the
                    // COMMIT's; one of a statement inside is already placed.
                    (Err(e), Some((true, k, commit_start))) => {
                        let commit_at = At {
                            number: k + 1,
                            line: commit_start.0,
                            in_transaction: true,
                        };
                        return Err(numbered(e, commit_at, true));
                    }
                    (Err(e), _) => return Err(e),
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
                    let r = execute(Target::Tx(&tx), s, params)?;
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
                line: parsed.start(k).0,
                in_transaction: true,
            };
            let r = execute(Target::Read(&snap), &parsed.statements[k], params);
            // Checked before the statement's own outcome: a torn version can fail it too.
            if snap.torn() {
                if (k == begin + 1 || !handed_out) && tries < 3 {
                    continue 'again;
                }
                return Err(numbered(
                    Error::Sql {
                        line: at.line,
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
                    line: inner_start.0,
                    in_transaction: true,
                };
                let r = execute(Target::Read(&snap), s, params);
                if snap.torn() {
                    return Err(Error::Sql {
                        line: at.line,
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
        let result = execute(Target::Read(&snap), &statement, params);
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
            line: start.0,
            in_transaction: false,
        };
        last = result.map_err(|e| numbered(e, at, several))?;
    }
    Ok(last)
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
        let result = match (&*statement, &mut each) {
            (Statement::Query(q), Some(f)) if alone_last && !alter::is_setval(q) => {
                select::select_each(Target::Tx(tx), q, params, None, Some(&mut **f))
            }
            (s, _) => execute(Target::Tx(tx), s, params),
        };
        let at = At {
            number: i + 1,
            line: start.0,
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
fn is_transaction_control(s: &Statement) -> bool {
    matches!(
        s,
        Statement::StartTransaction { .. } | Statement::Commit { .. } | Statement::Rollback { .. }
    )
}

/// Why statement `number` of a text given to `tx.sql` is refused.
fn refused_in_transaction(number: usize) -> String {
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
                let r = select::select_each(Target::Read(&snap), q, params, None, Some(&mut **f));
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
            _ => execute(Target::Read(&snap), s, params),
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
fn hand_out(each: Each<'_>, rows: &[Vec<Value>]) -> Result<()> {
    for row in rows {
        if !each(row)? {
            break;
        }
    }
    Ok(())
}

/// Whether `s` only reads: a query (but `setval`), `EXPLAIN`, or a pragma.
pub(crate) fn is_read(s: &Statement) -> bool {
    match s {
        Statement::Query(q) => !alter::is_setval(q),
        // A pragma tabula takes changes nothing: no write lock for it.
        s => matches!(s, Statement::Explain { .. } | Statement::Pragma { .. }),
    }
}

/// A text's statements, its `?` placeholders numbered `$1`, `$2`, … in the order they
/// appear (so that the order expressions are compiled in does not matter), and how many
/// values they take.
pub(crate) struct Parsed {
    pub(crate) statements: Vec<Statement>,
    /// The line and column each statement starts at (empty when that could not be told).
    /// Kept from the tokens: a statement's own span is computed by walking its whole tree,
    /// which is slow and, for a deep expression, deeper than the stack (and empty for some,
    /// such as `BEGIN`).
    starts: Vec<(u64, u64)>,
    placeholders: usize,
    /// The point-lookup shape of a text of one statement, read at its first run.
    point: OnceLock<Option<Point>>,
}

impl Parsed {
    /// The line and column statement `i` starts at (`(0, 0)` when not known).
    pub(crate) fn start(&self, i: usize) -> (u64, u64) {
        self.starts.get(i).copied().unwrap_or((0, 0))
    }

    /// An `Error::Sql` placed at the start of statement `i`.
    fn error_at(&self, i: usize, reason: String) -> Error {
        let (line, column) = self.start(i);
        Error::Sql {
            line,
            column,
            reason,
        }
    }

    /// The statement's point-lookup shape (see [`point`]), if the text is one such.
    fn point(&self) -> Option<&Point> {
        self.point
            .get_or_init(|| match self.statements.as_slice() {
                [one] => point::shape(one),
                _ => None,
            })
            .as_ref()
    }

    /// Refuses `BEGIN`, `COMMIT` and `ROLLBACK`, which have no place inside
    /// `db.transaction` (checked before any statement of the text runs).
    pub(crate) fn refuse_transaction_control(&self) -> Result<()> {
        for (i, s) in self.statements.iter().enumerate() {
            if is_transaction_control(s) {
                return Err(self.error_at(i, refused_in_transaction(i + 1)));
            }
        }
        Ok(())
    }

    /// Checks that `params` has a value for each placeholder, and no more.
    fn check_params(&self, params: &[Value]) -> Result<()> {
        check_params(self.placeholders, params)
    }
}

/// Checks that `params` has a value for each of a text's `placeholders`, and no more.
fn check_params(placeholders: usize, params: &[Value]) -> Result<()> {
    if placeholders != params.len() {
        return Err(Error::Sql {
            line: 0,
            column: 0,
            reason: format!(
                "the text has {placeholders} placeholder(s) and {} value(s) were given",
                params.len()
            ),
        });
    }
    Ok(())
}

/// Parses `text` (see [`Parsed`]).
pub(crate) fn parse(text: &str) -> Result<Parsed> {
    let mut stream = Stream::new(text)?;
    let (mut statements, mut starts) = (Vec::new(), Vec::new());
    while let Some(next) = stream.next_statement() {
        let (s, start) = next?;
        statements.push(s);
        starts.push(start);
    }
    Ok(Parsed {
        statements,
        starts,
        placeholders: stream.placeholders(),
        point: OnceLock::new(),
    })
}

/// For a text that does not parse where the parser stopped at `line` and `column`:
/// `Error::Unsupported` when the word there is one of SQLite's the parser does not know (a
/// pragma, `GLOB`), rather than the parser's message about a token it did not expect.
pub(crate) fn known_unsupported(
    tokens: &[sqlparser::tokenizer::TokenWithSpan],
    line: u64,
    column: u64,
) -> Option<Error> {
    use sqlparser::tokenizer::Token;
    let word = |t: &sqlparser::tokenizer::TokenWithSpan, name: &str| {
        matches!(&t.token, Token::Word(w) if w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case(name))
    };
    // The token the parser stopped at, and the first of its statement.
    let at = tokens
        .iter()
        .position(|t| (t.span.start.line, t.span.start.column) >= (line, column))
        .unwrap_or(tokens.len());
    let first = tokens[..at]
        .iter()
        .rposition(|t| matches!(t.token, Token::SemiColon))
        .map_or(0, |p| p + 1);
    let first = tokens[first..]
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)));
    // The tokens before the one the parser stopped at, nearest first, spaces left out.
    let mut before = tokens[..at]
        .iter()
        .rev()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let (b1, b2) = (before.next(), before.next());
    let stopped_at = tokens.get(at);
    let feature = if first.is_some_and(|t| word(t, "PRAGMA")) {
        PRAGMAS
    } else if stopped_at.is_some_and(|t| word(t, "GLOB")) {
        "GLOB (LIKE is case-sensitive, as GLOB is)"
    } else if b1.is_some_and(|t| word(t, "IS"))
        || (b1.is_some_and(|t| word(t, "NOT")) && b2.is_some_and(|t| word(t, "IS")))
    {
        "IS [NOT] with a value other than NULL, TRUE or FALSE (SQLite's IS as =: write = or <>, \
         with IS NULL for the nulls)"
    } else if stopped_at.is_some_and(|t| matches!(t.token, Token::RParen))
        && b1.is_some_and(|t| matches!(t.token, Token::LParen))
        && b2.is_some_and(|t| word(t, "IN"))
    {
        "an empty IN list (x IN () is false, x NOT IN () true, for any x: write that)"
    } else if stopped_at.is_some_and(|t| word(t, "NOT"))
        && tokens[..at]
            .iter()
            .rev()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .take_while(|t| word(t, "NOT"))
            .count()
            >= 40
    {
        // The parser's recursion limit (50 levels) met inside a run of NOTs, which it
        // reports as a token it did not expect.
        "NOT nested more than about 50 times (the parser's limit): two NOTs cancel out"
    } else {
        return None;
    };
    Some(unsupported(format!(
        "{feature}, at line {line}, column {column}"
    )))
}

/// A parse error, with where the parser stopped (the end of the text when it ran out).
pub(crate) fn parse_error(text: &str, e: sqlparser::parser::ParserError) -> Error {
    let msg = e.to_string();
    // sqlparser says "... at Line: L, Column: C".
    let (line, column) = msg
        .rsplit_once("Line: ")
        .and_then(|(_, rest)| {
            let (l, c) = rest.split_once(", Column: ")?;
            let c: String = c.chars().take_while(char::is_ascii_digit).collect();
            Some((l.trim().parse().ok()?, c.parse().ok()?))
        })
        .unwrap_or_else(|| {
            let line = text.lines().count().max(1) as u64;
            let last = text.lines().last().unwrap_or("");
            (line, last.chars().count() as u64 + 1)
        });
    Error::Sql {
        line,
        column,
        reason: msg,
    }
}

/// Names the statement an `Error::Sql` comes from in a text of `several`; other
/// errors keep their own variant.
fn numbered(e: Error, at: At, several: bool) -> Error {
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
            let line = if at.line > 0 {
                format!(", line {}", at.line)
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
            line: at.line,
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
    /// The line it starts on (0 when not known).
    line: u64,
    /// Inside `BEGIN … COMMIT`.
    in_transaction: bool,
}

/// Column names of one table (with its name or alias) to positions.
struct TableScope {
    names: Vec<String>,
    qualifier: String,
}

impl Scope for TableScope {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        if let Some(q) = qualifier {
            if q != self.qualifier {
                return Err(format!("no table named {q} in this statement"));
            }
        }
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            let near = self
                .names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(name))
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            format!("table {} has no column {name}{near}", self.qualifier)
        })
    }
}

/// No columns at all: `SELECT 1 + 1`, `VALUES`.
struct NoScope;

impl Scope for NoScope {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("no column {name} here"))
    }
}

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        feature: feature.into(),
    }
}

/// A column an `UPDATE … SET` assigns or an `INSERT` lists, unquoted: `c`, or `t.c` where
/// `t` is one of `tables` (the table's name or alias); another qualifier is an error.
fn column_name(name: &ObjectName, tables: &[&str]) -> Result<String> {
    column_ident(name, tables).map(str::to_owned)
}

/// [`column_name`], borrowed from the statement.
fn column_ident<'n>(name: &'n ObjectName, tables: &[&str]) -> Result<&'n str> {
    let ident = |p: &'n sqlparser::ast::ObjectNamePart| p.as_ident().map(|i| i.value.as_str());
    let found = match name.0.as_slice() {
        [c] => ident(c),
        [t, c] if ident(t).is_some_and(|t| tables.contains(&t)) => ident(c),
        _ => None,
    };
    found.ok_or_else(|| {
        sql_error(
            name.span(),
            format!("{name} is not a column of {}", tables.join(" or ")),
        )
    })
}

/// `PRAGMA defer_foreign_keys = 1`, which a SQLite dump writes, says what tabula always
/// does (foreign keys are checked at commit): it changes nothing. The name may be quoted or
/// qualified by `main`, the value `1`, `'on'`, `'true'` or `'yes'` (sqlparser reads no
/// bare `ON`). Other pragmas, and other values, are refused.
fn pragma(
    name: &sqlparser::ast::ObjectName,
    value: Option<&sqlparser::ast::ValueWithSpan>,
) -> Result<SqlResult> {
    use sqlparser::ast::Value as SqlValue;
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map_or_else(|| p.to_string(), |i| i.value.clone())
        })
        .collect();
    let bare = match parts.as_slice() {
        [n] => Some(n.as_str()),
        [schema, n] if schema.eq_ignore_ascii_case("main") => Some(n.as_str()),
        _ => None,
    };
    let text = value.map(|v| match &v.value {
        SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => s.clone(),
        v => v.to_string(),
    });
    let defer = bare.is_some_and(|n| n.eq_ignore_ascii_case("defer_foreign_keys"));
    let on = text
        .as_deref()
        .is_some_and(|v| ["on", "1", "true", "yes"].contains(&v.to_ascii_lowercase().as_str()));
    if defer && on {
        return Ok(SqlResult::default());
    }
    let asked = match &text {
        Some(v) => format!("PRAGMA {name} = {v}"),
        None => format!("PRAGMA {name}"),
    };
    Err(unsupported(format!("{PRAGMAS}: {asked}")))
}

/// What tabula says of a pragma it does not take.
const PRAGMAS: &str = "PRAGMA (tabula checks foreign keys at commit, always, and takes only \
     `PRAGMA defer_foreign_keys = 1`, which says so; its settings are options of \
     Database::open)";

/// The primary-key column of table `t` as `tx` sees it; `None` when there is no such table.
fn parent_key(tx: &Transaction<'_>, t: &str) -> Result<Option<crate::schema::Column>> {
    match tx.dyn_table(t) {
        Ok(t) => Ok(Some(t.schema().primary_key_column().clone())),
        Err(Error::UnknownTable { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Which commit [`check_forward`] checks, for the words of its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ForwardCheck {
    /// One statement's own transaction: its error needs no word of a commit.
    Alone,
    /// The `COMMIT` of a `BEGIN … COMMIT` in a SQL text, whose error the text's runner
    /// numbers and says was rolled back.
    Commit,
    /// The end of `db.transaction`'s closure: the error says the transaction was rolled
    /// back.
    Closure,
}

/// Checks again, before `tx` commits, the foreign keys its `CREATE TABLE` statements gave
/// to tables that did not exist then (see [`Transaction`]'s `forward`): each must exist now,
/// through a column of its key's kind. Inside one `BEGIN … COMMIT` a table may so name one
/// that a later statement creates, as a dump of tables in a cycle of references does.
/// `at`: which commit this is, for the words of its error.
pub(crate) fn check_forward(tx: &Transaction<'_>, at: ForwardCheck) -> Result<()> {
    let alone = at == ForwardCheck::Alone;
    let rolled_back = match at {
        ForwardCheck::Closure => "; the transaction was rolled back",
        ForwardCheck::Alone | ForwardCheck::Commit => "",
    };
    let forward = tx.forward.take();
    for f in &forward {
        ddl::check_references(&f.schema, &f.referred, &|t| parent_key(tx, t), false, f.at)
            .map_err(|e| match e {
                Error::Sql {
                    line,
                    column,
                    reason,
                } if !alone => Error::Sql {
                    line,
                    column,
                    reason: format!(
                        "at COMMIT, table {} (created at line {line}): {reason}{rolled_back}",
                        f.schema.table
                    ),
                },
                Error::Unsupported { feature } if !alone => Error::Unsupported {
                    feature: format!(
                        "{feature}, in table {} (checked at COMMIT{rolled_back})",
                        f.schema.table
                    ),
                },
                e => e,
            })?;
    }
    Ok(())
}

fn execute(target: Target<'_, '_>, s: &Statement, params: &[Value]) -> Result<SqlResult> {
    crate::stack::statement(|| execute_here(target, s, params))
}

/// [`execute`], on the stack it gives.
fn execute_here(target: Target<'_, '_>, s: &Statement, params: &[Value]) -> Result<SqlResult> {
    match s {
        Statement::Query(q) if alter::is_setval(q) => alter::setval(target, q, params),
        Statement::Query(q) => select::select(target, q, params),
        s if alter::is_migration(s) => Err(alter::in_transaction(s)),
        Statement::Insert(ins) => {
            let Target::Tx(tx) = target else {
                return Err(unsupported("writing outside a transaction"));
            };
            let name = match &ins.table {
                sqlparser::ast::TableObject::TableName(n) => ddl::table_name(n)?,
                _ => return Err(unsupported("INSERT into a table function")),
            };
            let Some(source) = &ins.source else {
                return Err(unsupported("INSERT without VALUES"));
            };
            if ins.returning.is_some() || ins.output.is_some() {
                return Err(unsupported("RETURNING"));
            }
            if ins.table_alias.is_some() || !ins.assignments.is_empty() || ins.overwrite {
                return Err(unsupported("this form of INSERT"));
            }
            if alter::is_sqlite_sequence(target, &name) {
                let columns: Vec<String> = ins
                    .columns
                    .iter()
                    .map(|c| column_name(c, &[&name]))
                    .collect::<Result<_>>()?;
                return alter::insert_sqlite_sequence(target, &columns, source, params);
            }
            let t = tx.dyn_table(&name).map_err(|e| match e {
                // Placed as every other statement places an unknown table.
                Error::UnknownTable { .. } => {
                    let at = match &ins.table {
                        sqlparser::ast::TableObject::TableName(n) => n.span(),
                        _ => sqlparser::tokenizer::Span::empty(),
                    };
                    sql_error(at, target.no_table(&name))
                }
                e => e,
            })?;
            let conflict = upsert::of(ins, &name, t.schema())?;
            // One statement: all the rows or none.
            let insert = |pending: Vec<Vec<Option<Value>>>| -> Result<u64> {
                match &conflict {
                    None => {
                        let n = pending.len() as u64;
                        t.insert_many_values(pending)?;
                        Ok(n)
                    }
                    Some(c) => upsert::insert(&t, pending, c, params),
                }
            };
            let columns: Vec<&str> = if ins.columns.is_empty() {
                t.schema().columns.iter().map(|c| c.name.as_str()).collect()
            } else {
                ins.columns
                    .iter()
                    .map(|c| column_ident(c, &[&name]))
                    .collect::<Result<_>>()?
            };
            // Each listed column's position in the table, checked once for all the rows;
            // a column listed twice takes its first value, as a row's lookup by name does.
            let schema = t.schema();
            let width = schema.columns.len();
            let mut seen = vec![false; width];
            let mut places = Vec::with_capacity(columns.len());
            for c in &columns {
                let at = schema.column_index(c)?;
                places.push((!std::mem::replace(&mut seen[at], true)).then_some(at));
            }
            // A null for an auto-increment key asks for the next key, as in SQLite.
            let auto_key = schema.auto_increment().then(|| schema.primary_key());
            let place = |vals: Vec<Value>| {
                let mut row: Vec<Option<Value>> = vec![None; width];
                for (v, at) in vals.into_iter().zip(&places) {
                    if let Some(at) = *at {
                        row[at] = Some(v);
                    }
                }
                if let Some(Some(v)) = auto_key.and_then(|k| row.get_mut(k)) {
                    if v.is_null() {
                        *v = Value::Int(0);
                    }
                }
                row
            };
            let run =
                |sq: &sqlparser::ast::Query| select::select(target, sq, params).map(|r| r.rows);
            let SetExpr::Values(values) = source.body.as_ref() else {
                // INSERT … SELECT: the query's rows, read before any is inserted.
                let rows = run(source)?;
                let mut pending = Vec::with_capacity(rows.len());
                for vals in rows {
                    if vals.len() != columns.len() {
                        return Err(sql_error(
                            source.span(),
                            format!(
                                "the query gives {} columns for {}",
                                vals.len(),
                                columns.len()
                            ),
                        ));
                    }
                    pending.push(place(vals));
                }
                return Ok(SqlResult {
                    changed: insert(pending)?,
                    ..SqlResult::default()
                });
            };
            let mut pending = Vec::with_capacity(values.rows.len());
            let mut p = Params::with_subqueries(&run);
            for row in &values.rows {
                if row.len() != columns.len() {
                    return Err(sql_error(
                        row.first().map_or(s.span(), Spanned::span),
                        format!("{} values for {} columns", row.len(), columns.len()),
                    ));
                }
                let vals = row
                    .iter()
                    .map(|e| scalar::compile(e, &NoScope, &mut p)?.eval(&[], params))
                    .collect::<Result<Vec<_>>>()?;
                pending.push(place(vals));
            }
            Ok(SqlResult {
                changed: insert(pending)?,
                ..SqlResult::default()
            })
        }
        Statement::Update(u) => {
            if u.from.is_some() {
                return Err(unsupported("UPDATE … FROM"));
            }
            if u.returning.is_some() || u.output.is_some() {
                return Err(unsupported("RETURNING"));
            }
            if u.or.is_some() {
                return Err(unsupported("UPDATE OR …"));
            }
            if !u.order_by.is_empty() || u.limit.is_some() {
                return Err(unsupported("UPDATE with ORDER BY or LIMIT"));
            }
            let (table, assignments, selection) = (&u.table, &u.assignments, &u.selection);
            let Target::Tx(tx) = target else {
                return Err(unsupported("writing outside a transaction"));
            };
            let (name, scope) = single_table(target, table)?;
            let run =
                |sq: &sqlparser::ast::Query| select::select(target, sq, params).map(|r| r.rows);
            let mut p = Params::with_subqueries(&run);
            // Correlated subqueries run per row, in SET and WHERE.
            p.correlated = Some(Vec::new());
            let sets = assignments
                .iter()
                .map(|a| {
                    let col = match &a.target {
                        sqlparser::ast::AssignmentTarget::ColumnName(c) => {
                            column_name(c, &[&name, &scope.qualifier])?
                        }
                        _ => return Err(unsupported("assigning to a tuple")),
                    };
                    let pos = scope
                        .resolve(None, &col)
                        .map_err(|r| sql_error(a.span(), r))?;
                    Ok((pos, scalar::compile(&a.value, &scope, &mut p)?))
                })
                .collect::<Result<Vec<_>>>()?;
            let filter = selection
                .as_ref()
                .map(|w| scalar::compile(w, &scope, &mut p))
                .transpose()?;
            let correlated = p.correlated.take().unwrap_or_default();
            let schema = target.schema(&name)?;
            let numbers: Vec<bool> = numeric::number_columns(&schema).collect();
            let sets: Vec<_> = (sets.iter())
                .map(|(pos, e)| (*pos, numeric::prepared(e, &numbers, params)))
                .collect();
            let pk = schema.primary_key();
            let width = schema.columns.len();
            let cols: Vec<usize> = sets.iter().map(|(pos, _)| *pos).collect();
            let sets_key = cols.contains(&pk);
            // A matching row's new values of the columns SET names, worked out from the row
            // as it was (every SET expression sees the old row); the table copies the row
            // and changes those, all the rows as one statement (a check failing on a later
            // row undoes the earlier ones, inside a transaction too).
            let new_values = |r: &dyn Cols, out: &mut Vec<Value>| -> Result<()> {
                let start = out.len();
                for (pos, e) in &sets {
                    out.push(schema.coerce(*pos, e.eval_cols(r, params)?)?);
                }
                // The key stays: a row is replaced in place, never moved (as the library's
                // updates refuse to), so an update cannot add a row under a new key.
                // The key's last assignment is the one that counts (as SQLite's).
                if sets_key {
                    let key = schema.coerce(pk, r.value_at(pk).to_owned())?;
                    let last = cols
                        .iter()
                        .zip(&out[start..])
                        .rev()
                        .find(|(c, _)| **c == pk);
                    if let Some((_, v)) = last.filter(|(_, v)| **v != key) {
                        return Err(Error::PrimaryKeyChanged {
                            table: name.clone(),
                            column: schema.columns[pk].name.clone(),
                            old: key,
                            new: v.clone(),
                        });
                    }
                }
                Ok(())
            };
            if correlated.is_empty() {
                // WHERE reads only the stored row: the table tests it as it finds the rows.
                let (preds, rest) = where_parts(filter.as_ref(), &schema, params);
                let general = rest.as_ref().map(|w| move |r: &dyn Cols| w.test(r, params));
                let keep = row_test(rest.as_ref(), general.as_ref());
                let changed =
                    tx.dyn_table(&name)?
                        .update_where(&preds, keep, &cols, &mut |r, out| new_values(r, out))?;
                return Ok(SqlResult {
                    changed: changed as u64,
                    ..SqlResult::default()
                });
            }
            // Correlated subqueries need the transaction while the rows are read: each
            // matching row gives its key and new values, written after.
            let mut changes = Vec::new();
            // The columns the SET expressions and the key read.
            let mut read = vec![false; width];
            read[pk] = true;
            sets.iter().for_each(|(_, e)| e.mark_columns(&mut read));
            let matching = Matching {
                target,
                name: &name,
                schema: &schema,
                scope: &scope,
                filter: filter.as_ref(),
                correlated: &correlated,
            };
            matching.for_each(params, read, &mut |r| {
                let mut new = Vec::with_capacity(sets.len());
                new_values(r, &mut new)?;
                changes.push((schema.coerce(pk, r.value_at(pk).to_owned())?, new));
                Ok(())
            })?;
            let changed = changes.len() as u64;
            tx.dyn_table(&name)?.set_columns(&cols, changes)?;
            Ok(SqlResult {
                changed,
                ..SqlResult::default()
            })
        }
        Statement::Delete(d) => {
            let Target::Tx(tx) = target else {
                return Err(unsupported("writing outside a transaction"));
            };
            let tables = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let [table] = tables.as_slice() else {
                return Err(unsupported("DELETE from several tables"));
            };
            if d.using.is_some() || d.returning.is_some() || !d.tables.is_empty() {
                return Err(unsupported("DELETE … USING or RETURNING"));
            }
            if !d.order_by.is_empty() || d.limit.is_some() {
                return Err(unsupported("DELETE with ORDER BY or LIMIT"));
            }
            // Keys are never reused, so a dump's `DELETE FROM sqlite_sequence` before it sets
            // the counters has nothing to do.
            if let Ok((name, _)) = plain_table(&table.relation) {
                if table.joins.is_empty() && alter::is_sqlite_sequence(target, &name) {
                    return Ok(SqlResult::default());
                }
            }
            let (name, scope) = single_table(target, table)?;
            let run =
                |sq: &sqlparser::ast::Query| select::select(target, sq, params).map(|r| r.rows);
            let mut p = Params::with_subqueries(&run);
            p.correlated = Some(Vec::new());
            let filter = d
                .selection
                .as_ref()
                .map(|w| scalar::compile(w, &scope, &mut p))
                .transpose()?;
            let correlated = p.correlated.take().unwrap_or_default();
            let schema = target.schema(&name)?;
            if correlated.is_empty() {
                // WHERE reads only the stored row: the table tests it as it finds the rows.
                let (preds, rest) = where_parts(filter.as_ref(), &schema, params);
                let general = rest.as_ref().map(|w| move |r: &dyn Cols| w.test(r, params));
                let keep = row_test(rest.as_ref(), general.as_ref());
                // One statement, with its ON DELETE actions: every row or none. (A RESTRICT
                // is checked at commit, and fails the transaction.)
                let changed = tx.dyn_table(&name)?.delete_where(&preds, keep)?;
                return Ok(SqlResult {
                    changed: changed as u64,
                    ..SqlResult::default()
                });
            }
            let pk = schema.primary_key();
            let mut doomed = Vec::new();
            let matching = Matching {
                target,
                name: &name,
                schema: &schema,
                scope: &scope,
                filter: filter.as_ref(),
                correlated: &correlated,
            };
            // Only the key is read: the rows' text is not fetched ahead (see
            // `Matching::for_each`; a text key is read all the same).
            let read = vec![false; schema.columns.len()];
            matching.for_each(params, read, &mut |r| {
                doomed.push(r.value_at(pk).to_owned());
                Ok(())
            })?;
            // One statement, with its ON DELETE actions: every row or none. (A RESTRICT
            // is checked at commit.)
            let changed = tx.dyn_table(&name)?.delete_keys(&doomed)? as u64;
            Ok(SqlResult {
                changed,
                ..SqlResult::default()
            })
        }
        Statement::Explain { statement, .. } => {
            let Statement::Query(q) = statement.as_ref() else {
                return Err(unsupported("EXPLAIN of anything but a query"));
            };
            Ok(SqlResult {
                columns: vec!["plan".to_owned()],
                rows: explain::explain(target, q, params)?
                    .into_iter()
                    .map(|l| vec![Value::Text(l)])
                    .collect(),
                changed: 0,
            })
        }
        Statement::CreateTable(c) => {
            let Target::Tx(tx) = target else {
                return Err(unsupported("writing outside a transaction"));
            };
            if c.query.is_some() {
                return Err(unsupported("CREATE TABLE … AS SELECT"));
            }
            if c.temporary {
                return Err(unsupported(
                    "TEMPORARY tables (every table is kept with the database)",
                ));
            }
            let schema = ddl::schema_of(c)?;
            match tx.dyn_table(&schema.table) {
                // Nothing is created, and nothing checked (as SQLite does).
                Ok(_) if c.if_not_exists => return Ok(SqlResult::default()),
                Ok(_) => {
                    return Err(sql_error(
                        c.name.span(),
                        format!("table {} already exists", schema.table),
                    ))
                }
                Err(Error::UnknownTable { .. }) => {}
                Err(e) => return Err(e),
            }
            let referred = ddl::referred_columns(c);
            let later = ddl::check_references(
                &schema,
                &referred,
                &|t| parent_key(tx, t),
                true,
                c.name.span(),
            )?;
            // Recorded once created: a failed creation leaves nothing to check.
            let kept = later.then(|| schema.clone());
            tx.tx.create(schema)?;
            if let Some(schema) = kept {
                tx.forward.borrow_mut().push(crate::txn::Forward {
                    schema,
                    referred,
                    at: c.name.span(),
                });
            }
            Ok(SqlResult::default())
        }
        Statement::Copy { .. } => crate::sql::copy::copy_from_stdin(target, s),
        Statement::Pragma { name, value, .. } => pragma(name, value.as_ref()),
        other => Err(unsupported(format!(
            "the statement {} (not yet)",
            other.to_string().split_whitespace().next().unwrap_or("")
        ))),
    }
}

/// A stored table of a FROM clause, as written: its name and its alias. Other dialects'
/// clauses on a table are refused rather than ignored.
pub(crate) fn plain_table(t: &TableFactor) -> Result<(String, Option<&Ident>)> {
    let TableFactor::Table {
        name,
        alias,
        args,
        with_hints,
        version,
        with_ordinality,
        partitions,
        json_path,
        sample,
        index_directives,
        inheritance,
    } = t
    else {
        return Err(unsupported("a subquery in FROM (not yet)"));
    };
    // Other dialects' clauses on a table are refused rather than ignored.
    if args.is_some()
        || !with_hints.is_empty()
        || version.is_some()
        || *with_ordinality
        || !partitions.is_empty()
        || json_path.is_some()
        || sample.is_some()
        || !index_directives.is_empty()
        || inheritance.is_some()
    {
        return Err(unsupported(
            "table functions, hints, TABLESAMPLE, PARTITION, ONLY and the other clauses of \
             other dialects on a table",
        ));
    }
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return Err(unsupported("column names in a table's alias"));
    }
    Ok((ddl::table_name(name)?, alias.as_ref().map(|a| &a.name)))
}

/// A table of a FROM clause: its name, the name it goes by (its alias), its columns.
pub(crate) fn resolve_table(
    target: Target<'_, '_>,
    t: &TableFactor,
) -> Result<(String, String, Vec<String>)> {
    let (table, alias) = plain_table(t)?;
    let schema = target.schema(&table).map_err(|e| match e {
        Error::UnknownTable { .. } => sql_error(t.span(), target.no_table(&table)),
        e => e,
    })?;
    let qualifier = alias.map_or(table.clone(), |a| a.value.clone());
    let names = schema.columns.iter().map(|c| c.name.clone()).collect();
    Ok((table, qualifier, names))
}

/// The rows an UPDATE or DELETE with correlated subqueries changes: those of table `name`
/// its WHERE keeps, read with the subqueries' values (those without go through
/// `TxDynTable::update_where` and `delete_where`, which test WHERE as the table finds them).
struct Matching<'a, 't, 'db> {
    target: Target<'t, 'db>,
    name: &'a str,
    schema: &'a Arc<Schema>,
    scope: &'a TableScope,
    filter: Option<&'a Scalar>,
    /// The correlated subqueries of WHERE and SET, computed for each row read.
    correlated: &'a [scalar::CorrelatedCall],
}

impl Matching<'_, '_, '_> {
    /// Hands each matching row (with its correlated subqueries' values after it) to `f`,
    /// read through the predicates WHERE gives the scan. `read`: a flag per column of the
    /// table, whether `f` reads it; what WHERE reads is added, and a text column among them
    /// has the rows' text fetched ahead (see
    /// [`AnyTable::scan_cols`](crate::engine::any_table::AnyTable::scan_cols)).
    fn for_each(
        &self,
        params: &[Value],
        mut read: Vec<bool>,
        f: &mut dyn FnMut(&dyn Cols) -> Result<()>,
    ) -> Result<()> {
        let (preds, filter) = where_parts(self.filter, self.schema, params);
        let filter = filter.as_ref();
        let width = self.schema.columns.len();
        read.resize(width, false);
        if !self.correlated.is_empty() {
            read.fill(true);
        }
        filter.inspect(|w| w.mark_columns(&mut read));
        let text = from::any_text(self.schema, &read);
        self.target.scan(self.name, &preds, text, &mut |r| {
            let extended = correlated::with_subqueries(
                self.target,
                self.correlated,
                self.scope,
                r,
                width,
                params,
            )?;
            let r: &dyn Cols = extended.as_ref().map_or(r, |e| e as &dyn Cols);
            if select::passes_cols(filter, r, params)? {
                f(r)?;
            }
            Ok(true)
        })
    }
}

/// WHERE as the predicates a scan of the table applies, and what is left of it to test on
/// each row (none when the predicates apply all of it), its numeric parts prepared to run
/// as numbers.
fn where_parts(
    filter: Option<&Scalar>,
    schema: &Arc<Schema>,
    params: &[Value],
) -> (Vec<Pred>, Option<Scalar>) {
    let (preds, served) =
        filter.map_or_else(Default::default, |w| select::scan_preds(w, schema, params));
    let numbers: Vec<bool> = numeric::number_columns(schema).collect();
    let rest = (filter.filter(|_| !served)).map(|f| numeric::prepared(f, &numbers, params));
    (preds, rest)
}

/// WHERE's remainder (see [`where_parts`]) as the table tests it: `general`, its test of
/// a row, with the integer test the expression has, if it is one.
fn row_test<'a>(
    rest: Option<&'a Scalar>,
    general: Option<&'a (impl Fn(&dyn Cols) -> std::result::Result<bool, Box<Error>> + 'a)>,
) -> Option<RowTest<'a>> {
    let general = general?;
    Some(RowTest {
        int: rest.and_then(Scalar::int_test),
        general,
    })
}

/// The table a write statement changes, to name in the errors of its transaction's start
/// (`ReadOnly`, `InTransaction`); `(sql)` where it is not one named table.
fn written_table(s: &Statement) -> String {
    let name = match s {
        Statement::Insert(ins) => match &ins.table {
            sqlparser::ast::TableObject::TableName(n) => ddl::table_name(n).ok(),
            _ => None,
        },
        Statement::Update(u) if u.table.joins.is_empty() => {
            plain_table(&u.table.relation).ok().map(|(n, _)| n)
        }
        Statement::Delete(d) => match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => match t.as_slice() {
                [t] if t.joins.is_empty() => plain_table(&t.relation).ok().map(|(n, _)| n),
                _ => None,
            },
        },
        _ => None,
    };
    name.unwrap_or_else(|| "(sql)".to_owned())
}

/// The one table an UPDATE or DELETE changes, with its scope.
fn single_table(target: Target<'_, '_>, t: &TableWithJoins) -> Result<(String, TableScope)> {
    if !t.joins.is_empty() {
        return Err(unsupported("UPDATE or DELETE with a JOIN"));
    }
    let (table, qualifier, names) = resolve_table(target, &t.relation)?;
    Ok((table, TableScope { names, qualifier }))
}
