//! Where a statement reads and writes: one committed version pinned for a read statement
//! ([`Snapshot`]), or a write transaction. Tables are read in place: a scan hands each
//! stored row to the statement as borrowed columns ([`Cols`]), through the table's indexes
//! when the statement's conditions let it ([`Pred`]), and the statement copies out only
//! what it keeps.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::engine::any_table::AnyTable;
use crate::engine::source::{Source, StateRef};
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::query::{Plan, Pred, QuerySpec};
use crate::record::{Cols, Row};
use crate::schema::Schema;
use crate::sql::auto_index::AutoIndexes;
use crate::txn::Transaction;

/// One committed version, pinned for a whole read statement so that every table it reads
/// (joined, or in a subquery) comes from the same commit. A table not yet loaded from disk
/// is loaded when first read; if a commit came in between and changed a table the statement
/// had already read, the snapshot is marked torn and the statement runs again.
///
/// A read transaction's statements ([`Snapshot::within`]) cannot run again: there a load
/// must bring in the transaction's own version of the table, or the statement fails.
pub(crate) struct Snapshot<'e> {
    engine: &'e Arc<Engine>,
    state: RefCell<Option<Arc<State>>>,
    read: RefCell<Vec<usize>>,
    torn: Cell<bool>,
    /// Pinned by a read transaction, for all of its statements.
    held: bool,
    /// The indexes this statement made for the scans its correlated subqueries repeat.
    auto: AutoIndexes,
}

impl<'e> Snapshot<'e> {
    pub(crate) fn new(engine: &'e Arc<Engine>) -> Self {
        Snapshot {
            engine,
            state: RefCell::new(None),
            read: RefCell::new(Vec::new()),
            torn: Cell::new(false),
            held: false,
            auto: AutoIndexes::default(),
        }
    }

    /// The snapshot of `state`, a read transaction's version (with the tables its earlier
    /// statements loaded): a table it reads that is not loaded yet is loaded, and the
    /// version with it loaded replaces `state` only if nothing else changed (see
    /// [`loaded_alone`]); else the statement fails.
    pub(crate) fn within(engine: &'e Arc<Engine>, state: Arc<State>) -> Self {
        Snapshot {
            state: RefCell::new(Some(state)),
            held: true,
            ..Snapshot::new(engine)
        }
    }

    /// The version read, with the tables loaded for it.
    pub(crate) fn into_state(self) -> Option<Arc<State>> {
        self.state.into_inner()
    }

    /// Whether a table read earlier changed while another was being loaded.
    pub(crate) fn torn(&self) -> bool {
        self.torn.get()
    }

    /// The pinned version, with table `name` loaded, and its position.
    fn table(&self, name: &str) -> Result<(Arc<State>, usize)> {
        let st = self.pinned(name)?;
        let idx = st.index_of(name)?;
        if st.meta[idx].loaded {
            self.note_read(idx);
            return Ok((st, idx));
        }
        let fresh = if self.held {
            self.loaded_in_transaction(&st, name, idx)?
        } else {
            self.loaded_beside_writers(&st, name)?
        };
        *self.state.borrow_mut() = Some(fresh.clone());
        let idx = fresh.index_of(name)?;
        self.note_read(idx);
        Ok((fresh, idx))
    }

    /// A read transaction's version `st` with table `name` (at `idx`) loaded, which must
    /// bring in nothing committed after `st` (see [`loaded_alone`]).
    fn loaded_in_transaction(&self, st: &State, name: &str, idx: usize) -> Result<Arc<State>> {
        self.engine.dyn_table(name)?;
        let fresh = self.engine.read_state(name)?;
        if !loaded_alone(st, &fresh, idx) {
            return Err(Error::Sql {
                line: 0,
                column: 0,
                reason: format!(
                    "table {name} was not loaded from disk when this read transaction \
                     began, and the database changed before it was: its rows would be \
                     newer than the transaction's; run the transaction again (a table \
                     read once before the transaction, db.dyn_table say, is loaded)"
                ),
            });
        }
        Ok(fresh)
    }

