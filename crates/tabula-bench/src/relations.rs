//! The relations workload (issue: relations and aggregation): a join of 200k registrations
//! with 20k students and 500 courses, and a group-by over 1M rows; tabula against SQLite
//! running the same SQL, in one process, medians of several runs, results checked equal.

use std::time::Instant;

use rusqlite::{params, Connection};
use tabula::{Agg, Database, Table, TableHandle};

use crate::systems::Res;
use crate::workload::Rng;

#[derive(Table, Debug, Clone)]
#[table(name = "students")]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(index)]
    year: u32,
    gpa: f64,
}

#[derive(Table, Debug, Clone)]
#[table(name = "courses")]
struct Course {
    #[column(primary_key)]
    id: u64,
    credits: u8,
}

#[derive(Table, Debug, Clone)]
#[table(name = "registrations")]
struct Registration {
    #[column(primary_key)]
    id: u64,
    #[column(references = "students")]
    student_id: u64,
    #[column(references = "courses")]
    course_id: u64,
    grade: f64,
}

/// The group-by's table: the columns SQLite's `big` has, and the index on year the
/// builder's group-by has always had.
#[derive(Table, Debug, Clone)]
#[table(name = "big")]
struct Big {
    #[column(primary_key)]
    id: u64,
    #[column(index)]
    year: u32,
    gpa: f64,
}

const STUDENTS: u64 = 20_000;
const COURSES: u64 = 500;
const REGISTRATIONS: u64 = 200_000;
const GROUP_ROWS: u64 = 1_000_000;

/// The join, as SQL: what SQLite runs, and tabula's SQL in `--sql`.
pub const JOIN_SQL: &str = "SELECT count(*), sum(c.credits), sum(r.grade) FROM registrations r \
     JOIN students s ON s.id = r.student_id JOIN courses c ON c.id = r.course_id \
     WHERE s.year >= 2020";

/// The group-by, as SQL.
pub const GROUP_SQL: &str = "SELECT year, count(*), avg(gpa) FROM big GROUP BY year ORDER BY year";

/// The join's answer: the registrations matched, their credits, and their grades times 10
/// (rounded, so that sums in different orders agree).
pub type JoinCheck = (i64, i64, i64);

/// The group-by's answer: per year in order, the count and the mean gpa.
pub type Groups = Vec<(i64, i64, f64)>;

/// The generated rows, the same for every system.
pub struct Data {
    students: Vec<Student>,
    courses: Vec<Course>,
    regs: Vec<Registration>,
    big: Vec<Big>,
}

/// The rows, from one fixed seed.
pub fn data() -> Data {
    let mut rng = Rng::new(0x5eed);
    let students: Vec<Student> = (1..=STUDENTS)
        .map(|i| Student {
            id: i,
            name: format!("Student {i}"),
            year: 2015 + rng.below(10) as u32,
            gpa: (rng.unit() * 4000.0).round() / 1000.0,
        })
        .collect();
    let courses: Vec<Course> = (1..=COURSES)
        .map(|i| Course {
            id: i,
            credits: 1 + (i % 5) as u8,
        })
        .collect();
    let regs: Vec<Registration> = (1..=REGISTRATIONS)
        .map(|i| Registration {
            id: i,
            student_id: 1 + rng.below(STUDENTS),
            course_id: 1 + rng.below(COURSES),
            grade: (rng.unit() * 40.0).round() / 10.0,
        })
        .collect();
    let big: Vec<Big> = (1..=GROUP_ROWS)
        .map(|i| Big {
            id: i,
            year: 2015 + rng.below(10) as u32,
            gpa: (rng.unit() * 4000.0).round() / 1000.0,
        })
        .collect();
    Data {
        students,
        courses,
        regs,
        big,
    }
}

/// tabula in memory with the four tables loaded.
pub struct Tabula {
    pub db: Database,
    tc: TableHandle<Course>,
    tr: TableHandle<Registration>,
    tb: TableHandle<Big>,
}

pub fn load_tabula(d: &Data) -> Res<Tabula> {
    let db = Database::in_memory();
    let ts = db.table::<Student>()?;
    let tc = db.table::<Course>()?;
    let tr = db.table::<Registration>()?;
    let tb = db.table::<Big>()?;
    ts.insert_many(d.students.clone())?;
    tc.insert_many(d.courses.clone())?;
    tr.insert_many(d.regs.clone())?;
    tb.insert_many(d.big.clone())?;
    Ok(Tabula { db, tc, tr, tb })
}

