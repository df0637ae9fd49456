//! Composite unique constraints and indexes, and checks: on every write path (typed, dynamic,
//! updates, upserts, import, inside transactions), over reopen, in the schema file, in
//! `verify`, and served by the planner.

use tabula::{row, Access, Column, ColumnType, Database, Error, Schema, Table, Value};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    name = "enrollments",
    unique(student, course),
    index(course, grade),
    check = "first_year <= last_year"
)]
pub struct Enrollment {
    #[column(primary_key)]
    pub id: u64,
    pub student: u64,
    pub course: u64,
    pub grade: Option<f64>,
    #[column(check = "credits BETWEEN 1 AND 10")]
    pub credits: u8,
    pub first_year: u32,
    pub last_year: u32,
}

fn enrollment(student: u64, course: u64, grade: Option<f64>) -> Enrollment {
    Enrollment {
        id: 0,
        student,
        course,
        grade,
        credits: 3,
        first_year: 2024,
        last_year: 2025,
    }
}

fn is_check(e: &Error, text: &str, want_key: Value) -> bool {
    matches!(e, Error::Check { table, constraint, key, .. }
        if table == "enrollments" && constraint == text && *key == want_key)
}

#[test]
fn a_student_registers_for_a_course_once() {
    let db = Database::in_memory();
    let t = db.table::<Enrollment>().unwrap();
    t.insert(enrollment(1, 10, None)).unwrap();
    t.insert(enrollment(1, 11, None)).unwrap();
    t.insert(enrollment(2, 10, None)).unwrap();
    let e = t.insert(enrollment(1, 10, Some(3.0))).unwrap_err();
    match &e {
        Error::UniqueViolation {
            table,
            column,
            value,
        } => {
            assert_eq!(
                (table.as_str(), column.as_str()),
                ("enrollments", "(student, course)")
            );
            assert_eq!(*value, Value::from("(1, 10)"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        e.to_string(),
        "unique constraint enrollments.(student, course) violated by (1, 10)"
    );
    assert_eq!(t.count().unwrap(), 3);
    // The refused insert used no key.
    assert_eq!(t.insert(enrollment(3, 10, None)).unwrap(), 4);
    // An update onto an existing pair is refused; one that keeps its pair is not.
    let e = t.update(|r| r.id == 2, |r| r.course = 10).unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    assert_eq!(t.get(2u64).unwrap().unwrap().course, 11);
    t.update(|r| r.id == 2, |r| r.grade = Some(4.0)).unwrap();
    // Moving a pair frees it.
    t.update(|r| r.id == 2, |r| r.course = 12).unwrap();
    t.insert(enrollment(1, 11, None)).unwrap();
    // Upsert goes through the same checks.
    let mut dup = t.get(4u64).unwrap().unwrap();
    dup.student = 2;
    let e = t.upsert(dup).unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    // Deleting a row frees its pair.
    t.delete_key(1u64).unwrap();
    t.insert(enrollment(1, 10, None)).unwrap();
}

#[test]
fn a_null_in_a_composite_unique_key_collides_with_nothing() {
    let db = Database::in_memory();
    let schema = Schema::new(
        "seats",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("room", ColumnType::Text),
            Column::new("seat", ColumnType::U32).nullable(),
        ],
    )
    .unwrap()
    .with_unique(&["room", "seat"])
    .unwrap();
    let t = db.create_table(schema).unwrap();
    t.insert(row! { "room" => "A", "seat" => Value::Null })
        .unwrap();
    t.insert(row! { "room" => "A", "seat" => Value::Null })
        .unwrap();
    t.insert(row! { "room" => "A", "seat" => 1 }).unwrap();
    let e = t.insert(row! { "room" => "A", "seat" => 1 }).unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    assert_eq!(t.count().unwrap(), 3);
}

#[test]
fn a_check_is_violated_only_when_false() {
    let db = Database::in_memory();
    let t = db.table::<Enrollment>().unwrap();
    let mut bad = enrollment(1, 10, None);
    bad.credits = 11;
    let e = t.insert(bad.clone()).unwrap_err();
    assert!(is_check(&e, "credits BETWEEN 1 AND 10", Value::Null), "{e}");
    assert_eq!(
        e.to_string(),
        "check \"credits BETWEEN 1 AND 10\" on table enrollments is false for a new row: \
         credits = 11"
    );
    bad.credits = 3;
    bad.first_year = 2026;
    let e = t.insert(bad.clone()).unwrap_err();
    assert!(is_check(&e, "first_year <= last_year", Value::Null), "{e}");
    // With a key given, the error names it; a table check names every column it reads.
    bad.id = 77;
    let e = t.insert(bad).unwrap_err();
    assert!(
        is_check(&e, "first_year <= last_year", Value::Int(77)),
        "{e}"
    );
    assert!(
        e.to_string()
            .ends_with("the row with key 77: first_year = 2026, last_year = 2025"),
        "{e}"
    );
    assert_eq!(t.count().unwrap(), 0);
    // The refused inserts used no key.
    assert_eq!(t.insert(enrollment(1, 10, None)).unwrap(), 1);
    // Updates: a violation changes nothing.
    let e = t.update(|_| true, |r| r.credits = 0).unwrap_err();
    assert!(
        is_check(&e, "credits BETWEEN 1 AND 10", Value::Int(1)),
        "{e}"
    );
    assert_eq!(t.get(1u64).unwrap().unwrap().credits, 3);
    let mut up = t.get(1u64).unwrap().unwrap();
    up.last_year = 2000;
    let e = t.upsert(up).unwrap_err();
    assert!(
        is_check(&e, "first_year <= last_year", Value::Int(1)),
        "{e}"
    );
    // In a transaction, the failed statement changes nothing and the rest commits.
    db.transaction(|tx| {
        let e = tx.table::<Enrollment>()?;
        let mut r = enrollment(2, 10, None);
        r.credits = 99;
        assert!(matches!(e.insert(r), Err(Error::Check { .. })));
        e.insert(enrollment(2, 10, None))?;
        Ok(())
    })
    .unwrap();
    assert_eq!(t.count().unwrap(), 2);
}

/// A check on an auto-increment key sees the key the new row would have had, shown with
/// the values; the row is named as new, with nothing saying its key was not assigned.
#[test]
fn a_check_on_an_assigned_key_shows_the_key_it_would_have_had() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE k (id INTEGER PRIMARY KEY CHECK (id < 3), v INTEGER); \
         INSERT INTO k (v) VALUES (1), (2)",
    )
    .unwrap();
    let e = db.sql("INSERT INTO k (v) VALUES (3)").unwrap_err();
    assert!(
        matches!(&e, Error::Check { table, constraint, key, .. }
            if table == "k" && constraint == "id < 3" && key.is_null()),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "check \"id < 3\" on table k is false for a new row: id = 3"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM k").unwrap().rows,
        [[Value::Int(2)]]
    );
}

