//! Export to and import from one portable JSON document:
//! `{"format":"tabula-export","version":1,"tables":[{"schema":{...},"rows":[{...},...]}]}`.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::db::{persist, Database};
use crate::error::{Error, Result};
use crate::record::DynRow;
use crate::schema::Schema;
use crate::storage::codec::{decode_row, RowCodec};
use crate::storage::fs::{FileSystem, StdFs};
use crate::table::TableData;
use crate::txn::statement;
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

impl Database {
    fn fs(&self) -> Arc<dyn FileSystem> {
        self.shared
            .storage
            .as_ref()
            .map_or_else(|| Arc::new(StdFs) as _, |s| s.fs.clone())
    }

    /// Writes every table's schema and rows to one JSON document at `path` (atomically:
    /// a temporary file renamed into place).
    pub fn export_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let names = self.table_names()?;
        let mut out = Vec::new();
        out.extend_from_slice(
            format!("{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"tables\":[").as_bytes(),
        );
        for (i, name) in names.iter().enumerate() {
            let t = self.dyn_table(name)?;
            let schema = t.schema().clone();
            let rows = {
                let st = self.read_state(name)?;
                st.tables[st.index_of(name)?].dump()?
            };
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"\n{\"schema\":");
            serde_json::to_writer(&mut out, &schema).map_err(|e| Error::Json {
                context: format!("schema of {name}"),
                source: e,
            })?;
            out.extend_from_slice(b",\"rows\":[");
            let codec = RowCodec::new(&schema);
            for (j, r) in rows.iter().enumerate() {
                out.extend_from_slice(if j > 0 { b",\n" } else { b"\n" });
                codec.encode(&schema, r, &mut out);
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"\n]}\n");
        crate::storage::write_atomic_with(&*self.fs(), path, &out)
    }

    /// Reads a document written by [`export_json`](Database::export_json): creates the tables
    /// that are missing, validates every row, and inserts everything in one transaction, or
    /// nothing. A malformed document, a table whose schema differs from the existing one, a
    /// key or unique value that collides with an existing row, or a value that does not fit
    /// its column is an error that changes nothing.
    pub fn import_json(&self, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let bytes = self.fs().read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let doc: Document = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            context: format!("import {}", path.display()),
            source: e,
        })?;
        let bad = |reason: String| Error::Corrupt {
            file: path.to_path_buf(),
            line: 0,
            reason,
        };
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
        let existing = self.table_names()?;
        for (schema, _) in &tables {
            if existing.contains(&schema.table) {
                let current = self.schema(&schema.table)?;
                let diffs = current.differences(schema);
                if !diffs.is_empty() {
                    return Err(Error::SchemaMismatch {
                        table: schema.table.clone(),
                        reason: diffs.join("; "),
                    });
                }
            }
        }
        let total: usize = tables.iter().map(|(_, r)| r.len()).sum();
        // Tables created for the import; removed again if it fails, even at commit (when
        // foreign keys are checked).
        let created_outside = std::cell::RefCell::new(Vec::new());
        let outcome = self.transaction(|tx| {
            let mut created = Vec::new();
            let result = (|| {
                for (schema, rows) in &tables {
                    let is_new = !existing.contains(&schema.table);
                    let idx = {
                        let mut st = tx.state.borrow_mut();
                        let idx = persist::create(tx.shared, &mut st, schema.clone())?;
                        if is_new {
                            created.push(schema.table.clone());
                        }
                        idx
                    };
                    statement(tx, idx, |t| {
                        rows.iter()
                            .try_for_each(|r| t.dyn_insert(r.clone()).map(|_| ()))
                    })?;
                }
                Ok(())
            })();
            if result.is_err() {
                tx.rollback();
                persist::drop_created(tx.shared, &mut tx.state.borrow_mut(), &created);
            } else {
                *created_outside.borrow_mut() = created;
            }
            result
        });
        if let Err(e) = outcome {
            let created = created_outside.into_inner();
            if !created.is_empty() {
                let mut st = self.write_state()?;
                persist::drop_created(&self.shared, &mut st, &created);
            }
            return Err(e);
        }
        Ok(total)
    }
}
