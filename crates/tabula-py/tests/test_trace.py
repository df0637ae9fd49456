"""Tracing must never change an answer.

A ``where=`` lambda that ``tabula._trace`` can trace runs in the engine as SQL; any other
runs once per row in Python. Here generated tables (int, float with NaN and -0.0, str,
bool and Optional columns holding NULLs) are queried with generated lambdas (comparisons
of columns with constants, combined with ``&`` and ``|``), and every answer is compared
with what Python itself picks: ``[r for r in Cls.select() if lam(r)]``. Where the per-row
evaluation raises, tabula must raise the same exception type and change nothing.

Set ``TABULA_TRACE_CASES`` for a longer run (the default is a few hundred cases).
"""

from __future__ import annotations

import math
import os
import random
import sys
from dataclasses import dataclass, field
from typing import Optional

import pytest

import tabula
from tabula import Database, table
from tabula import _trace

CASES = int(os.environ.get("TABULA_TRACE_CASES", "480"))
LAMBDAS_PER_TABLE = 12
NAN = float("nan")
INF = float("inf")

# Values the generated rows hold, per column kind: few enough that comparisons often hit.
VALUES = {
    "i": [-3, -1, 0, 1, 2, 3, 2 ** 53 + 1, -(2 ** 63), 2 ** 63 - 1],
    "f": [NAN, -0.0, 0.0, 1.5, -1.5, 2.0, 3.0, INF, -INF, 1e300, 5e-324],
    "s": ["", "a", "b", "ab", "B", "é", "z", "a b"],
    "b": [True, False],
}
# Constants the lambdas compare with, per column kind: the column's own kind, others
# Python still compares (int vs float, bool vs int), and ones it refuses to order.
CONSTANTS = {
    "i": [-1, 0, 1, 2, 3, 2.0, 2.5, -0.0, 0.0, -1.5, 1e300, NAN, INF, True, False, None,
          "a", 2 ** 53 + 1, 2 ** 63, -(2 ** 63)],
    "f": [0.0, -0.0, 1.5, -1.5, 2.0, 3.0, 2, 0, -1, 3, INF, -INF, NAN, True, None, "a",
          2 ** 53 + 1, 1e300],
    "s": ["", "a", "ab", "B", "é", "z", None, 1, b"a"],
    "b": [True, False, None, 0, 1, 1.0, "a"],
}
OPS = ["==", "!=", "<", "<=", ">", ">="]
COLUMNS = {"i": "i", "f": "f", "s": "s", "b": "b",
           "oi": "i", "of": "f", "os": "s", "ob": "b"}

# Names the generated lambdas' source uses for constants that have no literal.
NAMESPACE = {"nan": NAN, "inf": INF}


def make_class(db: Database, name: str, indexed: bool = False):
    """The generated table's class; ``indexed`` gives every column but ``tag`` an index
    (the engine then serves comparisons from it, another path to check)."""
    ix = {"index": indexed}

    @table(db=db, name=name)
    @dataclass
    class Generated:
        id: int = field(metadata={"primary_key": True})
        i: int = field(default=0, metadata=ix)
        f: float = field(default=0.0, metadata=ix)
        s: str = field(default="", metadata=ix)
        b: bool = field(default=False, metadata=ix)
        oi: Optional[int] = field(default=None, metadata=ix)
        of: Optional[float] = field(default=None, metadata=ix)
        os: Optional[str] = field(default=None, metadata=ix)
        ob: Optional[bool] = field(default=None, metadata=ix)
        tag: int = 0

    return Generated


def random_row(rng: random.Random) -> dict:
    row = {}
    for col, kind in COLUMNS.items():
        if col.startswith("o") and rng.random() < 0.35:
            row[col] = None
        else:
            row[col] = rng.choice(VALUES[kind])
    return row


def literal(v) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "(-inf)"
    return repr(v)


def atom(rng: random.Random) -> str:
    col = rng.choice(list(COLUMNS))
    op = rng.choice(OPS)
    if rng.random() < 0.05:
        other = rng.choice(list(COLUMNS))
        return f"(s[{col!r}] {op} s[{other!r}])"
    c = literal(rng.choice(CONSTANTS[COLUMNS[col]]))
    if rng.random() < 0.25:
        # The constant on the left: Python tries the column's reflected operator.
        return f"({c} {op} s[{col!r}])"
    return f"(s[{col!r}] {op} {c})"


