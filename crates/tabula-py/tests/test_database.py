"""Every ``tabula.Database`` method: save/checkpoint, load, close, the context manager,
statistics, export_json/import_json, transactions, sql, tables; opening a directory twice
in this process and from another one."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Optional

import pytest

import tabula
from tabula import Database, table

from conftest import STUDENTS, make_university, run_python


def student_class(database: Database):
    @table(db=database)
    @dataclass
    class Student:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        gpa: float = 0.0

    return Student


# -- construction ---------------------------------------------------------------------

def test_in_memory_by_default():
    d = Database()
    assert d.path is None
    assert Database() is not d
    assert Database(name="x") is not Database(name="x")  # in memory: never shared
    d.close()


def test_bad_options():
    with pytest.raises(ValueError):
        Database(durability="sometimes")
    with pytest.raises(ValueError):
        Database(read_only=True)  # read-only needs a directory
    with pytest.raises(ValueError):
        Database(persist=True)  # a persistent database needs a name


def test_a_bad_durability_is_the_answer_for_an_open_directory_too(tmp_path, pdb):
    with pytest.raises(ValueError, match='durability must be "immediate" or "buffered"'):
        Database(name="university", persist=True, base_path=str(tmp_path),
                 durability="bogus")


def test_path_and_base_path_together_are_a_value_error_naming_both(tmp_path):
    with pytest.raises(ValueError, match=r"path= names the database directory itself; "
                                         r"base_path= .* give one of them"):
        Database(name="u", persist=True, base_path=str(tmp_path / "a"), path=str(tmp_path / "b"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_link_to_nothing_as_the_path_is_refused_not_followed(tmp_path):
    # Followed, the database would be made wherever the link points (a disk not mounted);
    # the engine refuses it, saying what is there.
    link = tmp_path / "db"
    os.symlink(tmp_path / "elsewhere" / "db", link)
    with pytest.raises(tabula.Io, match="a symbolic link is in its place, and a database "
                                        "is a directory"):
        Database(path=str(link))
    assert not (tmp_path / "elsewhere").exists()


def test_a_name_that_is_not_text_is_a_type_error_saying_so(tmp_path):
    with pytest.raises(TypeError, match="a Database name is a str, not bytes"):
        Database(name=b"x", persist=True, base_path=str(tmp_path))
    assert not (tmp_path / "x").exists()


def test_persist_puts_the_database_in_base_path_slash_name(tmp_path, pdb):
    assert pdb.path == os.path.realpath(tmp_path / "university")
    assert os.path.isdir(pdb.path)
    assert pdb.name == "university"


def test_opening_the_same_directory_twice_returns_the_same_object(tmp_path, pdb):
    again = Database(name="university", persist=True, base_path=str(tmp_path))
    assert again is pdb
    assert Database(path=str(tmp_path / "university")) is pdb
    assert Database(path=str(tmp_path / "university" / ".." / "university")) is pdb


@pytest.mark.parametrize("option, value", [("durability", "buffered"), ("read_only", True)])
def test_opening_it_again_with_other_options_names_them(tmp_path, pdb, option, value):
    with pytest.raises(tabula.Error) as e:
        Database(name="university", persist=True, base_path=str(tmp_path), **{option: value})
    assert type(e.value) is tabula.Error
    assert option in str(e.value) and repr(value) in str(e.value)


def test_buffered_durability(tmp_path):
    d = Database(name="b", persist=True, base_path=str(tmp_path), durability="buffered")
    Student = student_class(d)
    Student.insert(name="A")
    d.close()
    d = Database(name="b", persist=True, base_path=str(tmp_path), durability="buffered")
    assert student_class(d).count() == 1
    d.close()


# -- save / load / reopen -------------------------------------------------------------

def test_save_and_reopen_the_seed_way(tmp_path, pdb):
    Student = student_class(pdb)
    Student.insert(name="Alice", gpa=3.8)
    Student.insert(name="Bob", gpa=3.5)
    pdb.save()
    db_new = Database(name="university", persist=True, base_path=str(tmp_path))
    db_new.load()
    assert [s["name"] for s in Student.select()] == ["Alice", "Bob"]


def test_reopen_after_close_and_in_another_process(tmp_path, pdb):
    Student = student_class(pdb)
    Student.insert_many([dict(name=s["name"], gpa=s["gpa"]) for s in STUDENTS])
    pdb.close()
    # In this process: a new object, a class bound to it again.
    again = Database(name="university", persist=True, base_path=str(tmp_path))
    assert again is not pdb
    assert student_class(again).count() == len(STUDENTS)
    again.close()
    # In another process, without a save: every commit is in the log.
    r = run_python("""
        import sys, tabula
        db = tabula.Database(path=sys.argv[1])
        db.load()
        print(db.sql("SELECT COUNT(*) AS n, MAX(gpa) AS best FROM student"))
    """, str(tmp_path / "university"))
    assert r.returncode == 0, r.stderr
    assert "[{'n': 6, 'best': 3.9}]" in r.stdout


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (Unix)")
def test_a_database_poisoned_by_a_failed_write_opens_again_in_the_same_process(tmp_path):
    # A write the file system refuses (here the process's file size limit, as a full disk
    # would) poisons the database: close() raises that, and still closes it, so that the
    # same process opens the directory again and finds every commit made before.
    r = run_python("""
        import resource, signal, sys, tabula
        db = tabula.Database(path=sys.argv[1])
        db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.sql("INSERT INTO t (v) VALUES ('kept')")
        db.checkpoint()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            db.sql("INSERT INTO t (v) VALUES (?)", ("x" * 10000,))
            print("insert: no error")
        except tabula.Io as e:
            print("insert: Io")
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        try:
            db.sql("SELECT count(*) AS n FROM t")
        except tabula.Poisoned as e:
            print("read: Poisoned", "refuses reads and writes" in str(e))
        try:
            db.close()
        except tabula.Poisoned:
            print("close: Poisoned")
        again = tabula.Database(path=sys.argv[1])
        print("new object:", again is not db)
        print(again.sql("SELECT v FROM t"))
        again.close()
    """, str(tmp_path / "db"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "insert: Io", "read: Poisoned True", "close: Poisoned", "new object: True",
        "[{'v': 'kept'}]",
    ], r.stdout


def test_save_writes_snapshots_and_archives_the_log(pdb):
    Student = student_class(pdb)
    Student.insert_many([dict(name="A"), dict(name="B")])
    before = pdb.statistics()
    assert before["wal_records"] > 0 and before["wal_bytes"] > 0
    pdb.save()
    after = pdb.statistics()
    assert after["wal_records"] == 0
    assert after["checkpoint_lsn"] == after["last_lsn"] >= before["last_lsn"]
    assert after["archived"] and all(os.path.exists(a["path"]) for a in after["archived"])
    assert os.path.getsize(os.path.join(pdb.path, "data", "student.records")) > 0
    pdb.checkpoint()  # the same as save()
    assert pdb.statistics()["wal_records"] == 0


def test_statistics_after_a_reopen_say_what_is_loaded_and_load_makes_them_exact(tmp_path):
    # Saved with 100 rows, then 30 deleted and the process gone without a save: the
    # deletes are only in the log, which a reopened database replays when the table loads.
    r = run_python("""
        import os, sys, tabula
        from dataclasses import dataclass, field
        db = tabula.Database(path=sys.argv[1])
        @tabula.table(db=db)
        @dataclass
        class T:
            id: int = field(metadata={"primary_key": True})
            x: int = 0
        T.insert_many([{"x": i} for i in range(100)])
        db.save()
        T.delete(where=lambda s: s["x"] < 30)
        os._exit(0)
    """, str(tmp_path / "db"))
    assert r.returncode == 0, r.stderr
    d = Database(path=str(tmp_path / "db"))
    # Nothing loaded yet: the count at the last save, and the log records to replay.
    (table,) = d.statistics()["tables"]
    assert (table["rows"], table["loaded"], table["pending_records"]) == (100, False, 1)
    d.load()
    (table,) = d.statistics()["tables"]
    assert (table["name"], table["rows"], table["loaded"]) == ("t", 70, True)
    assert d.sql("SELECT COUNT(*) AS n FROM t") == [{"n": 70}]
    d.close()


def test_statistics_of_a_read_only_database_say_which_snapshot_is_damaged(tmp_path):
    d = Database(path=str(tmp_path / "db"))
    d.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('abc')")
    d.close()
    snapshot = tmp_path / "db" / "data" / "t.records"
    snapshot.write_bytes(snapshot.read_bytes().replace(b"abc", b"abd"))
    r = Database(path=str(tmp_path / "db"), read_only=True)
    (table,) = r.statistics()["tables"]
    assert table["damaged"].startswith("checksum ")
    assert "does not match the manifest's" in table["damaged"]
    with pytest.raises(tabula.Corrupt, match="t.records"):
        r.sql("SELECT COUNT(*) AS n FROM t")
    r.close()


def test_save_and_load_in_memory_are_harmless(db):
    Student = student_class(db)
    Student.insert(name="A")
    db.save()
    db.checkpoint()
    db.load()
    assert Student.count() == 1


def test_load_loads_every_table(tmp_path, pdb):
    u = make_university(pdb)
    u.Student.insert(name="A", email="a@u")
    pdb.close()
    d = Database(name="university", persist=True, base_path=str(tmp_path))
    d.load()
    stats = d.statistics()
    assert {t["name"] for t in stats["tables"]} == {"student", "course", "registration"}
    assert all(t["loaded"] for t in stats["tables"])
    d.close()


# -- close and the context manager ----------------------------------------------------

def test_close_then_reuse_raises_closed(db):
    Student = student_class(db)
    Student.insert(name="A")
    db.close()
    for call in (lambda: Student.insert(name="B"), lambda: Student.select(),
                 lambda: Student.count(), lambda: Student.get(1),
                 lambda: Student.update(name="C"), lambda: Student.delete(),
                 lambda: Student.select(where=lambda s: s["name"] == "A"),
                 lambda: db.tables(), lambda: db.statistics(), lambda: db.save(),
                 lambda: db.sql("SELECT * FROM student"), lambda: db.sql("SELECT 1"),
                 lambda: db.transaction().__enter__()):
        with pytest.raises(tabula.Closed) as e:
            call()
        assert "closed" in str(e.value)


def test_close_is_idempotent(pdb):
    pdb.close()
    pdb.close()


def test_close_frees_the_directory(tmp_path, pdb):
    pdb.close()
    r = run_python("""
        import sys, tabula
        tabula.Database(path=sys.argv[1]).close()
        print("opened")
    """, pdb.path)
    assert r.returncode == 0 and "opened" in r.stdout, r.stderr


def test_context_manager_closes(tmp_path):
    with Database(name="ctx", persist=True, base_path=str(tmp_path)) as d:
        Student = student_class(d)
        Student.insert(name="A")
    with pytest.raises(tabula.Closed):
        Student.count()
    with Database(name="ctx", persist=True, base_path=str(tmp_path)) as d:
        assert d is not None and student_class(d).count() == 1
    # An exception inside still closes, and is not swallowed.
    with pytest.raises(KeyError):
        with Database(name="ctx", persist=True, base_path=str(tmp_path)) as d:
            raise KeyError("x")
    with pytest.raises(tabula.Closed):
        d.tables()


# -- statistics -----------------------------------------------------------------------

STAT_KEYS = {"path", "tables", "wal_bytes", "wal_records", "last_lsn", "checkpoint_lsn",
             "archived", "manifest_bytes", "total_bytes", "versions_held", "version_bytes"}
TABLE_KEYS = {"name", "rows", "loaded", "pending_records", "snapshot_bytes", "schema_bytes",
              "indexes"}


def test_statistics_keys(pdb, db):
    for d in (pdb, db):
        u = make_university(d)
        u.Student.insert_many(STUDENTS)
        stats = d.statistics()
        assert STAT_KEYS <= set(stats)
        by_name = {t["name"]: t for t in stats["tables"]}
        assert set(by_name) == {"student", "course", "registration"}
        assert all(TABLE_KEYS <= set(t) for t in stats["tables"])
        assert by_name["student"]["rows"] == len(STUDENTS)
        assert "email" in by_name["student"]["indexes"]
    assert db.statistics()["path"] is None and db.statistics()["total_bytes"] == 0
    assert pdb.statistics()["path"] == pdb.path and pdb.statistics()["total_bytes"] > 0


# -- export / import ------------------------------------------------------------------

def test_export_and_import_round_trip(tmp_path, pdb):
    u = make_university(pdb)
    u.Student.insert_many(STUDENTS)
    c = u.Course.insert(code="CS101", title="Programming")
    u.Registration.insert(student_id=1, course_id=c, grade="A")
    out = tmp_path / "export.json"
    pdb.export_json(out)
    doc = json.loads(out.read_text())
    assert doc["format"] == "tabula-export"
    other = Database()
    assert other.import_json(str(out)) == len(STUDENTS) + 2
    assert other.tables() == ["course", "registration", "student"]
    for name in other.tables():
        assert (other.sql(f"SELECT * FROM {name} ORDER BY id")
                == pdb.sql(f"SELECT * FROM {name} ORDER BY id"))
    # The constraints came along: a class bound to the copy finds its table as it was.
    v = make_university(other)
    with pytest.raises(tabula.UniqueViolation):
        v.Student.insert(name="Again", email=STUDENTS[0]["email"])
    with pytest.raises(tabula.ForeignKey):
        v.Registration.insert(student_id=99, course_id=c)
    other.close()


def test_import_is_all_or_nothing(tmp_path, db):
    u = make_university(db)
    u.Student.insert_many(STUDENTS)
    out = tmp_path / "export.json"
    db.export_json(str(out))
    # Importing into a database that already has the tables and rows fails as a whole.
    with pytest.raises(tabula.UniqueViolation) as e:
        db.import_json(str(out))
    assert "student" in str(e.value)
    assert u.Student.count() == len(STUDENTS)
    other = Database()
    with pytest.raises(tabula.Io) as e:
        other.import_json(str(tmp_path / "missing.json"))
    assert "missing.json" in str(e.value)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(tabula.Json) as e:
        other.import_json(str(bad))
    assert "bad.json" in str(e.value)
    assert other.tables() == []
    other.close()


def test_export_into_the_database_directory_is_refused(pdb):
    with pytest.raises(tabula.ExportIntoDatabase) as e:
        pdb.export_json(os.path.join(pdb.path, "inside.json"))
    assert "inside.json" in str(e.value)


# -- transactions ---------------------------------------------------------------------

def test_transaction_commits_together(db):
    Student = student_class(db)
    with db.transaction():
        Student.insert(name="A")
        Student.insert_many([dict(name="B"), dict(name="C")])
        # Reads inside see the block's own writes...
        assert Student.count() == 3
        assert Student.get(1)["name"] == "A"
        assert db.sql("SELECT COUNT(*) AS n FROM student") == [{"n": 3}]
        Student.update(where=lambda s: s["name"] == "B", gpa=2.0)
        Student.delete(where=lambda s: s["name"] == "C")
        # ...other threads see none of them.
        seen = []
        t = threading.Thread(target=lambda: seen.append(Student.count()))
        t.start()
        t.join(10)
        assert seen == [0]
    assert [(s["name"], s["gpa"]) for s in Student.select()] == [("A", 0.0), ("B", 2.0)]


def test_transaction_rolls_back_on_an_exception(db):
    Student = student_class(db)
    Student.insert(name="Before")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with db.transaction():
            Student.insert(name="A")
            Student.update(gpa=4.0)
            db.sql("DELETE FROM student WHERE name = ?", ["Before"])
            raise Boom()
    assert Student.select() == [{"id": 1, "name": "Before", "gpa": 0.0}]


def test_transaction_rolls_back_on_a_tabula_error_inside(db):
    u = make_university(db)
    with pytest.raises(tabula.UniqueViolation):
        with db.transaction():
            u.Student.insert(name="A", email="a@u")
            u.Student.insert(name="B", email="a@u")
    assert u.Student.count() == 0


def test_a_failed_statement_inside_a_transaction_changes_nothing_itself(db):
    u = make_university(db)
    with db.transaction():
        u.Student.insert(name="A", email="a@u")
        with pytest.raises(tabula.UniqueViolation):
            u.Student.insert_many([dict(name="B", email="b@u"), dict(name="A2", email="a@u")])
        u.Student.insert(name="C", email="c@u")
    assert [s["name"] for s in u.Student.select()] == ["A", "C"]


def test_a_lambda_inside_a_transaction_sees_its_writes(db):
    u = make_university(db)
    u.Student.insert(name="A", email="a@u")
    u.Student.insert(name="B", email="b@u")
    with db.transaction():
        u.Course.insert(code="NEW")
        # Per row, the lambda reads another table: inside the block, it sees the block's
        # own insert, as a read outside the lambda does.
        assert u.Course.count() == 1
        assert len(u.Student.select(where=lambda s: u.Course.count() == 1)) == 2
        assert u.Student.count(where=lambda s: u.Course.count() == 1) == 2
        # A lambda may even write inside the transaction; the update then applies.
        assert u.Student.update(where=lambda s: u.Course.count() == 1 and s["name"] == "A",
                                name="A2") == 1
        assert u.Student.delete(where=lambda s: s["name"] == "B" and u.Course.count() == 1) == 1
    assert [s["name"] for s in u.Student.select()] == ["A2"]
    assert u.Course.count() == 1


def test_a_write_inside_a_per_row_delete_is_refused_naming_its_table(db):
    """A per-row ``where=`` of a delete runs while the delete holds the writers' lock: a
    write it makes is refused, naming the table written (not the engine's
    "(transaction)"), and nothing changes."""
    Student = student_class(db)
    Student.insert(name="A")
    Student.insert(name="B")
    inner = [
        lambda: Student.update(name="C"),
        lambda: Student.delete(where=lambda s: s["name"] == "Z" or s["id"] == -1),
        lambda: Student.update(where=lambda s: s["name"] == "Z" or s["id"] == -1, name="C"),
    ]
    for call in inner:
        with pytest.raises(tabula.InTransaction) as e:
            Student.delete(where=lambda s: call() is None)
        assert str(e.value).startswith("student:"), e.value
    assert sorted(s["name"] for s in Student.select()) == ["A", "B"]


def test_transactions_do_not_nest(db):
    Student = student_class(db)
    with db.transaction():
        Student.insert(name="A")
        with pytest.raises(tabula.InTransaction):
            with db.transaction():
                pass
    # The outer one was not disturbed.
    assert Student.count() == 1


@pytest.mark.parametrize("call", ["save", "checkpoint", "close", "export", "import",
                                  "attach"])
def test_calls_that_would_wait_for_the_transaction_are_refused(pdb, tmp_path, call):
    Student = student_class(pdb)
    with pdb.transaction():
        Student.insert(name="A")
        with pytest.raises(tabula.InTransaction):
            if call == "save":
                pdb.save()
            elif call == "checkpoint":
                pdb.checkpoint()
            elif call == "close":
                pdb.close()
            elif call == "export":
                pdb.export_json(str(tmp_path / "x.json"))
            elif call == "import":
                pdb.import_json(str(tmp_path / "x.json"))
            else:
                make_university(pdb)
    assert Student.count() == 1


@pytest.mark.parametrize("call", ["load", "migration_plan"])
def test_a_load_inside_a_transaction_is_refused_not_a_wait_for_itself(tmp_path, call):
    """After a reopen a table not read yet is loaded under the writer's turn, which the
    thread's own transaction holds: ``load()`` and the dry run refuse instead of waiting
    for ever, and the block goes on."""
    path = str(tmp_path / "db")
    db = tabula.Database(path=path)
    db.sql("CREATE TABLE c (id INTEGER PRIMARY KEY, v INTEGER NOT NULL DEFAULT 0)")
    db.sql("INSERT INTO c (v) VALUES (1)")
    db.close()
    db = tabula.Database(path=path)
    try:
        @dataclass
        class C:
            id: int = field(metadata={"primary_key": True})
            v: int = 0

        with db.transaction():
            with pytest.raises(tabula.InTransaction, match=call):
                if call == "load":
                    db.load()
                else:
                    db.migration_plan(C, name="c")
            assert db.sql("SELECT v FROM c") == [{"v": 1}]
        db.load()
        assert db.migration_plan(C, name="c") == []
    finally:
        db.close()


def test_a_transaction_object_can_be_used_again(db):
    Student = student_class(db)
    tx = db.transaction()
    with tx:
        Student.insert(name="A")
    with tx:
        Student.insert(name="B")
    assert Student.count() == 2


# -- sql ------------------------------------------------------------------------------

def test_sql_returns_dicts_for_rows_and_a_count_otherwise(db):
    u = make_university(db)
    u.Student.insert_many(STUDENTS)
    rows = db.sql("SELECT name, gpa FROM student WHERE gpa > ? ORDER BY gpa DESC", (3.5,))
    assert rows == [{"name": "Carol White", "gpa": 3.9}, {"name": "Alice Johnson", "gpa": 3.8}]
    assert db.sql("SELECT name FROM student WHERE gpa > $1 AND name <> $2", [3.5, "Carol White"]) == [
        {"name": "Alice Johnson"}]
    assert db.sql("UPDATE student SET gpa = gpa + 0.1 WHERE gpa < ?", [3.0]) == 2
    assert db.sql("DELETE FROM student WHERE gpa > 100") == 0
    assert db.sql("INSERT INTO course (code, title) VALUES (?, ?), (?, ?)",
                  ["A1", "A", "B1", "B"]) == 2
    assert db.sql("SELECT COUNT(*) AS n FROM course") == [{"n": 2}]
    # An empty result is still a list.
    assert db.sql("SELECT * FROM student WHERE gpa > 100") == []
    # Several statements: the last one's answer.
    assert db.sql("UPDATE course SET credits = 5; SELECT SUM(credits) AS c FROM course") == [
        {"c": 10}]
    # A transaction rolled back changed no row.
    assert db.sql("BEGIN; DELETE FROM course; ROLLBACK") == 0
    assert db.sql("SELECT COUNT(*) AS n FROM course") == [{"n": 2}]


def test_sql_join_with_group_by(uni):
    rows = uni.db.sql(
        "SELECT s.name AS name, COUNT(*) AS courses FROM student s "
        "JOIN registration r ON r.student_id = s.id GROUP BY s.name ORDER BY courses DESC")
    assert rows == [{"name": "Alice Johnson", "courses": 2}, {"name": "Bob Smith", "courses": 1}]


def test_sql_create_table_and_tables(db):
    assert db.tables() == []
    make_university(db)
    assert db.tables() == ["course", "registration", "student"]
    assert db.sql("CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT)") == 0
    assert db.tables() == ["audit", "course", "registration", "student"]


def test_sql_keeps_every_column_of_a_result_that_repeats_a_name(db):
    assert db.sql("SELECT 1 AS a, 2 AS a, 3 AS b, 4 AS a") == [
        {"a": 1, "a:1": 2, "b": 3, "a:2": 4}]
    # A name the query gives a column itself is never given to a repeated one.
    assert db.sql('SELECT 1 AS a, 3 AS a, 2 AS "a:1"') == [{"a": 1, "a:2": 3, "a:1": 2}]


def test_deep_sql_runs_or_raises_inside_a_transaction_too(db):
    """A transaction's statements run on a thread of its own, with a thread's usual small
    stack: a chain of common table expressions each reading the one before (a segfault
    once) runs there as on the main thread, and a join of more tables than SQLite allows
    raises."""
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t (id) VALUES (1)")
    chain = ("WITH c0 AS (SELECT id AS x FROM t), "
             + ", ".join(f"c{i} AS (SELECT x + 1 AS x FROM c{i - 1})" for i in range(1, 2000))
             + " SELECT x FROM c1999")
    joined = "SELECT COUNT(*) AS n FROM t t0 " + " ".join(
        f"JOIN t t{i} ON t{i}.id = t{i - 1}.id" for i in range(1, 65))
    assert db.sql(chain) == [{"x": 2000}]
    with db.transaction():
        assert db.sql(chain) == [{"x": 2000}]
        with pytest.raises(tabula.Sql, match="at most 64 tables in a join"):
            db.sql(joined)


def test_sql_errors(db):
    make_university(db)
    with pytest.raises(tabula.Sql) as e:
        db.sql("SELEC * FROM student")
    assert e.value.line == 1 and "SELEC" in str(e.value)
    with pytest.raises(tabula.Sql) as e:
        db.sql("SELECT * FROM nowhere")
    assert "nowhere" in str(e.value)
    with pytest.raises(tabula.Sql):
        db.sql("SELECT * FROM student WHERE id = ?", [1, 2])
    with pytest.raises(tabula.TypeMismatch):
        db.sql("SELECT * FROM student WHERE id = ?", [object()])
    with pytest.raises(tabula.UniqueViolation):
        db.sql("INSERT INTO student (name, email) VALUES ('a', 'x'), ('b', 'x')")
    # In a text of several statements, the failing one's error is still its own class,
    # saying which statement it was; the statements before it stay committed.
    before = db.sql("SELECT COUNT(*) AS n FROM student")[0]["n"]
    with pytest.raises(tabula.UniqueViolation) as e:
        db.sql("INSERT INTO student (name, email) VALUES ('a', 'y');\n"
               "INSERT INTO student (name, email) VALUES ('b', 'y')")
    assert str(e.value).startswith("statement 2 (line 2) failed: unique constraint"), e.value
    assert e.value.statement == 2 and e.value.table == "student" and e.value.value == "y"
    assert db.sql("SELECT COUNT(*) AS n FROM student")[0]["n"] == before + 1


# -- other processes ------------------------------------------------------------------

def test_another_process_gets_locked(pdb):
    r = run_python("""
        import sys, tabula
        try:
            tabula.Database(path=sys.argv[1])
        except tabula.Locked as e:
            print("Locked:", e)
            sys.exit(0)
        sys.exit(3)
    """, pdb.path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Locked:" in r.stdout


def test_read_only_in_another_process_beside_this_writer(pdb):
    Student = student_class(pdb)
    Student.insert_many([dict(name="A"), dict(name="B")])
    r = run_python("""
        import sys, tabula
        from dataclasses import dataclass, field
        db = tabula.Database(path=sys.argv[1], read_only=True)

        @tabula.table(db=db)
        @dataclass
        class Student:
            id: int = field(metadata={"primary_key": True})
            name: str = ""
            gpa: float = 0.0

        print("rows", [s["name"] for s in Student.select()])
        try:
            Student.insert(name="C")
        except tabula.ReadOnly as e:
            print("ReadOnly:", e)
        try:
            db.sql("DELETE FROM student")
        except tabula.ReadOnly as e:
            print("ReadOnly sql")
    """, pdb.path)
    assert r.returncode == 0, r.stderr
    assert "rows ['A', 'B']" in r.stdout
    assert "ReadOnly:" in r.stdout and "ReadOnly sql" in r.stdout
    assert Student.count() == 2


WRITER = """
import sys, tabula
from dataclasses import dataclass, field
from typing import Optional
db = tabula.Database(path=sys.argv[1])

