"""tabula's exceptions: one class per engine error, each raised where it belongs, with a
message naming the table, the column and the value (and, for most, the same as
attributes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pytest

import tabula
from tabula import Database, table

from conftest import make_university, run_python

# The engine's error variants the package promises, one class each, with the same name.
VARIANTS = [
    "UniqueViolation", "NotNull", "TypeMismatch", "UnknownTable", "UnknownColumn", "Check",
    "Sql", "Unsupported", "InvalidExpression", "InvalidColumnUse", "PrimaryKeyChanged",
    "KeyExhausted", "SchemaMismatch", "InvalidName", "ForeignKey", "TableReferenced",
    "InTransaction", "MigrationInTransaction", "WrongDatabase", "TransactionTooLarge",
    "TableFull", "Aborted", "Reentrant", "NotADatabase", "ExportIntoDatabase", "Corrupt", "Io",
    "Locked", "ReadOnly", "Json", "Closed", "Poisoned",
]


def test_one_class_per_variant_under_tabula_error():
    assert issubclass(tabula.Error, Exception)
    for name in VARIANTS:
        cls = getattr(tabula, name)
        assert issubclass(cls, tabula.Error), name
        assert cls.__name__ == name
        assert name in tabula.__all__
    assert issubclass(tabula.TypeMismatch, TypeError)


def test_unique_violation(uni):
    with pytest.raises(tabula.UniqueViolation) as e:
        uni.Student.insert(name="Alice Two", email="alice@university.edu")
    msg = str(e.value)
    assert "student" in msg and "email" in msg and "alice@university.edu" in msg
    assert (e.value.table, e.value.column, e.value.value) == (
        "student", "email", "alice@university.edu")


def test_unique_violation_of_the_primary_key_and_a_composite(uni):
    with pytest.raises(tabula.UniqueViolation) as e:
        uni.Student.insert(id=uni.ids[0], name="Again", email="again@u")
    assert "student" in str(e.value) and str(uni.ids[0]) in str(e.value)
    with pytest.raises(tabula.UniqueViolation) as e:
        uni.Registration.insert(student_id=uni.ids[0], course_id=uni.cs)
    assert "registration" in str(e.value)


def test_not_null(uni):
    with pytest.raises(tabula.NotNull) as e:
        uni.Student.insert(name=None, email="x@u")
    assert "student" in str(e.value) and "name" in str(e.value)
    assert (e.value.table, e.value.column) == ("student", "name")
    # Left out, with no default: the same.
    with pytest.raises(tabula.NotNull) as e:
        uni.Student.insert(email="y@u")
    assert e.value.column == "name"


@pytest.mark.parametrize("column, value", [
    ("gpa", "high"), ("name", 3), ("name", 2.5), ("gpa", [1]), ("gpa", 2 ** 70),
    ("name", b"bytes"), ("gpa", object()),
])
def test_type_mismatch_is_also_a_type_error(uni, column, value):
    fields = {"name": "N", "email": "n@u", column: value}
    with pytest.raises(tabula.TypeMismatch) as e:
        uni.Student.insert(**fields)
    assert isinstance(e.value, TypeError)
    msg = str(e.value)
    assert "student" in msg and column in msg
    assert e.value.table == "student" and e.value.column == column
    with pytest.raises(TypeError):
        uni.Student.insert(**fields)


def test_type_mismatch_of_an_int_column(db):
    @table(db=db)
    @dataclass
    class Counter:
        id: int = field(metadata={"primary_key": True})
        n: int = 0

    for bad in (1.5, "3", True):
        with pytest.raises(tabula.TypeMismatch) as e:
            Counter.insert(n=bad)
        assert "counter" in str(e.value) and "n" in str(e.value)
    assert Counter.count() == 0


def test_check(uni):
    with pytest.raises(tabula.Check) as e:
        uni.Course.insert(code="X1", credits=0)
    assert "course" in str(e.value) and "credits > 0" in str(e.value)
    assert e.value.table == "course"
    assert e.value.column == "credits" and e.value.values == {"credits": 0}
    assert str(e.value).endswith(": credits = 0"), str(e.value)
    with pytest.raises(tabula.Check):
        uni.Course.update(where=lambda c: c["code"] == "CS101", credits=-1)
    with pytest.raises(tabula.Check):
        uni.Course.update(where=lambda c: c["code"].startswith("CS"), credits=-1)
    assert uni.Course.get(uni.cs)["credits"] == 4


def test_table_check(db):
    @table(db=db, check="lo <= hi")
    @dataclass
    class Span:
        id: int = field(metadata={"primary_key": True})
        lo: int = 0
        hi: int = 0

    with pytest.raises(tabula.Check) as e:
        Span.insert(lo=3, hi=1)
    assert "span" in str(e.value) and "lo <= hi" in str(e.value)
    assert e.value.values == {"lo": 3, "hi": 1}
    assert e.value.column is None


def test_foreign_key(uni):
    with pytest.raises(tabula.ForeignKey) as e:
        uni.Registration.insert(student_id=999, course_id=uni.cs)
    msg = str(e.value)
    assert "registration" in msg and "student_id" in msg and "999" in msg
    assert (e.value.table, e.value.column, e.value.value) == ("registration", "student_id", 999)
    # Restrict: a course with registrations cannot go.
    with pytest.raises(tabula.ForeignKey) as e:
        uni.Course.delete(where=lambda c: c["id"] == uni.cs)
    assert "course" in str(e.value)
    with pytest.raises(tabula.ForeignKey):
        uni.Course.delete()
    assert uni.Course.count() == 2


def test_on_delete_set_null(db):
    u = make_university(db)

    @table(db=db)
    @dataclass
    class Mentor:
        id: int = field(metadata={"primary_key": True})
        student_id: Optional[int] = field(
            default=None, metadata={"references": "student", "on_delete": "set_null"})

    s = u.Student.insert(name="A", email="a@u")
    Mentor.insert(student_id=s)
    assert u.Student.delete() == 1
    assert Mentor.select() == [{"id": 1, "student_id": None}]


def test_schema_mismatch(db):
    @table(db=db, name="thing")
    @dataclass
    class Thing:
        id: int = field(metadata={"primary_key": True})
        size: int = 0

    Thing.insert(size=3)
    with pytest.raises(tabula.SchemaMismatch) as e:
        @table(db=db, name="thing")
        @dataclass
        class Thing2:
            id: int = field(metadata={"primary_key": True})
            size: str = ""
    msg = str(e.value)
    assert "thing" in msg and "size" in msg
    assert e.value.table == "thing"


def test_schema_mismatch_without_a_primary_key(db):
    with pytest.raises(tabula.SchemaMismatch) as e:
        @table(db=db)
        @dataclass
        class NoKey:
            a: int = 0
    assert "NoKey" in str(e.value) and "primary_key" in str(e.value)


def test_unknown_column(uni):
    with pytest.raises(tabula.UnknownColumn) as e:
        uni.Student.insert(name="A", email="a@u", phone="555")
    assert "student" in str(e.value) and "phone" in str(e.value)
    with pytest.raises(tabula.UnknownColumn) as e:
        uni.Student.update(phone="555")
    assert "phone" in str(e.value)
    with pytest.raises(tabula.UnknownColumn) as e:
        uni.Student.select(order_by="phone")
    assert "phone" in str(e.value)


def test_sql_error(uni):
    with pytest.raises(tabula.Sql) as e:
        uni.db.sql("SELECT FROM WHERE")
    assert e.value.line == 1 and e.value.sql_column is not None
    with pytest.raises(tabula.Sql) as e:
        uni.db.sql("SELECT nope FROM student")
    assert "nope" in str(e.value)


def test_read_only(tmp_path):
    path = str(tmp_path / "ro")
    writer = Database(path=path)
    make_university(writer).Student.insert(name="A", email="a@u")
    writer.close()
    ro = Database(path=path, read_only=True)
    u = make_university(ro)
    assert u.Student.count() == 1
    for call in (lambda: u.Student.insert(name="B", email="b@u"),
                 lambda: u.Student.update(name="C"),
                 lambda: u.Student.update(where=lambda s: s["name"] == "A", name="C"),
                 lambda: u.Student.delete(),
                 lambda: u.Student.delete(where=lambda s: s["name"] == "A" and True),
                 lambda: ro.sql("DELETE FROM student")):
        with pytest.raises(tabula.ReadOnly) as e:
            call()
        assert "read-only" in str(e.value) or "read only" in str(e.value)
    with pytest.raises(tabula.ReadOnly):
        with ro.transaction():
            pass
    assert u.Student.count() == 1
    ro.close()


def test_locked(pdb):
    r = run_python("""
        import sys, tabula
        try:
            tabula.Database(path=sys.argv[1])
        except tabula.Locked as e:
            assert isinstance(e, tabula.Error)
            print(type(e).__name__, e)
    """, pdb.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Locked") and pdb.path in r.stdout
    # In this package's words, not the Rust API's.
    assert "read_only=True" in r.stdout and "open_read_only" not in r.stdout


def test_closed(db):
    u = make_university(db)
    db.close()
    with pytest.raises(tabula.Closed) as e:
        u.Student.insert(name="A", email="a@u")
    assert "closed" in str(e.value)


def test_invalid_column_use(uni):
    with pytest.raises(tabula.InvalidColumnUse) as e:
        uni.Student.get_by("gpa", 3.8)
    assert "student" in str(e.value) and "gpa" in str(e.value)
    assert (e.value.table, e.value.column) == ("student", "gpa")
    # The way out, in this package's words.
    assert "select(where=lambda r: r['gpa'] == value)" in str(e.value)


def test_a_failed_operation_changes_nothing(uni):
    before = uni.Student.select()
    for error, call in (
            (tabula.NotNull, lambda: uni.Student.insert(name=None, email="z@u")),
            (tabula.NotNull, lambda: uni.Student.insert_many([dict(name="Z", email="z@u"),
                                                              dict(name=None, email="y@u")])),
            (tabula.UniqueViolation, lambda: uni.Student.update(email="dup@u")),
            (tabula.TypeMismatch,
             lambda: uni.Student.update(where=lambda s: s["gpa"] > 0, gpa="x"))):
        with pytest.raises(error):
            call()
    assert uni.Student.select() == before


def test_not_a_database_and_io(tmp_path):
    with pytest.raises(tabula.NotADatabase) as e:
        Database(path=str(tmp_path / "missing"), read_only=True)
    assert "missing" in str(e.value)
    (tmp_path / "a_file").write_text("not a directory")
    with pytest.raises(tabula.Io) as e:
        Database(path=str(tmp_path / "a_file"))
    assert "a_file" in str(e.value)


def test_sql_text_with_a_lone_surrogate_is_a_sql_error():
    # A lone surrogate has no UTF-8; as a parameter it is TypeMismatch, in the text Sql
    # (not a bare UnicodeEncodeError from the binding).
    db = Database()
    with pytest.raises(tabula.Sql, match="not valid Unicode"):
        db.sql("SELECT '\ud800'")
    with pytest.raises(tabula.TypeMismatch):
        db.sql("SELECT ?", ("\ud800",))
    assert db.sql("SELECT ? AS v", ("é",)) == [{"v": "é"}]


def test_unique_and_index_groups_are_read_as_written(db):
    # A bare name is one column; a list of names one constraint each; a tuple inside the
    # list one constraint over its columns together.
    @table(db=db, name="one", unique="a", index="b")
    @dataclass
    class One:
        id: int = field(metadata={"primary_key": True})
        a: int = 0
        b: int = 0

    One.insert(a=1, b=1)
    with pytest.raises(tabula.UniqueViolation, match="one.a"):
        One.insert(a=1, b=2)

    @table(db=db, name="pair", unique=[("a", "b")])
    @dataclass
    class Pair:
        id: int = field(metadata={"primary_key": True})
        a: int = 0
        b: int = 0

    Pair.insert(a=1, b=1)
    Pair.insert(a=1, b=2)
    with pytest.raises(tabula.UniqueViolation):
        Pair.insert(a=1, b=2)

    # The same columns in another order are the same constraint: declared twice, refused
    # (as the Rust derive refuses it), for a new table and for a migration alike.
    for name in ("twice", "pair"):
        @dataclass
        class Twice:
            id: int = field(metadata={"primary_key": True})
            a: int = 0
            b: int = 0

        with pytest.raises(tabula.SchemaMismatch, match=r"unique\(b, a\) repeats unique\(a, b\)"):
            table(db=db, name=name, unique=[("a", "b"), ("b", "a")])(Twice)
    assert "twice" not in db.tables()
    assert Pair.count() == 2

    # A bare tuple of names could mean either: refused, saying how to write each, and the
    # table is not made.
    for option in ("unique", "index"):
        @dataclass
        class Bare:
            id: int = field(metadata={"primary_key": True})
            a: int = 0
            b: int = 0

        with pytest.raises(TypeError, match=rf"{option}=\('a', 'b'\) is ambiguous"):
            table(db=db, name="bare", **{option: ("a", "b")})(Bare)
        assert "bare" not in db.tables()
