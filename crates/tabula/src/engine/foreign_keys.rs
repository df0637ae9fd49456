//! Foreign keys: delete actions with the statement that deletes, references checked when
//! a transaction commits.
//!
//! Checking at commit (deferred, as SQL's `DEFERRABLE INITIALLY DEFERRED`) lets one
//! transaction insert a row and its parent in either order. The actions `cascade` (delete the
//! rows that reference a deleted row) and `set_null` (clear their column) run as part of the
//! statement that deleted the parent row ([`act_now`]), as SQLite's do, through chains and
//! cycles of references: so they reach the rows that referenced it then, never a row written
//! later in the transaction, which then references nothing and fails the commit. A commit
//! checks `restrict` (no row may still reference a deleted one: a transaction may delete the
//! dependents after their parent), then that every row the transaction inserted or changed
//! references a row that exists. A failure rolls the whole transaction back. Parents are found through the
//! primary-key map, dependents through the ordered index every foreign-key column has.

use std::collections::HashSet;

use crate::engine::load::ensure_loaded;
use crate::engine::source::TxCore;
use crate::engine::state::State;
use crate::engine::write::WriteTx;
use crate::error::{Error, Result};
use crate::schema::OnDelete;
use crate::table::Mark;
use crate::value::Value;

/// One foreign key: (child table, column, parent table name, action).
pub(crate) type Edge = (usize, usize, String, OnDelete);

/// Every foreign key of the tables not dropped.
pub(crate) fn edges(st: &State) -> Vec<Edge> {
    let mut out = Vec::new();
    for idx in st.live() {
        for (col, c) in st.tables[idx].schema().columns.iter().enumerate() {
            if let Some(fk) = &c.references {
                out.push((idx, col, fk.table.clone(), fk.on_delete));
            }
        }
    }
    out
}

fn fk_error(
    st: &State,
    child: usize,
    col: usize,
    parent: &str,
    value: Value,
    reason: String,
) -> Error {
    let s = st.tables[child].schema();
    Error::ForeignKey {
        table: s.table.clone(),
        column: s.columns[col].name.clone(),
        references: parent.to_owned(),
        value,
        reason,
    }
}

