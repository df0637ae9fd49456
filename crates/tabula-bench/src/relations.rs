//! The relations workload (issue: relations and aggregation): a join of 200k registrations
//! with 20k students and 500 courses, and a group-by over 1M rows; tabula against SQLite
//! running the same SQL, in one process, medians of several runs, results checked equal.

use std::time::Instant;

use rusqlite::{params, Connection};
use tabula::{Agg, Database, Table};

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

const STUDENTS: u64 = 20_000;
const COURSES: u64 = 500;
const REGISTRATIONS: u64 = 200_000;
const GROUP_ROWS: u64 = 1_000_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs both workloads `runs` times on both systems and prints a markdown table.
pub fn run(runs: usize) -> Res<bool> {
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
    let big: Vec<Student> = (1..=GROUP_ROWS)
        .map(|i| Student {
            id: i,
            name: String::new(),
            year: 2015 + rng.below(10) as u32,
            gpa: (rng.unit() * 4000.0).round() / 1000.0,
        })
        .collect();

    // tabula
    let db = Database::in_memory();
    let ts = db.table::<Student>()?;
    let tc = db.table::<Course>()?;
    let tr = db.table::<Registration>()?;
    ts.insert_many(students.clone())?;
    tc.insert_many(courses.clone())?;
    tr.insert_many(regs.clone())?;
    let gdb = Database::in_memory();
    let gs = gdb.table::<Student>()?;
    gs.insert_many(big.clone())?;

    // SQLite
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
        for s in &students {
            tx.execute(
                "INSERT INTO students VALUES (?1, ?2, ?3, ?4)",
                params![s.id as i64, s.name, s.year, s.gpa],
            )?;
        }
        for c in &courses {
            tx.execute(
                "INSERT INTO courses VALUES (?1, ?2)",
                params![c.id as i64, c.credits],
            )?;
        }
        for r in &regs {
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
        for s in &big {
            tx.execute(
                "INSERT INTO big VALUES (?1, ?2, ?3)",
                params![s.id as i64, s.year, s.gpa],
            )?;
        }
        tx.commit()?;
    }

    let mut t_join = (Vec::new(), Vec::new());
    let mut t_group = (Vec::new(), Vec::new());
    let mut ok = true;
    for _ in 0..runs {
        // Join: registrations of students from 2020 on, with their course's credits.
        let t0 = Instant::now();
        let mut course_ids = Vec::new();
        let mut grade_sum = 0.0;
        tr.select()
            .join::<Student>("student_id")
            .filter_right(|s| s.year >= 2020)
            .for_each(|r, _| {
                course_ids.push(r.course_id);
                grade_sum += r.grade;
            })?;
        let mut credits = 0i64;
        for id in &course_ids {
            credits += tc.get_with(*id, |c| i64::from(c.credits))?.unwrap_or(0);
        }
        let ours = (
            course_ids.len() as i64,
            credits,
            (grade_sum * 10.0).round() as i64,
        );
        t_join.0.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let theirs: (i64, i64, f64) = conn.query_row(
            "SELECT count(*), sum(c.credits), sum(r.grade) FROM registrations r
             JOIN students s ON s.id = r.student_id JOIN courses c ON c.id = r.course_id
             WHERE s.year >= 2020",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        t_join.1.push(t0.elapsed().as_secs_f64());
        let theirs = (theirs.0, theirs.1, (theirs.2 * 10.0).round() as i64);
        if ours != theirs {
            eprintln!("MISMATCH in join: tabula {ours:?}, sqlite {theirs:?}");
            ok = false;
        }

        // Group-by over 1M rows: count and mean gpa per year.
        let t0 = Instant::now();
        let groups = gs
            .select()
            .group_by("year")
            .aggregate([Agg::count(), Agg::avg("gpa")])?;
        t_group.0.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let mut st = conn.prepare_cached(
            "SELECT year, count(*), avg(gpa) FROM big GROUP BY year ORDER BY year",
        )?;
        let sql: Vec<(i64, i64, f64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        t_group.1.push(t0.elapsed().as_secs_f64());
        let same = groups.len() == sql.len()
            && groups.iter().zip(&sql).all(|(g, s)| {
                g.key.as_i64() == Some(s.0)
                    && g.values[0].as_i64() == Some(s.1)
                    && g.values[1].as_f64().is_some_and(|a| (a - s.2).abs() < 1e-9)
            });
        if !same {
            eprintln!("MISMATCH in group_by");
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