/// A unique constraint over the same columns as another, in another order, is the same
/// constraint: `CREATE UNIQUE INDEX` finds it there and builds nothing. A table that
/// declares both (SQL's `CREATE TABLE`, an import or a dump of one stored so) is taken as
/// it is, and a dump of it loads back (the derive and the Python decorator, which declare
/// schemas in code, refuse the pair).
#[test]
fn a_unique_constraint_in_another_order_is_the_same_one() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, dept TEXT, UNIQUE (name, dept))")
        .unwrap();
    db.sql("CREATE UNIQUE INDEX again ON p (dept, name)")
        .unwrap();
    assert_eq!(
        db.dyn_table("p").unwrap().schema().unique,
        [["name".to_string(), "dept".to_string()]]
    );
    db.sql(
        "CREATE TABLE q (id INTEGER PRIMARY KEY, a TEXT, b TEXT, UNIQUE (a, b), UNIQUE (b, a)); \
         INSERT INTO q (a, b) VALUES ('x', 'y')",
    )
    .unwrap();
    let e = db
        .sql("INSERT INTO q (a, b) VALUES ('x', 'y')")
        .unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    let mut dump = Vec::new();
    db.dump_sql(tabula::Dialect::Sqlite, &mut dump).unwrap();
    let again = Database::in_memory();
    again.sql(&String::from_utf8(dump).unwrap()).unwrap();
    assert_eq!(
        again.sql("SELECT a, b FROM q").unwrap().rows,
        [[Value::from("x"), Value::from("y")]]
    );
}

