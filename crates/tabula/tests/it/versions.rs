//! Readers work on versions: they never wait for a writer (its transaction's body, its
//! commit's fsync, a checkpoint), see a commit only once it is durable, and each read
//! transaction sees exactly one committed prefix of the writer's history. Old versions are
//! freed as soon as no reader holds them, and `stats()` counts the ones held.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use tabula::testing::FaultyFs;
use tabula::{Database, Table};

use crate::common::sql_reason;

#[derive(Table, Debug, Clone, PartialEq)]
struct Item {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    name: String,
    #[column(index)]
    group: u32,
    value: i64,
}

fn item(id: u64, value: i64) -> Item {
    Item {
        id,
        name: format!("item-{id}"),
        group: (id % 7) as u32,
        value,
    }
}

/// Runs `f` on a thread and waits up to 20 s for its result: a read that waits for the
/// parked writer shows as a timeout rather than a hung test.
fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(f());
    });
    finished.recv_timeout(Duration::from_secs(20)).ok()
}

/// What a reader sees of the table: (count, sum of values, whether key `probe` exists), by
/// a plain handle call, a query, an aggregate-like scan, and a read transaction.
fn observe(db: &Database, probe: u64) -> (usize, i64, bool, usize) {
    let items = db.table::<Item>().unwrap();
    let count = items.count().unwrap();
    let sum = items.select().all().unwrap().iter().map(|i| i.value).sum();
    let found = items.get(probe).unwrap().is_some();
    let in_read = db
        .read(|r| r.table(&items)?.select().where_eq("group", 3u32).count())
        .unwrap();
    (count, sum, found, in_read)
}

/// A database at `/db` on `fs` holding items 1 to 100.
fn hundred_items_on(fs: &FaultyFs) -> (Database, tabula::TableHandle<Item>) {
    let db = Database::builder()
        .file_system(fs.clone())
        .open("/db")
        .unwrap();
    let items = db.table::<Item>().unwrap();
    items.insert_many((1..=100).map(|i| item(i, 1))).unwrap();
    (db, items)
}

/// [`observe`] on another thread, waiting up to 20 s for it: `None` if it waited longer.
fn observe_on_another_thread(db: &Database, probe: u64) -> Option<(usize, i64, bool, usize)> {
    let db = db.clone();
    within_20s(move || observe(&db, probe))
}

/// A read started while a write transaction is stopped inside its closure completes, and
/// shows the state before the transaction; the transaction then commits.
#[test]
fn a_read_beside_a_parked_write_transaction_completes() {
    let db = Database::in_memory();
    let items = db.table::<Item>().unwrap();
    items.insert_many((1..=100).map(|i| item(i, 1))).unwrap();
    let before = observe(&db, 101);
    let (inside, parked) = mpsc::channel();
    let (release, wait) = mpsc::channel::<()>();
    let writer = {
        let db = db.clone();
        thread::spawn(move || {
            db.transaction(|tx| {
                let t = tx.table::<Item>()?;
                t.insert(item(101, 50))?;
                t.update(|i| i.id <= 10, |i| i.value = 1000)?;
                t.delete_key(50u64)?;
                inside.send(()).unwrap();
                wait.recv().unwrap();
                Ok(())
            })
        })
    };
    parked.recv().unwrap();
    let seen = observe_on_another_thread(&db, 101);
    assert_eq!(
        seen,
        Some(before),
        "the read waited for, or saw into, the transaction"
    );
    release.send(()).unwrap();
    writer.join().unwrap().unwrap();
    let after = observe(&db, 101);
    assert_eq!(after.0, 100);
    assert_eq!(after.1, 100 - 10 - 1 + 10_000 + 50);
    assert!(after.2);
}

