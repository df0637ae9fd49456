//! Export to and import from one portable JSON document:
//! `{"format":"tabula-export","version":1,"tables":[{"schema":{...},"rows":[{...},...]}]}`.
//!
//! An export is one consistent state of every table (taken under one read lock), so a
//! foreign key never points at a row the export lacks. An import is one transaction: the
//! tables it creates and the rows it inserts commit together, or nothing does.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::engine::load::ensure_loaded;
use crate::engine::source::statement;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::record::DynRow;
use crate::schema::Schema;
use crate::storage::codec::decode_row;
use crate::storage::fs::{FileSystem, StdFs};
use crate::table::TableData;
use crate::value::Value;

const FORMAT: &str = "tabula-export";
const VERSION: u32 = 1;

#[derive(Deserialize)]
struct Document {
    format: String,
    version: u32,
    tables: Vec<TableDoc>,
}

#[derive(Deserialize)]
struct TableDoc {
    schema: Schema,
    rows: Vec<Box<RawValue>>,
}

impl Engine {
    fn fs(&self) -> Arc<dyn FileSystem> {
        self.storage
            .as_ref()
            .map_or_else(|| Arc::new(StdFs) as _, |s| s.fs.clone())
    }

    /// Writes every table's schema and rows, as of one moment, to one JSON document at
    /// `path` (atomically: a temporary file renamed into place).
    pub(crate) fn export_json(&self, path: &Path) -> Result<()> {
        {
            // Every table in memory first: loading needs the write lock.
            let mut st = self.write_state("(export)")?;
            for idx in 0..st.tables.len() {
                ensure_loaded(self.storage.as_ref(), &mut st, idx)?;
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(
            format!("{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"tables\":[").as_bytes(),
        );
        {
            let st = self.read_state("(export)")?;
            let mut names: Vec<(&String, &usize)> = st.by_name.iter().collect();
            names.sort();
            for (i, (name, &idx)) in names.into_iter().enumerate() {
                let t = st.table(idx)?;
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"\n{\"schema\":");
                serde_json::to_writer(&mut out, &**t.schema()).map_err(|e| Error::Json {
                    context: format!("schema of {name}"),
                    source: e,
                })?;
                out.extend_from_slice(b",\"rows\":[");
                t.encode_rows(&mut out)?;
                out.extend_from_slice(b"]}");
            }
        }
        out.extend_from_slice(b"\n]}\n");
        crate::storage::write_atomic_with(&*self.fs(), path, &out)
    }

    /// Reads a document written by `export_json`: creates the tables that are missing,
    /// validates every row, and inserts everything in one transaction, or nothing. Returns
    /// the rows inserted.
    pub(crate) fn import_json(&self, path: &Path) -> Result<usize> {
        let bytes = self.fs().read(path).map_err(|e| Error::io(path, e))?;
        let doc: Document = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            context: format!("import {}", path.display()),
            source: e,
        })?;
        let bad = |reason: String| Error::corrupt(path, 0, reason);
        if doc.format != FORMAT || doc.version != VERSION {
            return Err(bad(format!(
                "not a {FORMAT} version {VERSION} document (format {:?}, version {})",
                doc.format, doc.version
            )));
        }
        // Decode and validate everything before touching the database.
        let mut tables: Vec<(Schema, Vec<Vec<Value>>)> = Vec::new();
        for t in doc.tables {
            let mut schema = t.schema;
            schema.finish()?;
            if tables.iter().any(|(s, _)| s.table == schema.table) {
                return Err(bad(format!("table {} appears twice", schema.table)));
            }
            let rows = t
                .rows
                .iter()
                .enumerate()
                .map(|(i, raw)| {
                    decode_row(&schema, raw.get())
                        .map_err(|e| bad(format!("table {} row {}: {e}", schema.table, i + 1)))
                })
                .collect::<Result<Vec<_>>>()?;
            // Keys and unique values must not collide inside the document either.
            let mut scratch = TableData::<DynRow>::new(Arc::new(schema.clone()));
            for r in &rows {
                scratch.insert(DynRow(r.clone().into_boxed_slice()))?;
            }
            tables.push((schema, rows));
        }
        let total: usize = tables.iter().map(|(_, r)| r.len()).sum();
        self.write("(import)", |tx| {
            for (schema, rows) in &tables {
                let idx = tx.create(schema.clone())?;
                statement(tx, idx, |t| {
                    rows.iter()
                        .try_for_each(|r| t.dyn_insert(r.clone()).map(|_| ()))
                })?;
            }
            Ok(())
        })?;
        Ok(total)
    }
}
