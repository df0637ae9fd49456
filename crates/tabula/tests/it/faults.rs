//! Every file-system call of a commit, a checkpoint, a table creation, a migration and a
//! close, made to fail in turn ([`FaultyFs::fail_at`]: the call fails, the process goes on)
//! or to cut the power ([`FaultyFs::crash_at`]: nothing after it reaches the disk, and only
//! what was fsynced survives). A failed call must change nothing the database shows; a power
//! loss must keep every acknowledged commit and no part of an unacknowledged one; and the
//! directory must open and take writes afterwards.

use tabula::testing::FaultyFs;
use tabula::{row, Column, ColumnType, Database, Error, Schema, Table, Value};

use crate::common::faulty::{committed, names, open, schema, values, PATH};

#[test]
fn every_failing_call_of_a_commit() {
    let mut sites = 0;
    for n in 1.. {
        let fs = committed();
        let db = open(&fs);
        let t = db.dyn_table("items").unwrap();
        fs.fail_at(n);
        let r = db.transaction(|tx| {
            let t = tx.dyn_table("items")?;
            t.insert(row! { "name" => "c" })?;
            t.delete_key(1)?;
            Ok(())
        });
        if r.is_ok() {
            assert!(n > 1, "the first call must be a commit site");
            break;
        }
        sites += 1;
        match t.count() {
            // Nothing that failed is visible...
            Ok(n) => assert_eq!(n, 2),
            // ...or, after a failed fsync, nothing is readable until the database is reopened,
            // and the error says why.
            Err(e) => assert!(
                matches!(&e, Error::Poisoned { reason } if !reason.is_empty()),
                "{e}"
            ),
        }
        let d = t.insert(row! { "name" => "d" });
        assert!(
            matches!(d, Err(Error::Poisoned { .. })) || t.count().unwrap() == 3,
            "{d:?}"
        );
        drop(t);
        drop(db);
        let db = open(&fs);
        let got = names(&db, "items");
        // The commit is entirely absent (after a failed fsync too: its line was cut from
        // the log before the error came back); "d" was refused or committed on its own.
        let base: Vec<Value> = got
            .iter()
            .filter(|v| **v != Value::from("d"))
            .cloned()
            .collect();
        assert_eq!(base, values(&["a", "b"]), "site {n}: {got:?}");
    }
    assert!(sites >= 2, "append and fsync are both commit sites");
}

/// A commit whose write or fsync fails is cut from the log before its error comes back: a
/// process killed right after (what it wrote is still with the operating system) does not
/// find the failed commit when the directory opens again.
#[test]
fn a_failed_commit_is_not_found_after_the_process_dies() {
    let mut sites = 0;
    for n in 1.. {
        let fs = committed();
        let db = open(&fs);
        let t = db.dyn_table("items").unwrap();
        fs.fail_at(n);
        if t.insert(row! { "name" => "c" }).is_ok() {
            break;
        }
        sites += 1;
        fs.process_exit();
        drop(t);
        drop(db);
        let db = open(&fs);
        assert_eq!(names(&db, "items"), values(&["a", "b"]), "site {n}");
        db.dyn_table("items")
            .unwrap()
            .insert(row! { "name" => "c" })
            .unwrap();
    }
    assert!(sites >= 2, "append and fsync are both commit sites");
}

#[test]
fn every_failing_call_of_a_checkpoint() {
    let mut sites = 0;
    for n in 1.. {
        let fs = committed();
        {
            let db = open(&fs);
            db.dyn_table("items")
                .unwrap()
                .insert(row! { "name" => "c" })
                .unwrap();
        }
        let db = open(&fs);
        let t = db.dyn_table("items").unwrap();
        fs.fail_at(n);
        let r = db.checkpoint();
        let calls = fs.calls();
        fs.fail_at(0);
        if r.is_ok() {
            // Success only once `n` is past the last call: every site has been tried.
            assert!(
                calls < n,
                "call {n} of {calls} was armed to fail but did not"
            );
            break;
        }
        sites += 1;
        // Memory is unchanged, or (the new log's name could not be made durable) nothing
        // can be read or written until the database is reopened.
        match t.count() {
            Ok(rows) => assert_eq!(rows, 3, "site {n}: memory changed"),
            Err(e) => assert!(matches!(e, Error::Poisoned { .. }), "site {n}: {e}"),
        }
        // A commit acknowledged after the failure survives a power loss.
        let d = t.insert(row! { "name" => "d" });
        assert!(
            matches!(d, Ok(_) | Err(Error::Poisoned { .. })),
            "site {n}: {d:?}"
        );
        drop(t);
        drop(db);
        fs.power_loss();
        let db = open(&fs);
        let want: &[&str] = if d.is_ok() {
            &["a", "b", "c", "d"]
        } else {
            &["a", "b", "c"]
        };
        assert_eq!(names(&db, "items"), values(want), "site {n}");
        db.dyn_table("items")
            .unwrap()
            .delete(|r| r["name"] == Value::from("d"))
            .unwrap();
        // And the directory still takes writes and checkpoints.
        db.dyn_table("items")
            .unwrap()
            .insert(row! { "name" => "d" })
            .unwrap();
        db.checkpoint().unwrap();
        drop(db);
        let db = open(&fs);
        assert_eq!(names(&db, "items").len(), 4, "site {n}");
    }
    assert!(sites >= 8, "a checkpoint has many sites, found {sites}");
}

