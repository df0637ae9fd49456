use tabula::{Access, Error, OrderStrategy, Value};

use crate::common::{school, student};

fn names(v: Vec<crate::common::Student>) -> Vec<String> {
    v.into_iter().map(|s| s.name).collect()
}

#[test]
fn select_defaults_to_key_order() {
    let (_db, s) = school();
    assert_eq!(
        names(s.select().all().unwrap()),
        ["Alice", "Bob", "Cara", "Dan", "Eve"]
    );
    assert_eq!(s.select().keys().unwrap(), vec![1, 2, 3, 4, 5]);
}

#[test]
fn filter_order_limit_offset() {
    let (_db, s) = school();
    let top = s
        .select()
        .filter(|x| x.gpa > 3.5)
        .order_by("-gpa")
        .all()
        .unwrap();
    assert_eq!(names(top), ["Eve", "Alice", "Cara"]);
    let page = s
        .select()
        .order_by("name")
        .limit(2)
        .offset(1)
        .all()
        .unwrap();
    assert_eq!(names(page), ["Bob", "Cara"]);
    assert_eq!(
        s.select().order_by("-gpa").first().unwrap().unwrap().name,
        "Eve"
    );
    assert_eq!(s.select().filter(|x| x.year == 2023).count().unwrap(), 2);
    assert_eq!(s.select().offset(10).all().unwrap(), vec![]);
    assert_eq!(s.select().limit(0).count().unwrap(), 0);
}

#[test]
fn multi_key_order_breaks_ties_in_order() {
    let (_db, s) = school();
    let v = s.select().order_by("-year").order_by("gpa").all().unwrap();
    assert_eq!(names(v), ["Cara", "Alice", "Bob", "Eve", "Dan"]);
    // Ties beyond the order keys come in key order.
    let v = s.select().order_by("year").all().unwrap();
    assert_eq!(names(v), ["Dan", "Bob", "Eve", "Alice", "Cara"]);
    let v = s.select().order_by("-year").limit(3).all().unwrap();
    assert_eq!(names(v), ["Alice", "Cara", "Bob"]);
}

#[test]
fn where_eq_and_range_use_indexes() {
    let (_db, s) = school();
    let plan = s.select().where_eq("year", 2024).explain().unwrap();
    assert_eq!(
        plan.access,
        Access::IndexRange {
            column: "year".into()
        }
    );
    assert_eq!(
        names(s.select().where_eq("year", 2024).all().unwrap()),
        ["Alice", "Cara"]
    );

    let plan = s
        .select()
        .where_eq("email", "bob@uni.edu")
        .explain()
        .unwrap();
    assert_eq!(
        plan.access,
        Access::UniqueIndex {
            column: "email".into()
        }
    );
    let plan = s.select().where_eq("id", 3).explain().unwrap();
    assert_eq!(
        plan.access,
        Access::PrimaryKey {
            column: "id".into()
        }
    );

    let r = s
        .select()
        .where_range("year", 2023..=2024)
        .order_by("-gpa")
        .all()
        .unwrap();
    assert_eq!(names(r), ["Eve", "Alice", "Cara", "Bob"]);
    let r = s.select().where_range("year", 2023..2024).all().unwrap();
    assert_eq!(names(r), ["Bob", "Eve"]);

    // A predicate on a column without an index is a scan.
    let plan = s.select().where_range("gpa", 3.0..=4.0).explain().unwrap();
    assert_eq!(plan.access, Access::FullScan);
    assert_eq!(s.select().where_range("gpa", 3.0..=4.0).count().unwrap(), 4);
    // An integer bound on a float column and a float bound on an integer column both work.
    assert_eq!(s.select().where_range("gpa", 3..4).count().unwrap(), 4);
    assert_eq!(
        s.select()
            .where_range("year", 2022.5..2023.5)
            .count()
            .unwrap(),
        2
    );
}

