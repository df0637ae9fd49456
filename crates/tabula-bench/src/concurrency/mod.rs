//! `--concurrency`: how a reader fares beside a writer. One thread looks rows up by random
//! primary key, timing every call, while another thread writes (two in `checkpoint_writer`);
//! each phase is one kind of writing:
//!
//! | phase | the writer |
//! |---|---|
//! | idle | nothing |
//! | durable_updates | single-row durable commits changing a random row's gpa, back to back |
//! | durable_inserts | single-row durable commits inserting new keys, back to back |
//! | big_transaction | one transaction inserting 300,000 new keys |
//! | checkpoint | one checkpoint of a table grown to 400,000 rows (not redb: it has none) |
//! | checkpoint_writer | the same checkpoint again, while a second thread commits durable updates back to back (tabula only) |
//!
//! Every system is a file database with durable commits, in a child process of its own, on
//! the workload's rows. Automatic checkpoints are off (tabula `auto_checkpoint_bytes(None)`,
//! SQLite `wal_autocheckpoint=0`) so that each phase measures one cause, and the checkpoint
//! phase is each system's first, of the whole table.
//!
//! Guards: every key the reader asks for exists, so a miss fails the run; and a phase with a
//! writer must count reads that ran while the writer was active, or it fails too.

mod hist;
mod redb_sys;
mod sqlite;
mod tabula_sys;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::median;
use crate::systems::Res;
use crate::workload::{self, Rng, Row};
use crate::Args;
use hist::Hist;

pub const DEFAULT_PHASE_SECS: f64 = 2.0;
const DEFAULT_ROWS: u64 = 100_000;
const DEFAULT_RUNS: usize = 5;
/// Rows the big transaction inserts.
const BIG_TRANSACTION_ROWS: u64 = 300_000;
/// Rows the table holds (at least) when it is checkpointed.
const CHECKPOINT_ROWS: u64 = 400_000;
/// A read this slow waited (for a lock, an fsync or the scheduler): no system's lookup takes
/// this long on its own. A reader that waits makes one slow read where it would have made
/// thousands of fast ones, so percentiles hide waiting; the share of the reader's time spent
/// in such reads shows it.
const STALL_NS: u64 = 100_000;

/// The systems of this mode, in report order. `tabula-file` reads with a plain handle's
/// `get` (a copy of the row), `tabula-file-get_with` with its `get_with` (no copy).
pub const SYSTEMS: &[&str] = &[
    "tabula-file",
    "tabula-file-get_with",
    "sqlite-file",
    "redb-file",
];

pub const PHASES: &[&str] = &[
    "idle",
    "durable_updates",
    "durable_inserts",
    "big_transaction",
    "checkpoint",
    "checkpoint_writer",
];

/// A lookup by primary key: whether the row with that id was found (and was that row).
pub type Get<'a> = dyn FnMut(u64) -> Res<bool> + 'a;

