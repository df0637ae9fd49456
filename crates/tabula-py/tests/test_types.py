"""Column types and the decorator: json (dict/list) columns, bools, Optional columns,
defaults, table names in snake_case, what the decorator refuses."""

from __future__ import annotations

import dataclasses
import math
import struct
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Optional, Union

import pytest

import tabula
from tabula import table
from tabula._schema import table_name


def test_json_columns_round_trip(db):
    @table(db=db)
    @dataclass
    class Doc:
        id: int = field(metadata={"primary_key": True})
        meta: dict = field(default_factory=dict)
        tags: list = field(default_factory=list)
        extra: Optional[dict] = None

    value = {"a": 1, "b": [1, 2.5, "x", None, True], "c": {"d": "é"}}
    key = Doc.insert(meta=value, tags=["x", 1, {"y": [2]}])
    assert Doc.get(key) == {"id": key, "meta": value, "tags": ["x", 1, {"y": [2]}],
                            "extra": None}
    # Defaults from default_factory.
    other = Doc.insert()
    assert Doc.get(other) == {"id": other, "meta": {}, "tags": [], "extra": None}
    # Updates, traced or not, and lambdas reading json values per row.
    assert Doc.update(where=lambda d: d["id"] == key, tags=["new"]) == 1
    assert Doc.update(where=lambda d: "b" in d["meta"], extra={"k": 1}) == 1
    assert Doc.get(key)["tags"] == ["new"] and Doc.get(key)["extra"] == {"k": 1}
    assert Doc.select(where=lambda d: d["meta"].get("a") == 1)[0]["id"] == key
    # A traced select (SQL) reads json values back as Python values too.
    assert Doc.select(where=lambda d: d["id"] == key) == [Doc.get(key)]
    assert Doc.select(where=lambda d: d["id"] > 0, order_by="-id", limit=1) == [Doc.get(other)]
    # Every read returns a fresh object.
    got = Doc.get(key)
    got["meta"]["a"] = 99
    assert Doc.get(key)["meta"]["a"] == 1


def test_json_columns_refuse_what_json_cannot_hold(db):
    @table(db=db)
    @dataclass
    class Doc:
        id: int = field(metadata={"primary_key": True})
        meta: dict = field(default_factory=dict)

    for bad in ({"x": object()}, {"nan": float("nan")}, {1: {2: {3: set()}}}):
        with pytest.raises(tabula.TypeMismatch) as e:
            Doc.insert(meta=bad)
        assert "doc" in str(e.value) and "meta" in str(e.value)
    assert Doc.count() == 0


def test_json_columns_refuse_keys_that_json_writes_alike(db):
    @table(db=db)
    @dataclass
    class Doc:
        id: int = field(metadata={"primary_key": True})
        meta: dict = field(default_factory=dict)

    # json.dumps writes 1 and "1" as one key: the document would hold it twice and read
    # back one value. Refused, naming both keys, however deep the dict.
    for bad, keys in (({"a": 1, 1: 2, "1": 3}, "keys 1 and '1'"),
                      ({"x": [{"true": 1, True: 2}]}, "keys 'true' and True"),
                      ({"y": ({None: 1, "null": 2},)}, "keys None and 'null'"),
                      ({1.5: 1, "1.5": 2}, "keys 1.5 and '1.5'")):
        with pytest.raises(tabula.TypeMismatch) as e:
            Doc.insert(meta=bad)
        assert "doc.meta" in str(e.value) and keys in str(e.value), str(e.value)
        assert "are both the JSON key" in str(e.value)
    key = Doc.insert(meta={"k": 0})
    with pytest.raises(tabula.TypeMismatch, match="are both the JSON key"):
        Doc.update(where=lambda d: True, meta={2: "a", "2": "b"})
    with pytest.raises(tabula.TypeMismatch, match="are both the JSON key"):
        db.sql("UPDATE doc SET meta = ?", [{3: "a", "3": "b"}])
    assert Doc.select() == [{"id": key, "meta": {"k": 0}}]
    # A key of another type alone loses nothing: it reads back as json.loads makes it.
    other = Doc.insert(meta={1: "a", None: "b", 2**70: "c", 1.5: "d"})
    assert Doc.get(other)["meta"] == {"1": "a", "null": "b", str(2**70): "c", "1.5": "d"}
    # A value holding itself is refused as json.dumps refuses it, at once.
    cyclic: dict = {1: 0}
    cyclic["a"] = cyclic
    cyclic["b"] = [cyclic, (cyclic,)]
    with pytest.raises(tabula.TypeMismatch, match="Circular reference"):
        Doc.insert(meta=cyclic)
    # A key json.dumps refuses is refused for that, not taken for another key.
    with pytest.raises(tabula.TypeMismatch, match="keys must be str"):
        Doc.insert(meta={(1, 2): 1, "[1, 2]": 2, 3: 4})
    assert Doc.count() == 2


