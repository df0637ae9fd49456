"""``insert_many`` of a list longer than one chunk (4096 rows): converted and inserted in
turns on two threads, it must behave exactly as one call with every row does — one
commit, all or nothing, the same errors, nothing left open afterwards."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import pytest

import tabula
from tabula import Database, table

from conftest import make_university

N = 10_000  # more than two chunks


def no_transaction_open(db):
    """Whether this thread may open a transaction (``InTransaction`` if one is open)."""
    with db.transaction():
        pass
    return True


def students(n=N, start=0):
    return [dict(name=f"S{i}", email=f"s{i}@u", gpa=(i % 40) / 10) for i in range(start, start + n)]


def test_a_large_list_gets_every_row_and_its_keys_in_order(db):
    u = make_university(db)
    keys = u.Student.insert_many(students())
    assert keys == list(range(1, N + 1))
    assert u.Student.count() == N
    assert u.Student.get(N) == {"id": N, "name": f"S{N - 1}", "email": f"s{N - 1}@u",
                                "gpa": ((N - 1) % 40) / 10}
    assert u.Student.get_by("email", "s4096@u")["id"] == 4097
    # A tuple is pipelined too, and the next key follows on.
    more = tuple(students(5000, start=N))
    assert u.Student.insert_many(more)[0] == N + 1
    assert u.Student.count() == N + 5000


def test_a_duplicate_in_a_late_chunk_inserts_nothing(db):
    u = make_university(db)
    u.Student.insert(name="Old", email="old@u")
    rows = students()
    rows[9000]["email"] = "old@u"
    with pytest.raises(tabula.UniqueViolation) as e:
        u.Student.insert_many(rows)
    assert "old@u" in str(e.value) and "email" in str(e.value)
    assert u.Student.count() == 1
    # Duplicates across two chunks of the same list are caught as well.
    rows = students()
    rows[8000]["email"] = rows[10]["email"]
    with pytest.raises(tabula.UniqueViolation):
        u.Student.insert_many(rows)
    assert u.Student.count() == 1
    assert no_transaction_open(db)
    # The database takes writes afterwards, on this thread and others.
    assert len(u.Student.insert_many(students(5000, start=20_000))) == 5000
    t = threading.Thread(target=lambda: u.Student.insert(name="T", email="t@u"))
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert u.Student.count() == 5002


def test_a_row_that_does_not_convert_wins_over_an_earlier_engine_failure(db):
    """As with one call, which converts every row before the engine sees any."""
    u = make_university(db)
    rows = students()
    rows[100]["email"] = rows[0]["email"]   # the engine refuses the first chunk...
    rows[9999] = ("not", "a", "dict")        # ...but this row does not convert
    with pytest.raises(TypeError) as e:
        u.Student.insert_many(rows)
    assert "tuple" in str(e.value)
    rows[9999] = dict(name="X", email="x@u", age=3)
    with pytest.raises(tabula.UnknownColumn) as e:
        u.Student.insert_many(rows)
    assert "age" in str(e.value)
    assert u.Student.count() == 0
    assert no_transaction_open(db)


def test_not_null_check_and_foreign_key_failures_in_a_late_chunk(db):
    u = make_university(db)
    rows = students()
    rows[7000]["name"] = None
    with pytest.raises(tabula.NotNull) as e:
        u.Student.insert_many(rows)
    assert "name" in str(e.value)
    courses = [dict(code=f"C{i}", credits=3) for i in range(N)]
    courses[6000]["credits"] = 0
    with pytest.raises(tabula.Check) as e:
        u.Course.insert_many(courses)
    assert "credits" in str(e.value)
    assert (u.Student.count(), u.Course.count()) == (0, 0)
    u.Student.insert_many(students(10))
    c = u.Course.insert(code="CS", credits=4)
    regs = [dict(student_id=1 + i % 10, course_id=c, grade=str(i)) for i in range(10)]
    regs += [dict(student_id=1, course_id=c + 1 + i) for i in range(N)]
    with pytest.raises(tabula.ForeignKey):
        u.Registration.insert_many(regs)
    assert u.Registration.count() == 0


def test_a_large_insert_inside_a_transaction_rolls_back_with_it(db):
    u = make_university(db)
    with pytest.raises(RuntimeError):
        with db.transaction():
            u.Student.insert_many(students())
            assert u.Student.count() == N
            raise RuntimeError("undo")
    assert u.Student.count() == 0
    with db.transaction():
        u.Student.insert_many(students())
    assert u.Student.count() == N


def test_a_generator_runs_outside_any_transaction(db):
    """An iterator is read whole before the insert: a generator's own writes commit on
    their own, whatever becomes of the insert."""
    u = make_university(db)

    def rows():
        for i, r in enumerate(students()):
            if i == 5000:
                assert no_transaction_open(db)
                u.Course.insert(code="seen", credits=1)
            yield r

    bad = list(students())
    bad[9000]["email"] = bad[1]["email"]

    def bad_rows():
        u.Course.insert(code="also", credits=1)
        yield from bad

    assert len(u.Student.insert_many(rows())) == N
    with pytest.raises(tabula.UniqueViolation):
        u.Student.insert_many(bad_rows())
    assert u.Course.count() == 2 and u.Student.count() == N


def test_python_code_run_by_the_conversion_writes_inside_the_insert(db):
    """Python code run while the rows convert (here a property of a row object) runs
    inside the insert's transaction: it neither waits for it forever nor outlives it."""
    u = make_university(db)

    class Row:
        __dataclass_fields__: dict = {}  # read field by field, as an instance of the class

        def __init__(self, i, writes=False):
            self.id, self.code, self.credits, self.writes = None, f"C{i}", 3, writes

        @property
        def title(self):
            if self.writes:
                u.Student.insert(name="inside", email="inside@u")
            return "t"

    courses = [dict(code=f"C{i}", credits=3) for i in range(N)]
    courses[5000] = Row(5000, writes=True)
    assert len(u.Course.insert_many(courses)) == N
    assert u.Student.get_by("email", "inside@u") is not None
    assert u.Course.get_by("code", "C5000")["title"] == "t"
    assert no_transaction_open(db)
    # When the insert fails, what the conversion wrote is undone with it.
    courses = [dict(code=f"D{i}", credits=3) for i in range(N)]
    courses[5000] = Row(6000, writes=True)
    courses[9000]["code"] = "C1"
    u.Student.delete()
    with pytest.raises(tabula.UniqueViolation):
        u.Course.insert_many(courses)
    assert u.Student.count() == 0 and u.Course.count() == N


def test_on_a_read_only_database(tmp_path):
    path = str(tmp_path / "ro")
    writer = Database(path=path)
    make_university(writer).Student.insert(name="A", email="a@u")
    writer.close()
    ro = Database(path=path, read_only=True)
    u = make_university(ro)
    with pytest.raises(tabula.ReadOnly):
        u.Student.insert_many(students())
    assert u.Student.count() == 1
    ro.close()


def test_durable_after_reopen_and_a_failed_one_leaves_nothing_on_disk(tmp_path):
    path = str(tmp_path / "db")
    d = Database(path=path)
    u = make_university(d)
    u.Student.insert_many(students())
    bad = students(N, start=N)
    bad[-1]["email"] = "s0@u"
    with pytest.raises(tabula.UniqueViolation):
        u.Student.insert_many(bad)
    d.close()
    d = Database(path=path)
    u = make_university(d)
    assert u.Student.count() == N
    assert u.Student.get_by("email", f"s{N}@u") is None
    assert u.Student.insert(name="next", email="next@u") == N + 1
    d.close()
    assert os.path.isdir(path)
