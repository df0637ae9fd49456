"""Running a ``where=`` lambda in the engine instead of once per row.

A lambda such as ``lambda s: (s['gpa'] > 3.5) & (s['year'] == 2024)`` is called once with
a proxy row whose ``s['col']`` returns a column object; comparing it builds a SQL
condition, which the engine evaluates on every row (using indexes). That is *tracing*.

Tracing must never change an answer, so a lambda is traced only when Python, run per row,
would certainly give the same rows:

* its bytecode holds only loads, subscripts, comparisons, binary operators and a return:
  no ``is``, no ``in``, no ``and``/``or``/``not`` (they test truth, which a column object
  cannot answer), no conditional expressions or jumps, no calls, no attribute reads;
* every comparison is of one column with a constant of a type Python compares with that
  column's values the way SQL does: numbers with a number column, ``str`` with a text
  column, ``bool`` with a bool column (``==``/``!=`` only), ``None`` with ``==``/``!=``
  (not on a json column that is not nullable: the document ``null`` SQL may write there
  reads as ``None`` and is not NULL);
  ``<``, ``<=``, ``>``, ``>=`` only on columns that cannot hold ``None`` (where Python
  would raise ``TypeError``), never with NaN;
* conditions combine only with ``&`` and ``|``;
* what it loads from its globals and closure is an ``int``, ``float``, ``str``, ``bool`` or
  ``None``, and no Python code but its own and this module's runs in the trace (watched
  with ``sys.setprofile``): an object of the caller's, given a column object, could
  answer with a constant where the row's value would give another per row. For the same
  reason the proxy objects refuse ``==`` between conditions and rows, and ``str()``;
* the call returns a condition (not a column, not a constant).

``==`` is ``col = ?``; ``!=`` on a nullable column is ``col IS NULL OR col <> ?``, since
``None != 3`` is true in Python; ``== None`` is ``IS NULL``. On a float column every
comparison also settles NaN the way Python does (unequal to everything; see
``_Column._compare``). Anything else raises inside the trace, and the lambda then runs per
row. A traced lambda runs exactly once per call.

A lambda that runs per row is shown each row as a dict; ``read_columns`` finds, in its
bytecode, whether that dict may hold only the columns it subscripts.

A lambda that tracing refuses only for its ``and`` (``lambda s: s['gpa'] > 3.5 and
s['year'] > 0``) still runs per row, but only on the rows its operands may accept:
``prefilter`` traces the operands of the chain, as far as each is traceable, and the
engine passes over the rows where one is false. Python, given such a row, would evaluate
the operands in turn, find that one false and return it without reaching the rest, so no
answer changes; the lambda is just not called for them.
"""

from __future__ import annotations

import dis
import math
import sys
import threading
import types
from typing import Any, Callable, Optional

# Opcodes a traceable lambda may hold (across CPython 3.9 to 3.14). Anything else - a
# call, a jump, an attribute read, `is`, `in`, a truth test - means run per row.
_ALLOWED = frozenset({
    "RESUME", "NOP", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL",
    "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST",
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "LOAD_CONST", "LOAD_SMALL_INT", "LOAD_DEREF",
    "LOAD_CLOSURE", "LOAD_GLOBAL", "LOAD_NAME",
    "BINARY_SUBSCR", "BINARY_OP", "BINARY_AND", "BINARY_OR",
    "BINARY_ADD", "BINARY_SUBTRACT", "BINARY_MULTIPLY", "BINARY_TRUE_DIVIDE",
    "UNARY_NEGATIVE", "COMPARE_OP",
    "RETURN_VALUE", "RETURN_CONST",
})

# What a lambda `prefilter` traces may hold besides: the truth tests and forward jumps of
# `and`, `or` and comparison chains, and the stack shuffling around them (3.9 to 3.14).
# No backward jump (no loop), and nothing that tests identity or membership.
_BRANCHING = frozenset({
    "JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP",
    "POP_JUMP_IF_FALSE", "POP_JUMP_IF_TRUE",
    "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE",
    "JUMP_FORWARD", "NOT_TAKEN", "TO_BOOL",
    "POP_TOP", "COPY", "SWAP", "DUP_TOP", "ROT_TWO", "ROT_THREE",
})