    /// The pinned version `st` with table `name` loaded, or a newer one, never waiting for
    /// a writer (see `Engine::read_loaded`); the statement runs again if a table it read
    /// already changed there.
    fn loaded_beside_writers(&self, st: &Arc<State>, name: &str) -> Result<Arc<State>> {
        let fresh = self.engine.read_loaded(name, st)?;
        let changed =
            self.read
                .borrow()
                .iter()
                .any(|&i| match (st.tables.get(i), fresh.tables.get(i)) {
                    (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                    _ => true,
                });
        if changed {
            self.torn.set(true);
        }
        Ok(fresh)
    }

    /// The version pinned, pinning the newest published one if none is yet.
    fn pinned(&self, name: &str) -> Result<Arc<State>> {
        let mut pinned = self.state.borrow_mut();
        if let Some(st) = pinned.as_ref() {
            return Ok(st.clone());
        }
        let st = self.engine.read_state(name)?;
        *pinned = Some(st.clone());
        Ok(st)
    }

    /// Records that table `idx` was read (once: a correlated subquery reads its tables
    /// again for every row of the query around it).
    fn note_read(&self, idx: usize) {
        let mut read = self.read.borrow_mut();
        if !read.contains(&idx) {
            read.push(idx);
        }
    }
}

/// Whether `b`, published after `a`, is `a` with table `t` loaded and nothing else: one
/// version was published since `a`, with `t` loaded (by this load or another thread's,
/// which read the same rows), every other table and every other table's pending log
/// records as `a` has them (a commit replaces the tables it changes, a refresh of a
/// read-only database every table), and no commit of `t` (a write transaction loads a
/// table inside it, and publishes it loaded with its commit).
fn loaded_alone(a: &State, b: &State, t: usize) -> bool {
    b.version == a.version + 1
        && a.tables.len() == b.tables.len()
        && b.meta.get(t).is_some_and(|m| m.loaded)
        && a.meta.get(t).map(|m| m.commits) == b.meta.get(t).map(|m| m.commits)
        && (0..a.tables.len()).all(|i| {
            i == t
                || (Arc::ptr_eq(&a.tables[i], &b.tables[i])
                    && Arc::ptr_eq(&a.meta[i].pending, &b.meta[i].pending))
        })
}

/// A table of a read statement's pinned version (see [`Target::pinned`]). If loading a
/// later table re-pins a newer version, a table read before that changed marks the
/// snapshot torn and the statement runs again, so reading on from this one is safe.
pub(crate) struct Pinned {
    state: Arc<State>,
    idx: usize,
}

impl Pinned {
    pub(crate) fn table(&self) -> Result<&dyn AnyTable> {
        self.state.table(self.idx)
    }
}

/// Where a statement reads and writes: a pinned committed version, or a write transaction
/// with the automatic indexes of the statement running in it (see
/// [`auto_index`](super::auto_index): a write to a table they index gives it a new
/// pointer, so none is used past one).
///
/// A target that only binds (see [`Target::binding`]) reads schemas, never rows: every
/// query run on it returns its columns and no rows, having run nothing.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a, 'db> {
    at: At<'a, 'db>,
    binding: bool,
}

#[derive(Clone, Copy)]
enum At<'a, 'db> {
    Read(&'a Snapshot<'db>),
    Tx(&'a Transaction<'db>, &'a AutoIndexes),
}

/// "no table named `table`", with a "did you mean" when one of `names` differs from it only
/// in case (names are case-sensitive here, as they are not in SQLite).
pub(crate) fn no_table(table: &str, names: &[String]) -> String {
    // The least of several (`Person` and `PERSON` for `person`), whatever order the names
    // came in.
    match names.iter().filter(|n| n.eq_ignore_ascii_case(table)).min() {
        Some(near) => format!("no table named {table}; did you mean {near}?"),
        None => format!("no table named {table}"),
    }
}

impl<'a, 'db> Target<'a, 'db> {
    /// A read statement's pinned version.
    pub(crate) fn read(snap: &'a Snapshot<'db>) -> Self {
        Target {
            at: At::Read(snap),
            binding: false,
        }
    }

