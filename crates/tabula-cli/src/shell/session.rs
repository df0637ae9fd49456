//! The shell's database: read-only until a statement writes, then writable (holding the
//! directory's lock until the shell ends), and the transaction open after `BEGIN`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{anyhow, bail};
use tabula::{Database, SqlResult, Stats};

use super::transaction::OpenTx;

/// The open database and transaction.
pub struct Session {
    dir: PathBuf,
    db: Database,
    tx: Option<OpenTx>,
    /// While the open transaction only reads (`BEGIN` on the read-only database, before its
    /// first write): the LSN of the last commit its version holds.
    reading: Option<u64>,
    /// The directory's files as a read-only database last read them.
    seen: Fingerprint,
}

/// The length and modification time of the files a writer changes on every commit and
/// checkpoint (the log and the manifest): `refresh` reads the whole directory again, so the
/// shell calls it only when these changed.
type Fingerprint = Vec<Option<(u64, SystemTime)>>;

fn fingerprint(dir: &Path) -> Fingerprint {
    ["wal/transaction.log", "manifest.json"]
        .iter()
        .map(|f| {
            let m = std::fs::metadata(dir.join(f)).ok()?;
            Some((m.len(), m.modified().ok()?))
        })
        .collect()
}

impl Session {
    /// Opens `dir` read-only, so the shell works beside a process that has it open; a
    /// directory that does not exist yet, or is empty, becomes a new database (and so is
    /// opened writable), as `tabula sql DIR "…"` makes one.
    pub fn open(dir: &Path) -> anyhow::Result<Session> {
        let seen = fingerprint(dir);
        let empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
        let db = if dir.exists() && !empty {
            crate::database::open_read_only(dir)?
        } else {
            crate::sql_cmd::create(dir)?
        };
        Ok(Session {
            dir: dir.to_path_buf(),
            db,
            tx: None,
            reading: None,
            seen,
        })
    }