#[test]
fn order_by_indexed_column_with_limit_walks_the_index() {
    let (_db, s) = school();
    let plan = s.select().order_by("-year").limit(2).explain().unwrap();
    assert_eq!(
        plan.order,
        OrderStrategy::IndexOrder {
            column: "year".into()
        }
    );
    let plan = s.select().order_by("-gpa").limit(2).explain().unwrap();
    assert_eq!(plan.order, OrderStrategy::TopK { k: 2 });
    let plan = s
        .select()
        .order_by("-gpa")
        .limit(2)
        .offset(3)
        .explain()
        .unwrap();
    assert_eq!(plan.order, OrderStrategy::TopK { k: 5 });
    let plan = s.select().order_by("gpa").explain().unwrap();
    assert_eq!(plan.order, OrderStrategy::Sort);
    assert_eq!(plan.to_string(), "students: full scan, sort");
    // A lookup of the key finds one row at most: nothing is ordered, whatever was asked.
    let plan = s
        .select()
        .where_eq("id", 1u64)
        .order_by("gpa")
        .explain()
        .unwrap();
    assert_eq!(plan.order, OrderStrategy::OneRow);
    assert_eq!(
        plan.to_string(),
        "students: primary-key lookup on id, one row at most"
    );
}

#[test]
fn unknown_columns_and_bad_values_are_errors() {
    let (_db, s) = school();
    let e = s.select().order_by("-height").all().unwrap_err();
    assert!(
        matches!(&e, Error::UnknownColumn { column, .. } if column == "height"),
        "{e}"
    );
    assert_eq!(e.to_string(), "table students has no column \"height\"");
    let e = s.select().where_eq("year", "soon").all().unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    let e = s.select().where_range("nope", 1..2).count().unwrap_err();
    assert!(matches!(e, Error::UnknownColumn { .. }));
    let e = s.get_by("name", "Bob").unwrap_err();
    assert!(matches!(e, Error::InvalidColumnUse { .. }), "{e}");
}

/// A condition's error quotes at most the first 200 characters of a long expression (the
/// error's field keeps all of it), and shows no place where the parser kept none (it gave
/// `REGEXP` "Line: 0, Column: 0").
#[test]
fn condition_errors_stay_short_and_place_only_what_is_known() {
    let (_db, s) = school();
    let long = format!(
        "{} AND name REGEXP 'a'",
        vec!["year > 0"; 5_000].join(" AND ")
    );
    let e = s.select().where_sql(&long).count().unwrap_err();
    match &e {
        Error::InvalidExpression { expression, reason } => {
            assert_eq!(expression, &long);
            assert!(reason.contains("REGEXP"), "{reason}");
        }
        other => panic!("expected InvalidExpression, got {other:?}"),
    }
    let shown = e.to_string();
    let quoted = format!("invalid expression {:?}…", &long[..200]);
    assert!(shown.starts_with(&quoted), "{}", &shown[..300]);
    assert!(
        shown.contains(&format!("({} characters)", long.len())),
        "{}",
        &shown[..300]
    );
    let e = s.select().where_sql("name REGEXP 'a'").count().unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid expression \"name REGEXP 'a'\": unsupported expression name REGEXP 'a'"
    );
}

#[test]
fn get_and_get_by() {
    let (_db, s) = school();
    assert_eq!(s.get(2u64).unwrap().unwrap().name, "Bob");
    assert_eq!(s.get(99u64).unwrap(), None);
    assert_eq!(s.get_by("email", "cara@uni.edu").unwrap().unwrap().id, 3);
    assert_eq!(s.get_by("email", "zed@uni.edu").unwrap(), None);
    assert!(matches!(s.get("x"), Err(Error::TypeMismatch { .. })));
}