@tabula.table(db=db)
@dataclass
class Student:
    id: int = field(metadata={"primary_key": True})
    name: str = ""
    gpa: float = 0.0

Student.insert(name="first")
print("ready", flush=True)
sys.stdin.readline()
Student.insert(name="second")
print("done", flush=True)
sys.stdin.readline()
db.close()
"""


def test_read_only_here_beside_a_writer_process(tmp_path):
    path = str(tmp_path / "shared")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        with pytest.raises(tabula.Locked):
            Database(path=path)
        reader = Database(path=path, read_only=True)
        assert reader.read_only
        assert reader.sql("SELECT name FROM student") == [{"name": "first"}]
        Student = student_class(reader)
        with pytest.raises(tabula.ReadOnly):
            Student.insert(name="mine")
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "done"
        reader.refresh()
        assert [s["name"] for s in Student.select()] == ["first", "second"]
        reader.close()
    finally:
        try:
            writer.stdin.write("\n")
            writer.stdin.flush()
        except OSError:  # it already ended: its stderr says why
            pass
        try:
            writer.wait(30)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
    assert writer.returncode == 0, writer.stderr.read()


def test_a_reader_told_of_a_migration_closes_and_opens_again(tmp_path):
    # Another process changes a table's columns under a read-only reader: refresh() says
    # so, and how to see the new columns from Python.
    path = str(tmp_path / "migrated")
    script = """
        import sys, tabula
        db = tabula.Database(path=sys.argv[1])
        db.sql(sys.argv[2])
        db.close()
    """
    made = run_python(script, path, "CREATE TABLE student (id INTEGER PRIMARY KEY, "
                                    "name TEXT); INSERT INTO student (name) VALUES ('a')")
    assert made.returncode == 0, made.stderr
    reader = Database(path=path, read_only=True)
    assert reader.sql("SELECT * FROM student") == [{"id": 1, "name": "a"}]
    altered = run_python(script, path, "ALTER TABLE student ADD COLUMN note TEXT")
    assert altered.returncode == 0, altered.stderr
    with pytest.raises(tabula.SchemaMismatch, match=r"close\(\) this Database first"):
        reader.refresh()
    reader.close()
    again = Database(path=path, read_only=True)
    assert again is not reader
    assert again.sql("SELECT * FROM student") == [{"id": 1, "name": "a", "note": None}]
    again.close()


def test_a_process_that_dies_without_closing_loses_no_commit(tmp_path):
    # Every commit is in the log when it returns: a writer that exits without close() or
    # save() (os._exit skips every cleanup) leaves a database that opens with all of it.
    path = str(tmp_path / "crash")
    r = run_python("""
        import os, sys, tabula
        from dataclasses import dataclass, field
        from typing import Optional
        db = tabula.Database(path=sys.argv[1])

        @tabula.table(db=db)
        @dataclass
        class Value:
            id: int = field(metadata={"primary_key": True})
            f: float = 0.0
            i: int = 0
            s: str = ""
            j: Optional[dict] = None

        Value.insert_many([
            dict(f=float("nan"), i=2 ** 63 - 1, s='é\\n"\\\\\\x00', j={"a": [1, None]}),
            dict(f=-0.0, i=-(2 ** 63), s="😀"),
            dict(f=float("-inf"), s="\\t", j={}),
        ])
        db.save()
        Value.update(where=lambda v: v["s"] == "😀", f=5e-324)
        with db.transaction():
            Value.insert(s="after the save")
            Value.delete(where=lambda v: v["s"] == "\\t")
        os._exit(0)
    """, path)
    assert r.returncode == 0, r.stderr
    db = Database(path=path)

    @table(db=db)
    @dataclass
    class Value:
        id: int = field(metadata={"primary_key": True})
        f: float = 0.0
        i: int = 0
        s: str = ""
        j: Optional[dict] = None

    rows = Value.select()
    assert [r["s"] for r in rows] == ['é\n"\\\x00', "😀", "after the save"]
    assert math.isnan(rows[0]["f"]) and rows[0]["i"] == 2 ** 63 - 1
    assert rows[0]["j"] == {"a": [1, None]}
    assert rows[1]["f"] == 5e-324 and rows[1]["i"] == -(2 ** 63)
    db.close()


def test_a_read_only_database_names_the_table_a_per_row_write_was_for(tmp_path):
    # A per-row update or delete begins a transaction, which a read-only database refuses:
    # the error named "(transaction)" where a traced one named the table.
    path = str(tmp_path / "ro")
    writer = Database(path=path)

    @table(db=writer)
    @dataclass
    class Item:
        id: int = field(metadata={"primary_key": True})
        n: int = 0

    Item.insert(n=1)
    writer.close()
    reader = Database(path=path, read_only=True)

    @table(db=reader, name="item")
    @dataclass
    class Seen:
        id: int = field(metadata={"primary_key": True})
        n: int = 0

    per_row = lambda s, _k=1: s['n'] == _k  # noqa: E731 (a default argument: per row)
    for call in (lambda: Seen.update(where=per_row, n=2), lambda: Seen.delete(where=per_row)):
        with pytest.raises(tabula.ReadOnly) as e:
            call()
        assert "item" in str(e.value) and "(transaction)" not in str(e.value), str(e.value)
    reader.close()
