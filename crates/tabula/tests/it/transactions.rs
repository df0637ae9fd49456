use tabula::{Database, Error, Value};

use crate::common::{school, student, Course, Student};

#[test]
fn transaction_commits_across_tables() {
    let (db, s) = school();
    let courses = db.table::<Course>().unwrap();
    db.transaction(|tx| {
        let st = tx.table::<Student>()?;
        let c = tx.table::<Course>()?;
        st.insert(student("Tx", 2020, 2.0))?;
        c.insert(Course {
            code: "TX1".into(),
            title: "Tx".into(),
            credits: 1,
        })?;
        // Reads inside see the transaction's own writes.
        assert_eq!(st.count()?, 6);
        assert!(st.get_by("email", "tx@uni.edu")?.is_some());
        assert_eq!(st.select().where_eq("year", 2020).count()?, 1);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.count().unwrap(), 6);
    assert_eq!(courses.count().unwrap(), 1);
}

#[test]
fn an_error_rolls_everything_back() {
    let (db, s) = school();
    let before = s.select().all().unwrap();
    let r: Result<(), Error> = db.transaction(|tx| {
        let st = tx.table::<Student>()?;
        st.insert(student("Gone", 2020, 2.0))?;
        st.update(|x| x.year == 2024, |x| x.gpa = 0.0)?;
        st.delete(|x| x.name == "Bob")?;
        tx.table::<Course>()?.insert(Course {
            code: "X".into(),
            title: "X".into(),
            credits: 1,
        })?;
        Err(Error::abort("stop"))
    });
    assert!(matches!(r, Err(Error::Aborted(_))), "{r:?}");
    assert_eq!(s.select().all().unwrap(), before);
    assert_eq!(db.table::<Course>().unwrap().count().unwrap(), 0);
    // Keys handed out inside the rolled-back transaction are handed out again.
    assert_eq!(s.insert(student("Next", 2020, 1.0)).unwrap(), 6);
}

#[test]
fn a_panic_rolls_everything_back_and_keeps_unwinding() {
    let (db, s) = school();
    let db2 = db.clone();
    let r = std::panic::catch_unwind(move || {
        let _ = db2.transaction(|tx| -> Result<(), Error> {
            tx.table::<Student>()?.insert(student("Panic", 2020, 2.0))?;
            panic!("boom");
        });
    });
    let panic = r.unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(s.count().unwrap(), 5);
    // The database is still usable.
    s.insert(student("After", 2020, 2.0)).unwrap();
}

#[test]
fn a_failed_statement_inside_a_transaction_changes_nothing_and_the_rest_commits() {
    let (db, s) = school();
    db.transaction(|tx| {
        let st = tx.table::<Student>()?;
        st.insert(student("Ok1", 2020, 2.0))?;
        let e = st.insert_many([student("Ok2", 2020, 2.0), student("Bob", 2020, 2.0)]);
        assert!(matches!(e, Err(Error::UniqueViolation { .. })));
        assert_eq!(st.count()?, 6);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.count().unwrap(), 6);
    assert!(s.get_by("email", "ok2@uni.edu").unwrap().is_none());
}

#[test]
fn plain_handles_inside_a_transaction_read_the_last_commit_and_may_not_write() {
    let (db, s) = school();
    let (plain, own) = db
        .transaction(|tx| {
            assert!(tx.table::<Student>()?.delete_key(1u64)?);
            // The plain handle reads the committed version; the transaction's own handle
            // sees its delete.
            Ok((s.count()?, tx.table::<Student>()?.count()?))
        })
        .unwrap();
    assert_eq!((plain, own), (5, 4));
    assert_eq!(s.count().unwrap(), 4);
    // A write would wait for the transaction it runs in: refused, and the transaction is
    // not harmed by the refusal.
    let r = db.transaction(|_tx| s.insert(student("Zed", 2020, 1.0)));
    assert!(matches!(r, Err(Error::InTransaction { .. })), "{r:?}");
    let r = db.transaction(|_tx| db.transaction(|_| Ok(())));
    assert!(matches!(r, Err(Error::InTransaction { .. })));
    // A handle on a table in memory, or a dry run, waits for nothing: made inside the
    // transaction, reading the last commit (a table still on disk is refused, below).
    let r = db.transaction(|_tx| db.dyn_table("students")?.count());
    assert_eq!(r.unwrap(), 4);
    let r = db.transaction(|_tx| db.migration_plan::<Student>());
    assert!(r.unwrap().is_empty());
    // An export would wait for the lock this thread holds: refused at once.
    let r = db.transaction(|_tx| db.export_json(std::env::temp_dir().join("never-written.json")));
    assert!(matches!(r, Err(Error::InTransaction { .. })), "{r:?}");
    assert_eq!(s.count().unwrap(), 4);
}

/// A table's first load installs it under the writers' lock, which the transaction on this
/// thread holds: a handle on a table still on disk is refused inside it (a wait for itself),
/// and made after it.
#[test]
fn a_table_still_on_disk_is_not_loaded_inside_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.table::<Student>()
        .unwrap()
        .insert(student("Ann", 2020, 3.0))
        .unwrap();
    db.table::<Course>().unwrap();
    db.close().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.table::<Course>().unwrap();
    let r = db.transaction(|_tx| db.dyn_table("students").map(|_| ()));
    let Err(Error::InTransaction { table }) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(table, "students");
    assert_eq!(db.dyn_table("students").unwrap().count().unwrap(), 1);
    // Loaded as values, the table is attached to its type under the lock too; a migration
    // runs outside transactions: both refused before they take the checkpoint's mutex (a
    // checkpoint holding it waits for the lock this thread holds).
    let r = db.transaction(|_tx| db.table::<Student>().map(|_| ()));
    assert!(
        matches!(&r, Err(Error::InTransaction { table }) if table == "students"),
        "{r:?}"
    );
    let schema = db.dyn_table("students").unwrap().schema().clone();
    let r = db.transaction(|_tx| db.alter_table(schema.clone()).map(|_| ()));
    assert!(
        matches!(&r, Err(Error::InTransaction { table }) if table == "students"),
        "{r:?}"
    );
    assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 1);
}