/// Runs the `cascade` and `set_null` actions of the rows the statement that wrote table
/// `idx` from `mark` on deleted, and of the rows those actions delete in turn (each deleted
/// row once: cycles of references end). `changed` gets each table the actions changed,
/// with its mark from before them, so that the caller can undo them should this fail.
pub(crate) fn act_now(
    tx: &WriteTx<'_>,
    idx: usize,
    mark: Mark,
    changed: &mut Vec<(usize, Mark)>,
) -> Result<()> {
    let mut acted: HashSet<(usize, Value)> = HashSet::new();
    // Most statements delete nothing: found in their own journal entries alone.
    if !tx.state_mut()?.tables[idx].deletes_since(mark) {
        return Ok(());
    }
    let all_edges = {
        let st = tx.state_mut()?;
        let name = &st.tables[idx].schema().table;
        // And most tables are followed by no action.
        let followed = st.live().any(|i| {
            st.tables[i].schema().columns.iter().any(|c| {
                c.references
                    .as_ref()
                    .is_some_and(|fk| fk.table == *name && fk.on_delete != OnDelete::Restrict)
            })
        });
        if !followed {
            return Ok(());
        }
        edges(&st)
    };
    // Where a `restrict` key may refuse the commit, the cascades are noted for the words of
    // that refusal (see [`cascade_origin`]); elsewhere nothing is kept.
    let noted = all_edges.iter().any(|e| e.3 == OnDelete::Restrict);
    let all_edges: Vec<Edge> = all_edges
        .into_iter()
        .filter(|e| e.3 != OnDelete::Restrict)
        .collect();
    // The keys deleted (each looked up, to leave out one inserted again): only now that an
    // action may follow them.
    let deleted = tx.state_mut()?.tables[idx].deleted_since(mark);
    let storage = tx.engine().storage.as_ref();
    let mut work = vec![(idx, deleted)];
    while let Some((parent, keys)) = work.pop() {
        let parent_name = tx.state_mut()?.tables[parent].schema().table.clone();
        for key in keys {
            if !acted.insert((parent, key.clone())) {
                continue;
            }
            for (child, col, _, action) in all_edges.iter().filter(|e| e.2 == parent_name) {
                let mut st = tx.state_mut()?;
                ensure_loaded(storage, &mut st, *child)?;
                let slots = st.tables[*child].slots_where(*col, &key);
                if slots.is_empty() {
                    continue;
                }
                let t = st.table_mut(*child)?;
                let before = t.mark();
                if !changed.iter().any(|(c, _)| c == child) {
                    changed.push((*child, before));
                }
                tx.touch(*child, before);
                if *action == OnDelete::Cascade {
                    let keys: Vec<Value> = slots.iter().map(|&s| t.key_at(s)).collect();
                    t.dyn_delete_keys(&keys)?;
                    if noted {
                        for k in &keys {
                            tx.note_cascade(*child, k.clone(), (parent, key.clone()));
                        }
                    }
                    work.push((*child, keys));
                } else {
                    for s in slots {
                        t.set_at(s, *col, Value::Null)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Where the cascade that deleted row `key` of table `idx` started, as ` (deleted by the
/// cascade from t k)`, or nothing: the cascades the transaction's statements ran, followed
/// back to a row a statement deleted, while each row they start from is still gone (a
/// statement that failed put its rows back, and its cascades say nothing). A user who
/// deleted a 2 is told why b 3 was deleted at all.
fn cascade_origin(tx: &WriteTx<'_>, st: &State, idx: usize, key: &Value) -> String {
    let mut at = (idx, key.clone());
    let mut seen = HashSet::new();
    let mut root = None;
    while seen.insert(at.clone()) {
        match tx.cascaded_from(at.0, &at.1) {
            Some(from) if st.tables.get(from.0).is_some_and(|t| !t.has_key(&from.1)) => {
                root = Some(from.clone());
                at = from;
            }
            _ => break,
        }
    }
    root.map_or_else(String::new, |(p, k)| {
        format!(
            " (deleted by the cascade from {} {k})",
            st.tables[p].schema().table
        )
    })
}

/// Checks, for everything `tx` wrote, that no row references a row it deleted through a
/// `restrict` key, and that every row written references a row that exists. The `cascade`
/// and `set_null` actions ran with the statements that deleted (every deletion goes through
/// a statement, [`act_now`]): a row that references a deleted row now was written after,
/// or by a table created after, and the check of references refuses it.
pub(crate) fn enforce(tx: &WriteTx<'_>) -> Result<()> {
    let storage = tx.engine().storage.as_ref();
    let all_edges = edges(&*tx.state_mut()?);
    if all_edges.is_empty() {
        return Ok(());
    }
    for (parent, mark) in tx.marks() {
        let (parent_name, deleted) = {
            let st = tx.state_mut()?;
            let t = &st.tables[parent];
            (t.schema().table.clone(), t.deleted_since(mark))
        };
        let restricting: Vec<&Edge> = all_edges
            .iter()
            .filter(|e| e.2 == parent_name && e.3 == OnDelete::Restrict)
            .collect();
        if restricting.is_empty() {
            continue;
        }
        for key in deleted {
            for (child, col, ..) in &restricting {
                let mut st = tx.state_mut()?;
                ensure_loaded(storage, &mut st, *child)?;
                let slots = st.tables[*child].slots_where(*col, &key);
                if !slots.is_empty() {
                    let origin = cascade_origin(tx, &st, parent, &key);
                    let reason = format!(
                        "cannot delete {parent_name} {key}{origin}: {} row(s) of {} still \
                         reference it",
                        slots.len(),
                        st.tables[*child].schema().table
                    );
                    return Err(fk_error(&st, *child, *col, &parent_name, key, reason));
                }
            }
        }
    }
    // Every row written must reference a row that exists.
    let marks = tx.marks();
    let mut st = tx.state_mut()?;
    for (child, mark) in marks {
        let refs: Vec<(usize, String)> = all_edges
            .iter()
            .filter(|e| e.0 == child)
            .map(|e| (e.1, e.2.clone()))
            .collect();
        if refs.is_empty() {
            continue;
        }
        let slots = st.tables[child].written_since(mark);
        for (col, parent_name) in refs {
            let Some(&parent) = st.by_name.get(&parent_name) else {
                // A null references nothing: only a value needs the table (a table may be
                // created before the one it references, as the library allows).
                let named = slots
                    .iter()
                    .map(|&s| st.tables[child].col_value(s, col))
                    .find(|v| !v.is_null());
                if let Some(v) = named {
                    let reason = format!("table {parent_name} does not exist");
                    return Err(fk_error(&st, child, col, &parent_name, v, reason));
                }
                continue;
            };
            ensure_loaded(storage, &mut st, parent)?;
            let parent_schema = st.tables[parent].schema().clone();
            for &s in &slots {
                let v = st.tables[child].col_value(s, col);
                if v.is_null() {
                    continue;
                }
                let found = match parent_schema.coerce(parent_schema.primary_key(), v.clone()) {
                    Ok(k) => st.tables[parent].has_key(&k),
                    Err(_) => false,
                };
                if !found {
                    let reason = format!("no row of {parent_name} has this key");
                    return Err(fk_error(&st, child, col, &parent_name, v, reason));
                }
            }
        }
    }
    Ok(())
}