    /// Whether the shell holds the database's lock.
    pub fn writable(&self) -> bool {
        !self.db.is_read_only()
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// The tables with their row counts. Outside a transaction a read-only database catches
    /// up with the directory first and counts are exact; inside one, they are the committed
    /// state's (the transaction's thread holds the lock that loading a table would take).
    /// Beside them, the errors of tables that did not load (a damaged snapshot), each
    /// marked damaged among the others.
    pub fn stats(&mut self) -> anyhow::Result<(Stats, Vec<tabula::Error>)> {
        if self.tx.is_some() {
            return Ok((self.db.stats()?, Vec::new()));
        }
        self.catch_up()?;
        crate::database::stats_of_what_loads(&self.db)
    }

    /// The database, for lock-free reads of its committed state (schemas).
    pub fn database(&mut self) -> anyhow::Result<&Database> {
        if self.tx.is_none() {
            self.catch_up()?;
        }
        Ok(&self.db)
    }

    /// Runs one statement: inside the open transaction if there is one; else on its own,
    /// taking the lock first if it writes (a read-only database refuses a write before it
    /// changes anything, and the statement runs again once writable).
    pub fn run(&mut self, text: &str) -> anyhow::Result<SqlResult> {
        if self.tx.is_some() {
            if self.reading.is_some() && !self.reads_only(text) {
                return self.first_write(text);
            }
            let Some(tx) = &mut self.tx else {
                bail!("no transaction is open (BEGIN starts one)");
            };
            return match tx.run(text) {
                Ok(reply) => Ok(reply?),
                Err(gone) => {
                    self.tx = None;
                    self.reading = None;
                    Err(gone)
                }
            };
        }
        self.catch_up()?;
        match guarded(|| self.db.sql(text)) {
            Err(e)
                if self.db.is_read_only()
                    && matches!(
                        e.downcast_ref::<tabula::Error>(),
                        Some(tabula::Error::ReadOnly { .. })
                    ) =>
            {
                self.make_writable()?;
                guarded(|| self.db.sql(text))
            }
            r => r,
        }
    }

    /// `BEGIN`. On the read-only database, SQLite's deferred `BEGIN`: a read transaction,
    /// taking no lock, until its first write (see [`Session::first_write`]); with the lock held
    /// already, or `immediate` (`BEGIN IMMEDIATE` or `EXCLUSIVE`, which take it at once, as
    /// in SQLite), a write transaction.
    pub fn begin(&mut self, immediate: bool) -> anyhow::Result<()> {
        if self.tx.is_some() {
            bail!("a transaction is already open (COMMIT or ROLLBACK ends it)");
        }
        if immediate {
            self.make_writable()?;
        }
        if self.db.is_read_only() {
            self.catch_up()?;
            // Nothing refreshes the read-only database while the transaction is open (the
            // shell's one thread catches up only outside one), so the version it pins is
            // the one this LSN is the last commit of.
            let lsn = self.db.stats()?.last_lsn;
            self.tx = Some(OpenTx::begin_read(&self.db)?);
            self.reading = Some(lsn);
            return Ok(());
        }
        self.tx = Some(write_transaction(&self.db)?);
        Ok(())
    }

    /// Whether `text`, one statement, only reads. One that does not parse counts as a
    /// read: the transaction's own run of it says what is wrong.
    fn reads_only(&self, text: &str) -> bool {
        self.db.prepare(text).map_or(true, |s| s.reads_only())
    }

    /// The first write of a read transaction, `text`: takes the lock, and if no other
    /// process committed since the transaction's version (the database opened writable,
    /// with the lock held, has the same last LSN; a checkpoint changes none), runs `text` in
    /// a new write transaction on it. Once `text` has run, that write transaction is the
    /// open one and the read transaction ends. Otherwise the lock goes back and the read
    /// transaction stays open, reading: when another process committed (its reads were of
    /// an older version than its writes would be made on: refused, as SQLite refuses it,
    /// `SQLITE_BUSY_SNAPSHOT`), when the lock cannot be had (`Locked`), and when `text`
    /// itself fails (a statement tabula refuses, a constraint), which wrote nothing.
    fn first_write(&mut self, text: &str) -> anyhow::Result<SqlResult> {
        let Some(lsn) = self.reading else {
            bail!("no read transaction is open");
        };
        let writable = crate::database::open(&self.dir)?;
        if writable.stats()?.last_lsn != lsn {
            bail!(
                "another process committed since this transaction began: what it read is \
                 older than what its writes would change, so it cannot write; ROLLBACK and \
                 run it again"
            );
        }
        let mut tx = write_transaction(&writable)?;
        let result = match tx.run(text) {
            Ok(Ok(result)) => result,
            // Rolled back with `tx` (dropped), the lock with `writable`.
            Ok(Err(e)) => return Err(e.into()),
            Err(gone) => return Err(gone),
        };
        // The shell holds the lock from here on, as after any write.
        self.db = writable;
        self.reading = None;
        if let Some(read) = self.tx.replace(tx) {
            // A read transaction has nothing to commit: its end loses nothing.
            let _ = read.commit();
        }
        Ok(result)
    }

    /// `COMMIT`; whether the transaction wrote (not when it only read: its writes, if it
    /// tried any, were refused before it took the lock).
    pub fn commit(&mut self) -> anyhow::Result<bool> {
        let only_read = self.reading.take().is_some();
        match self.tx.take() {
            Some(tx) => tx.commit().map(|()| !only_read),
            None => bail!("no transaction is open (BEGIN starts one)"),
        }
    }

    /// `ROLLBACK`.
    pub fn rollback(&mut self) -> anyhow::Result<()> {
        self.reading = None;
        match self.tx.take() {
            Some(tx) => tx.rollback(),
            None => bail!("no transaction is open (BEGIN starts one)"),
        }
    }

    /// Ends the session: rolls back an open transaction (`Ok(true)` then) and closes a
    /// writable database, which checkpoints it.
    pub fn close(mut self) -> anyhow::Result<bool> {
        // A transaction that only read has nothing to roll back.
        let rolled_back = match self.tx.take() {
            Some(tx) => {
                tx.rollback()?;
                self.reading.take().is_none()
            }
            None => false,
        };
        if self.writable() {
            crate::database::close_after_commit(&self.db)?;
        }
        Ok(rolled_back)
    }

    /// Takes the directory's lock: opens it writable in place of the read-only database.
    /// On error (`Error::Locked`: another process has it open) the shell stays read-only.
    fn make_writable(&mut self) -> anyhow::Result<()> {
        if self.db.is_read_only() {
            self.db = crate::database::open(&self.dir)?;
        }
        Ok(())
    }

    /// A read-only database reads the directory again, to show what a writer committed
    /// since the last statement, if the log or the manifest changed. When that fails (a
    /// table this session loaded was migrated since), it is opened again.
    fn catch_up(&mut self) -> anyhow::Result<()> {
        if !self.db.is_read_only() {
            return Ok(());
        }
        // Taken before reading: a commit while the refresh runs is read at the next one.
        let now = fingerprint(&self.dir);
        if now == self.seen {
            return Ok(());
        }
        if self.db.refresh().is_err() {
            self.db = crate::database::open_read_only(&self.dir)?;
        }
        self.seen = now;
        Ok(())
    }
}

/// A write transaction of `db` (writable). Tables the log changed since their snapshot
/// are loaded first: loading takes the writers' lock, which the transaction's thread is
/// about to hold, and `.tables` counts rows from loaded tables.
fn write_transaction(db: &Database) -> anyhow::Result<OpenTx> {
    crate::database::exact_stats(db)?;
    OpenTx::begin(db)
}

/// `f`, with a panic (a bug in tabula) made an error, so that the shell goes on. The
/// library rolls back whatever the statement had written before unwinding.
fn guarded(f: impl FnOnce() -> tabula::Result<SqlResult>) -> anyhow::Result<SqlResult> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Ok(r?),
        Err(_) => Err(anyhow!(
            "internal error: the statement panicked (a bug in tabula); nothing it wrote was \
             committed"
        )),
    }
}