/// One system in this mode: a file database holding the workload's table.
pub trait Target: Sync {
    /// Opens a reader (a connection of its own where the system has them) and runs `body`
    /// with its lookup.
    fn with_reader(&self, body: &mut dyn FnMut(&mut Get<'_>) -> Res<()>) -> Res<()>;
    /// A writer, used from one thread at a time (`checkpoint_writer` has two at once).
    fn writer(&self) -> Res<Box<dyn Writer + Send + '_>>;
    /// Whether the system has a checkpoint to measure.
    fn has_checkpoint(&self) -> bool;
    /// Whether its checkpoint is meant to run while another writer commits: tabula's is.
    /// (SQLite's `TRUNCATE` checkpoint, the one the checkpoint phase measures, waits for
    /// writers by design; its `PASSIVE` one does not move everything.)
    fn checkpoints_beside_writers(&self) -> bool {
        false
    }
}

/// What the phases write, each call its own durable commit.
pub trait Writer {
    /// Sets the gpa of the row with this id (read, changed, written back).
    fn update_gpa(&mut self, id: u64, gpa: f64) -> Res<()>;
    /// Inserts one row.
    fn insert(&mut self, row: Row) -> Res<()>;
    /// Inserts rows in one transaction.
    fn insert_many(&mut self, rows: Vec<Row>) -> Res<()>;
    /// Checkpoints, and says what it moved.
    fn checkpoint(&mut self) -> Res<String>;
}

fn make(system: &str, dir: &Path) -> Res<Box<dyn Target>> {
    Ok(match system {
        "tabula-file" => Box::new(tabula_sys::TabulaTarget::new(&dir.join("tabula"), false)?),
        "tabula-file-get_with" => {
            Box::new(tabula_sys::TabulaTarget::new(&dir.join("tabula"), true)?)
        }
        "sqlite-file" => Box::new(sqlite::SqliteTarget::new(dir.join("sqlite.db"))?),
        "redb-file" => Box::new(redb_sys::RedbTarget::new(&dir.join("redb.db"))?),
        other => {
            return Err(format!(
                "unknown system {other:?} for --concurrency; known: {}",
                SYSTEMS.join(", ")
            )
            .into())
        }
    })
}

/// One phase of one run of one system, as the child reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PhaseResult {
    system: String,
    phase: String,
    /// Rows in the table when the phase began.
    rows: u64,
    /// How long the reader ran.
    reader_secs: f64,
    reads: u64,
    /// Lookups of an existing key that found nothing (must be 0).
    misses: u64,
    /// Reads during which the writer was active (at their start or their end).
    reads_while_writing: u64,
    p50_ns: u64,
    p99_ns: u64,
    p999_ns: u64,
    max_ns: u64,
    /// Reads that took `STALL_NS` or longer, and their total time.
    stalled_reads: u64,
    stalled_ns: u64,
    /// Commits the writer made (0: no writer).
    writer_commits: u64,
    /// From the writer's first call to the return of its last.
    writer_secs: f64,
    /// What the writer did, in words (a checkpoint's work, the rows inserted).
    detail: String,
    /// The writer's longest single commit, in `durable_updates` and beside the checkpoint
    /// (0: not measured).
    #[serde(default)]
    longest_commit_ns: u64,
}

/// What the writer thread reports: commits, a description, and its longest commit in ns (0
/// where not measured).
type WriterOutcome = (u64, String, u64);

struct ReadStats {
    secs: f64,
    reads: u64,
    misses: u64,
    while_writing: u64,
    stalled_reads: u64,
    stalled_ns: u64,
    hist: Hist,
}

/// The reader's loop: random existing keys, each call timed on its own, until `stop`.
fn read_loop(
    get: &mut Get<'_>,
    rows: u64,
    seed: u64,
    stop: &AtomicBool,
    writing: &AtomicBool,
) -> Res<ReadStats> {
    let mut rng = Rng::new(seed);
    let mut hist = Hist::new();
    let (mut reads, mut misses, mut while_writing) = (0, 0, 0);
    let (mut stalled_reads, mut stalled_ns) = (0, 0);
    let t0 = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let id = 1 + rng.below(rows);
        let before = writing.load(Ordering::Relaxed);
        let t = Instant::now();
        let found = get(id)?;
        let ns = t.elapsed().as_nanos() as u64;
        let after = writing.load(Ordering::Relaxed);
        hist.record(ns);
        reads += 1;
        misses += u64::from(!found);
        while_writing += u64::from(before || after);
        if ns >= STALL_NS {
            stalled_reads += 1;
            stalled_ns += ns;
        }
    }
    Ok(ReadStats {
        secs: t0.elapsed().as_secs_f64(),
        reads,
        misses,
        while_writing,
        stalled_reads,
        stalled_ns,
        hist,
    })
}

