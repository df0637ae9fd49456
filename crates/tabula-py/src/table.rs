//! One table for Python (`tabula._native.Table`): the operations the `@table()` class
//! methods run. Each runs inside the transaction the calling thread has open, if any
//! (see `txn::Registry`); otherwise it commits on its own.
//!
//! Filters come in two kinds. A SQL condition (from a traced `where=` lambda, built by
//! `tabula/_trace.py`) runs entirely in the engine and may use indexes. A Python callable
//! is called once per row with the row as a dict (of just the columns it reads, when its
//! bytecode shows which: see [`Pred`](crate::per_row::Pred)); an exception it raises ends
//! the operation, changes nothing and reaches the caller as it was raised.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator, PyList, PyTuple};
use tabula::{Database, DynTable, Error, Row, Select, Transaction, TxDynTable, Value};

use crate::convert::{self, Cols};
use crate::errors::{self, IntoPyResult};
use crate::per_row::{Calls, Pred};
use crate::txn::{self, writing, Access, Registry, Tx};

/// Rows a pipelined `insert_many` converts before handing them to the engine (see
/// `Table::insert_many`): small enough that the first chunk's conversion, which nothing
/// overlaps, is a small part of a large insert.
const CHUNK: usize = 2048;

/// A table of a database, as the Python layer uses it.
#[pyclass(frozen, module = "tabula._native")]
pub struct Table {
    pub(crate) db: Database,
    pub(crate) handle: DynTable,
    pub(crate) cols: Arc<Cols>,
    pub(crate) txs: Arc<Registry>,
}

/// The table inside `tx`, refused with `SchemaMismatch` if it no longer has the schema
/// `cols` was made from: a class bound before the table migrated (redefined in the same
/// process, or altered through SQL) would read and write by the old column positions.
fn bound<'a>(tx: &'a Transaction<'_>, cols: &Cols) -> tabula::Result<TxDynTable<'a>> {
    let t = tx.dyn_table(&cols.table)?;
    if t.schema() != &cols.schema {
        return Err(errors::stale(&cols.table));
    }
    Ok(t)
}

/// `bound`'s check outside a transaction: the stored table still has `cols`' schema.
fn current(db: &Database, cols: &Cols) -> tabula::Result<()> {
    if db.schema(&cols.table)? != cols.schema {
        return Err(errors::stale(&cols.table));
    }
    Ok(())
}

/// What the lookups and inserts need of a table, outside a transaction ([`DynTable`]) or
/// inside one ([`TxDynTable`]).
trait Handle {
    fn insert_values(&self, values: Vec<Option<Value>>) -> tabula::Result<Value>;
    fn insert_many_values(&self, rows: Vec<Vec<Option<Value>>>) -> tabula::Result<Vec<Value>>;
    fn get(&self, key: Value) -> tabula::Result<Option<Row>>;
    fn get_by(&self, column: &str, value: Value) -> tabula::Result<Option<Row>>;
}

macro_rules! handle {
    ($t:ty) => {
        impl Handle for $t {
            fn insert_values(&self, values: Vec<Option<Value>>) -> tabula::Result<Value> {
                <$t>::insert_values(self, values)
            }
            fn insert_many_values(
                &self,
                rows: Vec<Vec<Option<Value>>>,
            ) -> tabula::Result<Vec<Value>> {
                <$t>::insert_many_values(self, rows)
            }
            fn get(&self, key: Value) -> tabula::Result<Option<Row>> {
                <$t>::get(self, key)
            }
            fn get_by(&self, column: &str, value: Value) -> tabula::Result<Option<Row>> {
                <$t>::get_by(self, column, value)
            }
        }
    };
}

handle!(DynTable);
handle!(TxDynTable<'_>);

/// The engine's refusal of a handle made before its table migrated, in this package's
/// words (the engine's names a Rust call); any other error as it is.
///
/// A handle stays on the table it was made for: once that is dropped, it answers that no
/// such table exists, even where a table has been made since under its name (by SQL, say).
/// That one is another table: said so.
fn restale(e: Error, cols: &Cols, db: &Database) -> Error {
    match e {
        Error::SchemaMismatch { ref reason, .. }
            if reason.contains("since this handle was made") =>
        {
            errors::stale(&cols.table)
        }
        Error::UnknownTable { ref table }
            if *table == cols.table && db.table_names().is_ok_and(|n| n.contains(table)) =>
        {
            errors::stale(&cols.table)
        }
        other => other,
    }
}

/// `e`, naming `table` where the engine named the transaction an update or delete of it
/// began ("(transaction)": `Database::transaction` knows no table), and which could not
/// begin (this thread is inside another table's update or delete, or the database is
/// read-only).
fn begun_for(e: Error, table: &str) -> Error {
    match e {
        Error::InTransaction { table: t } if t == "(transaction)" => Error::InTransaction {
            table: table.to_owned(),
        },
        // A read-only database refuses the transaction as it begins: "write table
        // (transaction)".
        Error::ReadOnly { path, operation } if operation.contains("(transaction)") => {
            Error::ReadOnly {
                path,
                operation: operation.replace("(transaction)", table),
            }
        }
        e => e,
    }
}

/// How a Python query orders and cuts its rows.
struct Shape {
    order: Vec<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

impl Shape {
    fn apply<'a>(&self, mut s: Select<'a, Row>) -> Select<'a, Row> {
        for o in &self.order {
            s = s.order_by(o);
        }
        if let Some(n) = self.offset {
            s = s.offset(n);
        }
        if let Some(n) = self.limit {
            s = s.limit(n);
        }
        s
    }
}

