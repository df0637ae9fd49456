//! Damaged write-ahead logs, snapshots and leftovers: what open keeps, drops and refuses.

use std::fs;
use std::path::{Path, PathBuf};

use tabula::{Database, Error, Recovery};

use crate::common::{archived_segments, student, Student};

/// A database whose log holds four commits (one row each) after the checkpoint that
/// followed the table's creation; returns its path.
fn four_commits(dir: &Path) -> PathBuf {
    let path = dir.join("db");
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    db.checkpoint().unwrap();
    for (i, n) in ["A", "B", "C", "D"].iter().enumerate() {
        s.insert(student(n, 2020 + i as u32, 1.0)).unwrap();
    }
    path
}

/// Copies a database directory.
fn copy_dir(from: &Path, to: &Path) {
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            fs::create_dir_all(to).unwrap();
            fs::copy(&p, &target).unwrap();
        }
    }
}

/// Every open of `path`, writable and read-only, refuses its log at `line` with a reason
/// naming `words`, leaving the log as it is (`damaged`); verify reports the line likewise.
fn assert_log_refused(path: &Path, damaged: &[u8], line: u64, words: &str, case: &str) {
    for e in [
        Database::open(path).unwrap_err(),
        Database::open_read_only(path).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Corrupt { line: l, reason, .. } if *l == line && reason.contains(words)),
            "{case}: {e}"
        );
    }
    assert_eq!(
        fs::read(path.join("wal/transaction.log")).unwrap(),
        damaged,
        "{case}: the log is left as it was"
    );
    let problems = tabula::verify(path).unwrap();
    assert!(
        problems.iter().any(|p| {
            let p = p.to_string();
            p.contains(&format!("transaction.log:{line}")) && p.contains(words)
        }),
        "{case}: {problems:?}"
    );
}

/// Repairs `path` (made by [`four_commits`], then damaged): it verifies clean after, keeps
/// all four commits and hands out the key after them. Returns the repair's report.
fn assert_repaired_whole(path: &Path, case: &str) -> tabula::RepairReport {
    let report = tabula::repair(path, tabula::RepairOptions::default()).unwrap();
    assert_eq!(tabula::verify(path).unwrap(), vec![], "{case}");
    let db = Database::open(path).unwrap();
    let s = db.table::<Student>().unwrap();
    assert_eq!(s.count().unwrap(), 4, "{case}");
    assert_eq!(s.insert(student("E", 2024, 1.0)).unwrap(), 5, "{case}");
    report
}

/// Repairs `path`, dropping exactly the log's lines `dropped`; it verifies clean after.
fn assert_repair_drops(path: &Path, dropped: &[u64], case: &str) {
    let report = tabula::repair(path, tabula::RepairOptions::default()).unwrap();
    let lines: Vec<u64> = report.log_dropped.iter().map(|d| d.line).collect();
    assert_eq!(lines, dropped, "{case}");
    assert_eq!(tabula::verify(path).unwrap(), vec![], "{case}");
}