#[test]
fn a_check_that_is_null_passes() {
    let db = Database::in_memory();
    let schema = Schema::new(
        "grades",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("gpa", ColumnType::F64)
                .nullable()
                .checked("gpa BETWEEN 0 AND 4"),
        ],
    )
    .unwrap();
    let t = db.create_table(schema).unwrap();
    t.insert(row! { "gpa" => Value::Null }).unwrap();
    t.insert(row! { "gpa" => 3.5 }).unwrap();
    let e = t.insert(row! { "gpa" => 4.5 }).unwrap_err();
    assert!(
        matches!(&e, Error::Check { table, constraint, key: Value::Null, values }
            if table == "grades" && constraint == "gpa BETWEEN 0 AND 4"
                && *values == [("gpa".to_string(), Value::Float(4.5))]),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "check \"gpa BETWEEN 0 AND 4\" on table grades is false for a new row: gpa = 4.5"
    );
    // The dynamic update path checks too, naming the row and the value.
    let e = t
        .update(
            |r| r.get("id") == Some(&Value::Int(2)),
            |r| r.set("gpa", -1.0),
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Check { key: Value::Int(2), values, .. }
            if *values == [("gpa".to_string(), Value::Float(-1.0))]),
        "{e}"
    );
    assert_eq!(t.count().unwrap(), 2);
}

#[derive(Table, Debug, Clone)]
#[table(name = "broken", check = "amount >> 3")]
struct Broken {
    #[column(primary_key)]
    id: u64,
    amount: i64,
}

#[derive(Table, Debug, Clone)]
#[table(name = "unknown_col")]
struct UnknownCol {
    #[column(primary_key)]
    id: u64,
    #[column(check = "amount > 0")]
    total: i64,
}

#[test]
fn an_invalid_check_is_reported_by_the_first_table_call() {
    let db = Database::in_memory();
    let e = db.table::<Broken>().unwrap_err();
    match &e {
        Error::InvalidExpression { expression, reason } => {
            assert_eq!(expression, "amount >> 3");
            assert!(reason.contains("check on table broken"), "{reason}");
            assert!(reason.contains("Line: 1, Column: 1"), "{reason}");
        }
        other => panic!("{other}"),
    }
    // A column the table lacks is the check's fault, and the error says which check.
    let e = db.table::<UnknownCol>().unwrap_err();
    match &e {
        Error::InvalidExpression { expression, reason } => {
            assert_eq!(expression, "amount > 0");
            assert_eq!(
                reason,
                "in the check on unknown_col.total: table unknown_col has no column \"amount\""
            );
        }
        other => panic!("{other}"),
    }
    assert!(db.table_names().unwrap().is_empty());
    // So does the dry run.
    assert!(matches!(
        db.migration_plan::<Broken>(),
        Err(Error::InvalidExpression { .. })
    ));
}

#[test]
fn constraints_live_in_the_schema_file_and_hold_after_reopen_without_the_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let t = db.table::<Enrollment>().unwrap();
        t.insert(enrollment(1, 10, Some(3.0))).unwrap();
        db.checkpoint().unwrap();
        t.insert(enrollment(2, 10, None)).unwrap();
    }
    let file = std::fs::read_to_string(path.join("schema/enrollments.schema.json")).unwrap();
    assert!(file.contains("\"unique\""), "{file}");
    assert!(file.contains("\"checks\""), "{file}");
    assert!(file.contains("credits BETWEEN 1 AND 10"), "{file}");
    let db = Database::open(&path).unwrap();
    let schema = db.schema("enrollments").unwrap();
    assert_eq!(schema.unique, [["student", "course"]]);
    assert_eq!(schema.index, [["course", "grade"]]);
    assert_eq!(schema.checks, ["first_year <= last_year"]);
    // Without the Rust type: the dynamic API enforces them all.
    let t = db.dyn_table("enrollments").unwrap();
    let base = || {
        row! { "student" => 1, "course" => 10, "credits" => 3,
        "first_year" => 2024, "last_year" => 2025 }
    };
    let e = t.insert(base()).unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    let mut r = base();
    r.set("student", 5);
    r.set("credits", 0);
    let e = t.insert(r).unwrap_err();
    assert!(is_check(&e, "credits BETWEEN 1 AND 10", Value::Null), "{e}");
    let mut r = base();
    r.set("student", 5);
    r.set("last_year", 1999);
    let e = t.insert(r).unwrap_err();
    assert!(is_check(&e, "first_year <= last_year", Value::Null), "{e}");
    assert_eq!(t.count().unwrap(), 2);
    drop(t);
    db.close().unwrap();
    // A read-only open sees the same schema.
    let ro = Database::open_read_only(&path).unwrap();
    assert_eq!(ro.schema("enrollments").unwrap().unique.len(), 1);
    drop(ro);
    assert!(tabula::verify(&path).unwrap().is_empty());
}