/// A creation is its transaction's log line: when that fails, the table does not exist
/// (or, when the line's fsync failed after its write, it may: nothing can be read until the
/// database is reopened, and then it is there entirely or not at all). When the schema file
/// written after a durable creation fails, the table exists all the same (the log has it)
/// and the next checkpoint writes the file.
#[test]
fn every_failing_call_of_a_table_creation() {
    for n in 1.. {
        let fs = FaultyFs::new();
        let db = open(&fs);
        fs.fail_at(n);
        let r = db.create_table(schema());
        let reached = fs.calls() >= n;
        fs.fail_at(0);
        if let Err(e) = &r {
            assert!(reached, "site {n}: {e}");
            let missing = db.dyn_table("items").unwrap_err();
            assert!(
                matches!(missing, Error::UnknownTable { .. } | Error::Poisoned { .. }),
                "site {n}: {missing}"
            );
        }
        let seen = db.table_names().ok().map(|t| t == ["items"]);
        let failed = r.is_err();
        drop((r, db));
        let db = open(&fs);
        let exists = db.table_names().unwrap() == ["items"];
        assert!(seen.is_none_or(|s| s == exists), "site {n}");
        assert!(failed || exists, "site {n}: a created table was lost");
        if exists {
            db.dyn_table("items")
                .unwrap()
                .insert(row! { "name" => "a" })
                .unwrap();
            db.checkpoint().unwrap();
            assert!(fs.read("/db/schema/items.schema.json").is_ok(), "site {n}");
            drop(db);
            assert_eq!(names(&open(&fs), "items"), values(&["a"]), "site {n}");
        }
        assert!(
            fs.read("/db/schema/items.schema.json.tmp").is_err(),
            "site {n}"
        );
        if !reached {
            break;
        }
    }
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "notes")]
struct Note {
    #[column(primary_key)]
    id: u64,
    text: String,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "notes")]
struct NoteV2 {
    #[column(primary_key)]
    id: u64,
    text: String,
    #[column(default = 0)]
    stars: u8,
}

fn note_texts(db: &Database) -> Vec<String> {
    let notes = db.dyn_table("notes").unwrap();
    let rows = notes.select().all().unwrap();
    rows.iter()
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect()
}

/// A directory with three tables in every state a checkpoint meets: `items` checkpointed
/// with more rows in the log, `notes` created since the checkpoint (a snapshot to write for
/// the first time), `tags` checkpointed and never loaded again.
fn varied() -> FaultyFs {
    let fs = committed();
    let db = open(&fs);
    db.create_table(
        Schema::new(
            "tags",
            vec![Column::new("id", ColumnType::U64).primary_key()],
        )
        .unwrap(),
    )
    .unwrap()
    .insert(row! {})
    .unwrap();
    db.checkpoint().unwrap();
    drop(db);
    let db = open(&fs);
    db.dyn_table("items")
        .unwrap()
        .insert(row! { "name" => "c" })
        .unwrap();
    db.table::<Note>()
        .unwrap()
        .insert_many([1, 2].map(|id| Note {
            id,
            text: format!("n{id}"),
        }))
        .unwrap();
    fs
}

fn check_varied(db: &Database, context: &str) {
    assert_eq!(
        db.table_names().unwrap(),
        ["items", "notes", "tags"],
        "{context}"
    );
    assert_eq!(names(db, "items"), values(&["a", "b", "c"]), "{context}");
    assert_eq!(note_texts(db), ["n1", "n2"], "{context}");
    assert_eq!(
        db.dyn_table("tags").unwrap().count().unwrap(),
        1,
        "{context}"
    );
}

