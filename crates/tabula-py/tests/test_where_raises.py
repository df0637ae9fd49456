"""A ``where=`` lambda that raises: the exception reaches the caller as it was raised
(the same object, not wrapped), and the operation changes nothing - for select, update,
delete and count, inside a transaction and outside one."""

from __future__ import annotations

import pytest

import tabula

from conftest import STUDENTS


class Custom(Exception):
    pass


def raising_on(name, exc):
    """A lambda that raises ``exc`` on the row of student ``name`` (after accepting
    earlier rows)."""
    def where(s):
        if s["name"] == name:
            raise exc
        return True
    return where


OPERATIONS = {
    "select": lambda cls, w: cls.select(where=w),
    "select_ordered": lambda cls, w: cls.select(where=w, order_by="-gpa", limit=2),
    "count": lambda cls, w: cls.count(where=w),
    "update": lambda cls, w: cls.update(where=w, gpa=0.0),
    "delete": lambda cls, w: cls.delete(where=w),
}


@pytest.mark.parametrize("op", list(OPERATIONS))
@pytest.mark.parametrize("exc_type", [Custom, ZeroDivisionError, KeyError, tabula.NotNull])
def test_the_same_exception_object_propagates_and_nothing_changes(uni, op, exc_type):
    before = uni.Student.select()
    exc = exc_type("from the lambda")
    with pytest.raises(exc_type) as e:
        OPERATIONS[op](uni.Student, raising_on("Eve Davis", exc))
    assert e.value is exc
    assert uni.Student.select() == before


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_errors_python_raises_itself_propagate(uni, op):
    before = uni.Student.select()
    with pytest.raises(KeyError):
        OPERATIONS[op](uni.Student, lambda s: s["no such column"] > 1)
    with pytest.raises(TypeError):
        OPERATIONS[op](uni.Student, lambda s: s["name"] > 1)
    with pytest.raises(ZeroDivisionError):
        OPERATIONS[op](uni.Student, lambda s: 1 / (s["gpa"] - 1.9) > 0)
    assert uni.Student.select() == before


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_inside_a_transaction(uni, op):
    db = uni.db
    exc = Custom("inside")
    with db.transaction():
        uni.Student.insert(name="In Tx", email="tx@u", gpa=2.5)
        before = uni.Student.select()
        with pytest.raises(Custom) as e:
            OPERATIONS[op](uni.Student, raising_on("In Tx", exc))
        assert e.value is exc
        # The failed operation changed nothing; the transaction goes on.
        assert uni.Student.select() == before
        uni.Student.insert(name="After", email="after@u")
    names = [s["name"] for s in uni.Student.select()]
    assert names == [s["name"] for s in STUDENTS] + ["In Tx", "After"]


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_an_exception_leaving_the_transaction_rolls_it_back(uni, op):
    exc = Custom("out")
    with pytest.raises(Custom) as e:
        with uni.db.transaction():
            uni.Student.insert(name="In Tx", email="tx@u")
            OPERATIONS[op](uni.Student, raising_on("Bob Smith", exc))
    assert e.value is exc
    assert uni.Student.count() == len(STUDENTS)


def test_a_raising_lambda_on_an_empty_table_is_never_called(db):
    from conftest import make_university
    u = make_university(db)
    assert u.Student.select(where=lambda s: 1 / 0) == []
    assert u.Student.count(where=lambda s: 1 / 0) == 0
    assert u.Student.update(where=lambda s: 1 / 0, gpa=1.0) == 0
    assert u.Student.delete(where=lambda s: 1 / 0) == 0
