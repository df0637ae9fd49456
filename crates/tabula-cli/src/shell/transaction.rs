//! A transaction kept open across prompts, after `BEGIN`.
//!
//! The library groups statements into a transaction only inside one call: `db.sql` within
//! one text, or `db.transaction(|tx| …)` for as long as its closure runs. The shell reads a
//! statement at a time, so a worker thread runs `db.transaction` with a closure that takes
//! statements from a channel and runs each with `tx.sql`, until `COMMIT` (the closure
//! returns `Ok`: everything commits at once) or `ROLLBACK` (it returns an error: nothing
//! remains). The writers' lock is held by that thread meanwhile; the shell's own thread
//! only makes lock-free reads of the committed state (`stats`, `schema`), never a call that
//! waits for the lock. A read transaction (`BEGIN` while the shell does not hold the lock,
//! until its first write) is the same worker running `db.read` and `r.sql`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use anyhow::anyhow;
use tabula::{Database, Error, SqlResult};

/// What the shell asks of the worker.
enum Request {
    Sql(String),
    Commit,
}

/// The closure's error that ends the transaction by `ROLLBACK`.
#[derive(Debug)]
struct RolledBack;

impl std::fmt::Display for RolledBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ROLLBACK")
    }
}

impl std::error::Error for RolledBack {}

/// Runs one statement inside the worker's transaction.
type Runner<'a> = &'a dyn Fn(&str) -> tabula::Result<SqlResult>;

/// Serves the shell's requests with a [`Runner`], until the transaction is to end.
type Serve<'a> = &'a dyn Fn(Runner<'_>) -> tabula::Result<()>;

/// The worker's side, inside its transaction: says it has begun (the writers' lock is held
/// from here on, for a write transaction), then runs the statements it is sent.
fn serve(
    inbox: &Receiver<Request>,
    outbox: &Sender<tabula::Result<SqlResult>>,
    run: Runner<'_>,
) -> tabula::Result<()> {
    if outbox.send(Ok(SqlResult::default())).is_err() {
        return Err(Error::abort(RolledBack));
    }
    loop {
        match inbox.recv() {
            Ok(Request::Sql(text)) => {
                if outbox.send(run(&text)).is_err() {
                    return Err(Error::abort(RolledBack));
                }
            }
            Ok(Request::Commit) => return Ok(()),
            // The shell dropped its end: ROLLBACK, or the shell is leaving.
            Err(_) => return Err(Error::abort(RolledBack)),
        }
    }
}

/// An open transaction: its worker thread and the channels to it.
pub struct OpenTx {
    /// `None` once dropped: the worker sees the channel closed and rolls back.
    requests: Option<Sender<Request>>,
    replies: Receiver<tabula::Result<SqlResult>>,
    worker: Option<JoinHandle<tabula::Result<()>>>,
}

impl OpenTx {
    /// Begins a write transaction of `db` (which must be writable) on a new worker thread,
    /// which holds the writers' lock until the transaction ends.
    pub fn begin(db: &Database) -> anyhow::Result<OpenTx> {
        OpenTx::spawn(db, |db, serve| {
            db.transaction(|tx| serve(&|text| tx.sql(text)))
        })
    }

    /// Begins a read transaction of `db` on a new worker thread: its statements read one
    /// committed version, taking no lock, until it ends (`COMMIT` and `ROLLBACK` alike).
    pub fn begin_read(db: &Database) -> anyhow::Result<OpenTx> {
        OpenTx::spawn(db, |db, serve| db.read(|r| serve(&|text| r.sql(text))))
    }

    /// Starts the worker: `open` begins the transaction on `db` and hands `serve` a way to
    /// run a statement inside it; `serve` answers the shell's requests until `Commit` (then
    /// `Ok`, and the transaction commits) or until the shell drops its end (`Err`, and it
    /// rolls back).
    fn spawn(
        db: &Database,
        open: fn(&Database, Serve<'_>) -> tabula::Result<()>,
    ) -> anyhow::Result<OpenTx> {
        let (requests, inbox) = mpsc::channel::<Request>();
        let (outbox, replies) = mpsc::channel();
        let db = db.clone();
        // A statement's parse and run take a few MiB of stack at their deepest (the
        // library grows a thread's stack when it must, a segment per statement): this
        // thread starts with room for them. Only the pages used are ever touched.
        let worker = std::thread::Builder::new()
            .name("tabula-shell-transaction".into())
            .stack_size(16 << 20)
            .spawn(move || open(&db, &|run| serve(&inbox, &outbox, run)))
            .map_err(|e| anyhow!("cannot start the transaction's thread: {e}"))?;
        let mut open = OpenTx {
            requests: Some(requests),
            replies,
            worker: Some(worker),
        };
        match open.replies.recv() {
            Ok(_) => Ok(open),
            // The closure never ran: `transaction` itself failed.
            Err(_) => match open.end() {
                Ok(()) => Err(anyhow!("the transaction ended as it began")),
                Err(e) => Err(e),
            },
        }
    }

    /// Runs one statement inside the transaction. A failed statement changes nothing and
    /// leaves the transaction open with what the earlier statements did. `Err` of the outer
    /// result: the transaction is gone (its worker failed) and was rolled back.
    pub fn run(&mut self, text: &str) -> Result<tabula::Result<SqlResult>, anyhow::Error> {
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|r| r.send(Request::Sql(text.to_owned())).is_ok());
        if sent {
            if let Ok(reply) = self.replies.recv() {
                return Ok(reply);
            }
        }
        Err(match self.end() {
            Err(e) => e.context("the transaction was rolled back"),
            Ok(()) => anyhow!("the transaction ended unexpectedly and was rolled back"),
        })
    }

    /// Commits: everything the transaction did, at once, or (on error) nothing.
    pub fn commit(mut self) -> anyhow::Result<()> {
        if let Some(r) = &self.requests {
            // A failed send means the worker is gone already: `end` tells why.
            let _ = r.send(Request::Commit);
        }
        self.end()
    }

    /// Rolls back: nothing the transaction did remains.
    pub fn rollback(mut self) -> anyhow::Result<()> {
        self.requests = None;
        match self.end() {
            Err(e) if is_rollback(&e) => Ok(()),
            other => other,
        }
    }

    /// Waits for the worker to finish (after `Commit`, or with the channel closed).
    fn end(&mut self) -> anyhow::Result<()> {
        self.requests = None;
        let Some(worker) = self.worker.take() else {
            return Ok(());
        };
        match catch_unwind(AssertUnwindSafe(|| worker.join())) {
            Ok(Ok(result)) => result.map_err(anyhow::Error::new),
            _ => Err(anyhow!(
                "internal error: the transaction's thread panicked (a bug in tabula); \
                 nothing of the transaction was committed"
            )),
        }
    }
}

/// Whether `e` is the transaction's own `ROLLBACK`.
fn is_rollback(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<Error>(),
        Some(Error::Aborted(source)) if source.is::<RolledBack>()
    )
}

impl Drop for OpenTx {
    /// Leaving with the transaction open rolls it back.
    fn drop(&mut self) {
        let _ = self.end();
    }
}