/// Issue 11's definition of a crash, at every call of a checkpoint: whatever call the power
/// goes out at, the directory opens with every committed row, and keeps working.
#[test]
fn power_loss_at_every_call_of_a_checkpoint() {
    let mut sites = 0;
    for n in 1.. {
        let fs = varied();
        let db = open(&fs);
        fs.crash_at(n);
        let r = db.checkpoint();
        let crashed = fs.crashed();
        assert_eq!(r.is_err(), crashed, "site {n}: {r:?}");
        drop(db);
        fs.power_loss();
        let db = open(&fs);
        check_varied(&db, &format!("power loss at call {n} of a checkpoint"));
        db.table::<Note>()
            .unwrap()
            .insert(Note {
                id: 3,
                text: "n3".into(),
            })
            .unwrap();
        db.checkpoint().unwrap();
        drop(db);
        fs.power_loss();
        assert_eq!(note_texts(&open(&fs)), ["n1", "n2", "n3"], "site {n}");
        if !crashed {
            break;
        }
        sites += 1;
    }
    assert!(sites >= 10, "a checkpoint has many calls, found {sites}");
}

/// A checkpoint that fails after its commit point (a snapshot renamed into place, a
/// directory sync) leaves a manifest naming snapshots still in their temporary files, which
/// the next open finishes: nothing may write over them before then. Whatever call the first
/// checkpoint fails at, a second one that loses power at any call leaves a directory that
/// opens with every acknowledged row.
#[test]
fn a_failed_checkpoint_then_a_power_loss_in_the_next() {
    let mut pairs = 0;
    for n in 1.. {
        let mut first_failed = false;
        for m in 1.. {
            let fs = varied();
            let db = open(&fs);
            fs.fail_at(n);
            let first = db.checkpoint();
            fs.fail_at(0);
            first_failed = first.is_err();
            if !first_failed {
                break;
            }
            let note = db.table::<Note>().and_then(|t| {
                t.insert(Note {
                    id: 3,
                    text: "n3".into(),
                })
            });
            assert!(
                matches!(note, Ok(_) | Err(Error::Poisoned { .. })),
                "fail at {n}: {note:?}"
            );
            fs.crash_at(m);
            let second = db.checkpoint();
            let crashed = fs.crashed();
            drop(db);
            fs.power_loss();
            let context =
                format!("fail at call {n} of a checkpoint, power loss at {m} of the next");
            let db = Database::builder()
                .file_system(fs.clone())
                .open(PATH)
                .unwrap_or_else(|e| panic!("{context}: the directory does not open: {e}"));
            assert_eq!(names(&db, "items"), values(&["a", "b", "c"]), "{context}");
            let want: &[&str] = if note.is_ok() {
                &["n1", "n2", "n3"]
            } else {
                &["n1", "n2"]
            };
            assert_eq!(note_texts(&db), want, "{context}");
            pairs += 1;
            if !crashed {
                assert!(
                    matches!(second, Ok(()) | Err(Error::Poisoned { .. })),
                    "{context}: {second:?}"
                );
                break;
            }
        }
        if !first_failed {
            break;
        }
    }
    assert!(pairs >= 20, "found {pairs} pairs of calls");
}

/// A checkpoint that fails after archiving the log's records but before cutting them from
/// the log leaves the database working; a migration right after it, with no commit between,
/// archives the log at the same position, over the identical segment the failed checkpoint
/// wrote: it must succeed, not call that segment a conflict after its own commit point.
#[test]
fn a_migration_after_a_checkpoint_that_failed_to_cut_the_log() {
    let mut sites = 0;
    for n in 1.. {
        let fs = varied();
        let db = open(&fs);
        fs.fail_at(n);
        let first = db.checkpoint();
        let calls = fs.calls();
        fs.fail_at(0);
        if first.is_ok() {
            assert!(
                calls < n,
                "call {n} of {calls} was armed to fail but did not"
            );
            break;
        }
        sites += 1;
        let context = format!("checkpoint failed at call {n} ({first:?})");
        let poisoned = matches!(
            db.dyn_table("items").and_then(|t| t.count()),
            Err(Error::Poisoned { .. })
        );
        match db.table::<NoteV2>() {
            Ok(t) => assert_eq!(t.count().unwrap(), 2, "{context}"),
            // Only a database the failure poisoned refuses it.
            Err(e) => assert!(
                poisoned && matches!(e, Error::Poisoned { .. }),
                "{context}: the migration failed: {e}"
            ),
        }
        drop(db);
        fs.power_loss();
        let db = open(&fs);
        assert_eq!(names(&db, "items"), values(&["a", "b", "c"]), "{context}");
        assert_eq!(
            db.dyn_table("notes").unwrap().count().unwrap(),
            2,
            "{context}"
        );
    }
    assert!(sites >= 8, "a checkpoint has many sites, found {sites}");
}