/// Every form a key can be given in finds the same row, on a plain handle and in a read
/// transaction (whose text lookups take a borrowed fast path), and bad keys are refused the
/// same way on both.
#[test]
fn lookups_accept_every_key_form_alike() {
    let (_db, s) = school();
    let email = String::from("cara@uni.edu");
    let as_value = Value::from("cara@uni.edu");
    let plain = [
        s.get_by("email", "cara@uni.edu").unwrap(),
        s.get_by("email", &email).unwrap(),
        s.get_by("email", email.clone()).unwrap(),
        s.get_by("email", &as_value).unwrap(),
        s.get_by("email", as_value.clone()).unwrap(),
        s.get_by("email", Some("cara@uni.edu")).unwrap(),
        s.get_by("id", 3u8).unwrap(),
        s.get_by("id", 3.0).unwrap(),
    ];
    for found in &plain {
        assert_eq!(found.as_ref().map(|x| x.id), Some(3));
    }
    s.read(|t| {
        assert_eq!(t.get_by_with("email", "cara@uni.edu", |x| x.id)?, Some(3));
        assert_eq!(t.get_by_with("email", &email, |x| x.id)?, Some(3));
        assert_eq!(t.get_by_with("email", as_value.clone(), |x| x.id)?, Some(3));
        assert_eq!(t.get_by_with("id", 3i64, |x| x.id)?, Some(3));
        assert_eq!(t.get_by_with("email", "cara@uni.ed", |x| x.id)?, None);
        assert_eq!(t.get_by("email", "zed@uni.edu")?, None);
        // Wrong kinds, nulls in a NOT NULL column, non-unique and unknown columns.
        let e = t.get_by("email", 5).unwrap_err();
        assert!(
            matches!(&e, Error::TypeMismatch { table, column, .. } if table == "students" && column == "email"),
            "{e}"
        );
        assert!(e.to_string().contains('5'), "{e}");
        assert!(matches!(t.get_by("email", None::<&str>), Err(Error::NotNull { .. })));
        assert!(matches!(t.get_by("name", "Bob"), Err(Error::InvalidColumnUse { .. })));
        assert!(matches!(t.get_by("mail", "x"), Err(Error::UnknownColumn { .. })));
        Ok(())
    })
    .unwrap();
    assert!(matches!(
        s.get_by("email", 5),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        s.get_by("mail", "x"),
        Err(Error::UnknownColumn { .. })
    ));
    assert!(matches!(s.get(u64::MAX), Err(Error::TypeMismatch { .. })));
    let three = Value::Int(3);
    assert!(s.delete_key(&three).unwrap());
    assert_eq!(s.get_by("email", "cara@uni.edu").unwrap(), None);
}

#[test]
fn nulls_sort_first_and_never_match_ranges() {
    let (_db, s) = school();
    s.update(|x| x.name == "Bob", |x| x.advisor = Some("Turing".into()))
        .unwrap();
    let v = s.select().order_by("advisor").order_by("id").all().unwrap();
    assert_eq!(v.last().unwrap().name, "Bob");
    assert_eq!(
        s.select().where_eq("advisor", Value::Null).count().unwrap(),
        4
    );
    assert_eq!(s.select().where_range("advisor", .."Z").count().unwrap(), 1);
}

#[test]
fn floats_order_totally_with_nan_last() {
    let (_db, s) = school();
    s.insert(student("Nan", 2020, f64::NAN)).unwrap();
    s.insert(student("Inf", 2020, f64::INFINITY)).unwrap();
    let v = s.select().order_by("-gpa").limit(2).all().unwrap();
    assert_eq!(names(v), ["Nan", "Inf"]);
}

/// The top k of a larger table, with many ties and deleted rows, is the sorted table's
/// first k, in both directions.
#[test]
fn top_k_of_a_larger_table_agrees_with_sorting() {
    let db = tabula::Database::in_memory();
    let s = db.table::<crate::common::Student>().unwrap();
    let rows = (0..70_000u32).map(|i| {
        // The best of each order lies in one half only: 4.00 in the second, 0.00 in the first.
        let gpa = f64::from((i * 37) % 400 + u32::from(i >= 40_000)) / 100.0;
        let mut st = student("S", 2020, gpa);
        st.email = format!("s{i}@uni.edu");
        st
    });
    s.insert_many(rows).unwrap();
    // Remove some of the best rows from both halves.
    s.delete(|x| (x.gpa == 4.0 || x.gpa == 0.0) && x.id % 3 == 0)
        .unwrap();
    let mut all = s.select().all().unwrap();
    for (order, k) in [("-gpa", 25), ("gpa", 7), ("-gpa", 1)] {
        all.sort_by(|a, b| {
            let o = a.gpa.total_cmp(&b.gpa);
            let o = if order.starts_with('-') {
                o.reverse()
            } else {
                o
            };
            o.then(a.id.cmp(&b.id))
        });
        let want: Vec<u64> = all[..k].iter().map(|x| x.id).collect();
        assert_eq!(
            s.select().order_by(order).limit(k).keys().unwrap(),
            want,
            "{order} {k}"
        );
    }
}

