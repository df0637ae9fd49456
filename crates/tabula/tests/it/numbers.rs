//! No number is ever converted lossily: at the boundaries of every integer width, through
//! every entry point (the dynamic API with integers and floats, a JSON import, a literal in
//! a condition), a value is stored exactly or refused with `Error::TypeMismatch`, never
//! rounded or saturated.

use proptest::prelude::*;
use tabula::{row, Column, ColumnType, Condition, Database, Error, Schema, Value};

const TYPES: [ColumnType; 8] = [
    ColumnType::I8,
    ColumnType::I16,
    ColumnType::I32,
    ColumnType::I64,
    ColumnType::U8,
    ColumnType::U16,
    ColumnType::U32,
    ColumnType::U64,
];

fn schema(ty: ColumnType) -> Schema {
    Schema::new(
        "nums",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("n", ty),
        ],
    )
    .unwrap()
}

fn range(ty: ColumnType) -> (i128, i128) {
    let (lo, hi) = ty.int_range().unwrap();
    (i128::from(lo), i128::from(hi))
}

/// Values at and around every boundary that matters: the type's own, i64's, and 2^63 to
/// 2^63 + 1024 (where a float rounds to 2^63).
fn candidates(ty: ColumnType) -> Vec<i128> {
    let (lo, hi) = range(ty);
    let mut v = vec![lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, 0, -1];
    let two63 = 1i128 << 63;
    v.extend([
        two63 - 1,
        two63,
        two63 + 1,
        two63 + 1024,
        -two63 - 1,
        -two63,
    ]);
    v.extend([(1i128 << 64) - 1, 1i128 << 64]);
    v.sort_unstable();
    v.dedup();
    v
}

/// What an entry point gave for `n`: the value stored, or the error.
fn expect(ty: ColumnType, n: i128, got: Result<Value, Error>, entry: &str) {
    let (lo, hi) = range(ty);
    if (lo..=hi).contains(&n) {
        let stored = got.unwrap_or_else(|e| panic!("{entry}: {n} into {ty}: {e}"));
        assert_eq!(stored, Value::Int(n as i64), "{entry}: {n} into {ty}");
    } else {
        match got {
            Err(Error::TypeMismatch { .. }) => {}
            Err(Error::Corrupt { reason, .. }) if entry == "import" => assert!(
                reason.contains("cannot hold")
                    || reason.contains("above i64::MAX")
                    || reason.contains("beyond i64"),
                "{entry}: {n} into {ty}: {reason}"
            ),
            other => panic!("{entry}: {n} into {ty} must be refused, got {other:?}"),
        }
    }
}

/// The dynamic API: an integer `Value` where one holds `n`, else the float `Value::from`
/// gives a `u64` (and a float for the rest: below `i64::MIN`, -2^63 or less, refused as
/// what a result below `i64` rounds to).
fn through_row(db: &Database, ty: ColumnType, n: i128) -> Result<Value, Error> {
    let t = db.dyn_table("nums")?;
    let v = match (i64::try_from(n), u64::try_from(n)) {
        (Ok(i), _) => Value::Int(i),
        (Err(_), Ok(u)) => Value::from(u),
        _ => Value::Float(n as f64),
    };
    let id = t.insert(row! { "n" => v })?;
    let stored = t.get(id.clone())?.unwrap()["n"].clone();
    t.delete_key(id)?;
    let _ = ty;
    Ok(stored)
}

fn through_import(dir: &std::path::Path, ty: ColumnType, n: i128) -> Result<Value, Error> {
    let db = Database::open(dir.join(format!("import-{ty}-{n}")))?;
    let doc = format!(
        r#"{{"format":"tabula-export","version":1,"tables":[{{"schema":{},"rows":[{{"id":1,"n":{n}}}]}}]}}"#,
        serde_json::to_string(&schema(ty)).unwrap()
    );
    let file = dir.join("doc.json");
    std::fs::write(&file, doc).unwrap();
    db.import_json(&file)?;
    let row = db.dyn_table("nums")?.get(1u64)?.unwrap();
    Ok(row["n"].clone())
}

fn through_condition(ty: ColumnType, n: i128) -> Result<Value, Error> {
    let s = schema(ty);
    let c = Condition::parse(&s, &format!("n = {n}"))?;
    // The literal compares exactly: it matches its own value and not its neighbour.
    let exact = |v: i128| i64::try_from(v).map(|v| c.matches(&[Value::Int(1), Value::Int(v)]));
    assert_eq!(exact(n), Ok(true), "{n} into {ty}");
    assert_ne!(exact(n + 1), Ok(true), "{n} into {ty}");
    Ok(Value::Int(n as i64))
}

