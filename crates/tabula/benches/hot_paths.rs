//! Micro-benchmarks of tabula's hot paths, so that regressions show. `.ci/run` builds them
//! (`cargo bench --no-run`) but never times them; run `cargo bench -p tabula` to time them.
//! Side-by-side figures against SQLite, redb and native_db come from `tabula-bench`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tabula::{Database, Table, TableHandle};

#[derive(Table, Debug, Clone, PartialEq)]
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

const N: u64 = 50_000;

fn student(i: u64) -> Student {
    Student {
        id: i,
        name: format!("Student {i}"),
        email: format!("s{i}@uni.edu"),
        gpa: ((i * 7919) % 4000) as f64 / 1000.0,
        year: 2015 + (i % 10) as u32,
    }
}

fn table() -> (Database, TableHandle<Student>) {
    let db = Database::in_memory();
    let t = db.table::<Student>().expect("table");
    t.insert_many((1..=N).map(student)).expect("seed");
    (db, t)
}

fn benches(c: &mut Criterion) {
    c.bench_function("insert_many 50k", |b| {
        b.iter_batched(
            || (1..=N).map(student).collect::<Vec<_>>(),
            |rows| {
                let db = Database::in_memory();
                let t = db.table::<Student>().expect("table");
                t.insert_many(rows).expect("insert")
            },
            BatchSize::LargeInput,
        )
    });
    let (_db, t) = table();
    let mut k = 0u64;
    c.bench_function("get_with by key", |b| {
        b.iter(|| {
            k = k % N + 1;
            t.get_with(black_box(k), |s| s.year).expect("get")
        })
    });
    c.bench_function("get by key (clone)", |b| {
        b.iter(|| {
            k = k % N + 1;
            t.get(black_box(k)).expect("get")
        })
    });
    c.bench_function("1000 get_with in one read transaction", |b| {
        b.iter(|| {
            t.read(|r| {
                let mut sum = 0u64;
                for _ in 0..1000 {
                    k = (k + 7919) % N + 1;
                    sum += r
                        .get_with(black_box(k), |s| u64::from(s.year))?
                        .unwrap_or(0);
                }
                Ok(sum)
            })
            .expect("read")
        })
    });
    let emails: Vec<String> = (1..=N).map(|i| format!("s{i}@uni.edu")).collect();
    c.bench_function("get_by_with unique email", |b| {
        b.iter(|| {
            k = k % N + 1;
            t.get_by_with("email", emails[(k - 1) as usize].as_str(), |s| s.id)
                .expect("get_by")
        })
    });
    c.bench_function("1000 get_by_with email in one read transaction", |b| {
        b.iter(|| {
            t.read(|r| {
                let mut sum = 0u64;
                for _ in 0..1000 {
                    k = (k + 7919) % N + 1;
                    let email = emails[(k - 1) as usize].as_str();
                    sum += r
                        .get_by_with("email", black_box(email), |s| s.id)?
                        .unwrap_or(0);
                }
                Ok(sum)
            })
            .expect("read")
        })
    });
    c.bench_function("scan filter all (copies rows)", |b| {
        b.iter(|| t.select().filter(|s| s.gpa > 3.5).all().expect("all"))
    });
    c.bench_function("range year all (copies rows)", |b| {
        b.iter(|| {
            t.select()
                .where_range("year", 2018..=2019)
                .all()
                .expect("all")
        })
    });
    c.bench_function("scan filter count", |b| {
        b.iter(|| t.select().filter(|s| s.gpa > 3.5).count().expect("count"))
    });
    c.bench_function("top10 by gpa (heap)", |b| {
        b.iter(|| t.select().order_by("-gpa").limit(10).keys().expect("top"))
    });
    c.bench_function("range year via index", |b| {
        b.iter(|| {
            t.select()
                .where_range("year", 2018..=2019)
                .count()
                .expect("range")
        })
    });
    c.bench_function("update one row by key", |b| {
        b.iter(|| {
            k = k % N + 1;
            let key = k;
            t.update(move |s| s.id == key, |s| s.gpa += 0.0)
                .expect("update")
        })
    });
}

/// A checkpoint of 50k rows (encode, write, fsync) and loading them back.
fn durable(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).expect("open");
        let t = db.table::<Student>().expect("table");
        t.insert_many((1..=N).map(student)).expect("seed");
        let mut k = 0u64;
        c.bench_function("checkpoint 50k rows", |b| {
            b.iter(|| {
                k = k % N + 1;
                t.update(|s| s.id == k, |s| s.gpa += 0.0).expect("dirty");
                db.checkpoint().expect("checkpoint")
            })
        });
        db.close().expect("close");
    }
    c.bench_function("open and load 50k rows", |b| {
        b.iter(|| {
            let db = Database::open(&path).expect("open");
            let n = db
                .table::<Student>()
                .expect("table")
                .count()
                .expect("count");
            db.close().expect("close");
            n
        })
    });
}

criterion_group!(name = durable_paths; config = Criterion::default().sample_size(10); targets = durable);
criterion_group!(name = hot; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(hot, durable_paths);
