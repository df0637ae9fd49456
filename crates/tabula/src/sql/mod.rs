//! SQL over tabula's tables: scalar expressions ([`scalar`]), compiled from `sqlparser`'s
//! tree and evaluated with SQLite's semantics where SQL leaves room, and the statements
//! `db.sql` runs ([`run`](mod@run)); a database as a SQL script ([`dump`]).

mod accumulate;
mod alter;
mod auto_index;
mod cache;
mod compound;
mod copy;
mod correlated;
mod ddl;
pub(crate) mod dump;
mod execute;
mod explain;
mod from;
mod join;
mod numeric;
mod parse;
mod point;
mod prepared;
mod rows_to;
mod run;
pub(crate) mod scalar;
mod scope;
mod select;
mod stream;
mod stretches;
mod target;
mod upsert;
mod value_set;

pub(crate) use ddl::{check_forward, ForwardCheck};
pub use dump::Dialect;
pub use prepared::Statement;
pub(crate) use rows_to::Each;
pub use run::{distinct_column_names, SqlResult};
pub(crate) use run::{run, run_each, run_script};

/// `Error::Unsupported` for `feature`, which the SQL layer names in place of a generic
/// parse error.
pub(crate) fn unsupported(feature: impl Into<String>) -> crate::error::Error {
    crate::error::Error::Unsupported {
        feature: feature.into(),
    }
}