/// A commit is seen only once its log line is durable, and a reader never waits for that
/// fsync: while it is held, reads show the version before the commit.
#[test]
fn a_read_during_a_commits_fsync_neither_waits_nor_sees_it() {
    let fs = FaultyFs::new();
    let (db, items) = hundred_items_on(&fs);
    let before = observe(&db, 101);
    let parked = fs.park_syncs("/db/wal/transaction.log");
    let writer = {
        let items = items.clone();
        thread::spawn(move || items.insert(item(101, 5)))
    };
    parked.wait_until_parked();
    let seen = observe_on_another_thread(&db, 101);
    assert_eq!(
        seen,
        Some(before),
        "the read waited for, or saw, an undurable commit"
    );
    parked.release();
    assert_eq!(writer.join().unwrap().unwrap(), 101);
    assert_eq!(observe(&db, 101).0, 101, "the commit is seen once durable");
}

/// A checkpoint held in the write of a snapshot keeps no reader and no writer waiting:
/// both go on, and the commit is kept by the log the checkpoint leaves.
#[test]
fn a_read_during_a_parked_checkpoint_completes() {
    let fs = FaultyFs::new();
    let (db, items) = hundred_items_on(&fs);
    let parked = fs.park_writes("/db/data/item.records.tmp");
    let checkpoint = {
        let db = db.clone();
        thread::spawn(move || db.checkpoint())
    };
    parked.wait_until_parked();
    let seen = observe_on_another_thread(&db, 1);
    let wrote = {
        let items = items.clone();
        within_20s(move || items.insert(item(101, 1)))
    };
    parked.release();
    checkpoint.join().unwrap().unwrap();
    assert_eq!(
        wrote.map(|r| r.unwrap()),
        Some(101),
        "the writer waited for the checkpoint"
    );
    assert_eq!(
        seen.map(|s| s.0),
        Some(100),
        "the read waited for the checkpoint"
    );
    assert_eq!(items.count().unwrap(), 101);
    // The commit made during the checkpoint is in the log the checkpoint left.
    drop((items, db));
    let db = Database::builder()
        .file_system(fs.clone())
        .open("/db")
        .unwrap();
    assert_eq!(db.table::<Item>().unwrap().count().unwrap(), 101);
}

/// Starts a read transaction on another thread that takes its version now and holds it
/// until `release` is sent; then it runs `look` on the table and returns what it found.
fn hold_a_version<O: Send + 'static>(
    db: &Database,
    items: &tabula::TableHandle<Item>,
    look: impl FnOnce(&tabula::ReadTable<'_, Item>) -> tabula::Result<O> + Send + 'static,
) -> (mpsc::Sender<()>, thread::JoinHandle<tabula::Result<O>>) {
    let (pinned, holding) = mpsc::channel();
    let (release, wait) = mpsc::channel::<()>();
    let reader = {
        let (db, items) = (db.clone(), items.clone());
        thread::spawn(move || {
            db.read(|r| {
                let t = r.table(&items)?;
                pinned.send(()).unwrap();
                wait.recv().unwrap();
                look(&t)
            })
        })
    };
    holding.recv().unwrap();
    (release, reader)
}

/// A write that fails on what a commit still waiting for its fsync wrote (a key it took)
/// returns its error only once that commit is durable: the caller is never told about a
/// commit a crash could still undo.
#[test]
fn a_failed_write_answers_only_once_what_it_saw_is_durable() {
    let fs = FaultyFs::new();
    let (_db, items) = hundred_items_on(&fs);
    let parked = fs.park_syncs("/db/wal/transaction.log");
    let first = {
        let items = items.clone();
        thread::spawn(move || items.insert(item(101, 5)))
    };
    parked.wait_until_parked();
    let (answered, answer) = mpsc::channel();
    let second = {
        let items = items.clone();
        thread::spawn(move || {
            let r = items.insert(item(101, 6));
            let _ = answered.send(());
            r
        })
    };
    assert!(
        answer.recv_timeout(Duration::from_millis(300)).is_err(),
        "the failed insert answered before the commit it collided with was durable"
    );
    parked.release();
    assert_eq!(first.join().unwrap().unwrap(), 101);
    let e = second.join().unwrap().unwrap_err();
    assert!(matches!(e, tabula::Error::UniqueViolation { .. }), "{e}");
}

