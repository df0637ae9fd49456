//! `tabula._native`: the tabula engine for Python. The package's public API is the
//! pure-Python layer in `python/tabula` (the `@table()` decorator, `Database`, the
//! exceptions); this module holds what it runs on: [`database::Database`],
//! [`table::Table`] and [`txn::Tx`].

mod convert;
mod database;
mod errors;
mod per_row;
mod table;
mod txn;

use pyo3::prelude::*;

/// The extension's allocations go through mimalloc rather than the C library's malloc.
/// The engine's versions allocate and free row copies at a high rate (a commit copies
/// what it touches; the old version is freed when its last reader goes), which glibc's
/// malloc serves markedly slower; Python's own objects keep using CPython's allocator.
///
/// Built without its transparent huge pages (`no_thp`): mimalloc would `madvise` its
/// memory for huge pages, and where the kernel defragments only such memory (the common
/// `defrag=madvise` setting) a fault on it may wait for compaction: a large update then
/// ran at a third of its speed in some processes and at full speed in others (the
/// package README's benchmark section has the figures).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<database::Database>()?;
    m.add_class::<table::Table>()?;
    m.add_class::<txn::Tx>()?;
    Ok(())
}