/// Where the last line of a log (which ends in a newline) starts.
fn last_line_start(log: &[u8]) -> usize {
    log[..log.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

fn names(path: &Path) -> Vec<String> {
    let db = Database::open(path).unwrap();
    let v = db.table::<Student>().unwrap().select().all().unwrap();
    v.into_iter().map(|s| s.name).collect()
}

#[test]
fn truncating_the_last_record_at_every_byte_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let full = fs::read(&wal).unwrap();
    let last_start = last_line_start(&full);
    for cut in last_start..full.len() {
        fs::write(&wal, &full[..cut]).unwrap();
        assert_eq!(names(&path), ["A", "B", "C"], "cut at {cut}");
        // The tail was cut off, so the next commit starts on a clean line.
        assert_eq!(fs::read(&wal).unwrap().len(), last_start);
    }
    fs::write(&wal, &full).unwrap();
    assert_eq!(names(&path), ["A", "B", "C", "D"]);
}

#[test]
fn zeros_and_garbage_at_the_end_are_dropped_and_writing_goes_on() {
    for junk in [
        vec![0u8; 8192],
        b"9f3a2b1c {\"lsn\":5,\"tab".to_vec(),
        b"\xff\xfe garbage\n\n\x00".to_vec(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = four_commits(dir.path());
        let wal = path.join("wal/transaction.log");
        let mut bytes = fs::read(&wal).unwrap();
        bytes.extend_from_slice(&junk);
        fs::write(&wal, &bytes).unwrap();
        {
            let db = Database::open(&path).unwrap();
            // Zeros alone are preallocated space a crash left behind, not damage.
            let only_zeros = junk.iter().all(|&b| b == 0);
            assert_eq!(db.recovery_report().is_empty(), only_zeros);
            db.table::<Student>()
                .unwrap()
                .insert(student("E", 2020, 1.0))
                .unwrap();
        }
        assert_eq!(names(&path), ["A", "B", "C", "D", "E"]);
        let strict = Database::builder().recovery(Recovery::Strict).open(&path);
        assert!(strict.is_ok(), "the log is clean again");
    }
}

/// A last record that is whole and matches its checksum but cannot be read (written by a
/// newer version, or damaged before its checksum was taken) was a commit written whole: an
/// open refuses it rather than drop it as an unfinished one, and verify reports it.
#[test]
fn a_sealed_last_record_that_does_not_read_is_corruption_not_a_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let bytes = fs::read(&wal).unwrap();
    let last_start = last_line_start(&bytes);
    let body = std::str::from_utf8(&bytes[last_start + 9..bytes.len() - 1]).unwrap();
    for unreadable in [
        body.replacen("\"year\":2023", "\"year\":NaN", 1),
        body.replacen("\"lsn\":", "\"lsn\":\"x\",\"was\":", 1),
        "[1,2]".to_string(),
    ] {
        assert_ne!(unreadable, body);
        let mut damaged = bytes[..last_start].to_vec();
        damaged.extend(
            format!(
                "{:08x} {unreadable}\n",
                crc32c::crc32c(unreadable.as_bytes())
            )
            .bytes(),
        );
        fs::write(&wal, &damaged).unwrap();
        assert_log_refused(&path, &damaged, 4, "checksum matches", &unreadable);
    }
    // Salvage keeps the three commits before it and sets the record aside; so does repair.
    let salvaged = dir.path().join("salvaged");
    copy_dir(&path, &salvaged);
    let db = Database::builder()
        .recovery(Recovery::Salvage)
        .open(&salvaged)
        .unwrap();
    assert_eq!(
        db.recovery_report()
            .iter()
            .map(|d| d.line)
            .collect::<Vec<_>>(),
        vec![4]
    );
    drop(db);
    assert_eq!(names(&salvaged), ["A", "B", "C"]);
    tabula::repair(&path, tabula::RepairOptions::default()).unwrap();
    assert_eq!(names(&path), ["A", "B", "C"]);
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
}

/// A last log line without its newline is the commit a writer is writing while one has
/// the database open: `verify` beside it finds no problem and `log_records` (`tabula wal`)
/// does not list it (as the read-only open leaves the line out), where the same bytes with
/// no writer are a crash's unfinished commit.
#[test]
fn verify_beside_a_writer_leaves_the_commit_being_written_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    s.insert(student("A", 2020, 1.0)).unwrap();
    // Half of the next commit's line where the writer writes next: over the log's
    // preallocated zeros, after its last newline.
    let wal = path.join("wal/transaction.log");
    let bytes = fs::read(&wal).unwrap();
    let end = bytes.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let line = &bytes[last_line_start(&bytes[..end])..end];
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::OpenOptions::new().write(true).open(&wal).unwrap();
        f.seek(SeekFrom::Start(end as u64)).unwrap();
        f.write_all(&line[..line.len() / 2]).unwrap();
    }
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
    // `tabula wal` lists the records, not the commit being written.
    let records = tabula::log_records(&path).unwrap();
    assert!(
        records.iter().all(|r| r.problem.is_none()) && records.len() == 2,
        "{records:?}"
    );
    let copy = dir.path().join("copy");
    copy_dir(&path, &copy);
    let problems = tabula::verify(&copy).unwrap();
    assert!(
        matches!(problems.as_slice(), [p] if p.message.contains("unterminated line")),
        "{problems:?}"
    );
    let records = tabula::log_records(&copy).unwrap();
    assert!(
        matches!(records.as_slice(), [.., last] if last.problem.is_some()) && records.len() == 3,
        "{records:?}"
    );
    // A whole last line, newline and all, that fails its checksum is damage, writer or
    // not: a byte of the row changed in the line before the half-written one.
    let mut bytes = fs::read(&wal).unwrap();
    bytes[end..end + line.len() / 2].fill(0);
    let at = last_line_start(&bytes[..end]) + line.len() / 2;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    fs::write(&wal, &bytes).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        matches!(problems.as_slice(), [p] if p.message.contains("checksum")),
        "{problems:?}"
    );
    let records = tabula::log_records(&path).unwrap();
    assert!(
        matches!(records.as_slice(), [_, last] if last.problem.as_deref().is_some_and(|p| p.contains("checksum"))),
        "{records:?}"
    );
    drop(s);
    drop(db);
}