/// Single-row commits spread over the table while a version is held: each copies one leaf
/// (of row pointers) and replaces one row, and `version_bytes` counts every leaf and row
/// the held version keeps.
#[test]
fn version_bytes_count_every_leaf_a_held_version_keeps() {
    let db = Database::in_memory();
    let items = db.table::<Item>().unwrap();
    items.insert_many((1..=20_000).map(|i| item(i, 1))).unwrap();
    let (release, reader) = hold_a_version(&db, &items, |t| t.count());
    // Rows 1, 201, 401, ...: one hundred commits, each in a leaf of its own.
    for id in (1..=20_000u64).step_by(200) {
        items.upsert(item(id, 2)).unwrap();
    }
    let held = db.stats().unwrap();
    assert_eq!(held.versions_held, 1);
    // Per commit at least the replaced row and its leaf's 16 pointers.
    let floor = 100 * (std::mem::size_of::<Item>() + 16 * 8) as u64;
    assert!(
        held.version_bytes >= floor,
        "{} < {floor}",
        held.version_bytes
    );
    release.send(()).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 20_000);
    assert_eq!(db.stats().unwrap().version_bytes, 0);
}

/// A read transaction reads the version it began with: a handle attached after that gets
/// an error saying so, not a false schema difference.
#[test]
fn a_handle_attached_after_a_read_began_is_refused_with_the_reason() {
    #[derive(Table, Debug, Clone)]
    struct Late {
        #[column(primary_key)]
        id: u64,
    }
    let db = Database::in_memory();
    db.table::<Item>().unwrap();
    let e = db
        .read(|r| {
            let late = db.table::<Late>()?;
            r.table(&late).map(|_| ())
        })
        .unwrap_err();
    assert!(
        matches!(&e, tabula::Error::SchemaMismatch { reason, .. } if reason.contains("after this read transaction began")),
        "{e}"
    );
    assert_eq!(
        db.read(|r| r.table(&db.table::<Late>()?)?.count()).unwrap(),
        0
    );
}

/// The power fails while a checkpoint is held in the write of its snapshot, after a writer
/// committed beside it at every step it can reach: every commit acknowledged is there after
/// the reopen, whichever step the checkpoint had reached.
#[test]
fn commits_beside_an_interrupted_checkpoint_survive_a_power_loss() {
    // The snapshot (no lock held), the archived log segment (no lock held), the cut log
    // (under the writers' lock: no commit can come beside it).
    for step in 0..3 {
        let fs = FaultyFs::new();
        let (db, items) = hundred_items_on(&fs);
        let lsn = db.stats().unwrap().last_lsn;
        let held = match step {
            0 => "/db/data/item.records.tmp".to_owned(),
            1 => format!("/db/wal/transaction.{lsn:020}.log.tmp"),
            _ => "/db/wal/transaction.log.tmp".to_owned(),
        };
        let parked = fs.park_writes(&held);
        let checkpoint = {
            let db = db.clone();
            thread::spawn(move || db.checkpoint())
        };
        parked.wait_until_parked();
        let wrote = (step < 2).then(|| {
            let items = items.clone();
            within_20s(move || items.insert(item(101, 1)))
        });
        fs.power_loss();
        parked.release();
        let _ = checkpoint.join().unwrap();
        drop((items, db));
        let db = Database::builder()
            .file_system(fs.clone())
            .open("/db")
            .unwrap();
        let want = match wrote {
            Some(r) => {
                let key = r.map(|r| r.unwrap());
                assert_eq!(key, Some(101), "the writer waited at {held}");
                101
            }
            None => 100,
        };
        assert_eq!(
            db.table::<Item>().unwrap().count().unwrap(),
            want,
            "held at {held}"
        );
    }
}