#[test]
fn large_table_top_k_and_index_walk_agree_with_sorting() {
    let db = tabula::Database::in_memory();
    let s = db.table::<crate::common::Student>().unwrap();
    let rows = (0..3000u32).map(|i| {
        let mut st = student(
            &format!("S{i}"),
            2015 + (i * 7) % 10,
            f64::from((i * 37) % 400) / 100.0,
        );
        st.email = format!("s{i}@uni.edu");
        st
    });
    s.insert_many(rows).unwrap();
    let all = s.select().all().unwrap();
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| b.gpa.total_cmp(&a.gpa).then(a.id.cmp(&b.id)));
    assert_eq!(
        s.select().order_by("-gpa").limit(10).all().unwrap(),
        sorted[..10].to_vec()
    );
    let mut by_year = all.clone();
    by_year.sort_by(|a, b| {
        b.year
            .cmp(&a.year)
            .then(a.gpa.total_cmp(&b.gpa))
            .then(a.id.cmp(&b.id))
    });
    let got = s
        .select()
        .order_by("-year")
        .order_by("gpa")
        .limit(25)
        .offset(5)
        .all()
        .unwrap();
    assert_eq!(got, by_year[5..30].to_vec());
    let in_range: Vec<_> = all
        .iter()
        .filter(|x| (2018..=2019).contains(&x.year))
        .cloned()
        .collect();
    assert_eq!(
        s.select().where_range("year", 2018..=2019).all().unwrap(),
        in_range
    );
}

#[test]
fn unique_columns_range_through_an_index_only_when_asked() {
    use tabula::{Database, Table};
    #[derive(Table, Clone, Debug)]
    struct Code {
        #[column(primary_key)]
        id: u64,
        #[column(unique)]
        plain: String,
        #[column(unique, index)]
        ranged: String,
    }
    let db = Database::in_memory();
    let t = db.table::<Code>().unwrap();
    for c in ["b", "a", "d", "c"] {
        t.insert(Code {
            id: 0,
            plain: c.into(),
            ranged: c.into(),
        })
        .unwrap();
    }
    let plan = t
        .select()
        .where_range("plain", "b"..="c")
        .explain()
        .unwrap();
    assert_eq!(plan.access, Access::FullScan);
    let plan = t
        .select()
        .where_range("ranged", "b"..="c")
        .explain()
        .unwrap();
    assert_eq!(
        plan.access,
        Access::IndexRange {
            column: "ranged".into()
        }
    );
    let plan = t.select().where_eq("ranged", "d").explain().unwrap();
    assert_eq!(
        plan.access,
        Access::UniqueIndex {
            column: "ranged".into()
        }
    );
    let got = t
        .select()
        .where_range("ranged", "b"..="c")
        .order_by("-ranged")
        .keys()
        .unwrap();
    assert_eq!(got, [4, 1]);
    assert_eq!(
        t.select().where_range("plain", "b"..="c").keys().unwrap(),
        [1, 4]
    );
}

