use tabula::{row, Column, ColumnType, Database, Error, Schema, Value};

use crate::common::{school, Student};

#[test]
fn dynamic_inserts_are_validated_and_defaulted() {
    let (db, s) = school();
    let t = db.dyn_table("students").unwrap();
    let id = t
        .insert(row! { "name" => "Bob2", "email" => "bob2@uni.edu", "year" => 2023 })
        .unwrap();
    assert_eq!(id, Value::Int(6));
    // The typed handle sees the row, with the default gpa and a null advisor.
    let typed = s.get(6u64).unwrap().unwrap();
    assert_eq!(typed.gpa, 0.0);
    assert_eq!(typed.advisor, None);

    let e = t
        .insert(row! { "name" => "X", "email" => "x@uni.edu", "year" => "2023" })
        .unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        r#"students.year is u32, which cannot hold "2023""#
    );
    let e = t
        .insert(row! { "email" => "x@uni.edu", "year" => 2023 })
        .unwrap_err();
    assert!(
        matches!(&e, Error::NotNull { column, .. } if column == "name"),
        "{e}"
    );
    let e = t
        .insert(row! { "name" => "X", "email" => "x@uni.edu", "year" => 1, "shoe" => 42 })
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnknownColumn { column, .. } if column == "shoe"),
        "{e}"
    );
    let e = t
        .insert(row! { "name" => "X", "email" => "x@uni.edu", "year" => -1 })
        .unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    // Lossless coercions are accepted, lossy ones refused.
    t.insert(row! { "name" => "Y", "email" => "y@uni.edu", "year" => 2020.0, "gpa" => 3 })
        .unwrap();
    let e = t
        .insert(row! { "name" => "Z", "email" => "z@uni.edu", "year" => 2020.5 })
        .unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    assert_eq!(s.count().unwrap(), 7);
}

#[test]
fn dynamic_tables_become_typed_on_first_use() {
    let db = Database::in_memory();
    let schema = Student::schema_for_test();
    let t = db.create_table(schema).unwrap();
    t.insert(row! { "name" => "Ann", "email" => "ann@uni.edu", "year" => 2021, "gpa" => 3.3 })
        .unwrap();
    let typed = db.table::<Student>().unwrap();
    assert_eq!(typed.get(1u64).unwrap().unwrap().name, "Ann");
    // The dynamic handle taken before still works on the now typed table.
    assert_eq!(t.count().unwrap(), 1);
    let r = t.select().where_eq("year", 2021).first().unwrap().unwrap();
    assert_eq!(r["gpa"], Value::Float(3.3));
}

trait SchemaForTest {
    fn schema_for_test() -> Schema;
}
impl SchemaForTest for Student {
    fn schema_for_test() -> Schema {
        <Student as tabula::Table>::schema().clone()
    }
}

#[test]
fn dynamic_updates_deletes_and_queries() {
    let (db, _s) = school();
    let t = db.dyn_table("students").unwrap();
    let n = t
        .update(
            |r| r["year"] == Value::Int(2023),
            |r| r.set("gpa", r["gpa"].as_f64().unwrap_or(0.0) + 0.1),
        )
        .unwrap();
    assert_eq!(n, 2);
    let e = t
        .update(|r| r["name"] == Value::from("Bob"), |r| r.set("id", 99))
        .unwrap_err();
    assert!(matches!(e, Error::PrimaryKeyChanged { .. }));
    let e = t.update(|_| true, |r| r.set("year", "x")).unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }));
    let rows = t
        .select()
        .where_range("gpa", 3.5..)
        .order_by("-gpa")
        .all()
        .unwrap();
    let names: Vec<_> = rows.iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names, ["Eve", "Alice", "Cara"].map(Value::from));
    assert_eq!(t.delete(|r| r["gpa"].as_f64() < Some(3.0)).unwrap(), 1);
    assert!(t.delete_key(1).unwrap());
    assert_eq!(t.count().unwrap(), 3);
    assert_eq!(
        t.get_by("email", "bob@uni.edu").unwrap().unwrap()["id"],
        Value::Int(2)
    );
    assert!(matches!(
        db.dyn_table("nope"),
        Err(Error::UnknownTable { .. })
    ));
}

