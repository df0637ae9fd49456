//! SQL over tabula's tables: scalar expressions ([`scalar`]), compiled from `sqlparser`'s
//! tree and evaluated with SQLite's semantics where SQL leaves room, and the statements
//! `db.sql` runs ([`run`](mod@run)); a database as a SQL script ([`dump`]).

mod accumulate;
mod alter;
mod cache;
mod compound;
mod copy;
mod correlated;
mod ddl;
pub(crate) mod dump;
mod explain;
mod from;
mod join;
mod numeric;
mod point;
mod prepared;
mod rows_to;
mod run;
pub(crate) mod scalar;
mod scope;
mod select;
mod stream;
mod target;
mod upsert;

pub use dump::Dialect;
pub use prepared::Statement;
pub use run::SqlResult;
pub(crate) use run::{check_forward, run, run_each, run_script, ForwardCheck};
