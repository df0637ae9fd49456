//! Table handles: typed ([`TableHandle`], [`TxTable`], [`ReadTable`]) and dynamic
//! ([`DynTable`], [`TxDynTable`]). A plain handle reads the engine's committed state and
//! writes through a one-statement transaction; a transaction's handles do both inside their
//! transaction; a read transaction's handle reads its pinned state.
//!
//! However a handle reaches its state, it reads through one path ([`read`]) and writes
//! through one set of statements ([`write`](mod@write)); the handle types only say where the state
//! comes from.

mod dynamic;
mod read;
mod typed;
mod write;

pub use dynamic::{DynTable, TxDynTable};
pub use typed::{ReadTable, TableHandle, TxTable};
