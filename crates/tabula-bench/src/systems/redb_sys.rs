//! redb: its in-memory backend, or a file. Rows as typed tuples; the unique email index and
//! the year index are extra tables, kept in step in every write transaction.

use std::path::PathBuf;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Res, System};
use crate::workload::{Digest, Row};

pub const MAIN: TableDefinition<'_, u64, (&str, &str, f64, u32)> = TableDefinition::new("students");
pub const EMAIL: TableDefinition<'_, &str, u64> = TableDefinition::new("students_email");
pub const YEAR: TableDefinition<'_, (u32, u64), ()> = TableDefinition::new("students_year");

pub struct Redb {
    path: Option<PathBuf>,
    db: Database,
}

fn open(path: &Option<PathBuf>) -> Res<Database> {
    Ok(match path {
        Some(p) => Database::create(p)?,
        None => redb::Builder::new().create_with_backend(redb::backends::InMemoryBackend::new())?,
    })
}

fn to_row(id: u64, v: (&str, &str, f64, u32)) -> Row {
    Row {
        id,
        name: v.0.to_owned(),
        email: v.1.to_owned(),
        gpa: v.2,
        year: v.3,
    }
}

/// Creates the three tables (a no-op where they exist).
pub fn create_tables(db: &Database) -> Res<()> {
    let w = db.begin_write()?;
    w.open_table(MAIN)?;
    w.open_table(EMAIL)?;
    w.open_table(YEAR)?;
    w.commit()?;
    Ok(())
}

/// Inserts rows in one write transaction, keeping the email and year tables in step; a
/// duplicate email fails the whole transaction, as the other systems' unique index does.
pub fn insert_rows(db: &Database, rows: &[Row]) -> Res<()> {
    let w = db.begin_write()?;
    {
        let mut main = w.open_table(MAIN)?;
        let mut email = w.open_table(EMAIL)?;
        let mut year = w.open_table(YEAR)?;
        for r in rows {
            if email.get(r.email.as_str())?.is_some() {
                return Err(format!("duplicate email {}", r.email).into());
            }
            main.insert(r.id, (r.name.as_str(), r.email.as_str(), r.gpa, r.year))?;
            email.insert(r.email.as_str(), r.id)?;
            year.insert((r.year, r.id), ())?;
        }
    }
    w.commit()?;
    Ok(())
}

impl Redb {
    pub fn new(path: Option<PathBuf>) -> Res<Self> {
        let db = open(&path)?;
        create_tables(&db)?;
        Ok(Redb { path, db })
    }

    fn insert_rows(&self, rows: &[Row]) -> Res<()> {
        insert_rows(&self.db, rows)
    }

    fn scan(&self, mut f: impl FnMut(Row)) -> Res<()> {
        let r = self.db.begin_read()?;
        let main = r.open_table(MAIN)?;
        for e in main.iter()? {
            let (k, v) = e?;
            f(to_row(k.value(), v.value()));
        }
        Ok(())
    }
}