/// A `Durability::Buffered` database with the row "kept" checkpointed, then one commit per
/// name, never fsynced, and its process killed (the operating system keeps the writes).
fn killed_after_buffered_commits(fs: &FaultyFs, names: &[&str]) {
    let db = Database::builder()
        .file_system(fs.clone())
        .durability(tabula::Durability::Buffered)
        .open(PATH)
        .unwrap();
    let t = db.create_table(schema()).unwrap();
    t.insert(row! { "name" => "kept" }).unwrap();
    db.checkpoint().unwrap();
    for name in names {
        t.insert(row! { "name" => *name }).unwrap();
    }
    drop(t);
    fs.process_exit();
    drop(db);
}

/// With `Durability::Buffered` every commit writes its own line and nothing is fsynced
/// until a checkpoint or a close: after a power loss the disk may hold a later line and not
/// an earlier one (the pages reach it in any order). Those commits were never promised to
/// survive, so the open treats everything from the first damaged line on as a torn tail,
/// not as damage in the middle of the log.
#[test]
fn buffered_commits_since_the_last_fsync_tear_as_one_write() {
    let fs = FaultyFs::new();
    killed_after_buffered_commits(&fs, &["lost", "later", "last"]);
    // The power went out with the first unsynced line's page lost, the later ones kept.
    let path = format!("{PATH}/wal/transaction.log");
    let mut log = fs.read(&path).unwrap();
    let at = log
        .windows(6)
        .position(|w| w == b"\"lost\"")
        .expect("the line of the first unsynced commit");
    log[at - 8..at + 6].fill(0);
    fs.write(&path, &log).unwrap();
    let db = open(&fs);
    assert_eq!(names(&db, "items"), values(&["kept"]));
    let dropped = db.recovery_report();
    assert_eq!(dropped.len(), 3, "{dropped:?}");
}

/// Commits a killed process never fsynced (`Durability::Buffered`) are read by the next
/// open, which makes them durable before anything else: what an open shows survives a
/// power loss right after it, and no later commit claims, by its batch, acknowledged
/// records the disk may not hold.
#[test]
fn an_open_makes_the_commits_it_read_durable() {
    let fs = FaultyFs::new();
    killed_after_buffered_commits(&fs, &["a", "b"]);
    let db = open(&fs);
    assert_eq!(names(&db, "items"), values(&["kept", "a", "b"]));
    fs.power_loss();
    drop(db);
    let db = open(&fs);
    assert_eq!(names(&db, "items"), values(&["kept", "a", "b"]));
}

/// A disk with room for a commit's line but not for the stretch of zeros the log
/// preallocates after it: the commit commits (the zeros only spare later fsyncs a size
/// update). A line that does not fit either fails, and that commit is not there after a
/// reopen.
#[test]
fn a_nearly_full_disk_takes_a_commit_that_fits() {
    let fs = FaultyFs::new();
    let db = open(&fs);
    let t = db.create_table(schema()).unwrap();
    t.insert(row! { "name" => "a" }).unwrap();
    db.checkpoint().unwrap();
    fs.limit_log_len(Some(2048));
    t.insert(row! { "name" => "b" }).unwrap();
    assert_eq!(names(&db, "items"), values(&["a", "b"]));
    // The zeros that landed before the disk filled are given back at once: on a real disk
    // they hold room the close's checkpoint needs.
    let log = fs
        .read(std::path::Path::new(PATH).join("wal/transaction.log"))
        .unwrap();
    assert!(log.ends_with(b"\n"), "the log keeps zeros past its records");
    // The segment a close archives holds its records and nothing else.
    drop(t);
    db.close().unwrap();
    let wal_dir = std::path::Path::new(PATH).join("wal");
    let segments: Vec<Vec<u8>> = (1..=4u64)
        .filter_map(|lsn| {
            fs.read(wal_dir.join(format!("transaction.{lsn:020}.log")))
                .ok()
        })
        .collect();
    assert_eq!(
        segments.len(),
        2,
        "the checkpoint's segment and the close's"
    );
    for seg in &segments {
        assert!(seg.ends_with(b"\n"), "an archived segment ends in zeros");
    }
    let db = open(&fs);
    let t = db.dyn_table("items").unwrap();
    let big = t.insert(row! { "name" => "x".repeat(4096) });
    assert!(
        matches!(&big, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::StorageFull),
        "{big:?}"
    );
    drop(t);
    drop(db);
    fs.limit_log_len(None);
    fs.power_loss();
    let db = open(&fs);
    assert_eq!(names(&db, "items"), values(&["a", "b"]));
}