_MAX_INT = 2 ** 63 - 1
_EXACT_FLOAT_INT = 2 ** 53


class _Untraceable(Exception):
    """Raised inside a trace: run the lambda per row instead."""


_INT_TYPES = {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"}


class _Column:
    __slots__ = ("_name", "_kind", "_nullable")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str, kind: str, nullable: bool):
        self._name = name
        self._kind = kind
        self._nullable = nullable

    def __bool__(self) -> bool:
        raise _Untraceable("truth of a column")

    # Text of a column (`'%s' % s['x']`) would be a constant in the trace, and the row's
    # value per row.
    def __str__(self) -> str:
        raise _Untraceable("text of a column")

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        raise _Untraceable("text of a column")

    def _quoted(self) -> str:
        return '"' + self._name + '"'

    def _compare(self, op: str, other: Any) -> "_Condition":
        if other is None:
            # A json column that is not nullable may hold the document `null` (written
            # through SQL), which its row reads as None too, yet is not NULL.
            if self._kind == "json" and not self._nullable:
                raise _Untraceable("None against a json column that may hold the document null")
            if op == "=":
                return _Condition(self._quoted() + " IS NULL", [])
            if op == "<>":
                return _Condition(self._quoted() + " IS NOT NULL", [])
            raise _Untraceable("ordering against None")
        kind, t = self._kind, type(other)
        if kind == "bool":
            if t is not bool or op not in ("=", "<>"):
                raise _Untraceable("bool column")
        elif kind in ("int", "float"):
            if t is int:
                if not -_MAX_INT - 1 <= other <= _MAX_INT:
                    raise _Untraceable("integer beyond 64 bits")
                if kind == "float" and abs(other) > _EXACT_FLOAT_INT:
                    raise _Untraceable("integer a float cannot hold exactly")
            elif t is float:
                if math.isnan(other):
                    raise _Untraceable("NaN")
                if kind == "int" and abs(other) > _EXACT_FLOAT_INT:
                    raise _Untraceable("float beyond exact integers")
            else:
                raise _Untraceable("not a number")
        elif kind == "text":
            if t is not str:
                raise _Untraceable("not a str")
            try:
                other.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate: no stored text equals it, but it cannot be a SQL value.
                raise _Untraceable("not UTF-8") from None
        else:
            raise _Untraceable("json column")
        if op in ("<", "<=", ">", ">=") and self._nullable:
            raise _Untraceable("ordering a nullable column")
        col = self._quoted()
        if kind == "float":
            # A float column may hold NaN (stored through the library). SQL compares it
            # as null, so `=`, `<`, ... pass it over, as Python's comparisons do; but
            # `NaN != x` is true in Python and `IS NULL` false in SQL. `col + 0.0` is
            # null for NaN (SQL has no NaN) and for null alike.
            if op == "<>":
                return _Condition("((" + col + " + 0.0) IS NULL OR " + col + " <> ?)",
                                  [other])
        if op == "<>" and self._nullable:
            return _Condition("(" + col + " IS NULL OR " + col + " <> ?)", [other])
        return _Condition(col + " " + op + " ?", [other])

    def __eq__(self, other: Any) -> "_Condition":  # type: ignore[override]
        return self._compare("=", other)

    def __ne__(self, other: Any) -> "_Condition":  # type: ignore[override]
        return self._compare("<>", other)

    def __lt__(self, other: Any) -> "_Condition":
        return self._compare("<", other)

    def __le__(self, other: Any) -> "_Condition":
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> "_Condition":
        return self._compare(">", other)

    def __ge__(self, other: Any) -> "_Condition":
        return self._compare(">=", other)


