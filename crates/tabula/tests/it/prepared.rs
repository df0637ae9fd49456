//! Prepared statements (`db.prepare`, run on the database or in a transaction): the same
//! answers and errors as `db.sql_with` and the general path, names bound for the schema a
//! run meets, rows streamed by `each` and borrowed by `each_ref`.

use tabula::{Database, Error, Table, Value, ValueRef};

#[derive(Table, Debug, Clone, PartialEq)]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(unique)]
    email: String,
    gpa: f64,
}

fn students(db: &Database) {
    let t = db.table::<Student>().unwrap();
    for (name, gpa) in [("ann", 3.5), ("bob", 2.5), ("cy", 3.9)] {
        t.insert(Student {
            id: 0,
            name: name.into(),
            email: format!("{name}@uni.edu"),
            gpa,
        })
        .unwrap();
    }
}

/// The rows `each` hands out, collected.
fn streamed(st: &tabula::Statement<'_>, params: &[Value]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    st.each(params, |row| {
        rows.push(row.to_vec());
        Ok(true)
    })
    .unwrap();
    rows
}

/// The rows `each_ref` hands out, copied.
fn borrowed(st: &tabula::Statement<'_>, params: &[Value]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    st.each_ref(params, |row| {
        rows.push(row.iter().copied().map(ValueRef::to_owned).collect());
        Ok(true)
    })
    .unwrap();
    rows
}

#[test]
fn a_prepared_lookup_answers_as_sql_with_does_for_every_key() {
    let db = Database::in_memory();
    students(&db);
    for text in [
        "SELECT id, name, email, gpa FROM student WHERE id = ?",
        "SELECT * FROM student WHERE email = ?",
        "SELECT name AS n, s.gpa FROM student s WHERE s.email = ?",
        "SELECT name, gpa * 2 FROM student WHERE gpa > ? ORDER BY gpa",
    ] {
        let st = db.prepare(text).unwrap();
        assert_eq!(st.text(), text);
        let keys = if text.contains("email") {
            ["ann@uni.edu", "cy@uni.edu", "nobody"]
                .map(Value::from)
                .to_vec()
        } else if text.contains("gpa >") {
            vec![Value::Float(3.0), Value::Float(5.0)]
        } else {
            vec![
                Value::Int(1),
                Value::Int(3),
                Value::Int(99),
                Value::from("1"),
            ]
        };
        // A LIMIT takes the general path: the oracle for the point lookups.
        let general = format!("{text} LIMIT 10");
        for k in keys {
            let params = [k];
            let expected = db.sql_with(&general, &params).unwrap();
            assert_eq!(
                db.sql_with(text, &params).unwrap(),
                expected,
                "{text} {params:?}"
            );
            assert_eq!(st.run(&params).unwrap(), expected, "{text} {params:?}");
            assert_eq!(streamed(&st, &params), expected.rows, "{text} {params:?}");
            assert_eq!(borrowed(&st, &params), expected.rows, "{text} {params:?}");
        }
    }
}

#[test]
fn each_ref_hands_out_rows_wider_than_its_stack_buffer() {
    let db = Database::in_memory();
    let columns: Vec<String> = (0..40).map(|i| format!("c{i} INTEGER")).collect();
    db.sql(&format!(
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, {})",
        columns.join(", ")
    ))
    .unwrap();
    let values: Vec<String> = (0..40).map(|i| (i * 10).to_string()).collect();
    db.sql(&format!(
        "INSERT INTO wide VALUES (1, {})",
        values.join(", ")
    ))
    .unwrap();
    let mut expected = vec![Value::Int(1)];
    expected.extend((0..40).map(|i| Value::Int(i * 10)));
    // The point lookup and the general path (a range) both hand out all 41 columns.
    for text in [
        "SELECT * FROM wide WHERE id = ?",
        "SELECT * FROM wide WHERE id >= ?",
    ] {
        let st = db.prepare(text).unwrap();
        assert_eq!(
            borrowed(&st, &[Value::Int(1)]),
            vec![expected.clone()],
            "{text}"
        );
        let narrow = db.prepare(&text.replace('*', "c39, c0")).unwrap();
        assert_eq!(
            borrowed(&narrow, &[Value::Int(1)]),
            vec![vec![Value::Int(390), Value::Int(0)]],
            "{text}"
        );
    }
}