#[test]
fn strict_mode_refuses_even_an_unfinished_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let bytes = fs::read(&wal).unwrap();
    fs::write(&wal, &bytes[..bytes.len() - 3]).unwrap();
    let e = Database::builder()
        .recovery(Recovery::Strict)
        .open(&path)
        .unwrap_err();
    assert!(matches!(e, Error::Corrupt { line: 4, .. }), "{e}");
}

#[test]
fn a_flipped_byte_in_a_middle_record_is_corruption_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let mut bytes = fs::read(&wal).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let pos = second + 40;
    bytes[pos] = if bytes[pos] == b'x' { b'y' } else { b'x' };
    fs::write(&wal, &bytes).unwrap();
    let e = Database::open(&path).unwrap_err();
    match &e {
        Error::Corrupt { file, line, reason } => {
            assert!(file.ends_with("wal/transaction.log"));
            assert_eq!(*line, 2);
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("transaction.log:2"), "{e}");
    // verify names the damaged line once: the gap in LSNs after it is that line's.
    let problems = tabula::verify(&path).unwrap();
    let lines: Vec<u64> = problems
        .iter()
        .filter(|p| p.file.ends_with("wal/transaction.log"))
        .map(|p| p.line)
        .collect();
    assert_eq!(lines, vec![2], "{problems:?}");
    // Salvage keeps what can be read, reports the rest, and leaves a clean directory.
    {
        let db = Database::builder()
            .recovery(Recovery::Salvage)
            .open(&path)
            .unwrap();
        let report = db.recovery_report();
        assert_eq!(
            report.iter().map(|d| d.line).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 1);
    }
    assert_eq!(names(&path), ["A"]);
}

#[test]
fn a_damaged_snapshot_is_refused_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    {
        let db = Database::open(&path).unwrap();
        db.table::<Student>().unwrap();
        db.checkpoint().unwrap();
    }
    let records = path.join("data/students.records");
    let text = fs::read_to_string(&records)
        .unwrap()
        .replace("\"B\"", "\"Z\"");
    fs::write(&records, text).unwrap();
    let db = Database::open(&path).unwrap();
    let e = db.table::<Student>().unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("students.records"), "{e}");
}

#[test]
fn leftover_temporary_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    fs::write(path.join("data/students.records.tmp"), "half a snapshot").unwrap();
    fs::write(path.join("manifest.json.tmp"), "{").unwrap();
    assert_eq!(names(&path).len(), 4);
    assert!(!path.join("data/students.records.tmp").exists());
    assert!(!path.join("manifest.json.tmp").exists());
}

#[test]
fn a_committed_but_unrenamed_snapshot_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    {
        let db = Database::open(&path).unwrap();
        db.table::<Student>().unwrap();
        db.checkpoint().unwrap();
    }
    // Simulate a crash after the manifest was committed, before the snapshot's rename.
    let records = path.join("data/students.records");
    fs::rename(&records, path.join("data/students.records.tmp")).unwrap();
    assert_eq!(names(&path), ["A", "B", "C", "D"]);
    assert!(records.exists());
}

#[test]
fn verify_accepts_empty_tables_and_reports_empty_lines_as_loading_does() {
    use tabula::Table;
    #[derive(Table, Clone, Debug)]
    struct Nothing {
        #[column(primary_key)]
        id: u64,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    {
        let db = Database::open(&path).unwrap();
        db.table::<Nothing>().unwrap();
        db.table::<Student>().unwrap();
        db.close().unwrap();
    }
    assert_eq!(fs::read(path.join("data/nothing.records")).unwrap(), b"");
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
    // An empty line inside a snapshot: loading refuses it, and verify names it (with the
    // archived segments pruned: with them, repair would rebuild the file from them).
    crate::common::remove_archived_segments(&path);
    let records = path.join("data/students.records");
    let text = fs::read_to_string(&records)
        .unwrap()
        .replacen('\n', "\n\n", 1);
    fs::write(&records, text).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.line == 2 && p.message == "empty line"),
        "{problems:?}"
    );
    let db = Database::open(&path).unwrap();
    assert!(matches!(db.table::<Student>(), Err(Error::Corrupt { .. })));
}

