"""``tabula.Model``: the optional base class that shows type checkers and editors the class
methods ``@table()`` adds."""

from __future__ import annotations

import inspect
import sys
import textwrap
from dataclasses import dataclass, field

import pytest

from tabula import Model, table


def test_a_model_table_works_as_the_seed_s(db):
    @table(db=db)
    @dataclass
    class Student(Model):
        id: int = field(metadata={"primary_key": True})
        name: str = field(default="", metadata={"nullable": False})
        gpa: float = 0.0

    k = Student.insert(name="Ada", gpa=3.9)
    assert Student.insert_many([{"name": "Bo", "gpa": 2.0}, Student(id=7, name="Cy")]) == [2, 7]
    assert Student.get(k) == {"id": k, "name": "Ada", "gpa": 3.9}
    assert Student.get_by("id", 7)["name"] == "Cy"
    assert [r["name"] for r in Student.select(where=lambda s: s["gpa"] > 1.0,
                                               order_by="-gpa")] == ["Ada", "Bo"]
    assert Student.update(where=lambda s: s["name"] == "Bo", gpa=2.5) == 1
    assert Student.count(where=lambda s: s["gpa"] > 2.4) == 2
    assert Student.delete(where=lambda s: s["id"] == 7) == 1
    assert Student.count() == 2


@pytest.mark.parametrize("method, args", [
    ("insert", {}), ("insert_many", {"rows": []}), ("select", {}), ("get", {"id": 1}),
    ("get_by", {"column": "id", "value": 1}), ("update", {"gpa": 1.0}), ("delete", {}),
    ("count", {}),
])
def test_an_undecorated_model_says_what_it_lacks(method, args):
    @dataclass
    class Loose(Model):
        id: int = 0

    with pytest.raises(TypeError, match=r"Loose is not a table yet: decorate it with "
                                        r"@tabula.table\(\)"):
        getattr(Loose, method)(**args)


def test_the_model_s_python_methods_take_what_the_table_s_take(db):
    """The declarations editors read must be the methods that run: same parameters, same
    kinds, same defaults (the engine's own insert/get/... show no signature to compare)."""

    @table(db=db)
    @dataclass
    class T(Model):
        id: int = field(metadata={"primary_key": True})

    for name in ("select", "update", "delete", "count"):
        declared = inspect.signature(getattr(Model, name))
        bound = inspect.signature(getattr(T, name))
        shape = [(p.name, p.kind, p.default) for p in declared.parameters.values()]
        assert shape == [(p.name, p.kind, p.default) for p in bound.parameters.values()], name


@pytest.mark.skipif(sys.version_info < (3, 10), reason="dataclass(slots=True) is 3.10+")
def test_a_slotted_model_dataclass_is_a_table(db):
    @table(db=db)
    @dataclass(slots=True)
    class S(Model):
        id: int = field(metadata={"primary_key": True})
        v: int = 0

    S.insert(v=3)
    assert S.select() == [{"id": 1, "v": 3}]
    assert not hasattr(S(id=1), "__dict__")


def test_mypy_sees_the_methods_of_a_model(tmp_path):
    """Runs mypy where it is installed (CI installs only maturin and pytest; see the
    README's "Types" paragraph for running it by hand)."""
    mypy = pytest.importorskip("mypy.api")
    program = tmp_path / "typed.py"
    program.write_text(textwrap.dedent("""
        from dataclasses import dataclass, field
        from typing import Any, Optional
        from tabula import Database, Model, table

        @table(db=Database())
        @dataclass
        class Student(Model):
            id: int = field(metadata={'primary_key': True})
            gpa: float = 0.0

        k = Student.insert(gpa=3.8)
        top: list[dict[str, Any]] = Student.select(where=lambda s: s['gpa'] > 3.5,
                                                    order_by='-gpa', limit=3)
        n: int = Student.update(where=lambda s: s['id'] == k, gpa=3.9)
        row: Optional[dict[str, Any]] = Student.get(k)
        Student.count(limit=3)
    """))
    out, err, status = mypy.run([str(program), "--no-incremental",
                                 "--cache-dir", str(tmp_path / "cache")])
    lines = [l for l in out.splitlines() if ": error:" in l]
    # The one mistake in the program (mypy reports nothing inside an installed package).
    assert len(lines) == 1 and 'Unexpected keyword argument "limit"' in lines[0], out
    assert status == 1, (out, err)
