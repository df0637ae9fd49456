//! tabula, typed rows, in memory or in a directory with `Immediate` durability.

use std::path::PathBuf;

use tabula::{Database, Table, TableHandle};

use super::{Res, System};
use crate::workload::{Digest, Row};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students")]
pub struct Student {
    #[column(primary_key)]
    pub id: u64,
    pub name: String,
    #[column(unique)]
    pub email: String,
    pub gpa: f64,
    #[column(index)]
    pub year: u32,
}

fn to_row(s: &Student) -> Row {
    Row {
        id: s.id,
        name: s.name.clone(),
        email: s.email.clone(),
        gpa: s.gpa,
        year: s.year,
    }
}

fn from_row(r: &Row) -> Student {
    Student {
        id: r.id,
        name: r.name.clone(),
        email: r.email.clone(),
        gpa: r.gpa,
        year: r.year,
    }
}

pub struct TabulaSys {
    path: Option<PathBuf>,
    db: Database,
    t: TableHandle<Student>,
}

impl TabulaSys {
    pub fn new(path: Option<PathBuf>) -> Res<Self> {
        let db = match &path {
            Some(p) => Database::builder().auto_checkpoint_bytes(None).open(p)?,
            None => Database::in_memory(),
        };
        let t = db.table::<Student>()?;
        Ok(TabulaSys { path, db, t })
    }
    /// The database, for what runs beside the typed handle (`--sql`'s SQL).
    pub fn db(&self) -> &Database {
        &self.db
    }
    /// The typed handle on `students`.
    pub fn handle(&self) -> &TableHandle<Student> {
        &self.t
    }
}

impl System for TabulaSys {
    fn insert_bulk(&mut self, rows: &[Row]) -> Res<()> {
        self.t.insert_many(rows.iter().map(from_row))?;
        Ok(())
    }
    // One read transaction for all the lookups, as redb's side uses one `begin_read`.
    fn get_pk(&mut self, ids: &[u64]) -> Res<u64> {
        Ok(self.t.read(|t| {
            let mut acc = 0;
            for &id in ids {
                let f = |s: &Student| crate::workload::fold(acc, s.id, &s.name, &s.email, s.year);
                if let Some(v) = t.get_with(id, f)? {
                    acc = v;
                }
            }
            Ok(acc)
        })?)
    }
    fn get_unique(&mut self, emails: &[String]) -> Res<u64> {
        Ok(self.t.read(|t| {
            let mut acc = 0;
            for e in emails {
                let f = |s: &Student| crate::workload::fold(acc, s.id, &s.name, &s.email, s.year);
                if let Some(v) = t.get_by_with("email", e.as_str(), f)? {
                    acc = v;
                }
            }
            Ok(acc)
        })?)
    }
    fn scan_filter(&mut self) -> Res<(u64, u64)> {
        let v = self.t.select().filter(|s| s.gpa > 3.5).all()?;
        Ok((v.len() as u64, v.iter().map(|s| s.id).sum()))
    }
    fn top10(&mut self) -> Res<Vec<u64>> {
        Ok(self.t.select().order_by("-gpa").limit(10).keys()?)
    }
    fn range_year(&mut self) -> Res<(u64, u64)> {
        let v = self.t.select().where_range("year", 2018..=2019).all()?;
        Ok((v.len() as u64, v.iter().map(|s| s.id).sum()))
    }
    fn update_10pct(&mut self) -> Res<u64> {
        Ok(self.t.update(|s| s.id % 10 == 0, |s| s.gpa += 0.01)? as u64)
    }
    fn delete_10pct(&mut self) -> Res<u64> {
        Ok(self.t.delete(|s| s.id % 10 == 1)? as u64)
    }
    fn read_all(&mut self) -> Res<(u64, u64)> {
        let mut d = Digest::default();
        let n = self.t.select().for_each(|s| d.add(&to_row(s)))?;
        Ok((n as u64, d.value()))
    }
    fn durable(&self) -> bool {
        self.path.is_some()
    }
    fn commit_durable(&mut self, rows: &[Row], threads: usize) -> Res<()> {
        let t = &self.t;
        super::in_threads(rows, threads, |part| {
            part.iter()
                .try_for_each(|r| t.insert(from_row(r)).map(|_| ()).map_err(|e| e.to_string()))
        })
    }
    fn reopen(&mut self) -> Res<()> {
        let Some(p) = &self.path else { return Ok(()) };
        self.db.close()?;
        self.db = Database::builder().auto_checkpoint_bytes(None).open(p)?;
        self.t = self.db.table::<Student>()?;
        Ok(())
    }
}
