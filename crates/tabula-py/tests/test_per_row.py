"""A ``where=`` lambda that runs per row sees only what it can read.

When a lambda's bytecode uses its row only as ``row["constant"]``, tabula hands it a dict
of just those columns, one dict carried from row to row (``_trace.read_columns``). Such a
lambda cannot tell: these tests pin which lambdas qualify, and that every operation gives
the answers (and raises the errors) a full dict per row gives.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Optional

import pytest

import tabula
from tabula import _trace, table


@pytest.fixture
def Student(db):
    @table(db=db)
    @dataclass
    class Student:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        gpa: float = 0.0
        year: int = field(default=1, metadata={"index": True})
        nick: Optional[str] = None
        tags: list = field(default_factory=list)

    Student.insert_many(
        dict(name=f"s{i}", gpa=i / 10, year=2020 + i % 3, nick=None if i % 4 else f"n{i}",
             tags=["a"] * (i % 2))
        for i in range(40))
    return Student


def helper(row):
    return row["gpa"] > 1


def peek():
    return len(sys._getframe(1).f_locals["s"]) == 6


def reads(lam, Student):
    return _trace.read_columns(lam, Student.__tabula__.columns)


@pytest.mark.parametrize("lam, columns", [
    (lambda s: s["gpa"] > 3.5 and s["year"] > 2020, ["gpa", "year"]),
    (lambda s: s["nick"] is None or s["name"] >= "s1", ["nick", "name"]),
    (lambda s: s["tags"] != [] if s["year"] == 2021 else s["gpa"] < 1, ["tags", "year", "gpa"]),
    (lambda s: s["tags"][0] == "a" if s["tags"] else False, ["tags"]),
    (lambda s: s["gpa"] > 1 and s["gpa"] < 2, ["gpa"]),
    (lambda s: s["missing"] == 1, []),           # no such column: a KeyError either way
    (lambda s: s[0] == 1, []),                   # not a name: a KeyError either way
    (lambda s: True, []),
])
def test_lambdas_that_only_subscript_read_just_those_columns(Student, lam, columns):
    assert sorted(reads(lam, Student)) == sorted(columns)


def test_a_def_with_statements_qualifies(Student):
    def pick(s):
        gpa = s["gpa"]
        year = s["year"]
        return gpa > 2 and year != 2021

    assert sorted(reads(pick, Student)) == ["gpa", "year"]


KEPT: list = []


@pytest.mark.parametrize("lam", [
    lambda s: helper(s),                         # passed on
    lambda s: s["gpa"] > 1 and peek(),           # a call, which could reach the frame
    lambda s: s["name"].startswith("s1"),        # a call, even of a value's method
    lambda s: s.get("gpa", 0) > 1,               # a method of the dict
    lambda s: len(s) > 1,                        # the dict itself
    lambda s: "gpa" in s,                        # membership
    lambda s: s,                                 # returned
    lambda s: KEPT.append(s) or True,            # kept
    lambda s: [k for k in s],                    # iterated
    lambda s: (lambda: s["gpa"])() > 1,          # captured by an inner function
    lambda s: locals()["s"]["gpa"] > 1,          # its frame
    lambda s: sys._getframe().f_locals["s"]["gpa"] > 1,
    lambda s: s[helper.__name__] == 1,           # a key that is not a constant
    lambda *a: a[0]["gpa"] > 1,                  # *args
])
def test_lambdas_that_use_the_row_otherwise_see_the_whole_row(Student, lam):
    assert reads(lam, Student) is None


def test_a_callable_object_sees_the_whole_row(Student):
    class Pick:
        def __call__(self, s):
            return s["gpa"] > 1

    assert reads(Pick(), Student) is None


def _full(Student, lam):
    """The ids a full dict per row picks: what every operation must agree with."""
    return [r["id"] for r in Student.select() if lam(dict(r))]


@pytest.mark.parametrize("lam", [
    lambda s: s["gpa"] > 2.5 and s["year"] > 2020,
    lambda s: s["nick"] is None and s["gpa"] < 1,
    lambda s: s["tags"] == ["a"] or s["name"] == "s7",
    lambda s: not s["year"] == 2021,
])
def test_narrow_rows_give_the_answers_full_rows_give(Student, db, lam):
    assert reads(lam, Student) is not None
    want = _full(Student, lam)
    assert want and len(want) < Student.count()
    assert [r["id"] for r in Student.select(where=lam)] == want
    # The rows returned are whole.
    assert all(set(r) == {"id", "name", "gpa", "year", "nick", "tags"}
               for r in Student.select(where=lam))
    assert [r["id"] for r in Student.select(where=lam, order_by="-gpa", limit=3)] == \
        sorted(want, key=lambda i: -Student.get(i)["gpa"])[:3]
    assert Student.count(where=lam) == len(want)
    with db.transaction():
        assert Student.count(where=lam) == len(want)
        assert [r["id"] for r in Student.select(where=lam)] == want
    assert Student.update(where=lam, name="changed") == len(want)
    assert [r["id"] for r in Student.select() if r["name"] == "changed"] == want
    before = Student.count()
    assert Student.delete(where=lam) == len(want)
    assert Student.count() == before - len(want)
    assert all(Student.get(i) is None for i in want)


def test_a_lambda_that_keeps_its_rows_gets_a_dict_each(Student):
    kept = []
    Student.select(where=lambda s: kept.append(s) or s["gpa"] > 1)
    assert len(kept) == Student.count()
    assert len({id(d) for d in kept}) == len(kept)
    assert [d["id"] for d in kept] == [r["id"] for r in Student.select()]
    assert all(len(d) == 6 for d in kept)


def test_an_unknown_column_raises_key_error_and_changes_nothing(Student):
    before = Student.select()
    with pytest.raises(KeyError) as e:
        Student.update(where=lambda s: s["gpa"] > 1 and s["nope"] == 1, name="x")
    assert e.value.args == ("nope",)
    with pytest.raises(KeyError):
        Student.delete(where=lambda s: s["gpa"] > 1 and s["nope"] == 1)
    with pytest.raises(KeyError):
        Student.select(where=lambda s: s["gpa"] > 1 and s["nope"] == 1)
    assert Student.select() == before


def test_an_exception_midway_changes_nothing(Student):
    before = Student.select()
    with pytest.raises(ZeroDivisionError):
        Student.delete(where=lambda s: s["gpa"] > 1 and 1 / (s["year"] - 2022) > 0)
    assert Student.select() == before
    with pytest.raises(tabula.TypeMismatch):
        Student.update(where=lambda s: s["gpa"] > 1 and s["year"] > 0, year="x")
    assert Student.select() == before


def test_under_a_debugger_every_lambda_gets_the_whole_row(Student):
    lam = lambda s: s["gpa"] > 3.5 and s["year"] > 2020  # noqa: E731
    if not _trace._watched():  # (a coverage run watches every lambda already)
        assert sorted(reads(lam, Student)) == ["gpa", "year"]
    seen = []

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code is lam.__code__:
            seen.append(dict(frame.f_locals["s"]))
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        assert reads(lam, Student) is None
        Student.select(where=lam)
    finally:
        sys.settrace(old)
    assert len(seen) == Student.count()
    assert all(len(row) == 6 for row in seen)


class _Grab:
    """A number's stand-in whose comparison keeps (or changes) the row dict of the frame
    comparing it: a dunder walking up the stack, the one way left to see a narrow row."""

    def __init__(self, change: bool = False):
        self.kept: list = []
        self.change = change

    def __lt__(self, other):
        row = sys._getframe(1).f_locals["s"]
        if self.change:
            row["extra"] = 1
        else:
            self.kept.append(row)
        return other > 1

    __gt__ = __lt__


def test_a_dict_held_after_the_call_is_the_whole_row(Student):
    grab = _Grab()
    lam = lambda s: s["gpa"] > grab  # noqa: E731
    assert reads(lam, Student) == ["gpa"]
    picked = Student.select(where=lam)
    rows = Student.select()
    assert [r["id"] for r in picked] == [r["id"] for r in rows if r["gpa"] > 1]
    # Kept past its call, each row's dict became that row, whole, and none was reused.
    assert grab.kept == rows
    assert len({id(d) for d in grab.kept}) == len(rows)


def test_a_dict_changed_in_its_call_is_not_handed_on(Student):
    grab = _Grab(change=True)
    lam = lambda s: s["extra"] == 1 if s["id"] > 1 else s["gpa"] > grab  # noqa: E731
    assert sorted(reads(lam, Student)) == ["gpa", "id"]
    # The first row's dict gains "extra" inside its call; a fresh dict per row would not
    # carry it to the second row, and neither may the refilled one.
    with pytest.raises(KeyError) as e:
        Student.select(where=lam)
    assert e.value.args == ("extra",)


def test_the_traceback_of_a_failed_call_shows_the_whole_row(Student):
    lam = lambda s: s["gpa"] >= 0 and s["gpa"] / (s["year"] - 2021) > 0  # noqa: E731
    assert reads(lam, Student) is not None
    with pytest.raises(ZeroDivisionError) as e:
        Student.select(where=lam)
    tb = e.value.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    row = tb.tb_frame.f_locals["s"]
    assert row == Student.get(row["id"]) and row["year"] == 2021


def test_threads_updating_and_deleting_per_row(Student):
    import threading

    errors = []

    def work(k):
        try:
            for n in range(20):
                Student.insert(name=f"t{k}-{n}", gpa=1.0, year=3000 + k)
                Student.update(where=lambda s: s["year"] == 3000 + k and s["gpa"] < 2,
                               gpa=2.0)
                Student.delete(where=lambda s: s["year"] == 3000 + k and s["name"] == f"t{k}-{n}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    before = Student.count()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Student.count() == before
