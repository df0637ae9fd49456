//! SQL over tabula's tables: scalar expressions ([`scalar`]), compiled from `sqlparser`'s
//! tree and evaluated with SQLite's semantics where SQL leaves room, and the statements
//! `db.sql` runs ([`run`]).

mod alter;
mod cache;
mod ddl;
mod run;
pub(crate) mod scalar;
mod select;
mod target;

pub(crate) use cache::PlanCache;
pub use run::SqlResult;
pub(crate) use run::{run, run_each};
