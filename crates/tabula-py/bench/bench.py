"""tabula for Python beside TinyDB 4.9 and the standard library's sqlite3.

    python crates/tabula-py/bench/bench.py [--rows 100000] [--runs 5] [--lookups 10000]

Each system runs in a process of its own, once per run, on the same rows (the workload
of ../../../../shared/bench/WORKLOAD.md, in Python: id, name, email unique, gpa, year
indexed). Every operation is timed on its own; the table printed at the end gives each
system's median with the per-run range, and the ratios the package README quotes. The
harness checks that every system finds the same rows (match counts, top-10 keys) and
fails loudly when one does not.

Each operation is written in the system's natural form (the README names them).
TinyDB's lookups are slow enough (a full scan each) that it runs fewer of them
(``--tinydb-lookups``); lookups are reported per lookup, so the figures compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

SYSTEMS = ["tabula-mem", "tabula-file", "sqlite-mem", "sqlite-file", "tinydb-mem", "tinydb-json"]

# (op, unit, per-lookup?)
OPS = [
    ("insert_bulk", "ms", False),
    ("get_pk", "µs per lookup", True),
    ("get_unique", "µs per lookup", True),
    ("select_traced", "ms", False),
    ("select_untraced", "ms", False),
    ("select_per_row", "ms", False),
    ("top10", "ms", False),
    ("update_10pct", "ms", False),
    ("delete_10pct", "ms", False),
    ("reopen", "ms", False),
]


def rows(n: int) -> list[dict]:
    rng = random.Random(20261202)
    return [
        {"id": i, "name": f"Student {i}", "email": f"s{i}@uni.edu",
         "gpa": round(rng.uniform(0.0, 4.0), 3), "year": 2015 + rng.randrange(10)}
        for i in range(1, n + 1)
    ]


def lookup_keys(n: int, count: int) -> list[int]:
    rng = random.Random(7)
    return [rng.randrange(1, n + 1) for _ in range(count)]


def timed(f: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


# -- the systems: each returns {op: (seconds, per_op_count, check)} ---------------------


def run_tabula(n: int, lookups: int, persist: bool, workdir: str) -> dict:
    from dataclasses import dataclass, field

    import tabula

    path = os.path.join(workdir, "tabula-db") if persist else None
    db = tabula.Database(path=path) if persist else tabula.Database()

    @tabula.table(db=db, name="students")
    @dataclass
    class Student:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        email: str = field(default="", metadata={"unique": True})
        gpa: float = 0.0
        year: int = field(default=0, metadata={"index": True})

    data = rows(n)
    out: dict = {}
    out["insert_bulk"] = (timed(lambda: Student.insert_many(data))[0], 1, n)
    keys = lookup_keys(n, lookups)
    get = Student.get
    t, found = timed(lambda: [get(k) for k in keys])
    out["get_pk"] = (t, lookups, all(found))
    emails = [f"s{k}@uni.edu" for k in keys]
    get_by = Student.get_by
    t, found = timed(lambda: [get_by("email", e) for e in emails])
    out["get_unique"] = (t, lookups, all(found))
    t, found = timed(lambda: Student.select(where=lambda s: s["gpa"] > 3.5))
    out["select_traced"] = (t, 1, len(found))
    t, found = timed(lambda: Student.select(where=lambda s: s["gpa"] > 3.5 and s["year"] > 0))
    out["select_untraced"] = (t, 1, len(found))
    # The same test with its operands swapped: the first holds on every row, so the
    # lambda is called on every row.
    t, found = timed(lambda: Student.select(where=lambda s: s["year"] > 0 and s["gpa"] > 3.5))
    out["select_per_row"] = (t, 1, len(found))
    t, found = timed(lambda: Student.select(order_by="-gpa", limit=10))
    out["top10"] = (t, 1, [r["id"] for r in found])
    t, changed = timed(lambda: Student.update(where=lambda s: s["year"] == 2020, gpa=4.0))
    out["update_10pct"] = (t, 1, changed)
    t, gone = timed(lambda: Student.delete(where=lambda s: s["year"] == 2021))
    out["delete_10pct"] = (t, 1, gone)
    if persist:
        db.close()

        # The class is declared again against the reopened database, as a new program
        # would: the dataclass fields carry the metadata.
        def reopen_same() -> int:
            again = tabula.Database(path=path)

            @tabula.table(db=again, name="students")
            @dataclass
            class Student2:
                id: int = field(metadata={"primary_key": True})
                name: str = ""
                email: str = field(default="", metadata={"unique": True})
                gpa: float = 0.0
                year: int = field(default=0, metadata={"index": True})

            return len(Student2.select())

        t, count = timed(reopen_same)
        out["reopen"] = (t, 1, count)
    return out


def run_sqlite(n: int, lookups: int, persist: bool, workdir: str) -> dict:
    import sqlite3

    path = os.path.join(workdir, "sqlite.db") if persist else ":memory:"
    con = sqlite3.connect(path)
    if persist:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE students (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "email TEXT NOT NULL UNIQUE, gpa REAL NOT NULL, year INTEGER NOT NULL)")
    con.execute("CREATE INDEX students_year ON students(year)")
    con.commit()
    data = [(r["id"], r["name"], r["email"], r["gpa"], r["year"]) for r in rows(n)]
    out: dict = {}

    def insert() -> None:
        with con:
            con.executemany("INSERT INTO students VALUES (?, ?, ?, ?, ?)", data)

    out["insert_bulk"] = (timed(insert)[0], 1, n)
    keys = lookup_keys(n, lookups)

    def get_pk() -> list:
        ex = con.execute
        return [ex("SELECT * FROM students WHERE id = ?", (k,)).fetchone() for k in keys]

    t, found = timed(get_pk)
    out["get_pk"] = (t, lookups, all(found))
    emails = [f"s{k}@uni.edu" for k in keys]

    def get_unique() -> list:
        ex = con.execute
        return [ex("SELECT * FROM students WHERE email = ?", (e,)).fetchone() for e in emails]

    t, found = timed(get_unique)
    out["get_unique"] = (t, lookups, all(found))
    select = "SELECT * FROM students WHERE gpa > ?"
    t, found = timed(lambda: con.execute(select, (3.5,)).fetchall())
    out["select_traced"] = (t, 1, len(found))
    # sqlite3 has no lambdas: the same statement stands in for the untraced select.
    t, found = timed(lambda: con.execute(select, (3.5,)).fetchall())
    out["select_untraced"] = (t, 1, len(found))
    t, found = timed(lambda: con.execute(select, (3.5,)).fetchall())
    out["select_per_row"] = (t, 1, len(found))
    t, found = timed(lambda: con.execute(
        "SELECT * FROM students ORDER BY gpa DESC, id LIMIT 10").fetchall())
    out["top10"] = (t, 1, [r[0] for r in found])

    def update() -> int:
        with con:
            return con.execute("UPDATE students SET gpa = ? WHERE year = ?", (4.0, 2020)).rowcount

    t, changed = timed(update)
    out["update_10pct"] = (t, 1, changed)

    def delete() -> int:
        with con:
            return con.execute("DELETE FROM students WHERE year = ?", (2021,)).rowcount

    t, gone = timed(delete)
    out["delete_10pct"] = (t, 1, gone)
    con.close()
    if persist:
        def reopen() -> int:
            again = sqlite3.connect(path)
            count = len(again.execute("SELECT * FROM students").fetchall())
            again.close()
            return count

        t, count = timed(reopen)
        out["reopen"] = (t, 1, count)
    return out


def run_tinydb(n: int, lookups: int, persist: bool, workdir: str) -> dict:
    from tinydb import Query, TinyDB
    from tinydb.storages import MemoryStorage

    path = os.path.join(workdir, "tinydb.json")
    db = TinyDB(path) if persist else TinyDB(storage=MemoryStorage)
    table = db.table("students")
    data = rows(n)
    out: dict = {}
    # TinyDB assigns document ids 1..n in insertion order, the rows' ids.
    out["insert_bulk"] = (timed(lambda: table.insert_multiple(data))[0], 1, n)
    keys = lookup_keys(n, lookups)
    t, found = timed(lambda: [table.get(doc_id=k) for k in keys])
    out["get_pk"] = (t, lookups, all(found))
    q = Query()
    emails = [f"s{k}@uni.edu" for k in keys]
    t, found = timed(lambda: [table.get(q.email == e) for e in emails])
    out["get_unique"] = (t, lookups, all(found))
    t, found = timed(lambda: table.search(q.gpa > 3.5))
    out["select_traced"] = (t, 1, len(found))
    t, found = timed(lambda: table.search(lambda d: d["gpa"] > 3.5 and d["year"] > 0))
    out["select_untraced"] = (t, 1, len(found))
    t, found = timed(lambda: table.search(lambda d: d["year"] > 0 and d["gpa"] > 3.5))
    out["select_per_row"] = (t, 1, len(found))
    t, found = timed(lambda: sorted(table.all(), key=lambda d: (-d["gpa"], d["id"]))[:10])
    out["top10"] = (t, 1, [r["id"] for r in found])
    t, changed = timed(lambda: table.update({"gpa": 4.0}, q.year == 2020))
    out["update_10pct"] = (t, 1, len(changed))
    t, gone = timed(lambda: table.remove(q.year == 2021))
    out["delete_10pct"] = (t, 1, len(gone))
    db.close()
    if persist:
        def reopen() -> int:
            again = TinyDB(path)
            count = len(again.table("students").all())
            again.close()
            return count

        t, count = timed(reopen)
        out["reopen"] = (t, 1, count)
    return out


def child(system: str, n: int, lookups: int, tinydb_lookups: int) -> None:
    workdir = tempfile.mkdtemp(prefix="tabula-bench-")
    try:
        kind, where = system.split("-")
        persist = where in ("file", "json")
        if kind == "tabula":
            out = run_tabula(n, lookups, persist, workdir)
        elif kind == "sqlite":
            out = run_sqlite(n, lookups, persist, workdir)
        else:
            out = run_tinydb(n, tinydb_lookups, persist, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--lookups", type=int, default=10_000)
    p.add_argument("--tinydb-lookups", type=int, default=200)
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--json", help="also write every run's figures to this file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child, a.rows, a.lookups, a.tinydb_lookups)
        return
    systems = a.systems.split(",")
    results: dict = {s: [] for s in systems}
    for run in range(a.runs):
        for s in systems:
            cmd = [sys.executable, __file__, "--child", s, "--rows", str(a.rows),
                   "--lookups", str(a.lookups), "--tinydb-lookups", str(a.tinydb_lookups)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{s} failed:\n{done.stderr}")
            results[s].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"run {run + 1}/{a.runs}: {s} done", file=sys.stderr)
    check(results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    report(results, a)


def check(results: dict) -> None:
    """Every system must find the same rows."""
    for op, _, _ in OPS:
        seen = {}
        for s, runs in results.items():
            for r in runs:
                if op in r:
                    seen.setdefault(json.dumps(r[op][2]), []).append(s)
        if len(seen) > 1:
            sys.exit(f"systems disagree on {op}: {seen}")


def per_op(r: list, op: str) -> list[float]:
    """Each run's figure for op: ms, or µs per lookup."""
    out = []
    for run in r:
        if op in run:
            secs, count, _ = run[op]
            out.append(secs / count * 1e6 if count > 1 else secs * 1e3)
    return out