/// Runs one phase: the reader over keys `1..=rows` and, if given, the writer, started
/// together; the phase lasts `secs`, or until the writer returns if that is later. The
/// writer is told to stop (`stop`) once `secs` have passed.
fn run_phase<W>(
    target: &dyn Target,
    rows: u64,
    secs: f64,
    seed: u64,
    writer: Option<W>,
) -> Res<(ReadStats, Option<(WriterOutcome, f64)>)>
where
    W: FnOnce(&AtomicBool) -> Res<WriterOutcome> + Send,
{
    let stop_reader = AtomicBool::new(false);
    let stop_writer = AtomicBool::new(false);
    let writing = AtomicBool::new(false);
    let start = Barrier::new(2 + usize::from(writer.is_some()));
    let (read, written) = std::thread::scope(|s| {
        let reader = s.spawn(|| -> Result<ReadStats, String> {
            let mut started = false;
            let mut stats = None;
            let ran = target.with_reader(&mut |get| {
                started = true;
                start.wait();
                stats = Some(read_loop(get, rows, seed, &stop_reader, &writing)?);
                Ok(())
            });
            if !started {
                // The reader could not open: let the others go rather than hang.
                start.wait();
            }
            ran.map_err(|e| format!("reader: {e}"))?;
            stats.ok_or_else(|| "the reader did not run".to_owned())
        });
        let writer = writer.map(|w| {
            s.spawn(|| -> Result<(WriterOutcome, f64), String> {
                start.wait();
                writing.store(true, Ordering::Relaxed);
                let t = Instant::now();
                let out = w(&stop_writer);
                let secs = t.elapsed().as_secs_f64();
                writing.store(false, Ordering::Relaxed);
                Ok((out.map_err(|e| format!("writer: {e}"))?, secs))
            })
        });
        start.wait();
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop_writer.store(true, Ordering::Relaxed);
        let written = writer.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the writer panicked".to_owned()))
        });
        // The reader stops only after the writer is done: a long transaction or checkpoint
        // is read beside from its start to its end.
        stop_reader.store(true, Ordering::Relaxed);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err("the reader panicked".to_owned()));
        (read, written)
    });
    let written = written.transpose()?;
    Ok((read?, written))
}

/// The child: loads the table, runs every phase on one system, prints one JSON line per
/// phase.
fn child(system: &str, n: u64, secs: f64) -> Res<()> {
    // In the working directory, as the workload's child does: the temp directory may be a
    // memory file system, where an fsync costs nothing.
    let dir = tempfile::Builder::new()
        .prefix("tabula-bench-concurrency-")
        .tempdir_in(".")?;
    let target = make(system, dir.path())?;
    let target = &*target;
    let mut w = target.writer()?;
    w.insert_many(workload::rows(n))?;
    // Ids stay contiguous: the table holds 1..next_id.
    let mut next_id = n + 1;
    let emit = |phase: &str,
                rows: u64,
                (read, written): (ReadStats, Option<(WriterOutcome, f64)>)|
     -> Res<()> {
        let ((commits, detail, longest_commit_ns), writer_secs) =
            written.unwrap_or(((0, String::new(), 0), 0.0));
        let r = PhaseResult {
            system: system.to_owned(),
            phase: phase.to_owned(),
            rows,
            reader_secs: read.secs,
            reads: read.reads,
            misses: read.misses,
            reads_while_writing: read.while_writing,
            p50_ns: read.hist.quantile(0.5),
            p99_ns: read.hist.quantile(0.99),
            p999_ns: read.hist.quantile(0.999),
            max_ns: read.hist.max(),
            stalled_reads: read.stalled_reads,
            stalled_ns: read.stalled_ns,
            writer_commits: commits,
            writer_secs,
            detail,
            longest_commit_ns,
        };
        println!("{}", serde_json::to_string(&r)?);
        Ok(())
    };
    // The reader only asks for the first n keys, which every phase keeps.
    let seed = |phase: u64| workload::SEED ^ 0xc0c0_0000 ^ phase;
    type NoWriter = fn(&AtomicBool) -> Res<WriterOutcome>;

    let r = run_phase(target, n, secs, seed(1), None::<NoWriter>)?;
    emit("idle", next_id - 1, r)?;

    let w_ref = &mut *w;
    let r = run_phase(
        target,
        n,
        secs,
        seed(2),
        Some(|stop: &AtomicBool| {
            let mut rng = Rng::new(workload::SEED ^ 0x0bd7);
            let (mut commits, mut longest) = (0, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let id = 1 + rng.below(n);
                let gpa = (rng.unit() * 4.0 * 1000.0).round() / 1000.0;
                let t = Instant::now();
                w_ref.update_gpa(id, gpa)?;
                longest = longest.max(t.elapsed().as_nanos() as u64);
                commits += 1;
            }
            Ok((commits, String::new(), longest))
        }),
    )?;
    emit("durable_updates", next_id - 1, r)?;

    let rows_before = next_id - 1;
    let first = next_id;
    let w_ref = &mut *w;
    let r = run_phase(
        target,
        n,
        secs,
        seed(3),
        Some(|stop: &AtomicBool| {
            let mut id = first;
            while !stop.load(Ordering::Relaxed) {
                w_ref.insert(workload::extra_row(id))?;
                id += 1;
            }
            Ok((id - first, String::new(), 0))
        }),
    )?;
    next_id += r.1.as_ref().map_or(0, |((c, _, _), _)| *c);
    emit("durable_inserts", rows_before, r)?;

    // The rows are made before the phase: only the transaction is timed.
    let rows_before = next_id - 1;
    let big: Vec<Row> = (next_id..next_id + BIG_TRANSACTION_ROWS)
        .map(workload::extra_row)
        .collect();
    next_id += BIG_TRANSACTION_ROWS;
    let w_ref = &mut *w;
    let r = run_phase(
        target,
        n,
        secs,
        seed(4),
        Some(move |_: &AtomicBool| {
            w_ref.insert_many(big)?;
            Ok((1, format!("{BIG_TRANSACTION_ROWS} rows inserted"), 0))
        }),
    )?;
    emit("big_transaction", rows_before, r)?;

    if target.has_checkpoint() {
        // Grown outside the timed window, in one transaction.
        if next_id - 1 < CHECKPOINT_ROWS {
            w.insert_many(
                (next_id..=CHECKPOINT_ROWS)
                    .map(workload::extra_row)
                    .collect(),
            )?;
            next_id = CHECKPOINT_ROWS + 1;
        }
        let w_ref = &mut *w;
        let r = run_phase(
            target,
            n,
            secs,
            seed(5),
            Some(|_: &AtomicBool| Ok((1, w_ref.checkpoint()?, 0))),
        )?;
        emit("checkpoint", next_id - 1, r)?;
    }

    if target.has_checkpoint() && target.checkpoints_beside_writers() {
        // One change so that the checkpoint writes the whole table's snapshot again.
        w.update_gpa(1, 0.5)?;
        let mut updater = target.writer()?;
        let (w_ref, u_ref) = (&mut *w, &mut *updater);
        let r = run_phase(
            target,
            n,
            secs,
            seed(6),
            Some(|_: &AtomicBool| checkpoint_beside_updates(w_ref, u_ref, n)),
        )?;
        emit("checkpoint_writer", next_id - 1, r)?;
    }
    Ok(())
}

