//! The seed's story: students, courses and registrations, with the queries a registrar asks,
//! kept durable in `./data/university` and read back after a reopen.
//!
//! Run it with `cargo run --release --example university`. Each run starts the story afresh.

use tabula::{Agg, Database, Table};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students")]
pub struct Student {
    #[column(primary_key)]
    pub id: u64,
    pub name: String,
    #[column(unique)]
    pub email: String,
    #[column(index)]
    pub year: u32,
    #[column(default = 0.0)]
    pub gpa: f64,
    pub advisor: Option<String>,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "courses")]
pub struct Course {
    #[column(primary_key)]
    pub id: u64,
    #[column(unique)]
    pub code: String,
    pub title: String,
    #[column(default = 3)]
    pub credits: u8,
    #[column(index)]
    pub department: String,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "registrations")]
pub struct Registration {
    #[column(primary_key)]
    pub id: u64,
    #[column(references = "students", on_delete = "cascade")]
    pub student_id: u64,
    #[column(references = "courses")]
    pub course_id: u64,
    pub semester: String,
    pub grade: Option<f64>,
}

fn student(name: &str, year: u32, gpa: f64, advisor: Option<&str>) -> Student {
    let email = format!("{}@university.edu", name.to_lowercase().replace(' ', "."));
    Student {
        id: 0,
        name: name.into(),
        email,
        year,
        gpa,
        advisor: advisor.map(Into::into),
    }
}

fn course(code: &str, title: &str, credits: u8, department: &str) -> Course {
    Course {
        id: 0,
        code: code.into(),
        title: title.into(),
        credits,
        department: department.into(),
    }
}

