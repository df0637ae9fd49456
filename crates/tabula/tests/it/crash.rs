//! Crash tests: a child process (this test binary, re-run with `TABULA_CRASH_CHILD` set)
//! commits three-row transactions with `Immediate` durability, checkpointing now and then,
//! and prints each transaction number once its commit has returned. The parent kills it with
//! SIGKILL at a random moment, reopens the directory, and checks that every acknowledged
//! transaction is there and that no transaction is there in part. Every tenth cycle it
//! also opens the directory read-only beside the running child and after the kill: whole
//! transactions, none missing, and (after the kill) not a byte of the directory changed.
//!
//! CI runs 200 cycles; set `TABULA_CRASH_CYCLES` for more.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tabula::{Database, Table};

#[derive(Table, Debug, Clone)]
struct Part {
    #[column(primary_key)]
    id: u64,
    #[column(index)]
    txn: u64,
    part: u8,
    #[column(unique)]
    tag: String,
}

const CHILD_ENV: &str = "TABULA_CRASH_CHILD";

/// The child's work. Runs only when the parent starts this binary with the variable set.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Database::open(&dir).expect("child open");
    let parts = db.table::<Part>().expect("child table");
    let start = parts
        .select()
        .order_by("-txn")
        .first()
        .expect("child read")
        .map_or(0, |p| p.txn)
        + 1;
    for txn in start.. {
        db.transaction(|tx| {
            let t = tx.table::<Part>()?;
            for part in 0..3u8 {
                t.insert(Part {
                    id: 0,
                    txn,
                    part,
                    tag: format!("{txn}-{part}"),
                })?;
            }
            if txn % 7 == 0 {
                // Update and delete earlier rows too, so replay has more than inserts.
                t.update(|p| p.txn + 5 == txn, |p| p.tag.push('u'))?;
            }
            Ok(())
        })
        .expect("child commit");
        println!("ack {txn}");
        if txn % 25 == 0 {
            db.checkpoint().expect("child checkpoint");
        }
    }
}

fn check(dir: &std::path::Path, acked: u64) -> u64 {
    let db = Database::open(dir).expect("reopen after kill");
    check_db(&db, acked)
}

/// A read-only open, beside the running child or after its kill, sees whole transactions,
/// none missing, and at least the acknowledged ones. After the kill (`writer_dead`) it must
/// also leave every file as it was: no tail cut or set aside, no checkpoint finished.
fn check_read_only(dir: &std::path::Path, acked: u64, writer_dead: bool) {
    let before = writer_dead.then(|| files(dir));
    let db = Database::open_read_only(dir).expect("read-only open");
    check_db(&db, acked);
    drop(db);
    if let Some(before) = before {
        assert!(
            before == files(dir),
            "a read-only open changed the directory"
        );
    }
}

fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for sub in ["", "schema", "data", "wal"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            if e.path().is_file() {
                v.push((e.path(), std::fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    v.sort();
    v
}

fn check_db(db: &Database, acked: u64) -> u64 {
    let parts = db.table::<Part>().expect("table after kill");
    let mut by_txn: BTreeMap<u64, usize> = BTreeMap::new();
    for p in parts.select().all().expect("read after kill") {
        *by_txn.entry(p.txn).or_default() += 1;
    }
    for (txn, n) in &by_txn {
        assert_eq!(*n, 3, "transaction {txn} is half applied");
    }
    let last = by_txn.keys().next_back().copied().unwrap_or(0);
    assert!(
        last >= acked,
        "acknowledged transaction {acked} lost (last present {last})"
    );
    assert_eq!(by_txn.len() as u64, last, "a transaction is missing");
    last
}

#[test]
fn killed_processes_lose_no_acknowledged_commit() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let cycles: u64 = std::env::var("TABULA_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut total_acked = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Kill after a random number of acknowledged commits (0..40), or after a random time
        // when the child is slow to start.
        let want = seed % 40;
        let started = Instant::now();
        let mut acked = 0u64;
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        while seen < want && started.elapsed() < Duration::from_secs(5) {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(n) = l.strip_prefix("ack ") {
                        acked = n.trim().parse().unwrap();
                        seen += 1;
                    }
                }
                _ => break,
            }
        }
        // Every tenth cycle a read-only open beside the child, and after its kill (each
        // reads the whole directory: every cycle would multiply the test's time).
        let read_only_check = cycle % 10 == 0;
        if seen > 0 && read_only_check {
            check_read_only(&path, acked, false);
        }
        child.kill().unwrap();
        // Lines printed before the kill are acknowledged too.
        for l in lines.map_while(Result::ok) {
            if let Some(n) = l.strip_prefix("ack ") {
                acked = n.trim().parse().unwrap();
            }
        }
        child.wait().unwrap();
        if read_only_check && (path.join("manifest.json").exists() || path.join("wal").exists()) {
            check_read_only(&path, acked, true);
        }
        let last = check(&path, acked);
        total_acked = total_acked.max(acked);
        assert!(last >= total_acked, "cycle {cycle}: lost commits");
    }
    assert!(total_acked > 0, "the child never committed");
}