/// The rows of `select` that `pred` (if any) accepts, shaped.
fn select_rows(
    select: Select<'_, Row>,
    pred: Option<&Pred>,
    cols: &Cols,
    shape: &Shape,
) -> tabula::Result<Vec<Row>> {
    match pred {
        None => shape.apply(select).all(),
        Some(pred) => {
            let calls = Calls::new(pred, cols);
            let rows = shape
                .apply(select.filter_values(|v| calls.accepts(v)))
                .all();
            calls.finish()?;
            rows
        }
    }
}

/// How many rows of `select` `pred` (if any) accepts.
fn count_rows(select: Select<'_, Row>, pred: Option<&Pred>, cols: &Cols) -> tabula::Result<usize> {
    match pred {
        None => select.count(),
        Some(pred) => {
            let calls = Calls::new(pred, cols);
            let n = select.filter_values(|v| calls.accepts(v)).count();
            calls.finish()?;
            n
        }
    }
}

/// The keys of the rows `pred` accepts, read inside `tx`, so that no other writer changes
/// them before the caller acts on them.
///
/// Called without the GIL (the writer's turn may have been a wait), it takes the GIL once
/// for the whole scan rather than once per row. That waits for the GIL while holding the
/// writer's turn, as each row's call would: safe, since no thread holds the GIL while it
/// waits for the engine (every write releases it first).
///
/// With a prefilter, `pred` is called only on the rows its statement finds.
fn matching_keys(
    tx: &Transaction<'_>,
    pred: &Pred,
    cols: &Cols,
    pre: Option<&Prefilter>,
) -> tabula::Result<HashSet<Value>> {
    let t = bound(tx, cols)?;
    let calls = Calls::new(pred, cols);
    let keys = match pre {
        None => Python::attach(|_| t.select().filter_values(|v| calls.accepts(v)).keys()),
        Some(pre) => tx.sql_with(&pre.text, &pre.params).map(|found| {
            let pk = cols.schema.primary_key();
            Python::attach(|_| {
                found
                    .rows
                    .into_iter()
                    .filter(|row| calls.accepts(row))
                    .map(|mut row| std::mem::replace(&mut row[pk], Value::Null))
                    .collect()
            })
        }),
    };
    calls.finish()?;
    Ok(keys?.into_iter().collect())
}

/// A `SELECT *` over a table whose condition holds wherever a `where=` callable may
/// accept a row (`_trace.prefilter`): the callable is called only on the rows it finds.
pub(crate) struct Prefilter {
    text: String,
    params: Vec<Value>,
}

impl Prefilter {
    fn from_py(
        py: Python<'_>,
        given: Option<(String, Bound<'_, PyAny>)>,
    ) -> PyResult<Option<Self>> {
        given
            .map(|(text, params)| {
                Ok(Prefilter {
                    text,
                    params: convert::params(py, &params)?,
                })
            })
            .transpose()
    }
}

/// `UPDATE … SET changes WHERE pred(row)`: the rows are chosen first, calling Python,
/// then changed without it, all inside `tx`.
fn update_where(
    tx: &Transaction<'_>,
    pred: &Pred,
    cols: &Cols,
    pre: Option<&Prefilter>,
    changes: &[(String, Value)],
) -> tabula::Result<usize> {
    let keys = matching_keys(tx, pred, cols, pre)?;
    change_keys(tx, cols, &keys, changes)
}

/// Sets `changes` in the rows with these keys, inside `tx`.
fn change_keys(
    tx: &Transaction<'_>,
    cols: &Cols,
    keys: &HashSet<Value>,
    changes: &[(String, Value)],
) -> tabula::Result<usize> {
    if keys.is_empty() {
        return Ok(0);
    }
    let pk = cols.schema.primary_key();
    bound(tx, cols)?.update_values(
        |v| keys.contains(&v[pk]),
        |r| {
            for (name, v) in changes {
                r.set(name, v.clone());
            }
        },
    )
}

fn delete_where(
    tx: &Transaction<'_>,
    pred: &Pred,
    cols: &Cols,
    pre: Option<&Prefilter>,
) -> tabula::Result<usize> {
    let keys = matching_keys(tx, pred, cols, pre)?;
    delete_keys(tx, cols, &keys)
}

/// Deletes the rows with these keys, inside `tx`.
fn delete_keys(tx: &Transaction<'_>, cols: &Cols, keys: &HashSet<Value>) -> tabula::Result<usize> {
    if keys.is_empty() {
        return Ok(0);
    }
    let pk = cols.schema.primary_key();
    bound(tx, cols)?.delete_values(|v| keys.contains(&v[pk]))
}

/// Python's garbage collector, paused while a pipelined `insert_many` converts: a
/// collection runs finalizers, Python code that must not run while the transaction's
/// worker holds the writer's lock.
struct Collector {
    isenabled: Py<PyAny>,
    disable: Py<PyAny>,
    enable: Py<PyAny>,
}

static COLLECTOR: pyo3::sync::PyOnceLock<Collector> = pyo3::sync::PyOnceLock::new();

/// A [`Collector`] paused by [`Collector::pause`], to resume.
struct Paused<'c> {
    collector: &'c Collector,
    was_enabled: bool,
}