class _Condition:
    # `joined`: the operator ("AND", "OR") of a chain this condition is, in parentheses,
    # so that `a | b | c` is one flat `(a OR b OR c)`: nested parentheses deepen the
    # parser's recursion, which ends at 50 levels.
    __slots__ = ("sql", "params", "joined")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, sql: str, params: list, joined: Optional[str] = None):
        self.sql = sql
        self.params = params
        self.joined = joined

    def __bool__(self) -> bool:
        # Only `prefilter` answers truth tests: the first few, as its schedule says.
        tested = getattr(_prefix, "tested", None)
        answers = getattr(_prefix, "answers", ())
        if tested is None or len(tested) >= len(answers):
            raise _Untraceable("truth of a condition")
        tested.append(self)
        return answers[len(tested) - 1]

    # Comparing two conditions (`(s['a'] > 0) == (s['b'] > 0)`) would compare the objects
    # in the trace, and the rows' truths per row; their text would be a constant too.
    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        raise _Untraceable("comparison of conditions")

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        raise _Untraceable("comparison of conditions")

    def __str__(self) -> str:
        raise _Untraceable("text of a condition")

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        raise _Untraceable("text of a condition")

    def _join(self, word: str, other: Any) -> "_Condition":
        if not isinstance(other, _Condition):
            raise _Untraceable("& or | with something other than a condition")
        # A chain of the same operator is flat: its parentheses are taken off and put back
        # around the whole (AND and OR each associate, so the answer is the same).
        left = self.sql[1:-1] if self.joined == word else self.sql
        right = other.sql[1:-1] if other.joined == word else other.sql
        return _Condition("(" + left + " " + word + " " + right + ")",
                          self.params + other.params, word)

    def __and__(self, other: Any) -> "_Condition":
        return self._join("AND", other)

    def __or__(self, other: Any) -> "_Condition":
        return self._join("OR", other)

    def __rand__(self, other: Any) -> "_Condition":
        raise _Untraceable("& with something other than a condition")

    def __ror__(self, other: Any) -> "_Condition":
        raise _Untraceable("| with something other than a condition")


class _Proxy:
    __slots__ = ("_columns",)

    def __init__(self, columns: dict):
        self._columns = columns

    def __getitem__(self, name: Any) -> _Column:
        if type(name) is not str or name not in self._columns:
            raise _Untraceable("not a column")
        return self._columns[name]

    def __getattr__(self, name: str) -> Any:
        raise _Untraceable("attribute of a row")

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        raise _Untraceable("comparison of a row")

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        raise _Untraceable("comparison of a row")

    def __str__(self) -> str:
        raise _Untraceable("text of a row")

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        raise _Untraceable("text of a row")


def is_json(column: _Column) -> bool:
    """Whether a proxy column is a json column (which cannot be compared or ordered)."""
    return column._kind == "json"


def is_float(column: _Column) -> bool:
    """Whether a proxy column is a float column."""
    return column._kind == "float"


def columns_of(schema: dict) -> dict:
    """The proxy's columns for a schema (the schema file's JSON form)."""
    out = {}
    for c in schema["columns"]:
        ty = c["type"]
        kind = ("int" if ty in _INT_TYPES else "float" if ty in ("f32", "f64")
                else ty if ty in ("text", "bool") else "json")
        out[c["name"]] = _Column(c["name"], kind, bool(c.get("nullable")))
    return out


_verdicts: dict = {}

# The truth tests a `prefilter` trace has answered (on this thread): `None` outside one.
_prefix = threading.local()


def _bytecode_verdict(code: types.CodeType) -> Optional[str]:
    """``"whole"`` when ``trace`` may run the lambda, ``"prefix"`` when only ``prefilter``
    may (it branches), ``None`` when neither."""
    verdict = _verdicts.get(code, _verdicts)
    if verdict is _verdicts:
        verdict = None
        if (code.co_argcount == 1
                and code.co_kwonlyargcount == 0
                # *args, **kwargs, generator, coroutine, iterable coroutine, async
                # generator (not 0x40, CO_NOFREE, which 3.9 and 3.10 set on every plain
                # function).
                and not code.co_flags & 0x3AC
                and not any(isinstance(c, types.CodeType) for c in code.co_consts)):
            ops = list(dis.get_instructions(code))
            if all(i.opname in _ALLOWED for i in ops):
                verdict = "whole"
            elif all(i.opname in _ALLOWED or i.opname in _BRANCHING for i in ops):
                verdict = "prefix"
        if len(_verdicts) > 4096:
            _verdicts.clear()
        _verdicts[code] = verdict
    return verdict