#[test]
fn names_are_bound_when_the_statement_runs_not_when_it_is_prepared() {
    let db = Database::in_memory();
    // The table does not exist yet: preparing parses only.
    let get = db.prepare("SELECT * FROM n WHERE id = ?").unwrap();
    let e = get.run(&[Value::Int(1)]).unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason == "no table named n"),
        "{e:?}"
    );
    db.sql("CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO n (v) VALUES (7)")
        .unwrap();
    assert_eq!(
        streamed(&get, &[Value::Int(1)]),
        [[Value::Int(1), Value::Int(7)]]
    );
    // A column added later is in `*`; a column renamed away is an error naming it.
    db.sql("ALTER TABLE n ADD COLUMN w TEXT DEFAULT 'x'")
        .unwrap();
    let r = get.run(&[Value::Int(1)]).unwrap();
    assert_eq!(r.columns, ["id", "v", "w"]);
    assert_eq!(r.rows, [[Value::Int(1), Value::Int(7), Value::from("x")]]);
    assert_eq!(streamed(&get, &[Value::Int(1)]), r.rows);
    let v = db.prepare("SELECT v FROM n WHERE id = ?").unwrap();
    assert_eq!(streamed(&v, &[Value::Int(1)]), [[Value::Int(7)]]);
    db.sql("ALTER TABLE n RENAME COLUMN v TO value").unwrap();
    let e = v.run(&[Value::Int(1)]).unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason.starts_with("table n has no column v")),
        "{e:?}"
    );
    let e = v.each(&[Value::Int(1)], |_| Ok(true)).unwrap_err();
    assert!(matches!(e, Error::Sql { .. }), "{e}");
}

/// A prepared lookup finds its table again after tables come and go: another one created
/// before it, the table itself dropped (an error naming it) and made again with other rows.
#[test]
fn a_lookup_follows_its_table_through_drops_and_creations_of_tables() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a')")
        .unwrap();
    let get = db.prepare("SELECT v FROM t WHERE id = ?").unwrap();
    assert_eq!(streamed(&get, &[Value::Int(1)]), [[Value::from("a")]]);
    db.sql("CREATE TABLE other (id INTEGER PRIMARY KEY); DROP TABLE t")
        .unwrap();
    let e = get.each(&[Value::Int(1)], |_| Ok(true)).unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason == "no table named t"),
        "{e:?}"
    );
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('b')")
        .unwrap();
    assert_eq!(streamed(&get, &[Value::Int(1)]), [[Value::from("b")]]);
    db.sql("DROP TABLE other").unwrap();
    assert_eq!(streamed(&get, &[Value::Int(1)]), [[Value::from("b")]]);
    assert_eq!(streamed(&get, &[Value::Int(2)]), Vec::<Vec<Value>>::new());
}

#[test]
fn a_lookup_run_before_and_after_a_migration_reads_the_columns_where_they_now_are() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE u (id INTEGER PRIMARY KEY, x INTEGER, e TEXT UNIQUE, v INTEGER);
         INSERT INTO u (x, e, v) VALUES (0, 'a', 10), (0, 'b', 20)",
    )
    .unwrap();
    let by_email = db.prepare("SELECT v, e FROM u WHERE e = ?").unwrap();
    let by_key = db.prepare("SELECT * FROM u WHERE id = ?").unwrap();
    let a = [Value::from("a")];
    assert_eq!(
        streamed(&by_email, &a),
        [[Value::Int(10), Value::from("a")]]
    );
    assert_eq!(streamed(&by_key, &[Value::Int(2)]).len(), 1);
    // Dropping x moves e and v one place to the left.
    db.sql("ALTER TABLE u DROP COLUMN x").unwrap();
    assert_eq!(
        streamed(&by_email, &a),
        [[Value::Int(10), Value::from("a")]]
    );
    assert_eq!(
        by_email.run(&[Value::from("b")]).unwrap().rows,
        [[Value::Int(20), Value::from("b")]]
    );
    assert_eq!(
        streamed(&by_key, &[Value::Int(2)]),
        [[Value::Int(2), Value::from("b"), Value::Int(20)]]
    );
    // A table dropped and made again, its columns in another order.
    db.sql(
        "DROP TABLE u;
         CREATE TABLE u (v INTEGER, e TEXT UNIQUE, id INTEGER PRIMARY KEY);
         INSERT INTO u (v, e, id) VALUES (30, 'a', 2)",
    )
    .unwrap();
    assert_eq!(
        streamed(&by_email, &a),
        [[Value::Int(30), Value::from("a")]]
    );
    assert_eq!(
        streamed(&by_key, &[Value::Int(2)]),
        [[Value::Int(30), Value::from("a"), Value::Int(2)]]
    );
    let r = by_key.run(&[Value::Int(2)]).unwrap();
    assert_eq!(r.columns, ["v", "e", "id"]);
}

