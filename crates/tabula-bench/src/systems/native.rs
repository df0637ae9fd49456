//! native_db: in memory or a file; email a unique secondary key, year a secondary key.

use std::path::PathBuf;
use std::sync::OnceLock;

use native_db::{native_db, Builder, Database, Models, ToKey};
use native_model::{native_model, Model};
use serde::{Deserialize, Serialize};

use super::{Res, System};
use crate::workload::{Digest, Row};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[native_model(id = 1, version = 1)]
#[native_db]
pub struct StudentN {
    #[primary_key]
    id: u64,
    name: String,
    #[secondary_key(unique)]
    email: String,
    gpa: f64,
    #[secondary_key]
    year: u32,
}

fn to_row(s: &StudentN) -> Row {
    Row {
        id: s.id,
        name: s.name.clone(),
        email: s.email.clone(),
        gpa: s.gpa,
        year: s.year,
    }
}

fn from_row(r: &Row) -> StudentN {
    StudentN {
        id: r.id,
        name: r.name.clone(),
        email: r.email.clone(),
        gpa: r.gpa,
        year: r.year,
    }
}

fn models() -> Res<&'static Models> {
    static MODELS: OnceLock<Models> = OnceLock::new();
    if let Some(m) = MODELS.get() {
        return Ok(m);
    }
    let mut m = Models::new();
    m.define::<StudentN>()?;
    Ok(MODELS.get_or_init(|| m))
}

pub struct Native {
    path: Option<PathBuf>,
    db: Option<Database<'static>>,
}

fn open(path: &Option<PathBuf>, create: bool) -> Res<Database<'static>> {
    let m = models()?;
    Ok(match path {
        Some(p) if create => Builder::new().create(m, p)?,
        Some(p) => Builder::new().open(m, p)?,
        None => Builder::new().create_in_memory(m)?,
    })
}

impl Native {
    pub fn new(path: Option<PathBuf>) -> Res<Self> {
        let db = open(&path, true)?;
        Ok(Native { path, db: Some(db) })
    }

    fn db(&self) -> Res<&Database<'static>> {
        self.db.as_ref().ok_or_else(|| "database is closed".into())
    }

    fn all(&self) -> Res<Vec<StudentN>> {
        let r = self.db()?.r_transaction()?;
        let v = r
            .scan()
            .primary::<StudentN>()?
            .all()?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }
}

impl System for Native {
    fn insert_bulk(&mut self, rows: &[Row]) -> Res<()> {
        let rw = self.db()?.rw_transaction()?;
        for r in rows {
            rw.insert(from_row(r))?;
        }
        rw.commit()?;
        Ok(())
    }
    fn get_pk(&mut self, ids: &[u64]) -> Res<u64> {
        let r = self.db()?.r_transaction()?;
        let mut acc = 0;
        for &id in ids {
            if let Some(s) = r.get().primary::<StudentN>(id)? {
                acc = crate::workload::fold(acc, s.id, &s.name, &s.email, s.year);
            }
        }
        Ok(acc)
    }
    fn get_unique(&mut self, emails: &[String]) -> Res<u64> {
        let r = self.db()?.r_transaction()?;
        let mut acc = 0;
        for e in emails {
            if let Some(s) = r
                .get()
                .secondary::<StudentN>(StudentNKey::email, e.as_str())?
            {
                acc = crate::workload::fold(acc, s.id, &s.name, &s.email, s.year);
            }
        }
        Ok(acc)
    }
    fn scan_filter(&mut self) -> Res<(u64, u64)> {
        let r = self.db()?.r_transaction()?;
        let mut n = 0;
        let mut sum = 0;
        let mut kept = Vec::new();
        for s in r.scan().primary::<StudentN>()?.all()? {
            let s = s?;
            if s.gpa > 3.5 {
                n += 1;
                sum += s.id;
                kept.push(s);
            }
        }
        Ok((n, sum))
    }
    fn top10(&mut self) -> Res<Vec<u64>> {
        let r = self.db()?.r_transaction()?;
        let mut best: Vec<(f64, u64)> = Vec::with_capacity(11);
        for s in r.scan().primary::<StudentN>()?.all()? {
            let s = s?;
            let cand = (s.gpa, s.id);
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
        let r = self.db()?.r_transaction()?;
        let v: Vec<StudentN> = r
            .scan()
            .secondary::<StudentN>(StudentNKey::year)?
            .range(2018u32..=2019u32)?
            .collect::<Result<_, _>>()?;
        Ok((v.len() as u64, v.iter().map(|s| s.id).sum()))
    }
    fn update_10pct(&mut self) -> Res<u64> {
        let changed: Vec<StudentN> = self.all()?.into_iter().filter(|s| s.id % 10 == 0).collect();
        let rw = self.db()?.rw_transaction()?;
        let n = changed.len() as u64;
        for old in changed {
            let mut new = old.clone();
            new.gpa += 0.01;
            rw.update(old, new)?;
        }
        rw.commit()?;
        Ok(n)
    }
    fn delete_10pct(&mut self) -> Res<u64> {
        let gone: Vec<StudentN> = self.all()?.into_iter().filter(|s| s.id % 10 == 1).collect();
        let rw = self.db()?.rw_transaction()?;
        let n = gone.len() as u64;
        for s in gone {
            rw.remove(s)?;
        }
        rw.commit()?;
        Ok(n)
    }
    fn read_all(&mut self) -> Res<(u64, u64)> {
        let mut d = Digest::default();
        let mut n = 0;
        let r = self.db()?.r_transaction()?;
        for s in r.scan().primary::<StudentN>()?.all()? {
            d.add(&to_row(&s?));
            n += 1;
        }
        Ok((n, d.value()))
    }
    fn durable(&self) -> bool {
        self.path.is_some()
    }
    fn commit_durable(&mut self, rows: &[Row], threads: usize) -> Res<()> {
        let db = self.db()?;
        super::in_threads(rows, threads, |part| {
            part.iter().try_for_each(|r| {
                let rw = db.rw_transaction().map_err(|e| e.to_string())?;
                rw.insert(from_row(r)).map_err(|e| e.to_string())?;
                rw.commit().map_err(|e| e.to_string())
            })
        })
    }
    fn reopen(&mut self) -> Res<()> {
        if self.path.is_none() {
            return Ok(());
        }
        self.db = None;
        self.db = Some(open(&self.path, false)?);
        Ok(())
    }
}
