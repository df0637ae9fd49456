//! tabula in a directory, `Durability::Immediate`. The reader uses a plain table handle, one
//! call per lookup (not a read transaction): the read path that waits for writers today.

use std::hint::black_box;
use std::path::Path;

use tabula::{Database, Durability, TableHandle};

use super::{Get, Target, Writer};
use crate::systems::tabula_sys::Student;
use crate::systems::Res;
use crate::workload::{fold, Row};

pub struct TabulaTarget {
    db: Database,
    t: TableHandle<Student>,
    /// Read with `get_with` (no copy of the row) instead of `get`.
    get_with: bool,
}

fn student(r: Row) -> Student {
    Student {
        id: r.id,
        name: r.name,
        email: r.email,
        gpa: r.gpa,
        year: r.year,
    }
}

impl TabulaTarget {
    pub fn new(path: &Path, get_with: bool) -> Res<Self> {
        let db = Database::builder()
            .durability(Durability::Immediate)
            .auto_checkpoint_bytes(None)
            .open(path)?;
        let t = db.table::<Student>()?;
        Ok(TabulaTarget { db, t, get_with })
    }
}

impl Target for TabulaTarget {
    fn with_reader(&self, body: &mut dyn FnMut(&mut Get<'_>) -> Res<()>) -> Res<()> {
        let t = self.t.clone();
        if self.get_with {
            body(&mut |id| {
                let hit = t.get_with(id, |s| {
                    black_box(fold(0, s.id, &s.name, &s.email, s.year));
                    s.id == id
                })?;
                Ok(hit == Some(true))
            })
        } else {
            body(&mut |id| {
                let row = t.get(id)?;
                Ok(black_box(row).is_some_and(|s| s.id == id))
            })
        }
    }

    fn writer(&self) -> Res<Box<dyn Writer + Send + '_>> {
        Ok(Box::new(TabulaWriter { target: self }))
    }

    fn has_checkpoint(&self) -> bool {
        true
    }

    fn checkpoints_beside_writers(&self) -> bool {
        true
    }
}

struct TabulaWriter<'a> {
    target: &'a TabulaTarget,
}

impl Writer for TabulaWriter<'_> {
    fn update_gpa(&mut self, id: u64, gpa: f64) -> Res<()> {
        // Read and write back in one transaction, as SQL's UPDATE ... WHERE id = ? does.
        let found = self.target.db.transaction(|tx| {
            let s = tx.table::<Student>()?;
            match s.get(id)? {
                Some(mut row) => {
                    row.gpa = gpa;
                    s.upsert(row)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })?;
        if !found {
            return Err(format!("update: no row with id {id}").into());
        }
        Ok(())
    }

    fn insert(&mut self, row: Row) -> Res<()> {
        self.target.t.insert(student(row))?;
        Ok(())
    }

    fn insert_many(&mut self, rows: Vec<Row>) -> Res<()> {
        self.target.t.insert_many(rows.into_iter().map(student))?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Res<String> {
        self.target.db.checkpoint()?;
        let snapshot = self
            .target
            .db
            .path()
            .ok_or("a file database has a path")?
            .join("data/students.records");
        Ok(format!(
            "wrote the table's snapshot, {:.1} MB of JSON Lines",
            std::fs::metadata(snapshot)?.len() as f64 / 1e6
        ))
    }
}