/// The same at every call of `close`, which checkpoints.
#[test]
fn power_loss_at_every_call_of_close() {
    for n in 1.. {
        let fs = varied();
        let db = open(&fs);
        fs.crash_at(n);
        let _ = db.close();
        let crashed = fs.crashed();
        drop(db);
        fs.power_loss();
        check_varied(&open(&fs), &format!("power loss at call {n} of close"));
        if !crashed {
            break;
        }
    }
}

/// A commit that creates a table and writes two: all of it survives a power loss, or none
/// of it, at every call; and once it is acknowledged, all of it.
#[test]
fn power_loss_at_every_call_of_a_commit_that_creates_a_table() {
    for n in 1.. {
        let fs = committed();
        let db = open(&fs);
        fs.crash_at(n);
        let r = db.transaction(|tx| {
            tx.dyn_table("items")?.insert(row! { "name" => "c" })?;
            tx.table::<Note>()?.insert(Note {
                id: 1,
                text: "n1".into(),
            })?;
            Ok(())
        });
        let crashed = fs.crashed();
        drop(db);
        fs.power_loss();
        let db = open(&fs);
        let items = names(&db, "items");
        let tables = db.table_names().unwrap();
        if items == values(&["a", "b", "c"]) {
            assert_eq!(tables, ["items", "notes"], "site {n}");
            assert_eq!(note_texts(&db), ["n1"], "site {n}");
        } else {
            assert!(r.is_err(), "site {n}: an acknowledged commit was lost");
            assert_eq!(items, values(&["a", "b"]), "site {n}");
            assert_eq!(tables, ["items"], "site {n}: half a transaction survived");
        }
        if !crashed {
            break;
        }
    }
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "notes")]
struct NoteIndexed {
    #[column(primary_key)]
    id: u64,
    #[column(index)]
    text: String,
}

/// A migration's calls: after a power loss at any of them, every row is there, under the
/// old schema or the new one, and opening with the new type finishes the migration.
fn power_loss_at_every_call_of_a_migration_to<V: Table>(texts: impl Fn(Vec<V>) -> Vec<String>) {
    for n in 1.. {
        let fs = FaultyFs::new();
        {
            let db = open(&fs);
            let notes = db.table::<Note>().unwrap();
            notes
                .insert_many([1, 2].map(|id| Note {
                    id,
                    text: format!("n{id}"),
                }))
                .unwrap();
            db.checkpoint().unwrap();
            notes
                .insert(Note {
                    id: 3,
                    text: "n3".into(),
                })
                .unwrap();
        }
        let db = open(&fs);
        fs.crash_at(n);
        let r = db.table::<V>();
        let crashed = fs.crashed();
        drop(r);
        drop(db);
        fs.power_loss();
        let db = open(&fs);
        let notes = db.table::<V>().unwrap_or_else(|e| panic!("site {n}: {e}"));
        assert_eq!(
            texts(notes.select().all().unwrap()),
            ["n1", "n2", "n3"],
            "site {n}"
        );
        // And the schema file is checked against the manifest again once migrated.
        drop(notes);
        db.close().unwrap();
        let schema = "/db/schema/notes.schema.json";
        let mut bytes = fs.read(schema).unwrap();
        bytes.push(b' ');
        fs.write(schema, &bytes).unwrap();
        let e = Database::builder()
            .file_system(fs.clone())
            .open(PATH)
            .unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "site {n}: {e}");
        if !crashed {
            break;
        }
    }
}

#[test]
fn power_loss_at_every_call_of_a_migration() {
    power_loss_at_every_call_of_a_migration_to::<NoteV2>(|rows| {
        assert!(rows.iter().all(|r| r.stars == 0));
        rows.into_iter().map(|r| r.text).collect()
    });
}

