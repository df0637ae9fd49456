//! `tabula demo`: the seed's university database with sample data.

use std::path::Path;

use tabula::{Database, Table};

#[derive(Table, Debug, Clone)]
#[table(name = "students")]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(unique)]
    email: String,
    #[column(index)]
    year: u32,
    #[column(default = 0.0)]
    gpa: f64,
    advisor: Option<String>,
}

#[derive(Table, Debug, Clone)]
#[table(name = "courses")]
struct Course {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    code: String,
    title: String,
    #[column(default = 3)]
    credits: u8,
}

#[derive(Table, Debug, Clone)]
#[table(name = "registrations")]
struct Registration {
    #[column(primary_key)]
    id: u64,
    #[column(references = "students", on_delete = "cascade")]
    student_id: u64,
    #[column(references = "courses")]
    course_id: u64,
    grade: Option<f64>,
}

/// Creates the database at `dir` (which must not hold one already) and fills it.
pub fn create(dir: &Path) -> anyhow::Result<(usize, usize, usize)> {
    if dir.join("manifest.json").exists() || dir.join("wal").exists() {
        anyhow::bail!(
            "{} already holds a database; choose another directory",
            dir.display()
        );
    }
    let db = Database::open(dir)?;
    let students = [
        ("Alice Johnson", 2024, 3.8, Some("Dr. Turing")),
        ("Bob Smith", 2023, 3.2, Some("Dr. Hopper")),
        ("Carol White", 2024, 3.9, Some("Dr. Turing")),
        ("David Brown", 2022, 2.8, None),
        ("Eve Davis", 2023, 3.5, Some("Dr. Lovelace")),
        ("Frank Miller", 2025, 1.9, None),
        ("Grace Lee", 2025, 3.6, Some("Dr. Hopper")),
    ];
    let courses = [
        ("CS101", "Introduction to Programming", 4),
        ("CS201", "Data Structures", 4),
        ("MATH101", "Calculus I", 3),
        ("PHYS101", "Physics I", 4),
        ("ENG101", "English Composition", 3),
    ];
    let regs: [(u64, u64, Option<f64>); 12] = [
        (1, 1, Some(4.0)),
        (1, 2, Some(3.7)),
        (1, 3, Some(3.7)),
        (2, 1, Some(3.0)),
        (2, 3, Some(3.3)),
        (3, 1, Some(4.0)),
        (3, 2, Some(4.0)),
        (4, 5, Some(2.7)),
        (5, 1, Some(3.3)),
        (6, 3, None),
        (7, 1, None),
        (7, 4, None),
    ];
    db.transaction(|tx| {
        tx.table::<Student>()?.insert_many(students.iter().map(
            |&(name, year, gpa, advisor)| Student {
                id: 0,
                name: name.into(),
                email: format!("{}@university.edu", name.to_lowercase().replace(' ', ".")),
                year,
                gpa,
                advisor: advisor.map(Into::into),
            },
        ))?;
        tx.table::<Course>()?
            .insert_many(courses.iter().map(|&(code, title, credits)| Course {
                id: 0,
                code: code.into(),
                title: title.into(),
                credits,
            }))?;
        tx.table::<Registration>()?.insert_many(regs.iter().map(
            |&(student_id, course_id, grade)| Registration {
                id: 0,
                student_id,
                course_id,
                grade,
            },
        ))?;
        Ok(())
    })?;
    db.close()?;
    Ok((students.len(), courses.len(), regs.len()))
}

/// `tabula demo`: the database made, and what to try next.
pub fn run(dir: &Path, json: bool) -> anyhow::Result<()> {
    let (s, c, r) = create(dir)?;
    if json {
        // Paths as text: `json!` of a path that is not UTF-8 would panic.
        let v = serde_json::json!({"path": dir.to_string_lossy(), "students": s, "courses": c, "registrations": r});
        committed_outln!("{v}");
        return Ok(());
    }
    committed_outln!(
        "Created {} with {s} students, {c} courses and {r} registrations.",
        dir.display()
    );
    committed_outln!("\nTry next:");
    let d = dir.display();
    committed_outln!("  tabula tables {d}");
    committed_outln!("  tabula query {d} students --where \"gpa > 3.5\" --order-by -gpa");
    committed_outln!("  tabula query {d} registrations --where \"course_id = 1\" --explain");
    committed_outln!("  tabula stats {d}");
    committed_outln!("  tabula verify {d}");
    // The demo closed with a checkpoint, which archived the log: its records are in the
    // archived segment, and `wal/transaction.log` is empty.
    committed_outln!("  cat {d}/wal/transaction.*.log | cut -c1-120");
    Ok(())
}