def test_json_columns_persist(pdb, tmp_path):
    @table(db=pdb)
    @dataclass
    class Doc:
        id: int = field(metadata={"primary_key": True})
        meta: dict = field(default_factory=dict)

    Doc.insert(meta={"list": [1, 2], "s": "ü"})
    pdb.close()
    again = tabula.Database(name="university", persist=True, base_path=str(tmp_path))

    @table(db=again)
    @dataclass
    class Doc:
        id: int = field(metadata={"primary_key": True})
        meta: dict = field(default_factory=dict)

    assert Doc.get(1)["meta"] == {"list": [1, 2], "s": "ü"}
    again.close()


def test_bool_columns(db):
    @table(db=db)
    @dataclass
    class Flag:
        id: int = field(metadata={"primary_key": True})
        on: bool = False
        maybe: Optional[bool] = None

    Flag.insert_many([dict(on=True), dict(on=False, maybe=True), dict(maybe=False)])
    rows = Flag.select()
    assert [(r["on"], r["maybe"]) for r in rows] == [(True, None), (False, True), (False, False)]
    assert all(type(r["on"]) is bool for r in rows)
    assert [r["id"] for r in Flag.select(where=lambda f: f["on"] == True)] == [1]  # noqa: E712
    assert [r["id"] for r in Flag.select(where=lambda f: f["maybe"] != True)] == [1, 3]  # noqa: E712
    assert [r["id"] for r in Flag.select(where=lambda f: f["on"])] == [1]
    assert [r["id"] for r in Flag.select(where=lambda f: not f["maybe"])] == [1, 3]
    assert [r["id"] for r in Flag.select(order_by=["-on", "maybe"])] == [1, 3, 2]
    with pytest.raises(tabula.TypeMismatch):
        Flag.insert(on=1)
    with pytest.raises(tabula.TypeMismatch):
        Flag.insert(on="yes")


def test_optional_columns(db):
    @table(db=db)
    @dataclass
    class Opt:
        id: int = field(metadata={"primary_key": True})
        a: Optional[int] = None
        b: Optional[str] = None
        c: Optional[float] = None
        d: int = field(default=0, metadata={"nullable": True})  # nullable by metadata
        e: Union[str, None] = None

    Opt.insert()
    Opt.insert(a=1, b="x", c=2.5, d=None, e="y")
    assert Opt.get(1) == {"id": 1, "a": None, "b": None, "c": None, "d": 0, "e": None}
    assert Opt.get(2) == {"id": 2, "a": 1, "b": "x", "c": 2.5, "d": None, "e": "y"}
    assert Opt.count(where=lambda o: o["a"] == None) == 1  # noqa: E711
    assert Opt.count(where=lambda o: o["a"] is None) == 1
    assert Opt.update(where=lambda o: o["id"] == 2, a=None) == 1
    assert Opt.count(where=lambda o: o["a"] != None) == 0  # noqa: E711
    # None in an ordered column sorts first, and last descending.
    Opt.insert(a=5)
    assert [r["id"] for r in Opt.select(order_by="a")] == [1, 2, 3]
    assert [r["id"] for r in Opt.select(order_by="-a")] == [3, 1, 2]


def test_not_optional_means_not_null(db):
    @table(db=db)
    @dataclass
    class Req:
        id: int = field(metadata={"primary_key": True})
        a: int = 0

    with pytest.raises(tabula.NotNull):
        Req.insert(a=None)
    Req.insert()
    with pytest.raises(tabula.NotNull):
        Req.update(a=None)


def test_defaults(db):
    @table(db=db)
    @dataclass
    class Defaults:
        id: int = field(metadata={"primary_key": True})
        n: int = 7
        x: float = -1.5
        s: str = "hello"
        b: bool = True
        tags: list = field(default_factory=lambda: ["a"])
        o: Optional[int] = None

    key = Defaults.insert()
    assert Defaults.get(key) == {"id": key, "n": 7, "x": -1.5, "s": "hello", "b": True,
                                 "tags": ["a"], "o": None}
    # The dataclass itself still works as a dataclass.
    d = Defaults(id=0)
    assert d.n == 7 and d.tags == ["a"]


