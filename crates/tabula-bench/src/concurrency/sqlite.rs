//! SQLite in a file, `journal_mode=WAL`, `synchronous=FULL`, one connection per thread. Each
//! lookup is its own implicit read transaction, as a plain `get` is in tabula.

use std::hint::black_box;
use std::path::PathBuf;

use rusqlite::{params, Connection};

use super::{Get, Target, Writer};
use crate::systems::sqlite::{connect, fold_ref, COLS, CREATE};
use crate::systems::Res;
use crate::workload::Row;

pub struct SqliteTarget {
    path: Option<PathBuf>,
}

impl SqliteTarget {
    pub fn new(path: PathBuf) -> Res<Self> {
        let path = Some(path);
        connect(&path)?.execute_batch(CREATE)?;
        Ok(SqliteTarget { path })
    }
}

impl Target for SqliteTarget {
    fn with_reader(&self, body: &mut dyn FnMut(&mut Get<'_>) -> Res<()>) -> Res<()> {
        let conn = connect(&self.path)?;
        let mut st = conn.prepare(&format!("SELECT {COLS} FROM students WHERE id = ?1"))?;
        body(&mut |id| {
            let mut rows = st.query(params![id as i64])?;
            match rows.next()? {
                Some(r) => {
                    black_box(fold_ref(0, r)?);
                    Ok(r.get::<_, i64>(0)? as u64 == id)
                }
                None => Ok(false),
            }
        })
    }

    fn writer(&self) -> Res<Box<dyn Writer + Send + '_>> {
        let conn = connect(&self.path)?;
        // No automatic checkpoints, as for tabula: the checkpoint phase moves everything.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Box::new(SqliteWriter {
            conn,
            path: self.path.clone(),
        }))
    }

    fn has_checkpoint(&self) -> bool {
        true
    }
}

struct SqliteWriter {
    conn: Connection,
    path: Option<PathBuf>,
}

const INSERT: &str =
    "INSERT INTO students (id, name, email, gpa, year) VALUES (?1, ?2, ?3, ?4, ?5)";

impl Writer for SqliteWriter {
    fn update_gpa(&mut self, id: u64, gpa: f64) -> Res<()> {
        let n = self
            .conn
            .prepare_cached("UPDATE students SET gpa = ?1 WHERE id = ?2")?
            .execute(params![gpa, id as i64])?;
        if n != 1 {
            return Err(format!("update: {n} rows with id {id}").into());
        }
        Ok(())
    }

    fn insert(&mut self, r: Row) -> Res<()> {
        self.conn.prepare_cached(INSERT)?.execute(params![
            r.id as i64,
            r.name,
            r.email,
            r.gpa,
            r.year
        ])?;
        Ok(())
    }

    fn insert_many(&mut self, rows: Vec<Row>) -> Res<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(INSERT)?;
            for r in &rows {
                st.execute(params![r.id as i64, r.name, r.email, r.gpa, r.year])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Res<String> {
        // TRUNCATE restarts the log, so the frame counts it returns are 0 once it succeeds:
        // the log's size before it says what it moved.
        let wal = self
            .path
            .as_ref()
            .map(|p| {
                let mut name = p.clone().into_os_string();
                name.push("-wal");
                PathBuf::from(name)
            })
            .ok_or("a file database has a path")?;
        let wal_bytes = std::fs::metadata(&wal)?.len();
        let page: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let page = u64::try_from(page)?;
        let (busy, _, _): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        // busy = 1: a reader or writer kept it from finishing; not a checkpoint to report.
        if busy != 0 {
            return Err("wal_checkpoint(TRUNCATE) did not finish (busy)".into());
        }
        // A WAL file is a 32-byte header, then frames of a 24-byte header and a page.
        let frames = wal_bytes.saturating_sub(32) / (page + 24);
        Ok(format!(
            "wal_checkpoint(TRUNCATE) moved the log's {frames} frames ({:.1} MB) into the database file",
            wal_bytes as f64 / 1e6
        ))
    }
}
