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
    // As a typed handle's `get_by`: a null in a NOT NULL column is an error.
    for column in ["email", "id"] {
        let e = t.get_by(column, Value::Null).unwrap_err();
        assert!(
            matches!(&e, Error::NotNull { table, column: c } if table == "students" && c == column),
            "{e}"
        );
    }
    let e = t.get_by("name", "Bob").unwrap_err();
    assert!(matches!(e, Error::InvalidColumnUse { .. }), "{e}");
    // In a nullable unique column a null finds no row, though rows hold nulls there.
    db.sql("CREATE TABLE tags (id INTEGER PRIMARY KEY, code TEXT UNIQUE); INSERT INTO tags (code) VALUES (NULL), ('x'), (NULL)")
        .unwrap();
    let tags = db.dyn_table("tags").unwrap();
    assert!(tags.get_by("code", Value::Null).unwrap().is_none());
    assert_eq!(
        tags.get_by("code", "x").unwrap().unwrap()["id"],
        Value::Int(2)
    );
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

/// Values given by position are checked once, as they are resolved (the table takes them
/// without checking them again): every value a column's type cannot hold is refused there,
/// naming it, and a refused row leaves the whole call's rows out.
#[test]
fn values_by_position_that_do_not_fit_their_column_are_refused() {
    let db = Database::in_memory();
    let t = db
        .create_table(
            Schema::new(
                "gauges",
                vec![
                    Column::new("id", ColumnType::U64).primary_key(),
                    Column::new("small", ColumnType::U8),
                    Column::new("ratio", ColumnType::F32).nullable(),
                    Column::new("flag", ColumnType::Bool).default_value(false),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    let fine = vec![None, Some(Value::Int(255)), Some(Value::Int(2)), None];
    let refused = [
        (Some(Value::Int(256)), None, None, "small", Value::Int(256)),
        (
            Some(Value::Float(1.5)),
            None,
            None,
            "small",
            Value::Float(1.5),
        ),
        (Some(Value::Null), None, None, "small", Value::Null),
        (
            Some(Value::Int(1)),
            Some(Value::Float(1e300)),
            None,
            "ratio",
            Value::Float(1e300),
        ),
        (
            Some(Value::Int(1)),
            None,
            Some(Value::Int(1)),
            "flag",
            Value::Int(1),
        ),
    ];
    for (small, ratio, flag, column, value) in refused {
        let bad = vec![None, small, ratio, flag];
        let err = t.insert_many_values(vec![fine.clone(), bad]).unwrap_err();
        match (&err, &value) {
            (Error::NotNull { column: c, .. }, Value::Null) => assert_eq!(c, column),
            (
                Error::TypeMismatch {
                    column: c,
                    value: v,
                    ..
                },
                _,
            ) => {
                assert_eq!((c.as_str(), v), (column, &value), "{err}")
            }
            _ => panic!("{column} = {value}: {err}"),
        }
        assert_eq!(t.count().unwrap(), 0, "{err}");
    }
    assert_eq!(t.insert_values(fine).unwrap(), Value::Int(1));
    assert_eq!(
        t.get(1).unwrap().unwrap().values(),
        [
            Value::Int(1),
            Value::Int(255),
            Value::Float(2.0),
            Value::Bool(false)
        ]
    );
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

/// A document written over several lines is a committed row like any other (its line
/// breaks used to split the log's line, and the row was dropped as damage at the next
/// open), and the document `null` reads the same before and after a reopen: NULL in a
/// nullable column, the document in one that is not (which used to make every open fail).
#[test]
fn multi_line_and_null_documents_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let pretty = "{\n  \"a\": 1,\r\n  \"s\": \"x\\ny\"\n}\n";
    let stored = r#"{   "a": 1,    "s": "x\ny" }"#;
    let expect = |db: &Database| {
        let r = db.sql("SELECT id, j, k FROM doc ORDER BY id").unwrap().rows;
        assert_eq!(
            r,
            [
                vec![Value::Int(1), Value::from(stored), Value::from("[1]")],
                vec![Value::Int(2), Value::Null, Value::from("null")],
            ]
        );
    };
    {
        let db = Database::open(dir.path()).unwrap();
        db.sql("CREATE TABLE doc (id INTEGER PRIMARY KEY, j JSON, k JSON NOT NULL)")
            .unwrap();
        db.sql_with(
            "INSERT INTO doc (j, k) VALUES (?, '[1]'), ('null', ' null ')",
            &[Value::from(pretty)],
        )
        .unwrap();
        expect(&db);
        // Dropped without a close: the rows come back from the log.
    }
    let db = Database::open(dir.path()).unwrap();
    expect(&db);
    assert_eq!(tabula::verify(dir.path()).unwrap(), []);
    db.checkpoint().unwrap();
    drop(db);
    expect(&Database::open(dir.path()).unwrap());
}

/// The same for a Rust type's json fields: a `RawValue` serializes as it was written, line
/// breaks and all, and `Some` of a value that serializes as `null` is NULL from the start.
#[test]
fn typed_json_fields_keep_their_rows_and_read_alike_before_and_after_a_reopen() {
    use serde_json::value::RawValue;
    #[derive(tabula::Table, Debug, Clone)]
    #[table(name = "raw")]
    struct Raw {
        #[column(primary_key)]
        id: u64,
        body: Box<RawValue>,
        extra: Option<serde_json::Value>,
    }
    let dir = tempfile::tempdir().unwrap();
    let expect = |db: &Database| {
        let r = db.sql("SELECT body, extra FROM raw").unwrap().rows;
        assert_eq!(
            r,
            [[Value::from(r#"{   "a": 1 }"#), Value::Null]],
            "one row, on one line, extra NULL"
        );
    };
    {
        let db = Database::open(dir.path()).unwrap();
        let t = db.table::<Raw>().unwrap();
        t.insert(Raw {
            id: 1,
            body: RawValue::from_string("{\n  \"a\": 1\n}".to_owned()).unwrap(),
            extra: Some(serde_json::Value::Null),
        })
        .unwrap();
        expect(&db);
    }
    let db = Database::open(dir.path()).unwrap();
    expect(&db);
    let row = db.table::<Raw>().unwrap().get(1u64).unwrap().unwrap();
    assert_eq!(row.body.get(), r#"{   "a": 1 }"#);
    assert_eq!(row.extra, None);
}

/// A float default JSON cannot write (NaN, the infinities) survives a checkpoint and a
/// reopen: the schema file used to hold `null`, so the default was lost, and a `NOT NULL`
/// column refused every row that left it out.
#[test]
fn non_finite_float_defaults_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.sql(
            "CREATE TABLE f (id INTEGER PRIMARY KEY, lo REAL NOT NULL DEFAULT '-inf', \
             hi REAL DEFAULT 'inf', odd REAL DEFAULT 'NaN', t TEXT DEFAULT 'inf')",
        )
        .unwrap();
        db.checkpoint().unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let schema = db.schema("f").unwrap();
    assert_eq!(
        schema.columns[1].default,
        Some(Value::Float(f64::NEG_INFINITY))
    );
    assert_eq!(schema.columns[2].default, Some(Value::Float(f64::INFINITY)));
    assert!(matches!(schema.columns[3].default, Some(Value::Float(f)) if f.is_nan()));
    assert_eq!(schema.columns[4].default, Some(Value::from("inf")));
    db.sql("INSERT INTO f (id) VALUES (1)").unwrap();
    let row = db.dyn_table("f").unwrap().get(1).unwrap().unwrap();
    assert_eq!(row["lo"], Value::Float(f64::NEG_INFINITY));
    assert_eq!(row["hi"], Value::Float(f64::INFINITY));
    assert!(matches!(row["odd"], Value::Float(f) if f.is_nan()));
    assert_eq!(row["t"], Value::from("inf"));
}

/// A dynamic table with no Rust type behind it (its rows are stored as values), holding
/// `n` rows: id 1..=n, `k` = id % 3, `name` = "r{id}".
fn untyped(n: i64) -> (Database, tabula::DynTable) {
    let db = Database::in_memory();
    let t = db
        .create_table(
            Schema::new(
                "items",
                vec![
                    Column::new("id", ColumnType::I64).primary_key(),
                    Column::new("k", ColumnType::I64).indexed(),
                    Column::new("name", ColumnType::Text),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    t.insert_many((1..=n).map(|i| row! { "k" => i % 3, "name" => format!("r{i}") }))
        .unwrap();
    (db, t)
}

#[test]
fn value_filters_pick_the_rows_row_filters_pick() {
    // Stored as values (read in place) and as a typed table (copied out): the same rows.
    let (_db, t) = untyped(30);
    let by_values = t
        .select()
        .where_eq("k", 1)
        .filter_values(|v| v[2].as_str().is_some_and(|s| s.ends_with('0')))
        .order_by("-id")
        .limit(2)
        .all()
        .unwrap();
    let by_rows = t
        .select()
        .where_eq("k", 1)
        .filter(|r| r["name"].as_str().is_some_and(|s| s.ends_with('0')))
        .order_by("-id")
        .limit(2)
        .all()
        .unwrap();
    let ids: Vec<_> = by_values.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, [Value::Int(10)]);
    assert_eq!(by_values, by_rows);
    assert_eq!(
        t.select()
            .filter_values(|v| v[1] == Value::Int(0))
            .count()
            .unwrap(),
        10
    );

    let (db, _s) = school();
    let s = db.dyn_table("students").unwrap();
    let names: Vec<_> = s
        .select()
        .filter_values(|v| v[4].as_f64() > Some(3.5))
        .all()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, ["Alice", "Cara", "Eve"].map(Value::from));
}

#[test]
fn updates_and_deletes_by_values_are_atomic_and_checked() {
    let (db, t) = untyped(9);
    let n = t
        .update_values(|v| v[1] == Value::Int(2), |r| r.set("name", "two"))
        .unwrap();
    assert_eq!(n, 3);
    let two: Vec<_> = t.select().where_eq("name", "two").keys().unwrap();
    assert_eq!(two, [2, 5, 8].map(Value::Int));

    // A refused change leaves every row as it was.
    let e = t
        .update_values(|v| v[0] == Value::Int(4), |r| r.set("id", 40))
        .unwrap_err();
    assert!(matches!(e, Error::PrimaryKeyChanged { .. }), "{e}");
    let e = t.update_values(|_| true, |r| r.set("k", "x")).unwrap_err();
    assert!(
        matches!(&e, Error::TypeMismatch { column, .. } if column == "k"),
        "{e}"
    );
    assert_eq!(t.get(4).unwrap().unwrap()["k"], Value::Int(1));

    assert_eq!(t.delete_values(|v| v[1] == Value::Int(0)).unwrap(), 3);
    assert_eq!(t.count().unwrap(), 6);

    // Inside a transaction: the predicate sees the transaction's own writes, and a
    // rollback undoes both.
    let aborted: Result<(), Error> = db.transaction(|tx| {
        let t = tx.dyn_table("items")?;
        t.insert(row! { "k" => 7, "name" => "new" })?;
        assert_eq!(
            t.update_values(|v| v[1] == Value::Int(7), |r| r.set("k", 8))?,
            1
        );
        assert_eq!(t.delete_values(|v| v[1] == Value::Int(8))?, 1);
        assert_eq!(t.delete_values(|v| v[2] == Value::from("two"))?, 3);
        Err(Error::abort("undo"))
    });
    assert!(matches!(aborted, Err(Error::Aborted(_))), "{aborted:?}");
    assert_eq!(t.count().unwrap(), 6);
    assert_eq!(t.select().where_eq("name", "two").count().unwrap(), 3);
}

#[test]
fn a_query_built_before_a_migration_is_refused_rather_than_misread() {
    let (db, t) = untyped(3);
    let q = t.select().filter_values(|v| v[2] == Value::from("r1"));
    db.sql("ALTER TABLE items DROP COLUMN name").unwrap();
    let e = q.all().unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch { table, .. } if table == "items"),
        "{e}"
    );
    // A new handle reads the table as it is now.
    let now = db.dyn_table("items").unwrap();
    assert_eq!(now.select().count().unwrap(), 3);
}

#[test]
fn get_with_reads_a_row_by_key_without_copying_it() {
    let (db, t) = untyped(3);
    let name = |v: &[Value]| v[2].clone();
    assert_eq!(t.get_with(2, name).unwrap(), Some(Value::from("r2")));
    assert_eq!(t.get_with(9, name).unwrap(), None);
    assert!(matches!(
        t.get_with("x", name),
        Err(Error::TypeMismatch { .. })
    ));
    // Inside a transaction it sees the transaction's own writes.
    db.transaction(|tx| {
        let t = tx.dyn_table("items")?;
        t.update_values(|v| v[0] == Value::Int(2), |r| r.set("name", "two"))?;
        assert_eq!(t.get_with(2, name)?, Some(Value::from("two")));
        Ok(())
    })
    .unwrap();
    // A typed table's row is copied for it, and reads the same.
    let (db, _s) = school();
    let s = db.dyn_table("students").unwrap();
    assert_eq!(
        s.get_with(1, |v| v[1].clone()).unwrap(),
        Some(Value::from("Alice"))
    );
    // A handle made before a migration is refused, as its `get` is.
    db.sql("ALTER TABLE students DROP COLUMN gpa").unwrap();
    assert!(matches!(
        s.get_with(1, |v| v.len()),
        Err(Error::SchemaMismatch { .. })
    ));
}

#[test]
fn a_table_may_be_created_before_the_table_it_references() {
    // The library lets a table name a table not created yet; until it exists, a row
    // may leave the key null, and a row that names a key is refused by name.
    let db = Database::in_memory();
    let child = db
        .create_table(
            Schema::new(
                "child",
                vec![
                    Column::new("id", ColumnType::I64).primary_key(),
                    Column::new("parent", ColumnType::I64)
                        .nullable()
                        .references("parent", tabula::OnDelete::Restrict),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    child.insert(row! { "parent" => Value::Null }).unwrap();
    match child.insert(row! { "parent" => 7 }) {
        Err(Error::ForeignKey {
            table,
            column,
            references,
            value,
            reason,
        }) => {
            assert_eq!(
                (table.as_str(), column.as_str(), references.as_str()),
                ("child", "parent", "parent")
            );
            assert_eq!(value, Value::Int(7));
            assert_eq!(reason, "table parent does not exist");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(child.count().unwrap(), 1);
}
