//! Foreign keys, joins and aggregates.

use proptest::prelude::*;
use tabula::{row, Agg, Database, Error, JoinStrategy, Table, Value};

use crate::common::assert_foreign_key;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students")]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(index)]
    year: u32,
    gpa: f64,
    advisor: Option<String>,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "courses")]
struct Course {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    code: String,
    credits: u8,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "registrations")]
struct Registration {
    #[column(primary_key)]
    id: u64,
    #[column(references = "students")]
    student_id: u64,
    #[column(references = "courses", on_delete = "cascade")]
    course_id: u64,
    grade: Option<f64>,
}

fn school() -> Database {
    let db = Database::in_memory();
    let s = db.table::<Student>().unwrap();
    let c = db.table::<Course>().unwrap();
    let r = db.table::<Registration>().unwrap();
    for (name, year, gpa) in [("Ann", 2024, 3.9), ("Ben", 2023, 3.1), ("Cy", 2024, 2.5)] {
        s.insert(Student {
            id: 0,
            name: name.into(),
            year,
            gpa,
            advisor: None,
        })
        .unwrap();
    }
    for (code, credits) in [("CS1", 4), ("MA1", 3), ("PH1", 4)] {
        c.insert(Course {
            id: 0,
            code: code.into(),
            credits,
        })
        .unwrap();
    }
    for (student_id, course_id, grade) in [
        (1, 1, Some(4.0)),
        (1, 2, Some(3.7)),
        (2, 1, Some(3.0)),
        (3, 3, None),
    ] {
        r.insert(Registration {
            id: 0,
            student_id,
            course_id,
            grade,
        })
        .unwrap();
    }
    db
}

fn reg(student_id: u64, course_id: u64) -> Registration {
    Registration {
        id: 0,
        student_id,
        course_id,
        grade: None,
    }
}

