"""The example programs run in a fresh process, exit 0 and leave no files behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script, *args, cwd):
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_university(tmp_path):
    r = run("university.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for expected in ("Seeded 6 students", "Carol White", "GROUP BY", "refused:",
                     "Alice's GPA raised: 1 row"):
        assert expected in out, expected
    assert list(tmp_path.iterdir()) == []


def test_persistence_in_a_temporary_directory(tmp_path):
    r = run("persistence.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for expected in ("transaction.log", "student.records", "student.schema.json",
                     "is the same object: True", "imported", "total_bytes"):
        assert expected in r.stdout, expected
    assert list(tmp_path.iterdir()) == []


def test_persistence_in_a_given_directory(tmp_path):
    target = tmp_path / "data"
    r = run("persistence.py", str(target), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    db_dir = target / "university"
    assert (db_dir / "schema" / "student.schema.json").is_file()
    assert (db_dir / "data" / "student.records").is_file()
    assert (db_dir / "wal" / "transaction.log").is_file()
    assert (target / "university-export.json").is_file()
    assert (target / "university-copy").is_dir()
    # Closed at the end: this process can open it.
    import tabula
    db = tabula.Database(name="university", persist=True, base_path=str(target))
    assert db.sql("SELECT COUNT(*) AS n FROM student") == [{"n": 4}]
    db.close()
