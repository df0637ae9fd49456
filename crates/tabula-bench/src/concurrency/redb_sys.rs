//! redb in a file, default durability (each commit durable when it returns). Each lookup is
//! its own read transaction, as a plain `get` is in tabula. redb has no checkpoint: its
//! commits write the B-trees in place (copy on write).

use std::hint::black_box;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::{Get, Target, Writer};
use crate::systems::redb_sys::{create_tables, insert_rows, MAIN};
use crate::systems::Res;
use crate::workload::{fold, Row};

pub struct RedbTarget {
    db: Database,
}

impl RedbTarget {
    pub fn new(path: &Path) -> Res<Self> {
        let db = Database::create(path)?;
        create_tables(&db)?;
        Ok(RedbTarget { db })
    }
}

impl Target for RedbTarget {
    fn with_reader(&self, body: &mut dyn FnMut(&mut Get<'_>) -> Res<()>) -> Res<()> {
        body(&mut |id| {
            let r = self.db.begin_read()?;
            let main = r.open_table(MAIN)?;
            Ok(match main.get(id)? {
                Some(v) => {
                    let (name, email, _, year) = v.value();
                    black_box(fold(0, id, name, email, year));
                    true
                }
                None => false,
            })
        })
    }

    fn writer(&self) -> Res<Box<dyn Writer + Send + '_>> {
        Ok(Box::new(RedbWriter { db: &self.db }))
    }

    fn has_checkpoint(&self) -> bool {
        false
    }
}

struct RedbWriter<'a> {
    db: &'a Database,
}

impl Writer for RedbWriter<'_> {
    fn update_gpa(&mut self, id: u64, gpa: f64) -> Res<()> {
        let w = self.db.begin_write()?;
        {
            let mut main = w.open_table(MAIN)?;
            let old = main.get(id)?.map(|v| {
                let (name, email, _, year) = v.value();
                (name.to_owned(), email.to_owned(), year)
            });
            let Some((name, email, year)) = old else {
                return Err(format!("update: no row with id {id}").into());
            };
            main.insert(id, (name.as_str(), email.as_str(), gpa, year))?;
        }
        w.commit()?;
        Ok(())
    }

    fn insert(&mut self, row: Row) -> Res<()> {
        insert_rows(self.db, std::slice::from_ref(&row))
    }

    fn insert_many(&mut self, rows: Vec<Row>) -> Res<()> {
        insert_rows(self.db, &rows)
    }

    fn checkpoint(&mut self) -> Res<String> {
        Err("redb has no checkpoint".into())
    }
}
