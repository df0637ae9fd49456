"""``insert_many`` of a list longer than one chunk (2,048 rows): converted and inserted in
turns on two threads, it must behave exactly as one call with every row does — one
commit, all or nothing, the same errors, nothing left open afterwards — and fall back to
that one call whenever it could not."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field

import pytest

import tabula
from tabula import Database, table

from conftest import make_university, run_python

N = 10_000  # several chunks


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


def test_rows_that_need_python_code_take_the_one_call_way(db):
    """A row object's property is Python code: it must not run inside a transaction it
    did not open (nor wait for one), so such a list is inserted the one-call way, its
    code running before the insert, its own writes committing on their own."""
    u = make_university(db)

    class Row:
        __dataclass_fields__: dict = {}  # read field by field, as an instance of the class

        def __init__(self, i, writes=False):
            self.id, self.code, self.credits, self.writes = None, f"C{i}", 3, writes

        @property
        def title(self):
            if self.writes:
                with db.transaction():  # no transaction is open on this thread
                    u.Student.insert(name="inside", email="inside@u")
            return "t"

    courses = [dict(code=f"C{i}", credits=3) for i in range(N)]
    courses[5000] = Row(5000, writes=True)
    assert len(u.Course.insert_many(courses)) == N
    assert u.Student.get_by("email", "inside@u") is not None
    assert u.Course.get_by("code", "C5000")["title"] == "t"
    # When the insert fails, what the conversion committed stays, as it always did.
    courses = [dict(code=f"D{i}", credits=3) for i in range(N)]
    courses[5000] = Row(6000, writes=True)
    courses[9000]["code"] = "C1"
    u.Student.delete()
    with pytest.raises(tabula.UniqueViolation):
        u.Course.insert_many(courses)
    assert u.Student.count() == 1 and u.Course.count() == N
    assert no_transaction_open(db)


def test_a_value_of_another_type_mid_list_is_converted_as_always(db):
    u = make_university(db)
    rows = students()
    rows[7000]["gpa"] = 3          # an int for a float column
    rows[8000]["name"] = "Ünïcødé"
    keys = u.Student.insert_many(rows)
    assert keys == list(range(1, N + 1))
    got = u.Student.get(7001)["gpa"]
    assert got == 3.0 and type(got) is float
    assert u.Student.get(8001)["name"] == "Ünïcødé"


def test_keys_in_any_order_spelled_by_any_string_and_some_left_out(db):
    """Rows are matched to columns by name, however the dict was built: literal keys in
    the columns' order (the fast way), another order, keys made at run time (equal
    strings that are not the names' own objects), a column left out (its default), and a
    key that names no column late in the list (nothing inserted)."""
    u = make_university(db)
    made = "".join(["e", "mail"])  # equal to "email", not the same object
    rows = []
    for i in range(N):
        if i % 4 == 0:
            rows.append({"name": f"S{i}", "email": f"s{i}@u", "gpa": i / 8})
        elif i % 4 == 1:
            rows.append({"gpa": i / 8, made: f"s{i}@u", "name": f"S{i}"})
        elif i % 4 == 2:
            rows.append(json.loads(json.dumps({"email": f"s{i}@u", "name": f"S{i}"})))
        else:
            rows.append({"id": None, "email": f"s{i}@u", "gpa": i / 8, "name": f"S{i}"})
    assert u.Student.insert_many(rows) == list(range(1, N + 1))
    for i in (0, 1, 2, 3, 4097, N - 1):
        gpa = 0.0 if i % 4 == 2 else i / 8
        assert u.Student.get(i + 1) == {"id": i + 1, "name": f"S{i}", "email": f"s{i}@u",
                                        "gpa": gpa}
    late = students(start=N)
    late[9000] = {"name": "X", "email": "x@u", "gpa": 1.0, "gpx": 2.0}
    with pytest.raises(tabula.UnknownColumn) as e:
        u.Student.insert_many(late)
    assert e.value.column == "gpx" and e.value.table == "student"
    late[9000] = {"name": "X", "email": "x@u", "gpa": "high"}
    with pytest.raises(tabula.TypeMismatch) as e:
        u.Student.insert_many(late)
    assert str(e.value) == 'student.gpa is f64, which cannot hold "high"'
    assert u.Student.count() == N
    assert no_transaction_open(db)


def test_json_columns_and_a_keyboard_interrupt_while_one_converts(db):
    @table(db=db)
    @dataclass
    class Doc:
        id: int = field(metadata={"primary_key": True})
        meta: dict = field(default_factory=dict)

    class Interrupting(dict):
        def items(self):  # json.dumps asks a dict subclass for its items
            raise KeyboardInterrupt

    assert len(Doc.insert_many([{"meta": {"i": i}} for i in range(N)])) == N
    assert Doc.get(N)["meta"] == {"i": N - 1}
    rows = [{"meta": {"i": i}} for i in range(N)]
    rows[6000]["meta"] = Interrupting(a=1)
    # Not a TypeMismatch about the value: the interrupt itself, and nothing inserted.
    with pytest.raises(KeyboardInterrupt):
        Doc.insert_many(rows)
    with pytest.raises(KeyboardInterrupt):
        Doc.insert(meta=Interrupting(a=1))
    assert Doc.count() == N


def test_an_ended_transaction_ended_again_leaves_the_open_one_open(db):
    u = make_university(db)
    stale = db.transaction()
    with stale:
        pass
    with pytest.raises(tabula.Error) as e:
        with db.transaction():
            u.Course.insert(code="a")
            with pytest.raises(tabula.Error, match="already ended"):
                stale.__exit__(None, None, None)
            # Still inside the open transaction: this waits for nothing.
            u.Course.insert(code="b")
            raise tabula.Error("undo")
    assert "undo" in str(e.value)
    assert u.Course.count() == 0


def test_on_a_read_only_database(tmp_path):
    path = str(tmp_path / "ro")
    writer = Database(path=path)
    make_university(writer).Student.insert(name="A", email="a@u")
    writer.close()
    ro = Database(path=path, read_only=True)
    u = make_university(ro)
    # The same errors as an insert of a few rows: the table named, a bad row first.
    with pytest.raises(tabula.ReadOnly) as few:
        u.Student.insert_many(students(10))
    with pytest.raises(tabula.ReadOnly) as many:
        u.Student.insert_many(students())
    assert str(many.value) == str(few.value) and "student" in str(many.value)
    rows = students()
    rows[9000] = ("not", "a", "dict")
    with pytest.raises(TypeError):
        u.Student.insert_many(rows)
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


# Python code that would run inside the insert's transaction, run in a process of its own:
# were it to wait for the writer's lock, the test would time out rather than hang pytest.
_SETUP = """
    import gc, sys
    from dataclasses import dataclass, field
    import tabula
    db = tabula.Database()

    @tabula.table(db=db)
    @dataclass
    class S:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