#[test]
fn a_text_that_does_not_parse_is_refused_by_prepare() {
    let db = Database::in_memory();
    let e = db.prepare("SELEC id FROM t").unwrap_err();
    assert!(matches!(e, Error::Sql { line: 1, .. }), "{e}");
    // Known-unsupported features are named when the statement runs, where it is bound.
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY)").unwrap();
    let st = db.prepare("SELECT ROW_NUMBER() OVER () FROM t").unwrap();
    let e = st.run(&[]).unwrap_err();
    assert!(
        matches!(&e, Error::Unsupported { feature } if feature == "window functions"),
        "{e:?}"
    );
}

#[test]
fn a_wrong_number_of_parameters_is_an_error_and_runs_nothing() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        .unwrap();
    let add = db.prepare("INSERT INTO t (v) VALUES (?)").unwrap();
    for params in [&[][..], &[Value::Int(1), Value::Int(2)][..]] {
        let e = add.run(params).unwrap_err();
        assert!(
            matches!(&e, Error::Sql { reason, .. } if reason.contains("placeholder")),
            "{e}"
        );
        let e = add.each(params, |_| Ok(true)).unwrap_err();
        assert!(matches!(&e, Error::Sql { .. }), "{e}");
    }
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM t").unwrap().rows,
        [[Value::Int(0)]]
    );
}

#[test]
fn prepared_writes_validate_and_a_failure_changes_nothing() {
    let db = Database::in_memory();
    students(&db);
    let add = db
        .prepare("INSERT INTO student (name, email, gpa) VALUES (?, ?, ?)")
        .unwrap();
    let r = add
        .run(&[
            Value::from("dee"),
            Value::from("dee@uni.edu"),
            Value::Float(3.0),
        ])
        .unwrap();
    assert_eq!(r.changed, 1);
    // `each` on a write gives the rows it changed.
    let changed = add
        .each(
            &[
                Value::from("eve"),
                Value::from("eve@uni.edu"),
                Value::Float(3.1),
            ],
            |_| panic!("an INSERT hands out no rows"),
        )
        .unwrap();
    assert_eq!(changed, 1);
    let e = add
        .run(&[
            Value::from("ann2"),
            Value::from("ann@uni.edu"),
            Value::Float(1.0),
        ])
        .unwrap_err();
    assert!(
        matches!(&e, Error::UniqueViolation { table, column, value }
            if table == "student" && column == "email" && *value == Value::from("ann@uni.edu")),
        "{e}"
    );
    let e = add
        .run(&[Value::from("fay"), Value::Null, Value::Float(1.0)])
        .unwrap_err();
    assert!(
        matches!(&e, Error::NotNull { column, .. } if column == "email"),
        "{e}"
    );
    assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 5);
}

#[test]
fn an_error_from_each_ends_the_run_with_that_error() {
    let db = Database::in_memory();
    students(&db);
    for text in [
        "SELECT name FROM student WHERE id = ?",
        "SELECT name FROM student WHERE id >= ?",
    ] {
        let st = db.prepare(text).unwrap();
        // `each` and `each_ref` alike, the callback answering `answer` each time: the run's
        // outcome and how many times it was called.
        let run = |answer: fn() -> tabula::Result<bool>, borrowed: bool| {
            let mut calls = 0;
            let r = if borrowed {
                st.each_ref(&[Value::Int(1)], |_| {
                    calls += 1;
                    answer()
                })
            } else {
                st.each(&[Value::Int(1)], |_| {
                    calls += 1;
                    answer()
                })
            };
            (r, calls)
        };
        for borrowed in [false, true] {
            let (r, calls) = run(|| Err(Error::Aborted("enough".into())), borrowed);
            let e = r.unwrap_err();
            assert!(
                matches!(&e, Error::Aborted(m) if m.to_string() == "enough"),
                "{text}: {e}"
            );
            assert_eq!(calls, 1, "{text}");
            // Returning false stops after the first row.
            let (r, calls) = run(|| Ok(false), borrowed);
            r.unwrap();
            assert_eq!(calls, 1, "{text}");
        }
    }
}

#[test]
fn a_failing_statement_of_a_prepared_text_is_numbered_and_the_ones_before_it_stay() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
        .unwrap();
    let st = db
        .prepare("INSERT INTO t (v) VALUES (?);\nINSERT INTO t (v) VALUES (?)")
        .unwrap();
    let e = st.run(&[Value::Int(1), Value::Int(1)]).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Statement {
                number: 2,
                line: 2,
                rolled_back: false,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        matches!(e.innermost(), Error::UniqueViolation { .. }),
        "{e}"
    );
    assert_eq!(db.sql("SELECT v FROM t").unwrap().rows, [[Value::Int(1)]]);
}