/// Checkpoints with `checkpointer` while `updater` commits durable single-row updates back to
/// back from another thread, until the checkpoint returns: the commits made beside it and the
/// longest of them.
fn checkpoint_beside_updates(
    checkpointer: &mut (dyn Writer + Send),
    updater: &mut (dyn Writer + Send),
    n: u64,
) -> Res<WriterOutcome> {
    /// Sets the flag when dropped: the updater stops even if the checkpoint panics.
    struct SetOnDrop<'a>(&'a AtomicBool);
    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let done = AtomicBool::new(false);
    let started = Barrier::new(2);
    std::thread::scope(|s| {
        let updates = s.spawn(|| -> Result<(u64, u64), String> {
            let mut rng = Rng::new(workload::SEED ^ 0xc4ec);
            let (mut commits, mut longest) = (0u64, 0u64);
            started.wait();
            while !done.load(Ordering::Relaxed) {
                let id = 1 + rng.below(n);
                let t = Instant::now();
                updater
                    .update_gpa(id, (rng.unit() * 4000.0).round() / 1000.0)
                    .map_err(|e| format!("update beside the checkpoint: {e}"))?;
                longest = longest.max(t.elapsed().as_nanos() as u64);
                commits += 1;
            }
            Ok((commits, longest))
        });
        started.wait();
        let stop_updates = SetOnDrop(&done);
        let t = Instant::now();
        let moved = checkpointer.checkpoint();
        let took = t.elapsed();
        drop(stop_updates);
        let updated = updates
            .join()
            .unwrap_or_else(|_| Err("the updater panicked".to_owned()));
        // A failed checkpoint is the error to report, whatever the updater met.
        let moved = moved?;
        let (commits, longest) = updated?;
        Ok((
            commits,
            format!(
                "{}; {commits} durable updates committed beside the {:.0} ms checkpoint, \
                 the longest {:.1} ms",
                moved,
                took.as_secs_f64() * 1000.0,
                longest as f64 / 1e6
            ),
            longest,
        ))
    })
}