impl Collector {
    /// The `gc` module's functions, looked up once (the lookup allocates; calling them
    /// does not).
    fn get(py: Python<'_>) -> PyResult<&'static Collector> {
        COLLECTOR.get_or_try_init(py, || {
            let gc = PyModule::import(py, "gc")?;
            Ok(Collector {
                isenabled: gc.getattr("isenabled")?.unbind(),
                disable: gc.getattr("disable")?.unbind(),
                enable: gc.getattr("enable")?.unbind(),
            })
        })
    }

    fn pause(&self, py: Python<'_>) -> PyResult<Paused<'_>> {
        let was_enabled = self.isenabled.bind(py).call0()?.is_truthy()?;
        if was_enabled {
            self.disable.bind(py).call0()?;
        }
        Ok(Paused {
            collector: self,
            was_enabled,
        })
    }
}

impl Paused<'_> {
    /// Enables the collector again if it was enabled before.
    fn resume(self, py: Python<'_>) {
        if self.was_enabled {
            // `gc.enable()` cannot fail; were it to, the collector staying off loses no
            // data, and raising here would misreport the insert.
            let _ = self.collector.enable.bind(py).call0();
        }
    }
}

/// Appends `keys` to `out` as Python values.
fn append_keys(out: &Bound<'_, PyList>, keys: Vec<Value>) -> PyResult<()> {
    keys.iter()
        .try_for_each(|k| out.append(convert::plain_to_py(out.py(), k)?))
}

impl Table {
    /// Every row of `items` (dicts, or instances of the table's class) as engine values.
    fn rows_of(&self, items: Bound<'_, PyIterator>) -> PyResult<Vec<Vec<Option<Value>>>> {
        let mut out = Vec::new();
        // The class of the last instance whose fields were checked against the columns.
        let mut checked: Option<Bound<'_, pyo3::types::PyType>> = None;
        for item in items {
            let item = item?;
            out.push(match item.cast::<PyDict>() {
                Ok(d) => self.cols.row(d)?,
                Err(_) if item.hasattr("__dataclass_fields__")? => {
                    let class = item.get_type();
                    let seen = checked.as_ref().is_some_and(|c| c.is(&class));
                    let row = self.cols.row(&self.cols.fields_of(&item, seen)?)?;
                    checked = Some(class);
                    row
                }
                Err(_) => {
                    return Err(PyErr::new::<pyo3::exceptions::PyTypeError, _>(format!(
                        "insert_many into {} takes dicts of column to value (or instances \
                         of the table's class), not {}",
                        self.cols.table,
                        convert::type_name(&item)
                    )))
                }
            });
        }
        Ok(out)
    }

    /// The next chunk of `items` as rows, if every one of them converts with no Python
    /// code ([`Cols::plain_row`]); empty at the end.
    fn plain_chunk(&self, items: &mut Bound<'_, PyIterator>) -> Option<Vec<Vec<Option<Value>>>> {
        let mut chunk = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            let Some(item) = items.next() else { break };
            chunk.push(self.cols.plain_row(&item.ok()?)?);
        }
        Some(chunk)
    }

