//! `--sql` (issue 15): tabula's SQL against tabula's builder API and against SQLite running
//! the same SQL text, in one process, on the workload's rows (and the relations workload's
//! for the join and the group-by).
//!
//! Three systems per op:
//! - **builder**: tabula's typed handle, doing the op as the main workload does;
//! - **SQL**: `db.prepare(text)` once per run of an op, then `run(&[Value])` (or, for the
//!   lookups, the scan and the range, `each_ref`, which lends the row where it is read, as
//!   SQLite's side reads its columns in place) on the same database (for the writes, on an
//!   identical copy), with the same text SQLite runs;
//! - **SQLite**: rusqlite in memory, `prepare_cached`, the workload's indexes.
//!
//! Reads run on databases loaded once, each read statement run once in each system before
//! the first timed run (so SQLite's are prepared, and tabula's plans cached where it caches
//! them). The writes (update, delete, then the inserts, in that order) run on fresh copies
//! loaded each run outside the clock; SQLite's statement is prepared before the clock starts,
//! tabula's first execution on a fresh database parses its text inside it. Each write starts
//! after a 100 ms pause, time for tabula's background freeing of the versions the earlier
//! writes replaced (it would otherwise land in the next system's measurement).
//!
//! Lookups: `--lookups L` statements of each kind per run (10,000 by default, as issue 15
//! says), the first L of the workload's random keys. Inserts: 10,000 single-row statements,
//! each its own commit, keys above the table's.
//! Every op's answers (counts, key lists, checksums, sums) must agree between the three, and
//! after the writes every copy's content must too; a mismatch fails the run.
//!
//! ```text
//! cargo run --release -p tabula-bench -- --sql [--rows N] [--runs K] [--lookups L]
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Instant;

use rusqlite::{params, Connection};
use tabula::{Database, TableHandle, Value, ValueRef};

use crate::relations::{self, Groups, JoinCheck};
use crate::systems::sqlite::{self, Sqlite};
use crate::systems::tabula_sys::{Student, TabulaSys};
use crate::systems::{Res, System};
use crate::workload::{self, Row};

/// Point lookups of each kind per run (`--lookups` changes it).
pub const DEFAULT_LOOKUPS: usize = 10_000;
/// Single-row inserts per run, each its own statement and commit.
const INSERTS: u64 = 10_000;

const GET_PK: &str = "SELECT id, name, email, gpa, year FROM students WHERE id = ?";
const GET_UNIQUE: &str = "SELECT id, name, email, gpa, year FROM students WHERE email = ?";
const SCAN_FILTER: &str = "SELECT id, name, email, gpa, year FROM students WHERE gpa > 3.5";
const TOP10: &str = "SELECT id FROM students ORDER BY gpa DESC, id ASC LIMIT 10";
const RANGE_YEAR: &str =
    "SELECT id, name, email, gpa, year FROM students WHERE year BETWEEN 2018 AND 2019";
const UPDATE: &str = "UPDATE students SET gpa = gpa + 0.01 WHERE id % 10 = 0";
const DELETE: &str = "DELETE FROM students WHERE id % 10 = 1";
const INSERT: &str = "INSERT INTO students (id, name, email, gpa, year) VALUES (?, ?, ?, ?, ?)";

/// What an op's time is reported as.
#[derive(Clone, Copy)]
enum Per {
    /// µs per lookup statement; only the SQLite ratio is a target.
    Lookup,
    /// µs per insert statement; only the SQLite ratio is a target.
    Insert,
    /// ms for the one statement; both ratios are targets.
    Statement,
    /// ms for the one statement, run another way beside its targeted row; no target.
    Aside,
}

/// The report's rows, in order.
const OPS: &[(&str, Per)] = &[
    ("get_pk", Per::Lookup),
    ("get_unique", Per::Lookup),
    ("scan_filter", Per::Statement),
    ("scan_filter_run", Per::Aside),
    ("top10", Per::Statement),
    ("range_year", Per::Statement),
    ("range_year_run", Per::Aside),
    ("update_10pct", Per::Statement),
    ("delete_10pct", Per::Statement),
    ("insert", Per::Insert),
    ("join", Per::Statement),
    ("group_by", Per::Statement),
];