def condition(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.4:
        return atom(rng)
    word = rng.choice(["&", "|"])
    return f"({condition(rng, depth - 1)} {word} {condition(rng, depth - 1)})"


def top_condition(rng: random.Random) -> str:
    """A generated lambda's body: mostly a condition, sometimes joined with ``and`` or
    ``or``, or a chained comparison (which ``_trace.prefilter`` may cut to its first
    operand, and tracing refuses)."""
    roll = rng.random()
    if roll < 0.25:
        return " and ".join(condition(rng, rng.choice([0, 1, 2]))
                            for _ in range(rng.choice([2, 2, 3])))
    if roll < 0.32:
        return f"{condition(rng, 1)} or {condition(rng, 1)}"
    if roll < 0.36:
        col = rng.choice(["i", "f", "oi", "of"])
        low, high = (literal(rng.choice(CONSTANTS[COLUMNS[col]])) for _ in range(2))
        return f"{low} < s[{col!r}] <= {high}"
    return condition(rng, rng.choice([0, 1, 2, 3]))


def make_lambda(source: str):
    return eval("lambda s: " + source, dict(NAMESPACE))  # noqa: S307 - generated test code


def python_pick(rows: list, lam):
    """The ids Python picks, or the type of the exception it raises."""
    try:
        return [r["id"] for r in rows if lam(r)], None
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return None, type(e)


def per_row(lam):
    """``lam`` in a shape tracing refuses (a default argument): it runs per row."""
    return lambda s, _lam=lam: _lam(s)


def check_case(Cls, db: Database, source: str, case: int) -> bool:
    """Compares every operation on ``lam`` with Python's answer; returns whether the
    lambda was traced."""
    lam = make_lambda(source)
    traced = _trace.trace(lam, Cls.__tabula__.columns) is not None
    before = Cls.select()
    want, raised = python_pick(before, lam)
    where = f"lambda s: {source}"

    if raised is not None:
        for call in (lambda: Cls.select(where=lam), lambda: Cls.count(where=lam),
                     lambda: Cls.update(where=lam, tag=case),
                     lambda: Cls.delete(where=lam)):
            with pytest.raises(raised):
                call()
        assert not traced, f"{where} raises {raised.__name__} per row but was traced"
        assert Cls.select() == before or _same(Cls.select(), before), where
        return traced

    got = [r["id"] for r in Cls.select(where=lam)]
    assert got == want, f"select({where}) traced={traced}"
    assert Cls.count(where=lam) == len(want), f"count({where}) traced={traced}"

    # Ordered and cut, the traced answer is the per-row one, and Python's.
    pick = random.Random(case)
    keys = pick.sample(["i", "-i", "f", "-f", "s", "-s", "b", "-b", "oi", "-of", "os", "ob"],
                       pick.choice([1, 1, 2]))
    limit, offset = pick.choice([(5, 1), (None, 2), (0, 0), (3, None), (None, None)])
    ordered = Cls.select(where=lam, order_by=keys, limit=limit, offset=offset)
    expected = Cls.select(where=per_row(lam), order_by=keys, limit=limit, offset=offset)
    mine = python_order([r for r in before if r["id"] in set(want)], keys)
    mine = mine[offset or 0:][:limit]
    assert [r["id"] for r in ordered] == [r["id"] for r in expected] == mine, (
        f"select({where}, order_by={keys!r}, limit={limit}, offset={offset}) traced={traced}")

    n = Cls.update(where=lam, tag=case)
    assert n == len(want), f"update({where}) traced={traced}"
    assert [r["id"] for r in Cls.select() if r["tag"] == case] == want, where

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        with db.transaction():
            assert Cls.delete(where=lam) == len(want), f"delete({where}) traced={traced}"
            left = [r["id"] for r in Cls.select()]
            assert left == [r["id"] for r in before if r["id"] not in set(want)], where
            raise Undo
    assert len(Cls.select()) == len(before)
    return traced


def python_order(rows: list, keys: list) -> list:
    """The ids of ``rows`` (in key order) sorted the way ``order_by`` promises: None
    first (last descending), NaN after every number, -0.0 equal to 0.0, ties in key
    order."""
    def rank(v):
        if v is None:
            return (0, 0)
        if isinstance(v, float) and math.isnan(v):
            return (2, 0)
        return (1, v)

    ids = [(r["id"], r) for r in rows]
    for k in reversed(keys):
        name = k.lstrip("-")
        ids.sort(key=lambda p: rank(p[1][name]), reverse=k.startswith("-"))
    return [i for i, _ in ids]


def _same(a: list, b: list) -> bool:
    """Row lists equal, NaN equal to NaN."""
    def norm(rows):
        return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in r.items()} for r in rows]
    return norm(a) == norm(b)