    /// `insert_many` of `rows`, a list or tuple of `total` dicts, in a transaction of its
    /// own that no call of this thread's runs in: the transaction's worker inserts each
    /// chunk while this thread converts the next, and turns the keys of the chunks already
    /// in into Python ints. `Ok(None)` when that cannot be done exactly as one call would:
    /// a row whose conversion would run Python code, a value that does not convert, a
    /// chunk the engine refuses, or a transaction that does not begin. Everything is then
    /// rolled back, and the caller inserts `rows` the one-call way, from the start,
    /// getting that way's error if any.
    ///
    /// While the worker holds the writer's lock and this thread converts, no Python code
    /// runs: only rows that call none are converted ([`Cols::plain_row`]), everything this
    /// thread allocates that the garbage collector tracks is allocated before, the
    /// collector is paused (a collection runs finalizers), and no other thread runs, since
    /// the GIL is held and no bytecode runs to hand it over. So none can wait for the
    /// lock, fork with it held, or find itself inside the transaction. The GIL is released
    /// only once every chunk is sent, to wait for the worker, which needs nothing from
    /// Python. The first chunk is converted before the lock is taken, so that a list of
    /// rows that need Python code (instances of the class, a table with `json` columns)
    /// goes the one-call way at once; a list whose first such row comes later waits for
    /// the lock before that row's code runs (after the rollback), where one call would run
    /// it first.
    fn pipelined<'py>(
        &self,
        py: Python<'py>,
        rows: &Bound<'py, PyAny>,
        total: usize,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        if self.cols.has_json() {
            return Ok(None);
        }
        let gc = Collector::get(py)?;
        // Held as `Py`, not `Bound`, through the wait without the GIL below.
        let keys = PyList::empty(py).unbind();
        let mut items = rows.try_iter()?;
        let Some(first) = self.plain_chunk(&mut items) else {
            return Ok(None);
        };
        let Ok(tx) = Tx::unlisted(py, self.db.clone()) else {
            return Ok(None);
        };
        // Set when the insert is given up: the chunks still queued skip their work.
        let failed = Arc::new(AtomicBool::new(false));
        let mut pending = VecDeque::new();
        let mut room = Some(total);
        let paused = gc.pause(py);
        let mut plain = paused.is_ok();
        let mut chunk = first;
        while plain && !chunk.is_empty() {
            let (cols, failed, room) = (self.cols.clone(), failed.clone(), room.take());
            let rows = std::mem::take(&mut chunk);
            let sent = tx.send(py, move |t| {
                if failed.load(Ordering::Acquire) {
                    return Ok(Vec::new());
                }
                let insert = || {
                    let table = bound(t, &cols)?;
                    if let Some(n) = room {
                        table.reserve(n)?;
                    }
                    table.insert_many_values(rows)
                };
                insert().inspect_err(|_| failed.store(true, Ordering::Release))
            });
            let Ok(answer) = sent else {
                plain = false;
                break;
            };
            pending.push_back(answer);
            // The keys of the chunks already in, while the worker goes on.
            while let Some(Ok(answer)) = pending.front().map(|a| a.try_recv()) {
                pending.pop_front();
                plain = answer.is_ok_and(|k| append_keys(keys.bind(py), k).is_ok());
                if !plain {
                    break;
                }
            }
            match self.plain_chunk(&mut items) {
                Some(next) => chunk = next,
                None => plain = false,
            }
        }
        drop(items);
        if let Ok(paused) = paused {
            paused.resume(py);
        }
        if plain {
            let answers: Vec<_> =
                py.detach(move || pending.into_iter().map(|a| a.recv()).collect());
            plain = answers
                .into_iter()
                .all(|a| a.is_ok_and(|a| a.is_ok_and(|k| append_keys(keys.bind(py), k).is_ok())));
        }
        if !plain {
            failed.store(true, Ordering::Release);
            // Undone whatever the outcome: the one-call way follows.
            let _ = tx.end(py, false);
            return Ok(None);
        }
        tx.end(py, true)?;
        Ok(Some(keys.into_bound(py)))
    }

    /// Runs `f` on the table: inside the calling thread's transaction when one is open
    /// (on its worker), else on this class's own handle, without the GIL when `detach`
    /// (a write, which may wait for the writer's turn; a lookup takes no lock and is over
    /// before releasing the GIL would pay off).
    fn on<R: Send + 'static>(
        &self,
        py: Python<'_>,
        detach: bool,
        f: impl FnOnce(&dyn Handle) -> tabula::Result<R> + Send + 'static,
    ) -> PyResult<R> {
        match self
            .txs
            .current(py, if detach { Access::Write } else { Access::Read })?
        {
            None => {
                let h = &self.handle;
                let r = if detach { py.detach(|| f(h)) } else { f(h) };
                r.map_err(|e| restale(e, &self.cols, &self.db)).py(py)
            }
            Some(tx) => {
                let cols = self.cols.clone();
                tx.bind(py).get().run(py, move |t| f(&bound(t, &cols)?))
            }
        }
    }

    /// The keys of the rows `pred` accepts, as the open transaction `tx` sees them. The
    /// rows come out of the transaction and `pred` runs here, on the thread that opened
    /// it, not on the transaction's worker: so whatever `pred` does with the database
    /// runs inside the transaction too, and sees its writes.
    fn accepted_in(
        &self,
        py: Python<'_>,
        tx: &Bound<'_, Tx>,
        pred: &Pred,
        pre: Option<&Prefilter>,
        enough: Option<usize>,
    ) -> PyResult<HashSet<Value>> {
        let cols = self.cols.clone();
        let pk = self.cols.schema.primary_key();
        let calls = Calls::new(pred, &self.cols);
        let mut keys = HashSet::new();
        let mut keep = |r: &[Value]| -> PyResult<()> {
            // Called in key order until `enough` rows are accepted, as outside a
            // transaction (`select` with a limit and no order).
            if enough.is_some_and(|n| keys.len() >= n) {
                return Ok(());
            }
            if calls.call(py, r)? {
                keys.insert(r[pk].clone());
            }
            Ok(())
        };
        match pre {
            None => {
                let rows = tx.get().run(py, move |t| bound(t, &cols)?.select().all())?;
                rows.iter().try_for_each(|r| keep(r.values()))?;
            }
            Some(pre) => {
                let (text, params) = (pre.text.clone(), pre.params.clone());
                let rows = tx.get().run(py, move |t| {
                    bound(t, &cols)?;
                    Ok(t.sql_with(&text, &params)?.rows)
                })?;
                rows.iter().try_for_each(|r| keep(r))?;
            }
        }
        Ok(keys)
    }

    /// Rows (their values in schema order) as a list of dicts.
    fn dicts<'py, 'v>(
        &self,
        py: Python<'py>,
        rows: impl IntoIterator<Item = &'v [Value]>,
    ) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in rows {
            list.append(self.cols.dict(py, r)?)?;
        }
        Ok(list)
    }

    fn changes(&self, changes: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Value)>> {
        let mut out = Vec::with_capacity(changes.len());
        for (k, v) in changes.iter() {
            let name: String = k.extract()?;
            let value = self
                .cols
                .coerced(&name, &v)
                .map_err(|e| self.unless_stale(changes.py(), e))?;
            out.push((name, value));
        }
        Ok(out)
    }

    /// `e`, a value refused by this class's schema, unless the table no longer has that
    /// schema (another class migrated it, or SQL made it again): then the stale class's
    /// `SchemaMismatch`, since the value was judged by columns the table no longer has.
    /// Asked only once a value is refused, so a call that converts costs nothing more.
    fn unless_stale(&self, py: Python<'_>, e: PyErr) -> PyErr {
        match current(&self.db, &self.cols) {
            Err(stale @ Error::SchemaMismatch { .. }) => errors::to_py(py, stale),
            _ => e,
        }
    }

    /// Runs a SQL statement in the scope the call is in.
    fn sql(
        &self,
        py: Python<'_>,
        access: Access,
        text: String,
        params: Vec<Value>,
    ) -> PyResult<tabula::SqlResult> {
        let tx = self.txs.current(py, access)?;
        let tx = tx.as_ref().map(|t| t.bind(py));
        let cols = self.cols.clone();
        match tx {
            None => {
                let db = &self.db;
                py.detach(|| {
                    current(db, &cols)?;
                    db.sql_with(&text, &params)
                })
                .py(py)
            }
            Some(tx) => tx.get().run(py, move |t| {
                bound(t, &cols)?;
                t.sql_with(&text, &params)
            }),
        }
    }
}