def report(results: dict, a: Any) -> None:
    systems = list(results)
    print(f"\n{a.rows} rows, {a.runs} runs, {a.lookups} lookups "
          f"({a.tinydb_lookups} for TinyDB); median (min-max)\n")
    print("| op | unit | " + " | ".join(systems) + " |")
    print("|---|---|" + "---:|" * len(systems))
    medians: dict = {}
    for op, unit, _ in OPS:
        cells = []
        for s in systems:
            v = per_op(results[s], op)
            if not v:
                cells.append("")
                continue
            m = statistics.median(v)
            medians[(s, op)] = m
            cells.append(f"{fmt(m)} ({fmt(min(v))}-{fmt(max(v))})")
        print(f"| {op} | {unit} | " + " | ".join(cells) + " |")
    print("\nRatios of medians (tabula / peer; below 1 is faster):\n")
    pairs = [("tabula-mem", "tinydb-mem"), ("tabula-file", "tinydb-json"),
             ("tabula-mem", "sqlite-mem"), ("tabula-file", "sqlite-file")]
    pairs = [p for p in pairs if p[0] in systems and p[1] in systems]
    print("| op | " + " | ".join(f"{x} / {y}" for x, y in pairs) + " |")
    print("|---|" + "---:|" * len(pairs))
    for op, _, _ in OPS:
        cells = []
        for x, y in pairs:
            if (x, op) in medians and (y, op) in medians and medians[(y, op)] > 0:
                cells.append(f"{medians[(x, op)] / medians[(y, op)]:.3g}")
            else:
                cells.append("")
        print(f"| {op} | " + " | ".join(cells) + " |")


def fmt(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


if __name__ == "__main__":
    main()
