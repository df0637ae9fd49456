use tabula::{Database, Error, Table};

use crate::common::{school, student, Course, Student};

#[test]
fn auto_increment_and_explicit_keys() {
    let db = Database::in_memory();
    let s = db.table::<Student>().unwrap();
    assert_eq!(s.insert(student("A", 2024, 3.0)).unwrap(), 1);
    let mut b = student("B", 2024, 3.0);
    b.id = 10;
    assert_eq!(s.insert(b).unwrap(), 10);
    assert_eq!(s.insert(student("C", 2024, 3.0)).unwrap(), 11);
    // Deleting the last row does not make its key come back.
    assert!(s.delete_key(11u64).unwrap());
    assert_eq!(s.insert(student("D", 2024, 3.0)).unwrap(), 12);
}

#[test]
fn duplicate_keys_and_unique_values_are_refused_and_change_nothing() {
    let (_db, s) = school();
    let mut dup = student("Zed", 2020, 1.0);
    dup.id = 2;
    let e = s.insert(dup).unwrap_err();
    assert_eq!(e.to_string(), "unique constraint students.id violated by 2");
    let e = s.insert(student("Alice", 2020, 1.0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"unique constraint students.email violated by "alice@uni.edu""#
    );
    assert_eq!(s.count().unwrap(), 5);
    // The failed insert did not use up a key.
    assert_eq!(s.insert(student("Fay", 2020, 1.0)).unwrap(), 6);
}

#[test]
fn insert_many_is_atomic() {
    let (_db, s) = school();
    let e = s
        .insert_many([student("New", 2020, 1.0), student("Bob", 2020, 1.0)])
        .unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }));
    assert_eq!(s.count().unwrap(), 5);
    assert!(s.get_by("email", "new@uni.edu").unwrap().is_none());
}

#[test]
fn update_breaking_a_constraint_changes_nothing() {
    let (_db, s) = school();
    let before = s.select().all().unwrap();
    let e = s
        .update(|x| x.year == 2023, |x| x.email = "same@uni.edu".into())
        .unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    assert_eq!(s.select().all().unwrap(), before);
    assert!(s.get_by("email", "same@uni.edu").unwrap().is_none());
    assert_eq!(
        s.get_by("email", "bob@uni.edu").unwrap().unwrap().name,
        "Bob"
    );
}

#[test]
fn update_cannot_change_the_primary_key() {
    let (_db, s) = school();
    let e = s.update(|x| x.name == "Bob", |x| x.id = 77).unwrap_err();
    assert!(matches!(e, Error::PrimaryKeyChanged { .. }), "{e}");
    assert!(e.to_string().contains("from 2 to 77"), "{e}");
    assert_eq!(s.get(2u64).unwrap().unwrap().name, "Bob");
    assert!(s.get(77u64).unwrap().is_none());
}