    /// A write transaction, with the automatic indexes of the statement running in it.
    pub(crate) fn tx(tx: &'a Transaction<'db>, auto: &'a AutoIndexes) -> Self {
        Target {
            at: At::Tx(tx, auto),
            binding: false,
        }
    }

    /// This target, for binding a query without running any of it: a correlated subquery
    /// no row reached, bound so that its errors are the statement's whatever its rows (as
    /// SQLite binds a statement whole before it runs). The queries inside it (subqueries
    /// in FROM, WITH, expressions) bind only too, so nothing reads a row or can fail for
    /// one.
    pub(crate) fn binding(self) -> Self {
        Target {
            binding: true,
            ..self
        }
    }

    /// [`Target::binding`] when `bind`, else this target.
    pub(crate) fn binding_if(self, bind: bool) -> Self {
        Target {
            binding: self.binding || bind,
            ..self
        }
    }

    /// Whether queries on this target bind without running (see [`Target::binding`]).
    pub(crate) fn binds_only(&self) -> bool {
        self.binding
    }

    /// Whether this is a read statement's pinned version (no write transaction).
    pub(crate) fn is_read(&self) -> bool {
        matches!(self.at, At::Read(_))
    }

    /// The write transaction this target is, if it is one.
    pub(crate) fn transaction(&self) -> Option<&'a Transaction<'db>> {
        match self.at {
            At::Tx(tx, _) => Some(tx),
            At::Read(_) => None,
        }
    }

    /// The transaction a statement that writes runs in; `Error::Unsupported` on a pinned
    /// version, which only reads.
    pub(crate) fn writer(self) -> Result<&'a Transaction<'db>> {
        match self.at {
            At::Tx(tx, _) => Ok(tx),
            At::Read(_) => Err(crate::sql::unsupported("writing outside a transaction")),
        }
    }

    /// [`no_table`] among the tables the statement can see.
    pub(crate) fn no_table(&self, table: &str) -> String {
        let names = match self.at {
            At::Read(snap) => snap.engine.table_names().unwrap_or_default(),
            At::Tx(tx, _) => tx.tx.table_names(),
        };
        no_table(table, &names)
    }

    /// Runs `f` on table `name` as the statement sees it.
    pub(crate) fn with_table<O>(
        &self,
        name: &str,
        f: impl FnOnce(&dyn AnyTable) -> Result<O>,
    ) -> Result<O> {
        match self.at {
            At::Read(snap) => {
                let (st, idx) = snap.table(name)?;
                f(st.table(idx)?)
            }
            At::Tx(tx, _) => {
                let (st, idx) = in_tx(tx, name)?;
                f(st.table(idx)?)
            }
        }
    }

    /// Table `name` resolved once for many reads (a key join's lookups, one per row): for
    /// a read statement, its place in the pinned version; `None` inside a transaction,
    /// whose state the statement itself may change between reads.
    pub(crate) fn pinned(&self, name: &str) -> Result<Option<Pinned>> {
        match self.at {
            At::Read(snap) => {
                let (state, idx) = snap.table(name)?;
                Ok(Some(Pinned { state, idx }))
            }
            At::Tx(..) => Ok(None),
        }
    }

    pub(crate) fn schema(&self, name: &str) -> Result<Arc<Schema>> {
        self.with_table(name, |t| Ok(t.schema().clone()))
    }