def test_dict_and_list_fields_take_only_their_type(db):
    @table(db=db)
    @dataclass
    class Box:
        id: int = field(metadata={"primary_key": True})
        d: dict = field(default_factory=dict)
        items: list = field(default_factory=list)
        extra: Optional[dict] = None

    for bad in ({"d": "not a dict"}, {"d": 5}, {"d": [1]}, {"items": {"a": 1}},
                {"items": "abc"}, {"extra": [1]}):
        with pytest.raises(tabula.TypeMismatch) as e:
            Box.insert(**bad)
        assert e.value.column == next(iter(bad)), e.value
        with pytest.raises(tabula.TypeMismatch):
            Box.insert_many([{}, bad])
    assert Box.count() == 0
    key = Box.insert(d={"a": [1]}, items=[{"b": 2}], extra=None)
    with pytest.raises(tabula.TypeMismatch):
        Box.update(where=lambda r: r["id"] == key, d=[1, 2])
    with pytest.raises(tabula.TypeMismatch):
        Box.update(where=lambda r: r["id"] == key and True, items="x")
    assert Box.get(key) == {"id": key, "d": {"a": [1]}, "items": [{"b": 2}], "extra": None}
    # SQL writes what any JSON column takes: the field's type is the dataclass's rule.
    db.sql("UPDATE box SET extra = '[3]' WHERE id = ?", [key])
    assert Box.get(key)["extra"] == [3]


def test_floats_keep_their_values(db):
    @table(db=db)
    @dataclass
    class F:
        id: int = field(metadata={"primary_key": True})
        x: float = 0.0

    values = [0.1, -0.0, 1e308, 5e-324, float("inf"), float("-inf"), 2 ** 53 + 0.0]
    F.insert_many([dict(x=v) for v in values])
    got = [r["x"] for r in F.select()]
    assert got == values
    assert math.copysign(1, got[1]) == -1
    F.insert(x=float("nan"))
    assert math.isnan(F.get(len(values) + 1)["x"])


def test_many_numbers_read_back_exactly(db):
    """Rows read back share one object per repeated number of a column that is neither
    the key nor unique; with thousands of numbers, repeated and not, every row still
    reads its own value: both zeros, NaN, the extremes, ints that differ by a power of
    two, through every way of reading rows."""
    @table(db=db)
    @dataclass
    class N:
        id: int = field(metadata={"primary_key": True})
        n: int = field(default=0, metadata={"index": True})
        x: Optional[float] = None

    special = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 5e-324, 1e308, None]
    rows = []
    for i in range(6000):
        n = [i, -i, i << 40, (i % 7) - 3, 2 ** 63 - 1 - i, -2 ** 63 + i][i % 6]
        x = special[i % len(special)] if i % 3 == 0 else (i % 50) / 4 + i * 1e-9 * (i % 2)
        rows.append(dict(n=n, x=x))
    N.insert_many(rows)

    def same(a, b):
        if a is None or b is None:
            return a is b
        if isinstance(a, float):
            return type(b) is float and struct.pack("<d", a) == struct.pack("<d", b)
        return type(b) is int and a == b

    for read in (N.select(), N.select(where=lambda r: r["id"] > 0),
                 N.select(where=lambda r: r["id"] > 0 and r["n"] is not None),
                 [N.get(i + 1) for i in range(len(rows))],
                 db.sql("SELECT * FROM n ORDER BY id")):
        assert len(read) == len(rows)
        for want, got in zip(rows, read):
            assert same(want["n"], got["n"]) and same(want["x"], got["x"]), (want, got)


def test_non_finite_float_defaults(tmp_path):
    # JSON has no NaN or infinity; the defaults still reach the engine, and survive a
    # reopen (the schema file once held null for them).
    def declare(db):
        @table(db=db)
        @dataclass
        class Limits:
            id: int = field(metadata={"primary_key": True})
            best: float = float("inf")
            worst: float = float("-inf")
            unknown: Optional[float] = float("nan")
        return Limits

    db = tabula.Database(path=str(tmp_path / "db"), persist=True)
    Limits = declare(db)
    Limits.insert()
    db.save()
    db.close()
    db = tabula.Database(path=str(tmp_path / "db"), persist=True)
    Limits = declare(db)
    Limits.insert()
    for row in Limits.select():
        assert row["best"] == math.inf and row["worst"] == -math.inf
        assert math.isnan(row["unknown"])
    db.close()