#[test]
fn a_statement_run_in_a_transaction_is_part_of_it() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        .unwrap();
    let add = db.prepare("INSERT INTO t (v) VALUES (?)").unwrap();
    let get = db.prepare("SELECT v FROM t WHERE id = ?").unwrap();
    // Rolled back with the transaction, and its reads see the transaction's writes.
    let e = db
        .transaction(|tx| {
            for v in 1..=3 {
                assert_eq!(add.run_in(tx, &[Value::Int(v * 10)])?.changed, 1);
            }
            let mut seen = Vec::new();
            get.each_in(tx, &[Value::Int(2)], |row| {
                seen.push(row[0].clone());
                Ok(true)
            })?;
            assert_eq!(seen, [Value::Int(20)]);
            let mut lent = 0;
            get.each_ref_in(tx, &[Value::Int(1)], |row| {
                if let [ValueRef::Int(v)] = row {
                    lent += v;
                }
                Ok(true)
            })?;
            assert_eq!(lent, 10);
            assert_eq!(get.run_in(tx, &[Value::Int(3)])?.rows, [[Value::Int(30)]]);
            assert!(
                get.run(&[Value::Int(1)])?.rows.is_empty(),
                "not visible outside before the commit"
            );
            Err::<(), _>(Error::Aborted("changed my mind".into()))
        })
        .unwrap_err();
    assert!(matches!(e, Error::Aborted(_)), "{e}");
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM t").unwrap().rows,
        [[Value::Int(0)]]
    );
    // Committed with it: the same statement serves many transactions.
    for round in 0..2 {
        db.transaction(|tx| {
            for v in 1..=3 {
                add.run_in(tx, &[Value::Int(v)])?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            db.sql("SELECT SUM(v) FROM t").unwrap().rows,
            [[Value::Int(6 * (round + 1))]]
        );
    }
}

#[test]
fn transaction_control_is_refused_inside_a_transaction_before_anything_runs() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        .unwrap();
    db.transaction(|tx| {
        for text in [
            "INSERT INTO t (v) VALUES (1); COMMIT",
            "BEGIN",
            "INSERT INTO t (v) VALUES (1); ROLLBACK",
        ] {
            let st = db.prepare(text)?;
            let e = st.run_in(tx, &[]).unwrap_err();
            assert!(
                matches!(&e, Error::Sql { reason, .. } if reason.contains("BEGIN, COMMIT and ROLLBACK are refused")),
                "{text}: {e}"
            );
            let e = st.each_in(tx, &[], |_| Ok(true)).unwrap_err();
            assert!(matches!(&e, Error::Sql { .. }), "{text}: {e}");
            let e = tx.sql(text).unwrap_err();
            assert!(matches!(e, Error::Sql { .. }), "{text}: {e}");
        }
        assert_eq!(tx.sql("SELECT COUNT(*) FROM t")?.rows, [[Value::Int(0)]]);
        Ok(())
    })
    .unwrap();
}

#[test]
fn threads_share_a_prepared_statement() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        .unwrap();
    let add = db.prepare("INSERT INTO t (v) VALUES (?)").unwrap();
    let get = db.prepare("SELECT v FROM t WHERE id = ?").unwrap();
    let found: usize = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (add, get) = (&add, &get);
                s.spawn(move || {
                    let mut found = 0;
                    for i in 0..50 {
                        add.run(&[Value::Int(t * 1000 + i)]).unwrap();
                        get.each(&[Value::Int(1)], |row| {
                            assert!(matches!(row, [Value::Int(_)]), "{row:?}");
                            found += 1;
                            Ok(true)
                        })
                        .unwrap();
                    }
                    found
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    // Key 1 exists from the first commit on, and each thread looks it up after its own
    // insert: every lookup finds it.
    assert_eq!(found, 200);
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM t").unwrap().rows,
        [[Value::Int(200)]]
    );
}

#[test]
fn one_text_on_databases_whose_tables_differ_reads_each_by_its_own_columns() {
    // A parsed text is shared by every database of the process; its lookup binds names to
    // each table's own columns.
    let a = Database::in_memory();
    a.sql("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, age INTEGER); INSERT INTO p (name, age) VALUES ('ann', 30)")
        .unwrap();
    let b = Database::in_memory();
    b.sql("CREATE TABLE p (age INTEGER, name TEXT, id INTEGER PRIMARY KEY); INSERT INTO p (age, name, id) VALUES (40, 'bob', 1)")
        .unwrap();
    let text = "SELECT name, age FROM p WHERE id = ?";
    let (sa, sb) = (a.prepare(text).unwrap(), b.prepare(text).unwrap());
    for _ in 0..3 {
        assert_eq!(
            streamed(&sa, &[Value::Int(1)]),
            [[Value::from("ann"), Value::Int(30)]]
        );
        assert_eq!(
            sb.run(&[Value::Int(1)]).unwrap().rows,
            [[Value::from("bob"), Value::Int(40)]]
        );
        assert_eq!(
            b.sql_with(text, &[Value::Int(1)]).unwrap().rows,
            [[Value::from("bob"), Value::Int(40)]]
        );
    }
}

