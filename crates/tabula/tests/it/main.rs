//! User-level tests of tabula, one binary (see CONVENTIONS.md).

mod atomicity;
mod common;
mod composite;
mod composite_differential;
mod concurrency;
mod constraints;
mod crash;
mod dynamic;
mod evolution;
mod evolution_faults;
mod exchange;
mod faults;
mod fuzz_smoke;
mod layers;
mod migration_crash;
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
