//! User-level tests of tabula, one binary (see CONVENTIONS.md).

mod common;
mod concurrency;
mod constraints;
mod dynamic;
mod model;
mod queries;
mod transactions;
mod ui;