#[test]
fn a_statement_runs_inside_its_own_callback_and_after_a_panic_in_it() {
    let db = Database::in_memory();
    students(&db);
    let get = db
        .prepare("SELECT name, email FROM student WHERE id = ?")
        .unwrap();
    let mut pairs = Vec::new();
    get.each(&[Value::Int(1)], |outer| {
        // The inner run cannot use the row the outer one is reading.
        get.each(&[Value::Int(3)], |inner| {
            pairs.push((outer.to_vec(), inner.to_vec()));
            Ok(true)
        })?;
        Ok(true)
    })
    .unwrap();
    assert_eq!(
        pairs,
        [(
            vec![Value::from("ann"), Value::from("ann@uni.edu")],
            vec![Value::from("cy"), Value::from("cy@uni.edu")]
        )]
    );
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        get.each(&[Value::Int(2)], |_| panic!("the caller's bug"))
    }));
    assert!(panicked.is_err());
    // Rows of other lengths and texts of other sizes come out whole, run after run.
    let long = "x".repeat(10_000);
    db.table::<Student>()
        .unwrap()
        .insert(Student {
            id: 0,
            name: long.clone(),
            email: "long@uni.edu".into(),
            gpa: 1.0,
        })
        .unwrap();
    for (id, name) in [
        (2, "bob"),
        (4, long.as_str()),
        (1, "ann"),
        (4, long.as_str()),
    ] {
        assert_eq!(
            streamed(&get, &[Value::Int(id)]),
            [[
                Value::from(name),
                Value::Text(format!("{}@uni.edu", if id == 4 { "long" } else { name }))
            ]]
        );
    }
    let all = db.prepare("SELECT * FROM student WHERE id = ?").unwrap();
    assert_eq!(streamed(&all, &[Value::Int(2)]).len(), 1);
    assert_eq!(streamed(&all, &[Value::Int(2)])[0].len(), 4);
}

/// A statement prepared once and run with other numbers each time answers for the numbers
/// of each run: a WHERE over integers (`id % ? = ?`) runs as one test per row built for
/// the run's parameters, in SELECT, UPDATE and DELETE, on typed and untyped tables.
#[test]
fn a_prepared_filter_over_numbers_answers_for_each_run_s_parameters() {
    let db = Database::in_memory();
    let t = db.table::<Student>().unwrap();
    t.insert_many((1..=50).map(|i| Student {
        id: 0,
        name: format!("s{i}"),
        email: format!("s{i}@uni.edu"),
        gpa: 1.0,
    }))
    .unwrap();
    db.sql("CREATE TABLE u (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        .unwrap();
    db.sql("INSERT INTO u (n) SELECT id FROM student").unwrap();
    for table in ["student", "u"] {
        let count = db
            .prepare(&format!("SELECT count(*) FROM {table} WHERE id % ? = ?"))
            .unwrap();
        let update = db
            .prepare(&format!("UPDATE {table} SET id = id WHERE id % ? = ?"))
            .unwrap();
        let delete = db
            .prepare(&format!("DELETE FROM {table} WHERE id % ? = ?"))
            .unwrap();
        let mut left: Vec<i64> = (1..=50).collect();
        for m in 0..5i64 {
            let params = [Value::Int(5), Value::Int(m)];
            let expected = left.iter().filter(|&&i| i % 5 == m).count() as i64;
            assert_eq!(
                count.run(&params).unwrap().rows,
                vec![vec![Value::Int(expected)]],
                "{table}, m = {m}"
            );
            assert_eq!(update.run(&params).unwrap().changed, expected as u64);
            // Text among the parameters is compared as SQL compares it, row by row.
            let text = [Value::Int(5), Value::Text(m.to_string())];
            assert_eq!(update.run(&text).unwrap().changed, 0, "{table}, m = {m}");
            assert_eq!(delete.run(&params).unwrap().changed, expected as u64);
            left.retain(|&i| i % 5 != m);
            let rest = db.sql(&format!("SELECT count(*) FROM {table}")).unwrap();
            assert_eq!(rest.rows, vec![vec![Value::Int(left.len() as i64)]]);
        }
    }
}

#[test]
fn each_ref_lends_the_rows_run_collects_for_scans_joins_windows_and_in_a_transaction() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE c (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
         CREATE TABLE s (id INTEGER PRIMARY KEY, name TEXT, gpa REAL, ok BOOLEAN,
                         course INTEGER REFERENCES c, note TEXT);
         CREATE INDEX s_gpa ON s (gpa);
         INSERT INTO c (title) VALUES ('math'), ('art');",
    )
    .unwrap();
    for i in 0u8..40 {
        let name = if i % 7 == 0 {
            Value::Null
        } else {
            Value::from(format!("n{i}"))
        };
        let course = if i % 5 == 0 {
            Value::Null
        } else {
            Value::Int(1 + i64::from(i % 2))
        };
        db.sql_with(
            "INSERT INTO s (name, gpa, ok, course, note) VALUES (?, ?, ?, ?, ?)",
            &[
                name,
                Value::Float(f64::from(i % 9u8) / 2.0),
                Value::Bool(i % 3 == 0),
                course,
                Value::from("é".repeat(i as usize % 4)),
            ],
        )
        .unwrap();
    }
    let texts = [
        "SELECT id, name, gpa, ok, note FROM s WHERE gpa > 2.0",
        "SELECT name, name, id FROM s WHERE name IS NOT NULL AND ok",
        "SELECT * FROM s",
        "SELECT note, id FROM s WHERE gpa BETWEEN 1.0 AND 3.0",
        "SELECT id FROM s WHERE gpa >= 1.5 LIMIT 5 OFFSET 3",
        "SELECT s.name, c.title, s.gpa FROM s JOIN c ON c.id = s.course WHERE s.gpa < 3",
        "SELECT s.id, c.title FROM s LEFT JOIN c ON c.id = s.course",
        "SELECT t.id, t.name FROM (SELECT id, name FROM s WHERE ok) AS t",
        "SELECT id, gpa * 2 FROM s WHERE ok",
    ];
    for text in texts {
        let st = db.prepare(text).unwrap();
        let collected = st.run(&[]).unwrap().rows;
        assert!(!collected.is_empty(), "{text}");
        assert_eq!(borrowed(&st, &[]), collected, "{text}");
        assert_eq!(streamed(&st, &[]), collected, "{text}");
    }
    // Inside a transaction, its own uncommitted rows are lent as well.
    db.transaction(|tx| {
        tx.sql("INSERT INTO s (name, gpa, ok, note) VALUES ('late', 3.75, true, 'x')")?;
        let st = db.prepare("SELECT name, gpa, note FROM s WHERE gpa > 3.5")?;
        let mut lent = Vec::new();
        st.each_ref_in(tx, &[], |row| {
            lent.push(
                row.iter()
                    .copied()
                    .map(ValueRef::to_owned)
                    .collect::<Vec<_>>(),
            );
            Ok(true)
        })?;
        assert_eq!(lent, st.run_in(tx, &[])?.rows);
        assert!(lent.contains(&vec![
            Value::from("late"),
            Value::Float(3.75),
            Value::from("x")
        ]));
        Ok(())
    })
    .unwrap();
}

