//! Dropping tables: it leaves the state at once (its position kept by an empty table, see
//! [`State::drop_table`]); for a database directory, as one durable step of its own, as a
//! migration is: a checkpoint whose manifest no longer lists the table and names it among
//! the dropped ones, then the table's files removed (see `checkpoint::commit_drop`).

use std::sync::PoisonError;

use crate::engine::checkpoint::commit_drop;
use crate::engine::foreign_keys::edges;
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Drops tables `names` with their rows and files, all or none. Refused inside a
    /// transaction, on a read-only database, and while a table not among them references
    /// one of them (`Error::TableReferenced`). A failure changes nothing.
    pub(crate) fn drop_tables(&self, names: &[String]) -> Result<()> {
        let what = names.first().map_or("", String::as_str);
        self.refuse_in_transaction(what)?;
        self.check_open()?;
        if let Some(s) = self.read_only_storage() {
            return Err(s.refuse(format!("drop table {}", names.join(", "))));
        }
        // Its checkpoint must not overlap one running with no lock held.
        let _no_checkpoint = self
            .checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.update(what, |st| {
            let mut idxs = names
                .iter()
                .map(|n| st.index_of(n))
                .collect::<Result<Vec<usize>>>()?;
            idxs.sort_unstable();
            idxs.dedup();
            refuse_referenced(st, &idxs)?;
            for &idx in &idxs {
                st.drop_table(idx)?;
            }
            match &self.storage {
                Some(storage) => commit_drop(storage, st, names),
                None => Ok(()),
            }
        })
    }
}

/// `Error::TableReferenced` if a column of a table not in `idxs` references one in it.
fn refuse_referenced(st: &State, idxs: &[usize]) -> Result<()> {
    let edges = edges(st);
    for &idx in idxs {
        let name = &st.table(idx)?.schema().table;
        let mut by: Vec<String> = edges
            .iter()
            .filter(|(child, _, parent, _)| parent == name && !idxs.contains(child))
            .map(|&(child, col, _, _)| {
                let schema = st.tables[child].schema();
                format!("{}.{}", schema.table, schema.columns[col].name)
            })
            .collect();
        if !by.is_empty() {
            by.sort();
            return Err(Error::TableReferenced {
                table: name.clone(),
                referenced_by: by.join(", "),
            });
        }
    }
    Ok(())
}