/// SQL over the builder API, at most (scans, top-10, range, writes, join, group-by).
const TARGET_BUILDER: f64 = 1.3;
/// SQL over SQLite running the same text, at most (every op).
const TARGET_SQLITE: f64 = 0.3;

/// Seconds for `f`, and its answer.
fn timed<T>(f: impl FnOnce() -> Res<T>) -> Res<(f64, T)> {
    let t = Instant::now();
    let out = f()?;
    Ok((t.elapsed().as_secs_f64(), out))
}

/// How long a write waits before its clock starts (see [`settled`]).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// [`timed`], after a pause: tabula frees the row versions a large write replaced on a
/// process-wide thread after the write returns, so without the pause the next system's
/// write (the writes run one after another) would be timed while that thread frees the
/// previous one's rows beside it. (The pause is no guarantee, only far longer than the
/// freeing of 10,000 rows takes; nothing outside the library can wait for the thread.)
fn settled<T>(f: impl FnOnce() -> Res<T>) -> Res<(f64, T)> {
    std::thread::sleep(SETTLE);
    timed(f)
}

/// [`timed`], after the C library's allocator has merged the small blocks the reads before
/// freed: freeing a block of 64 kB or more makes it merge every small free block it holds
/// (`malloc_consolidate`), which after a read that collected 12,500 rows takes about as long
/// as a warm top-10, and would otherwise land in whichever read first frees such a block.
fn timed_read<T>(f: impl FnOnce() -> Res<T>) -> Res<(f64, T)> {
    drop(std::hint::black_box(vec![0u8; 96 << 10]));
    timed(f)
}

/// The builder's side of a scan that collects rows: count and id sum.
type ScanOp = fn(&mut TabulaSys) -> Res<(u64, u64)>;

/// One read of the builder, SQL and SQLite (answers in that order), the builder and SQL,
/// which read the same table, taking turns to go first: the first reads memory the caches
/// lost since the run's last read of that table, and a cold scan takes 2.5-3.5x as long
/// as a warm one on the machine of the README's latest figures.
fn reads<T>(
    run: usize,
    builder: impl FnOnce() -> Res<T>,
    sql: impl FnOnce() -> Res<T>,
    sqlite: impl FnOnce() -> Res<T>,
) -> Res<[(f64, T); 3]> {
    let (b, s) = if run.is_multiple_of(2) {
        let b = timed_read(builder)?;
        (b, timed_read(sql)?)
    } else {
        let s = timed_read(sql)?;
        (timed_read(builder)?, s)
    };
    Ok([b, s, timed_read(sqlite)?])
}

/// The orders the systems write in, one per run, cycling: over six runs (or a multiple)
/// each system writes first in a third of them, and each of two systems before the other
/// in half of them. Fewer runs use the first orders only (three: the rotations, which put
/// SQL after the builder in two of them).
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [1, 2, 0],
    [2, 0, 1],
    [0, 2, 1],
    [2, 1, 0],
    [1, 0, 2],
];

/// The three systems' results of one write (builder, SQL, SQLite, in that order), the
/// systems running in the order `ORDERS` gives `run`. Where a write comes in the order
/// moves its time: a tabula write that follows another tabula write (on its own copy, after
/// the pause) takes 30-50% longer, whichever API either uses (see the README), so an order
/// in which one of the two always followed the other would penalise it in every run. The
/// three rotations alone put SQL after the builder in two runs of three.
fn in_turn<T>(run: usize, mut write: impl FnMut(usize) -> Res<(f64, T)>) -> Res<[(f64, T); 3]> {
    let mut out: [Option<(f64, T)>; 3] = [None, None, None];
    for system in ORDERS[run % ORDERS.len()] {
        out[system] = Some(write(system)?);
    }
    let [Some(b), Some(s), Some(q)] = out else {
        return Err("a system's write did not run".into());
    };
    Ok([b, s, q])
}

/// Folds every column of a looked-up row (the workload's fold, and the gpa).
fn fold_row(acc: u64, id: u64, name: &str, email: &str, gpa: f64, year: u32) -> u64 {
    workload::fold(acc, id, name, email, year).wrapping_add(gpa.to_bits() >> 8)
}