/// The number of rows written while a version is held: 100,000, or
/// `TABULA_VERSION_ROWS` (1,000,000 for the long run).
fn rows_to_write() -> u64 {
    std::env::var("TABULA_VERSION_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// A read transaction holds its version while 100,000 rows are written and old ones
/// updated: `stats()` shows it held with the bytes later commits copied; once it ends, both
/// go back to zero (the memory is freed with the last reference).
#[test]
fn a_held_version_shows_in_stats_and_is_freed_when_dropped() {
    let db = Database::in_memory();
    let items = db.table::<Item>().unwrap();
    items.insert_many((1..=1000).map(|i| item(i, 1))).unwrap();
    let idle = db.stats().unwrap();
    assert_eq!((idle.versions_held, idle.version_bytes), (0, 0));
    let (release, reader) = hold_a_version(&db, &items, |t| {
        Ok((t.count()?, t.get(1u64)?.map(|i| i.value)))
    });
    let n = rows_to_write();
    let batch = 10_000.min(n);
    let mut next = 1001;
    while next <= 1000 + n {
        let end = (next + batch).min(1001 + n);
        items.insert_many((next..end).map(|i| item(i, 2))).unwrap();
        next = end;
    }
    items.update(|i| i.id <= 1000, |i| i.value = 7).unwrap();
    let held = db.stats().unwrap();
    assert_eq!(held.versions_held, 1, "{held}");
    assert!(held.version_bytes > 0, "{held}");
    assert!(
        held.to_string()
            .contains("older versions held by readers: 1 ("),
        "{held}"
    );
    release.send(()).unwrap();
    assert_eq!(
        reader.join().unwrap().unwrap(),
        (1000, Some(1)),
        "the reader saw its own version throughout"
    );
    let after = db.stats().unwrap();
    assert_eq!(
        (after.versions_held, after.version_bytes),
        (0, 0),
        "{after}"
    );
    assert!(!after.to_string().contains("older versions"), "{after}");
    assert_eq!(items.count().unwrap() as u64, 1000 + n);
}

/// One step of the writer's history.
#[derive(Debug, Clone)]
enum Step {
    Insert(u64, i64),
    Update(u64, i64),
    Delete(u64),
    /// Several changes in one transaction.
    Batch(Vec<(u64, i64)>),
    Checkpoint,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..60, -50i64..50).prop_map(|(k, v)| Step::Insert(k, v)),
        3 => (1u64..60, -50i64..50).prop_map(|(k, v)| Step::Update(k, v)),
        2 => (1u64..60).prop_map(Step::Delete),
        2 => proptest::collection::vec((1u64..60, -50i64..50), 1..8).prop_map(Step::Batch),
        1 => Just(Step::Checkpoint),
    ]
}

/// The row that numbers the commits: its value is how many commits came before.
const COUNTER: u64 = 1_000;

/// Applies `step` to the model; false if it changes nothing (then the writer skips it).
fn apply(model: &mut BTreeMap<u64, i64>, step: &Step) -> bool {
    match step {
        Step::Insert(k, v) if !model.contains_key(k) => {
            model.insert(*k, *v);
        }
        Step::Update(k, v) if model.contains_key(k) => {
            model.insert(*k, *v);
        }
        Step::Delete(k) if model.contains_key(k) => {
            model.remove(k);
        }
        Step::Batch(changes) => {
            for (k, v) in changes {
                model.insert(*k, *v);
            }
        }
        _ => return false,
    }
    true
}

