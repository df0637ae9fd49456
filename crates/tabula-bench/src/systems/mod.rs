//! One implementation of the workload per system. Every operation returns a check value
//! (a count, a key list, a checksum) that must be the same for every system.

pub mod native;
pub mod redb_sys;
pub mod sqlite;
pub mod tabula_sys;

use std::path::Path;

use crate::workload::Row;

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// What the benchmark does to a system.
pub trait System {
    /// Bulk-inserts rows in one transaction.
    fn insert_bulk(&mut self, rows: &[Row]) -> Res<()>;
    /// Looks every id up; folds the rows found.
    fn get_pk(&mut self, ids: &[u64]) -> Res<u64>;
    /// Looks every email up; folds the rows found.
    fn get_unique(&mut self, emails: &[String]) -> Res<u64>;
    /// Rows with gpa > 3.5, without an index: their count and id sum.
    fn scan_filter(&mut self) -> Res<(u64, u64)>;
    /// The ids of the 10 rows with the highest gpa (ties by id).
    fn top10(&mut self) -> Res<Vec<u64>>;
    /// Rows with year in 2018..=2019 through the year index: count and id sum.
    fn range_year(&mut self) -> Res<(u64, u64)>;
    /// gpa += 0.01 where id % 10 == 0, one transaction; rows changed.
    fn update_10pct(&mut self) -> Res<u64>;
    /// Deletes where id % 10 == 1, one transaction; rows removed.
    fn delete_10pct(&mut self) -> Res<u64>;
    /// Every row, in id order, as a digest and a count.
    fn read_all(&mut self) -> Res<(u64, u64)>;
    /// Whether this variant keeps its data in files (durable commits and reopen apply).
    fn durable(&self) -> bool;
    /// Inserts `rows`, each in its own durable commit, from `threads` threads at once.
    fn commit_durable(&mut self, rows: &[Row], threads: usize) -> Res<()>;
    /// Closes and reopens the database (the read of every row is timed by the caller).
    fn reopen(&mut self) -> Res<()>;
}

/// Runs `commit` over `rows` split evenly between `threads` threads at once (the durable
/// commit phases); the first error wins.
pub fn in_threads<F>(rows: &[Row], threads: usize, commit: F) -> Res<()>
where
    F: Fn(&[Row]) -> Result<(), String> + Sync,
{
    let chunk = rows.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| -> Res<()> {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| s.spawn(|| commit(part)))
            .collect();
        for h in handles {
            h.join().map_err(|_| "a committer panicked")??;
        }
        Ok(())
    })
}

/// The systems the harness knows, in report order.
pub const ALL: &[&str] = &[
    "tabula-mem",
    "tabula-file",
    "sqlite-mem",
    "sqlite-file",
    "redb-mem",
    "redb-file",
    "native_db-mem",
    "native_db-file",
];

pub fn make(name: &str, dir: &Path) -> Res<Box<dyn System>> {
    Ok(match name {
        "tabula-mem" => Box::new(tabula_sys::TabulaSys::new(None)?),
        "tabula-file" => Box::new(tabula_sys::TabulaSys::new(Some(dir.join("tabula")))?),
        "sqlite-mem" => Box::new(sqlite::Sqlite::new(None)?),
        "sqlite-file" => Box::new(sqlite::Sqlite::new(Some(dir.join("sqlite.db")))?),
        "redb-mem" => Box::new(redb_sys::Redb::new(None)?),
        "redb-file" => Box::new(redb_sys::Redb::new(Some(dir.join("redb.db")))?),
        "native_db-mem" => Box::new(native::Native::new(None)?),
        "native_db-file" => Box::new(native::Native::new(Some(dir.join("native.db")))?),
        other => return Err(format!("unknown system {other:?}; known: {}", ALL.join(", ")).into()),
    })
}
