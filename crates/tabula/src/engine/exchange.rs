//! Export to and import from one portable JSON document:
//! `{"format":"tabula-export","version":1,"tables":[{"schema":{...},"next_key":N,"rows":[{...},...]}]}`.
//!
//! An export is one consistent state of every table (one version), so a
//! foreign key never points at a row the export lacks. An import is one transaction: the
//! tables it creates and the rows it inserts commit together, or nothing does.

use std::path::Path;
use std::sync::Arc;

use crate::engine::load::ensure_loaded;
use crate::engine::source::statement;
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::record::DynRow;
use crate::storage::export::{read_export, ExportWriter};
use crate::storage::fs::{FileSystem, StdFs};
use crate::table::TableData;

/// How often an export or a dump starts again when a refresh unloaded tables under it.
const EXPORT_ATTEMPTS: u32 = 10;

impl Engine {
    fn fs(&self) -> Arc<dyn FileSystem> {
        self.storage
            .as_ref()
            .map_or_else(|| Arc::new(StdFs) as _, |s| s.fs.clone())
    }

    /// Writes every table's schema and rows, as of one moment, to one JSON document at
    /// `path` (atomically: a temporary file renamed into place).
    pub(crate) fn export_json(&self, path: &Path) -> Result<()> {
        self.refuse_in_transaction("(export)")?;
        let root = self.storage.as_ref().map(|s| s.layout.root.as_path());
        crate::storage::export::check_export_target(&*self.fs(), root, path)?;
        let Some(st) = self.loaded_state("(export)")? else {
            return Err(Error::io(
                path,
                std::io::Error::other("the database was refreshed during every export attempt"),
            ));
        };
        let mut doc = ExportWriter::new();
        let mut names: Vec<(&String, &usize)> = st.by_name.iter().collect();
        names.sort();
        for (_, &idx) in names {
            let t = st.table(idx)?;
            doc.table(t.schema(), t.next_key(), |rows| t.write_rows(rows))?;
        }
        let out = doc.finish();
        crate::storage::export::write_export(&*self.fs(), root, path, &out)
    }

    /// One committed version of the database with every table in memory: what an export or
    /// a dump reads, so that a foreign key never points at a row it lacks. `None` when a
    /// read-only database was refreshed under every attempt.
    pub(crate) fn loaded_state(&self, what: &str) -> Result<Option<Arc<State>>> {
        if let Some(st) = self.loaded_beside_writers(what)? {
            return Ok(Some(st));
        }
        // A read-only database's refresh may unload tables between the steps below (a table
        // not loaded would be read empty): then again.
        for _ in 0..EXPORT_ATTEMPTS {
            // Every table in memory first, read with no lock held; then any a write created
            // meanwhile, under the writers' lock.
            for name in self.table_names()? {
                self.preload::<crate::record::DynRow>(&name)?;
            }
            if self.read_state(what)?.meta.iter().any(|m| !m.loaded) {
                self.update(what, |st| {
                    for idx in 0..st.tables.len() {
                        ensure_loaded(self.storage.as_ref(), st, idx)?;
                    }
                    Ok(())
                })?;
            }
            let st = self.read_state(what)?;
            if st.meta.iter().all(|m| m.loaded) {
                return Ok(Some(st));
            }
        }
        Ok(None)
    }

    /// [`Engine::loaded_state`] without waiting for a writer: the newest published version,
    /// each table it has not loaded decoded as that version has it (`Engine::read_loaded`,
    /// as SQL reads one), so that a write transaction in progress on another thread holds no
    /// export or dump up. A version `read_loaded` hands back in which a table already read
    /// differs (a newer one, published meanwhile with the table loaded) starts it again
    /// from there. `None` when that kept happening, for the caller's way, which waits.
    fn loaded_beside_writers(&self, what: &str) -> Result<Option<Arc<State>>> {
        'attempt: for _ in 0..EXPORT_ATTEMPTS {
            let mut st = self.read_state(what)?;
            let mut names: Vec<String> = st.by_name.keys().cloned().collect();
            names.sort();
            for name in names {
                let Some(&idx) = st.by_name.get(&name) else {
                    continue 'attempt;
                };
                if st.meta[idx].loaded {
                    continue;
                }
                let fresh = match self.read_loaded(&name, &st) {
                    Ok(fresh) => fresh,
                    // Dropped since `st` (its files removed): again, from a newer version.
                    Err(Error::UnknownTable { .. }) => continue 'attempt,
                    Err(e) => return Err(e),
                };
                let kept = st.tables.len() == fresh.tables.len()
                    && st
                        .meta
                        .iter()
                        .zip(st.tables.iter().zip(&fresh.tables))
                        .all(|(m, (a, b))| !m.loaded || Arc::ptr_eq(a, b));
                if !kept {
                    continue 'attempt;
                }
                st = fresh;
            }
            if st.by_name.values().all(|&i| st.meta[i].loaded) {
                return Ok(Some(st));
            }
        }
        Ok(None)
    }

    /// Reads a document written by `export_json`: creates the tables that are missing,
    /// validates every row, and inserts everything in one transaction, or nothing. Returns
    /// the rows inserted.
    pub(crate) fn import_json(&self, path: &Path) -> Result<usize> {
        self.check_open()?;
        self.refuse_in_transaction("(import)")?;
        if let Some(s) = self.read_only_storage() {
            return Err(s.refuse("import"));
        }
        let bytes = self.fs().read_input(path).map_err(|e| Error::io(path, e))?;
        let tables = read_export(path, &bytes)?;
        // Keys and unique values must not collide inside the document either; checked
        // before the database is touched.
        for e in &tables {
            let mut scratch = TableData::<DynRow>::new(Arc::new(e.schema.clone()))?;
            for r in &e.rows {
                scratch.insert(DynRow(r.clone().into()))?;
            }
        }
        let total: usize = tables.iter().map(|e| e.rows.len()).sum();
        self.write("(import)", |tx| {
            for e in &tables {
                let idx = tx.create(e.schema.clone())?;
                statement(tx, idx, |t| {
                    e.rows
                        .iter()
                        .try_for_each(|r| t.dyn_insert(r.clone()).map(|_| ()))?;
                    // Keys the exported table gave out and deleted are not given again.
                    if let Some(next) = e.next_key.filter(|_| e.schema.auto_increment()) {
                        t.raise_next_key(next);
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
        Ok(total)
    }
}