/// A snapshot the manifest lists but the directory lost is damage, as a bad checksum is:
/// `Error::Corrupt` naming the file and the rows it held (which points the CLI's user at
/// `repair`), from a writable open and a read-only one alike, not a bare I/O error.
#[test]
fn a_missing_snapshot_is_corrupt_not_a_bare_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    db.sql(
        "CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO b (v) VALUES ('x'), ('y')",
    )
    .unwrap();
    db.close().unwrap();
    fs::remove_file(path.join("data/b.records")).unwrap();
    for read_only in [false, true] {
        let db = if read_only {
            Database::open_read_only(&path)
        } else {
            Database::open(&path)
        }
        .unwrap();
        match db.sql("SELECT count(*) FROM b") {
            Err(Error::Corrupt { file, line, reason }) => {
                assert!(file.ends_with("data/b.records"), "{}", file.display());
                assert_eq!(
                    (line, reason.as_str()),
                    (0, "missing; the manifest lists 2 rows")
                );
            }
            other => panic!("read-only {read_only}: {other:?}"),
        }
    }
}

/// A log record writing a table that a later record creates (both sealed with their
/// checksums): an open refuses it as an unknown table, and verify must say so too rather
/// than find nothing; repair drops that record and keeps the table the later one creates.
#[test]
fn a_record_writing_a_table_before_its_creation_is_found_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let mut bytes = fs::read(&wal).unwrap();
    let last: serde_json::Value =
        serde_json::from_slice(&bytes[last_line_start(&bytes) + 9..bytes.len() - 1]).unwrap();
    let lsn = last["lsn"].as_u64().unwrap();
    let put = format!(
        r#"{{"lsn":{},"tables":[{{"table":"newt","next_key":2,"put":[{{"id":1,"v":"a"}}],"delete":[]}}],"batch":{}}}"#,
        lsn + 1,
        lsn + 1
    );
    let create = format!(
        r#"{{"lsn":{},"tables":[{{"table":"newt","create":{{"table":"newt","columns":[{{"name":"id","type":"i64","nullable":false,"primary_key":true}},{{"name":"v","type":"text","nullable":true}}]}},"next_key":2,"put":[],"delete":[]}}],"batch":{}}}"#,
        lsn + 2,
        lsn + 2
    );
    for body in [&put, &create] {
        bytes.extend(format!("{:08x} {body}\n", crc32c::crc32c(body.as_bytes())).bytes());
    }
    fs::write(&wal, &bytes).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { line: 5, reason, .. } if reason.contains("unknown table")),
        "{e}"
    );
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.line == 5 && p.message.contains("unknown table \"newt\"")),
        "{problems:?}"
    );
    assert_repair_drops(&path, &[5], "newt");
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM newt").unwrap().rows,
        vec![vec![tabula::Value::Int(0)]]
    );
    assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 4);
}