/// Thousands of rows over four years make each year's posting a bitmap, a few rows keep
/// others as lists or single slots; deletes, updates and a rolled-back transaction move
/// rows between them. Every index answer must match a plain filter over all rows.
#[test]
fn indexed_queries_stay_right_as_values_grow_dense_and_sparse() {
    let db = tabula::Database::in_memory();
    let s = db.table::<crate::common::Student>().unwrap();
    let rows = (0..3000u32).map(|i| {
        let mut st = student(&format!("S{i}"), 2000 + i % 4, f64::from(i % 7));
        st.email = format!("s{i}@uni.edu");
        st
    });
    s.insert_many(rows).unwrap();
    // A few sparse years: single slots and short lists.
    s.update(|x| x.id % 500 == 7, |x| x.year = 1990 + (x.id % 3) as u32)
        .unwrap();
    s.delete(|x| x.id % 3 == 0).unwrap();
    s.update(|x| x.id % 5 == 0, |x| x.year = 2001).unwrap();
    let before = s.select().all().unwrap();
    let r: Result<(), Error> = db.transaction(|tx| {
        let t = tx.table::<crate::common::Student>()?;
        t.delete(|x| x.year == 2001)?;
        t.update(|x| x.year == 2002, |x| x.year = 2003)?;
        Err(Error::abort("roll back"))
    });
    assert!(matches!(r, Err(Error::Aborted(_))), "{r:?}");
    assert_eq!(s.select().all().unwrap(), before);
    let all = s.select().all().unwrap();
    let ids = |v: &[crate::common::Student]| v.iter().map(|x| x.id).collect::<Vec<_>>();
    for year in [1990u32, 1991, 1992, 1999, 2000, 2001, 2002, 2003] {
        let want: Vec<_> = all.iter().filter(|x| x.year == year).cloned().collect();
        let got = s.select().where_eq("year", year).all().unwrap();
        assert_eq!(ids(&got), ids(&want), "year {year}");
    }
    let want: Vec<_> = all
        .iter()
        .filter(|x| (1991..=2001).contains(&x.year))
        .cloned()
        .collect();
    let mut got = ids(&s.select().where_range("year", 1991..=2001).all().unwrap());
    got.sort_unstable();
    assert_eq!(got, ids(&want));
    // Index order: by year, then by row position; both directions, with a window.
    let mut by_year = all.clone();
    by_year.sort_by_key(|x| (x.year, x.id));
    let asc = s
        .select()
        .order_by("year")
        .offset(10)
        .limit(700)
        .all()
        .unwrap();
    assert_eq!(
        asc.iter().map(|x| x.year).collect::<Vec<_>>(),
        by_year[10..710].iter().map(|x| x.year).collect::<Vec<_>>()
    );
    let desc = s.select().order_by("-year").limit(5).all().unwrap();
    assert!(desc.iter().all(|x| x.year == 2003));
    let last = s
        .select()
        .order_by("-year")
        .offset(all.len() - 3)
        .all()
        .unwrap();
    assert_eq!(
        last.iter().map(|x| x.year).collect::<Vec<_>>(),
        by_year[..3]
            .iter()
            .rev()
            .map(|x| x.year)
            .collect::<Vec<_>>()
    );
}

mod bounds {
    use tabula::Table;

    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "indexed")]
    pub struct Indexed {
        #[column(primary_key)]
        pub id: u64,
        #[column(index)]
        pub n: i64,
        #[column(index)]
        pub x: f64,
    }

    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "plain")]
    pub struct Plain {
        #[column(primary_key)]
        pub id: u64,
        pub n: i64,
        pub x: f64,
    }
}