#[pymethods]
impl Table {
    /// The table's name.
    #[getter]
    fn table_name(&self) -> String {
        self.cols.table.clone()
    }

    /// The primary-key column's name.
    #[getter]
    fn primary_key(&self) -> String {
        self.cols.schema.primary_key_column().name.clone()
    }

    /// The schema as its JSON text (the schema file's format).
    fn schema_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.cols.schema)
            .map_err(|e| PyErr::new::<pyo3::exceptions::PyValueError, _>(e.to_string()))
    }

    /// Inserts one row, given as keyword arguments, and returns its key.
    #[pyo3(signature = (**fields))]
    fn insert<'py>(
        &self,
        py: Python<'py>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let empty;
        let fields = match fields {
            Some(f) => f,
            None => {
                empty = PyDict::new(py);
                &empty
            }
        };
        let row = self
            .cols
            .row(fields)
            .map_err(|e| self.unless_stale(py, e))?;
        let key = self.on(py, true, move |h| h.insert_values(row))?;
        convert::plain_to_py(py, &key)
    }

    /// Inserts every row of `rows` (dicts) as one commit; returns their keys.
    ///
    /// A list or tuple of more rows than one [`CHUNK`], outside a transaction, is first
    /// tried pipelined (see `pipelined`), which either inserts every row or changes
    /// nothing; else, and when that gives up, every row is converted and then inserted in
    /// one call.
    #[pyo3(signature = (rows))]
    fn insert_many<'py>(
        &self,
        py: Python<'py>,
        rows: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        // One row given as the iterable of rows would be taken as its column names.
        if rows.cast::<PyDict>().is_ok() {
            return Err(PyErr::new::<pyo3::exceptions::PyTypeError, _>(format!(
                "insert_many into {} takes an iterable of rows (dicts, or instances of the \
                 table's class), not one dict; insert(**row) inserts one row",
                self.cols.table
            )));
        }
        let total =
            if rows.is_exact_instance_of::<PyList>() || rows.is_exact_instance_of::<PyTuple>() {
                rows.len()?
            } else {
                0
            };
        // An error here (a forked child's `Closed`) is left to the one-call way, which
        // reports a bad row before it.
        let alone = matches!(self.txs.current(py, Access::Write), Ok(None)) && !txn::is_writing();
        if total > CHUNK && alone {
            if let Some(keys) = self.pipelined(py, rows, total)? {
                return Ok(keys);
            }
        }
        let batch = self
            .rows_of(rows.try_iter()?)
            .map_err(|e| self.unless_stale(py, e))?;
        let keys = self.on(py, true, move |h| h.insert_many_values(batch))?;
        let out = PyList::empty(py);
        append_keys(&out, keys)?;
        Ok(out)
    }

    /// The row with this primary key, or `None`. The parameter is `id`, as the seed's
    /// `get(id)` names it.
    #[pyo3(signature = (id))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let key = self.cols.key(id).map_err(|e| self.unless_stale(py, e))?;
        if self.txs.current(py, Access::Read)?.is_none() {
            // The dict is built from the stored row, read in place: a lookup holds no
            // lock, so Python may run inside it.
            let cols = &self.cols;
            return (self.handle.get_with(key, |v| cols.dict(py, v)))
                .map_err(|e| restale(e, cols, &self.db))
                .py(py)?
                .transpose();
        }
        let row = self.on(py, false, move |h| h.get(key))?;
        row.map(|r| self.cols.dict(py, r.values())).transpose()
    }

    /// The row holding `value` in the unique column `column`, or `None`.
    #[pyo3(signature = (column, value))]
    fn get_by<'py>(
        &self,
        py: Python<'py>,
        column: String,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let value = self
            .cols
            .value(&column, value)
            .map_err(|e| self.unless_stale(py, e))?;
        let row = self.on(py, false, move |h| h.get_by(&column, value))?;
        row.map(|r| self.cols.dict(py, r.values())).transpose()
    }

    /// The rows a Python callable accepts (all rows without one), ordered by the
    /// `order` keys (`"col"`, `"-col"`), after `offset`, at most `limit`. `reads`, when
    /// given, names the only columns the callable can read (see [`Pred`]).
    #[pyo3(signature = (pred, order, limit=None, offset=None, reads=None))]
    fn select<'py>(
        &self,
        py: Python<'py>,
        pred: Option<Py<PyAny>>,
        order: Vec<String>,
        limit: Option<usize>,
        offset: Option<usize>,
        reads: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyList>> {
        // No row is wanted with `limit` 0: the callable is shown none (as a cut lambda and
        // the traced ones are not), though the order's columns are still checked.
        let pred = pred
            .filter(|_| limit != Some(0))
            .map(|f| Pred::new(f, reads, &self.cols));
        let tx = self.txs.current(py, Access::Read)?;
        let tx = tx.as_ref().map(|t| t.bind(py));
        let shape = Shape {
            order,
            limit,
            offset,
        };
        let rows = match tx {
            None => {
                let (h, cols) = (&self.handle, &*self.cols);
                // A read takes no lock the engine could hold while it waits for Python, so
                // a Python filter keeps the GIL for the whole scan instead of taking it
                // back for every row.
                match &pred {
                    None => py.detach(|| select_rows(h.select(), None, cols, &shape)),
                    Some(p) => select_rows(h.select(), Some(p), cols, &shape),
                }
                .map_err(|e| restale(e, cols, &self.db))
                .py(py)?
            }
            Some(tx) => {
                let keys = match &pred {
                    // Without an order, the rows after offset and limit are not
                    // shown to `pred`, as outside a transaction.
                    Some(p) => {
                        let enough = limit
                            .filter(|_| shape.order.is_empty())
                            .map(|l| l.saturating_add(offset.unwrap_or(0)));
                        Some(self.accepted_in(py, tx, p, None, enough)?)
                    }
                    None => None,
                };
                let cols = self.cols.clone();
                let pk = cols.schema.primary_key();
                tx.get().run(py, move |t| {
                    let all = bound(t, &cols)?;
                    match &keys {
                        None => select_rows(all.select(), None, &cols, &shape),
                        Some(k) => select_rows(
                            all.select().filter(|r| k.contains(&r.values()[pk])),
                            None,
                            &cols,
                            &shape,
                        ),
                    }
                })?
            }
        };
        self.dicts(py, rows.iter().map(Row::values))
    }

    /// How many rows a Python callable accepts (all rows without one).
    #[pyo3(signature = (pred, reads=None))]
    fn count(
        &self,
        py: Python<'_>,
        pred: Option<Py<PyAny>>,
        reads: Option<Vec<String>>,
    ) -> PyResult<usize> {
        let pred = pred.map(|f| Pred::new(f, reads, &self.cols));
        let tx = self.txs.current(py, Access::Read)?;
        let tx = tx.as_ref().map(|t| t.bind(py));
        match tx {
            None => {
                let (h, cols) = (&self.handle, &*self.cols);
                match &pred {
                    None => py.detach(|| count_rows(h.select(), None, cols)),
                    Some(p) => count_rows(h.select(), Some(p), cols),
                }
                .map_err(|e| restale(e, cols, &self.db))
                .py(py)
            }
            Some(tx) => {
                let cols = self.cols.clone();
                match &pred {
                    Some(p) => Ok(self.accepted_in(py, tx, p, None, None)?.len()),
                    None => tx.get().run(py, move |t| {
                        count_rows(bound(t, &cols)?.select(), None, &cols)
                    }),
                }
            }
        }
    }

    /// Sets `changes` (column to value) in every row a Python callable accepts; returns
    /// how many. All of them or, if the callable raises or a row is refused, none.
    ///
    /// `prefilter`, a `SELECT *` statement and its parameters, limits the rows `pred` is
    /// called on (see [`Prefilter`]).
    #[pyo3(signature = (pred, changes, reads=None, prefilter=None))]
    fn update(
        &self,
        py: Python<'_>,
        pred: Py<PyAny>,
        changes: &Bound<'_, PyDict>,
        reads: Option<Vec<String>>,
        prefilter: Option<(String, Bound<'_, PyAny>)>,
    ) -> PyResult<usize> {
        let pred = Pred::new(pred, reads, &self.cols);
        let pre = Prefilter::from_py(py, prefilter)?;
        let tx = self.txs.current(py, Access::Write)?;
        let tx = tx.as_ref().map(|t| t.bind(py));
        let changes = self.changes(changes)?;
        let cols = self.cols.clone();
        match tx {
            None => {
                let db = &self.db;
                py.detach(|| {
                    writing(|| {
                        db.transaction(|t| update_where(t, &pred, &cols, pre.as_ref(), &changes))
                    })
                })
                .map_err(|e| begun_for(e, &cols.table))
                .py(py)
            }
            Some(tx) => tx.get().run(py, {
                let keys = self.accepted_in(py, tx, &pred, pre.as_ref(), None)?;
                move |t| change_keys(t, &cols, &keys, &changes)
            }),
        }
    }

    /// Deletes every row a Python callable accepts; returns how many. All of them or, if
    /// the callable raises, none.
    /// `prefilter` as for [`update`](Table::update).
    #[pyo3(signature = (pred, reads=None, prefilter=None))]
    fn delete(
        &self,
        py: Python<'_>,
        pred: Py<PyAny>,
        reads: Option<Vec<String>>,
        prefilter: Option<(String, Bound<'_, PyAny>)>,
    ) -> PyResult<usize> {
        let pred = Pred::new(pred, reads, &self.cols);
        let pre = Prefilter::from_py(py, prefilter)?;
        let tx = self.txs.current(py, Access::Write)?;
        let tx = tx.as_ref().map(|t| t.bind(py));
        let cols = self.cols.clone();
        match tx {
            None => {
                let db = &self.db;
                py.detach(|| {
                    writing(|| db.transaction(|t| delete_where(t, &pred, &cols, pre.as_ref())))
                })
                .map_err(|e| begun_for(e, &cols.table))
                .py(py)
            }
            Some(tx) => tx.get().run(py, {
                let keys = self.accepted_in(py, tx, &pred, pre.as_ref(), None)?;
                move |t| delete_keys(t, &cols, &keys)
            }),
        }
    }

    /// Runs a `SELECT *` statement over this table (a traced lambda's) and returns its rows
    /// as dicts.
    #[pyo3(signature = (text, params))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        text: String,
        params: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let params = convert::params(py, params)?;
        if self.txs.current(py, Access::Read)?.is_some() {
            let result = self.sql(py, Access::Read, text, params)?;
            return self.dicts(py, result.rows.iter().map(Vec::as_slice));
        }
        // Outside a transaction the rows become dicts as the query finds them, with no
        // result set in between. A read takes no lock, so it keeps the GIL.
        let cols = &self.cols;
        current(&self.db, cols).py(py)?;
        let list = PyList::empty(py);
        self.db
            .sql_each(&text, &params, |row| {
                cols.dict(py, row)
                    .and_then(|d| list.append(d))
                    .map_err(Error::abort)?;
                Ok(true)
            })
            .py(py)?;
        Ok(list)
    }

    /// Runs `text`, a `SELECT *` over this table in key order whose condition holds
    /// wherever `pred` may accept a row (a prefilter, see `_trace.prefilter`), and keeps
    /// the rows `pred` accepts: the statement's rows are shown to `pred` in key order, as
    /// the per-row path of [`select`](Table::select) shows every row of the table, until
    /// `offset` and then `limit` rows are accepted. Returns those after `offset` as dicts,
    /// or, with `count`, how many rows `pred` accepts of all the statement finds.
    #[pyo3(signature = (text, params, pred, reads=None, limit=None, offset=None, count=false))]
    #[allow(clippy::too_many_arguments)]
    fn query_where<'py>(
        &self,
        py: Python<'py>,
        text: String,
        params: &Bound<'py, PyAny>,
        pred: Py<PyAny>,
        reads: Option<Vec<String>>,
        limit: Option<usize>,
        offset: Option<usize>,
        count: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = convert::params(py, params)?;
        let pred = Pred::new(pred, reads, &self.cols);
        let cols = &*self.cols;
        let calls = Calls::new(&pred, cols);
        let (offset, list) = (offset.unwrap_or(0), PyList::empty(py));
        let mut accepted = 0usize;
        // As the per-row path cuts its scan (`skip(offset).take(limit)`): `pred` is called
        // until the rows after `offset` fill `limit`, and not at all for `limit` 0.
        let enough = |accepted: usize| !count && limit.is_some_and(|l| accepted >= offset + l);
        let mut keep = |row: &[Value]| -> tabula::Result<bool> {
            if limit == Some(0) && !count {
                return Ok(false);
            }
            if !calls.accepts(row) {
                // Once `pred` has raised, the statement stops: its exception is the answer.
                return Ok(!calls.failed());
            }
            let at = accepted;
            accepted += 1;
            if !count && at >= offset {
                cols.dict(py, row)
                    .and_then(|d| list.append(d))
                    .map_err(Error::abort)?;
            }
            Ok(!enough(accepted))
        };
        let found = if self.txs.current(py, Access::Read)?.is_some() {
            // In a transaction the statement runs in it, and its rows are kept here, after
            // the transaction's turn is given back, as `accepted_in` keeps them.
            self.sql(py, Access::Read, text, params).map(|result| {
                for row in &result.rows {
                    match keep(row) {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })?
        } else {
            // A read takes no lock, so the GIL stays held for the whole statement.
            current(&self.db, cols)
                .and_then(|()| self.db.sql_each(&text, &params, &mut keep).map(drop))
        };
        calls.finish().py(py)?;
        found.py(py)?;
        if count {
            return Ok(accepted.into_pyobject(py)?.into_any());
        }
        Ok(list.into_any())
    }

    /// Runs a SQL statement (`UPDATE`, `DELETE`, `SELECT COUNT(*)`) and returns its first
    /// value, or the rows it changed when it returns none.
    #[pyo3(signature = (text, params))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        text: String,
        params: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = convert::params(py, params)?;
        let result = self.sql(py, Access::Write, text, params)?;
        match result.rows.first().and_then(|r| r.first()) {
            Some(v) => convert::plain_to_py(py, v),
            None => Ok(result.changed.into_pyobject(py)?.into_any()),
        }
    }

    /// `UPDATE <table> SET changes WHERE condition`, with the new values checked and
    /// converted for their columns as an insert would; returns the rows changed.
    #[pyo3(signature = (condition, params, changes))]
    fn update_sql<'py>(
        &self,
        py: Python<'py>,
        condition: Option<String>,
        params: &Bound<'py, PyAny>,
        changes: &Bound<'py, PyDict>,
    ) -> PyResult<u64> {
        // Not empty: `_update` refuses an update that changes no column, for both paths.
        let changes = self.changes(changes)?;
        let set: Vec<String> = changes
            .iter()
            .map(|(n, _)| format!("\"{n}\" = ?"))
            .collect();
        let mut text = format!("UPDATE \"{}\" SET {}", self.cols.table, set.join(", "));
        if let Some(c) = condition {
            text.push_str(" WHERE ");
            text.push_str(&c);
        }
        let mut values: Vec<Value> = changes.into_iter().map(|(_, v)| v).collect();
        values.extend(convert::params(py, params)?);
        Ok(self.sql(py, Access::Write, text, values)?.changed)
    }
}