/// The line break after a whole record damaged: the record and the next one run together
/// into one last line whose checksum fails, which read as a torn tail and was cut, losing
/// two commits without a word. The record's own checksum still matches the line's start,
/// and what follows it is no crash's work (any byte but zero where the newline was, the
/// newline gone, or a zero with a whole record after it), so it is damage:
/// every open refuses it and verify names it; salvage and repair keep both records. A
/// zero with nothing whole after it is what a crash leaves (the log is preallocated with
/// zeros): that stays an unfinished write.
#[test]
fn a_damaged_line_break_between_two_commits_is_corruption_not_a_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let bytes = fs::read(&wal).unwrap();
    let last_start = last_line_start(&bytes);
    let second_start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let replaced = |at: usize, byte: u8| {
        let mut damaged = bytes.clone();
        damaged[at] = byte;
        damaged
    };
    let mut deleted = bytes.clone();
    deleted.remove(last_start - 1);
    // The last two records written in one go (a group commit): the last names the third's
    // LSN as its write's first. A zero between them is no crash's work either.
    let mut grouped = bytes[..last_start].to_vec();
    let mut last: serde_json::Value =
        serde_json::from_slice(&bytes[last_start + 9..bytes.len() - 1]).unwrap();
    last["batch"] = last["lsn"].as_u64().unwrap().saturating_sub(1).into();
    let body = last.to_string();
    grouped.extend(format!("{:08x} {body}\n", crc32c::crc32c(body.as_bytes())).bytes());
    grouped[last_start - 1] = 0;
    let cases = [
        (
            "X",
            replaced(last_start - 1, b'X'),
            3,
            "byte 0x58 where its newline was",
        ),
        (
            "vt",
            replaced(last_start - 1, 0x0b),
            3,
            "byte 0x0b where its newline was",
        ),
        (
            "zero",
            replaced(last_start - 1, 0),
            3,
            "byte 0x00 where its newline was",
        ),
        (
            "zero-mid",
            replaced(second_start - 1, 0),
            1,
            "byte 0x00 where its newline was",
        ),
        ("deleted", deleted, 3, "its newline is missing"),
        (
            "zeros",
            [&bytes[..last_start - 1], &[0; 3][..], &bytes[last_start..]].concat(),
            3,
            "3 zero bytes where its newline was",
        ),
        (
            "zero-grouped",
            grouped,
            3,
            "byte 0x00 where its newline was",
        ),
    ];
    for (name, damaged, line, what) in cases {
        fs::write(&wal, &damaged).unwrap();
        let e = Database::open(&path).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { line: l, reason, .. } if *l == line
                && reason.contains("line break after this whole record was damaged")
                && reason.contains(what)),
            "{name}: {e}"
        );
        assert_eq!(
            fs::read(&wal).unwrap(),
            damaged,
            "{name}: the log is left as it was"
        );
        let e = Database::open_read_only(&path).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { line: l, .. } if *l == line),
            "{name}, read-only: {e}"
        );
        let problems = tabula::verify(&path).unwrap();
        assert!(
            problems.iter().any(|p| {
                let p = p.to_string();
                p.contains(&format!("transaction.log:{line}"))
                    && p.contains("line break after this whole record was damaged")
            }),
            "{name}: {problems:?}"
        );
        // Salvaging and repair keep both records: the one before the damage is whole, and
        // the next line starts after it.
        let salvaged = dir.path().join(format!("salvaged-{name}"));
        copy_dir(&path, &salvaged);
        {
            let db = Database::builder()
                .recovery(Recovery::Salvage)
                .open(&salvaged)
                .unwrap();
            assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 4, "{name}");
        }
        // The log as it was is kept aside, and reported until it is removed; the log the
        // salvage rewrote, archived by its checkpoint, holds no damage.
        let set_aside = |db: &Path| {
            let problems = tabula::verify(db).unwrap();
            assert!(
                problems.len() == 1 && problems[0].file.to_string_lossy().ends_with(".damaged"),
                "{name}: {problems:?}"
            );
            assert_eq!(fs::read(&problems[0].file).unwrap(), damaged, "{name}");
            fs::remove_file(&problems[0].file).unwrap();
            assert_eq!(tabula::verify(db).unwrap(), vec![], "{name}");
        };
        set_aside(&salvaged);
        let repaired = dir.path().join(format!("repaired-{name}"));
        copy_dir(&path, &repaired);
        // The next key follows the last record's: none is handed out again.
        let report = assert_repaired_whole(&repaired, name);
        assert!(report.is_clean(), "{name}: {report:?}");
    }
    // The last record's own line break: no line follows, and the record is as whole.
    let mut last = bytes.clone();
    *last.last_mut().unwrap() = b'X';
    fs::write(&wal, &last).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(matches!(&e, Error::Corrupt { line: 4, .. }), "{e}");
    let e = Database::open_read_only(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { line: 4, .. }),
        "read-only: {e}"
    );
    // A carriage return put in before the third line's newline: the record is as whole,
    // and no empty line follows it.
    let mut crlf = bytes[..last_start - 1].to_vec();
    crlf.push(b'\r');
    crlf.extend_from_slice(&bytes[last_start - 1..]);
    fs::write(&wal, &crlf).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(matches!(&e, Error::Corrupt { line: 3, .. }), "{e}");
    let problems = tabula::verify(&path).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    // Nothing is joined to it, and the report says so.
    assert!(
        problems[0].message.contains("no line runs on from it")
            && !problems[0].message.contains("joining"),
        "{problems:?}"
    );
    // A zero there, then what is left of the last record: no crash's work either (a crash
    // loses whole blocks, a zero and what follows it both).
    let mut cut = bytes.clone();
    cut[last_start - 1] = 0;
    cut.truncate(bytes.len() - 5);
    fs::write(&wal, &cut).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { line: 3, reason, .. } if reason.contains("byte 0x00")),
        "{e}"
    );
    // A zero there and nothing after it: a torn write, cut as ever.
    let mut torn = bytes[..last_start].to_vec();
    torn[last_start - 1] = 0;
    fs::write(&wal, &torn).unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 2);
}

