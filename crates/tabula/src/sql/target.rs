//! Where a statement reads and writes: one committed version pinned for a read statement
//! ([`Snapshot`]), or a write transaction. Tables are read in place: a scan hands each
//! stored row to the statement as borrowed columns ([`Cols`]), through the table's indexes
//! when the statement's conditions let it ([`Pred`]), and the statement copies out only
//! what it keeps.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::engine::any_table::AnyTable;
use crate::engine::source::Source;
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::Result;
use crate::query::{Plan, Pred, QuerySpec};
use crate::record::{Cols, Row};
use crate::schema::Schema;
use crate::txn::Transaction;

/// One committed version, pinned for a whole read statement so that every table it reads
/// (joined, or in a subquery) comes from the same commit. A table not yet loaded from disk
/// is loaded when first read; if a commit came in between and changed a table the statement
/// had already read, the snapshot is marked torn and the statement runs again.
pub(crate) struct Snapshot<'e> {
    engine: &'e Arc<Engine>,
    state: RefCell<Option<Arc<State>>>,
    read: RefCell<Vec<usize>>,
    torn: Cell<bool>,
}

impl<'e> Snapshot<'e> {
    pub(crate) fn new(engine: &'e Arc<Engine>) -> Self {
        Snapshot {
            engine,
            state: RefCell::new(None),
            read: RefCell::new(Vec::new()),
            torn: Cell::new(false),
        }
    }

    /// Whether a table read earlier changed while another was being loaded.
    pub(crate) fn torn(&self) -> bool {
        self.torn.get()
    }

    /// The pinned version, with table `name` loaded, and its position.
    fn table(&self, name: &str) -> Result<(Arc<State>, usize)> {
        let mut pinned = self.state.borrow_mut();
        let st = match pinned.as_ref() {
            Some(st) => st.clone(),
            None => {
                let st = self.engine.read_state(name)?;
                *pinned = Some(st.clone());
                st
            }
        };
        let idx = st.index_of(name)?;
        if st.meta[idx].loaded {
            self.note_read(idx);
            return Ok((st, idx));
        }
        self.engine.dyn_table(name)?;
        let fresh = self.engine.read_state(name)?;
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
        *pinned = Some(fresh.clone());
        let idx = fresh.index_of(name)?;
        self.note_read(idx);
        Ok((fresh, idx))
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

/// Where a statement reads and writes: a pinned committed version, or a write transaction.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a, 'db> {
    Read(&'a Snapshot<'db>),
    Tx(&'a Transaction<'db>),
}

impl Target<'_, '_> {
    /// Runs `f` on table `name` as the statement sees it.
    pub(crate) fn with_table<O>(
        &self,
        name: &str,
        f: impl FnOnce(&dyn AnyTable) -> Result<O>,
    ) -> Result<O> {
        match self {
            Target::Read(snap) => {
                let (st, idx) = snap.table(name)?;
                f(st.table(idx)?)
            }
            Target::Tx(tx) => {
                // Loads the table into the transaction's state if it was not. Only then: a
                // load changes the state, which a scan running this (a correlated subquery
                // per row) is reading.
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
                f(st.table(idx)?)
            }
        }
    }

    /// Table `name` resolved once for many reads (a key join's lookups, one per row): for
    /// a read statement, its place in the pinned version; `None` inside a transaction,
    /// whose state the statement itself may change between reads.
    pub(crate) fn pinned(&self, name: &str) -> Result<Option<Pinned>> {
        match self {
            Target::Read(snap) => {
                let (state, idx) = snap.table(name)?;
                Ok(Some(Pinned { state, idx }))
            }
            Target::Tx(_) => Ok(None),
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
        self.with_table(name, |t| t.scan_cols(&spec(preds), text, f))
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
