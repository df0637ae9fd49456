//! `tabula-bench`: the shared workload (described in the crate README) on tabula and its peers,
//! side by side, in one run. Each system runs in a child process of its own, so peak memory is
//! per system. Every system must return the same counts, keys and checksums; a mismatch fails
//! the run loudly.
//!
//! `--concurrency` measures instead how one reader thread's point lookups fare beside a writer
//! thread (durable updates, durable inserts, one big transaction, a checkpoint), on file
//! databases (see `concurrency.rs`).
//!
//! `--constraints` measures what a composite unique constraint and a check cost per inserted
//! row (see `constraints.rs`).
//!
//! `--sql` runs the workload's reads and writes, the relations join and the group-by three
//! ways in one process: tabula's builder API, tabula's SQL with the text SQLite runs, and
//! SQLite (see `sql.rs`).
//!
//! `--handles` compares a plain table handle's lookups with the same lookups inside a read
//! transaction, in memory (see `handles.rs`).
//!
//! ```text
//! cargo run --release -p tabula-bench -- [--rows N] [--runs K] [--systems a,b,...] [--json FILE]
//! cargo run --release -p tabula-bench -- --handles [--rows N] [--runs K]
//! cargo run --release -p tabula-bench -- --constraints [--rows N] [--runs K]
//! cargo run --release -p tabula-bench -- --relations [--runs K]
//! cargo run --release -p tabula-bench -- --sql [--rows N] [--runs K] [--lookups L]
//! cargo run --release -p tabula-bench -- --concurrency [--rows N] [--runs K] [--phase-secs S]
//!     [--systems tabula-file,tabula-file-get_with,sqlite-file,redb-file] [--json FILE]
//! ```

mod concurrency;
mod constraints;
mod handles;
mod relations;
mod sql;
mod systems;
mod workload;

use std::collections::BTreeMap;
use std::process::{Command, ExitCode};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use systems::{Res, System};

#[derive(Debug, Serialize, Deserialize)]
struct RunResult {
    system: String,
    rows: u64,
    /// Seconds per operation.
    ops: BTreeMap<String, f64>,
    /// Check values that must agree between systems.
    checks: BTreeMap<String, String>,
    /// Peak resident bytes during insert_bulk above the resident bytes before it.
    mem_bytes: u64,
}

/// Resident-set figures from /proc (Linux): (current, peak) in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn timed<T>(ops: &mut BTreeMap<String, f64>, name: &str, f: impl FnOnce() -> Res<T>) -> Res<T> {
    let t = Instant::now();
    let out = f()?;
    ops.insert(name.to_owned(), t.elapsed().as_secs_f64());
    Ok(out)
}