#[test]
fn inserts_and_updates_need_an_existing_parent() {
    let db = school();
    let r = db.table::<Registration>().unwrap();
    let e = r.insert(reg(9, 1)).unwrap_err();
    match &e {
        Error::ForeignKey {
            table,
            column,
            references,
            value,
            ..
        } => {
            assert_eq!(
                (table.as_str(), column.as_str(), references.as_str()),
                ("registrations", "student_id", "students")
            );
            assert_eq!(*value, Value::Int(9));
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string()
            .contains("registrations.student_id -> students"),
        "{e}"
    );
    assert_eq!(r.count().unwrap(), 4);
    let e = r.update(|x| x.id == 1, |x| x.course_id = 77).unwrap_err();
    assert!(matches!(e, Error::ForeignKey { .. }), "{e}");
    assert_eq!(r.get(1u64).unwrap().unwrap().course_id, 1);
    // Dynamic rows are checked the same way.
    let d = db.dyn_table("registrations").unwrap();
    let e = d
        .insert(row! { "student_id" => 1, "course_id" => 99 })
        .unwrap_err();
    assert!(matches!(e, Error::ForeignKey { .. }), "{e}");
    assert_eq!(r.count().unwrap(), 4);
}

#[test]
fn a_row_and_its_parent_may_arrive_in_either_order_in_one_transaction() {
    let db = school();
    db.transaction(|tx| {
        tx.table::<Registration>()?.insert(Registration {
            id: 0,
            student_id: 10,
            course_id: 1,
            grade: None,
        })?;
        tx.table::<Student>()?.insert(Student {
            id: 10,
            name: "Dee".into(),
            year: 2025,
            gpa: 3.0,
            advisor: None,
        })?;
        Ok(())
    })
    .unwrap();
    assert_eq!(db.table::<Registration>().unwrap().count().unwrap(), 5);
}

#[test]
fn restrict_refuses_deleting_a_referenced_row_and_changes_nothing() {
    let db = school();
    let s = db.table::<Student>().unwrap();
    let e = s.delete_key(1u64).unwrap_err();
    assert!(matches!(e, Error::ForeignKey { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("2 row(s) of registrations still reference it"),
        "{e}"
    );
    assert_eq!(s.count().unwrap(), 3);
    // Deleting the dependents first, in the same transaction, is fine.
    db.transaction(|tx| {
        tx.table::<Student>()?.delete_key(1u64)?;
        tx.table::<Registration>()?.delete(|r| r.student_id == 1)?;
        Ok(())
    })
    .unwrap();
    assert_eq!(s.count().unwrap(), 2);
}

#[test]
fn cascade_deletes_dependents_in_the_same_commit() {
    let db = school();
    let c = db.table::<Course>().unwrap();
    let r = db.table::<Registration>().unwrap();
    assert!(c.delete_key(1u64).unwrap());
    assert_eq!(r.select().keys().unwrap(), vec![2, 4]);
    // A failing transaction rolls the cascade back too.
    let res: Result<(), Error> = db.transaction(|tx| {
        tx.table::<Course>()?.delete_key(2u64)?;
        Err(Error::abort("abort"))
    });
    assert!(matches!(res, Err(Error::Aborted(_))), "{res:?}");
    assert_eq!(r.count().unwrap(), 2);
    assert_eq!(c.count().unwrap(), 2);
}

/// A cascade runs with the delete that causes it: reads later in the transaction no longer
/// see the dependents, and a row written after it that references the deleted key is not
/// deleted by it but fails the commit, which changes nothing.
#[test]
fn a_cascade_runs_with_its_delete_and_never_reaches_a_row_written_after_it() {
    let db = school();
    let c = db.table::<Course>().unwrap();
    let r = db.table::<Registration>().unwrap();
    let res: Result<(), Error> = db.transaction(|tx| {
        let courses = tx.table::<Course>()?;
        let regs = tx.table::<Registration>()?;
        courses.delete_key(1u64)?;
        assert_eq!(regs.select().keys()?, vec![2, 4], "the cascade ran already");
        regs.insert(Registration {
            id: 0,
            student_id: 2,
            course_id: 1,
            grade: None,
        })?;
        Ok(())
    });
    assert_foreign_key(
        res,
        ("registrations", "course_id", "courses", Value::Int(1)),
    );
    assert_eq!(c.count().unwrap(), 3);
    assert_eq!(r.select().keys().unwrap(), vec![1, 2, 3, 4]);
}

#[derive(Table, Debug, Clone, PartialEq)]
struct Dept {
    #[column(primary_key)]
    id: u64,
}
#[derive(Table, Debug, Clone, PartialEq)]
struct Team {
    #[column(primary_key)]
    id: u64,
    #[column(references = "dept", on_delete = "cascade")]
    dept: u64,
}
#[derive(Table, Debug, Clone, PartialEq)]
struct Member {
    #[column(primary_key)]
    id: u64,
    #[column(references = "team", on_delete = "cascade")]
    team: u64,
    #[column(references = "member", on_delete = "set_null")]
    mentor: Option<u64>,
}

#[test]
fn cascade_chains_and_set_null() {
    let db = Database::in_memory();
    let d = db.table::<Dept>().unwrap();
    let t = db.table::<Team>().unwrap();
    let m = db.table::<Member>().unwrap();
    d.insert_many([Dept { id: 1 }, Dept { id: 2 }]).unwrap();
    t.insert_many([Team { id: 1, dept: 1 }, Team { id: 2, dept: 2 }])
        .unwrap();
    m.insert_many([
        Member {
            id: 1,
            team: 1,
            mentor: None,
        },
        Member {
            id: 2,
            team: 2,
            mentor: Some(1),
        },
        Member {
            id: 3,
            team: 1,
            mentor: Some(2),
        },
    ])
    .unwrap();
    // Deleting dept 1 removes team 1 and members 1 and 3; member 2's mentor becomes null.
    d.delete_key(1u64).unwrap();
    assert_eq!(t.select().keys().unwrap(), vec![2]);
    assert_eq!(
        m.select().all().unwrap(),
        vec![Member {
            id: 2,
            team: 2,
            mentor: None
        }]
    );
}

/// A `restrict` key met by a cascade names the row the user deleted, where the cascade
/// started: the row it names was never asked for.
#[test]
fn restrict_met_by_a_cascade_names_where_the_cascade_started() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.sql(
        "CREATE TABLE a (id INTEGER PRIMARY KEY);
         CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a ON DELETE CASCADE);
         CREATE TABLE c (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b ON DELETE CASCADE);
         CREATE TABLE d (id INTEGER PRIMARY KEY, c_id INTEGER REFERENCES c ON DELETE RESTRICT);
         INSERT INTO a VALUES (2);
         INSERT INTO b VALUES (3, 2);
         INSERT INTO c VALUES (5, 3);
         INSERT INTO d VALUES (1, 5);",
    )
    .unwrap();
    // Opened again, the tables the cascade reaches are loaded by the delete itself.
    db.close().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let e = db.sql("DELETE FROM a WHERE id = 2").unwrap_err();
    let Error::ForeignKey { table, reason, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(table, "d");
    assert_eq!(
        reason,
        "cannot delete c 5 (deleted by the cascade from a 2): 1 row(s) of d still reference it"
    );
    // Nothing changed; a row deleted by the statement itself is named alone.
    let count = |t: &str| db.sql(&format!("SELECT COUNT(*) FROM {t}")).unwrap().rows;
    assert_eq!(count("c"), [[tabula::Value::Int(1)]]);
    let e = db.sql("DELETE FROM c WHERE id = 5").unwrap_err();
    assert!(
        matches!(&e, Error::ForeignKey { reason, .. }
            if reason == "cannot delete c 5: 1 row(s) of d still reference it"),
        "{e}"
    );
    // Deleted by its own statement before the cascade from a 2 came: named alone.
    let e = db
        .sql("BEGIN; DELETE FROM c WHERE id = 5; DELETE FROM a WHERE id = 2; COMMIT")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot delete c 5: 1 row(s) of d still reference it"),
        "{e}"
    );
    assert_eq!(count("a"), [[tabula::Value::Int(1)]]);
}

#[derive(Table, Debug, Clone, PartialEq)]
struct Chicken {
    #[column(primary_key)]
    id: u64,
    #[column(references = "egg", on_delete = "cascade")]
    egg: Option<u64>,
}
#[derive(Table, Debug, Clone, PartialEq)]
struct Egg {
    #[column(primary_key)]
    id: u64,
    #[column(references = "chicken", on_delete = "cascade")]
    chicken: Option<u64>,
}

#[test]
fn a_cycle_of_references_cascades_and_stops() {
    let db = Database::in_memory();
    let c = db.table::<Chicken>().unwrap();
    let e = db.table::<Egg>().unwrap();
    db.transaction(|tx| {
        tx.table::<Chicken>()?.insert_many([
            Chicken {
                id: 1,
                egg: Some(1),
            },
            Chicken { id: 2, egg: None },
        ])?;
        tx.table::<Egg>()?.insert_many([
            Egg {
                id: 1,
                chicken: Some(2),
            },
            Egg {
                id: 2,
                chicken: Some(1),
            },
        ])?;
        Ok(())
    })
    .unwrap();
    // chicken 2 <- egg 1 <- chicken 1 <- egg 2: all go.
    c.delete_key(2u64).unwrap();
    assert_eq!(c.count().unwrap(), 0);
    assert_eq!(e.count().unwrap(), 0);
}

#[test]
fn foreign_keys_are_kept_in_schema_files_and_enforced_after_reopen_and_on_import() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        db.table::<Course>()
            .unwrap()
            .insert(Course {
                id: 0,
                code: "X".into(),
                credits: 1,
            })
            .unwrap();
        s.insert(Student {
            id: 0,
            name: "A".into(),
            year: 2020,
            gpa: 1.0,
            advisor: None,
        })
        .unwrap();
        db.table::<Registration>()
            .unwrap()
            .insert(reg(1, 1))
            .unwrap();
        db.export_json(dir.path().join("x.json")).unwrap();
    }
    let text = std::fs::read_to_string(path.join("schema/registrations.schema.json")).unwrap();
    assert!(
        text.contains("\"references\"") && text.contains("\"cascade\""),
        "{text}"
    );
    let db = Database::open(&path).unwrap();
    // Only the dynamic handle is used: the parent table is loaded for the check.
    let r = db.dyn_table("registrations").unwrap();
    assert!(matches!(
        r.insert(row! { "student_id" => 5, "course_id" => 1 }),
        Err(Error::ForeignKey { .. })
    ));
    let s = db.dyn_table("students").unwrap();
    assert!(matches!(s.delete_key(1), Err(Error::ForeignKey { .. })));
    // An import whose rows reference missing parents is refused whole.
    let fresh = Database::open(dir.path().join("fresh")).unwrap();
    let doc = std::fs::read_to_string(dir.path().join("x.json")).unwrap();
    let broken = doc.replace("{\"id\":1,\"code\":\"X\",\"credits\":1}", "");
    std::fs::write(
        dir.path().join("broken.json"),
        broken.replace("\"rows\":[\n]", "\"rows\":[]"),
    )
    .unwrap();
    let e = fresh.import_json(dir.path().join("broken.json"));
    assert!(matches!(e, Err(Error::ForeignKey { .. })), "{e:?}");
    assert!(fresh.table_names().unwrap().is_empty());
    assert_eq!(fresh.import_json(dir.path().join("x.json")).unwrap(), 3);
}

