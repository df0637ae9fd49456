use tabula::{Database, Table, Value};
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students")]
pub struct Student {
    #[column(primary_key)]
    pub id: u64,
    pub name: String,
    #[column(unique)]
    pub email: String,
    pub gpa: f64,
    #[column(index)]
    pub year: u32,
}
fn st(i: u64) -> Student {
    Student {
        id: i,
        name: format!("Student {i}"),
        email: format!("s{i}@uni.edu"),
        gpa: (i % 400) as f64 / 100.0,
        year: 2015 + (i % 10) as u32,
    }
}
fn main() {
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mode = std::env::args().nth(1).unwrap_or_default();
    let reps: u64 = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let db = Database::in_memory();
    let t = db.table::<Student>().unwrap();
    t.insert_many((1..=n).map(st).collect::<Vec<_>>()).unwrap();
    let mut next = n + 1;
    let start = std::time::Instant::now();
    let mut count = 0u64;
    for _ in 0..reps {
        match mode.as_str() {
            "sql" => {
                let p = db
                    .prepare(
                        "INSERT INTO students (id, name, email, gpa, year) VALUES (?, ?, ?, ?, ?)",
                    )
                    .unwrap();
                for _ in 0..10_000 {
                    let s = st(next);
                    next += 1;
                    p.run(&[
                        Value::Int(s.id as i64),
                        Value::Text(s.name),
                        Value::Text(s.email),
                        Value::Float(s.gpa),
                        Value::Int(s.year as i64),
                    ])
                    .unwrap();
                    count += 1;
                }
            }
            _ => {
                for _ in 0..10_000 {
                    t.insert(st(next)).unwrap();
                    next += 1;
                    count += 1;
                }
            }
        }
    }
    let el = start.elapsed();
    eprintln!(
        "{mode}: {:.3} µs per insert",
        el.as_secs_f64() * 1e6 / count as f64
    );
}
