//! A Python `where=` callable that could not be traced, called once per row: with a dict
//! of the row (of just the columns it reads, when its bytecode shows which), under the GIL
//! taken for the call, from inside the engine's scan; the first exception it raises stops
//! the scan and is kept for the caller to raise unchanged.

use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tabula::{Error, Value};

use crate::convert::{self, Cols};
use crate::errors;

/// A Python `where=` callable, and the columns it reads.
pub(crate) struct Pred {
    f: Py<PyAny>,
    /// The positions of the only columns the callable can see, when its bytecode shows
    /// that it uses its argument only as `row["constant"]` (`_trace.read_columns`): its
    /// dict then holds just those columns, and is handed from row to row. `None`: the
    /// callable may do anything with its row, which is a new dict of every column.
    reads: Option<Vec<usize>>,
}

impl Pred {
    /// `f`, which reads only the columns named in `reads` if given (names that are not
    /// the table's are left out: no dict of a row holds them).
    pub(crate) fn new(f: Py<PyAny>, reads: Option<Vec<String>>, cols: &Cols) -> Pred {
        let reads = reads.map(|names| {
            let mut at: Vec<usize> = names
                .iter()
                .filter_map(|n| cols.schema.columns.iter().position(|c| &c.name == n))
                .collect();
            at.sort_unstable();
            at.dedup();
            at
        });
        Pred { f, reads }
    }
}

/// One operation's calls of a [`Pred`]: the first exception it raised, which ends the
/// operation, and the dict the last row was shown in.
pub(crate) struct Calls<'a> {
    pred: &'a Pred,
    cols: &'a Cols,
    failure: RefCell<Option<PyErr>>,
    spare: RefCell<Option<Py<PyDict>>>,
}

impl<'a> Calls<'a> {
    pub(crate) fn new(pred: &'a Pred, cols: &'a Cols) -> Self {
        Calls {
            pred,
            cols,
            failure: RefCell::new(None),
            spare: RefCell::new(None),
        }
    }

    /// Whether the callable accepts `row`; once it has raised, every row is refused.
    /// Takes the GIL (the engine may call this without it).
    pub(crate) fn accepts(&self, row: &[Value]) -> bool {
        if self.failure.borrow().is_some() {
            return false;
        }
        Python::attach(|py| match self.call(py, row) {
            Ok(b) => b,
            Err(e) => {
                *self.failure.borrow_mut() = Some(e);
                false
            }
        })
    }

    /// `bool(pred(row))`.
    pub(crate) fn call(&self, py: Python<'_>, row: &[Value]) -> PyResult<bool> {
        let Some(reads) = &self.pred.reads else {
            let d = self.cols.dict(py, row)?;
            return self.pred.f.bind(py).call1((d,))?.is_truthy();
        };
        if row.len() != self.cols.names.len() {
            // The engine hands over rows of the schema `cols` was made from (it refuses a
            // table migrated since before the scan); this only keeps a bug from indexing
            // past a row.
            return Err(errors::to_py(py, errors::stale(&self.cols.table)));
        }
        let d = self.narrow(py, reads, row)?;
        let accepted = self
            .pred
            .f
            .bind(py)
            .call1((&d,))
            .and_then(|r| r.is_truthy());
        // `get_refcnt` is deprecated for `ffi::Py_REFCNT`, an `unsafe fn`: this crate
        // writes no unsafe code, and the safe method reads the same count.
        #[allow(deprecated)]
        let held = d.get_refcnt() > 1;
        if accepted.is_err() || held {
            // Something holds the dict past the call (the traceback of what the callable
            // raised, a frame kept by a debugger): it shows the whole row there, as a
            // callable given every row whole would have been. The callable's own
            // exception, if any, is what the caller gets, whatever filling it meets.
            let filled = self.fill(&d, row);
            if accepted.is_ok() {
                filled?;
            }
        } else {
            *self.spare.borrow_mut() = Some(d.unbind());
        }
        accepted
    }

    /// The row's `reads` columns in a dict: the last row's dict refilled, unless something
    /// changed its keys (which only reaching into the callable's frame could do).
    fn narrow<'py>(
        &self,
        py: Python<'py>,
        reads: &[usize],
        row: &[Value],
    ) -> PyResult<Bound<'py, PyDict>> {
        let set = |d: &Bound<'py, PyDict>| -> PyResult<()> {
            for &i in reads {
                let v = convert::column_to_py(py, &row[i], self.cols.json[i])?;
                d.set_item(self.cols.names[i].bind(py), v)?;
            }
            Ok(())
        };
        if let Some(d) = self.spare.borrow_mut().take() {
            let d = d.into_bound(py);
            set(&d)?;
            if d.len() == reads.len() {
                return Ok(d);
            }
        }
        let d = PyDict::new(py);
        set(&d)?;
        Ok(d)
    }

    /// `d` made the row's whole dict, in column order.
    fn fill(&self, d: &Bound<'_, PyDict>, row: &[Value]) -> PyResult<()> {
        d.clear();
        self.cols.fill(d, row)
    }

    /// Whether the callable has raised (every later row is then refused).
    pub(crate) fn failed(&self) -> bool {
        self.failure.borrow().is_some()
    }

    /// `Err` carrying the Python exception, if one was raised.
    pub(crate) fn finish(self) -> tabula::Result<()> {
        match self.failure.take() {
            Some(e) => Err(Error::abort(e)),
            None => Ok(()),
        }
    }
}

impl Drop for Calls<'_> {
    fn drop(&mut self) {
        // The engine may run the calls without the GIL: the spare dict goes back with it
        // held, rather than through PyO3's queue of deferred decrements.
        if let Some(d) = self.spare.take() {
            Python::attach(|_| drop(d));
        }
    }
}