/// SQLite in memory with the same tables, and indexes on the year and both foreign keys.
pub fn load_sqlite(d: &Data) -> Res<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE TABLE students (id INTEGER PRIMARY KEY, name TEXT NOT NULL, year INTEGER NOT NULL, gpa REAL NOT NULL);
         CREATE INDEX students_year ON students(year);
         CREATE TABLE courses (id INTEGER PRIMARY KEY, credits INTEGER NOT NULL);
         CREATE TABLE registrations (id INTEGER PRIMARY KEY, student_id INTEGER NOT NULL REFERENCES students(id),
             course_id INTEGER NOT NULL REFERENCES courses(id), grade REAL NOT NULL);
         CREATE INDEX registrations_student ON registrations(student_id);
         CREATE INDEX registrations_course ON registrations(course_id);
         CREATE TABLE big (id INTEGER PRIMARY KEY, year INTEGER NOT NULL, gpa REAL NOT NULL);",
    )?;
    {
        let tx = conn.unchecked_transaction()?;
        for s in &d.students {
            tx.execute(
                "INSERT INTO students VALUES (?1, ?2, ?3, ?4)",
                params![s.id as i64, s.name, s.year, s.gpa],
            )?;
        }
        for c in &d.courses {
            tx.execute(
                "INSERT INTO courses VALUES (?1, ?2)",
                params![c.id as i64, c.credits],
            )?;
        }
        for r in &d.regs {
            tx.execute(
                "INSERT INTO registrations VALUES (?1, ?2, ?3, ?4)",
                params![
                    r.id as i64,
                    r.student_id as i64,
                    r.course_id as i64,
                    r.grade
                ],
            )?;
        }
        for s in &d.big {
            tx.execute(
                "INSERT INTO big VALUES (?1, ?2, ?3)",
                params![s.id as i64, s.year, s.gpa],
            )?;
        }
        tx.commit()?;
    }
    Ok(conn)
}

/// The join through the builder API: registrations of students from 2020 on, with their
/// course's credits.
pub fn join_builder(t: &Tabula) -> Res<JoinCheck> {
    let mut course_ids = Vec::new();
    let mut grade_sum = 0.0;
    t.tr.select()
        .join::<Student>("student_id")
        .filter_right(|s| s.year >= 2020)
        .for_each(|r, _| {
            course_ids.push(r.course_id);
            grade_sum += r.grade;
        })?;
    let mut credits = 0i64;
    for id in &course_ids {
        credits += t.tc.get_with(*id, |c| i64::from(c.credits))?.unwrap_or(0);
    }
    Ok((
        course_ids.len() as i64,
        credits,
        (grade_sum * 10.0).round() as i64,
    ))
}

/// The join in SQLite (a prepared statement).
pub fn join_sqlite(conn: &Connection) -> Res<JoinCheck> {
    let mut st = conn.prepare_cached(JOIN_SQL)?;
    let (n, credits, grades): (i64, i64, f64) =
        st.query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok((n, credits, (grades * 10.0).round() as i64))
}

/// Count and mean gpa per year over 1M rows, through the builder API.
pub fn group_builder(t: &Tabula) -> Res<Groups> {
    let groups =
        t.tb.select()
            .group_by("year")
            .aggregate([Agg::count(), Agg::avg("gpa")])?;
    groups
        .iter()
        .map(
            |g| match (g.key.as_i64(), g.values[0].as_i64(), g.values[1].as_f64()) {
                (Some(y), Some(n), Some(avg)) => Ok((y, n, avg)),
                _ => Err(format!("unexpected group {g:?}").into()),
            },
        )
        .collect()
}

/// The group-by in SQLite (a prepared statement).
pub fn group_sqlite(conn: &Connection) -> Res<Groups> {
    let mut st = conn.prepare_cached(GROUP_SQL)?;
    let v = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Whether two group lists agree (means within 1e-9).
pub fn same_groups(a: &Groups, b: &Groups) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1 == y.1 && (x.2 - y.2).abs() < 1e-9)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs both workloads `runs` times on both systems and prints a markdown table.
pub fn run(runs: usize) -> Res<bool> {
    let d = data();
    let tabula = load_tabula(&d)?;
    let conn = load_sqlite(&d)?;
    drop(d);

    let mut t_join = (Vec::new(), Vec::new());
    let mut t_group = (Vec::new(), Vec::new());
    let mut ok = true;
    for _ in 0..runs {
        let t0 = Instant::now();
        let ours = join_builder(&tabula)?;
        t_join.0.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let theirs = join_sqlite(&conn)?;
        t_join.1.push(t0.elapsed().as_secs_f64());
        if ours != theirs {
            eprintln!("MISMATCH in join: tabula {ours:?}, sqlite {theirs:?}");
            ok = false;
        }

        let t0 = Instant::now();
        let ours = group_builder(&tabula)?;
        t_group.0.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let theirs = group_sqlite(&conn)?;
        t_group.1.push(t0.elapsed().as_secs_f64());
        if !same_groups(&ours, &theirs) {
            eprintln!("MISMATCH in group_by: tabula {ours:?}, sqlite {theirs:?}");
            ok = false;
        }
    }
    let (j0, j1) = (median(t_join.0), median(t_join.1));
    let (g0, g1) = (median(t_group.0), median(t_group.1));
    println!("\nrelations, median of {runs} run(s), in one process\n");
    println!("| op | tabula-mem | sqlite-mem | tabula / sqlite |");
    println!("|---|---:|---:|---:|");
    println!(
        "| join 200k registrations x 20k students x 500 courses | {:.1} ms | {:.1} ms | {:.3} |",
        j0 * 1e3,
        j1 * 1e3,
        j0 / j1
    );
    println!(
        "| group by year over 1M rows (count, avg) | {:.1} ms | {:.1} ms | {:.3} |",
        g0 * 1e3,
        g1 * 1e3,
        g0 / g1
    );
    if ok {
        eprintln!("tabula and SQLite agree on the join and the groups");
    }
    Ok(ok)
}
