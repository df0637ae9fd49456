//! `--constraints`: what a composite unique constraint and a check cost per inserted row,
//! against the plain insert, in memory (the workload's rows). Each variant inserts the same
//! rows into a fresh table, once as one `insert_many` (one commit) and once row by row (a
//! commit each); the figure is nanoseconds per row, with the ratio to the plain table in the
//! same run.
//!
//! ```text
//! cargo run --release -p tabula-bench -- --constraints [--rows N] [--runs K]
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use tabula::{Database, Table, TableHandle};

use crate::systems::tabula_sys::Student;
use crate::systems::Res;
use crate::workload::{self, Row};

/// The workload's table with a composite unique constraint over two columns.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students", unique(name, year))]
pub struct UniquePair {
    #[column(primary_key)]
    pub id: u64,
    pub name: String,
    #[column(unique)]
    pub email: String,
    pub gpa: f64,
    #[column(index)]
    pub year: u32,
}

/// The workload's table with a check.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students")]
pub struct Checked {
    #[column(primary_key)]
    pub id: u64,
    pub name: String,
    #[column(unique)]
    pub email: String,
    #[column(check = "gpa BETWEEN 0 AND 4")]
    pub gpa: f64,
    #[column(index)]
    pub year: u32,
}

/// Both.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students", unique(name, year), check = "gpa BETWEEN 0 AND 4")]
pub struct Both {
    #[column(primary_key)]
    pub id: u64,
    pub name: String,
    #[column(unique)]
    pub email: String,
    pub gpa: f64,
    #[column(index)]
    pub year: u32,
}

macro_rules! from_row {
    ($t:ident) => {
        impl From<&Row> for $t {
            fn from(r: &Row) -> Self {
                $t {
                    id: r.id,
                    name: r.name.clone(),
                    email: r.email.clone(),
                    gpa: r.gpa,
                    year: r.year,
                }
            }
        }
    };
}
from_row!(UniquePair);
from_row!(Checked);
from_row!(Both);

fn plain(r: &Row) -> Student {
    Student {
        id: r.id,
        name: r.name.clone(),
        email: r.email.clone(),
        gpa: r.gpa,
        year: r.year,
    }
}

/// Nanoseconds per row for a bulk insert and for single inserts of `rows` into a new table
/// of `T`; checks that every row went in.
fn measure<T: Table + Clone>(rows: &[T]) -> Res<(f64, f64)> {
    let per = |start: Instant| start.elapsed().as_nanos() as f64 / rows.len() as f64;
    let db = Database::in_memory();
    let t: TableHandle<T> = db.table::<T>()?;
    let start = Instant::now();
    t.insert_many(rows.iter().cloned())?;
    let bulk = per(start);
    if t.count()? != rows.len() {
        return Err("bulk insert lost rows".into());
    }
    drop(t);
    drop(db);
    let db = Database::in_memory();
    let t: TableHandle<T> = db.table::<T>()?;
    let start = Instant::now();
    for r in rows {
        t.insert(r.clone())?;
    }
    let single = per(start);
    if t.count()? != rows.len() {
        return Err("single inserts lost rows".into());
    }
    Ok((bulk, single))
}

/// Runs every variant `runs` times (alternating) and prints medians, ranges and the ratio
/// to the plain table.
pub fn run(rows: u64, runs: usize) -> Res<()> {
    let source = workload::rows(rows);
    let plain_rows: Vec<Student> = source.iter().map(plain).collect();
    let pair_rows: Vec<UniquePair> = source.iter().map(UniquePair::from).collect();
    let checked_rows: Vec<Checked> = source.iter().map(Checked::from).collect();
    let both_rows: Vec<Both> = source.iter().map(Both::from).collect();
    let names = ["plain", "unique(name, year)", "check", "unique + check"];
    let mut all: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        eprintln!("run {}/{runs}", run + 1);
        let results = [
            measure(&plain_rows)?,
            measure(&pair_rows)?,
            measure(&checked_rows)?,
            measure(&both_rows)?,
        ];
        for (name, (bulk, single)) in names.iter().zip(results) {
            all.entry((name, "insert_many")).or_default().push(bulk);
            all.entry((name, "insert")).or_default().push(single);
        }
    }
    println!("{rows} rows, {runs} runs, in memory: ns per row, median (min-max), ratio to plain");
    for kind in ["insert_many", "insert"] {
        let stat = |name: &str| {
            let mut v = all.get(&(name, kind)).cloned().unwrap_or_default();
            v.sort_by(f64::total_cmp);
            let med = crate::median(v.clone());
            (
                med,
                v.first().copied().unwrap_or(f64::NAN),
                v.last().copied().unwrap_or(f64::NAN),
            )
        };
        let (base, _, _) = stat("plain");
        for name in names {
            let (med, lo, hi) = stat(name);
            println!(
                "{kind:<12} {name:<20} {med:>8.0} ({lo:.0}-{hi:.0})  {:.2}x  (+{:.0} ns)",
                med / base,
                med - base
            );
        }
    }
    Ok(())
}