#[test]
fn each_ref_reads_a_scanned_row_where_the_table_keeps_it_and_stops_when_asked() {
    let db = Database::in_memory();
    students(&db);
    let st = db
        .prepare("SELECT name, id, gpa FROM student WHERE gpa > ?")
        .unwrap();
    let addresses = || {
        let mut at = Vec::new();
        st.each_ref(&[Value::Float(3.0)], |row| {
            if let [ValueRef::Text(name), ValueRef::Int(_), ValueRef::Float(_)] = row {
                at.push((name.to_string(), name.as_ptr() as usize));
            }
            Ok(true)
        })
        .unwrap();
        at
    };
    let first = addresses();
    assert_eq!(
        first.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["ann", "cy"]
    );
    assert_eq!(addresses(), first);
    // A point lookup lends the text where the table keeps it (still there: no copy can
    // share its address); the scan lent that same text.
    let mut kept = 0;
    db.prepare("SELECT name FROM student WHERE id = ?")
        .unwrap()
        .each_ref(&[Value::Int(1)], |row| {
            if let [ValueRef::Text(name)] = row {
                kept = name.as_ptr() as usize;
            }
            Ok(true)
        })
        .unwrap();
    assert_eq!(first[0].1, kept);
    // A typed table's columns come lent with the values `run` gives.
    assert_eq!(
        borrowed(&st, &[Value::Float(3.0)]),
        st.run(&[Value::Float(3.0)]).unwrap().rows
    );
    // `Ok(false)` stops after the row it answers; an error ends the run with itself.
    let mut calls = 0;
    st.each_ref(&[Value::Float(0.0)], |_| {
        calls += 1;
        Ok(calls < 2)
    })
    .unwrap();
    assert_eq!(calls, 2);
    let e = st
        .each_ref(&[Value::Float(0.0)], |_| Err(Error::Aborted("stop".into())))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Aborted(m) if m.to_string() == "stop"),
        "{e}"
    );
}

