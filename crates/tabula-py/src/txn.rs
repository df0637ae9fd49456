//! `with db.transaction():` on the engine's closure-shaped transactions. A worker thread
//! runs `Database::transaction` and executes, inside it, the jobs the Python thread that
//! opened the transaction sends it; `commit` returns `Ok` from the closure, `rollback` (or
//! a transaction object dropped unfinished) returns an error, and the engine undoes
//! everything. The Python thread waits for each job without the GIL, so a job may call
//! back into Python (a `where=` lambda) and other Python threads go on meanwhile. A
//! transaction is its thread's and its `contextvars` context's: under asyncio, the tasks
//! its block starts are in it, the thread's other tasks are not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{JoinHandle, ThreadId};

use pyo3::prelude::*;
use tabula::{Database, Error, Transaction};

use crate::errors;

/// One piece of work for the worker: it sends its own result back.
type Job = Box<dyn for<'a> FnOnce(&Transaction<'a>) + Send>;

enum Command {
    Run(Job),
    End { commit: bool },
}

enum Status {
    Started,
    Ended(tabula::Result<()>),
}

/// The error the closure returns to roll back on request; not shown to anyone.
#[derive(Debug)]
struct RolledBack;

impl std::fmt::Display for RolledBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rolled back")
    }
}

impl std::error::Error for RolledBack {}

struct Worker {
    commands: Sender<Command>,
    status: Receiver<Status>,
    thread: JoinHandle<()>,
}

thread_local! {
    /// Set while this thread runs a write of the engine's that calls back into Python (an
    /// `update` or `delete` whose `where=` runs per row): the engine's writer lock is held,
    /// so a transaction, checkpoint or close asked for from inside the callback would wait
    /// for this very thread.
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The registry (its address) of the database on which this thread is opening a
    /// transaction, 0 if none: from the moment its worker may hold the writer's turn until
    /// the thread is recorded as the transaction's. Python code run meanwhile (a garbage
    /// collector's callback or a finalizer, run by an allocation) is outside the
    /// transaction, and its write to that database would wait for it forever: refused
    /// instead.
    static BEGINNING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Cleared when the thread it belongs to exits (its thread-local storage is destroyed):
/// the end of a thread `threading` does not know (one started by C code), which
/// `Thread.is_alive()` cannot tell.
struct ThreadAlive(Arc<AtomicBool>);

impl Drop for ThreadAlive {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

thread_local! {
    static ALIVE: ThreadAlive = ThreadAlive(Arc::new(AtomicBool::new(true)));
}

/// A flag that stays true while the calling thread runs.
fn this_thread_alive() -> Arc<AtomicBool> {
    ALIVE
        .try_with(|a| a.0.clone())
        .unwrap_or_else(|_| Arc::new(AtomicBool::new(false)))
}

/// The calling thread's `threading.Thread` (Python code: for a thread `threading` did not
/// start, it makes a stand-in).
fn current_thread(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(py
        .import("threading")?
        .call_method0("current_thread")?
        .unbind())
}

/// Runs `f` (an engine write that calls back into Python) with this thread marked as
/// holding the writer's lock.
pub fn writing<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            WRITING.with(|w| w.set(self.0));
        }
    }
    let _reset = Reset(WRITING.with(|w| w.replace(true)));
    f()
}

/// Whether this thread is inside [`writing`]: a `where=` function called by an engine
/// write, which holds the writer's lock.
pub fn is_writing() -> bool {
    WRITING.with(|w| w.get())
}

/// Not inherited through `fork()` (see `Registry::forked`).
const NOT_FORKED: u8 = 0;
/// A database directory inherited through `fork()`.
pub const FORKED_DIRECTORY: u8 = 1;
/// An in-memory database whose writers' turn was held when the process forked.
pub const FORKED_WRITING: u8 = 2;