/// The lines of `log` (each ending in its newline).
fn split_lines(log: &[u8]) -> Vec<Vec<u8>> {
    log.split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// A log line with its record's `batch` set, checksum and all.
fn with_batch(line: &[u8], batch: u64) -> Vec<u8> {
    let mut rec: serde_json::Value = serde_json::from_slice(&line[9..line.len() - 1]).unwrap();
    rec["batch"] = batch.into();
    let body = rec.to_string();
    format!("{:08x} {body}\n", crc32c::crc32c(body.as_bytes())).into_bytes()
}

/// Zeros over the second half of the third record and its newline, the fourth whole after
/// them on the same line: the open took the line for one torn last write and cut both,
/// losing the fourth commit, acknowledged, and handing its key out again. The zeros are now
/// a line break: the fourth is a record of its own. Zeros other than whole lost blocks are
/// no crash's work: damage, which repair gets past keeping the fourth; so is a lost block
/// before a fourth written alone (acknowledged). Written in one go with the third
/// (unacknowledged), a lost block makes both a torn tail.
#[test]
fn zeros_over_a_records_end_and_line_break_hide_no_later_commit() {
    // Four commits after a checkpoint, the third with an advisor's name `pad` long (none
    // when 0); the log's lines.
    let commits = |dir: &Path, pad: usize| {
        let path = dir.join("db");
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        db.checkpoint().unwrap();
        for n in ["A", "B", "C", "D"] {
            let advisor = (n == "C" && pad > 0).then(|| "a".repeat(pad));
            s.insert(Student {
                advisor,
                ..student(n, 2020, 1.0)
            })
            .unwrap();
        }
        drop(db);
        let lines = split_lines(&fs::read(wal_of(&path)).unwrap());
        (path, lines)
    };
    // The third's second half and newline zeroed, `fourth` after them.
    let zeroed = |lines: &[Vec<u8>], fourth: &[u8]| {
        let mut third = lines[2].clone();
        let half = third.len() / 2;
        third[half..].fill(0);
        [&lines[0][..], &lines[1], &third, fourth].concat()
    };
    let lsn = |line: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(&line[9..line.len() - 1]).unwrap()["lsn"]
            .as_u64()
            .unwrap()
    };
    for pad in [0, 2000] {
        let case = format!("the third padded by {pad} bytes");
        let dir = tempfile::tempdir().unwrap();
        let (path, lines) = commits(dir.path(), pad);
        let wal = wal_of(&path);
        let damaged = zeroed(&lines, &lines[3]);
        fs::write(&wal, &damaged).unwrap();
        let words = "zero bytes then took its end, then a whole record";
        assert_log_refused(&path, &damaged, 3, words, &case);
        assert_repair_drops(&path, &[3], &case);
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        let names: Vec<String> = s
            .select()
            .all()
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["A", "B", "D"], "{case}");
        assert_eq!(
            s.insert(student("E", 2024, 1.0)).unwrap(),
            5,
            "{case}: D's key stays D's"
        );
    }

    // The third and fourth written in one go, the block before the fourth lost: neither
    // was acknowledged. (The third's length puts the fourth at a block's start.)
    let dir = tempfile::tempdir().unwrap();
    let (_, measured) = commits(&dir.path().join("measure"), 2000);
    let fourth_at: usize = measured[..3].iter().map(Vec::len).sum();
    let longer = (512 - fourth_at % 512) % 512;
    let (path, lines) = commits(dir.path(), 2000 + longer);
    assert_eq!(lines[..3].iter().map(Vec::len).sum::<usize>() % 512, 0);
    let mut third = lines[2].clone();
    let block = third.len() - 512;
    third[block..].fill(0);
    let fourth = with_batch(&lines[3], lsn(&lines[2]));
    let torn = [&lines[0][..], &lines[1], &third, &fourth].concat();
    fs::write(wal_of(&path), &torn).unwrap();
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    assert_eq!(s.count().unwrap(), 2);
    assert_eq!(
        fs::read(wal_of(&path)).unwrap()[..lines[0].len() + lines[1].len()],
        [&lines[0][..], &lines[1]].concat()[..],
        "cut after the second record"
    );
}

/// Bytes no crash leaves beside the last record: zeros between it and its newline (fewer
/// than a disk loses at once), or a byte before it. The open took either for an unfinished
/// last commit and cut the record, acknowledged, handing its key out again. Now every open
/// refuses them, and repair keeps the record.
#[test]
fn bytes_no_crash_leaves_beside_the_last_record_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    let original = four_commits(dir.path());
    let lines = split_lines(&fs::read(wal_of(&original)).unwrap());
    let last = &lines[3];
    let cases = [
        (
            "zeros before the newline",
            [&last[..last.len() - 1], &[0; 3], b"\n"].concat(),
            "3 zero bytes before its newline",
        ),
        (
            "a byte before the record",
            [b"X", &last[..]].concat(),
            "no line break follows it, then a whole record",
        ),
    ];
    for (case, damaged_last, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        copy_dir(&original, &path);
        let damaged = [&lines[0][..], &lines[1], &lines[2], &damaged_last].concat();
        fs::write(wal_of(&path), &damaged).unwrap();
        assert_log_refused(&path, &damaged, 4, words, case);
        assert_repaired_whole(&path, case);
    }
}