/// A range through an ordered index finds exactly the rows a scan with the same bounds
/// finds, for the bounds an index must convert to its own key type: `-0.0` on an integer
/// column (0 compares as +0.0, above it), integers no float holds exactly on a float column
/// (2^53 + 1, i64::MAX), and a NULL bound, which is refused.
#[test]
fn index_ranges_agree_with_scans_at_converted_bounds() {
    use std::ops::Bound::{self, Excluded, Included, Unbounded};
    let db = tabula::Database::in_memory();
    let (ix, plain) = (
        db.table::<bounds::Indexed>().unwrap(),
        db.table::<bounds::Plain>().unwrap(),
    );
    let two53 = 9_007_199_254_740_992.0;
    let ns = [-2, -1, 0, 1, 2, i64::MAX, i64::MIN];
    let xs = [
        -0.0,
        0.0,
        1.0,
        two53,
        two53 + 2.0,
        9.223_372_036_854_776e18,
        -9.223_372_036_854_776e18,
    ];
    for (i, (&n, &x)) in ns.iter().zip(&xs).enumerate() {
        let id = i as u64 + 1;
        ix.insert(bounds::Indexed { id, n, x }).unwrap();
        plain.insert(bounds::Plain { id, n, x }).unwrap();
    }
    for text in [
        "n > -0.0",
        "n >= -0.0",
        "n < -0.0",
        "n <= -0.0",
        "x < 9007199254740993",
        "x <= 9007199254740993",
        "x > 9007199254740993",
        "x >= 9007199254740993",
        "x <= 9223372036854775807",
        "x > 9223372036854775807",
        "x >= -9223372036854775807",
        "x < -9223372036854775807",
    ] {
        let plan = ix.select().where_sql(text).explain().unwrap();
        assert!(
            matches!(plan.access, Access::IndexRange { .. }),
            "{text}: {plan:?}"
        );
        assert_eq!(
            ix.select().where_sql(text).keys().unwrap(),
            plain.select().where_sql(text).keys().unwrap(),
            "{text}"
        );
    }
    let ranges: Vec<(&str, Bound<Value>, Bound<Value>)> = vec![
        ("n", Excluded(Value::Float(-0.0)), Unbounded),
        ("n", Included(Value::Float(-0.0)), Unbounded),
        ("n", Unbounded, Included(Value::Float(-0.0))),
        ("n", Unbounded, Excluded(Value::Float(-0.0))),
        ("x", Unbounded, Included(Value::Int(i64::MAX))),
        ("x", Excluded(Value::Int(i64::MAX)), Unbounded),
        ("x", Included(Value::Int(9_007_199_254_740_993)), Unbounded),
        ("x", Unbounded, Excluded(Value::Int(9_007_199_254_740_993))),
        ("x", Included(Value::Int(i64::MIN + 1)), Unbounded),
        ("x", Unbounded, Included(Value::Int(i64::MIN + 1))),
    ];
    for (col, lo, hi) in ranges {
        let context = format!("{col} in ({lo:?}, {hi:?})");
        assert_eq!(
            ix.select()
                .where_range(col, (lo.clone(), hi.clone()))
                .keys()
                .unwrap(),
            plain.select().where_range(col, (lo, hi)).keys().unwrap(),
            "{context}"
        );
    }
    for t in [
        ix.select().where_range("n", Value::Null..).keys(),
        plain.select().where_range("n", Value::Null..).keys(),
    ] {
        assert!(
            matches!(&t, Err(Error::TypeMismatch { column, value: Value::Null, .. }) if column == "n"),
            "{t:?}"
        );
    }
    // In a condition, a null end is SQL's: BETWEEN holds for no row, through the index or not.
    for text in [
        "n BETWEEN NULL AND 5",
        "n BETWEEN -5 AND NULL",
        "x BETWEEN NULL AND NULL",
    ] {
        assert_eq!(
            ix.select().where_sql(text).keys().unwrap(),
            Vec::<u64>::new(),
            "{text}"
        );
        assert_eq!(
            plain.select().where_sql(text).keys().unwrap(),
            Vec::<u64>::new(),
            "{text}"
        );
    }
}