#[test]
fn joins_choose_their_strategy_and_filter_both_sides() {
    let db = school();
    let r = db.table::<Registration>().unwrap();
    db.table::<Course>().unwrap();
    // Along a foreign key: primary-key lookups.
    let j = r.select().join::<Student>("student_id");
    assert_eq!(
        j.explain().unwrap().strategy,
        JoinStrategy::PrimaryKeyLookup
    );
    let pairs = r.select().join::<Student>("student_id").all().unwrap();
    assert_eq!(pairs.len(), 4);
    assert!(pairs.iter().all(|(reg, s)| reg.student_id == s.id));
    // Filters on both sides, ordering by a right column, limit.
    let names: Vec<String> = r
        .select()
        .where_eq("course_id", 1)
        .join::<Student>("student_id")
        .filter_right(|s| s.gpa > 3.0)
        .order_by("-students.gpa")
        .all()
        .unwrap()
        .into_iter()
        .map(|(_, s)| s.name)
        .collect();
    assert_eq!(names, ["Ann", "Ben"]);
    // From the other side, through the index on registrations.student_id.
    let s = db.table::<Student>().unwrap();
    let j = s.select().join_on::<Registration>("id", "student_id");
    let plan = j.explain().unwrap();
    assert_eq!(
        plan.strategy,
        JoinStrategy::IndexLookup {
            column: "student_id".into()
        }
    );
    assert!(
        plan.to_string()
            .contains("join registrations by index lookup on student_id"),
        "{plan}"
    );
    let per = s
        .select()
        .join_on::<Registration>("id", "student_id")
        .filter(|st, rg| st.year == 2024 && rg.grade.is_some())
        .count()
        .unwrap();
    assert_eq!(per, 2);
    // On a column without an index: a hash join.
    let j = r.select().join_on::<Course>("course_id", "credits");
    assert_eq!(
        j.explain().unwrap().strategy,
        JoinStrategy::HashJoin {
            column: "credits".into()
        }
    );
    assert_eq!(
        r.select()
            .join_on::<Course>("course_id", "credits")
            .count()
            .unwrap(),
        1
    );
    // Unique column: unique lookups.
    let j = r.select().join_on::<Course>("course_id", "code");
    assert!(matches!(
        j.explain().unwrap().strategy,
        JoinStrategy::UniqueLookup { .. }
    ));
    assert!(matches!(
        r.select().join::<Student>("nope").all(),
        Err(Error::UnknownColumn { .. })
    ));
}