#[test]
fn update_moves_unique_values_and_indexes() {
    let (_db, s) = school();
    assert_eq!(
        s.update(|x| x.name == "Bob", |x| x.email = "robert@uni.edu".into())
            .unwrap(),
        1
    );
    assert!(s.get_by("email", "bob@uni.edu").unwrap().is_none());
    assert_eq!(s.get_by("email", "robert@uni.edu").unwrap().unwrap().id, 2);
    // The old value is free again.
    s.insert(student("Bob", 2020, 1.0)).unwrap();
    assert_eq!(s.update(|x| x.year == 2024, |x| x.year = 2030).unwrap(), 2);
    assert_eq!(s.select().where_eq("year", 2030).count().unwrap(), 2);
    assert_eq!(s.select().where_eq("year", 2024).count().unwrap(), 0);
    // A changed value that another row holds is refused, and the statement changes nothing;
    // rows whose unique value stays the same pass.
    let before = s.select().all().unwrap();
    let e = s
        .update(
            |x| x.id <= 3,
            |x| {
                x.gpa += 1.0;
                if x.id == 3 {
                    x.email = "robert@uni.edu".into();
                }
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    assert!(e.to_string().contains("robert@uni.edu"), "{e}");
    assert_eq!(s.select().all().unwrap(), before);
}

#[test]
fn upsert_inserts_or_replaces() {
    let (_db, s) = school();
    let mut b = s.get(2u64).unwrap().unwrap();
    b.gpa = 4.0;
    assert_eq!(s.upsert(b.clone()).unwrap(), 2);
    assert_eq!(s.get(2u64).unwrap().unwrap(), b);
    let mut n = student("Neo", 2021, 2.0);
    n.id = 50;
    assert_eq!(s.upsert(n).unwrap(), 50);
    assert_eq!(s.upsert(student("Zoe", 2021, 2.0)).unwrap(), 51);
    // An upsert that would steal another row's unique value fails.
    let mut steal = s.get(2u64).unwrap().unwrap();
    steal.email = "alice@uni.edu".into();
    assert!(matches!(
        s.upsert(steal),
        Err(Error::UniqueViolation { .. })
    ));
    assert_eq!(s.count().unwrap(), 7);
}

#[test]
fn delete_and_delete_key() {
    let (_db, s) = school();
    assert_eq!(s.delete(|x| x.gpa < 3.2).unwrap(), 2);
    assert_eq!(s.count().unwrap(), 3);
    assert!(!s.delete_key(2u64).unwrap());
    assert!(s.delete_key(1u64).unwrap());
    assert_eq!(s.select().keys().unwrap(), vec![3, 5]);
    assert!(s.get_by("email", "alice@uni.edu").unwrap().is_none());
}

#[test]
fn text_primary_keys_must_be_given() {
    let db = Database::in_memory();
    let c = db.table::<Course>().unwrap();
    let key = c
        .insert(Course {
            code: "CS101".into(),
            title: "Intro".into(),
            credits: 4,
        })
        .unwrap();
    assert_eq!(key, "CS101");
    let e = c
        .insert(Course {
            code: "CS101".into(),
            title: "Again".into(),
            credits: 4,
        })
        .unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }));
    // Out-of-order text keys still come back in key order.
    for code in ["MA200", "AB100", "ZZ999"] {
        c.insert(Course {
            code: code.into(),
            title: code.into(),
            credits: 3,
        })
        .unwrap();
    }
    assert_eq!(
        c.select().keys().unwrap(),
        ["AB100", "CS101", "MA200", "ZZ999"]
    );
    assert_eq!(
        c.select().order_by("-code").limit(1).keys().unwrap(),
        ["ZZ999"]
    );
}

#[test]
fn u64_above_i64_max_is_refused_not_wrapped() {
    #[derive(Table, Clone, Debug)]
    struct Big {
        #[column(primary_key)]
        id: u64,
        n: u64,
    }
    let db = Database::in_memory();
    let t = db.table::<Big>().unwrap();
    let e = t.insert(Big { id: 0, n: u64::MAX }).unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    assert!(e.to_string().contains("18446744073709551615"), "{e}");
    let e = t.insert(Big { id: u64::MAX, n: 1 }).unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    assert_eq!(t.count().unwrap(), 0);
}

#[test]
fn small_key_types_run_out_cleanly() {
    #[derive(Table, Clone, Debug)]
    struct Tiny {
        #[column(primary_key)]
        id: u8,
    }
    let db = Database::in_memory();
    let t = db.table::<Tiny>().unwrap();
    t.insert(Tiny { id: 255 }).unwrap();
    let e = t.insert(Tiny { id: 0 }).unwrap_err();
    assert!(matches!(e, Error::KeyExhausted { .. }), "{e}");
}

#[test]
fn the_widest_key_type_runs_out_cleanly_too() {
    #[derive(Table, Clone, Debug)]
    struct Wide {
        #[column(primary_key)]
        id: i64,
        n: i64,
    }
    let db = Database::in_memory();
    let t = db.table::<Wide>().unwrap();
    t.insert(Wide { id: i64::MAX, n: 1 }).unwrap();
    let e = t.insert(Wide { id: 0, n: 2 }).unwrap_err();
    assert!(
        matches!(&e, Error::KeyExhausted { table, column, .. }
            if table == "wide" && column == "id"),
        "{e}"
    );
    assert_eq!(t.count().unwrap(), 1);
    // Keys are never handed out twice: not even once that row is gone.
    t.delete(|w| w.id == i64::MAX).unwrap();
    let e = t.insert(Wide { id: 0, n: 3 }).unwrap_err();
    assert!(matches!(e, Error::KeyExhausted { .. }), "{e}");
    // The last key below it is handed out once, then none.
    let db = Database::in_memory();
    let t = db.table::<Wide>().unwrap();
    t.insert(Wide {
        id: i64::MAX - 2,
        n: 1,
    })
    .unwrap();
    assert_eq!(t.insert(Wide { id: 0, n: 2 }).unwrap(), i64::MAX - 1);
    let e = t.insert(Wide { id: 0, n: 3 }).unwrap_err();
    assert!(matches!(e, Error::KeyExhausted { .. }), "{e}");
    assert_eq!(t.count().unwrap(), 2);
}