fn int(v: &Value) -> Res<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        _ => Err(format!("SQL gave {v:?} where an integer was expected").into()),
    }
}

fn float(v: &Value) -> Res<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        _ => Err(format!("SQL gave {v:?} where a float was expected").into()),
    }
}

/// The columns of a `SELECT id, name, email, gpa, year` row of tabula's SQL, borrowed
/// (`Statement::each_ref`).
fn row_refs<'a>(row: &[ValueRef<'a>]) -> Res<(u64, &'a str, &'a str, f64, u32)> {
    match row {
        [ValueRef::Int(id), ValueRef::Text(name), ValueRef::Text(email), ValueRef::Float(gpa), ValueRef::Int(year)] => {
            Ok((*id as u64, name, email, *gpa, *year as u32))
        }
        _ => Err(format!("SQL gave the row {row:?}").into()),
    }
}

/// Folds a `SELECT id, name, email, gpa, year` row of tabula's SQL, borrowed.
fn fold_refs(acc: u64, row: &[ValueRef<'_>]) -> Res<u64> {
    let (id, name, email, gpa, year) = row_refs(row)?;
    Ok(fold_row(acc, id, name, email, gpa, year))
}

/// Folds a `SELECT id, name, email, gpa, year` row of SQLite through borrowed column refs.
fn fold_sqlite(acc: u64, r: &rusqlite::Row<'_>) -> Res<u64> {
    let id = r.get::<_, i64>(0)? as u64;
    let name = r.get_ref(1)?.as_str()?;
    let email = r.get_ref(2)?.as_str()?;
    let gpa = r.get::<_, f64>(3)?;
    let year = r.get::<_, i64>(4)? as u32;
    Ok(fold_row(acc, id, name, email, gpa, year))
}

/// The count of SQL rows and the sum of their first column (the id).
fn count_ids(rows: &[Vec<Value>]) -> Res<(u64, u64)> {
    let mut sum = 0u64;
    for r in rows {
        sum += int(r.first().ok_or("SQL gave an empty row")?)? as u64;
    }
    Ok((rows.len() as u64, sum))
}

// ---- the builder API ----

/// Primary-key lookups in one read transaction, as the main workload does them.
fn builder_get_pk(t: &TableHandle<Student>, ids: &[u64]) -> Res<u64> {
    Ok(t.read(|t| {
        let mut acc = 0;
        for &id in ids {
            let f = |s: &Student| fold_row(acc, s.id, &s.name, &s.email, s.gpa, s.year);
            if let Some(v) = t.get_with(id, f)? {
                acc = v;
            }
        }
        Ok(acc)
    })?)
}

fn builder_get_unique(t: &TableHandle<Student>, emails: &[String]) -> Res<u64> {
    Ok(t.read(|t| {
        let mut acc = 0;
        for e in emails {
            let f = |s: &Student| fold_row(acc, s.id, &s.name, &s.email, s.gpa, s.year);
            if let Some(v) = t.get_by_with("email", e.as_str(), f)? {
                acc = v;
            }
        }
        Ok(acc)
    })?)
}

/// Single-row inserts, each its own commit.
fn builder_insert(t: &TableHandle<Student>, rows: Vec<Student>) -> Res<u64> {
    let mut n = 0;
    for s in rows {
        t.insert(s)?;
        n += 1;
    }
    Ok(n)
}

// ---- tabula's SQL ----

/// One run of the prepared statement per parameter, folding the row each hands out
/// borrowed (as SQLite's side reads its row in place).
fn sql_lookups(db: &Database, text: &str, keys: &[Value]) -> Res<u64> {
    let st = db.prepare(text)?;
    let mut acc = 0;
    let mut bad = None;
    for k in keys {
        st.each_ref(std::slice::from_ref(k), |row| {
            match fold_refs(acc, row) {
                Ok(a) => acc = a,
                Err(e) => bad = Some(e),
            }
            Ok(true)
        })?;
    }
    match bad {
        Some(e) => Err(e),
        None => Ok(acc),
    }
}

/// The rows of a `SELECT id, name, email, gpa, year` scan collected as owned [`Row`]s
/// from borrowed values (`Statement::each_ref`), as SQLite's side collects them from its
/// column refs: count and id sum.
fn sql_stream_ids(db: &Database, text: &str) -> Res<(u64, u64)> {
    let st = db.prepare(text)?;
    let mut rows: Vec<Row> = Vec::new();
    let mut bad = None;
    st.each_ref(&[], |r| {
        match row_refs(r) {
            Ok((id, name, email, gpa, year)) => rows.push(Row {
                id,
                name: name.to_owned(),
                email: email.to_owned(),
                gpa,
                year,
            }),
            Err(e) => bad = Some(e),
        }
        Ok(bad.is_none())
    })?;
    match bad {
        Some(e) => Err(e),
        None => Ok((rows.len() as u64, rows.iter().map(|r| r.id).sum())),
    }
}

/// The same scan through `Statement::run`, whose result holds every row as a
/// `Vec<Value>`: count and id sum.
fn sql_count_ids(db: &Database, text: &str) -> Res<(u64, u64)> {
    count_ids(&db.prepare(text)?.run(&[])?.rows)
}

fn sql_top10(db: &Database) -> Res<Vec<u64>> {
    let rows = db.prepare(TOP10)?.run(&[])?.rows;
    rows.iter()
        .map(|r| Ok(int(r.first().ok_or("SQL gave an empty row")?)? as u64))
        .collect()
}

fn sql_changed(db: &Database, text: &str) -> Res<u64> {
    Ok(db.prepare(text)?.run(&[])?.changed)
}

fn sql_insert(db: &Database, rows: &[[Value; 5]]) -> Res<u64> {
    let st = db.prepare(INSERT)?;
    let mut n = 0;
    for p in rows {
        n += st.run(p)?.changed;
    }
    Ok(n)
}

fn sql_join(db: &Database) -> Res<JoinCheck> {
    let rows = db.prepare(relations::JOIN_SQL)?.run(&[])?.rows;
    match rows.as_slice() {
        [row] => match row.as_slice() {
            [n, credits, grades] => Ok((
                int(n)?,
                int(credits)?,
                (float(grades)? * 10.0).round() as i64,
            )),
            _ => Err(format!("the join gave the row {row:?}").into()),
        },
        _ => Err(format!("the join gave {} rows", rows.len()).into()),
    }
}

fn sql_group(db: &Database) -> Res<Groups> {
    let rows = db.prepare(relations::GROUP_SQL)?.run(&[])?.rows;
    rows.iter()
        .map(|r| match r.as_slice() {
            [y, n, avg] => Ok((int(y)?, int(n)?, float(avg)?)),
            _ => Err(format!("the group-by gave the row {r:?}").into()),
        })
        .collect()
}

// ---- SQLite ----

fn sqlite_lookups<K: rusqlite::ToSql>(conn: &Connection, text: &str, keys: &[K]) -> Res<u64> {
    let mut st = conn.prepare_cached(text)?;
    let mut acc = 0;
    for k in keys {
        let mut rows = st.query([k])?;
        if let Some(r) = rows.next()? {
            acc = fold_sqlite(acc, r)?;
        }
    }
    Ok(acc)
}

/// Collects the rows as the main workload does, then counts them and sums their ids.
fn sqlite_count_ids(conn: &Connection, text: &str) -> Res<(u64, u64)> {
    let mut st = conn.prepare_cached(text)?;
    let v: Vec<Row> = st.query_map([], sqlite::row)?.collect::<Result<_, _>>()?;
    Ok((v.len() as u64, v.iter().map(|r| r.id).sum()))
}

fn sqlite_top10(conn: &Connection) -> Res<Vec<u64>> {
    let mut st = conn.prepare_cached(TOP10)?;
    let v: Vec<i64> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(v.into_iter().map(|i| i as u64).collect())
}

/// Runs a write statement, prepared before the clock starts; rows changed.
fn sqlite_changed(conn: &Connection, text: &str) -> Res<(f64, u64)> {
    let mut st = conn.prepare_cached(text)?;
    settled(|| Ok(st.execute([])? as u64))
}

/// Single-row inserts, each committing on its own (autocommit), the statement prepared
/// before the clock starts.
fn sqlite_insert(conn: &Connection, rows: &[Row]) -> Res<(f64, u64)> {
    let mut st = conn.prepare_cached(INSERT)?;
    settled(|| {
        let mut n = 0;
        for r in rows {
            n += st.execute(params![r.id as i64, r.name, r.email, r.gpa, r.year])? as u64;
        }
        Ok(n)
    })
}

// ---- the harness ----

fn eq<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

/// The times per op, `[builder, SQL, SQLite]`, one entry per run; and whether every answer
/// agreed.
struct Bench {
    times: BTreeMap<&'static str, [Vec<f64>; 3]>,
    ok: bool,
}

impl Bench {
    /// Records a scan collecting rows (see [`reads`]), as `ops[0]`; and SQL's `run` of
    /// `text` after the three, as `ops[1]` beside the same builder and SQLite times.
    fn record_scan(
        &mut self,
        run: usize,
        ops: [&'static str; 2],
        base: &mut TabulaSys,
        lite: &Sqlite,
        (builder, text): (ScanOp, &str),
    ) -> Res<()> {
        // The same database as the builder's handle (a clone shares it).
        let db = base.db().clone();
        let [b, streamed, q] = reads(
            run,
            || builder(base),
            || sql_stream_ids(&db, text),
            || sqlite_count_ids(lite.conn(), text),
        )?;
        let collected = timed(|| sql_count_ids(base.db(), text))?;
        self.record(ops[0], [b, streamed, q], eq);
        self.record(ops[1], [b, collected, q], eq);
        Ok(())
    }

    /// Records one run of `op` on the three systems and checks their answers agree.
    fn record<T: Debug>(
        &mut self,
        op: &'static str,
        results: [(f64, T); 3],
        same: impl Fn(&T, &T) -> bool,
    ) {
        let t = self.times.entry(op).or_default();
        for (i, (secs, _)) in results.iter().enumerate() {
            t[i].push(*secs);
        }
        eprintln!(
            "  {op}: builder {:.3} ms, SQL {:.3} ms, SQLite {:.3} ms",
            results[0].0 * 1e3,
            results[1].0 * 1e3,
            results[2].0 * 1e3
        );
        let [(_, b), (_, s), (_, q)] = &results;
        if !same(b, s) || !same(b, q) {
            eprintln!("MISMATCH in {op}: builder {b:?}, SQL {s:?}, SQLite {q:?}");
            self.ok = false;
        }
    }
}

/// A fresh copy of the workload's table in each system, for the writes.
fn copies(rows: &[Row]) -> Res<(TabulaSys, TabulaSys, Sqlite)> {
    let mut b = TabulaSys::new(None)?;
    b.insert_bulk(rows)?;
    let mut s = TabulaSys::new(None)?;
    s.insert_bulk(rows)?;
    let mut q = Sqlite::new(None)?;
    q.insert_bulk(rows)?;
    Ok((b, s, q))
}

/// Runs the three systems `runs` times on `n` rows, with `lookups` point lookups of each
/// kind per run, and prints a markdown table; false when any answer differed.
pub fn run(n: u64, runs: usize, lookups: usize) -> Res<bool> {
    let runs = runs.max(1);
    let lookups = lookups.clamp(1, workload::LOOKUPS);
    let rows = workload::rows(n);
    let ids: Vec<u64> = workload::lookup_ids(n).into_iter().take(lookups).collect();
    let emails: Vec<String> = ids.iter().map(|i| format!("s{i}@uni.edu")).collect();
    let id_keys: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let id_values: Vec<Value> = ids.iter().map(|&i| Value::Int(i as i64)).collect();
    let email_values: Vec<Value> = emails.iter().map(|e| Value::Text(e.clone())).collect();
    let extra: Vec<Row> = (n + 1..=n + INSERTS).map(workload::extra_row).collect();
    let extra_values: Vec<[Value; 5]> = extra
        .iter()
        .map(|r| {
            [
                Value::Int(r.id as i64),
                Value::Text(r.name.clone()),
                Value::Text(r.email.clone()),
                Value::Float(r.gpa),
                Value::Int(i64::from(r.year)),
            ]
        })
        .collect();

    eprintln!("--sql: loading {n} rows, and the relations tables");
    let mut base = TabulaSys::new(None)?;
    base.insert_bulk(&rows)?;
    let mut lite = Sqlite::new(None)?;
    lite.insert_bulk(&rows)?;
    let rel_data = relations::data();
    let rel = relations::load_tabula(&rel_data)?;
    let rel_lite = relations::load_sqlite(&rel_data)?;
    drop(rel_data);

    // Each read statement once in each system, untimed: SQLite's statements are prepared
    // (and tabula's plans cached, where it caches them) before the first timed run.
    {
        let (t, db, conn) = (base.handle(), base.db(), lite.conn());
        builder_get_pk(t, &ids[..1])?;
        sql_lookups(db, GET_PK, &id_values[..1])?;
        sqlite_lookups(conn, GET_PK, &id_keys[..1])?;
        builder_get_unique(t, &emails[..1])?;
        sql_lookups(db, GET_UNIQUE, &email_values[..1])?;
        sqlite_lookups(conn, GET_UNIQUE, &emails[..1])?;
        for text in [SCAN_FILTER, RANGE_YEAR] {
            sql_count_ids(db, text)?;
            sql_stream_ids(db, text)?;
            sqlite_count_ids(conn, text)?;
        }
        sql_top10(db)?;
        sqlite_top10(conn)?;
        sql_join(&rel.db)?;
        relations::join_sqlite(&rel_lite)?;
        sql_group(&rel.db)?;
        relations::group_sqlite(&rel_lite)?;
    }

    let mut bench = Bench {
        times: BTreeMap::new(),
        ok: true,
    };
    for run in 0..runs {
        eprintln!("run {}/{runs}", run + 1);
        let (t, db, conn) = (base.handle(), base.db(), lite.conn());
        bench.record(
            "get_pk",
            [
                timed(|| builder_get_pk(t, &ids))?,
                timed(|| sql_lookups(db, GET_PK, &id_values))?,
                timed(|| sqlite_lookups(conn, GET_PK, &id_keys))?,
            ],
            eq,
        );
        bench.record(
            "get_unique",
            [
                timed(|| builder_get_unique(t, &emails))?,
                timed(|| sql_lookups(db, GET_UNIQUE, &email_values))?,
                timed(|| sqlite_lookups(conn, GET_UNIQUE, &emails))?,
            ],
            eq,
        );
        let scan = (TabulaSys::scan_filter as ScanOp, SCAN_FILTER);
        bench.record_scan(
            run,
            ["scan_filter", "scan_filter_run"],
            &mut base,
            &lite,
            scan,
        )?;
        let db = base.db().clone();
        let top10 = reads(
            run,
            || base.top10(),
            || sql_top10(&db),
            || sqlite_top10(lite.conn()),
        )?;
        bench.record("top10", top10, eq);
        let range = (TabulaSys::range_year as ScanOp, RANGE_YEAR);
        bench.record_scan(
            run,
            ["range_year", "range_year_run"],
            &mut base,
            &lite,
            range,
        )?;

        // The writes, on fresh copies; each copy goes through the same three statements.
        // The systems write in turns (see `in_turn`).
        let (mut b, s, mut q) = copies(&rows)?;
        bench.record(
            "update_10pct",
            in_turn(run, |system| match system {
                0 => settled(|| b.update_10pct()),
                1 => settled(|| sql_changed(s.db(), UPDATE)),
                _ => sqlite_changed(q.conn(), UPDATE),
            })?,
            eq,
        );
        bench.record(
            "delete_10pct",
            in_turn(run, |system| match system {
                0 => settled(|| b.delete_10pct()),
                1 => settled(|| sql_changed(s.db(), DELETE)),
                _ => sqlite_changed(q.conn(), DELETE),
            })?,
            eq,
        );
        let students: Vec<Student> = extra
            .iter()
            .map(|r| Student {
                id: r.id,
                name: r.name.clone(),
                email: r.email.clone(),
                gpa: r.gpa,
                year: r.year,
            })
            .collect();
        let mut students = Some(students);
        bench.record(
            "insert",
            in_turn(run, |system| match system {
                0 => settled(|| builder_insert(b.handle(), students.take().unwrap_or_default())),
                1 => settled(|| sql_insert(s.db(), &extra_values)),
                _ => sqlite_insert(q.conn(), &extra),
            })?,
            eq,
        );
        let mut s = s;
        let contents = [b.read_all()?, s.read_all()?, q.read_all()?];
        if contents[1] != contents[0] || contents[2] != contents[0] {
            eprintln!(
                "MISMATCH in the content after the writes (rows, digest): builder {:?}, SQL {:?}, SQLite {:?}",
                contents[0], contents[1], contents[2]
            );
            bench.ok = false;
        }
        drop((b, s, q));

        bench.record(
            "join",
            [
                timed(|| relations::join_builder(&rel))?,
                timed(|| sql_join(&rel.db))?,
                timed(|| relations::join_sqlite(&rel_lite))?,
            ],
            eq,
        );
        bench.record(
            "group_by",
            [
                timed(|| relations::group_builder(&rel))?,
                timed(|| sql_group(&rel.db))?,
                timed(|| relations::group_sqlite(&rel_lite))?,
            ],
            relations::same_groups,
        );
    }
    report(n, runs, lookups, &bench);
    if bench.ok {
        eprintln!(
            "builder, SQL and SQLite agree on every answer and on the content after the writes"
        );
    }
    Ok(bench.ok)
}

/// Median, min and max.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    };
    (
        med,
        s.first().copied().unwrap_or(f64::NAN),
        s.last().copied().unwrap_or(f64::NAN),
    )
}

/// Three significant figures or so.
fn num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn ratio(r: f64, target: Option<f64>) -> String {
    match target {
        Some(t) if r <= t => format!("{} ✓", num(r)),
        Some(_) => format!("{} ✗", num(r)),
        None => format!("{} (no target)", num(r)),
    }
}

fn report(n: u64, runs: usize, lookups: usize, bench: &Bench) {
    println!(
        "\n--sql: {n} rows, {lookups} lookups of each kind and {INSERTS} inserts per run \
         (join: 200k registrations x 20k students x 500 courses; group_by: 1M rows), \
         {runs} run(s) in one process; median (min–max)\n"
    );
    println!(
        "| op | unit | builder | tabula SQL | SQLite | SQL / builder (≤ {TARGET_BUILDER}) | SQL / SQLite (≤ {TARGET_SQLITE}) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let (mut met, mut targets) = (0, 0);
    for &(name, per) in OPS {
        let Some(times) = bench.times.get(name) else {
            continue;
        };
        let (scale, unit) = match per {
            Per::Lookup => (1e6 / lookups as f64, "µs per statement"),
            Per::Insert => (1e6 / INSERTS as f64, "µs per statement"),
            Per::Statement | Per::Aside => (1e3, "ms"),
        };
        let st: Vec<(f64, f64, f64)> = times.iter().map(|v| stats(v)).collect();
        let cell = |(m, lo, hi): (f64, f64, f64)| {
            format!(
                "{} ({}–{})",
                num(m * scale),
                num(lo * scale),
                num(hi * scale)
            )
        };
        let to_builder = st[1].0 / st[0].0;
        let to_sqlite = st[1].0 / st[2].0;
        let builder_target = matches!(per, Per::Statement).then_some(TARGET_BUILDER);
        let sqlite_target = (!matches!(per, Per::Aside)).then_some(TARGET_SQLITE);
        for (r, t) in [(to_builder, builder_target), (to_sqlite, sqlite_target)] {
            if let Some(t) = t {
                targets += 1;
                if r <= t {
                    met += 1;
                }
            }
        }
        println!(
            "| {name} | {unit} | {} | {} | {} | {} | {} |",
            cell(st[0]),
            cell(st[1]),
            cell(st[2]),
            ratio(to_builder, builder_target),
            ratio(to_sqlite, sqlite_target),
        );
    }
    println!("\ntargets met: {met} of {targets}");
}