def test_update_stores_nan_whatever_the_shape_of_where(db):
    # A traced `where` (or none) runs as SQL, whose parameters have no NaN: the update
    # must still store NaN, as the per-row path and `insert` do, and never NULL.
    @table(db=db)
    @dataclass
    class N:
        id: int = field(metadata={"primary_key": True})
        f: float = 0.0
        nf: Optional[float] = None

    N.insert_many([{}, {}, {}])
    nan = float("nan")
    assert N.update(where=lambda r: r["id"] == 1, nf=nan, f=nan) == 1
    assert N.update(where=lambda r: r["id"] == 2 and True, nf=nan, f=nan) == 1
    rows = N.select(order_by="id")
    assert [math.isnan(r["nf"]) for r in rows[:2]] == [True, True]
    assert [math.isnan(r["f"]) for r in rows[:2]] == [True, True]
    assert rows[2]["nf"] is None and rows[2]["f"] == 0.0
    assert N.update(f=nan) == 3
    assert all(math.isnan(r["f"]) for r in N.select())


def test_int_range(db):
    @table(db=db)
    @dataclass
    class I:
        id: int = field(metadata={"primary_key": True})
        n: int = 0

    I.insert_many([dict(n=2 ** 63 - 1), dict(n=-(2 ** 63))])
    assert [r["n"] for r in I.select()] == [2 ** 63 - 1, -(2 ** 63)]
    with pytest.raises(tabula.TypeMismatch):
        I.insert(n=2 ** 63)


@pytest.mark.parametrize("cls_name, expected", [
    ("Student", "student"),
    ("CourseRegistration", "course_registration"),
    ("HTTPRequest", "http_request"),
    ("Student2Course", "student2_course"),
    ("already_snake", "already_snake"),
    ("A", "a"),
])
def test_table_name_is_snake_case(cls_name, expected):
    assert table_name(type(cls_name, (), {})) == expected


def test_table_name_and_explicit_name(db):
    @table(db=db)
    @dataclass
    class CourseRegistration:
        id: int = field(metadata={"primary_key": True})

    @table(db=db, name="custom")
    @dataclass
    class Other:
        id: int = field(metadata={"primary_key": True})

    assert db.tables() == ["course_registration", "custom"]
    CourseRegistration.insert()
    assert db.sql("SELECT COUNT(*) AS n FROM course_registration") == [{"n": 1}]


def test_a_plain_class_becomes_a_dataclass(db):
    @table(db=db)
    class Plain:
        id: int = field(metadata={"primary_key": True})
        name: str = ""

    assert Plain.insert(name="x") == 1
    assert Plain(id=1, name="y").name == "y"


def test_text_primary_key(db):
    @table(db=db)
    @dataclass
    class Country:
        code: str = field(metadata={"primary_key": True})
        name: str = ""

    assert Country.insert(code="NO", name="Norway") == "NO"
    assert Country.get("NO")["name"] == "Norway"
    with pytest.raises(tabula.NotNull):
        Country.insert(name="Nowhere")
    with pytest.raises(tabula.NotNull):
        Country.insert(code=None, name="Nowhere")


def test_the_default_database():
    @table()
    @dataclass
    class DefaultDbTableForTest:
        id: int = field(metadata={"primary_key": True})

    assert "default_db_table_for_test" in tabula.default_database().tables()
    assert tabula.default_database() is tabula.default_database()