#[test]
fn schema_mismatch_is_reported_with_columns() {
    mod v2 {
        use tabula::Table;
        #[derive(Table, Clone, Debug)]
        #[table(name = "students")]
        pub struct Student {
            #[column(primary_key)]
            pub id: u64,
            pub name: i32,
        }
    }
    let (db, _s) = school();
    let e = db.table::<v2::Student>().unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("column name cannot change type from text to i32"),
        "{msg}"
    );
    assert!(
        msg.contains("column email is gone from the struct"),
        "{msg}"
    );
}

#[test]
fn json_columns_round_trip_but_cannot_be_ordered() {
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    struct Address {
        city: String,
        zip: u32,
    }
    #[derive(Table, Clone, Debug, PartialEq)]
    struct Person {
        #[column(primary_key)]
        id: u64,
        home: Address,
        tags: Vec<String>,
        work: Option<Address>,
    }
    let db = Database::in_memory();
    let t = db.table::<Person>().unwrap();
    let p = Person {
        id: 0,
        home: Address {
            city: "Oslo".into(),
            zip: 150,
        },
        tags: vec!["a".into()],
        work: None,
    };
    let id = t.insert(p.clone()).unwrap();
    assert_eq!(t.get(id).unwrap().unwrap(), Person { id, ..p });
    let e = t.select().order_by("home").all().unwrap_err();
    assert!(matches!(e, Error::InvalidColumnUse { .. }), "{e}");
    let d = db.dyn_table("person").unwrap();
    let row = d.get(id).unwrap().unwrap();
    assert_eq!(
        row["home"],
        tabula::Value::from(r#"{"city":"Oslo","zip":150}"#)
    );
    assert_eq!(row["work"], tabula::Value::Null);
    assert_eq!(d.get_by("id", id).unwrap().unwrap(), row);
    assert_eq!(Person::schema().columns[1].ty, tabula::ColumnType::Json);
}

/// A check in a stored schema reads as conditions always have (an older version stored
/// what SQL wrote back, `16L`, and what Rust or Python gave, `x>0and x<9`), and takes
/// SQLite's `[name]` and hexadecimal integers too; across a reopen.
#[test]
fn stored_checks_read_as_they_always_did_and_as_sqlite_writes_them() {
    use tabula::{Column, ColumnType, Schema, Value};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut schema = Schema::new(
        "t",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("x", ColumnType::I64),
        ],
    )
    .unwrap();
    schema.checks = vec![
        "x > 1L".into(),
        "x>0and x<0x100".into(),
        "[x] <> 7 /* not /* seven */ */".into(),
    ];
    {
        let db = tabula::Database::open(&path).unwrap();
        db.create_table(schema).unwrap();
    }
    let db = tabula::Database::open(&path).unwrap();
    let t = db.dyn_table("t").unwrap();
    t.insert_values(vec![None, Some(Value::Int(200))]).unwrap();
    for refused in [1, 256, 7] {
        let e = t
            .insert_values(vec![None, Some(Value::Int(refused))])
            .unwrap_err();
        assert!(matches!(e, tabula::Error::Check { .. }), "{refused}: {e}");
    }
    assert_eq!(t.count().unwrap(), 1);
}

/// A NaN in a checked float column: unordered, as in IEEE 754 and Python, every comparison
/// with it false but `<>`. So `f >= 0`, `f <= 4` and `f BETWEEN 0 AND 4` all keep it out
/// (ordered after every number, it passed the first and failed the others), `NOT (f < 0)`
/// and `f <> 1` take it; -0.0 is 0.0. `where_sql` filters alike.
#[test]
fn a_nan_fails_every_ordered_check_and_minus_zero_is_zero() {
    use tabula::{Column, ColumnType, Schema, Value};
    let db = tabula::Database::in_memory();
    let verdicts = [
        ("f >= 0", false, true),
        ("f <= 4", false, true),
        ("f BETWEEN 0 AND 4", false, true),
        ("f > -1 AND f < 5", false, true),
        ("f = f", false, true),
        ("NOT (f < 0)", true, true),
        ("f <> 1", true, true),
        ("f NOT BETWEEN 5 AND 6", true, true),
        ("f > 0", false, false),
    ];
    for (i, (check, takes_nan, takes_minus_zero)) in verdicts.iter().enumerate() {
        let mut schema = Schema::new(
            format!("t{i}"),
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("f", ColumnType::F64),
            ],
        )
        .unwrap();
        schema.checks = vec![(*check).into()];
        let t = db.create_table(schema).unwrap();
        for (value, takes) in [(f64::NAN, takes_nan), (-0.0, takes_minus_zero)] {
            match t.insert_values(vec![None, Some(Value::Float(value))]) {
                Ok(_) => assert!(takes, "{check} took {value}"),
                Err(tabula::Error::Check { .. }) => assert!(!takes, "{check} refused {value}"),
                Err(e) => panic!("{check} with {value}: {e}"),
            }
        }
        // An update to NaN is judged alike, and a refusal changes nothing.
        if !takes_nan {
            let id = t
                .insert_values(vec![None, Some(Value::Float(1.0))])
                .unwrap();
            let e = t
                .update(|r| r["id"] == id, |r| r.set("f", Value::Float(f64::NAN)))
                .unwrap_err();
            assert!(matches!(e, tabula::Error::Check { .. }), "{check}: {e}");
            let row = t.get(id).unwrap().unwrap();
            assert_eq!(row["f"], Value::Float(1.0));
        }
    }
    let t = db.dyn_table("t5").unwrap();
    assert_eq!(t.count().unwrap(), 2);
    assert_eq!(t.select().where_sql("f > 1").all().unwrap().len(), 0);
    assert_eq!(t.select().where_sql("f <> 1").all().unwrap().len(), 2);
}