#[test]
fn every_width_at_every_boundary_through_every_entry_point() {
    let dir = tempfile::tempdir().unwrap();
    for ty in TYPES {
        let db = Database::in_memory();
        db.create_table(schema(ty)).unwrap();
        for n in candidates(ty) {
            expect(ty, n, through_row(&db, ty, n), "row");
            expect(ty, n, through_import(dir.path(), ty, n), "import");
            let parsed = through_condition(ty, n);
            // Beyond i64 a literal is refused as a number no column holds; else as for
            // where_eq.
            if i64::try_from(n).is_err() {
                assert!(
                    matches!(parsed, Err(Error::InvalidExpression { .. })),
                    "{n} into {ty}: {parsed:?}"
                );
            } else {
                expect(ty, n, parsed, "condition");
            }
        }
    }
}

#[test]
fn floats_never_round_into_integer_columns() {
    let db = Database::in_memory();
    db.create_table(schema(ColumnType::I64)).unwrap();
    let t = db.dyn_table("nums").unwrap();
    for f in [
        9_223_372_036_854_775_808.0,
        -9.223_372_036_854_777e18,
        0.5,
        f64::NAN,
        1e300,
        // -2^63 is i64::MIN, but also what any result below it rounds to as a float.
        -9_223_372_036_854_775_808.0,
    ] {
        let e = t.insert(row! { "n" => f }).unwrap_err();
        assert!(matches!(e, Error::TypeMismatch { .. }), "{f}: {e}");
    }
    t.insert(row! { "n" => -9_223_372_036_854_774_784.0 })
        .expect("-2^63 + 1024 is a float and an i64");
    t.insert(row! { "n" => i64::MIN }).unwrap();
    let rows = t.select().all().unwrap();
    assert_eq!(rows[0]["n"], Value::Int(-9_223_372_036_854_774_784));
    assert_eq!(rows[1]["n"], Value::Int(i64::MIN));
    // SQL arithmetic that overflows becomes a float (as in SQLite), which rounds to -2^63
    // below i64: stored, it would be i64::MIN, not the result. It is refused, as the same
    // overflow above i64 is, and the row keeps its value.
    db.sql("INSERT INTO nums (n) VALUES (-9223372036854775803)")
        .unwrap();
    for text in [
        "UPDATE nums SET n = n - 10 WHERE n = -9223372036854775803",
        "INSERT INTO nums (n) VALUES (-9223372036854775808 - 1)",
    ] {
        let e = db.sql(text).unwrap_err();
        assert!(
            matches!(&e, Error::TypeMismatch { column, .. } if column == "n"),
            "{text}: {e}"
        );
    }
    assert_eq!(
        db.sql("SELECT n FROM nums ORDER BY id").unwrap().rows,
        [
            [Value::Int(-9_223_372_036_854_774_784)],
            [Value::Int(i64::MIN)],
            [Value::Int(-9_223_372_036_854_775_803)],
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    /// Random values within 1024 of a boundary, through the dynamic API and a condition.
    #[test]
    fn near_the_boundaries(which in 0usize..8, side in any::<bool>(), delta in -1024i128..1024) {
        let ty = TYPES[which];
        let (lo, hi) = range(ty);
        let n = if side { hi } else { lo } + delta;
        let db = Database::in_memory();
        db.create_table(schema(ty)).unwrap();
        expect(ty, n, through_row(&db, ty, n), "row");
        if i64::try_from(n).is_ok() {
            expect(ty, n, through_condition(ty, n), "condition");
        }
    }
}

#[derive(tabula::Table, Debug, Clone, PartialEq)]
#[table(name = "wide")]
struct Wide {
    #[column(primary_key)]
    id: u64,
    n: u64,
}

/// The typed API: a `u64` field above `i64::MAX` is refused by name, never saturated, and
/// the key column too; `i64::MAX` itself is stored exactly.
#[test]
fn typed_u64_fields_above_i64_are_refused() {
    let db = Database::in_memory();
    let t = db.table::<Wide>().unwrap();
    let max = i64::MAX as u64;
    for n in [max + 1, max + 2, max + 1024, max + 1025, u64::MAX] {
        let e = t.insert(Wide { id: 0, n }).unwrap_err();
        match e {
            Error::TypeMismatch { column, value, .. } => {
                assert_eq!(column, "n");
                assert_eq!(value, Value::Text(format!("{n} (above i64::MAX)")));
            }
            other => panic!("{n}: {other}"),
        }
        let e = t.insert(Wide { id: n, n: 1 }).unwrap_err();
        assert!(
            matches!(e, Error::TypeMismatch { ref column, .. } if column == "id"),
            "{e}"
        );
    }
    let id = t.insert(Wide { id: 0, n: max }).unwrap();
    assert_eq!(t.get(id).unwrap().unwrap().n, max);
    // Nothing refused left a trace: the next automatic key is the next one.
    assert_eq!(t.insert(Wide { id: 0, n: 0 }).unwrap(), id + 1);
}

/// A refused number's message says why where the type's name alone does not: the range of
/// an integer type, a fraction, an integer no float holds exactly.
#[test]
fn a_refused_number_s_message_says_why() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE m (id INTEGER PRIMARY KEY, small SMALLINT, x REAL)")
        .unwrap();
    let refused = |sql: &str| match db.sql(sql) {
        Err(e) => match e.innermost() {
            e @ Error::TypeMismatch { .. } => e.to_string(),
            other => panic!("{sql}: {other:?}"),
        },
        Ok(r) => panic!("{sql}: {r:?}"),
    };
    assert_eq!(
        refused("INSERT INTO m (small) VALUES (70000)"),
        "m.small is i16, which cannot hold 70000 (i16 holds -32768 to 32767)"
    );
    assert_eq!(
        refused("INSERT INTO m (small) VALUES (2.5)"),
        "m.small is i16, which cannot hold 2.5 (not a whole number)"
    );
    assert_eq!(
        refused("INSERT INTO m (x) VALUES (9007199254740993)"),
        "m.x is f64, which cannot hold 9007199254740993 (an integer beyond ±2^53 has no exact \
         f64 value: store it in an integer column, or write it as a float)"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM m").unwrap().rows,
        [[Value::Int(0)]]
    );
}

#[derive(tabula::Table, Debug, Clone, PartialEq)]
#[table(name = "nans")]
struct Nans {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    u: Option<f64>,
    #[column(index)]
    x: f64,
}

/// A NaN is one value, after `+inf`, whatever its bits, in memory as in the files (which
/// write every NaN as `NaN`): a NaN with its sign bit set (which `0.0 / 0.0` gives on x86)
/// once sorted first and was a second value of a unique column until a reopen made the two
/// one, and the table then failed to load.
#[test]
fn every_nan_is_one_value_before_and_after_a_reopen() {
    let signed = f64::from_bits(f64::NAN.to_bits() | (1 << 63));
    assert!(signed.is_nan() && signed.is_sign_negative());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let answers = |db: &Database| {
        let t = db.table::<Nans>().unwrap();
        let ordered = t.select().order_by("x").keys().unwrap();
        let nan = t.select().where_eq("x", f64::NAN).keys().unwrap();
        let signed_nan = t.select().where_eq("x", signed).keys().unwrap();
        let low = t.select().where_range("x", ..=-1e300).keys().unwrap();
        let max = t.select().max("x").unwrap();
        let sql: Vec<Value> = db
            .sql("SELECT id FROM nans ORDER BY x")
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        (ordered, nan, signed_nan, low, max.to_string(), sql)
    };
    let before = {
        let db = Database::open(&path).unwrap();
        let t = db.table::<Nans>().unwrap();
        for (id, x) in [(1, 1.0), (2, signed), (3, -5.0), (4, f64::NEG_INFINITY)] {
            t.insert(Nans { id, u: None, x }).unwrap();
        }
        t.insert(Nans {
            id: 5,
            u: Some(f64::NAN),
            x: 0.0,
        })
        .unwrap();
        let again = t.insert(Nans {
            id: 6,
            u: Some(signed),
            x: 0.0,
        });
        assert!(
            matches!(again, Err(Error::UniqueViolation { ref column, .. }) if column == "u"),
            "{again:?}"
        );
        let a = answers(&db);
        db.close().unwrap();
        a
    };
    assert_eq!(before.0, vec![4, 3, 5, 1, 2], "NaN sorts after +inf");
    assert_eq!(before.1, vec![2]);
    assert_eq!(before.2, vec![2]);
    assert_eq!(before.3, vec![4]);
    assert_eq!(before.4, "NaN");
    assert_eq!(before.5, [4, 3, 5, 1, 2].map(Value::Int).to_vec());
    let db = Database::open(&path).unwrap();
    assert_eq!(answers(&db), before, "a reopen changed an answer");
    assert_eq!(db.table::<Nans>().unwrap().count().unwrap(), 5);
}

#[derive(tabula::Table, Debug, Clone, PartialEq)]
#[table(name = "ints")]
struct Ints {
    #[column(primary_key)]
    id: u64,
    #[column(index)]
    n: i64,
    m: i64,
}

/// A NaN bound on an integer column: above every integer whatever its bits, through the
/// index as through a scan.
#[test]
fn a_nan_bound_on_integers_reads_alike_through_an_index_and_a_scan() {
    let signed = f64::from_bits(f64::NAN.to_bits() | (1 << 63));
    let db = Database::in_memory();
    let t = db.table::<Ints>().unwrap();
    for id in 1..=3 {
        t.insert(Ints {
            id,
            n: id as i64,
            m: id as i64,
        })
        .unwrap();
    }
    for nan in [f64::NAN, signed] {
        for col in ["n", "m"] {
            let above = t.select().where_range(col, nan..).keys().unwrap();
            let below = t.select().where_range(col, ..=nan).keys().unwrap();
            assert_eq!(above, Vec::<u64>::new(), "{col} >= {nan:?}");
            assert_eq!(below, vec![1, 2, 3], "{col} <= {nan:?}");
        }
    }
}