    /// Hands each row of table `name` that `preds` select (through an index when one serves
    /// them) to `f`, in key order, until `f` returns `Ok(false)`. `text`: whether `f` reads
    /// any text column (see [`AnyTable::scan_cols`]).
    pub(crate) fn scan(
        &self,
        name: &str,
        preds: &[Pred],
        text: bool,
        f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
    ) -> Result<()> {
        // A statement's own scans repeated by equality on an unindexed column (a
        // correlated subquery's) go through an index it makes (see `auto_index`).
        let scan = |st: &State,
                    idx: usize,
                    auto: Option<&AutoIndexes>,
                    f: &mut dyn FnMut(&dyn Cols) -> Result<bool>| {
            // A dropped table is no table.
            st.table(idx)?;
            let table = st.tables.get(idx).ok_or_else(|| Error::UnknownTable {
                table: name.to_owned(),
            })?;
            if let Some(auto) = auto {
                if auto.scan(idx, table, preds, f)? {
                    return Ok(());
                }
            }
            table.scan_cols(&spec(preds), text, f)
        };
        match self.at {
            At::Read(snap) => {
                let (st, idx) = snap.table(name)?;
                scan(&st, idx, Some(&snap.auto), f)
            }
            At::Tx(tx, auto) => {
                let (st, idx) = in_tx(tx, name)?;
                // An index shares the version of the table it was made from, so a later
                // write copies the table first; the copy carries the transaction's journal
                // (see `TableData`'s `Clone`).
                scan(&st, idx, Some(auto), f)
            }
        }
    }

    /// [`Target::scan`], handing over only the first `limit` rows under the library's
    /// `order` (column, descending; the primary key breaks ties), found by the table's own
    /// top-k: an index walk when an ordered index serves the first key, else its heap.
    pub(crate) fn scan_top(
        &self,
        name: &str,
        preds: &[Pred],
        order: &[(usize, bool)],
        limit: usize,
        f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
    ) -> Result<()> {
        self.with_table(name, |t| {
            t.scan_cols(&top_spec(preds, order, limit), true, f)
        })
    }

    /// How [`Target::scan_top`] would read table `name`.
    pub(crate) fn plan_top(
        &self,
        name: &str,
        preds: &[Pred],
        order: &[(usize, bool)],
        limit: usize,
    ) -> Result<Plan> {
        self.with_table(name, |t| {
            Ok(t.dyn_explain(
                &top_spec(preds, order, limit),
                &Arc::from(Vec::<String>::new()),
            ))
        })
    }

    /// How [`Target::scan`] would read table `name`.
    pub(crate) fn plan(&self, name: &str, preds: &[Pred]) -> Result<Plan> {
        self.with_table(name, |t| {
            Ok(t.dyn_explain(&spec(preds), &Arc::from(Vec::<String>::new())))
        })
    }
}

/// The transaction's state with table `name` loaded, and the table's place in it. It
/// loads the table only if it was not: a load changes the state, which a scan running the
/// caller (a correlated subquery per row) may be reading.
fn in_tx<'t>(tx: &'t Transaction<'_>, name: &str) -> Result<(StateRef<'t>, usize)> {
    let loaded = {
        let st = tx.tx.state(name)?;
        let idx = st.index_of(name)?;
        st.meta[idx].loaded
    };
    if !loaded {
        tx.dyn_table(name)?;
    }
    let st = tx.tx.state(name)?;
    let idx = st.index_of(name)?;
    Ok((st, idx))
}

/// The rows of `t` with the primary keys `keys` (in their order) that pass every one of
/// `preds`, to `f` until it returns `Ok(false)`: how an index made for a statement (an
/// automatic index, an index union) hands on the rows it found.
pub(crate) fn rows_by_key(
    t: &dyn AnyTable,
    keys: &[crate::value::Value],
    preds: &[Pred],
    f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
) -> Result<()> {
    let pk = t.schema().primary_key();
    for key in keys {
        let mut more = true;
        t.unique_cols(pk, key.as_ref(), &mut |row| {
            if preds.iter().all(|p| p.matches(row.value_at(p.col()))) {
                more = f(row)?;
            }
            Ok(())
        })?;
        if !more {
            break;
        }
    }
    Ok(())
}

fn top_spec(preds: &[Pred], order: &[(usize, bool)], limit: usize) -> QuerySpec<'static, Row> {
    QuerySpec {
        order: order.to_vec(),
        limit: Some(limit),
        ..spec(preds)
    }
}

fn spec(preds: &[Pred]) -> QuerySpec<'static, Row> {
    QuerySpec {
        preds: preds.to_vec(),
        ..QuerySpec::default()
    }
}