def _bytecode_allows(code: types.CodeType) -> bool:
    return _bytecode_verdict(code) == "whole"


# The types of the values a traced lambda may load from its globals and closure. Their
# operations with a column object are Python's own, which hand over to the column object's
# methods or raise; any other object's could answer with a constant, which would stand in
# the condition for what the row's value gives per row.
_PLAIN = frozenset({int, float, str, bool, type(None)})
_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF"})


def _loads_plain(where: types.FunctionType) -> bool:
    """Whether every global or closure value ``where`` loads is of a ``_PLAIN`` type. With
    all of them plain, no code of the caller's can run in a call of ``where``: it is a
    function of its row alone."""
    code = where.__code__
    # A globals mapping of a `dict` subclass may answer a missing name (`__missing__`,
    # written in C, runs no Python frame the tracer would see) with a new value per call:
    # only plain dicts are read here as the call will read them.
    if type(where.__globals__) is not dict:
        return False
    # The builtins the call uses: the function's own since Python 3.10, else its globals'.
    builtins = getattr(where, "__builtins__", None)
    if builtins is None:
        builtins = where.__globals__.get("__builtins__", {})
    if isinstance(builtins, types.ModuleType):
        builtins = vars(builtins)
    if type(builtins) is not dict:
        return False
    for i in dis.get_instructions(code):
        if i.opname not in _LOADS:
            continue
        name = i.argval
        if i.opname == "LOAD_DEREF":
            if name not in code.co_freevars or where.__closure__ is None:
                return False
            try:
                value = where.__closure__[code.co_freevars.index(name)].cell_contents
            except ValueError:  # an empty cell: the call raises NameError
                continue
        elif name in where.__globals__:
            value = where.__globals__[name]
        elif name in builtins:
            value = builtins[name]
        else:
            continue  # the call raises NameError
        if type(value) not in _PLAIN:
            return False
    return True


_HERE = _loads_plain.__code__.co_filename


