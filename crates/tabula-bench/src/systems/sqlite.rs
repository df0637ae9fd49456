//! SQLite through rusqlite (bundled): `:memory:`, or a file with `journal_mode=WAL` and
//! `synchronous=FULL`. Prepared statements, a UNIQUE index on email, an index on year.

use std::path::PathBuf;

use rusqlite::{params, Connection};

use super::{Res, System};
use crate::workload::{Digest, Row};

pub struct Sqlite {
    path: Option<PathBuf>,
    conn: Connection,
}

/// A connection; to a file: WAL, `synchronous=FULL`, and a busy timeout for the threads that
/// share it.
pub fn connect(path: &Option<PathBuf>) -> Res<Connection> {
    let conn = match path {
        Some(p) => Connection::open(p)?,
        None => Connection::open_in_memory()?,
    };
    if path.is_some() {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
    }
    Ok(conn)
}

/// A row read whole (owned strings).
pub fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get::<_, i64>(0)? as u64,
        name: r.get(1)?,
        email: r.get(2)?,
        gpa: r.get(3)?,
        year: r.get::<_, i64>(4)? as u32,
    })
}

/// Folds a row read through borrowed column references (no String copies).
pub fn fold_ref(acc: u64, r: &rusqlite::Row<'_>) -> Res<u64> {
    let id = r.get::<_, i64>(0)? as u64;
    let name = r.get_ref(1)?.as_str()?;
    let email = r.get_ref(2)?.as_str()?;
    let year = r.get::<_, i64>(4)? as u32;
    Ok(crate::workload::fold(acc, id, name, email, year))
}

impl Sqlite {
    pub fn new(path: Option<PathBuf>) -> Res<Self> {
        let conn = connect(&path)?;
        conn.execute_batch(CREATE)?;
        Ok(Sqlite { path, conn })
    }
    /// The connection, for statements beside the workload's (`--sql`).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// The table and its index on year (email's UNIQUE makes its own).
pub const CREATE: &str = "CREATE TABLE students (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                email TEXT NOT NULL UNIQUE, gpa REAL NOT NULL, year INTEGER NOT NULL);
             CREATE INDEX students_year ON students(year);";

pub const COLS: &str = "id, name, email, gpa, year";

impl System for Sqlite {
    fn insert_bulk(&mut self, rows: &[Row]) -> Res<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO students (id, name, email, gpa, year) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in rows {
                st.execute(params![r.id as i64, r.name, r.email, r.gpa, r.year])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
    fn get_pk(&mut self, ids: &[u64]) -> Res<u64> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM students WHERE id = ?1"))?;
        let mut acc = 0;
        for &id in ids {
            let mut rows = st.query(params![id as i64])?;
            if let Some(r) = rows.next()? {
                acc = fold_ref(acc, r)?;
            }
        }
        Ok(acc)
    }
    fn get_unique(&mut self, emails: &[String]) -> Res<u64> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM students WHERE email = ?1"))?;
        let mut acc = 0;
        for e in emails {
            let mut rows = st.query(params![e])?;
            if let Some(r) = rows.next()? {
                acc = fold_ref(acc, r)?;
            }
        }
        Ok(acc)
    }
    fn scan_filter(&mut self) -> Res<(u64, u64)> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM students WHERE gpa > 3.5"))?;
        let v: Vec<Row> = st.query_map([], row)?.collect::<Result<_, _>>()?;
        Ok((v.len() as u64, v.iter().map(|r| r.id).sum()))
    }
    fn top10(&mut self) -> Res<Vec<u64>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id FROM students ORDER BY gpa DESC, id ASC LIMIT 10")?;
        let v: Vec<i64> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(v.into_iter().map(|i| i as u64).collect())
    }
    fn range_year(&mut self) -> Res<(u64, u64)> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM students WHERE year BETWEEN 2018 AND 2019"
        ))?;
        let v: Vec<Row> = st.query_map([], row)?.collect::<Result<_, _>>()?;
        Ok((v.len() as u64, v.iter().map(|r| r.id).sum()))
    }
    fn update_10pct(&mut self) -> Res<u64> {
        let tx = self.conn.transaction()?;
        let n = tx.execute("UPDATE students SET gpa = gpa + 0.01 WHERE id % 10 = 0", [])?;
        tx.commit()?;
        Ok(n as u64)
    }
    fn delete_10pct(&mut self) -> Res<u64> {
        let tx = self.conn.transaction()?;
        let n = tx.execute("DELETE FROM students WHERE id % 10 = 1", [])?;
        tx.commit()?;
        Ok(n as u64)
    }
    fn read_all(&mut self) -> Res<(u64, u64)> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM students ORDER BY id"))?;
        let mut d = Digest::default();
        let mut n = 0;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            d.add(&row(r)?);
            n += 1;
        }
        Ok((n, d.value()))
    }
    fn durable(&self) -> bool {
        self.path.is_some()
    }
    fn commit_durable(&mut self, rows: &[Row], threads: usize) -> Res<()> {
        // One connection per thread, as SQLite is used from several threads.
        let path = &self.path;
        super::in_threads(rows, threads, |part| {
            let conn = connect(path).map_err(|e| e.to_string())?;
            let mut st = conn
                .prepare(
                    "INSERT INTO students (id, name, email, gpa, year) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| e.to_string())?;
            part.iter().try_for_each(|r| {
                st.execute(params![r.id as i64, r.name, r.email, r.gpa, r.year])
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
    }
    fn reopen(&mut self) -> Res<()> {
        if self.path.is_none() {
            return Ok(());
        }
        let old = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        old.close().map_err(|(_, e)| e)?;
        self.conn = connect(&self.path)?;
        Ok(())
    }
}