#[test]
fn dynamic_handles_inside_transactions() {
    let (db, s) = school();
    db.transaction(|tx| {
        let t = tx.dyn_table("students")?;
        t.insert(tabula::row! { "name" => "Dyn", "email" => "dyn@uni.edu", "year" => 2020 })?;
        assert_eq!(t.count()?, 6);
        let typed = tx.table::<Student>()?;
        assert_eq!(
            typed.get_by("email", "dyn@uni.edu")?.map(|x| x.year),
            Some(2020)
        );
        assert_eq!(t.delete(|r| r["name"] == Value::from("Dan"))?, 1);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.count().unwrap(), 5);
}

#[test]
fn closures_may_read_other_tables_of_the_transaction() {
    let (db, s) = school();
    db.table::<Course>().unwrap();
    db.transaction(|tx| {
        let c = tx.table::<Course>()?;
        c.insert(Course {
            code: "A".into(),
            title: "A".into(),
            credits: 2,
        })?;
        let st = tx.table::<Student>()?;
        let credits = c.get("A")?.map_or(0, |c| c.credits);
        st.update(
            |x| c.count().unwrap_or(0) > 0 && x.year == 2024,
            |x| x.gpa += f64::from(credits),
        )?;
        Ok(())
    })
    .unwrap();
    assert_eq!(s.get(1u64).unwrap().unwrap().gpa, 5.8);
}

#[test]
fn plain_handles_inside_a_reading_closure_read_and_write_freely() {
    let (db, s) = school();
    let courses = db.table::<Course>().unwrap();
    // Reads take a version, not a lock: a plain handle inside a filter just reads.
    let nested = s
        .select()
        .filter(|x| courses.count().is_ok_and(|n| n == 0) && s.get(x.id).is_ok_and(|r| r.is_some()))
        .count()
        .unwrap();
    assert_eq!(nested, 5);
    // A write inside a filter commits on its own; the query goes on over the version it
    // started with.
    let seen = s
        .select()
        .filter(|x| {
            let c = Course {
                code: format!("C{}", x.id),
                title: "t".into(),
                credits: 1,
            };
            courses.insert(c).is_ok() && s.delete_key(x.id).is_ok()
        })
        .count()
        .unwrap();
    assert_eq!(seen, 5, "the query saw the version it started with");
    assert_eq!(courses.count().unwrap(), 5);
    assert_eq!(s.count().unwrap(), 0);
}

#[test]
fn a_read_transaction_sees_one_version_while_a_writer_commits() {
    let db = Database::in_memory();
    let s = db.table::<Student>().unwrap();
    for (n, y) in [("Ann", 2020), ("Bo", 2021), ("Cy", 2021)] {
        s.insert(student(n, y, 3.0)).unwrap();
    }
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || s.insert(student("Dee", 2022, 2.0)).map(|_| ()))
    };
    let seen = db
        .read(|r| {
            let t = r.table(&s)?;
            let before = t.count()?;
            // The writer commits meanwhile (it waits for nothing here); this transaction
            // keeps the version it started with.
            while s.count()? == before && before == 3 {
                std::thread::yield_now();
            }
            assert_eq!(t.count()?, before);
            assert_eq!(t.get(2u64)?.map(|x| x.name), Some("Bo".into()));
            // Keys are checked as on a plain handle: coerced when lossless, refused otherwise.
            assert_eq!(t.get_with(2.0, |x| x.id)?, Some(2));
            assert_eq!(t.get_with(99u64, |x| x.id)?, None);
            assert!(matches!(
                t.get_with(-1i64, |x| x.id),
                Err(Error::TypeMismatch { .. })
            ));
            assert!(matches!(
                t.get_with("2", |x| x.id),
                Err(Error::TypeMismatch { .. })
            ));
            assert_eq!(t.get_by_with("email", "cy@uni.edu", |x| x.id)?, Some(3));
            assert_eq!(t.select().where_eq("year", 2021).count()?, 2);
            // A plain handle reads the newest version at its own call.
            assert_eq!(s.count()?, 4);
            Ok(before)
        })
        .unwrap();
    writer.join().unwrap().unwrap();
    assert!(seen == 3 || seen == 4);
    assert_eq!(s.count().unwrap(), 4);
    // The per-table form, and a handle from another database is refused.
    assert_eq!(s.read(|t| t.count()).unwrap(), 4);
    let other = Database::in_memory().table::<Student>().unwrap();
    let wrong = db.read(|r| r.table(&other).map(|_| ())).unwrap_err();
    assert!(
        matches!(&wrong, Error::WrongDatabase { table } if table == "students"),
        "{wrong}"
    );
}