/// Runs `steps` as a writer's history while two readers keep reading, each in read
/// transactions that look at the table twice; every state a reader sees must be exactly
/// one committed prefix of the history, the same both times, and never older than one it
/// saw before.
fn readers_see_prefixes(db: &Database, steps: &[Step]) -> Result<(), TestCaseError> {
    let items = db.table::<Item>().unwrap();
    items.insert(item(COUNTER, 0)).unwrap();
    // history[n]: the table after n commits (counter row left out).
    let history = Arc::new(Mutex::new(vec![BTreeMap::new()]));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, items, history, done) =
                (db.clone(), items.clone(), history.clone(), done.clone());
            thread::spawn(move || -> Result<usize, String> {
                let mut last = 0;
                let mut reads = 0;
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::Acquire);
                    let (n, rows) = db
                        .read(|r| {
                            let t = r.table(&items)?;
                            let look = || -> tabula::Result<(i64, BTreeMap<u64, i64>)> {
                                let mut rows: BTreeMap<u64, i64> = t
                                    .select()
                                    .all()?
                                    .into_iter()
                                    .map(|i| (i.id, i.value))
                                    .collect();
                                let n = rows.remove(&COUNTER).unwrap_or(-1);
                                Ok((n, rows))
                            };
                            let first = look()?;
                            let second = look()?;
                            assert_eq!(first, second, "one read transaction, two states");
                            Ok(first)
                        })
                        .map_err(|e| e.to_string())?;
                    let n = usize::try_from(n).map_err(|_| "no counter row".to_string())?;
                    let want = history.lock().unwrap().get(n).cloned();
                    if want.as_ref() != Some(&rows) {
                        return Err(format!("after {n} commits saw {rows:?}, want {want:?}"));
                    }
                    if n < last {
                        return Err(format!("went back from {last} commits to {n}"));
                    }
                    last = n;
                    reads += 1;
                    if finished {
                        return Ok(reads);
                    }
                }
            })
        })
        .collect();
    let mut model = BTreeMap::new();
    for s in steps {
        if let Step::Checkpoint = s {
            db.checkpoint().unwrap();
            continue;
        }
        if !apply(&mut model, s) {
            continue;
        }
        // The history holds the state before the commit makes it visible.
        let commits = {
            let mut h = history.lock().unwrap();
            h.push(model.clone());
            h.len() - 1
        };
        db.transaction(|tx| {
            let t = tx.table::<Item>()?;
            match s {
                Step::Insert(k, v) => {
                    t.insert(item(*k, *v))?;
                }
                Step::Update(k, v) => {
                    t.update(|i| i.id == *k, |i| i.value = *v)?;
                }
                Step::Delete(k) => {
                    t.delete_key(*k)?;
                }
                Step::Batch(changes) => {
                    for (k, v) in changes {
                        t.upsert(item(*k, *v))?;
                    }
                }
                Step::Checkpoint => {}
            }
            t.update(|i| i.id == COUNTER, |i| i.value = commits as i64)?;
            Ok(())
        })
        .unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        let reads = r.join().unwrap().map_err(TestCaseError::fail)?;
        prop_assert!(reads > 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn every_read_sees_one_committed_prefix_in_memory(steps in proptest::collection::vec(step(), 1..80)) {
        readers_see_prefixes(&Database::in_memory(), &steps)?;
    }

    #[test]
    fn every_read_sees_one_committed_prefix_on_disk(steps in proptest::collection::vec(step(), 1..60)) {
        let fs = FaultyFs::new();
        let db = Database::builder().file_system(fs.clone()).open("/db").unwrap();
        readers_see_prefixes(&db, &steps)?;
        let model: Vec<(u64, i64)> = db.table::<Item>().unwrap().select().all().unwrap()
            .into_iter().map(|i| (i.id, i.value)).collect();
        db.close().unwrap();
        let again = Database::builder().file_system(fs).open("/db").unwrap();
        let reopened: Vec<(u64, i64)> = again.table::<Item>().unwrap().select().all().unwrap()
            .into_iter().map(|i| (i.id, i.value)).collect();
        prop_assert_eq!(reopened, model);
    }
}

// ---- SQL in a read transaction ----

fn ints(rows: &[Vec<tabula::Value>]) -> Vec<Vec<i64>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    tabula::Value::Int(i) => *i,
                    other => panic!("expected an integer, got {other:?}"),
                })
                .collect()
        })
        .collect()
}

#[test]
fn sql_in_a_read_transaction_reads_its_version_while_another_thread_commits() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
         INSERT INTO t (v) VALUES (1), (2)",
    )
    .unwrap();
    let writer = db.clone();
    let (before, after) = db
        .read(|r| {
            let before = r.sql("SELECT COUNT(*), SUM(v) FROM t")?;
            // Committed on another thread before the next statement: not in this version.
            thread::spawn(move || {
                writer
                    .sql("INSERT INTO t (v) VALUES (40); UPDATE t SET v = v * 10")
                    .map(|_| ())
            })
            .join()
            .unwrap()?;
            let after = r.sql_with(
                "SELECT COUNT(*), SUM(v) FROM t WHERE v < ?",
                &[tabula::Value::Int(1000)],
            )?;
            Ok((before.rows, after.rows))
        })
        .unwrap();
    assert_eq!(ints(&before), vec![vec![2, 3]]);
    assert_eq!(ints(&after), vec![vec![2, 3]]);
    let now = db.sql("SELECT COUNT(*), SUM(v) FROM t").unwrap();
    assert_eq!(ints(&now.rows), vec![vec![3, 430]]);
}