def _run(where: types.FunctionType, columns: dict) -> Any:
    """``where`` called with a proxy row, refusing (``_Untraceable``) when any Python code
    other than its own and this module's ran in the call: a method of an object of yours,
    reached through an operator, could answer with a constant where the row's value would
    give another per row. (Loading only ``_PLAIN`` values leaves no such object to reach
    but through a row value; this catches what that misses.) Refuses while a profiler is
    set, whose place this takes."""
    if sys.getprofile() is not None:
        raise _Untraceable("a profiler is set")
    own = where.__code__
    foreign: list = []

    def watch(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is not own and frame.f_code.co_filename != _HERE:
            foreign.append(frame.f_code)

    sys.setprofile(watch)
    try:
        result = where(_Proxy(columns))
    finally:
        sys.setprofile(None)
    if foreign:
        raise _Untraceable("code of yours ran in the trace")
    return result


def trace(where: Callable[[Any], Any], columns: dict) -> Optional[tuple[str, list]]:
    """The SQL condition and parameters ``where`` computes, or ``None`` when it must run
    per row."""
    if type(where) is not types.FunctionType or where.__defaults__:
        return None
    if not _bytecode_allows(where.__code__) or not _loads_plain(where):
        return None
    try:
        result = _run(where, columns)
    except Exception:
        # Whatever the lambda does wrong here, running it per row reproduces (or does
        # not hit, for an empty table) - never report it from the trace.
        return None
    if not isinstance(result, _Condition) or _too_deep(result.sql):
        return None
    return result.sql, result.params


# A condition nested deeper than these runs per row: the SQL parser stops at 50 levels of
# recursion (each level of parentheses takes one or two), and the engine at 200 levels of
# expression, where a chain of operators counts a level per operator.
_DEEPEST = 20
_LONGEST = 150


def _too_deep(sql: str) -> bool:
    """Whether ``sql`` (a traced condition: its values are placeholders and its names
    Python identifiers, so no text holds a parenthesis or an operator word) nests
    parentheses deeper than ``_DEEPEST``, or with its ANDs and ORs goes past ``_LONGEST``."""
    depth = deepest = 0
    for c in sql:
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
    return deepest > _DEEPEST or deepest + sql.count(" AND ") + sql.count(" OR ") > _LONGEST


def prefilter(where: Optional[Callable[[Any], Any]], columns: dict) -> Optional[tuple[str, list]]:
    """For a lambda ``trace`` refuses because it branches (``A and B and C``): the SQL
    condition ``A AND B AND C`` of its operands, when on every row where one of them is
    false the lambda returns that operand without evaluating anything else (as far as the
    chain is that simple: ``A``, or ``A AND B``, ...); ``None`` when not even ``A`` is.

    The lambda runs with the proxy row once per schedule of answers to its truth tests: the
    first ``k`` answered true and the next false, for ``k`` = 0, 1, ... It must test a
    condition when false is answered and return that very condition, having tested
    nothing else. Up to each test it ran straight through (only ``_ALLOWED`` operations
    and the jumps of ``and``, whose path only the answers decide), so on a real row Python
    computes the same operands there - each a bool, true exactly where the engine finds the
    condition true, as for a traced lambda - and where one is false, takes the same jumps to
    the same return. When every test answered true ends in a condition that was not tested
    (the last operand), it joins the others. The rows the engine finds every operand true
    for are the ones the lambda must still be called on. While a debugger, tracer or
    profiler is active (see ``read_columns``), there is no cut."""
    if type(where) is not types.FunctionType or where.__defaults__:
        return None
    # A person stepping through the lambda (or a profiler counting its calls) sees it
    # called on every row, as without the cut.
    if _bytecode_verdict(where.__code__) != "prefix" or _watched():
        return None
    # Every load plain, not only before the branch: an object of yours reached after it
    # runs per row, and could change a global the traced operand read once.
    if not _loads_plain(where):
        return None
    operands: list = []
    for k in range(_CHAIN):
        # Every test answered true so far, then no more: the chain's last operand.
        if k > 0:
            ran = _scheduled(where, columns, (True,) * k)
            if ran is not None:
                tested, result = ran
                if (isinstance(result, _Condition)
                        and not any(result is t for t in tested)
                        and _same(tested, operands)):
                    operands.append(result)
                break
        ran = _scheduled(where, columns, (True,) * k + (False,))
        if ran is None:
            break
        tested, result = ran
        if len(tested) != k + 1 or result is not tested[k] or not _same(tested[:k], operands):
            break
        operands.append(result)
    if not operands:
        return None
    sql = " AND ".join(o.sql for o in operands) if len(operands) > 1 else operands[0].sql
    if len(operands) > 1:
        sql = "(" + sql + ")"
    if _too_deep(sql):
        return None
    return sql, [p for o in operands for p in o.params]


# The most operands of an `and` chain `prefilter` reads.
_CHAIN = 8


def _scheduled(where: types.FunctionType, columns: dict,
               answers: tuple) -> Optional[tuple[list, Any]]:
    """``where`` run with the proxy row, its truth tests answered ``answers`` in turn (one
    more refuses): the conditions it tested and what it returned, or ``None`` when it
    refused or raised."""
    tested: list = []
    outer = (getattr(_prefix, "tested", None), getattr(_prefix, "answers", ()))
    _prefix.tested, _prefix.answers = tested, answers
    try:
        result = _run(where, columns)
    except Exception:
        return None
    finally:
        _prefix.tested, _prefix.answers = outer
    return tested, result


def _same(tested: list, operands: list) -> bool:
    """Whether the conditions a run tested are, in order, the operands found before (the
    same text and values: each run makes its conditions anew)."""
    return len(tested) == len(operands) and all(
        t.sql == o.sql and t.params == o.params for t, o in zip(tested, operands))


# Names through which a function could reach its own frame, and so its argument, other
# than by the subscripts `read_columns` counts.
_FRAME_NAMES = frozenset({
    "locals", "vars", "eval", "exec", "breakpoint", "_getframe", "currentframe", "stack",
    "trace", "f_locals", "f_back", "tb_frame", "gi_frame", "cr_frame",
})
_SUBSCRIPT = frozenset({"BINARY_SUBSCR"})
_read_verdicts: dict = {}


def read_columns(where: Optional[Callable[[Any], Any]], columns: dict) -> Optional[list]:
    """The columns ``where`` (a lambda that runs per row) can read, when it uses its
    argument only as ``row["constant"]``; ``None`` when it may do anything else with it.

    Such a lambda cannot tell its row's dict from one holding just those columns: any
    other key raises the same ``KeyError`` in both, and it keeps no reference to the dict,
    so one dict can carry row after row. The check is of the bytecode: every load of the
    argument must be followed by a constant and a subscript; the argument is never
    stored, deleted, captured by an inner function or loaded with another local; the
    function makes no call and no import, and names nothing that reads frames
    (``locals``, ``_getframe``, ...), since the frame holds the dict too. While a
    debugger, tracer or profiler is active (``sys.settrace``, ``sys.monitoring``), every
    lambda gets the whole row. What remains able to see the dict mid-call is Python code
    an operator reaches: a dunder method of an object the lambda loads, which could walk
    up to the frame. Once a call is over, a dict something still holds (the traceback of
    an exception, say) is made the whole row (see ``Calls::call`` in ``src/table.rs``).
    """
    if type(where) is not types.FunctionType or _watched():
        return None
    code = where.__code__
    reads = _read_verdicts.get(code, _read_verdicts)
    if reads is _read_verdicts:
        reads = _subscripted_constants(code)
        if len(_read_verdicts) > 4096:
            _read_verdicts.clear()
        _read_verdicts[code] = reads
    if reads is None:
        return None
    return [name for name in reads if name in columns]


def _watched() -> bool:
    """Whether a debugger, tracer or profiler may look into a lambda's frame (and so at
    its row): then it gets the whole row."""
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(
        monitoring.get_tool(tool) is not None
        for tool in (monitoring.DEBUGGER_ID, monitoring.COVERAGE_ID, monitoring.PROFILER_ID))


def _subscripted_constants(code: types.CodeType) -> Optional[tuple]:
    if (code.co_argcount < 1 or code.co_flags & 0x3AC
            or any(isinstance(c, types.CodeType) for c in code.co_consts)
            or _FRAME_NAMES.intersection(code.co_names)):
        return None
    arg = code.co_varnames[0]
    if arg in code.co_cellvars:
        return None
    ops = [i for i in dis.get_instructions(code)
           if i.opname not in ("EXTENDED_ARG", "CACHE", "NOP")]
    # A call (a helper, a builtin bound to another name, super()) or an import could run
    # code that walks up to this frame and reads or changes the row there.
    if any(op.opname.startswith("CALL") and not op.opname.startswith("CALL_INTRINSIC")
           or op.opname == "IMPORT_NAME" for op in ops):
        return None
    keys = []
    for at, op in enumerate(ops):
        names = op.argval if isinstance(op.argval, tuple) else (op.argval,)
        if arg not in names or "FAST" not in op.opname and "DEREF" not in op.opname \
                and "CELL" not in op.opname and "CLOSURE" not in op.opname:
            continue
        if op.opname not in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW"):
            return None
        if at + 2 >= len(ops):
            return None
        const, subscript = ops[at + 1], ops[at + 2]
        if const.opname != "LOAD_CONST" or not (
                subscript.opname in _SUBSCRIPT
                or subscript.opname == "BINARY_OP" and subscript.argrepr == "[]"):
            return None
        keys.append(const.argval)
    return tuple(dict.fromkeys(k for k in keys if type(k) is str))