/// A float constant compared with an `f32` column is taken as the column would store it:
/// `where_eq`, `where_range`, `where_sql` (its `=`, `<=`, `BETWEEN`) and a check all find the
/// row that stored `0.1`, through an index or a scan; before, the ranges compared the
/// stored `0.1f32` (above `0.1`) with the double `0.1`, so `where_range(f, 0.1..=0.1)` missed
/// the row `where_eq(f, 0.1)` found, and a check `f <= 0.1` refused storing `0.1`.
#[test]
fn f32_columns_compare_constants_as_they_store_them() {
    use tabula::{row, Column, ColumnType, Schema};
    for indexed in [false, true] {
        let db = tabula::Database::in_memory();
        let mut f = Column::new("f", ColumnType::F32).checked("f <= 0.1 OR f >= 0.3");
        if indexed {
            f = f.indexed();
        }
        let schema = Schema::new(
            "t",
            vec![Column::new("id", ColumnType::U64).primary_key(), f],
        )
        .unwrap();
        let t = db.create_table(schema).unwrap();
        t.insert(row! {"id" => 1u64, "f" => 0.1f64}).unwrap();
        t.insert(row! {"id" => 2u64, "f" => 0.3f64}).unwrap();
        t.insert(row! {"id" => 3u64, "f" => 0.05f64}).unwrap();
        let refused = t.insert(row! {"id" => 4u64, "f" => 0.2f64});
        assert!(
            matches!(&refused, Err(Error::Check { constraint, key: Value::Int(4), .. }) if constraint == "f <= 0.1 OR f >= 0.3"),
            "{refused:?}"
        );
        let context = format!("indexed: {indexed}");
        let keys = |q: tabula::Select<'_, tabula::Row>| q.keys().unwrap();
        assert_eq!(
            keys(t.select().where_eq("f", 0.1)),
            [Value::Int(1)],
            "{context}"
        );
        assert_eq!(
            keys(t.select().where_range("f", 0.1..=0.1)),
            [Value::Int(1)],
            "{context}"
        );
        assert_eq!(
            keys(t.select().where_range("f", ..=0.1)),
            [Value::Int(1), Value::Int(3)],
            "{context}"
        );
        assert_eq!(
            keys(t.select().where_range("f", 0.1..0.3)),
            [Value::Int(1)],
            "{context}"
        );
        assert_eq!(
            keys(t.select().where_range("f", 0.3..)),
            [Value::Int(2)],
            "{context}"
        );
        for (text, want) in [
            ("f = 0.1", vec![1]),
            ("f <= 0.1", vec![1, 3]),
            ("f < 0.1", vec![3]),
            ("f > 0.1", vec![2]),
            ("0.1 >= f", vec![1, 3]),
            ("f BETWEEN 0.1 AND 0.3", vec![1, 2]),
            ("f IN (0.1, 0.3)", vec![1, 2]),
            // Integer bounds compare exactly: 0 and 1 are f32 values already.
            ("f > 0 AND f < 1", vec![1, 2, 3]),
        ] {
            let want: Vec<Value> = want.into_iter().map(Value::Int).collect();
            assert_eq!(keys(t.select().where_sql(text)), want, "{text}, {context}");
        }
        // A finite bound beyond f32's range is not rounded to an infinity: the stored
        // infinities stay outside it.
        t.delete(|_| true).unwrap();
        for (id, f) in [(5u64, f64::NEG_INFINITY), (6, 1e30), (7, f64::INFINITY)] {
            t.insert(row! {"id" => id, "f" => f}).unwrap();
        }
        assert_eq!(
            keys(t.select().where_range("f", -1e300..=1e300)),
            [Value::Int(6)],
            "{context}"
        );
        assert_eq!(
            keys(t.select().where_range("f", ..-1e300)),
            [Value::Int(5)],
            "{context}"
        );
        for (text, want) in [
            ("f <= 1e300", vec![5, 6]),
            ("f > 1e300", vec![7]),
            ("f BETWEEN -1e300 AND 1e300", vec![6]),
        ] {
            let want: Vec<Value> = want.into_iter().map(Value::Int).collect();
            assert_eq!(keys(t.select().where_sql(text)), want, "{text}, {context}");
        }
    }
}

/// `BETWEEN x AND x` is an equality only where the column can hold `x`: with a bound it
/// cannot hold (a fraction on an integer column, a number beyond i64 or a double) it is a
/// range that finds nothing, as SQL answers, not an error; the index serves it either way.
#[test]
fn between_equal_bounds_the_column_cannot_hold_finds_nothing() {
    let (db, s) = crate::common::school();
    for text in [
        "year BETWEEN 2.5 AND 2.5",
        "year BETWEEN 99999999999999999999 AND 99999999999999999999",
        "year BETWEEN 1e400 AND 1e400",
        "id BETWEEN 1e400 AND 1e400",
    ] {
        assert_eq!(s.select().where_sql(text).count().unwrap(), 0, "{text}");
        let sql = format!("SELECT COUNT(*) FROM students WHERE {text}");
        assert_eq!(
            db.sql(&sql).unwrap().rows,
            [[tabula::Value::Int(0)]],
            "{text}"
        );
    }
    assert_eq!(
        s.select()
            .where_sql("year BETWEEN 2024 AND 2024")
            .count()
            .unwrap(),
        2
    );
    assert_eq!(
        s.select()
            .where_sql("year BETWEEN 2023.0 AND 2023.0")
            .count()
            .unwrap(),
        2
    );
}