#[test]
fn a_read_transaction_refuses_sql_that_writes_before_running_any_of_it() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t (v) VALUES (1)",
    )
    .unwrap();
    db.read(|r| {
        // Refused before the first statement runs: its own error would come first.
        let why = sql_reason(r.sql("SELECT * FROM nowhere; INSERT INTO t (v) VALUES (5)"));
        assert!(
            why.contains("statement 2 writes") && why.contains("db.transaction"),
            "{why}"
        );
        let why = sql_reason(r.sql("BEGIN; SELECT 1; COMMIT"));
        assert!(
            why.contains("BEGIN, COMMIT and ROLLBACK are refused"),
            "{why}"
        );
        let why = sql_reason(r.sql("CREATE TABLE u (id INTEGER PRIMARY KEY)"));
        assert!(why.contains("statement 1 writes"), "{why}");
        // Still usable after a refusal.
        assert_eq!(ints(&r.sql("SELECT COUNT(*) FROM t")?.rows), vec![vec![1]]);
        Ok(())
    })
    .unwrap();
    assert_eq!(db.table_names().unwrap(), vec!["t".to_owned()]);
    let rows = db.sql("SELECT COUNT(*) FROM t").unwrap().rows;
    assert_eq!(ints(&rows), vec![vec![1]]);
}

/// A database of two tables, `a` and `b`, closed, so that opening it again loads neither.
fn two_tables_on_disk(dir: &std::path::Path) {
    let db = Database::open(dir).unwrap();
    db.sql(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
         CREATE TABLE b (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
         INSERT INTO a (v) VALUES (1), (2); INSERT INTO b (v) VALUES (3)",
    )
    .unwrap();
    db.close().unwrap();
}

#[test]
fn a_read_transaction_loads_tables_from_disk_as_of_its_version_or_says_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    two_tables_on_disk(dir.path());

    // Nothing committed meanwhile: each table loads when the transaction first reads it.
    let db = Database::open(dir.path()).unwrap();
    let counts = db
        .read(|r| {
            let a = r.sql("SELECT COUNT(*) FROM a")?.rows;
            let b = r.sql("SELECT COUNT(*) FROM b")?.rows;
            let joined = r.sql("SELECT COUNT(*) FROM a JOIN b ON a.id = b.id")?.rows;
            Ok((ints(&a), ints(&b), ints(&joined)))
        })
        .unwrap();
    assert_eq!(counts, (vec![vec![2]], vec![vec![1]], vec![vec![1]]));
    db.close().unwrap();

    // A commit to `b` before the transaction first reads it: loading `b` then would show
    // that commit beside the older `a`, so the statement fails instead.
    let db = Database::open(dir.path()).unwrap();
    let writer = db.clone();
    db.read(|r| {
        assert_eq!(ints(&r.sql("SELECT COUNT(*) FROM a")?.rows), vec![vec![2]]);
        thread::spawn(move || writer.sql("INSERT INTO b (v) VALUES (4)").map(|_| ()))
            .join()
            .unwrap()?;
        let why = sql_reason(r.sql("SELECT COUNT(*) FROM b"));
        assert!(
            why.contains("table b was not loaded from disk when this read transaction began"),
            "{why}"
        );
        // The transaction goes on with what it had.
        assert_eq!(ints(&r.sql("SELECT COUNT(*) FROM a")?.rows), vec![vec![2]]);
        Ok(())
    })
    .unwrap();
    // Run again, it reads the new version.
    let b = db.read(|r| r.sql("SELECT COUNT(*) FROM b")).unwrap();
    assert_eq!(ints(&b.rows), vec![vec![2]]);
}