/// Stored rows are not judged by the table's checks again when they are loaded (snapshots)
/// or replayed (the log): they passed when written, and a later version may judge a check
/// differently (NaN came to fail `f >= 0`). Here the log holds a NaN row, as an earlier
/// version wrote it under `CHECK (f >= 0)`: the database opens with the row, and only new
/// writes are judged.
#[test]
fn a_row_stored_under_an_older_judgement_of_a_check_still_opens() {
    use tabula::Value;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = tabula::Database::open(&path).unwrap();
        db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, f REAL CHECK (f >= 0)); INSERT INTO t (f) VALUES (1.5)")
            .unwrap();
    }
    // The insert's log line, its value made NaN (as the data files spell it), checksummed.
    let log = path.join("wal").join("transaction.log");
    let text = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
    let mut lines: Vec<String> = text
        .trim_end_matches('\0')
        .lines()
        .map(str::to_owned)
        .collect();
    let at = lines.iter().position(|l| l.contains(r#""f":1.5"#)).unwrap();
    let (crc, json) = lines[at].split_once(' ').unwrap();
    assert_eq!(crc, format!("{:08x}", crc32c::crc32c(json.as_bytes())));
    let json = json.replace(r#""f":1.5"#, r#""f":"NaN""#);
    lines[at] = format!("{:08x} {json}", crc32c::crc32c(json.as_bytes()));
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();

    let db = tabula::Database::open(&path).unwrap();
    let t = db.dyn_table("t").unwrap();
    let row = t.get(1).unwrap().unwrap();
    assert!(matches!(row["f"], Value::Float(f) if f.is_nan()), "{row:?}");
    let e = t
        .insert_values(vec![None, Some(Value::Float(f64::NAN))])
        .unwrap_err();
    assert!(matches!(e, tabula::Error::Check { .. }), "{e}");
    // Across a checkpoint (the row in a snapshot now) too.
    db.close().unwrap();
    let db = tabula::Database::open(&path).unwrap();
    assert_eq!(db.dyn_table("t").unwrap().count().unwrap(), 1);
    assert_eq!(tabula::verify(&path).unwrap(), []);
}

/// A check (or `where_sql` condition) that chains thousands of operators is refused, on a
/// thread with a small stack too: the refusal's place was found by walking a tree as deep
/// as the chain, on the calling thread.
#[test]
fn a_long_operator_chain_in_a_check_is_refused_on_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(|| {
            use tabula::{Column, ColumnType, Schema};
            let mut schema = Schema::new(
                "t",
                vec![
                    Column::new("id", ColumnType::U64).primary_key(),
                    Column::new("a", ColumnType::I64),
                ],
            )
            .unwrap();
            let chain = format!("a{} >= 0", " + a".repeat(3_000));
            let e = tabula::Condition::parse(&schema, &chain).unwrap_err();
            assert!(matches!(e, tabula::Error::InvalidExpression { .. }), "{e}");
            // Short texts that nest deep: prefix operators and CASE, which the parser
            // recurses on as on parentheses.
            for deep in [
                format!("{}a > 0", "+".repeat(200)),
                format!(
                    "{}a > 0{}",
                    "CASE WHEN ".repeat(50),
                    " THEN 1 END = 1".repeat(50)
                ),
            ] {
                let e = tabula::Condition::parse(&schema, &deep).unwrap_err();
                assert!(matches!(e, tabula::Error::InvalidExpression { .. }), "{e}");
            }
            schema.checks = vec![chain];
            let db = tabula::Database::in_memory();
            let e = db.create_table(schema).unwrap_err();
            assert!(matches!(e, tabula::Error::InvalidExpression { .. }), "{e}");
        })
        .unwrap()
        .join()
        .unwrap();
}