/// What a call does, for [`Registry::current`]: a write may wait for the writer's turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The open transactions of one database, by the thread that opened each: a call made on
/// that thread, in the context that opened it (see [`Tx::is_ours`]), runs inside it; calls
/// on other threads or in other contexts do not see it.
pub struct Registry {
    /// How many are open: while none is, a call needs no lock to know it runs on its own.
    open: AtomicUsize,
    /// Set in a child process forked from the one that opened the database:
    /// `FORKED_DIRECTORY` for a directory (the child shares the parent's files and lock,
    /// so its writes would interleave with the parent's in the log), `FORKED_WRITING` for
    /// an in-memory database whose writers' turn a thread of the parent held at the fork
    /// (no thread of the child will ever give it back). Every call in the child is refused.
    forked: AtomicU8,
    by_thread: Mutex<HashMap<ThreadId, Py<Tx>>>,
    /// The number of this database's transaction the code running now belongs to (0 for
    /// none): a `contextvars.ContextVar`, set when a block begins, in the context that
    /// begins it (see [`Tx::is_ours`]). One per database: a block on another database,
    /// inside this one's, must not take this one's place. A number rather than the
    /// transaction itself: a context that outlives its block (a task abandoned inside it)
    /// must not keep the transaction from being dropped, which rolls it back.
    owner: pyo3::sync::PyOnceLock<(Py<PyAny>, Py<PyAny>)>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            open: AtomicUsize::new(0),
            forked: AtomicU8::new(NOT_FORKED),
            by_thread: Mutex::default(),
            owner: pyo3::sync::PyOnceLock::new(),
        }
    }
}

impl Registry {
    /// Marks the database as inherited through `fork()` (see `forked`):
    /// `FORKED_DIRECTORY` or `FORKED_WRITING`.
    pub fn mark_forked(&self, why: u8) {
        self.forked.store(why, Ordering::Release);
    }

    /// Whether another thread holds the registry's lock at this moment (exact in a forked
    /// child: see `Database::forked_in_memory`).
    pub fn is_locked(&self) -> bool {
        matches!(
            self.by_thread.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        )
    }

    /// The transaction the calling code runs in, if any; an error in a forked child. See
    /// [`Registry::find`] for which, and for when a write is refused.
    pub fn current(&self, py: Python<'_>, access: Access) -> PyResult<Option<Py<Tx>>> {
        if access == Access::Write && BEGINNING.with(|b| b.get()) == self.address() {
            return Err(errors::raise(
                py,
                "InTransaction",
                "a transaction is being opened on this thread, which this code interrupted \
                 (a garbage collector's callback, a finalizer or a signal handler): a write \
                 here would wait for that transaction forever",
                &[],
            ));
        }
        let why = match self.forked.load(Ordering::Acquire) {
            NOT_FORKED => return self.find(py, access),
            FORKED_WRITING => {
                "this in-memory database was in use by another thread of the parent of this \
                 process when it forked (a transaction under way); that never ends here (a \
                 forked child has none of its parent's threads), so this copy of it cannot \
                 be used"
            }
            _ => {
                "this database directory was opened by the parent of this process (before a \
                 fork); it stays the parent's: open it again here, once the parent has closed \
                 it, or open it read_only=True"
            }
        };
        Err(errors::raise(py, "Closed", why, &[]))
    }

    /// The transaction the calling thread opened, if it is open.
    ///
    /// A call of another thread waits for the writer's turn that transaction holds when it
    /// writes; reads never wait. A write is refused (`InTransaction`) where that wait could
    /// never end: while a transaction is open whose thread has ended (a block entered by
    /// hand and never exited, or a generator holding a block, resumed on another thread
    /// after the one that entered it ended). A call of the opening thread from outside the
    /// block's context (see [`Tx::is_ours`]) is another writer's too: its reads see the
    /// last committed version, and its writes are refused, since waiting for the block on
    /// the thread that must finish it would never end.
    fn find(&self, py: Python<'_>, access: Access) -> PyResult<Option<Py<Tx>>> {
        if self.open.load(Ordering::Acquire) == 0 {
            return Ok(None);
        }
        if let Some(t) = self.this_threads(py) {
            if t.get().is_ours(py)? {
                return Ok(Some(t));
            }
            return match access {
                Access::Read => Ok(None),
                Access::Write => Err(errors::raise(py, "InTransaction", ANOTHER_CONTEXT, &[])),
            };
        }
        if access == Access::Read {
            return Ok(None);
        }
        // Taken out of the map, as in `this_threads`.
        let others: Vec<Py<Tx>> = self.map().values().map(|t| t.clone_ref(py)).collect();
        for t in &others {
            if t.get().owner_ended(py)? {
                return Err(errors::raise(
                    py,
                    "InTransaction",
                    "a transaction opened on a thread that has since ended is still open (its \
                     `with db.transaction():` block was left unfinished); it holds the \
                     writer's turn, so this write would wait for it forever: end that block \
                     first (or drop its Transaction, which rolls it back)",
                    &[],
                ));
            }
        }
        Ok(None)
    }