def test_a_closed_default_database_is_replaced_by_a_new_one():
    """In a process of its own: closing the default database would close it for every
    other test here."""
    script = textwrap.dedent("""
        import tabula
        from dataclasses import dataclass, field

        @tabula.table()
        @dataclass
        class Early:
            id: int = field(metadata={"primary_key": True})

        old = tabula.default_database()
        old.close()

        @tabula.table()
        @dataclass
        class Late:
            id: int = field(metadata={"primary_key": True})

        new = tabula.default_database()
        assert new is not old and new is tabula.default_database()
        assert new.tables() == ["late"], new.tables()
        assert Late.insert() == 1
        try:
            Early.insert()
        except tabula.Closed:
            print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_on_delete_without_references_is_refused(db):
    @dataclass
    class Orphan:
        id: int = field(metadata={"primary_key": True})
        parent: int = field(default=0, metadata={"on_delete": "cascade"})

    with pytest.raises(ValueError, match="Orphan.parent: on_delete without references"):
        table(db=db)(Orphan)
    assert "orphan" not in db.tables()


@pytest.mark.parametrize("annotation", [bytes, "set", Union[int, str], Optional[Union[int, str]]])
def test_unsupported_annotations(db, annotation):
    with pytest.raises(TypeError):
        table(db=db)(dataclass(type("Bad", (), {
            "__annotations__": {"id": int, "x": annotation},
            "id": field(metadata={"primary_key": True}),
            "x": None,
        })))


def test_decorator_refusals(db):
    with pytest.raises(TypeError):
        table(db="not a database")
    # Without its parentheses the decorator is handed the class as `db`: it says so.
    with pytest.raises(TypeError, match=r"@tabula.table needs its parentheses: write "
                                        r"@tabula.table\(\) .* above class Bare"):
        @table
        @dataclass
        class Bare:
            id: int = field(metadata={"primary_key": True})
    with pytest.raises(TypeError):
        @table(db=db)
        @dataclass
        class BadMeta:
            id: int = field(metadata={"primary_key": True, "auto": True})
    with pytest.raises(ValueError):
        @table(db=db)
        @dataclass
        class BadOnDelete:
            id: int = field(metadata={"primary_key": True})
            other: int = field(default=0, metadata={"references": "x", "on_delete": "explode"})
    with pytest.raises(tabula.SchemaMismatch):
        @table(db=db)
        @dataclass
        class TwoKeys:
            a: int = field(metadata={"primary_key": True})
            b: int = field(metadata={"primary_key": True})


def test_a_default_the_engine_cannot_hold_is_named_with_its_field():
    with pytest.raises(ValueError, match=r"T.v: the default '\\ud800' holds a character "
                                         r"UTF-8 cannot encode"):
        @tabula.table(db=tabula.Database())
        @dataclass
        class T:
            id: int = field(default=None, metadata={"primary_key": True})
            v: str = "\ud800"

    for big in (2 ** 64, 2 ** 63, -(2 ** 63) - 1):
        with pytest.raises(ValueError,
                           match=f"U.v: the default {big} does not fit the column's type, a "
                                 "signed 64-bit integer"):
            @tabula.table(db=tabula.Database())
            @dataclass
            class U:
                id: int = field(default=None, metadata={"primary_key": True})
                v: int = big

    # A float field holds such a number (as a float): no integer's limit applies.
    @tabula.table(db=tabula.Database())
    @dataclass
    class V:
        id: int = field(default=None, metadata={"primary_key": True})
        v: float = 10 ** 20

    V.insert()
    assert V.select() == [{"id": 1, "v": 1e20}]


def test_a_default_is_refused_as_insert_would_refuse_the_value():
    """A default the field's type would not take through insert() is refused when the class
    is declared: a str on a float field (the schema spells NaN as the text "NaN", so the
    engine took "NaN" for NaN), a list on a dict field, a str on a dict field, a bool on a
    float field. A json default holding NaN says so, rather than that the factory changes."""
    cases = [
        ("score", float, "NaN", r"T.score: the default 'NaN' is a str, but the field is a float"),
        ("score", float, True, r"T.score: the default True is a bool, but the field is a float"),
        ("meta", dict, "x", r"T.meta: the default 'x' is a str, but the field is a dict"),
        ("tags", list, {"a": 1}, r"T.tags: the default \{'a': 1\} is a dict, but the field is a list"),
    ]
    for name, ty, value, message in cases:
        cls = dataclasses.make_dataclass("T", [
            ("id", int, field(default=None, metadata={"primary_key": True})),
            (name, ty, field(default_factory=lambda v=value: v)),
        ])
        with pytest.raises(TypeError, match=message):
            tabula.table(db=tabula.Database())(cls)
    with pytest.raises(TypeError, match=r"T.conf: the default \[\] is a list, but the field "
                                        r"is a dict"):
        @tabula.table(db=tabula.Database())
        @dataclass
        class T:  # noqa: F811
            id: int = field(default=None, metadata={"primary_key": True})
            conf: dict = field(default_factory=list)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"U.limits: the default \{'max': (nan|inf)\} holds "
                                             r"NaN or an infinity, which JSON cannot write"):
            @tabula.table(db=tabula.Database())
            @dataclass
            class U:
                id: int = field(default=None, metadata={"primary_key": True})
                limits: dict = field(default_factory=lambda: {"max": bad})
    # What the field takes is still a default: an int on a float field, a float NaN.
    @tabula.table(db=tabula.Database())
    @dataclass
    class V:
        id: int = field(default=None, metadata={"primary_key": True})
        a: float = 3
        b: float = float("nan")
        c: dict = field(default_factory=dict)
        d: list = field(default_factory=lambda: [1, "x"])

    row = V.get(V.insert())
    assert row["a"] == 3.0 and math.isnan(row["b"]) and row["c"] == {} and row["d"] == [1, "x"]