fn heading(title: &str) {
    println!("\n== {title}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::path::Path::new("data/university");
    if path.exists() {
        std::fs::remove_dir_all(path)?;
    }
    let db = Database::open(path)?;
    let students = db.table::<Student>()?;
    let courses = db.table::<Course>()?;
    let registrations = db.table::<Registration>()?;

    // Seed the data in one transaction: all of it, or none.
    db.transaction(|tx| {
        let s = tx.table::<Student>()?;
        s.insert_many([
            student("Alice Johnson", 2024, 3.8, Some("Dr. Turing")),
            student("Bob Smith", 2023, 3.2, Some("Dr. Hopper")),
            student("Carol White", 2024, 3.9, Some("Dr. Turing")),
            student("David Brown", 2022, 2.8, None),
            student("Eve Davis", 2023, 3.5, Some("Dr. Lovelace")),
            student("Frank Miller", 2025, 1.9, None),
            student("Grace Lee", 2025, 3.6, Some("Dr. Hopper")),
        ])?;
        let c = tx.table::<Course>()?;
        c.insert_many([
            course(
                "CS101",
                "Introduction to Programming",
                4,
                "Computer Science",
            ),
            course("CS201", "Data Structures", 4, "Computer Science"),
            course("MATH101", "Calculus I", 3, "Mathematics"),
            course("PHYS101", "Physics I", 4, "Physics"),
            course("ENG101", "English Composition", 3, "English"),
        ])?;
        let r = tx.table::<Registration>()?;
        let regs: [(u64, u64, Option<f64>); 14] = [
            (1, 1, Some(4.0)),
            (1, 2, Some(3.7)),
            (1, 3, Some(3.7)),
            (2, 1, Some(3.0)),
            (2, 3, Some(3.3)),
            (3, 1, Some(4.0)),
            (3, 2, Some(4.0)),
            (3, 4, Some(3.7)),
            (4, 5, Some(2.7)),
            (5, 1, Some(3.3)),
            (5, 5, Some(3.7)),
            (6, 3, None),
            (7, 1, None),
            (7, 4, None),
        ];
        r.insert_many(
            regs.into_iter()
                .map(|(student_id, course_id, grade)| Registration {
                    id: 0,
                    student_id,
                    course_id,
                    semester: "Fall 2025".into(),
                    grade,
                }),
        )?;
        Ok(())
    })?;
    println!(
        "Seeded {} students, {} courses and {} registrations.",
        students.count()?,
        courses.count()?,
        registrations.count()?
    );

    heading("1. All students (primary-key order)");
    for s in students.select().all()? {
        println!(
            "  #{} {:<14} {} year {} gpa {:.1}",
            s.id, s.name, s.email, s.year, s.gpa
        );
    }

    heading("2. Students with a GPA above 3.5 (closure filter)");
    for s in students.select().filter(|s| s.gpa > 3.5).all()? {
        println!("  {} ({:.1})", s.name, s.gpa);
    }

    heading("3. Top 3 students by GPA (bounded heap, no full sort)");
    let q = students.select().order_by("-gpa").limit(3);
    for (i, s) in q.all()?.iter().enumerate() {
        println!("  {}. {} {:.1}", i + 1, s.name, s.gpa);
    }
    println!(
        "  plan: {}",
        students.select().order_by("-gpa").limit(3).explain()?
    );

    heading("4. The class of 2024 (served by the index on year)");
    for s in students.select().where_eq("year", 2024).all()? {
        println!("  {}", s.name);
    }
    println!(
        "  plan: {}",
        students.select().where_eq("year", 2024).explain()?
    );

    heading("5. Students of 2023..=2024 with GPA in 3.0..=3.8, best first");
    let mid = students
        .select()
        .where_range("year", 2023..=2024)
        .where_range("gpa", 3.0..=3.8)
        .order_by("-gpa")
        .all()?;
    for s in mid {
        println!("  {} ({}, {:.1})", s.name, s.year, s.gpa);
    }

    heading("6. Find a student by email (unique index)");
    if let Some(s) = students.get_by("email", "carol.white@university.edu")? {
        println!("  {} is in year {}", s.name, s.year);
    }

    heading("7. Students without an advisor");
    for s in students
        .select()
        .where_eq("advisor", tabula::Value::Null)
        .all()?
    {
        println!("  {}", s.name);
    }

    heading("8. Counts");
    println!("  students: {}", students.count()?);
    println!(
        "  with GPA >= 3.5: {}",
        students.select().filter(|s| s.gpa >= 3.5).count()?
    );
    println!(
        "  Computer Science courses: {}",
        courses
            .select()
            .where_eq("department", "Computer Science")
            .count()?
    );

    heading("9. Alice's courses (a join along registrations.course_id)");
    if let Some(alice) = students.get_by("email", "alice.johnson@university.edu")? {
        let q = registrations
            .select()
            .where_eq("student_id", alice.id)
            .join::<Course>("course_id");
        for (r, c) in q.order_by("courses.code").all()? {
            let grade = r
                .grade
                .map_or("in progress".to_string(), |g| format!("{g:.1}"));
            println!("  {:<8} {:<28} {}", c.code, c.title, grade);
        }
    }

    heading("10. Students taking CS101, best GPA first (a join along student_id)");
    if let Some(cs101) = courses.get_by("code", "CS101")? {
        let q = || {
            registrations
                .select()
                .where_eq("course_id", cs101.id)
                .join::<Student>("student_id")
        };
        println!("  plan: {}", q().explain()?);
        for (_, s) in q().order_by("-students.gpa").all()? {
            println!("  {} ({:.1})", s.name, s.gpa);
        }
    }

    heading("10b. Students per course (group by registrations.course_id)");
    for (course_id, n) in registrations.select().group_by("course_id").count()? {
        let course = course_id
            .as_i64()
            .and_then(|id| courses.get(id).ok().flatten());
        println!(
            "  {:<8} {n}",
            course.map_or_else(|| course_id.to_string(), |c| c.code)
        );
    }

    heading("10c. Average GPA per year");
    for g in students
        .select()
        .group_by("year")
        .aggregate([Agg::avg("gpa"), Agg::max("gpa")])?
    {
        let avg = g.values[0].as_f64().unwrap_or(0.0);
        println!(
            "  {}: {} students, average {avg:.2}, best {}",
            g.key, g.count, g.values[1]
        );
    }

    heading("10d. Each student's courses (students joined to their registrations)");
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    let all_courses = courses.select().all()?;
    let code = |id: u64| {
        all_courses
            .iter()
            .find(|c| c.id == id)
            .map_or("?".into(), |c| c.code.clone())
    };
    students
        .select()
        .order_by("name")
        .join_on::<Registration>("id", "student_id")
        .for_each(|s, r| match lines.last_mut() {
            Some((name, codes)) if *name == s.name => codes.push(code(r.course_id)),
            _ => lines.push((s.name.clone(), vec![code(r.course_id)])),
        })?;
    for (name, codes) in lines {
        println!("  {:<14} {}", name, codes.join(", "));
    }

    heading("11. Page 2 of the student list by name, 3 per page");
    for s in students
        .select()
        .order_by("name")
        .limit(3)
        .offset(3)
        .all()?
    {
        println!("  {}", s.name);
    }

    heading("12. Update: Alice's GPA to 3.9; everyone in 2025 gets an advisor");
    let n = students.update(|s| s.name == "Alice Johnson", |s| s.gpa = 3.9)?;
    println!("  {n} row(s) changed");
    let n = students.update(
        |s| s.year == 2025 && s.advisor.is_none(),
        |s| s.advisor = Some("Dr. Knuth".into()),
    )?;
    println!("  {n} row(s) changed");

    heading("13. A constraint violation changes nothing");
    let dup = student("Alice Again", 2025, 3.0, None);
    let dup = Student {
        email: "alice.johnson@university.edu".into(),
        ..dup
    };
    match students.insert(dup) {
        Ok(_) => println!("  unexpectedly inserted"),
        Err(e) => println!("  refused: {e}"),
    }
    match students.update(
        |s| s.year == 2023,
        |s| s.email = "same@university.edu".into(),
    ) {
        Ok(_) => println!("  unexpectedly updated"),
        Err(e) => println!("  refused: {e}"),
    }
    println!("  still {} students", students.count()?);

    heading("14. Delete: students with a GPA below 2.0 (their registrations cascade)");
    let before = registrations.count()?;
    let removed = students.delete(|s| s.gpa < 2.0)?;
    println!(
        "  removed {removed} student(s) and {} registration(s)",
        before - registrations.count()?
    );
    match courses.delete(|c| c.code == "CS101") {
        Ok(_) => println!("  unexpectedly deleted CS101"),
        Err(e) => println!("  deleting CS101 is refused while students take it:\n    {e}"),
    }
    println!(
        "  {} students, {} registrations remain",
        students.count()?,
        registrations.count()?
    );

    heading("15. On disk: checkpoint, close, reopen");
    db.checkpoint()?;
    println!("{}", db.stats()?);
    db.close()?;
    let db = Database::open(path)?;
    let students = db.table::<Student>()?;
    let top = students.select().order_by("-gpa").first()?;
    println!(
        "\n  reopened {}: {} students; best is {}",
        path.display(),
        students.count()?,
        top.map_or_else(|| "nobody".to_string(), |s| s.name)
    );
    println!("  try: head -3 {}/data/students.records", path.display());
    db.close()?;
    Ok(())
}