impl System for Redb {
    fn insert_bulk(&mut self, rows: &[Row]) -> Res<()> {
        self.insert_rows(rows)
    }
    fn get_pk(&mut self, ids: &[u64]) -> Res<u64> {
        let r = self.db.begin_read()?;
        let main = r.open_table(MAIN)?;
        let mut acc = 0;
        for &id in ids {
            if let Some(v) = main.get(id)? {
                let (name, email, _, year) = v.value();
                acc = crate::workload::fold(acc, id, name, email, year);
            }
        }
        Ok(acc)
    }
    fn get_unique(&mut self, emails: &[String]) -> Res<u64> {
        let r = self.db.begin_read()?;
        let main = r.open_table(MAIN)?;
        let email = r.open_table(EMAIL)?;
        let mut acc = 0;
        for e in emails {
            if let Some(id) = email.get(e.as_str())? {
                let id = id.value();
                if let Some(v) = main.get(id)? {
                    let (name, email, _, year) = v.value();
                    acc = crate::workload::fold(acc, id, name, email, year);
                }
            }
        }
        Ok(acc)
    }
    fn scan_filter(&mut self) -> Res<(u64, u64)> {
        let mut v = Vec::new();
        self.scan(|r| {
            if r.gpa > 3.5 {
                v.push(r)
            }
        })?;
        Ok((v.len() as u64, v.iter().map(|r| r.id).sum()))
    }
    fn top10(&mut self) -> Res<Vec<u64>> {
        let r = self.db.begin_read()?;
        let main = r.open_table(MAIN)?;
        let mut best: Vec<(f64, u64)> = Vec::with_capacity(11);
        for e in main.iter()? {
            let (k, v) = e?;
            let cand = (v.value().2, k.value());
            let better = |a: &(f64, u64), b: &(f64, u64)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            if best.len() < 10 || better(&cand, &best[9]).is_lt() {
                let at = best.partition_point(|x| better(x, &cand).is_lt());
                best.insert(at, cand);
                best.truncate(10);
            }
        }
        Ok(best.into_iter().map(|(_, id)| id).collect())
    }
    fn range_year(&mut self) -> Res<(u64, u64)> {
        let r = self.db.begin_read()?;
        let main = r.open_table(MAIN)?;
        let year = r.open_table(YEAR)?;
        let mut v = Vec::new();
        for e in year.range((2018u32, 0u64)..=(2019u32, u64::MAX))? {
            let (k, _) = e?;
            let id = k.value().1;
            if let Some(row) = main.get(id)? {
                v.push(to_row(id, row.value()));
            }
        }
        Ok((v.len() as u64, v.iter().map(|r| r.id).sum()))
    }
    fn update_10pct(&mut self) -> Res<u64> {
        let w = self.db.begin_write()?;
        let n;
        {
            let mut main = w.open_table(MAIN)?;
            let mut changed = Vec::new();
            for e in main.iter()? {
                let (k, v) = e?;
                if k.value() % 10 == 0 {
                    changed.push(to_row(k.value(), v.value()));
                }
            }
            n = changed.len() as u64;
            for r in changed {
                main.insert(
                    r.id,
                    (r.name.as_str(), r.email.as_str(), r.gpa + 0.01, r.year),
                )?;
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn delete_10pct(&mut self) -> Res<u64> {
        let w = self.db.begin_write()?;
        let n;
        {
            let mut main = w.open_table(MAIN)?;
            let mut email = w.open_table(EMAIL)?;
            let mut year = w.open_table(YEAR)?;
            let mut gone = Vec::new();
            for e in main.iter()? {
                let (k, v) = e?;
                if k.value() % 10 == 1 {
                    gone.push(to_row(k.value(), v.value()));
                }
            }
            n = gone.len() as u64;
            for r in gone {
                main.remove(r.id)?;
                email.remove(r.email.as_str())?;
                year.remove((r.year, r.id))?;
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn read_all(&mut self) -> Res<(u64, u64)> {
        let mut d = Digest::default();
        let mut n = 0;
        self.scan(|r| {
            d.add(&r);
            n += 1;
        })?;
        Ok((n, d.value()))
    }
    fn durable(&self) -> bool {
        self.path.is_some()
    }
    fn commit_durable(&mut self, rows: &[Row], threads: usize) -> Res<()> {
        let this = &*self;
        super::in_threads(rows, threads, |part| {
            part.iter().try_for_each(|r| {
                this.insert_rows(std::slice::from_ref(r))
                    .map_err(|e| e.to_string())
            })
        })
    }
    fn reopen(&mut self) -> Res<()> {
        if self.path.is_none() {
            return Ok(());
        }
        let placeholder =
            redb::Builder::new().create_with_backend(redb::backends::InMemoryBackend::new())?;
        drop(std::mem::replace(&mut self.db, placeholder));
        self.db = open(&self.path)?;
        Ok(())
    }
}
