//! `--handles`: the cost of one lookup through a plain table handle against the same
//! lookup inside a read transaction, in memory (the workload's table, its random keys). A
//! plain handle call takes the published version for itself; inside `db.read` the version
//! is taken once for the whole loop, so the difference is the per-call overhead.
//!
//! ```text
//! cargo run --release -p tabula-bench -- --handles [--rows N] [--runs K]
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use tabula::{Database, TableHandle};

use crate::systems::tabula_sys::Student;
use crate::systems::Res;
use crate::workload;

/// The lookups measured, in the order printed: each against its in-transaction twin.
const KINDS: &[(&str, &str)] = &[
    ("plain get_with", "get_with in db.read"),
    ("plain get", "get in db.read"),
    ("plain get_by_with email", "get_by_with email in db.read"),
    ("plain get_by email", "get_by email in db.read"),
];

/// Nanoseconds per lookup for every kind, one run.
fn one_run(
    t: &TableHandle<Student>,
    db: &Database,
    ids: &[u64],
    emails: &[String],
) -> Res<BTreeMap<&'static str, f64>> {
    let mut out = BTreeMap::new();
    let per = |start: Instant| start.elapsed().as_nanos() as f64 / ids.len() as f64;
    let mut acc = 0u64;
    // Each loop folds what it read into `acc`, so no lookup is optimised away.
    let start = Instant::now();
    for &id in ids {
        acc = acc.wrapping_add(t.get_with(id, |s| s.year as u64)?.unwrap_or(0));
    }
    out.insert("plain get_with", per(start));
    let start = Instant::now();
    db.read(|r| {
        let t = r.table(t)?;
        for &id in ids {
            acc = acc.wrapping_add(t.get_with(id, |s| s.year as u64)?.unwrap_or(0));
        }
        Ok(())
    })?;
    out.insert("get_with in db.read", per(start));
    let start = Instant::now();
    for &id in ids {
        acc = acc.wrapping_add(t.get(id)?.map_or(0, |s| s.name.len() as u64));
    }
    out.insert("plain get", per(start));
    let start = Instant::now();
    db.read(|r| {
        let t = r.table(t)?;
        for &id in ids {
            acc = acc.wrapping_add(t.get(id)?.map_or(0, |s| s.name.len() as u64));
        }
        Ok(())
    })?;
    out.insert("get in db.read", per(start));
    let start = Instant::now();
    for e in emails {
        acc = acc.wrapping_add(t.get_by_with("email", e.as_str(), |s| s.id)?.unwrap_or(0));
    }
    out.insert("plain get_by_with email", per(start));
    let start = Instant::now();
    db.read(|r| {
        let t = r.table(t)?;
        for e in emails {
            acc = acc.wrapping_add(t.get_by_with("email", e.as_str(), |s| s.id)?.unwrap_or(0));
        }
        Ok(())
    })?;
    out.insert("get_by_with email in db.read", per(start));
    let start = Instant::now();
    for e in emails {
        acc = acc.wrapping_add(t.get_by("email", e.as_str())?.map_or(0, |s| s.id));
    }
    out.insert("plain get_by email", per(start));
    let start = Instant::now();
    db.read(|r| {
        let t = r.table(t)?;
        for e in emails {
            acc = acc.wrapping_add(t.get_by("email", e.as_str())?.map_or(0, |s| s.id));
        }
        Ok(())
    })?;
    out.insert("get_by email in db.read", per(start));
    if acc == 0 {
        return Err("every lookup missed".into());
    }
    Ok(out)
}

/// Runs the comparison `runs` times on `rows` rows and prints medians (and ranges) per kind
/// with each plain kind's ratio to its twin.
pub fn run(rows: u64, runs: usize) -> Res<()> {
    let db = Database::in_memory();
    let t = db.table::<Student>()?;
    t.insert_many(workload::rows(rows).iter().map(|r| Student {
        id: r.id,
        name: r.name.clone(),
        email: r.email.clone(),
        gpa: r.gpa,
        year: r.year,
    }))?;
    let ids = workload::lookup_ids(rows);
    let emails: Vec<String> = ids.iter().map(|i| format!("s{i}@uni.edu")).collect();
    let mut all: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        eprintln!("run {}/{runs}", run + 1);
        for (k, v) in one_run(&t, &db, &ids, &emails)? {
            all.entry(k).or_default().push(v);
        }
    }
    let stat = |k: &str| {
        let mut v = all.get(k).cloned().unwrap_or_default();
        v.sort_by(f64::total_cmp);
        let med = crate::median(v.clone());
        (
            med,
            v.first().copied().unwrap_or(f64::NAN),
            v.last().copied().unwrap_or(f64::NAN),
        )
    };
    println!(
        "{rows} rows, {} random keys, in memory, {runs} runs: ns per lookup, median (min–max)",
        ids.len()
    );
    println!();
    println!("| plain handle | ns | inside db.read | ns | ratio |");
    println!("|---|---:|---|---:|---:|");
    for (plain, read) in KINDS {
        let (p, plo, phi) = stat(plain);
        let (r, rlo, rhi) = stat(read);
        println!(
            "| {plain} | {p:.1} ({plo:.1}–{phi:.1}) | {read} | {r:.1} ({rlo:.1}–{rhi:.1}) | {:.2} |",
            p / r
        );
    }
    Ok(())
}