/// The child: runs the workload on one system and prints one JSON line.
fn child(system: &str, n: u64) -> Res<()> {
    let dir = tempfile::Builder::new()
        .prefix("tabula-bench-")
        .tempdir_in(".")?;
    let rows = workload::rows(n);
    let ids = workload::lookup_ids(n);
    let emails: Vec<String> = ids.iter().map(|i| format!("s{i}@uni.edu")).collect();
    let mut sys: Box<dyn System> = systems::make(system, dir.path())?;
    let mut ops = BTreeMap::new();
    let mut checks = BTreeMap::new();
    let (before, _) = rss();
    timed(&mut ops, "insert_bulk", || sys.insert_bulk(&rows))?;
    let (_, peak) = rss();
    let mem_bytes = peak.saturating_sub(before);
    let v = timed(&mut ops, "get_pk", || sys.get_pk(&ids))?;
    checks.insert("get_pk".into(), v.to_string());
    let v = timed(&mut ops, "get_unique", || sys.get_unique(&emails))?;
    checks.insert("get_unique".into(), v.to_string());
    let v = timed(&mut ops, "scan_filter", || sys.scan_filter())?;
    checks.insert("scan_filter".into(), format!("{v:?}"));
    let v = timed(&mut ops, "top10", || sys.top10())?;
    checks.insert("top10".into(), format!("{v:?}"));
    let v = timed(&mut ops, "range_year", || sys.range_year())?;
    checks.insert("range_year".into(), format!("{v:?}"));
    let v = timed(&mut ops, "update_10pct", || sys.update_10pct())?;
    checks.insert("update_10pct".into(), v.to_string());
    let v = timed(&mut ops, "delete_10pct", || sys.delete_10pct())?;
    checks.insert("delete_10pct".into(), v.to_string());
    let v = sys.read_all()?;
    checks.insert("content".into(), format!("{v:?}"));
    if sys.durable() {
        let extra: Vec<_> = (n + 1..=n + workload::DURABLE_COMMITS)
            .map(workload::extra_row)
            .collect();
        timed(&mut ops, "commit_durable", || sys.commit_durable(&extra, 1))?;
        let extra: Vec<_> = (n + workload::DURABLE_COMMITS + 1..=n + 2 * workload::DURABLE_COMMITS)
            .map(workload::extra_row)
            .collect();
        timed(&mut ops, "commit_durable_4threads", || {
            sys.commit_durable(&extra, 4)
        })?;
        let v = timed(&mut ops, "reopen", || {
            sys.reopen()?;
            sys.read_all()
        })?;
        checks.insert("reopened_content".into(), format!("{v:?}"));
    }
    let r = RunResult {
        system: system.to_owned(),
        rows: n,
        ops,
        checks,
        mem_bytes,
    };
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// The median (the mean of the middle two for an even count; NaN for none).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

const OPS: &[&str] = &[
    "insert_bulk",
    "get_pk",
    "get_unique",
    "scan_filter",
    "top10",
    "range_year",
    "update_10pct",
    "delete_10pct",
    "commit_durable",
    "commit_durable_4threads",
    "reopen",
];

/// The command line. Rows, runs and systems are `None` when not given: each mode has its
/// own defaults.
struct Args {
    rows: Option<u64>,
    runs: Option<usize>,
    systems: Option<Vec<String>>,
    json: Option<String>,
    child: Option<String>,
    relations: bool,
    sql: bool,
    lookups: Option<usize>,
    concurrency: bool,
    handles: bool,
    constraints: bool,
    phase_secs: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rows: None,
        runs: None,
        systems: None,
        json: None,
        child: None,
        relations: false,
        sql: false,
        lookups: None,
        concurrency: false,
        handles: false,
        constraints: false,
        phase_secs: concurrency::DEFAULT_PHASE_SECS,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--rows" => {
                a.rows = Some(
                    val()?
                        .replace('_', "")
                        .parse()
                        .map_err(|e| format!("--rows: {e}"))?,
                )
            }
            "--runs" => a.runs = Some(val()?.parse().map_err(|e| format!("--runs: {e}"))?),
            "--systems" => a.systems = Some(val()?.split(',').map(str::to_owned).collect()),
            "--json" => a.json = Some(val()?),
            "--child" => a.child = Some(val()?),
            "--relations" => a.relations = true,
            "--sql" => a.sql = true,
            "--lookups" => a.lookups = Some(val()?.parse().map_err(|e| format!("--lookups: {e}"))?),
            "--concurrency" => a.concurrency = true,
            "--handles" => a.handles = true,
            "--constraints" => a.constraints = true,
            "--phase-secs" => {
                a.phase_secs = val()?.parse().map_err(|e| format!("--phase-secs: {e}"))?;
                if !(a.phase_secs > 0.0 && a.phase_secs.is_finite()) {
                    return Err("--phase-secs must be a positive number of seconds".into());
                }
            }
            "-h" | "--help" => {
                return Err(format!(
                "usage: tabula-bench [--rows N] [--runs K] [--systems {}] [--json FILE]\n       \
                     tabula-bench --relations [--runs K]\n       \
                     tabula-bench --sql [--rows N] [--runs K] [--lookups L]\n       \
                     tabula-bench --handles [--rows N] [--runs K]\n       \
                     tabula-bench --constraints [--rows N] [--runs K]\n       \
                     tabula-bench --concurrency [--rows N] [--runs K] [--phase-secs S] \
                     [--systems {}] [--json FILE]",
                systems::ALL.join(","),
                concurrency::SYSTEMS.join(",")
            ))
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.concurrency {
        return concurrency::main(&args);
    }
    if args.constraints {
        let runs = args.runs.unwrap_or(5);
        return match constraints::run(args.rows.unwrap_or(DEFAULT_ROWS), runs) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tabula-bench: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.handles {
        let runs = args.runs.unwrap_or(5);
        return match handles::run(args.rows.unwrap_or(DEFAULT_ROWS), runs) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tabula-bench: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.sql {
        let (rows, runs) = (
            args.rows.unwrap_or(DEFAULT_ROWS),
            args.runs.unwrap_or(DEFAULT_RUNS),
        );
        let lookups = args.lookups.unwrap_or(sql::DEFAULT_LOOKUPS);
        return match sql::run(rows, runs, lookups) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("tabula-bench: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.relations {
        return match relations::run(args.runs.unwrap_or(DEFAULT_RUNS)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("tabula-bench: {e}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(system) = &args.child {
        return match child(system, args.rows.unwrap_or(DEFAULT_ROWS)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{system}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match parent(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tabula-bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// The workload's defaults: its table size, runs and systems.
const DEFAULT_ROWS: u64 = 200_000;
const DEFAULT_RUNS: usize = 3;

fn parent(args: &Args) -> Res<bool> {
    let exe = std::env::current_exe()?;
    let rows = args.rows.unwrap_or(DEFAULT_ROWS);
    let runs = args.runs.unwrap_or(DEFAULT_RUNS);
    let all: Vec<String> = systems::ALL.iter().map(|s| s.to_string()).collect();
    let chosen = args.systems.as_ref().unwrap_or(&all);
    let mut results: BTreeMap<String, Vec<RunResult>> = BTreeMap::new();
    for run in 0..runs {
        for system in chosen {
            eprintln!("run {}/{runs}: {system} ({rows} rows)", run + 1);
            let out = Command::new(&exe)
                .args(["--child", system, "--rows", &rows.to_string()])
                .output()?;
            if !out.status.success() {
                return Err(
                    format!("{system} failed: {}", String::from_utf8_lossy(&out.stderr)).into(),
                );
            }
            let line = String::from_utf8(out.stdout)?;
            let r: RunResult = serde_json::from_str(line.trim())?;
            if let Some(path) = &args.json {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                writeln!(f, "{}", line.trim())?;
            }
            results.entry(system.clone()).or_default().push(r);
        }
    }
    let ok = check(&results);
    report(chosen, rows, runs, &results);
    Ok(ok)
}

/// Every system must agree on every check value (reopened content among durable systems).
fn check(results: &BTreeMap<String, Vec<RunResult>>) -> bool {
    let mut ok = true;
    let mut reference: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (system, runs) in results {
        for r in runs {
            for (k, v) in &r.checks {
                match reference.get(k) {
                    None => {
                        reference.insert(k.clone(), (system.clone(), v.clone()));
                    }
                    Some((s, want)) if want != v => {
                        eprintln!("MISMATCH in {k}: {system} gave {v}, {s} gave {want}");
                        ok = false;
                    }
                    Some(_) => {}
                }
            }
        }
    }
    if ok {
        eprintln!("all systems agree on every count, key list and checksum");
    }
    ok
}

fn fmt_secs(s: f64) -> String {
    if s.is_nan() {
        "–".into()
    } else if s < 0.001 {
        format!("{:.3} ms", s * 1000.0)
    } else if s < 10.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.1} s")
    }
}

fn report(chosen: &[String], rows: u64, runs: usize, results: &BTreeMap<String, Vec<RunResult>>) {
    let systems: Vec<&String> = chosen.iter().filter(|s| results.contains_key(*s)).collect();
    let med = |s: &str, op: &str| -> f64 {
        let v: Vec<f64> = results
            .get(s)
            .map(|rs| rs.iter().filter_map(|r| r.ops.get(op).copied()).collect())
            .unwrap_or_default();
        median(v)
    };
    let mem = |s: &str| -> f64 {
        median(
            results
                .get(s)
                .map(|rs| rs.iter().map(|r| r.mem_bytes as f64).collect())
                .unwrap_or_default(),
        )
    };
    println!("\n{rows} rows, median of {runs} run(s), one process per system\n");
    print!("| op |");
    for s in &systems {
        print!(" {s} |");
    }
    println!(" tabula / best peer |");
    print!("|---|");
    for _ in &systems {
        print!("---:|");
    }
    println!("---:|");
    for op in OPS {
        if systems.iter().all(|s| med(s, op).is_nan()) {
            continue;
        }
        print!("| {op} |");
        for s in &systems {
            print!(" {} |", fmt_secs(med(s, op)));
        }
        let durable_op = matches!(*op, "commit_durable" | "commit_durable_4threads" | "reopen");
        let ours = if durable_op {
            "tabula-file"
        } else {
            "tabula-mem"
        };
        let best_peer = systems
            .iter()
            .filter(|s| !s.starts_with("tabula"))
            .filter(|s| !durable_op || s.ends_with("-file"))
            .map(|s| (s, med(s, op)))
            .filter(|(_, v)| !v.is_nan())
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best_peer {
            Some((peer, v)) if !med(ours, op).is_nan() => {
                println!(" {:.3} ({peer}) |", med(ours, op) / v)
            }
            _ => println!(" – |"),
        }
    }
    print!("| memory over data |");
    for s in &systems {
        print!(" {:.1} MiB |", mem(s) / (1024.0 * 1024.0));
    }
    let sqlite = mem("sqlite-mem");
    if sqlite > 0.0 && !mem("tabula-mem").is_nan() {
        println!(" {:.3} (sqlite-mem) |", mem("tabula-mem") / sqlite);
    } else {
        println!(" – |");
    }
    if systems.iter().any(|s| *s == "tabula-file") {
        let one = med("tabula-file", "commit_durable");
        let four = med("tabula-file", "commit_durable_4threads");
        println!(
            "\ntabula group commit: 4 threads commit at {:.2}x the 1-thread rate",
            one / four
        );
    }
}