#[test]
fn a_scan_lending_its_rows_reads_one_version_while_its_callback_writes_the_table() {
    let db = Database::in_memory();
    students(&db);
    let scan = db
        .prepare("SELECT id, name FROM student WHERE gpa > ?")
        .unwrap();
    let mut seen = Vec::new();
    scan.each_ref(&[Value::Float(0.0)], |row| {
        let [ValueRef::Int(id), ValueRef::Text(name)] = row else {
            return Err(Error::Aborted(format!("row {row:?}").into()));
        };
        // Each write commits a new version; the rows lent come from the one read.
        db.sql_with("DELETE FROM student WHERE id = ?", &[Value::Int(*id)])?;
        db.sql("UPDATE student SET name = 'changed'")?;
        db.sql_with(
            "INSERT INTO student (name, email, gpa) VALUES ('new', ?, 1.0)",
            &[Value::Text(format!("new{id}@uni.edu"))],
        )?;
        seen.push((*id, name.to_string()));
        Ok(true)
    })
    .unwrap();
    assert_eq!(
        seen,
        [(1, "ann".to_string()), (2, "bob".into()), (3, "cy".into())]
    );
    let left = db
        .sql("SELECT id, name FROM student ORDER BY id")
        .unwrap()
        .rows;
    assert_eq!(
        left,
        [
            vec![Value::Int(4), Value::from("changed")],
            vec![Value::Int(5), Value::from("changed")],
            vec![Value::Int(6), Value::from("new")],
        ]
    );
}

#[test]
fn columns_names_a_query_s_result_without_running_it_and_nothing_for_other_statements() {
    let db = Database::in_memory();
    students(&db);
    db.sql("CREATE TABLE course (id INTEGER PRIMARY KEY, title TEXT)")
        .unwrap();
    let names = |text: &str| db.prepare(text).unwrap().columns(&[]).unwrap();
    let some = |n: &[&str]| Some(n.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    for (text, expected) in [
        (
            "SELECT * FROM student",
            some(&["id", "name", "email", "gpa"]),
        ),
        (
            "SELECT name, gpa * 2 AS twice FROM student WHERE id = 1",
            some(&["name", "twice"]),
        ),
        (
            "SELECT s.name, c.title FROM student s JOIN course c ON c.id = s.id",
            some(&["name", "title"]),
        ),
        (
            "SELECT count(*) AS n FROM student GROUP BY gpa",
            some(&["n"]),
        ),
        (
            "SELECT id FROM student UNION SELECT id FROM course",
            some(&["id"]),
        ),
        (
            "WITH w AS (SELECT name AS k FROM student) SELECT k FROM w",
            some(&["k"]),
        ),
        (
            "SELECT t.x FROM (SELECT id AS x FROM course) AS t",
            some(&["x"]),
        ),
        (
            "CREATE TABLE other (id INTEGER PRIMARY KEY); SELECT 1 AS one",
            some(&["one"]),
        ),
        ("DELETE FROM student WHERE id = 99", None),
        (
            "SELECT 1 AS one; UPDATE student SET gpa = 1 WHERE id = 99",
            None,
        ),
    ] {
        assert_eq!(names(text), expected, "{text}");
    }
    // Nothing ran: the rows, and the tables, are as they were.
    assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 3);
    assert!(!db.table_names().unwrap().contains(&"other".to_string()));
    // Names bind as a run binds them.
    let e = db
        .prepare("SELECT nam FROM student")
        .unwrap()
        .columns(&[])
        .unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason.contains("nam")),
        "{e}"
    );
    let e = db
        .prepare("SELECT * FROM student WHERE id = ?")
        .unwrap()
        .columns(&[])
        .unwrap_err();
    assert!(matches!(&e, Error::Sql { .. }), "{e}");
}

/// Rows `OFFSET` drops, and every row under `LIMIT 0`, have no items evaluated, whether
/// the rows are collected or streamed (as in SQLite): an item that would fail there (an
/// overflow) fails nothing.
#[test]
fn rows_offset_drops_and_limit_zero_evaluate_no_item_collected_or_streamed() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
         INSERT INTO t (n) VALUES (1), (-9223372036854775808), (3), (4)",
    )
    .unwrap();
    for (text, expected) in [
        (
            "SELECT id, abs(n) FROM t LIMIT 2 OFFSET 2",
            vec![[3, 3], [4, 4]],
        ),
        ("SELECT id, abs(n) FROM t LIMIT 0 OFFSET 1", vec![]),
        ("SELECT id, abs(n) FROM t WHERE id > 1 LIMIT 0", vec![]),
        (
            "SELECT id, abs(n) FROM t LIMIT -1 OFFSET 2",
            vec![[3, 3], [4, 4]],
        ),
    ] {
        let expected: Vec<Vec<Value>> = expected
            .iter()
            .map(|r| r.iter().map(|&v| Value::Int(v)).collect())
            .collect();
        let st = db.prepare(text).unwrap();
        assert_eq!(st.run(&[]).unwrap().rows, expected, "{text}");
        assert_eq!(streamed(&st, &[]), expected, "{text}");
        assert_eq!(borrowed(&st, &[]), expected, "{text}");
    }
    // A row kept still fails.
    let e = db
        .sql("SELECT id, abs(n) FROM t LIMIT 1 OFFSET 1")
        .unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason == "integer overflow in abs()"),
        "{e}"
    );
}