@pytest.mark.parametrize("group", range(max(1, CASES // LAMBDAS_PER_TABLE)))
def test_traced_and_per_row_answers_agree(group):
    rng = random.Random(1000 + group)
    db = Database()
    try:
        Cls = make_class(db, f"gen_{group}", indexed=group % 2 == 1)
        Cls.insert_many(random_row(rng) for _ in range(rng.randint(0, 40)))
        for k in range(LAMBDAS_PER_TABLE):
            source = top_condition(rng)
            check_case(Cls, db, source, group * 100 + k + 1)
    finally:
        db.close()


def test_many_generated_lambdas_are_traced(db):
    # The comparison above is not vacuous: a good share of what it generates is traced
    # (the rest runs per row: nullable columns ordered, NaN, mixed types, ...).
    columns = make_class(db, "share").__tabula__.columns
    rng = random.Random(7)
    sources = [condition(rng, rng.choice([0, 1, 2, 3])) for _ in range(500)]
    traced = sum(_trace.trace(make_lambda(s), columns) is not None for s in sources)
    assert traced >= 100, traced


# -- which shapes are traced ----------------------------------------------------------

@pytest.fixture
def cols(db):
    @table(db=db)
    @dataclass
    class Student:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        gpa: float = 0.0
        year: int = 1
        active: bool = True
        nick: Optional[str] = None
        tags: list = field(default_factory=list)

    return Student.__tabula__.columns


LIMIT = 3


def helper(x):
    return x


@pytest.mark.parametrize("lam", [
    lambda s: s['gpa'] > 3.5,
    lambda s: 3.5 < s['gpa'],
    lambda s: (s['gpa'] > 3.5) & (s['year'] == 2),
    lambda s: (s['name'] == "Alice") | (s['nick'] == None),  # noqa: E711
    lambda s: s['nick'] != None,  # noqa: E711
    lambda s: s['active'] == True,  # noqa: E712
    lambda s: s['year'] <= LIMIT,
    lambda s: s['gpa'] >= -1,
    lambda s: s['name'] != "x",
])
def test_simple_lambdas_are_traced(cols, lam):
    traced = _trace.trace(lam, cols)
    assert traced is not None
    condition_sql, params = traced
    assert isinstance(condition_sql, str) and isinstance(params, list)


def test_the_seed_lambda_traces_to_a_condition(cols):
    condition_sql, params = _trace.trace(lambda s: s['gpa'] > 3.5, cols)
    assert '"gpa" > ?' in condition_sql and params == [3.5]


@pytest.mark.parametrize("lam", [
    lambda s: s['gpa'] > 3.5 and s['year'] == 2,                    # and
    lambda s: s['gpa'] > 3.5 or s['year'] == 2,                     # or
    lambda s: not s['gpa'] > 3.5,                                   # not
    lambda s: s['year'] in (1, 2),                                  # in
    lambda s: s['year'] not in (1, 2),                              # not in
    lambda s: s['nick'] is None,                                    # is
    lambda s: s['nick'] is not None,                                # is not
    lambda s: helper(s['gpa']) > 3,                                 # a call
    lambda s: s['name'].startswith("A"),                            # a method call
    lambda s: len(s['name']) > 3,                                   # a builtin call
    lambda s: (s['gpa'] > 3) if s['year'] > 1 else (s['gpa'] > 2),  # conditional expression
    lambda s: 1 < s['gpa'] < 3,                                     # chained comparison
    lambda s: s['gpa'],                                             # a column, not a condition
    lambda s: True,                                                 # a constant
    lambda s: s['gpa'] + 1 > 3,                                     # arithmetic on a column
    lambda s: ~(s['gpa'] > 3),                                      # ~
    lambda s: s['gpa'] > float("nan"),                              # a call
    lambda s: s['gpa'] == NAN,                                      # NaN
    lambda s: s['nick'] < "m",                                      # ordering a nullable column
    lambda s: s['active'] < True,                                   # ordering bools
    lambda s: s['active'] == 1,                                     # bool column vs int
    lambda s: s['year'] == True,                                    # int column vs bool
    lambda s: s['name'] == 1,                                       # text column vs int
    lambda s: s['tags'] == [],                                      # json column
    lambda s: s['gpa'] > s['year'],                                 # two columns
    lambda s: s['missing'] > 1,                                     # no such column
    lambda s: s.gpa > 1,                                            # attribute
    lambda s: (s['gpa'] > 1) & True,                                # & with a bool
    lambda s: s['year'] > 2 ** 64,                                  # beyond 64 bits
    lambda s: s['gpa'] > 2 ** 53 + 1,                               # not exact as a float
    lambda s, limit=3: s['year'] > limit,                           # a default argument
])
def test_other_shapes_run_per_row(cols, lam):
    assert _trace.trace(lam, cols) is None


def test_a_def_and_closures_trace_too(cols):
    threshold = 3.5

    def good(s):
        return s['gpa'] > threshold

    assert _trace.trace(good, cols) is not None
    assert _trace.trace(lambda s: s['gpa'] > threshold, cols) is not None


def test_a_callable_object_runs_per_row(cols):
    class Pred:
        def __call__(self, s):
            return s['gpa'] > 3.5

    assert _trace.trace(Pred(), cols) is None


class _CountingBox:
    """A constant a lambda reads by subscript: counts how often the lambda ran."""

    def __init__(self, value):
        self.value = value
        self.reads = 0

    def __getitem__(self, i):
        self.reads += 1
        return self.value


def test_a_lambda_that_reaches_your_code_runs_per_row(db):
    # An object of yours, reached through an operator, could answer the trace's column
    # object with a constant: such a lambda is never traced, and runs once per row.
    Cls = make_class(db, "once")
    Cls.insert_many([dict(f=1.0), dict(f=2.0), dict(f=3.0)])
    box = _CountingBox(1.5)
    lam = lambda s: s['f'] > box[0]  # noqa: E731
    assert _trace.trace(lam, Cls.__tabula__.columns) is None
    assert [r["id"] for r in Cls.select(where=lam)] == [2, 3]
    assert box.reads == 3
    assert Cls.count(where=lam) == 2 and box.reads == 6
    calls = []
    untraced = lambda s: calls.append(1) or s['f'] > 1.5  # noqa: E731
    assert [r["id"] for r in Cls.select(where=untraced)] == [2, 3]
    assert len(calls) == 3


class _Lookup:
    """A mapping of yours that answers any key, a column object too."""

    def __getitem__(self, key):
        return "x" if key == 1 else "y"


LOOKUP = _Lookup()


@pytest.fixture
def abc(db):
    @table(db=db, name="abc")
    @dataclass
    class Abc:
        id: int = field(metadata={"primary_key": True})
        a: int = 0
        b: int = 0
        c: int = 0
        s: str = ""
        t: bool = False

    Abc.insert_many([dict(a=1, b=1, c=0, s="1"), dict(a=1, b=0, c=1, s="x", t=True),
                     dict(a=1, b=0, c=0, s="y", t=True), dict(a=0, b=0, c=0, s="4")])
    return Abc


# Shapes whose trace once turned something of the row into a constant (reported by a
# review): comparing two conditions, the text of a column, an object of yours given a
# column. Python's own answer is the reference, traced, cut or per row.
@pytest.mark.parametrize("source", [
    "(s['a'] > 0) == (s['b'] > 0) or s['c'] > 0 and s['a'] > 0",
    "(s['a'] > 0) == True or s['c'] > 0 and s['a'] > 0",
    "(s['a'] > 0) != (s['b'] > 0)",
    "s['b'] == ((s['a'] > 0) == (s['c'] > 0))",
    "s['t'] == ((s['a'] > 0) == (s['c'] > 0))",
    "s['s'] == '%s' % s['id']",
    "s['s'] == '%s' % s['id'] and s['a'] > 0",
    "s['s'] == '%r' % s['id'] and s['a'] > 0",
    "s['s'] == LOOKUP[s['a']]",
    "s['a'] > 0 and s['s'] == LOOKUP[s['a']]",
    "s['s'] == LOOKUP[s['a']] and s['a'] > 0",
    "(s == s) & (s['a'] > 0)",
])
def test_what_becomes_a_constant_in_a_trace_is_never_traced(abc, db, source):
    lam = eval("lambda s: " + source, {"LOOKUP": LOOKUP})  # noqa: S307 - test code
    rows = abc.select()
    want = [r["id"] for r in rows if lam(r)]
    assert [r["id"] for r in abc.select(where=lam)] == want, source
    assert abc.count(where=lam) == len(want), source
    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        with db.transaction():
            assert abc.update(where=lam, c=9) == len(want), source
            assert [r["id"] for r in abc.select() if r["c"] == 9] == want, source
            raise Undo
    assert abc.delete(where=lam) == len(want), source
    assert [r["id"] for r in abc.select()] == [r["id"] for r in rows if r["id"] not in want]


def test_the_trace_refuses_when_code_of_yours_runs_in_it(abc, monkeypatch):
    # The second guard, without the first (values loaded from globals checked): a method
    # of yours that runs in the trace refuses it.
    monkeypatch.setattr(_trace, "_loads_plain", lambda where: True)
    columns = abc.__tabula__.columns
    lam = eval("lambda s: s['s'] == LOOKUP[s['a']]", {"LOOKUP": LOOKUP})  # noqa: S307
    assert _trace.trace(lam, columns) is None
    lam = eval("lambda s: s['s'] == LOOKUP[s['a']] and s['a'] > 0",  # noqa: S307
               {"LOOKUP": LOOKUP})
    assert _trace.prefilter(lam, columns) is None
    assert _trace.trace(lambda s: s['a'] > 0, columns) is not None


@pytest.mark.skipif(sys.version_info < (3, 10), reason="functions own their builtins from 3.10")
def test_builtins_are_looked_up_where_the_call_finds_them(abc):
    # A function made with globals that hold no builtins still calls the builtins it was
    # given: a builtin function it loads is no plain value, and the lambda runs per row.
    import types

    source = eval("lambda s: s['a'] > 0 and len(s['s']) > 1", {})  # noqa: S307
    lam = types.FunctionType(source.__code__, {})
    assert lam.__builtins__["len"] is len
    assert not _trace._loads_plain(lam)
    assert _trace.prefilter(lam, abc.__tabula__.columns) is None


unwatched = pytest.mark.skipif(_trace._watched(), reason="a tracer (coverage?) disables the cut")


@unwatched
def test_many_generated_lambdas_are_prefiltered(db):
    # And a good share of the `and`s and chains it generates run per row on only the rows
    # their first operand accepts.
    columns = make_class(db, "share_and").__tabula__.columns
    rng = random.Random(8)
    sources = [top_condition(rng) for _ in range(2000)]
    branching = [s for s in sources if " and " in s or " < s[" in s]
    cut = sum(_trace.prefilter(make_lambda(s), columns) is not None for s in branching)
    assert len(branching) >= 300 and cut >= 100, (len(branching), cut)


@pytest.mark.parametrize("lam, first", [
    (lambda s: s['gpa'] > 3.5 and s['year'] > 0, '("gpa" > ? AND "year" > ?)'),
    (lambda s: s['gpa'] > 3.5 and s['year'] > 0 and s['name'] == "x",
     '("gpa" > ? AND "year" > ? AND "name" = ?)'),
    (lambda s: (s['gpa'] > 3.5) & (s['year'] == 2) and s['nick'] == None,  # noqa: E711
     '(("gpa" > ? AND "year" = ?) AND "nick" IS NULL)'),
    # The chain is read up to its first operand that is not a plain condition.
    (lambda s: s['year'] == 2 and (s['gpa'] > 1 or s['gpa'] < 0), '"year" = ?'),
    (lambda s: s['gpa'] > 3.5 and (s['year'] > 0 or s['name'] == "x") and s['year'] < 9,
     '"gpa" > ?'),
    (lambda s: s['gpa'] > 1 and s['year'] > 0 and s['nick'] > "m" and s['year'] < 9,
     '("gpa" > ? AND "year" > ?)'),
    (lambda s: s['gpa'] > 1 and s['year'] / 0, '"gpa" > ?'),
    (lambda s: 1 < s['gpa'] < 3, '("gpa" > ? AND "gpa" < ?)'),
    (lambda s: (s['gpa'] > 3.5 or s['year'] > 0) and s['name'] == "x", None),
    (lambda s: s['gpa'] > 1 and (s['year'] > 0 if s['gpa'] > 2 else s['year'] < 0),
     '"gpa" > ?'),
    (lambda s: s['year'] > 0 and s['gpa'] > 1 and s['active'], '("year" > ? AND "gpa" > ?)'),
    (lambda s: s['gpa'] > 1 and s['gpa'] > 1, '("gpa" > ? AND "gpa" > ?)'),
    (lambda s: s['gpa'] > 1 and s['year'] > 0 or s['name'] == "x", None),
    (lambda s: s['year'] == 2 and helper(s['gpa']), None),           # a call
    (lambda s: s['gpa'] > 3.5 or s['year'] > 0, None),               # or
    (lambda s: not s['gpa'] > 3.5 and s['year'] > 0, None),          # not
    (lambda s: s['nick'] is None and s['year'] > 0, None),           # is
    (lambda s: s['year'] in (1, 2) and s['gpa'] > 0, None),          # in
    (lambda s: (s['gpa'] > 3) if s['year'] > 1 else (s['gpa'] > 2), None),
    (lambda s: s['nick'] > "m" and s['year'] > 0, None),             # ordering a nullable
    (lambda s: s['active'] and s['year'] > 0, None),                 # truth of a column
    (lambda s: s['gpa'] > 3.5, None),                                # traced whole instead
    (lambda s, y=1: s['gpa'] > 3.5 and s['year'] > y, None),         # a default argument
])
@unwatched
def test_which_lambdas_run_on_a_prefiltered_set(cols, lam, first):
    pre = _trace.prefilter(lam, cols)
    if first is None:
        assert pre is None
    else:
        assert pre is not None and pre[0] == first, pre


@unwatched
def test_a_cut_lambda_answers_as_python_in_every_operation(db):
    Cls = make_class(db, "cut")
    Cls.insert_many([dict(f=1.0), dict(f=2.0, oi=None), dict(f=3.0, oi=4)])
    lam = lambda s: s['f'] > 1.5 and s['i'] >= 0  # noqa: E731
    assert _trace.prefilter(lam, Cls.__tabula__.columns) is not None
    assert [r["id"] for r in Cls.select(where=lam)] == [2, 3]
    assert Cls.count(where=lam) == 2
    assert Cls.update(where=lam, tag=7) == 2
    assert [r["id"] for r in Cls.select() if r["tag"] == 7] == [2, 3]
    with db.transaction():
        assert Cls.update(where=lam, tag=8) == 2
        assert Cls.delete(where=lam) == 2
        assert [r["id"] for r in Cls.select()] == [1]
        Cls.insert(f=5.0)
    assert Cls.delete(where=lam) == 1
    Cls.insert_many([dict(f=2.0, oi=None), dict(f=3.0, oi=4)])
    assert Cls.select(where=lam, order_by="-f", limit=1, offset=1) == [
        dict(id=5, i=0, f=2.0, s="", b=False, oi=None, of=None, os=None, ob=None, tag=0)]
    # The rest still runs as Python runs it: None ordered against an int raises.
    for call in (Cls.select, Cls.count, Cls.delete):
        with pytest.raises(TypeError):
            call(where=lambda s: s['f'] > 1.5 and s['oi'] > 0)
    assert len(Cls.select()) == 3
    with pytest.raises(ZeroDivisionError):
        Cls.count(where=lambda s: s['f'] > 2.5 and s['i'] / 0)
    # Inside a transaction the lambda sees the transaction's rows.
    with db.transaction():
        Cls.insert(f=9.0, i=5)
        assert [r["id"] for r in Cls.select(where=lambda s: s['f'] > 5 and s['i'] == 5)] \
            == [7]
        assert Cls.count(where=lambda s: s['f'] > 1.5 and s['i'] >= 0) == 3


@unwatched
def test_an_and_chain_is_called_only_where_every_operand_holds(db):
    # Each operand of the chain refuses rows: the engine passes over the rows any of them
    # refuses (the prefilter is the whole chain), and every operation answers as Python.
    # (The calls themselves cannot be counted from here: anything that could count them -
    # a profiler, an object of yours the lambda loads - turns the cut off.)
    Cls = make_class(db, "chain")
    Cls.insert_many([dict(i=n % 7, f=n / 10, s="ab"[n % 2]) for n in range(1, 200)])
    lam = lambda s: s['i'] > 2 and s['f'] < 15.0 and s['s'] == "a"  # noqa: E731
    pre = _trace.prefilter(lam, Cls.__tabula__.columns)
    assert pre == ('("i" > ? AND "f" < ? AND "s" = ?)', [2, 15.0, "a"])
    rows = Cls.select()
    want = [r["id"] for r in rows if lam(r)]
    assert [r["id"] for r in Cls.select(where=lam)] == want
    assert [r["id"] for r in Cls.select(where=lam, limit=3, offset=2)] == want[2:5]
    assert Cls.count(where=lam) == len(want)
    assert Cls.update(where=lam, tag=5) == len(want)
    assert [r["id"] for r in Cls.select() if r["tag"] == 5] == want
    assert Cls.delete(where=lam) == len(want)
    assert sorted(r["id"] for r in Cls.select()) == sorted(
        r["id"] for r in rows if r["id"] not in want)


class _Lowers:
    """An object of yours compared per row, which changes a global the first operand
    reads (reported by a hostile test)."""

    def __gt__(self, other):
        globals()["BOUND"] = 0
        return True


BOUND = 3
LOWERS = _Lowers()


def test_a_lambda_that_reaches_your_code_anywhere_is_not_cut(db):
    global BOUND
    Cls = make_class(db, "lowers")
    Cls.insert_many([dict(i=5), dict(i=1), dict(i=2)])
    lam = lambda s: s['i'] > BOUND and LOWERS > s['i']  # noqa: E731
    assert _trace.prefilter(lam, Cls.__tabula__.columns) is None
    BOUND = 3
    want = [r["id"] for r in Cls.select() if lam(r)]
    assert want == [1, 2, 3]
    BOUND = 3
    assert [r["id"] for r in Cls.select(where=lam)] == want
    BOUND = 3
    assert Cls.count(where=lam) == 3


@unwatched
def test_a_cut_lambda_meets_its_rows_in_key_order_and_stops_at_the_limit(db):
    # As per row: of two rows that raise, the first in key order does, whatever the
    # order asked for; and the rows after `limit` are not shown to the lambda.
    Cls = make_class(db, "cut_order")
    Cls.insert_many([dict(i=1, oi=0), dict(i=2, oi=5)])
    lam = lambda s: s['i'] > 0 and 1 // s['oi'] + 'ab'[s['oi']] == 0  # noqa: E731
    for order in (None, "-i", ["i"]):
        with pytest.raises(ZeroDivisionError):
            Cls.select(where=lam, order_by=order)
    Cls.delete()
    Cls.insert_many([dict(i=1, oi=1), dict(i=1, oi=0)])
    lam = lambda s: s['i'] > 0 and 1 // s['oi'] > 0  # noqa: E731
    assert [r["id"] for r in Cls.select(where=lam, limit=1)] == [3]
    assert Cls.select(where=lam, limit=0) == []
    assert Cls.select(where=lam, limit=0, offset=5) == []
    with pytest.raises(ZeroDivisionError):
        Cls.select(where=lam, limit=1, offset=1)
    old = sys.gettrace()
    sys.settrace(lambda *a: None)
    try:
        assert [r["id"] for r in Cls.select(where=lam, limit=1)] == [3]
    finally:
        sys.settrace(old)


# -- regressions: shapes whose traced answer once differed from Python's --------------

@pytest.fixture(params=[False, True], ids=["plain", "indexed"])
def zeros_and_nan(db, request):
    Cls = make_class(db, "zeros", indexed=request.param)
    Cls.insert_many([
        dict(f=NAN, of=NAN, i=1),
        dict(f=-0.0, of=-0.0, i=2),
        dict(f=0.0, of=None, i=3),
        dict(f=2.5, of=2.5, i=0),
    ])
    return Cls


@pytest.mark.parametrize("source", [
    # The engine's SQL found a stored NaN equal to every float, and greater than every
    # integer: these picked the NaN row, which Python never does.
    "s['f'] == 0.0", "s['f'] == -0.0", "s['f'] >= 0.0", "s['f'] <= 0.0", "s['f'] > -1",
    "s['f'] >= -1", "s['f'] != 2.5", "s['f'] != 0.0", "s['of'] == 0.0", "s['of'] == -0.0",
    "s['of'] != 2.5", "(s['f'] > -1) | (s['i'] == 7)", "(s['f'] == 0) & (s['i'] > 0)",
    "0.0 == s['f']", "-1 < s['f']",
    # And these always agreed; they stay as a check.
    "s['of'] == None", "s['of'] != None", "s['f'] < inf", "s['f'] > 1.0",
])
def test_nan_and_signed_zero_regressions(zeros_and_nan, source, db):
    Cls = zeros_and_nan
    lam = make_lambda(source)
    assert _trace.trace(lam, Cls.__tabula__.columns) is not None, source
    check_case(Cls, db, source, 77)


@pytest.mark.parametrize("key, ids", [
    ("f", [2, 3, 4, 1]), ("-f", [1, 4, 2, 3]), ("of", [3, 2, 4, 1]), ("-of", [1, 4, 2, 3]),
    (["-f", "-i"], [1, 4, 3, 2]),
])
def test_order_by_a_float_column_with_signed_zeros(zeros_and_nan, key, ids):
    # SQL ties -0.0 with 0.0, the engine's own ordering puts -0.0 first: a traced lambda
    # ordered by a float column once answered in another order than the same lambda run
    # per row (and than a select without a lambda).
    Cls = zeros_and_nan
    lam = lambda s: s['i'] >= 0  # noqa: E731
    for limit, offset in ((None, None), (1, None), (2, 1), (None, 3)):
        cut = ids[offset or 0:][:limit]
        assert [r["id"] for r in Cls.select(where=lam, order_by=key, limit=limit,
                                            offset=offset)] == cut
        assert [r["id"] for r in Cls.select(where=per_row(lam), order_by=key, limit=limit,
                                            offset=offset)] == cut
        assert [r["id"] for r in Cls.select(order_by=key, limit=limit, offset=offset)] == cut


def test_order_by_a_json_column_is_refused_either_way(db):
    # SQL would order a json column by its text: a traced lambda once answered where an
    # untraced one raised.
    @table(db=db)
    @dataclass
    class Doc:
        id: int = field(metadata={"primary_key": True})
        tags: list = field(default_factory=list)

    Doc.insert(tags=[2])
    Doc.insert(tags=[1])
    for where in (None, lambda d: d['id'] > 0, lambda d: d['id'] > 0 and True):
        with pytest.raises(tabula.InvalidColumnUse) as e:
            Doc.select(where=where, order_by="tags")
        assert "doc" in str(e.value) and "tags" in str(e.value)


def test_a_function_whose_globals_answer_missing_names_runs_per_row(db):
    # A dict subclass's `__missing__` written in C runs no Python frame the tracer could
    # see: a trace would read `N` once, where each call reads a new value.
    import functools
    import itertools

    @table(db=db)
    @dataclass
    class Counted:
        id: int = field(metadata={"primary_key": True})
        a: int = 0

    Counted.insert_many([{"a": i} for i in range(5)])
    source = compile("lambda s: s['a'] == N", "<generated>", "eval")

    def make():
        class Globals(dict):
            __missing__ = staticmethod(functools.partial(next, itertools.count()))

        return eval(source, Globals(__builtins__=__builtins__))

    assert _trace.trace(make(), Counted.__tabula__.columns) is None
    assert [r["a"] for r in Counted.select(where=make())] == [0, 1, 2, 3, 4]
    assert Counted.count(where=make()) == 5


def _chain_table(db):
    @table(db=db, name="chain")
    @dataclass
    class Chain:
        id: int = field(metadata={"primary_key": True})
        a: int = 0
        b: int = 0
        c: int = 0

    Chain.insert_many([dict(id=i, a=i, b=i % 7) for i in range(1, 201)])
    return Chain


@pytest.mark.parametrize("terms", [10, 46, 149, 400])
def test_long_chains_of_and_or_answer_as_per_row(db, terms):
    """A long ``|`` or ``&`` chain is one flat condition (nested parentheses would stop
    the SQL parser at 46 terms); one longer than the engine takes runs per row. Either way
    the answer is Python's."""
    chain = _chain_table(db)
    rows = chain.select()
    any_of = eval("lambda s: " + " | ".join(f"(s['a'] == {v})" for v in range(terms)))
    none_of = eval("lambda s: " + " & ".join(f"(s['a'] != {v})" for v in range(terms)))
    for lam in (any_of, none_of):
        expected = [r for r in rows if lam(r)]
        assert chain.select(where=lam) == expected
        assert chain.count(where=lam) == len(expected)
    assert chain.update(where=none_of, c=1) == len([r for r in rows if none_of(r)])
    assert chain.delete(where=any_of) == len([r for r in rows if any_of(r)])
    assert chain.count() == 200 - len([r for r in rows if any_of(r)])


def test_a_flat_chain_is_traced_and_a_deep_nest_runs_per_row(db):
    chain = _chain_table(db)
    columns = chain.__tabula__.columns
    flat = eval("lambda s: " + " | ".join(f"(s['a'] == {v})" for v in range(100)))
    sql, params = _trace.trace(flat, columns)
    assert sql.count("(") == 1 and len(params) == 100
    assert _trace.trace(eval("lambda s: " + " | ".join(
        f"(s['a'] == {v})" for v in range(400))), columns) is None
    text = "lambda s: " + "(" * 30 + "(s['a'] > 1)" + "".join(
        f" | (s['b'] == {i}))" if i % 2 else f" & (s['a'] < {90 - i}))" for i in range(30))
    lam = eval(text)
    assert _trace.trace(lam, columns) is None
    expected = [r for r in chain.select() if lam(r)]
    assert chain.select(where=lam) == expected
    assert chain.count(where=lam) == len(expected)


def test_none_against_a_json_column_that_holds_the_document_null_runs_per_row(db):
    # SQL can write the document `null` into a json column that is not nullable; its row
    # reads it as None, as it reads SQL NULL, so `== None` must find it: a trace to
    # `IS NULL` did not (it is not NULL), and answered unlike the per-row run.
    @table(db=db)
    @dataclass
    class J:
        id: int = field(metadata={"primary_key": True})
        k: list = field(default_factory=list)

    J.insert(k=[1])
    db.sql("INSERT INTO j (k) VALUES ('null')")
    assert J.get(2)["k"] is None
    for lam, want in ((lambda s: s['k'] == None, [2]),  # noqa: E711
                      (lambda s: s['k'] != None, [1]),  # noqa: E711
                      (lambda s: s['k'] == None and s['id'] > 0, [2])):  # noqa: E711
        assert [r["id"] for r in J.select(where=lam)] == want
        assert [r["id"] for r in J.select(where=per_row(lam))] == want
        assert J.count(where=lam) == len(want)
    assert J.update(where=lambda s: s['k'] == None, k=[0]) == 1  # noqa: E711
    assert J.get(2)["k"] == [0]
