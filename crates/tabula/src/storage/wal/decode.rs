//! Decoding a record's part for one table, once the table's schema is known (a table's log
//! records are kept undecoded until the table is first used).

use std::path::Path;

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::codec::{decode_key, decode_row};
use crate::storage::wal::line::RawTableOps;
use crate::value::Value;

/// What a committed transaction did to one table, as physical row images: the keys that no
/// longer exist, and the final image of every row written (values in schema order).
/// Applying it twice gives the same state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LoggedChanges {
    pub(crate) deletes: Vec<Value>,
    pub(crate) puts: Vec<Vec<Value>>,
}

/// Decodes `ops` (from line `line` of the log at `path`) against `schema`.
pub(crate) fn decode_ops(
    path: &Path,
    line: u64,
    schema: &Schema,
    ops: &RawTableOps,
) -> Result<LoggedChanges> {
    let bad = |e: String| Error::corrupt(path, line, format!("table {}: {e}", schema.table));
    let puts = ops
        .put
        .iter()
        .map(|raw| decode_row(schema, raw.get()).map_err(bad))
        .collect::<Result<Vec<_>>>()?;
    let deletes = ops
        .delete
        .iter()
        .map(|k| decode_key(schema, k.clone()).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    Ok(LoggedChanges { deletes, puts })
}
