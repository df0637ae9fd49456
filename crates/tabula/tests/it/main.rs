//! User-level tests of tabula, one binary (see CONVENTIONS.md).

mod atomicity;
mod common;
mod concurrency;
mod constraints;
mod crash;
mod dynamic;
mod exchange;
mod faults;
mod fuzz_smoke;
mod layers;
mod model;
mod numbers;
mod persistence;
mod queries;
mod read_only;
mod recovery;
mod relations;
mod repair;
mod transactions;
mod ui;
mod versions;
