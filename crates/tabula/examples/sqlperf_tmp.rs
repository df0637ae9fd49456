use std::time::Instant;
use tabula::{Database, Table, Value};

#[derive(Table, Debug, Clone)]
#[table(name = "students")]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(unique)]
    email: String,
    gpa: f64,
    #[column(index)]
    year: u32,
}

fn main() {
    let n = 200_000u64;
    let db = Database::in_memory();
    let t = db.table::<Student>().unwrap();
    let mut x = 12345u64;
    let rows: Vec<Student> = (1..=n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            Student {
                id: i,
                name: format!("Student {i}"),
                email: format!("s{i}@uni.edu"),
                gpa: ((x >> 33) % 4000) as f64 / 1000.0,
                year: 2015 + (i % 10) as u32,
            }
        })
        .collect();
    t.insert_many(rows).unwrap();
    let time = |label: &str, f: &mut dyn FnMut() -> usize| {
        let mut v = Vec::new();
        let mut out = 0;
        for _ in 0..5 {
            let t0 = Instant::now();
            out = f();
            v.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        v.sort_by(f64::total_cmp);
        println!(
            "{label:28} {:9.3} ms  ({:.3}-{:.3})  -> {out}",
            v[2], v[0], v[4]
        );
    };
    if std::env::var("ONLY_PK").is_ok() {
        for i in 0..300_000u64 {
            db.sql_with(
                "SELECT id, name, email, gpa, year FROM students WHERE id = ?",
                &[Value::Int((1 + (i * 7919) % n) as i64)],
            )
            .unwrap();
        }
        return;
    }
    if std::env::var("ONLY_TOP").is_ok() {
        for _ in 0..100 {
            db.sql("SELECT id FROM students ORDER BY gpa DESC, id ASC LIMIT 10")
                .unwrap();
        }
        return;
    }
    time("builder scan_filter", &mut || {
        t.select().filter(|s| s.gpa > 3.5).all().unwrap().len()
    });
    time("sql scan_filter", &mut || {
        db.sql("SELECT id, name, email, gpa, year FROM students WHERE gpa > 3.5")
            .unwrap()
            .rows
            .len()
    });
    time("builder top10", &mut || {
        t.select().order_by("-gpa").limit(10).all().unwrap().len()
    });
    time("sql top10", &mut || {
        db.sql("SELECT id FROM students ORDER BY gpa DESC, id ASC LIMIT 10")
            .unwrap()
            .rows
            .len()
    });
    time("builder range", &mut || {
        t.select()
            .where_range("year", 2018u32..=2019u32)
            .all()
            .unwrap()
            .len()
    });
    time("sql range", &mut || {
        db.sql("SELECT id, name, email, gpa, year FROM students WHERE year BETWEEN 2018 AND 2019")
            .unwrap()
            .rows
            .len()
    });
    time("sql group", &mut || {
        db.sql("SELECT year, count(*), avg(gpa) FROM students GROUP BY year ORDER BY year")
            .unwrap()
            .rows
            .len()
    });
    time("builder get_pk x10k", &mut || {
        let mut c = 0;
        for i in 0..10_000u64 {
            if t.get(1 + (i * 7919) % n).unwrap().is_some() {
                c += 1
            }
        }
        c
    });
    time("sql get_pk x10k", &mut || {
        let mut c = 0;
        for i in 0..10_000u64 {
            c += db
                .sql_with(
                    "SELECT id, name, email, gpa, year FROM students WHERE id = ?",
                    &[Value::Int((1 + (i * 7919) % n) as i64)],
                )
                .unwrap()
                .rows
                .len()
        }
        c
    });
    time("sql get_unique x10k", &mut || {
        let mut c = 0;
        for i in 0..10_000u64 {
            c += db
                .sql_with(
                    "SELECT id, name, email, gpa, year FROM students WHERE email = ?",
                    &[Value::from(format!("s{}@uni.edu", 1 + (i * 7919) % n))],
                )
                .unwrap()
                .rows
                .len()
        }
        c
    });
}