#[test]
fn dyn_get_by_finds_by_unique_column_and_sees_its_own_transaction() {
    let (db, _s) = school();
    let t = db.dyn_table("students").unwrap();
    let bob = t.get_by("email", "bob@uni.edu").unwrap().unwrap();
    assert_eq!(
        (&bob["id"], &bob["name"]),
        (&Value::Int(2), &Value::from("Bob"))
    );
    assert!(t.get_by("email", "nobody@uni.edu").unwrap().is_none());
    assert_eq!(
        t.get_by("id", 3).unwrap().unwrap()["name"],
        Value::from("Cara")
    );
    let e = t.get_by("email", 7).unwrap_err();
    assert!(
        matches!(&e, Error::TypeMismatch { table, column, .. } if table == "students" && column == "email"),
        "{e}"
    );
    // A null finds a row whose value is null, as `select().where_eq` does.
    assert!(t.get_by("email", Value::Null).unwrap().is_none());
    assert!(t.get_by("id", Value::Null).unwrap().is_none());
    let e = t.get_by("name", "Bob").unwrap_err();
    assert!(matches!(e, Error::InvalidColumnUse { .. }), "{e}");
    db.transaction(|tx| {
        let t = tx.dyn_table("students")?;
        t.insert(row! { "name" => "Fay", "email" => "fay@uni.edu", "year" => 2024 })?;
        assert_eq!(
            t.get_by("email", "fay@uni.edu")?.map(|r| r["name"].clone()),
            Some(Value::from("Fay"))
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(
        t.get_by("email", "fay@uni.edu").unwrap().unwrap()["id"],
        Value::Int(6)
    );
}

#[test]
fn created_schemas_are_checked() {
    let db = Database::in_memory();
    let bad = Schema::new(
        "bad name",
        vec![Column::new("id", ColumnType::U64).primary_key()],
    );
    assert!(matches!(bad, Err(Error::InvalidName { .. })));
    let t = db
        .create_table(
            Schema::new(
                "levels",
                vec![
                    Column::new("id", ColumnType::U8).primary_key(),
                    Column::new("label", ColumnType::Text).nullable(),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    let e = t.insert(row! { "id" => 300 }).unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    assert_eq!(t.insert(row! { "id" => 7 }).unwrap(), Value::Int(7));
    assert_eq!(t.get(7).unwrap().unwrap()["label"], Value::Null);
    assert_eq!(db.table_names().unwrap(), ["levels"]);
}

/// Values by position (what the Python binding sends) take defaults and keys as named
/// rows do, are checked the same way, and a refused row in a batch leaves nothing behind.
#[test]
fn inserts_by_position_resolve_like_named_rows() {
    let db = Database::in_memory();
    let t = db
        .create_table(
            Schema::new(
                "note",
                vec![
                    Column::new("id", ColumnType::I64).primary_key(),
                    Column::new("text", ColumnType::Text).unique(),
                    Column::new("stars", ColumnType::F64).default_value(1.0),
                    Column::new("tag", ColumnType::Text).nullable(),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    let key = t
        .insert_values(vec![None, Some(Value::from("a")), None, None])
        .unwrap();
    assert_eq!(key, Value::Int(1));
    let got = t.get(1).unwrap().unwrap();
    assert_eq!(
        got.values(),
        [
            Value::Int(1),
            Value::from("a"),
            Value::Float(1.0),
            Value::Null
        ]
    );
    // An integer is widened to the float column, as a named row's would be.
    let keys = t
        .insert_many_values(vec![
            vec![None, Some(Value::from("b")), Some(Value::Int(3)), None],
            vec![Some(Value::Int(10)), Some(Value::from("c")), None, None],
        ])
        .unwrap();
    assert_eq!(keys, [Value::Int(2), Value::Int(10)]);
    assert_eq!(t.get(2).unwrap().unwrap()["stars"], Value::Float(3.0));

    let err = t
        .insert_many_values(vec![
            vec![None, Some(Value::from("d")), None, None],
            vec![None, Some(Value::from("a")), None, None],
        ])
        .unwrap_err();
    assert!(matches!(err, Error::UniqueViolation { ref column, .. } if column == "text"));
    assert_eq!(t.count().unwrap(), 3);

    let err = t
        .insert_values(vec![None, Some(Value::Int(5)), None, None])
        .unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { ref column, .. } if column == "text"));
    let err = t.insert_values(vec![None, None]).unwrap_err();
    assert!(matches!(err, Error::SchemaMismatch { .. }));
    let err = t.insert_values(vec![None, None, None, None]).unwrap_err();
    assert!(matches!(err, Error::NotNull { ref column, .. } if column == "text"));
    assert_eq!(t.count().unwrap(), 3);
}

/// A json column's document comes back from the disk as it was written: key order kept,
/// integers beyond 64 bits kept exact (they were rounded to floats and the keys sorted,
/// at a reopen after a checkpoint and at a replay of the log).
#[test]
fn json_documents_survive_a_reopen_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let doc =
        r#"{"b":1,"a":[2,{"z":null}],"v":18446744073709551616,"big":12345678901234567890123}"#;
    let schema = Schema::new(
        "doc",
        vec![
            Column::new("id", ColumnType::I64).primary_key(),
            Column::new("j", ColumnType::Json).nullable(),
        ],
    )
    .unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let t = db.create_table(schema.clone()).unwrap();
        t.insert_values(vec![None, Some(Value::from(doc))]).unwrap();
        db.checkpoint().unwrap();
        t.insert_values(vec![None, Some(Value::from(doc))]).unwrap();
        t.insert_values(vec![None, None]).unwrap();
        // Dropped without a close: the last two rows come back from the log.
    }
    let db = Database::open(dir.path()).unwrap();
    let t = db.dyn_table("doc").unwrap();
    for key in [1, 2] {
        assert_eq!(
            t.get(key).unwrap().unwrap()["j"],
            Value::from(doc),
            "row {key}"
        );
    }
    assert_eq!(t.get(3).unwrap().unwrap()["j"], Value::Null);
}