#[test]
fn import_is_checked_and_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("e.json");
    {
        let db = Database::in_memory();
        let t = db.table::<Enrollment>().unwrap();
        t.insert(enrollment(1, 10, None)).unwrap();
        t.insert(enrollment(1, 11, None)).unwrap();
        db.export_json(&export).unwrap();
    }
    // A document whose rows break the composite unique key, or a check, imports nothing.
    let text = std::fs::read_to_string(&export).unwrap();
    for (from, to, want) in [
        ("\"course\":11", "\"course\":10", "unique"),
        ("\"credits\":3", "\"credits\":30", "check"),
    ] {
        let bad = dir.path().join(format!("{want}.json"));
        assert!(text.contains(from), "{text}");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let db = Database::in_memory();
        let e = db.import_json(&bad).unwrap_err();
        match want {
            "unique" => assert!(matches!(e, Error::UniqueViolation { .. }), "{e}"),
            _ => assert!(matches!(e, Error::Check { .. }), "{e}"),
        }
        assert!(db.table_names().unwrap().is_empty());
    }
    let db = Database::in_memory();
    db.import_json(&export).unwrap();
    assert_eq!(db.table::<Enrollment>().unwrap().count().unwrap(), 2);
}

#[test]
fn the_planner_serves_a_prefix_and_a_range_from_a_composite_index() {
    let db = Database::in_memory();
    let t = db.table::<Enrollment>().unwrap();
    let mut rows = Vec::new();
    for student in 0..40u64 {
        for course in 0..5u64 {
            let grade = match (student + course) % 5 {
                0 => None,
                g => Some(g as f64),
            };
            rows.push(enrollment(student, course, grade));
        }
    }
    t.insert_many(rows.clone()).unwrap();
    let want = |f: &dyn Fn(&Enrollment) -> bool| -> Vec<u64> {
        let mut v: Vec<u64> = t
            .select()
            .filter(|r| f(r))
            .all()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        v.sort();
        v
    };
    let q = || {
        t.select()
            .where_eq("course", 3)
            .where_range("grade", 2.0..4.0)
    };
    let plan = q().explain().unwrap();
    assert_eq!(
        plan.access,
        Access::CompositeRange {
            columns: vec!["course".into(), "grade".into()],
            equal: 1,
            range: true
        }
    );
    assert_eq!(
        plan.to_string(),
        "enrollments: composite index (course, grade): equality on course, range on grade, sort"
    );
    let got: Vec<u64> = q().all().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(
        got,
        want(&|r| r.course == 3 && r.grade.is_some_and(|g| (2.0..4.0).contains(&g)))
    );
    // Equality on the prefix alone; both columns equal; a range below (nulls never match).
    let got: Vec<u64> = t
        .select()
        .where_eq("course", 2)
        .where_eq("grade", 1.0)
        .keys()
        .unwrap();
    assert_eq!(got, want(&|r| r.course == 2 && r.grade == Some(1.0)));
    let got: Vec<u64> = t
        .select()
        .where_eq("course", 2)
        .where_range("grade", ..3.0)
        .keys()
        .unwrap();
    assert_eq!(
        got,
        want(&|r| r.course == 2 && r.grade.is_some_and(|g| g < 3.0))
    );
    // The composite unique key serves equality on both its columns.
    let q = || t.select().where_eq("student", 7).where_eq("course", 4);
    assert_eq!(
        q().explain().unwrap().access,
        Access::CompositeUnique {
            columns: vec!["student".into(), "course".into()]
        }
    );
    assert_eq!(
        q().keys().unwrap(),
        want(&|r| r.student == 7 && r.course == 4)
    );
    // A range on a column of the key beside its equality: the equality is the one used.
    let got = t
        .select()
        .where_range("student", 0..100u64)
        .where_eq("student", 7)
        .where_eq("course", 4)
        .keys()
        .unwrap();
    assert_eq!(got, want(&|r| r.student == 7 && r.course == 4));
    // A SQL condition is served the same way.
    let q = || t.select().where_sql("course = 1 AND grade >= 3");
    let plan = q().explain().unwrap();
    assert!(
        matches!(
            plan.access,
            Access::CompositeRange {
                equal: 1,
                range: true,
                ..
            }
        ),
        "{plan}"
    );
    assert_eq!(
        q().keys().unwrap(),
        want(&|r| r.course == 1 && r.grade.is_some_and(|g| g >= 3.0))
    );
    // After updates and deletes the index still agrees with a scan.
    t.update(|r| r.student % 3 == 0, |r| r.grade = Some(2.5))
        .unwrap();
    t.delete(|r| r.student % 7 == 0).unwrap();
    for course in 0..5u64 {
        let got = t
            .select()
            .where_eq("course", course)
            .where_range("grade", 2.0..=3.0)
            .keys()
            .unwrap();
        assert_eq!(
            got,
            want(&|r| r.course == course && r.grade.is_some_and(|g| (2.0..=3.0).contains(&g))),
            "course {course}"
        );
    }
}