#[test]
fn limit_zero_runs_no_correlated_subquery_and_evaluates_no_item() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
         INSERT INTO t (n) VALUES (-9223372036854775808)",
    )
    .unwrap();
    let text = "SELECT abs(n), (SELECT 1 WHERE t.id > 0) FROM t LIMIT 0";
    assert_eq!(db.sql(text).unwrap().rows, Vec::<Vec<Value>>::new());
    assert_eq!(
        streamed(&db.prepare(text).unwrap(), &[]),
        Vec::<Vec<Value>>::new()
    );
}

/// A long `IN` list of placeholders is hashed for its run (one probe a row), and answers
/// as the same list written as literals does: nulls, NaN, values of another kind, `NOT IN`,
/// in SELECT, UPDATE and DELETE, and again with other values on the next run.
#[test]
fn a_long_in_list_of_placeholders_answers_as_its_literals_do() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL, s TEXT)")
        .unwrap();
    for i in 0..200i64 {
        db.sql_with(
            "INSERT INTO t (x, s) VALUES (?, ?)",
            &[
                if i % 17 == 0 {
                    Value::Null
                } else {
                    Value::Float((i % 40) as f64)
                },
                Value::from(format!("s{}", i % 30)),
            ],
        )
        .unwrap();
    }
    let lists: Vec<Vec<Value>> = vec![
        (0..20).map(|i| Value::Int(i * 2)).collect(),
        (0..20)
            .map(|i| match i {
                3 => Value::Null,
                5 => Value::Float(f64::NAN),
                7 => Value::from("s3"),
                _ => Value::Float(i as f64 + 0.5 * (i % 2) as f64),
            })
            .collect(),
        (0..30)
            .map(|i| Value::from(format!("s{}", i * 3)))
            .collect(),
    ];
    let literal = |v: &Value| match v {
        Value::Null => "NULL".to_string(),
        Value::Float(f) if f.is_nan() => "(0.0/0.0)".to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Text(t) => format!("'{t}'"),
        other => other.to_string(),
    };
    for list in &lists {
        let marks = vec!["?"; list.len()].join(", ");
        let written = list.iter().map(literal).collect::<Vec<_>>().join(", ");
        for (col, not) in [("x", ""), ("x", "NOT "), ("s", ""), ("s", "NOT ")] {
            let q = |items: &str| format!("SELECT id, {col} {not}IN ({items}) FROM t ORDER BY id");
            let st = db.prepare(&q(&marks)).unwrap();
            let by_params = st.run(list).unwrap().rows;
            let by_literals = db.sql(&q(&written)).unwrap().rows;
            assert_eq!(by_params, by_literals, "{col} {not}IN {written}");
            // The next run binds other values: nothing of the first run's set is kept.
            let shifted: Vec<Value> = list.iter().skip(1).chain(list.first()).cloned().collect();
            let mut other = shifted.clone();
            other[0] = Value::from("nothing");
            let again = st.run(&other).unwrap().rows;
            let written2 = other.iter().map(literal).collect::<Vec<_>>().join(", ");
            assert_eq!(again, db.sql(&q(&written2)).unwrap().rows, "{written2}");
        }
    }
    // UPDATE and DELETE pick the rows the list names.
    let keys: Vec<Value> = (1..=40).map(|i| Value::Int(i * 5)).collect();
    let marks = vec!["?"; keys.len()].join(", ");
    let changed = db
        .sql_with(
            &format!("UPDATE t SET s = 'picked' WHERE id IN ({marks})"),
            &keys,
        )
        .unwrap()
        .changed;
    assert_eq!(changed, 40);
    let gone = db
        .sql_with(&format!("DELETE FROM t WHERE id NOT IN ({marks})"), &keys)
        .unwrap()
        .changed;
    assert_eq!(gone, 160);
    let left = db
        .sql("SELECT COUNT(*) FROM t WHERE s = 'picked'")
        .unwrap()
        .rows;
    assert_eq!(left, [[Value::Int(40)]]);
    // Too few parameters is still an error naming the placeholder count.
    let e = db
        .sql_with(
            &format!("SELECT * FROM t WHERE id IN ({marks})"),
            &keys[..39],
        )
        .unwrap_err();
    assert!(matches!(e, Error::Sql { .. }), "{e}");
}
