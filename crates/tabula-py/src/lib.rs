//! `tabula._native`: the tabula engine for Python. The package's public API is the
//! pure-Python layer in `python/tabula` (the `@table()` decorator, `Database`, the
//! exceptions); this module holds what it runs on: [`database::Database`],
//! [`table::Table`] and [`txn::Tx`].

mod convert;
mod database;
mod errors;
mod table;
mod txn;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<database::Database>()?;
    m.add_class::<table::Table>()?;
    m.add_class::<txn::Tx>()?;
    Ok(())
}