/// A stored row that breaks a composite key is reported (the table cannot hold both); one
/// that breaks a check is not: checks are judged when a row is written, never again (see
/// docs/SCHEMA.md, "Where they are enforced").
#[test]
fn verify_reports_stored_rows_that_break_a_composite_key_but_not_a_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let t = db.table::<Enrollment>().unwrap();
        t.insert(enrollment(1, 10, None)).unwrap();
        t.insert(enrollment(1, 11, None)).unwrap();
        t.insert(enrollment(2, 11, None)).unwrap();
        db.close().unwrap();
    }
    // Damage the snapshot by hand: a duplicate pair and a check-breaking value (with the
    // archived segments pruned: with them, repair would rebuild the file from them).
    crate::common::remove_archived_segments(&path);
    let records = path.join("data/enrollments.records");
    let text = std::fs::read_to_string(&records).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replace("\"course\":11", "\"course\":10");
    lines[2] = lines[2].replace("\"credits\":3", "\"credits\":42");
    std::fs::write(&records, lines.join("\n") + "\n").unwrap();
    let problems = tabula::verify(&path).unwrap();
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        shown.iter().any(|p| p.contains("(student, course)")),
        "{shown:#?}"
    );
    assert!(
        !shown.iter().any(|p| p.contains("credits BETWEEN 1 AND 10")),
        "{shown:#?}"
    );
}

/// A schema file whose check does not compile, or whose composite list names a column the
/// table lacks, does not open: `verify` names each such constraint, and `repair` removes
/// those alone, keeping the table, its rows and its valid constraints.
#[test]
fn repair_removes_only_the_invalid_constraints_of_a_damaged_schema_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let t = db.table::<Enrollment>().unwrap();
        t.insert(enrollment(1, 10, None)).unwrap();
        t.insert(enrollment(2, 10, None)).unwrap();
        db.close().unwrap();
    }
    let file = path.join("schema/enrollments.schema.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["checks"]
        .as_array_mut()
        .unwrap()
        .push("first_year >".into());
    v["unique"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(["student", "ghost"]));
    std::fs::write(&file, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    assert!(matches!(Database::open(&path), Err(Error::Corrupt { .. })));
    let shown: Vec<String> = tabula::verify(&path)
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let invalid: Vec<&String> = shown
        .iter()
        .filter(|p| p.contains("invalid constraint, which repair removes"))
        .collect();
    assert_eq!(invalid.len(), 2, "{shown:#?}");
    assert!(
        invalid.iter().any(|p| p.contains("first_year >")),
        "{shown:#?}"
    );
    assert!(invalid.iter().any(|p| p.contains("ghost")), "{shown:#?}");
    let backups = tempfile::tempdir().unwrap();
    tabula::repair(
        &path,
        tabula::RepairOptions {
            backup_dir: Some(backups.path().to_owned()),
        },
    )
    .unwrap();
    assert!(tabula::verify(&path).unwrap().is_empty());
    let db = Database::open(&path).unwrap();
    let schema = db.schema("enrollments").unwrap();
    assert_eq!(schema.unique, [["student", "course"]]);
    assert_eq!(schema.checks, ["first_year <= last_year"]);
    let t = db.table::<Enrollment>().unwrap();
    assert_eq!(t.count().unwrap(), 2);
}
