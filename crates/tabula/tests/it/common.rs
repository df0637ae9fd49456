//! Tables shared by the tests: the seed's student/course/registration story.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tabula::{Database, Table, TableHandle};

#[derive(Table, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[table(name = "students")]
pub struct Student {
    #[column(primary_key)]
    pub id: u64,
    pub name: String,
    #[column(unique)]
    pub email: String,
    #[column(index)]
    pub year: u32,
    #[column(default = 0.0)]
    pub gpa: f64,
    pub advisor: Option<String>,
}

/// The names of every student, sorted.
pub fn sorted_names(db: &Database) -> Vec<String> {
    let mut v: Vec<String> = db
        .table::<Student>()
        .unwrap()
        .select()
        .all()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    v.sort();
    v
}

pub fn student(name: &str, year: u32, gpa: f64) -> Student {
    Student {
        id: 0,
        name: name.into(),
        email: format!("{}@uni.edu", name.to_lowercase()),
        year,
        gpa,
        advisor: None,
    }
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "courses")]
pub struct Course {
    #[column(primary_key)]
    pub code: String,
    pub title: String,
    #[column(default = 3)]
    pub credits: u8,
}

/// A database with five students.
pub fn school() -> (Database, TableHandle<Student>) {
    let db = Database::in_memory();
    let s = db.table::<Student>().unwrap();
    s.insert_many([
        student("Alice", 2024, 3.8),
        student("Bob", 2023, 3.1),
        student("Cara", 2024, 3.6),
        student("Dan", 2022, 2.4),
        student("Eve", 2023, 3.9),
    ])
    .unwrap();
    (db, s)
}

/// A tiny deterministic generator (xorshift) for the randomized tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A database directory on [`FaultyFs`](tabula::testing::FaultyFs) with table `items`
/// (a key and a unique `name`), for the tests that fail or cut the power at file-system calls.
pub mod faulty {
    use tabula::testing::FaultyFs;
    use tabula::{row, Column, ColumnType, Database, Schema, Value};

    pub const PATH: &str = "/db";

    pub fn schema() -> Schema {
        Schema::new(
            "items",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("name", ColumnType::Text).unique(),
            ],
        )
        .unwrap()
    }

    pub fn open(fs: &FaultyFs) -> Database {
        Database::builder()
            .file_system(fs.clone())
            .open(PATH)
            .unwrap_or_else(|e| panic!("the directory does not open: {e}"))
    }

    pub fn open_read_only(fs: &FaultyFs) -> Database {
        Database::builder()
            .file_system(fs.clone())
            .open_read_only(PATH)
            .unwrap_or_else(|e| panic!("the directory does not open read-only: {e}"))
    }

    /// The `name` of every row of `table`, in key order.
    pub fn names(db: &Database, table: &str) -> Vec<Value> {
        let t = db.dyn_table(table).unwrap();
        let rows = t.select().all().unwrap();
        rows.iter().map(|r| r["name"].clone()).collect()
    }

    pub fn values(names: &[&str]) -> Vec<Value> {
        names.iter().map(|n| Value::from(*n)).collect()
    }

    /// A directory with two committed rows of `items`, one in a snapshot and one in the log.
    pub fn committed() -> FaultyFs {
        let fs = FaultyFs::new();
        let db = open(&fs);
        let t = db.create_table(schema()).unwrap();
        t.insert(row! { "name" => "a" }).unwrap();
        db.checkpoint().unwrap();
        t.insert(row! { "name" => "b" }).unwrap();
        fs
    }
}

/// Asserts that `r` is `Error::ForeignKey` on `(table, column, references, value)`.
pub fn assert_foreign_key<T: std::fmt::Debug>(
    r: tabula::Result<T>,
    expected: (&str, &str, &str, tabula::Value),
) {
    match r {
        Err(tabula::Error::ForeignKey {
            table,
            column,
            references,
            value,
            ..
        }) => assert_eq!(
            (table.as_str(), column.as_str(), references.as_str(), value),
            expected
        ),
        other => panic!("{other:?}"),
    }
}

/// The `Error::Sql` reason of `r`, which must have failed with one.
pub fn sql_reason<T: std::fmt::Debug>(r: tabula::Result<T>) -> String {
    match r {
        Err(tabula::Error::Sql { reason, .. }) => reason,
        other => panic!("expected Error::Sql, got {other:?}"),
    }
}

/// The archived log segments (`wal/transaction.<lsn>.log`) of the database at `path`,
/// with the LSN each is named for, oldest first.
pub fn archived_segments(path: &Path) -> Vec<(u64, PathBuf)> {
    let mut segments: Vec<(u64, PathBuf)> = fs::read_dir(path.join("wal"))
        .unwrap()
        .filter_map(|entry| {
            let p = entry.unwrap().path();
            let name = p.file_name()?.to_str()?;
            let lsn = name.strip_prefix("transaction.")?.strip_suffix(".log")?;
            Some((lsn.parse().ok()?, p))
        })
        .collect();
    segments.sort();
    segments
}

/// Removes the archived log segments (`wal/transaction.<lsn>.log`), as the pruning of
/// old ones does.
pub fn remove_archived_segments(path: &Path) {
    let segments = archived_segments(path);
    assert!(
        !segments.is_empty(),
        "no archived segment in {}",
        path.display()
    );
    for (_, p) in segments {
        fs::remove_file(&p).unwrap();
    }
}