"""


def test_a_key_whose_eq_writes_is_compared_outside_the_transaction():
    r = run_python(_SETUP + """
    calls = []
    class K:
        def __hash__(self):
            return hash("name")
        def __eq__(self, other):
            calls.append(1)
            S.insert(name="from __eq__")
            return False
    rows = [{"name": f"n{i}"} for i in range(10_000)]
    rows[5000] = {K(): "x"}
    try:
        S.insert_many(rows)
    except tabula.UnknownColumn as e:
        print("UnknownColumn", S.count() == len(calls) > 0)
    """, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "UnknownColumn True"


def test_a_finalizer_that_writes_during_a_large_insert():
    r = run_python(_SETUP + """
    armed = [False]
    ran = []
    class Cycle:
        def __init__(self):
            self.me = self
        def __del__(self):
            if armed[0]:
                ran.append(1)
                S.insert(name="from __del__")
    rows = [{"name": f"n{i}"} for i in range(5000)]
    for _ in range(30):
        gc.collect()
        Cycle()  # garbage the next collection finds
        gc.set_threshold(1)
        armed[0] = True
        S.insert_many(rows)
        armed[0] = False
        gc.set_threshold(700)
    print(len(ran) > 0, S.count() == 30 * 5000 + len(ran), gc.isenabled())
    """, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True True True"