/// `update`'s closures run with the table free; inside a transaction, one that writes the
/// same table (deletes a matched row's key and inserts it again, so that a new row takes
/// the old one's place) would have the update write its copy of the old row over the new
/// one. The update is refused instead (`Error::Reentrant`), and the transaction decides.
#[test]
fn an_update_whose_closure_writes_its_own_table_is_refused() {
    let (db, s) = school();
    let before = s.select().all().unwrap();
    let r = db.transaction(|tx| {
        let t = tx.table::<Student>()?;
        let id = t.select().all()?[0].id;
        let mut written = false;
        let n = t.update(
            |x| x.id == id,
            |x| {
                if !written {
                    written = true;
                    t.delete_key(id).unwrap();
                    let mut again = x.clone();
                    again.name = "replacement".into();
                    t.insert(again).unwrap();
                }
                x.name = "updated".into();
            },
        );
        assert!(matches!(n, Err(Error::Reentrant)), "{n:?}");
        Err::<(), _>(n.unwrap_err())
    });
    assert!(matches!(r, Err(Error::Reentrant)), "{r:?}");
    assert_eq!(s.select().all().unwrap(), before);
}

/// The same through a dynamic handle.
#[test]
fn a_dynamic_update_whose_closure_writes_its_own_table_is_refused() {
    let (db, s) = school();
    let before = s.select().all().unwrap();
    let r = db.transaction(|tx| {
        let t = tx.dyn_table("students")?;
        let mut written = false;
        let n = t.update(
            |r| r["name"] == Value::from("Alice"),
            |r| {
                if !written {
                    written = true;
                    t.delete(|x| x["name"] == Value::from("Bob")).unwrap();
                }
                r.set("name", "updated");
            },
        );
        assert!(matches!(n, Err(Error::Reentrant)), "{n:?}");
        Err::<(), _>(n.unwrap_err())
    });
    assert!(matches!(r, Err(Error::Reentrant)), "{r:?}");
    assert_eq!(s.select().all().unwrap(), before);
}
