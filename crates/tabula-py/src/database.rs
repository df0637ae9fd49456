//! A database for Python (`tabula._native.Database`): open, attach tables from schemas,
//! SQL, transactions, checkpoints, statistics, export and import.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use tabula::{Database as Db, Durability, Schema};

use crate::convert::{self, Cols};
use crate::errors::{self, IntoPyResult};
use crate::table::Table;
use crate::txn::{self, Registry, Tx};

/// A database handle.
#[pyclass(frozen, module = "tabula._native")]
pub struct Database {
    db: Db,
    txs: Arc<Registry>,
}

fn json_error(py: Python<'_>, what: &str, e: serde_json::Error) -> PyErr {
    errors::raise(py, "Json", &format!("{what}: {e}"), &[])
}

/// A schema from its JSON (the schema file's form) and the class's evolution hints.
fn schema_of(
    py: Python<'_>,
    schema_json: &str,
    renamed: Vec<(String, String)>,
    dropped: Vec<String>,
) -> PyResult<Schema> {
    let mut schema: Schema =
        serde_json::from_str(schema_json).map_err(|e| json_error(py, "a table's schema", e))?;
    schema.evolution.renamed = renamed;
    schema.evolution.dropped = dropped;
    schema.finish().py(py)?;
    Ok(schema)
}

#[pymethods]
impl Database {
    /// Opens the database directory `path` (created when missing), or an in-memory
    /// database without one. `durability` is `"immediate"` (every commit is on disk when
    /// it returns) or `"buffered"`.
    #[new]
    #[pyo3(signature = (path=None, durability="immediate", read_only=false))]
    fn new(
        py: Python<'_>,
        path: Option<std::path::PathBuf>,
        durability: &str,
        read_only: bool,
    ) -> PyResult<Self> {
        let durability = match durability {
            "immediate" => Durability::Immediate,
            "buffered" => Durability::Buffered,
            other => {
                return Err(PyErr::new::<pyo3::exceptions::PyValueError, _>(format!(
                    "durability must be \"immediate\" or \"buffered\", not {other:?}"
                )))
            }
        };
        let db = match path {
            None if read_only => {
                return Err(PyErr::new::<pyo3::exceptions::PyValueError, _>(
                    "read_only needs a database directory (persist=True or path=...)",
                ))
            }
            None => Db::in_memory(),
            Some(p) => {
                let builder = Db::builder().durability(durability);
                if read_only {
                    py.detach(|| builder.open_read_only(&p)).py(py)?
                } else {
                    py.detach(|| builder.open(&p)).py(py)?
                }
            }
        };
        Ok(Database {
            db,
            txs: Arc::default(),
        })
    }

    /// The table a schema describes (the schema file's JSON), created when missing and
    /// migrated when its stored schema differs, under the same rules as the Rust derive:
    /// `renamed` holds `(old, new)` column names, `dropped` stored columns to drop, and
    /// `containers` the `json` columns whose fields are a `dict` or a `list` (column name,
    /// `"dict"` or `"list"`), whose values must be one.
    #[pyo3(signature = (schema_json, renamed, dropped, containers=Vec::new()))]
    fn attach(
        &self,
        py: Python<'_>,
        schema_json: &str,
        renamed: Vec<(String, String)>,
        dropped: Vec<String>,
        containers: Vec<(String, String)>,
    ) -> PyResult<Table> {
        let schema = schema_of(py, schema_json, renamed, dropped)?;
        self.txs
            .refuse_inside(py, "creating or migrating a table")?;
        let db = &self.db;
        let handle = py
            .detach(|| {
                let exists = db.table_names()?.contains(&schema.table);
                if exists && db.schema(&schema.table)? != schema {
                    db.alter_table(schema.clone())?;
                }
                if exists {
                    db.dyn_table(&schema.table)
                } else {
                    db.create_table(schema)
                }
            })
            .py(py)?;
        let cols = Arc::new(Cols::with_containers(py, handle.schema(), &containers));
        Ok(Table {
            db: self.db.clone(),
            handle,
            cols,
            txs: self.txs.clone(),
        })
    }

