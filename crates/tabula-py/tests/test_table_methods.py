"""Every class method a ``@table()`` class gains: insert, insert_many, select, get,
get_by, update, delete, count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pytest

import tabula
from tabula import table

from conftest import STUDENTS, make_university


def names(rows):
    return [r["name"] for r in rows]


# -- insert ---------------------------------------------------------------------------

def test_insert_returns_increasing_keys_and_stores_the_row(db):
    u = make_university(db)
    a = u.Student.insert(name="Alice", email="a@u", gpa=3.8)
    b = u.Student.insert(name="Bob", email="b@u")
    assert (a, b) == (1, 2)
    assert u.Student.get(a) == {"id": 1, "name": "Alice", "email": "a@u", "gpa": 3.8}
    # The dataclass default became the column default.
    assert u.Student.get(b)["gpa"] == 0.0


def test_insert_with_an_explicit_key_and_with_key_none(db):
    u = make_university(db)
    assert u.Student.insert(id=10, name="Ten", email="10@u") == 10
    # None for an integer key asks for one, as leaving it out does.
    assert u.Student.insert(id=None, name="Next", email="11@u") == 11
    assert u.Student.get(11)["name"] == "Next"


def test_insert_converts_an_int_for_a_float_column(db):
    u = make_university(db)
    key = u.Student.insert(name="Int", email="i@u", gpa=3)
    got = u.Student.get(key)["gpa"]
    assert got == 3.0 and type(got) is float


def test_insert_unknown_column(db):
    u = make_university(db)
    with pytest.raises(tabula.UnknownColumn) as e:
        u.Student.insert(name="X", email="x@u", age=20)
    assert "student" in str(e.value) and "age" in str(e.value)
    assert u.Student.count() == 0


# -- insert_many ----------------------------------------------------------------------

def test_insert_many_dicts_returns_their_keys(db):
    u = make_university(db)
    keys = u.Student.insert_many(STUDENTS)
    assert keys == [1, 2, 3, 4, 5, 6]
    assert names(u.Student.select()) == [s["name"] for s in STUDENTS]


def test_insert_many_takes_any_iterable_and_dataclass_instances(db):
    u = make_university(db)
    keys = u.Student.insert_many(
        u.Student(id=None, name=s["name"], email=s["email"], gpa=s["gpa"]) for s in STUDENTS[:2])
    assert keys == [1, 2]
    keys = u.Student.insert_many([u.Student(id=7, name="Seven", email="7@u", gpa=1.0)])
    assert keys == [7]
    assert u.Student.get(7) == {"id": 7, "name": "Seven", "email": "7@u", "gpa": 1.0}


def test_insert_many_is_all_or_nothing_on_a_duplicate(db):
    u = make_university(db)
    u.Student.insert(name="Alice", email="alice@u")
    rows = [dict(name="B", email="b@u"), dict(name="C", email="c@u"),
            dict(name="A2", email="alice@u")]
    with pytest.raises(tabula.UniqueViolation) as e:
        u.Student.insert_many(rows)
    assert "alice@u" in str(e.value) and "email" in str(e.value)
    assert u.Student.count() == 1
    # A duplicate inside the batch itself is refused too.
    with pytest.raises(tabula.UniqueViolation):
        u.Student.insert_many([dict(name="D", email="d@u"), dict(name="D2", email="d@u")])
    assert u.Student.count() == 1
    # And the keys it would have used are not lost for good rows afterwards.
    assert u.Student.insert_many([dict(name="E", email="e@u")])[0] > 1


def test_insert_many_refuses_what_is_not_a_row(db):
    u = make_university(db)
    with pytest.raises(TypeError):
        u.Student.insert_many([dict(name="A", email="a@u"), ("B", "b@u")])
    assert u.Student.count() == 0


def test_insert_many_empty(db):
    u = make_university(db)
    assert u.Student.insert_many([]) == []


# -- select ---------------------------------------------------------------------------

def test_select_everything_in_key_order(uni):
    rows = uni.Student.select()
    assert [r["id"] for r in rows] == uni.ids
    assert all(isinstance(r, dict) for r in rows)


def test_select_where(uni):
    assert names(uni.Student.select(where=lambda s: s["gpa"] > 3.5)) == [
        "Alice Johnson", "Carol White"]
    assert uni.Student.select(where=lambda s: s["gpa"] > 5) == []


def test_select_order_by_str_ascending_and_descending(uni):
    by_gpa = uni.Student.select(order_by="gpa")
    assert [r["gpa"] for r in by_gpa] == sorted(s["gpa"] for s in STUDENTS)
    by_gpa_desc = uni.Student.select(order_by="-gpa")
    assert [r["gpa"] for r in by_gpa_desc] == sorted((s["gpa"] for s in STUDENTS), reverse=True)
    assert names(uni.Student.select(order_by="name"))[0] == "Alice Johnson"


def test_select_order_by_list(db):
    @table(db=db)
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        city: str = ""
        age: int = 0

    Person.insert_many([dict(city="Oslo", age=30), dict(city="Bergen", age=40),
                        dict(city="Oslo", age=20), dict(city="Bergen", age=50)])
    rows = Person.select(order_by=["city", "-age"])
    assert [(r["city"], r["age"]) for r in rows] == [
        ("Bergen", 50), ("Bergen", 40), ("Oslo", 30), ("Oslo", 20)]
    # Ties keep key order, in both directions, with or without a filter.
    for where in (None, lambda p: p["age"] > 0, lambda p: p["city"] in ("Oslo", "Bergen")):
        assert [r["id"] for r in Person.select(where=where, order_by="city")] == [2, 4, 1, 3]
        assert [r["id"] for r in Person.select(where=where, order_by="-city")] == [1, 3, 2, 4]


def test_select_limit_and_offset(uni):
    top3 = uni.Student.select(order_by="-gpa", limit=3)
    assert names(top3) == ["Carol White", "Alice Johnson", "Eve Davis"]
    assert names(uni.Student.select(order_by="-gpa", limit=2, offset=1)) == [
        "Alice Johnson", "Eve Davis"]
    assert len(uni.Student.select(offset=4)) == 2
    assert uni.Student.select(limit=0) == []
    assert uni.Student.select(offset=100) == []
    # With a filter, traced or not, the same.
    for where in (lambda s: s["gpa"] > 2.0, lambda s: s["gpa"] > 2.0 and True):
        assert names(uni.Student.select(where=where, order_by="-gpa", limit=2, offset=1)) == [
            "Alice Johnson", "Eve Davis"]
        assert len(uni.Student.select(where=where, offset=3)) == 2
        assert uni.Student.select(where=where, limit=0) == []


def test_limit_zero_shows_no_row_to_the_lambda(uni, db):
    # Whatever the path (per row here, on every Python version: `len` is a call), in and
    # out of a transaction, and whatever the offset.
    seen = []

    def where(s):
        seen.append(len(s["name"]))
        return True

    for offset in (None, 0, 5):
        assert uni.Student.select(where=where, limit=0, offset=offset) == []
        with db.transaction():
            assert uni.Student.select(where=where, limit=0, offset=offset) == []
    assert seen == []
    with pytest.raises(tabula.Error):
        uni.Student.select(where=where, order_by="nope", limit=0)


def test_a_per_row_lambda_stops_at_the_limit_in_and_out_of_a_transaction(db):
    """Without an order, a lambda that runs per row meets the rows in key order until
    offset and limit rows are accepted, inside a transaction as outside one: a row after
    those is never shown to it (here it would raise)."""
    @tabula.table(db=db)
    @dataclass
    class Limited:
        id: int = field(metadata={"primary_key": True})
        v: int = 0

    Limited.insert_many([{"id": i, "v": i} for i in range(1, 6)])
    seen = []

    def where(s):
        seen.append(s["v"])
        if s["v"] == 4:
            raise ValueError("row 4 was shown")
        return True

    for in_tx in (False, True):
        seen.clear()
        if in_tx:
            with db.transaction():
                got = Limited.select(where=where, limit=2, offset=1)
        else:
            got = Limited.select(where=where, limit=2, offset=1)
        assert got == [{"id": 2, "v": 2}, {"id": 3, "v": 3}], in_tx
        assert seen == [1, 2, 3], in_tx
    with db.transaction():
        with pytest.raises(ValueError, match="row 4 was shown"):
            Limited.select(where=where, order_by="v", limit=1)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_select_limit_must_be_a_count(uni, bad):
    with pytest.raises(ValueError):
        uni.Student.select(limit=bad)
    with pytest.raises(ValueError):
        uni.Student.select(offset=bad)


def test_select_order_by_unknown_column(uni):
    with pytest.raises(tabula.UnknownColumn) as e:
        uni.Student.select(order_by="-age")
    assert "student" in str(e.value) and "age" in str(e.value)
    assert (e.value.table, e.value.column) == ("student", "age")
    with pytest.raises(TypeError):
        uni.Student.select(order_by=[1])


def test_select_returns_fresh_dicts(uni):
    rows = uni.Student.select()
    rows[0]["name"] = "changed"
    assert uni.Student.get(uni.ids[0])["name"] == "Alice Johnson"


def test_select_where_must_be_callable(uni):
    with pytest.raises(TypeError):
        uni.Student.select(where="gpa > 3")


# -- get / get_by ---------------------------------------------------------------------

def test_get(uni):
    assert uni.Student.get(uni.ids[2])["name"] == "Carol White"
    assert uni.Student.get(999) is None


def test_get_takes_the_key_as_id(uni):
    # The seed's signature: get(id).
    assert uni.Student.get(id=uni.ids[2])["name"] == "Carol White"


def test_get_with_a_key_of_the_wrong_type(uni):
    with pytest.raises(tabula.TypeMismatch):
        uni.Student.get([1])


def test_get_by_unique_column(uni):
    assert uni.Student.get_by("email", "eve@university.edu")["name"] == "Eve Davis"
    assert uni.Student.get_by("email", "nobody@university.edu") is None
    assert uni.Course.get_by("code", "CS101")["credits"] == 4
    # The primary key is unique too.
    assert uni.Student.get_by("id", uni.ids[1])["name"] == "Bob Smith"


def test_get_by_none(uni):
    # A NOT NULL column holds no None: asking for one is an error, as inserting one is.
    with pytest.raises(tabula.NotNull) as e:
        uni.Student.get_by("email", None)
    assert (e.value.table, e.value.column) == ("student", "email")

    # In a nullable unique column None finds no row, though rows hold None there (SQL's
    # NULL equals nothing).
    db = tabula.Database()

    @table(db=db)
    class Badge:
        id: int = field(metadata={"primary_key": True})
        code: Optional[str] = field(default=None, metadata={"unique": True})

    Badge.insert(code=None)
    Badge.insert(code="x")
    Badge.insert(code=None)
    assert Badge.get_by("code", None) is None
    assert Badge.get_by("code", "x")["id"] == 2


def test_get_by_non_unique_column(uni):
    with pytest.raises(tabula.InvalidColumnUse) as e:
        uni.Student.get_by("name", "Bob Smith")
    assert "student" in str(e.value) and "name" in str(e.value)
    assert (e.value.table, e.value.column) == ("student", "name")


def test_get_by_unknown_column(uni):
    with pytest.raises(tabula.UnknownColumn) as e:
        uni.Student.get_by("phone", "555")
    assert "phone" in str(e.value)


# -- update ---------------------------------------------------------------------------

def test_update_where(uni):
    n = uni.Student.update(where=lambda s: s["name"] == "Alice Johnson", gpa=3.9)
    assert n == 1
    assert uni.Student.get_by("email", "alice@university.edu")["gpa"] == 3.9


def test_update_every_row_and_several_columns(uni):
    assert uni.Student.update(gpa=2.0) == 6
    assert {r["gpa"] for r in uni.Student.select()} == {2.0}
    n = uni.Student.update(where=lambda s: s["email"].startswith("b"), name="Robert", gpa=4.0)
    assert n == 1
    assert uni.Student.get(uni.ids[1])["name"] == "Robert"


def test_update_counts_matched_rows_even_if_unchanged(uni):
    assert uni.Student.update(where=lambda s: s["gpa"] > 3.0, gpa=3.5) == 4
    assert uni.Student.update(where=lambda s: s["gpa"] == 3.5, gpa=3.5) == 4
    assert uni.Student.update(where=lambda s: s["gpa"] > 10, gpa=1.0) == 0


def test_update_needs_a_change(uni):
    with pytest.raises(ValueError):
        uni.Student.update(where=lambda s: True)


def test_update_is_all_or_nothing(uni):
    with pytest.raises(tabula.UniqueViolation) as e:
        uni.Student.update(where=lambda s: s["gpa"] > 3.0, email="same@u")
    assert "same@u" in str(e.value)
    assert uni.Student.count(where=lambda s: s["email"] == "same@u") == 0
    with pytest.raises(tabula.UniqueViolation):
        uni.Student.update(email="same@u")
    with pytest.raises(tabula.NotNull):
        uni.Student.update(where=lambda s: s["gpa"] > 3.0, name=None)
    assert names(uni.Student.select()) == [s["name"] for s in STUDENTS]


def test_update_of_the_primary_key(uni):
    with pytest.raises(tabula.PrimaryKeyChanged):
        uni.Student.update(where=lambda s: s["name"] == "Bob Smith", id=100)
    with pytest.raises(tabula.PrimaryKeyChanged):
        uni.Student.update(where=lambda s: s["name"] == "Bob Smith" and True, id=100)
    assert uni.Student.get(100) is None


def test_update_unknown_column_and_wrong_type(uni):
    with pytest.raises(tabula.UnknownColumn) as e:
        uni.Student.update(where=lambda s: True, age=3)
    assert "age" in str(e.value)
    with pytest.raises(tabula.TypeMismatch) as e:
        uni.Student.update(where=lambda s: True, gpa="high")
    assert "gpa" in str(e.value) and "high" in str(e.value)


# -- delete ---------------------------------------------------------------------------

def test_delete_where(uni):
    assert uni.Student.delete(where=lambda s: s["gpa"] < 2.0) == 1
    assert uni.Student.count() == 5
    assert uni.Student.delete(where=lambda s: s["gpa"] < 0) == 0


def test_delete_everything(uni):
    assert uni.Registration.delete() == 3
    assert uni.Student.delete() == 6
    assert uni.Student.select() == []


@pytest.mark.parametrize("traced", [True, False])
def test_delete_cascades_and_restricts(uni, traced):
    def where(cond):
        return cond if traced else (lambda r: cond(r) and True)

    # Deleting Alice deletes her two registrations (on_delete='cascade').
    assert uni.Student.delete(where=where(lambda s: s["name"] == "Alice Johnson")) == 1
    assert uni.Registration.count() == 1
    # CS101 still has Bob's registration (on_delete='restrict').
    with pytest.raises(tabula.ForeignKey) as e:
        uni.Course.delete(where=where(lambda c: c["code"] == "CS101"))
    assert "course" in str(e.value) and "registration" in str(e.value)
    assert uni.Course.count() == 2
    assert uni.Registration.count() == 1


# -- count ----------------------------------------------------------------------------

def test_count(uni):
    assert uni.Student.count() == 6
    assert uni.Student.count(where=lambda s: s["gpa"] >= 3.5) == 3
    assert uni.Student.count(where=lambda s: s["name"].endswith("Smith")) == 1
    assert uni.Registration.count(where=lambda r: r["grade"] == None) == 1  # noqa: E711


def test_methods_on_a_class_that_is_not_a_table():
    from tabula import _table

    class Plain:
        pass

    with pytest.raises(TypeError):
        _table._select(Plain)


def test_a_reference_to_a_class_of_another_database_is_refused():
    """A foreign key references a table of its own database: a class of another one is
    refused when the referencing class is decorated, not at its first insert."""
    one, other = tabula.Database(), tabula.Database()

    @tabula.table(db=one)
    @dataclass
    class Parent:
        id: int = field(metadata={"primary_key": True})

    with pytest.raises(TypeError, match=r"Child.parent: references=Parent, a table of another database"):
        @tabula.table(db=other)
        @dataclass
        class Child:
            id: int = field(metadata={"primary_key": True})
            parent: int = field(default=0, metadata={"references": Parent})

    assert other.tables() == []


def test_a_column_given_twice_is_named(db):
    """A `str` subclass hashing otherwise than its text can sit in one dict beside the
    plain name: both name one column. That is a `TypeError` naming the column (it was an
    internal error), and nothing is inserted."""
    u = make_university(db)

    class Name(str):
        def __hash__(self):
            return 1

    row = {"name": "plain", Name("name"): "sub", "email": "a@u"}
    for call in (lambda: u.Student.insert_many([row]), lambda: u.Student.insert(**row)):
        with pytest.raises(TypeError, match="column name is given twice"):
            call()
    assert u.Student.count() == 0


def test_insert_many_refuses_an_instance_of_another_class(db):
    # Its missing columns would have taken their defaults, and its other fields been
    # dropped without a word.
    u = make_university(db)

    @dataclass
    class Other:
        id: Optional[int] = None
        name: str = "x"
        nickname: str = "y"

    with pytest.raises(TypeError) as e:
        u.Student.insert_many([dict(name="A", email="a@u"), Other()])
    assert "Other is not a row of student: its field nickname is no column" in str(e.value)
    assert u.Student.count() == 0

    @dataclass
    class Fewer:
        id: Optional[int] = None
        name: str = "x"

    with pytest.raises(TypeError) as e:
        # After an instance of the table's own class has passed.
        u.Student.insert_many([u.Student(id=None, name="S", email="s@u", gpa=1.0), Fewer()])
    assert "Fewer is not a row of student: it has no field email" in str(e.value)
    assert u.Student.count() == 0


def test_a_transaction_never_entered_cannot_be_exited(db):
    t = db.transaction()
    with pytest.raises(tabula.Error) as e:
        t.__exit__(None, None, None)
    assert "never begun" in str(e.value)