/// The entry point of `--concurrency`, as parent or child.
pub fn main(args: &Args) -> ExitCode {
    let rows = args.rows.unwrap_or(DEFAULT_ROWS);
    if rows == 0 {
        eprintln!("--rows must be at least 1");
        return ExitCode::from(2);
    }
    if let Some(system) = &args.child {
        return match child(system, rows, args.phase_secs) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{system}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let systems: Vec<String> = match &args.systems {
        Some(s) => s.clone(),
        None => SYSTEMS.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(bad) = systems.iter().find(|s| !SYSTEMS.contains(&s.as_str())) {
        eprintln!(
            "unknown system {bad:?} for --concurrency; known: {}",
            SYSTEMS.join(", ")
        );
        return ExitCode::from(2);
    }
    let runs = args.runs.unwrap_or(DEFAULT_RUNS);
    match parent(args, &systems, rows, runs) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tabula-bench: {e}");
            ExitCode::from(2)
        }
    }
}

type Results = BTreeMap<(usize, usize), Vec<PhaseResult>>;

fn parent(args: &Args, systems: &[String], rows: u64, runs: usize) -> Res<bool> {
    let exe = std::env::current_exe()?;
    let secs = args.phase_secs;
    // Keyed by (phase, system) positions, so that the report keeps their order.
    let mut results: Results = BTreeMap::new();
    for run in 0..runs {
        for (si, system) in systems.iter().enumerate() {
            eprintln!("run {}/{runs}: {system} ({rows} rows)", run + 1);
            let out = Command::new(&exe)
                .args(["--concurrency", "--child", system])
                .args(["--rows", &rows.to_string()])
                .args(["--phase-secs", &secs.to_string()])
                .output()?;
            if !out.status.success() {
                return Err(
                    format!("{system} failed: {}", String::from_utf8_lossy(&out.stderr)).into(),
                );
            }
            let text = String::from_utf8(out.stdout)?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let r: PhaseResult = serde_json::from_str(line)?;
                if let Some(path) = &args.json {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?;
                    writeln!(f, "{line}")?;
                }
                let pi = PHASES
                    .iter()
                    .position(|p| *p == r.phase)
                    .ok_or_else(|| format!("unknown phase {:?} from {system}", r.phase))?;
                results.entry((pi, si)).or_default().push(r);
            }
        }
    }
    let ok = check(&results);
    report(systems, rows, runs, secs, &results);
    Ok(ok)
}

/// No misses anywhere, and every phase with a writer read beside it.
fn check(results: &Results) -> bool {
    let mut ok = true;
    for r in results.values().flatten() {
        if r.misses > 0 {
            eprintln!(
                "FAILED: {} {}: {} of {} lookups of existing keys found nothing",
                r.system, r.phase, r.misses, r.reads
            );
            ok = false;
        }
        if r.phase == "checkpoint_writer" && r.writer_commits == 0 {
            eprintln!(
                "FAILED: {} {}: no update committed beside the checkpoint",
                r.system, r.phase
            );
            ok = false;
        }
        if r.phase != "idle" && r.reads_while_writing == 0 {
            eprintln!(
                "FAILED: {} {}: no read ran while the writer was active",
                r.system, r.phase
            );
            ok = false;
        }
    }
    if ok {
        eprintln!("every lookup found its row; every writer phase had reads beside it");
    }
    ok
}

/// Three significant digits, thousands separated by commas from 1,000 on.
fn sig3(v: f64) -> String {
    if v.is_nan() {
        return "–".into();
    }
    if v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        return if v < 0.0 { format!("-{out}") } else { out };
    }
    let decimals = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else if v.abs() >= 1.0 {
        2
    } else {
        3
    };
    format!("{v:.decimals$}")
}

/// "median (min–max)" of `v`, each through `fmt`; the range is left out for one run.
fn cell(v: &[f64], fmt: impl Fn(f64) -> String) -> String {
    let med = median(v.to_vec());
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.len() < 2 {
        fmt(med)
    } else {
        format!("{} ({}–{})", fmt(med), fmt(min), fmt(max))
    }
}