    /// What attaching `schema_json` would change, in words, changing nothing.
    #[pyo3(signature = (schema_json, renamed, dropped))]
    fn migration_plan(
        &self,
        py: Python<'_>,
        schema_json: &str,
        renamed: Vec<(String, String)>,
        dropped: Vec<String>,
    ) -> PyResult<Vec<String>> {
        // The plan reads the table, which a reopened database may not have loaded yet: a
        // load installs it under the writers' lock, which this thread's transaction holds.
        self.txs.refuse_inside(py, "migration_plan()")?;
        let schema = schema_of(py, schema_json, renamed, dropped)?;
        let db = &self.db;
        py.detach(|| db.alter_plan(schema))
            .py(py)
            .map(|p| p.changes().to_vec())
    }

    /// Runs SQL text; returns `(columns, rows, changed)` of the last statement, each row a
    /// dict of column name to value (repeated names made distinct).
    fn sql<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        params: &Bound<'py, PyAny>,
    ) -> PyResult<(Vec<String>, Bound<'py, PyList>, u64)> {
        // A lone surrogate has no UTF-8: the text cannot be SQL (as a value in `params` it
        // is `TypeMismatch`, as everywhere else).
        let text = text
            .to_cow()
            .map_err(|e| {
                errors::raise(
                    py,
                    "Sql",
                    &format!("the SQL text is not valid Unicode: {e}"),
                    &[],
                )
            })?
            .into_owned();
        let params = convert::params(py, params)?;
        if self.txs.open_elsewhere_here(py)? {
            // Another context's block is open on this thread: the text runs as another
            // thread's reads would, on the last committed version. Refused before it runs
            // when it writes, or when a table is still on disk (loading one takes the
            // writers' lock): either would wait for that block on its own thread.
            let db = &self.db;
            let result = py
                .detach(|| {
                    let st = db.prepare(&text)?;
                    let runs = st.reads_only() && db.stats()?.tables.iter().all(|t| t.loaded);
                    runs.then(|| st.run(&params)).transpose()
                })
                .py(py)?;
            return match result {
                Some(r) => Self::sql_result(py, r),
                None => Err(errors::raise(
                    py,
                    "InTransaction",
                    txn::ANOTHER_CONTEXT,
                    &[],
                )),
            };
        }
        let tx = self.txs.current(py, txn::Access::Write)?;
        let tx = tx.as_ref().map(|t| t.bind(py));
        let result = match tx {
            None => {
                let db = &self.db;
                py.detach(|| db.sql_with(&text, &params)).py(py)?
            }
            Some(tx) => tx.get().run(py, move |t| t.sql_with(&text, &params))?,
        };
        Self::sql_result(py, result)
    }

    /// Opens a transaction for the calling thread and context: until its `commit` or
    /// `rollback`, every call made on the database in this context (and the contexts
    /// copied from it: the tasks it starts) on this thread runs inside it.
    fn begin(&self, py: Python<'_>) -> PyResult<Py<Tx>> {
        self.txs.begin(py, self.db.clone())
    }

    /// Whether the calling code runs inside a transaction (its thread's, in its context).
    fn in_transaction(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.txs.current(py, txn::Access::Read)?.is_some())
    }

    /// Called in a child process after `fork()`: every later call on this database (and
    /// its tables) is refused, since the directory stays the parent's.
    fn forked(&self) {
        self.txs.mark_forked(txn::FORKED_DIRECTORY);
        // The engine must never be dropped here either: a clean drop trims the log file,
        // which the parent is still appending to.
        std::mem::forget(self.db.clone());
    }

    /// Called in a child process after `fork()` for an in-memory database: its copy is
    /// the child's own and works, unless another thread of the parent held one of its
    /// locks at the fork (a transaction under way there): then its calls are refused,
    /// where they would wait forever for a thread the child does not have. Returns whether
    /// it was refused.
    fn forked_in_memory(&self) -> bool {
        // Exact here: the child runs no other thread that could take or give back a lock.
        if !self.db.is_locked_elsewhere() && !self.txs.is_locked() {
            return false;
        }
        self.txs.mark_forked(txn::FORKED_WRITING);
        // Never dropped: dropping the engine might wait on the same lock.
        std::mem::forget(self.db.clone());
        true
    }

    /// Writes every table's snapshot and starts a new write-ahead log (a no-op in memory).
    fn checkpoint(&self, py: Python<'_>) -> PyResult<()> {
        self.txs.refuse_inside(py, "a checkpoint")?;
        let db = &self.db;
        py.detach(|| db.checkpoint()).py(py)
    }

    /// Loads every table now (tables are otherwise loaded when first used).
    fn load(&self, py: Python<'_>) -> PyResult<()> {
        // A load installs the table under the writers' lock, which this thread's
        // transaction holds.
        self.txs.refuse_inside(py, "load()")?;
        let db = &self.db;
        py.detach(|| -> tabula::Result<()> {
            for name in db.table_names()? {
                db.dyn_table(&name)?;
            }
            Ok(())
        })
        .py(py)
    }

    /// Re-reads a read-only database's directory to see the writer's newer commits.
    fn refresh(&self, py: Python<'_>) -> PyResult<()> {
        let db = &self.db;
        py.detach(|| db.refresh()).py(py)
    }

    /// Closes the database: a last checkpoint for a directory, then the lock is released.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.txs.refuse_inside(py, "close()")?;
        let db = &self.db;
        py.detach(|| db.close()).py(py)
    }

    /// Whether the database is still open: `close()` closes it even when it raises (a
    /// poisoned database's last checkpoint fails).
    fn is_open(&self) -> bool {
        !self.db.is_closed()
    }

    /// The names of the tables, sorted.
    fn tables(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let db = &self.db;
        py.detach(|| db.table_names()).py(py)
    }

    /// The schema of a table as its JSON text.
    fn schema_json(&self, py: Python<'_>, table: &str) -> PyResult<String> {
        let db = &self.db;
        let schema = py.detach(|| db.schema(table)).py(py)?;
        serde_json::to_string(&schema).map_err(|e| json_error(py, "a table's schema", e))
    }

    /// Statistics as a dict (`tabula::Stats`' fields).
    fn statistics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let db = &self.db;
        // No table is loaded for it: a load waits for the writers' lock, and statistics
        // are a read. A table not loaded yet counts its rows at its last checkpoint (the
        // README says so; `load()` first makes every count exact).
        let stats = py.detach(|| db.stats()).py(py)?;
        let text = serde_json::to_string(&stats).map_err(|e| json_error(py, "statistics", e))?;
        PyModule::import(py, "json")?
            .getattr("loads")?
            .call1((text,))
    }

    /// Writes every table, schema and rows, to one JSON file.
    fn export_json(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        self.txs.refuse_inside(py, "export_json()")?;
        let db = &self.db;
        py.detach(|| db.export_json(&path)).py(py)
    }

    /// Reads a file `export_json` wrote; returns the rows imported.
    fn import_json(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<usize> {
        self.txs.refuse_inside(py, "import_json()")?;
        let db = &self.db;
        py.detach(|| db.import_json(&path)).py(py)
    }

    /// The directory, or `None` in memory.
    #[getter]
    fn path(&self) -> Option<std::path::PathBuf> {
        self.db.path().map(|p| p.to_path_buf())
    }

    /// Whether the database was opened read-only.
    #[getter]
    fn read_only(&self) -> bool {
        self.db.is_read_only()
    }

    /// The schema history of a table: a list of dicts `{lsn, change}`.
    fn schema_history<'py>(&self, py: Python<'py>, table: &str) -> PyResult<Bound<'py, PyList>> {
        let db = &self.db;
        let history = py.detach(|| db.schema_history(table)).py(py)?;
        let out = PyList::empty(py);
        for h in history {
            let d = PyDict::new(py);
            d.set_item("lsn", h.lsn)?;
            d.set_item("change", h.change.clone())?;
            out.append(d)?;
        }
        Ok(out)
    }
}

impl Database {
    /// `(columns, rows, changed)` of a result, each row a dict of column name to value; a
    /// name the result repeats is made distinct ([`tabula::distinct_column_names`]) so
    /// that no column is lost. Each dict is a copy of one holding every name, filled in:
    /// the copy takes the template's table of keys as it is, where inserting the keys one
    /// by one would hash and place each again.
    fn sql_result<'py>(
        py: Python<'py>,
        result: tabula::SqlResult,
    ) -> PyResult<(Vec<String>, Bound<'py, PyList>, u64)> {
        let names: Vec<Bound<'py, PyString>> = tabula::distinct_column_names(&result.columns)
            .iter()
            .map(|n| PyString::new(py, n))
            .collect();
        let template = PyDict::new(py);
        for name in &names {
            template.set_item(name, py.None())?;
        }
        let mut rows = Vec::with_capacity(result.rows.len());
        for r in &result.rows {
            let row = template.copy()?;
            for (name, v) in names.iter().zip(r) {
                row.set_item(name, convert::plain_to_py(py, v)?)?;
            }
            rows.push(row);
        }
        Ok((result.columns, PyList::new(py, rows)?, result.changed))
    }
}