#[test]
fn aggregates_by_column_and_closure() {
    let db = school();
    let s = db.table::<Student>().unwrap();
    assert_eq!(
        s.select()
            .aggregate([Agg::count(), Agg::min("gpa"), Agg::max("year")])
            .unwrap(),
        vec![Value::Int(3), Value::Float(2.5), Value::Int(2024)]
    );
    assert_eq!(
        s.select().sum("year").unwrap(),
        Value::Int(2024 + 2023 + 2024)
    );
    let avg = s.select().avg("gpa").unwrap().as_f64().unwrap();
    assert!((avg - (3.9 + 3.1 + 2.5) / 3.0).abs() < 1e-12);
    assert_eq!(
        s.select().where_eq("year", 1999).avg("gpa").unwrap(),
        Value::Null
    );
    assert_eq!(
        s.select().sum_by(|x| x.gpa * 2.0).unwrap(),
        (3.9 + 3.1 + 2.5) * 2.0
    );
    assert_eq!(
        s.select().max_by(|x| x.name.len() as i64).unwrap(),
        Value::Int(3)
    );
    let per_year = s
        .select()
        .group_by("year")
        .aggregate([Agg::avg("gpa"), Agg::count()])
        .unwrap();
    assert_eq!(per_year.len(), 2);
    assert_eq!(per_year[0].key, Value::Int(2023));
    assert_eq!(per_year[1].count, 2);
    assert_eq!(per_year[1].values[1], Value::Int(2));
    let by_initial = s
        .select()
        .group_by_key(|x| x.name.chars().next())
        .count()
        .unwrap();
    assert_eq!(
        by_initial,
        vec![(Some('A'), 1), (Some('B'), 1), (Some('C'), 1)]
    );
    // Nulls are skipped by column aggregates.
    let r = db.table::<Registration>().unwrap();
    assert_eq!(
        r.select()
            .aggregate([Agg::count(), Agg::avg("grade")])
            .unwrap()[0],
        Value::Int(4)
    );
    let g = r
        .select()
        .group_by("course_id")
        .aggregate([Agg::max("grade")])
        .unwrap();
    assert_eq!(
        g.iter().map(|g| g.values[0].clone()).collect::<Vec<_>>(),
        vec![Value::Float(4.0), Value::Float(3.7), Value::Null]
    );
    assert!(matches!(
        s.select().sum("name"),
        Err(Error::InvalidColumnUse { .. })
    ));
    assert!(matches!(
        s.select().group_by("nope").count(),
        Err(Error::UnknownColumn { .. })
    ));
}