/// Back-to-back `Instant::now()` pairs: the floor under every latency measured.
fn timer_floor_ns() -> f64 {
    let v: Vec<f64> = (0..10_001)
        .map(|_| {
            let a = Instant::now();
            let b = Instant::now();
            (b - a).as_nanos() as f64
        })
        .collect();
    median(v)
}

fn report(systems: &[String], rows: u64, runs: usize, secs: f64, results: &Results) {
    println!(
        "\n{rows} rows, {runs} run(s) of {secs} s phases, one process per system; \
         median (min–max) over runs; latencies in µs; stalled: the share of the reader's \
         time spent in reads of {} µs or more\n",
        STALL_NS / 1000
    );
    println!(
        "| phase | system | reads/s | p50 | p99 | p99.9 | max | stalled % | writer | \
         reads/s while writing | reads while writing | misses |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let us = |ns: u64| ns as f64 / 1000.0;
    for (pi, phase) in PHASES.iter().enumerate() {
        for (si, system) in systems.iter().enumerate() {
            let Some(rs) = results.get(&(pi, si)) else {
                println!("| {phase} | {system} | n/a | | | | | | | | | |");
                continue;
            };
            let col = |f: &dyn Fn(&PhaseResult) -> f64| rs.iter().map(f).collect::<Vec<_>>();
            let writer = match *phase {
                "idle" => "–".to_owned(),
                "durable_updates" => format!(
                    "{} commits/s, longest {} ms",
                    cell(&col(&|r| r.writer_commits as f64 / r.writer_secs), sig3),
                    cell(&col(&|r| r.longest_commit_ns as f64 / 1e6), sig3)
                ),
                "durable_inserts" => format!(
                    "{} commits/s",
                    cell(&col(&|r| r.writer_commits as f64 / r.writer_secs), sig3)
                ),
                "checkpoint_writer" => format!(
                    "{} ms; {} commits/s beside it, longest {} ms",
                    cell(&col(&|r| r.writer_secs * 1000.0), sig3),
                    cell(&col(&|r| r.writer_commits as f64 / r.writer_secs), sig3),
                    cell(&col(&|r| r.longest_commit_ns as f64 / 1e6), sig3)
                ),
                _ => format!("{} ms", cell(&col(&|r| r.writer_secs * 1000.0), sig3)),
            };
            // The rate while the writer was active: a phase's own rate also counts the reads
            // before and after a transaction or checkpoint shorter than the phase.
            let (rate_writing, while_writing) = if *phase == "idle" {
                ("–".to_owned(), "–".to_owned())
            } else {
                (
                    cell(
                        &col(&|r| r.reads_while_writing as f64 / r.writer_secs),
                        sig3,
                    ),
                    sig3(median(col(&|r| r.reads_while_writing as f64))),
                )
            };
            println!(
                "| {phase} | {system} | {} | {} | {} | {} | {} | {} | {writer} | {rate_writing} | \
                 {while_writing} | {} |",
                cell(&col(&|r| r.reads as f64 / r.reader_secs), sig3),
                cell(&col(&|r| us(r.p50_ns)), sig3),
                cell(&col(&|r| us(r.p99_ns)), sig3),
                cell(&col(&|r| us(r.p999_ns)), sig3),
                cell(&col(&|r| us(r.max_ns)), sig3),
                cell(&col(&|r| r.stalled_ns as f64 / 1e7 / r.reader_secs), sig3),
                rs.iter().map(|r| r.misses).sum::<u64>(),
            );
        }
    }
    println!();
    for (pi, phase) in PHASES.iter().enumerate() {
        for (si, system) in systems.iter().enumerate() {
            let Some(first) = results.get(&(pi, si)).and_then(|rs| rs.first()) else {
                continue;
            };
            if !first.detail.is_empty() || phase.starts_with("checkpoint") {
                println!(
                    "- {phase}, {system}: {} rows in the table; {} (first run)",
                    first.rows, first.detail
                );
            }
        }
    }
    println!(
        "- a pair of Instant::now() calls takes {:.0} ns here: the floor under every latency",
        timer_floor_ns()
    );
}