/// A damaged last line is cut as an unfinished commit; a key its text still shows was
/// handed out is not handed out again (the damage may not have been a crash's).
#[test]
fn a_damaged_last_line_gives_up_the_keys_its_text_shows() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = wal_of(&path);
    let mut bytes = fs::read(&wal).unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == br#""name":"D""#)
        .unwrap();
    bytes[at + 8] = b'Y';
    fs::write(&wal, &bytes).unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(db.recovery_report().len(), 1);
    let s = db.table::<Student>().unwrap();
    assert_eq!(s.count().unwrap(), 3);
    assert_eq!(s.insert(student("E", 2024, 1.0)).unwrap(), 5, "4 was D's");
}

fn wal_of(db: &Path) -> PathBuf {
    db.join("wal/transaction.log")
}

/// A stray zero at the start of a line, before a whole record: no crash puts a byte
/// between two records, so it is damage wherever it is (the last line too, whatever the
/// record's batch). Before, the open refused it in the middle and repair dropped the record
/// after it; at the end the open cut that record as a torn tail. Repair keeps every record.
#[test]
fn a_stray_zero_before_a_record_is_damage_and_repair_keeps_the_record() {
    for line in [2usize, 4] {
        let dir = tempfile::tempdir().unwrap();
        let path = four_commits(dir.path());
        let wal = wal_of(&path);
        let mut lines = split_lines(&fs::read(&wal).unwrap());
        lines[line - 1].insert(0, 0);
        let damaged = lines.concat();
        fs::write(&wal, &damaged).unwrap();
        let words = "zero bytes where a line should start";
        assert_log_refused(&path, &damaged, line as u64, words, &format!("line {line}"));
        let report = assert_repaired_whole(&path, &format!("line {line}"));
        assert_eq!(report.log_dropped.len(), 1, "line {line}: {report:?}");
    }
}

/// Salvaging drops a damaged middle record and the records after it (they no longer
/// follow), but their keys were handed out: the next key starts past them, read from the
/// records dropped and from the damaged text where it still reads (a damaged last line's
/// too: a key skipped costs nothing).
#[test]
fn salvage_hands_out_no_key_the_records_it_dropped_gave() {
    // (line damaged, its text left readable, students kept, the next key)
    for (line, readable, kept, next) in [
        (1, true, 1, 5),
        (1, false, 1, 5),
        (3, true, 3, 5),
        (3, false, 3, 4),
    ] {
        let case = format!("line {line}, readable {readable}");
        let dir = tempfile::tempdir().unwrap();
        let path = four_commits(dir.path());
        let wal = wal_of(&path);
        let mut lines = split_lines(&fs::read(&wal).unwrap());
        if readable {
            let at = lines[line]
                .windows(8)
                .position(|w| w == br#""name":""#)
                .unwrap();
            lines[line][at + 8] = b'Y';
        } else {
            let end = lines[line].len() - 1;
            lines[line][9..end].fill(b'#');
        }
        fs::write(&wal, lines.concat()).unwrap();
        let db = Database::builder()
            .recovery(Recovery::Salvage)
            .open(&path)
            .unwrap();
        assert_eq!(db.recovery_report().len(), 4 - kept, "{case}");
        let s = db.table::<Student>().unwrap();
        assert_eq!(s.count().unwrap(), kept, "{case}");
        assert_eq!(s.insert(student("E", 2024, 1.0)).unwrap(), next, "{case}");
    }
}

/// A log creating a table twice, saying the same both times, with a row written between:
/// an open keeps the row, and verify finds nothing (it took the second record for the
/// creation, and the row for one written before it).
#[test]
fn a_table_created_twice_in_the_log_keeps_the_row_between() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let mut bytes = fs::read(&wal).unwrap();
    let last: serde_json::Value =
        serde_json::from_slice(&bytes[last_line_start(&bytes) + 9..bytes.len() - 1]).unwrap();
    let lsn = last["lsn"].as_u64().unwrap();
    let create = |lsn: u64| {
        format!(
            r#"{{"lsn":{lsn},"tables":[{{"table":"newt","create":{{"table":"newt","columns":[{{"name":"id","type":"i64","nullable":false,"primary_key":true}},{{"name":"v","type":"text","nullable":true}}]}},"next_key":1,"put":[],"delete":[]}}],"batch":{lsn}}}"#
        )
    };
    let put = format!(
        r#"{{"lsn":{},"tables":[{{"table":"newt","next_key":2,"put":[{{"id":1,"v":"a"}}],"delete":[]}}],"batch":{}}}"#,
        lsn + 2,
        lsn + 2
    );
    for body in [create(lsn + 1), put, create(lsn + 3)] {
        bytes.extend(format!("{:08x} {body}\n", crc32c::crc32c(body.as_bytes())).bytes());
    }
    fs::write(&wal, &bytes).unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.sql("SELECT v FROM newt").unwrap().rows,
        vec![vec![tabula::Value::Text("a".into())]]
    );
    // The open, as verify, takes the first record for the creation.
    db.checkpoint().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(path.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tables"]["newt"]["created_lsn"], lsn + 1);
}

