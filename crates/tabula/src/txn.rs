//! Transactions as users see them: [`Transaction`], the argument of
//! [`Database::transaction`](crate::Database::transaction)'s closure, and
//! [`ReadTransaction`], the argument of [`Database::read`](crate::Database::read)'s. Both
//! hand out table handles; the work is the engine's.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use crate::engine::source::Source;
use crate::engine::state::State;
use crate::engine::write::WriteTx;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::handle::{ReadTable, TableHandle, TxDynTable, TxTable};
use crate::record::Table;

/// A transaction in progress: the argument of the closure given to
/// [`Database::transaction`](crate::Database::transaction). Get table handles from it with
/// [`Transaction::table`] and [`Transaction::dyn_table`]; everything written through them
/// commits together when the closure returns `Ok`, and nothing does otherwise.
///
/// A table created through it (the first `table::<T>()` of a new table) is part of the
/// transaction: it exists only if the transaction commits. A stored table whose schema
/// needs a migration cannot be attached inside a transaction
/// (`Error::MigrationInTransaction`): call `db.table::<T>()` before it.
pub struct Transaction<'db> {
    pub(crate) tx: WriteTx<'db>,
    /// The tables a SQL `CREATE TABLE` made in this transaction with a foreign key to a
    /// table that did not exist yet: their keys are checked again before it commits (see
    /// `sql::run::check_forward`), when every table it creates is there.
    pub(crate) forward: RefCell<Vec<Forward>>,
}

/// A table created with a foreign key to a table that did not exist yet.
#[derive(Debug)]
pub(crate) struct Forward {
    pub(crate) schema: crate::schema::Schema,
    /// The columns its `REFERENCES t (col)` name, by table.
    pub(crate) referred: Vec<(String, sqlparser::ast::Ident)>,
    /// Where its `CREATE TABLE` names it.
    pub(crate) at: sqlparser::tokenizer::Span,
}

impl<'db> Transaction<'db> {
    pub(crate) fn new(tx: WriteTx<'db>) -> Transaction<'db> {
        Transaction {
            tx,
            forward: RefCell::new(Vec::new()),
        }
    }
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tx.fmt(f)
    }
}

impl Transaction<'_> {
    /// The typed table for `T` inside this transaction (created with it if new).
    pub fn table<T: Table>(&self) -> Result<TxTable<'_, T>> {
        let idx = self.tx.attach::<T>()?;
        Ok(TxTable::new(&self.tx, idx))
    }

    /// A dynamic handle on an existing table inside this transaction.
    pub fn dyn_table(&self, name: &str) -> Result<TxDynTable<'_>> {
        let idx = self.tx.state(name)?.index_of(name)?;
        self.tx.load(idx)?;
        let schema = self.tx.state(name)?.table(idx)?.schema().clone();
        Ok(TxDynTable::new(&self.tx, idx, schema))
    }
}

/// A read transaction: the argument of the closure given to
/// [`Database::read`](crate::Database::read). Tables read through it (see
/// [`ReadTransaction::table`]) all show the same committed version, taken when it began, and
/// no read inside takes a lock, so a loop of lookups runs at the speed of the lookups.
/// Writers go on meanwhile; their commits are seen by reads that start later.
pub struct ReadTransaction<'db> {
    pub(crate) engine: &'db Arc<Engine>,
    state: Arc<State>,
    /// The version its SQL reads: `state`, with the tables its statements loaded from disk
    /// since (each load checked to bring in nothing committed after `state`, see
    /// `sql::target::Snapshot::within`).
    pub(crate) sql_state: Mutex<Arc<State>>,
}

impl std::fmt::Debug for ReadTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTransaction").finish_non_exhaustive()
    }
}

impl<'db> ReadTransaction<'db> {
    pub(crate) fn new(engine: &'db Arc<Engine>) -> Result<Self> {
        let state = engine.read_state("(read transaction)")?;
        Ok(ReadTransaction {
            engine,
            sql_state: Mutex::new(state.clone()),
            state,
        })
    }

    /// The table of `handle`, read inside this transaction. The handle must come from the
    /// same database (`Error::WrongDatabase` otherwise), and from before the transaction
    /// began: a table created or attached to `T` after that is not in the version it reads
    /// (`Error::SchemaMismatch` saying so).
    pub fn table<T: Table>(&self, handle: &TableHandle<T>) -> Result<ReadTable<'_, T>> {
        let (db, idx) = handle.place();
        if db != self.engine.id {
            return Err(Error::WrongDatabase {
                table: T::schema().table.clone(),
            });
        }
        if self.state.typed_opt::<T>(idx).is_none() {
            return Err(Error::SchemaMismatch {
                table: T::schema().table.clone(),
                reason: format!(
                    "the table was created or attached to {} after this read transaction \
                     began, and it reads the version it began with; call db.table::<T>() \
                     before db.read",
                    std::any::type_name::<T>()
                ),
            });
        }
        ReadTable::new(&self.state, idx)
    }
}