/// A migration that only adds an index rewrites the schema file too, and must be recorded
/// as a migration, or a crash before its checkpoint leaves a file the manifest disowns.
#[test]
fn power_loss_at_every_call_of_an_index_only_migration() {
    power_loss_at_every_call_of_a_migration_to::<NoteIndexed>(|rows| {
        rows.into_iter().map(|r| r.text).collect()
    });
}

/// `committed()`, then a log in which a unique value moves from one row to another (`b`
/// leaves row 2 and row 3 takes it), and a damaged manifest: replaying that log over
/// snapshots that already hold it would collide on `b`.
fn needs_repair() -> FaultyFs {
    let fs = committed();
    let db = open(&fs);
    let t = db.dyn_table("items").unwrap();
    t.upsert(row! { "id" => 2u64, "name" => "c" }).unwrap();
    t.insert(row! { "name" => "b" }).unwrap();
    drop(t);
    drop(db);
    fs.write("/db/manifest.json", b"{ damaged").unwrap();
    fs
}

/// Nothing a repair could keep is reported dropped, however often it is cut short.
fn assert_nothing_dropped(report: &tabula::RepairReport, n: impl std::fmt::Display) {
    assert!(report.is_clean(), "call {n}: {:?}", report.remaining);
    assert!(report.log_dropped.is_empty(), "call {n}: {report:?}");
    for t in &report.tables {
        assert_eq!(t.rows_dropped, 0, "call {n}: {:?}", t.dropped);
        assert_eq!(t.rows_recovered, 3, "call {n}");
    }
}

/// Repair over a failing file system: a call that fails while the backup is written stops it
/// before the database changes; a call that fails later leaves a directory the next repair
/// completes; and no run loses a committed row.
#[test]
fn every_failing_call_of_a_repair() {
    let files = [
        "/db/manifest.json",
        "/db/data/items.records",
        "/db/wal/transaction.log",
    ];
    let mut sites = 0;
    for n in 1.. {
        let fs = needs_repair();
        let before: Vec<Vec<u8>> = files.iter().map(|f| fs.read(f).unwrap()).collect();
        fs.fail_at(n);
        let r = fs.repair(PATH, tabula::RepairOptions::default());
        fs.fail_at(0);
        match r {
            Ok(report) => {
                assert_nothing_dropped(&report, n);
                assert!(n > 1, "the first call must be a repair site");
                break;
            }
            Err(e) => {
                sites += 1;
                let Error::Io { path, .. } = &e else {
                    panic!("call {n}: {e}")
                };
                // A failure while backing up (outside the database) changes nothing.
                if !path.starts_with(PATH) {
                    let after: Vec<Vec<u8>> = files.iter().map(|f| fs.read(f).unwrap()).collect();
                    assert_eq!(after, before, "call {n} ({e}) changed the database");
                }
                let report = fs.repair(PATH, tabula::RepairOptions::default()).unwrap();
                if report.backup.is_some() {
                    assert_nothing_dropped(&report, n);
                }
            }
        }
        let db = open(&fs);
        assert_eq!(names(&db, "items"), values(&["a", "c", "b"]), "call {n}");
    }
    assert!(sites > 10, "only {sites} calls");
}

/// Repair cut short by a power loss at each call: the next repair finishes the job, and no
/// committed row is lost.
#[test]
fn a_power_loss_at_every_call_of_a_repair() {
    for n in 1.. {
        let fs = needs_repair();
        fs.crash_at(n);
        let r = fs.repair(PATH, tabula::RepairOptions::default());
        let crashed = fs.crashed();
        fs.power_loss();
        if !crashed {
            assert_nothing_dropped(&r.unwrap(), n);
            assert!(n > 1);
            break;
        }
        // An open refuses a half-written repair rather than show part of it.
        if fs.read("/db/REPAIRING").is_ok() {
            let e = Database::builder()
                .file_system(fs.clone())
                .open(PATH)
                .unwrap_err();
            assert!(
                matches!(&e, Error::Corrupt { file, .. } if file.ends_with("REPAIRING")),
                "call {n}: {e}"
            );
        }
        let report = fs.repair(PATH, tabula::RepairOptions::default()).unwrap();
        if report.backup.is_some() {
            assert_nothing_dropped(&report, n);
        }
        let db = open(&fs);
        assert_eq!(names(&db, "items"), values(&["a", "c", "b"]), "call {n}");
    }
}