    /// This registry's identity for [`BEGINNING`]: its address, never 0.
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The context variable `owner` and its bound `get` (called on every call made inside
    /// a transaction: looking the method up each time cost about as much as the call).
    fn owner(&self, py: Python<'_>) -> PyResult<&(Py<PyAny>, Py<PyAny>)> {
        self.owner.get_or_try_init(py, || {
            let kw = pyo3::types::PyDict::new(py);
            kw.set_item("default", 0u64)?;
            let var = py
                .import("contextvars")?
                .getattr("ContextVar")?
                .call(("tabula_transaction",), Some(&kw))?;
            let get = var.getattr("get")?;
            Ok::<_, PyErr>((var.unbind(), get.unbind()))
        })
    }

    /// Whether the calling thread has a transaction open that the calling code is outside
    /// of (see [`Tx::is_ours`]). False in a forked child, whose calls [`Registry::current`]
    /// refuses.
    pub fn open_elsewhere_here(&self, py: Python<'_>) -> PyResult<bool> {
        if self.open.load(Ordering::Acquire) == 0
            || self.forked.load(Ordering::Acquire) != NOT_FORKED
        {
            return Ok(false);
        }
        match self.this_threads(py) {
            Some(t) => Ok(!t.get().is_ours(py)?),
            None => Ok(false),
        }
    }

    /// The transaction the calling thread opened, if it is open, taken out of the map:
    /// what is done with it (`is_alive`, the context check) calls Python, with no lock held.
    fn this_threads(&self, py: Python<'_>) -> Option<Py<Tx>> {
        self.map()
            .get(&std::thread::current().id())
            .map(|t| t.clone_ref(py))
    }

    /// The map of open transactions. A poisoned map is still whole (every change to it is
    /// one insert or remove), and reading it as empty would run this thread's calls outside
    /// its transaction.
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<ThreadId, Py<Tx>>> {
        self.by_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// `Error::InTransaction` when the calling thread has a transaction open: `what` would
    /// wait for it forever.
    pub fn refuse_inside(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.current(py, Access::Write)?.is_some() || is_writing() {
            return Err(errors::raise(
                py,
                "InTransaction",
                &format!(
                    "{what} would wait for the transaction open on this thread; finish the \
                     `with db.transaction():` block first"
                ),
                &[],
            ));
        }
        Ok(())
    }

    /// Opens a transaction for the calling thread.
    pub fn begin(self: &Arc<Self>, py: Python<'_>, db: Database) -> PyResult<Py<Tx>> {
        let me = std::thread::current().id();
        if is_writing() {
            return Err(errors::raise(
                py,
                "InTransaction",
                "a where= function of an update or delete cannot open a transaction: the \
                 update itself holds the writer's turn until it ends",
                &[],
            ));
        }
        if self.current(py, Access::Write)?.is_some() {
            return Err(errors::raise(
                py,
                "InTransaction",
                "a transaction is already open on this thread; transactions do not nest",
                &[],
            ));
        }
        // Made (importing `contextvars` the first time, which runs Python code: import
        // hooks) before the transaction takes the writer's turn, so that what that code
        // writes commits on its own.
        let owner = self.owner(py)?.0.clone_ref(py);
        // From here until the thread is recorded below, Python code run on this thread by
        // an allocation (the garbage collector's callbacks and finalizers) would write as
        // outside any transaction, waiting for this one forever: its writes are refused.
        // The value before is put back: code run in the window may open a transaction on
        // another database, whose own window must not end this one's.
        struct Beginning(usize);
        impl Drop for Beginning {
            fn drop(&mut self) {
                BEGINNING.with(|b| b.set(self.0));
            }
        }
        // Python code, and before the turn is asked for: outside the window.
        let thread = current_thread(py)?;
        let beginning = Beginning(BEGINNING.with(|b| b.replace(self.address())));
        let tx = Py::new(py, Tx::begin(py, db, self.clone(), me, thread)?)?;
        owner.bind(py).call_method1("set", (tx.get().serial,))?;
        self.map().insert(me, tx.clone_ref(py));
        drop(beginning);
        self.open.fetch_add(1, Ordering::AcqRel);
        Ok(tx)
    }

    /// Forgets `tx` as its thread's transaction, if it is (an ended transaction ended again
    /// must not unlist the one the thread opened since).
    fn forget(&self, tx: &Tx) {
        let mut map = self.map();
        if map
            .get(&tx.thread)
            .is_some_and(|t| std::ptr::eq(t.get(), tx))
        {
            map.remove(&tx.thread);
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// An open transaction (`tabula._native.Tx`): calls made on the thread that opened it run
/// inside it until `commit` or `rollback`.
#[pyclass(frozen, module = "tabula._native")]
pub struct Tx {
    worker: Mutex<Option<Worker>>,
    registry: Arc<Registry>,
    thread: ThreadId,
    /// The `threading.Thread` that opened it: once that has ended (`join()` returned), its
    /// transaction can end only through its `Transaction` object.
    owner: Py<PyAny>,
    /// Cleared when the thread that opened it exits (see [`ThreadAlive`]).
    alive: Arc<AtomicBool>,
    /// Its number, which its registry's `owner` holds in the context that opened it.
    serial: u64,
}

impl Tx {
    /// Opens a transaction on `db` for `thread` (whose `threading.Thread` is `owner`),
    /// waiting (without the GIL) until it holds the writer's lock, or failing as
    /// `Database::transaction` fails (a read-only or closed database).
    fn begin(
        py: Python<'_>,
        db: Database,
        registry: Arc<Registry>,
        thread: ThreadId,
        owner: Py<PyAny>,
    ) -> PyResult<Tx> {
        let (commands, inbox) = channel::<Command>();
        let (report, status) = channel::<Status>();
        // A statement's parse and run take a few MiB of stack at their deepest (the
        // library grows a thread's stack when it must, a segment per statement): this
        // thread starts with room for them. Only the pages used are ever touched.
        let worker = std::thread::Builder::new()
            .name("tabula-transaction".into())
            .stack_size(16 << 20)
            .spawn(move || {
                let started = report.clone();
                let result = db.transaction(|tx| {
                    let _ = started.send(Status::Started);
                    loop {
                        match spin_then_recv(&inbox) {
                            Ok(Command::Run(job)) => job(tx),
                            Ok(Command::End { commit: true }) => return Ok(()),
                            Ok(Command::End { commit: false }) | Err(_) => {
                                return Err(Error::abort(RolledBack))
                            }
                        }
                    }
                });
                let result = match result {
                    Err(Error::Aborted(e)) if e.is::<RolledBack>() => Ok(()),
                    other => other,
                };
                let _ = report.send(Status::Ended(result));
            })
            .map_err(|e| errors::plain(py, &format!("cannot start a transaction: {e}")))?;
        let (first, status) = py.detach(move || (status.recv(), status));
        match first {
            Ok(Status::Started) => Ok(Tx {
                worker: Mutex::new(Some(Worker {
                    commands,
                    status,
                    thread: worker,
                })),
                registry,
                thread,
                owner,
                alive: this_thread_alive(),
                serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            }),
            Ok(Status::Ended(Err(e))) => Err(errors::to_py(py, e)),
            Ok(Status::Ended(Ok(()))) | Err(_) => {
                Err(errors::plain(py, "the transaction ended before it began"))
            }
        }
    }

    /// A transaction on `db` that no thread's calls run in (it is in no registry): only
    /// the jobs [`Tx::send`] gives it.
    pub fn unlisted(py: Python<'_>, db: Database) -> PyResult<Tx> {
        let me = std::thread::current().id();
        let thread = current_thread(py)?;
        Tx::begin(py, db, Arc::new(Registry::default()), me, thread)
    }

    /// Runs `f` inside the transaction and returns its result.
    pub fn run<R: Send + 'static>(
        &self,
        py: Python<'_>,
        f: impl for<'a> FnOnce(&Transaction<'a>) -> tabula::Result<R> + Send + 'static,
    ) -> PyResult<R> {
        let answer = self.send(py, f)?;
        match py.detach(move || spin_then_recv(&answer)) {
            Ok(r) => r.map_err(|e| errors::to_py(py, e)),
            Err(_) => Err(ended(py)),
        }
    }

    /// Queues `f` to run inside the transaction after the jobs queued before it, without
    /// waiting: its result arrives on the receiver (which reports a disconnection if the
    /// worker stopped first).
    pub fn send<R: Send + 'static>(
        &self,
        py: Python<'_>,
        f: impl for<'a> FnOnce(&Transaction<'a>) -> tabula::Result<R> + Send + 'static,
    ) -> PyResult<Receiver<tabula::Result<R>>> {
        let commands = {
            let guard = self.worker.lock().map_err(|_| ended(py))?;
            match guard.as_ref() {
                Some(w) => w.commands.clone(),
                None => return Err(ended(py)),
            }
        };
        let (reply, answer) = channel();
        let job: Job = Box::new(move |tx| {
            let _ = reply.send(f(tx));
        });
        commands.send(Command::Run(job)).map_err(|_| ended(py))?;
        Ok(answer)
    }

    /// Whether the calling code runs inside it: its registry's `owner` holds its number in the calling
    /// context. Code the block runs does (and so do the asyncio tasks it starts, which
    /// copy its context); another asyncio task of the thread, which ran while the block's
    /// task awaited inside it, does not, nor does the thread's code after an
    /// `asyncio.run` inside which the block was entered.
    fn is_ours(&self, py: Python<'_>) -> PyResult<bool> {
        let current: u64 = (self.registry.owner(py)?.1).bind(py).call0()?.extract()?;
        Ok(current == self.serial)
    }

    /// Whether the thread that opened it has ended: `join()` has returned
    /// (`Thread.is_alive()`), or the thread is gone (its thread-local storage destroyed).
    fn owner_ended(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(!self.alive.load(Ordering::Acquire)
            || !self.owner.bind(py).call_method0("is_alive")?.is_truthy()?)
    }

    /// Commits (or with `commit` false, rolls back) and closes the transaction.
    pub fn end(&self, py: Python<'_>, commit: bool) -> PyResult<()> {
        let worker = self.worker.lock().map_err(|_| ended(py))?.take();
        let Some(w) = worker else {
            return Err(ended(py));
        };
        self.registry.forget(self);
        let _ = w.commands.send(Command::End { commit });
        let outcome = py.detach(move || {
            let r = loop {
                match w.status.recv() {
                    Ok(Status::Ended(r)) => break Some(r),
                    Ok(Status::Started) => continue,
                    Err(_) => break None,
                }
            };
            let _ = w.thread.join();
            r
        });
        match outcome {
            Some(r) => r.map_err(|e| errors::to_py(py, e)),
            None => Err(errors::plain(
                py,
                "the transaction's worker stopped unexpectedly; nothing was committed",
            )),
        }
    }
}

/// How long a thread waiting for its transaction's next message polls before it sleeps.
/// A block's calls and their answers follow each other within microseconds, and waking a
/// sleeping thread costs tens of them: polling a little first lets a run of calls go
/// without a sleep on either side. Bounded by time (a pause instruction's length varies
/// tenfold between processors) and skipped on a single processor, where polling would only
/// keep the other side from running.
const POLL_FOR: std::time::Duration = std::time::Duration::from_micros(20);

/// Whether polling can pay: the other side can run meanwhile.
fn poll_pays() -> bool {
    static MANY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MANY.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// The next message on `from`, polled for a moment before sleeping on it.
fn spin_then_recv<T>(from: &Receiver<T>) -> Result<T, std::sync::mpsc::RecvError> {
    if poll_pays() {
        let start = std::time::Instant::now();
        loop {
            for _ in 0..32 {
                match from.try_recv() {
                    Ok(m) => return Ok(m),
                    Err(TryRecvError::Empty) => std::hint::spin_loop(),
                    Err(TryRecvError::Disconnected) => return Err(std::sync::mpsc::RecvError),
                }
            }
            if start.elapsed() >= POLL_FOR {
                break;
            }
        }
    }
    from.recv()
}

fn ended(py: Python<'_>) -> PyErr {
    errors::plain(py, "this transaction has already ended")
}

#[pymethods]
impl Tx {
    /// Commits everything done in the transaction, as one durable step.
    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        self.end(py, true)
    }

    /// Undoes everything done in the transaction.
    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        self.end(py, false)
    }

    /// Whether the transaction is still open.
    fn is_open(&self) -> bool {
        self.worker.lock().map(|g| g.is_some()).unwrap_or(false)
    }
}

/// The next transaction's number: never 0, never reused.
static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Why a write outside the block's context, on the block's thread, is refused.
pub const ANOTHER_CONTEXT: &str = "a transaction is open on this thread, in another context: \
    another asyncio task's `with db.transaction():` block (that task awaited inside it), or \
    a block entered inside an `asyncio.run` that has returned. A write here would wait for \
    that block, which cannot go on while this waits on its thread: finish the block without \
    awaiting inside it, or run it on a thread of its own (asyncio.to_thread). Reads here see \
    the last committed version (a SQL text only once every table is loaded, which \
    `db.load()` does)";