/// Salvage drops a damaged middle line and the records after the gap it leaves, the
/// creation of a table among them; that table's schema file (written once its creation
/// was durable) still opens it: salvaging never refuses a table for a record it dropped.
#[test]
fn salvage_opens_a_table_whose_creation_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    {
        let db = Database::open(&path).unwrap();
        db.sql("CREATE TABLE later (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO later (v) VALUES ('x')")
            .unwrap();
    }
    assert!(path.join("schema/later.schema.json").exists());
    let wal = path.join("wal/transaction.log");
    let mut bytes = fs::read(&wal).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[second + 40] ^= 0x01;
    fs::write(&wal, &bytes).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(matches!(e, Error::Corrupt { line: 2, .. }), "{e}");
    let db = Database::builder()
        .recovery(Recovery::Salvage)
        .open(&path)
        .unwrap();
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM later").unwrap().rows,
        vec![vec![tabula::Value::Int(0)]]
    );
    assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 1);
}

/// A checkpoint that stopped after archiving the log and before cutting it leaves the log
/// holding only records the manifest covers. Damaged there, the open cuts the damage on as
/// a torn tail (every row is in the snapshots), keeping it aside; checkpoints go on, and
/// no archived segment holds damage.
#[test]
fn a_damaged_log_the_manifest_covers_is_cut_and_archives_no_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    Database::open(&path).unwrap().checkpoint().unwrap();
    let wal = path.join("wal");
    let (_, segment) = archived_segments(&path).pop().unwrap();
    let mut log = fs::read(&segment).unwrap();
    let second = log.iter().position(|&b| b == b'\n').unwrap() + 1;
    log[second + 20] ^= 0x01;
    fs::write(wal.join("transaction.log"), &log).unwrap();
    {
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        assert_eq!(s.count().unwrap(), 4);
        s.insert(student("E", 2024, 1.0)).unwrap();
        db.checkpoint().unwrap();
        assert_eq!(s.count().unwrap(), 5);
    }
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.len() == 1 && problems[0].file.to_string_lossy().ends_with(".damaged"),
        "{problems:?}"
    );
}

/// A log line repeated (or out of order) is listed by `log_records` (`tabula wal`) with the
/// problem `verify` reports for it, not as a good record: recovery does not replay it.
#[test]
fn a_repeated_log_record_is_listed_as_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_commits(dir.path());
    let wal = path.join("wal/transaction.log");
    let bytes = fs::read(&wal).unwrap();
    let end = bytes.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let second = {
        let lines: Vec<&[u8]> = bytes[..end].split_inclusive(|&b| b == b'\n').collect();
        lines[1].to_vec()
    };
    let mut damaged = bytes[..end].to_vec();
    damaged.extend_from_slice(&second);
    fs::write(&wal, &damaged).unwrap();
    let records = tabula::log_records(&path).unwrap();
    let problems: Vec<(u64, &str)> = records
        .iter()
        .filter_map(|r| Some((r.line, r.problem.as_deref()?)))
        .collect();
    let (lsn_again, last) = (records[1].lsn, records[3].lsn);
    assert_eq!(
        problems,
        [(
            5,
            format!(
                "LSN {lsn_again} again after {last}: a record repeated or out of order, not \
                 replayed"
            )
            .as_str()
        )],
        "{records:?}"
    );
    assert!(
        tabula::verify(&path)
            .unwrap()
            .iter()
            .any(|p| p.line == 5 && p.message.contains("again after")),
        "verify reports the same line"
    );
}