/// A left row's right rows come in the right table's key order whatever the strategy:
/// through an index lookup too, where the index holds them in the order they were
/// inserted, so `limit` takes the first by key.
#[test]
fn an_index_lookup_join_gives_right_rows_in_key_order() {
    let db = Database::in_memory();
    let s = db.table::<Student>().unwrap();
    let course = db
        .table::<Course>()
        .unwrap()
        .insert(Course {
            id: 0,
            code: "C1".into(),
            credits: 3,
        })
        .unwrap();
    let r = db.table::<Registration>().unwrap();
    let ann = s
        .insert(Student {
            id: 0,
            name: "Ann".into(),
            year: 2024,
            gpa: 3.5,
            advisor: None,
        })
        .unwrap();
    for id in [5, 3, 9, 4] {
        r.insert(Registration {
            id,
            student_id: ann,
            course_id: course,
            grade: None,
        })
        .unwrap();
    }
    let j = || s.select().join_on::<Registration>("id", "student_id");
    assert!(matches!(
        j().explain().unwrap().strategy,
        JoinStrategy::IndexLookup { .. }
    ));
    let ids = |pairs: Vec<(Student, Registration)>| {
        pairs.into_iter().map(|(_, g)| g.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(j().all().unwrap()), [3, 4, 5, 9]);
    assert_eq!(ids(j().limit(1).all().unwrap()), [3]);
    assert_eq!(ids(j().offset(2).all().unwrap()), [5, 9]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn joins_and_groups_match_a_naive_model(
        students in proptest::collection::vec((2015u32..2018, 0u32..40), 1..25),
        regs in proptest::collection::vec((0usize..30, 1u64..4, proptest::option::of(0u32..5)), 0..40),
    ) {
        let db = Database::in_memory();
        let s = db.table::<Student>().unwrap();
        let c = db.table::<Course>().unwrap();
        let r = db.table::<Registration>().unwrap();
        for (i, (year, g)) in students.iter().enumerate() {
            s.insert(Student { id: 0, name: format!("S{i}"), year: *year, gpa: f64::from(*g) / 10.0, advisor: None }).unwrap();
        }
        for k in 1..=3u64 {
            c.insert(Course { id: 0, code: format!("C{k}"), credits: (k % 2) as u8 }).unwrap();
        }
        let n = students.len();
        for (si, ci, grade) in &regs {
            r.insert(Registration { id: 0, student_id: (si % n) as u64 + 1, course_id: *ci, grade: grade.map(f64::from) }).unwrap();
        }
        let all_s = s.select().all().unwrap();
        let all_r = r.select().all().unwrap();
        let all_c = c.select().all().unwrap();
        // Join along the foreign key, in registration order.
        let want: Vec<(u64, u64)> = all_r.iter().map(|x| (x.id, x.student_id)).collect();
        let got: Vec<(u64, u64)> = r.select().join::<Student>("student_id").all().unwrap().into_iter().map(|(x, y)| (x.id, y.id)).collect();
        prop_assert_eq!(got, want);
        // Index join from students, filtered, ordered by grade then id.
        let mut want: Vec<(u64, u64)> = Vec::new();
        for st in &all_s {
            for rg in all_r.iter().filter(|x| x.student_id == st.id && st.year >= 2016) {
                want.push((st.id, rg.id));
            }
        }
        let got: Vec<(u64, u64)> = s.select().where_range("year", 2016..).join_on::<Registration>("id", "student_id").all().unwrap().into_iter().map(|(a, b)| (a.id, b.id)).collect();
        prop_assert_eq!(got, want);
        // Hash join on a column without an index.
        let want = all_r.iter().map(|x| all_c.iter().filter(|k| u64::from(k.credits) == x.course_id).count()).sum::<usize>();
        prop_assert_eq!(r.select().join_on::<Course>("course_id", "credits").count().unwrap(), want);
        // Group by year: count and average gpa.
        let mut years: Vec<u32> = all_s.iter().map(|x| x.year).collect();
        years.sort_unstable();
        years.dedup();
        let groups = s.select().group_by("year").aggregate([Agg::count(), Agg::sum("gpa"), Agg::max("gpa")]).unwrap();
        prop_assert_eq!(groups.len(), years.len());
        for (g, y) in groups.iter().zip(&years) {
            let rows: Vec<&Student> = all_s.iter().filter(|x| x.year == *y).collect();
            prop_assert_eq!(&g.key, &Value::Int(i64::from(*y)));
            prop_assert_eq!(g.count, rows.len());
            let sum: f64 = rows.iter().map(|x| x.gpa).sum();
            prop_assert!((g.values[1].as_f64().unwrap() - sum).abs() < 1e-9);
            let max = rows.iter().map(|x| x.gpa).fold(f64::MIN, f64::max);
            prop_assert_eq!(g.values[2].as_f64().unwrap(), max);
        }
        // Average grade per course, nulls skipped.
        let per_course = r.select().group_by("course_id").aggregate([Agg::avg("grade")]).unwrap();
        for g in per_course {
            let grades: Vec<f64> = all_r.iter().filter(|x| Value::Int(x.course_id as i64) == g.key).filter_map(|x| x.grade).collect();
            match g.values[0].as_f64() {
                None => prop_assert!(grades.is_empty()),
                Some(avg) => prop_assert!((avg - grades.iter().sum::<f64>() / grades.len() as f64).abs() < 1e-9),
            }
        }
    }
}

/// A foreign key of another kind than the key it references can match no row: a table
/// with one is refused when the key's table exists already, and the key's table is refused
/// when it comes second.
#[test]
fn a_foreign_key_of_another_kind_than_its_key_is_refused() {
    use tabula::{Column, ColumnType, OnDelete, Schema};
    let node = || {
        Schema::new(
            "node",
            vec![Column::new("id", ColumnType::I64).primary_key()],
        )
        .unwrap()
    };
    let edge = || {
        Schema::new(
            "edge",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("n", ColumnType::Text)
                    .nullable()
                    .references("node", OnDelete::Restrict),
            ],
        )
        .unwrap()
    };
    let expected = "column n is text but references node.id, which is i64";
    let db = Database::in_memory();
    db.create_table(node()).unwrap();
    match db.create_table(edge()) {
        Err(Error::SchemaMismatch { table, reason }) => {
            assert_eq!((table.as_str(), reason.as_str()), ("edge", expected))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.table_names().unwrap(), ["node"]);

    // The other order: the reference names a table that does not exist yet.
    let db = Database::in_memory();
    db.create_table(edge()).unwrap();
    match db.create_table(node()) {
        Err(Error::SchemaMismatch { table, reason }) => assert_eq!(
            (table.as_str(), reason.as_str()),
            (
                "node",
                format!("table edge, made before it: {expected}").as_str()
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(db.table_names().unwrap(), ["edge"]);
    // SQL's CREATE TABLE goes through the same check.
    match db.sql("CREATE TABLE node (id INTEGER PRIMARY KEY)") {
        Err(Error::SchemaMismatch { table, .. }) => assert_eq!(table, "node"),
        other => panic!("{other:?}"),
    }
    // A key of the column's own kind is taken.
    db.sql("CREATE TABLE node (id TEXT PRIMARY KEY)").unwrap();
    db.sql("INSERT INTO node (id) VALUES ('a'); INSERT INTO edge (n) VALUES ('a')")
        .unwrap();
}