/// After a reopen, a SQL read of a table not loaded yet does not wait for a write
/// transaction parked on another thread (loading it would take the writers' lock the
/// transaction holds): it reads the committed rows. A read inside the transaction's own
/// closure does too (it reads the committed version, not the transaction's). Once the
/// lock is free, the next read installs the table for everyone.
#[test]
fn a_sql_read_of_a_table_not_loaded_yet_never_waits_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    two_tables_on_disk(dir.path());
    let db = Database::open(dir.path()).unwrap();
    let (inside, parked) = mpsc::channel();
    let (release, wait) = mpsc::channel::<()>();
    let writer = {
        let db = db.clone();
        thread::spawn(move || {
            db.transaction(|tx| {
                tx.dyn_table("a")?.insert(tabula::row! { "v" => 10 })?;
                // The committed version, from inside: `b` (and `a`, as committed) loaded
                // for this read only, both into the one version the statement reads.
                let own = db.sql("SELECT COUNT(*), SUM(v) FROM b")?.rows;
                let joined = db
                    .sql("SELECT COUNT(*), SUM(b.v) FROM a JOIN b ON a.id = b.id")?
                    .rows;
                inside.send((ints(&own), ints(&joined))).unwrap();
                wait.recv().unwrap();
                Ok(())
            })
        })
    };
    assert_eq!(parked.recv().unwrap(), (vec![vec![1, 3]], vec![vec![1, 3]]));
    let reader = db.clone();
    let seen = within_20s(move || {
        let joined = reader
            .sql("SELECT COUNT(*), SUM(a.v) FROM a JOIN b ON a.id = b.id")
            .map(|r| ints(&r.rows));
        let b = reader
            .sql("SELECT COUNT(*), SUM(v) FROM b")
            .map(|r| ints(&r.rows));
        let a = reader.sql("SELECT COUNT(*) FROM a").map(|r| ints(&r.rows));
        (joined, b, a)
    });
    let Some((joined, b, a)) = seen else {
        panic!("the read waited for the write transaction");
    };
    assert_eq!(joined.unwrap(), vec![vec![1, 1]]);
    assert_eq!(b.unwrap(), vec![vec![1, 3]]);
    assert_eq!(a.unwrap(), vec![vec![2]]);
    release.send(()).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(
        ints(&db.sql("SELECT COUNT(*) FROM a").unwrap().rows),
        vec![vec![3]]
    );
    assert_eq!(
        ints(&db.sql("SELECT SUM(v) FROM b").unwrap().rows),
        vec![vec![3]]
    );
    let stats = db.stats().unwrap();
    assert!(stats.tables.iter().all(|t| t.loaded), "{stats:?}");
}

/// After a reopen, an export (and a dump) of tables not loaded yet does not wait for a write
/// transaction parked on another thread: it writes every table as last committed, the
/// transaction's uncommitted row left out.
#[test]
fn an_export_of_tables_not_loaded_yet_never_waits_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    two_tables_on_disk(&dir.path().join("db"));
    let db = Database::open(dir.path().join("db")).unwrap();
    let (inside, parked) = mpsc::channel();
    let (release, wait) = mpsc::channel::<()>();
    let writer = {
        let db = db.clone();
        thread::spawn(move || {
            db.transaction(|tx| {
                tx.dyn_table("a")?.insert(tabula::row! { "v" => 10 })?;
                inside.send(()).unwrap();
                wait.recv().unwrap();
                Ok(())
            })
        })
    };
    parked.recv().unwrap();
    let (reader, out) = (db.clone(), dir.path().join("export.json"));
    let exported = within_20s(move || {
        reader.export_json(&out)?;
        let mut dump = Vec::new();
        reader.dump_sql(tabula::Dialect::Sqlite, &mut dump)?;
        Ok::<_, tabula::Error>(String::from_utf8(dump).unwrap())
    });
    let Some(dump) = exported else {
        panic!("the export waited for the write transaction");
    };
    let dump = dump.unwrap();
    assert!(
        dump.contains("(1, 1),\n(2, 2);") && dump.contains("(1, 3);"),
        "{dump}"
    );
    assert!(!dump.contains("10)"), "{dump}");
    release.send(()).unwrap();
    writer.join().unwrap().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("export.json")).unwrap()).unwrap();
    let rows = |t: usize| doc["tables"][t]["rows"].as_array().unwrap().len();
    assert_eq!((rows(0), rows(1)), (2, 1), "{doc}");
}
