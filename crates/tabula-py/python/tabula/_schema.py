"""A dataclass as a tabula schema: the column types, keys and constraints its fields and
their ``metadata`` describe, in the JSON form of tabula's schema files."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import typing
from typing import Any, Sequence

from . import _errors

# Python type -> the engine's column type.
_TYPES = {int: "i64", float: "f64", str: "text", bool: "bool", dict: "json", list: "json"}

_FIELD_KEYS = {
    "primary_key", "unique", "nullable", "index", "references", "on_delete", "check",
    "renamed_from",
}
_ON_DELETE = {"restrict": "restrict", "cascade": "cascade", "set_null": "set_null",
              "set null": "set_null"}


def table_name(cls: type) -> str:
    """The class name in snake_case: ``CourseRegistration`` -> ``course_registration``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__)
    return name.lower()


def _column_type(cls: type, name: str, hint: Any) -> tuple[str, bool, Any]:
    """The column type of a field's annotation, whether it is ``Optional``, and the Python
    type it holds (``dict``, ``int``, ...)."""
    nullable = False
    origin = typing.get_origin(hint)
    union_types: list[Any] = [typing.Union]
    if sys.version_info >= (3, 10):
        import types
        union_types.append(types.UnionType)
    if origin in union_types:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != len(typing.get_args(hint)) and len(args) == 1:
            nullable = True
            hint = args[0]
            origin = typing.get_origin(hint)
        else:
            raise TypeError(
                f"{cls.__name__}.{name}: a column holds one type or Optional[one type], "
                f"not {hint!r}")
    base = origin if origin is not None else hint
    if base in _TYPES:
        return _TYPES[base], nullable, base
    raise TypeError(
        f"{cls.__name__}.{name}: tabula stores int, float, str, bool, dict and list "
        f"(and Optional[...] of them), not {hint!r}")


def _reference(cls: type, name: str, target: Any) -> str:
    if isinstance(target, str):
        return target
    binding = getattr(target, "__tabula__", None)
    if binding is not None:
        return binding.name
    raise TypeError(
        f"{cls.__name__}.{name}: references= takes a table name or a @table() class, "
        f"not {target!r}")


def _names(cls: type, what: str, groups: Any) -> list[list[str]]:
    """``unique=[("a", "b")]`` / ``index=["a", ("b", "c")]`` as lists of column names.

    A bare name is one group of one column. A bare tuple of names is refused: it reads as
    one constraint over the columns (``unique=("a", "b")``) as readily as one per column,
    and the two differ in what they allow."""
    if isinstance(groups, str):
        groups = [groups]
    elif isinstance(groups, tuple) and len(groups) > 1 and all(
            isinstance(g, str) for g in groups):
        inner = ", ".join(repr(g) for g in groups)
        raise TypeError(
            f"{cls.__name__}: {what}=({inner}) is ambiguous: write {what}=[({inner})] for "
            f"one {what} over those columns together, or {what}=[{inner}] for one on each")
    out = []
    for g in groups or ():
        cols = [g] if isinstance(g, str) else list(g)
        if not cols or not all(isinstance(c, str) for c in cols):
            raise TypeError(f"{cls.__name__}: {what}= takes column names or tuples of them, "
                            f"not {g!r}")
        out.append(cols)
    return out


class Described:
    """What the decorator learned from a class: the schema's JSON and the evolution
    hints, and each column's type (for tracing)."""

    def __init__(self, schema: dict, renamed: list[tuple[str, str]], dropped: list[str],
                 containers: Sequence[tuple[str, str]] = ()):
        self.schema = schema
        self.renamed = renamed
        self.dropped = dropped
        # The json columns whose field is a dict or a list: their values must be one.
        self.containers = list(containers)

    @property
    def json(self) -> str:
        return json.dumps(self.schema)


def describe(cls: type, name: str | None, unique: Any, index: Any, check: Any,
             dropped: Any) -> Described:
    """The schema of dataclass ``cls``."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:  # an annotation that names something undefined
        raise TypeError(f"{cls.__name__}: cannot read its annotations: {e}") from e
    columns = []
    renamed = []
    containers: list[tuple[str, str]] = []
    keys = 0
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata or {})
        unknown = set(meta) - _FIELD_KEYS
        if unknown:
            raise TypeError(
                f"{cls.__name__}.{f.name}: unknown field metadata {sorted(unknown)}; tabula "
                f"reads {sorted(_FIELD_KEYS)}")
        ty, optional, held = _column_type(cls, f.name, hints.get(f.name, f.type))
        if held in (dict, list):
            containers.append((f.name, held.__name__))
        col: dict[str, Any] = {"name": f.name, "type": ty}
        key = bool(meta.get("primary_key", False))
        nullable = bool(meta.get("nullable", optional))
        if key:
            keys += 1
            col["primary_key"] = True
            nullable = False
        col["nullable"] = nullable
        if meta.get("unique"):
            col["unique"] = True
        if meta.get("index"):
            col["index"] = True
        if meta.get("check") is not None:
            col["check"] = str(meta["check"])
        if meta.get("references") is None and "on_delete" in meta:
            raise ValueError(
                f"{cls.__name__}.{f.name}: on_delete without references: say which table "
                f"the column references (references=OtherClass)")
        if meta.get("references") is not None:
            on_delete = str(meta.get("on_delete", "restrict")).lower()
            if on_delete not in _ON_DELETE:
                raise ValueError(
                    f"{cls.__name__}.{f.name}: on_delete is 'restrict', 'cascade' or "
                    f"'set_null', not {meta['on_delete']!r}")
            col["references"] = {"table": _reference(cls, f.name, meta["references"]),
                                 "on_delete": _ON_DELETE[on_delete]}
        if meta.get("renamed_from"):
            renamed.append((str(meta["renamed_from"]), f.name))
        # The key's default is never used: the engine assigns keys.
        if not key:
            default = dataclasses.MISSING
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                # A column default is one value, stored in the schema: only a factory
                # that makes the same value every time (list, lambda: ["a"]) can be one.
                # One that does not (uuid4, datetime.now) would be called once, here.
                default = f.default_factory()  # type: ignore[misc]
                again = f.default_factory()  # type: ignore[misc]
                # Compared as written too: a value holding NaN is not == itself.
                if again != default and repr(again) != repr(default):
                    raise TypeError(
                        f"{cls.__name__}.{f.name}: a column default is one stored value, "
                        f"but default_factory={f.default_factory!r} makes a new one each "
                        f"call; pass the value to insert() instead")
            if default is not dataclasses.MISSING and default is not None:
                col["default"] = _default(cls, f.name, ty, held, default)
        columns.append(col)
    # As the Rust derive: a rename's old name is gone from the class. Otherwise it could
    # ask for a swap or a chain of stored columns, which hints left in the code after their
    # migration cannot be told from.
    fields = {c["name"] for c in columns}
    for old, new in renamed:
        if old in fields:
            raise _errors.SchemaMismatch(
                f"{cls.__name__}.{new}: renamed_from={old!r} names a field the class still "
                f"has; a rename's old name must be gone from the class (to swap two "
                f"columns, rename one through a name the table does not have, one "
                f"migration at a time)")
    # Nor two renames of one column: only one field could take its values.
    for i, (old, new) in enumerate(renamed):
        twice = [n for o, n in renamed[:i] if o == old]
        if twice:
            raise _errors.SchemaMismatch(
                f"{cls.__name__}: fields {twice[0]!r} and {new!r} are both "
                f"renamed_from={old!r}; a stored column is renamed to one name")
    if keys != 1:
        raise _errors.SchemaMismatch(
            f"{cls.__name__} needs exactly one primary key field, marked with "
            f"field(metadata={{'primary_key': True}}); it has {keys}")
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(
                f"@table(name=...) on {cls.__name__} takes a str, not {type(name).__name__} "
                f"({name!r})")
        try:
            valid = bool(name.encode("utf-8"))
        except UnicodeEncodeError:
            valid = False
        if not valid:
            raise ValueError(
                f"@table(name=...) on {cls.__name__} takes a non-empty table name of valid "
                f"Unicode, not {name!r} (leave it out for {table_name(cls)!r})")
    schema: dict[str, Any] = {"table": name if name is not None else table_name(cls),
                              "columns": columns}
    if unique:
        schema["unique"] = _names(cls, "unique", unique)
        # As the derive: the same columns in another order are the same constraint, and a
        # second index would only cost every write.
        for i, cols in enumerate(schema["unique"]):
            first = next((u for u in schema["unique"][:i] if sorted(u) == sorted(cols)), None)
            if first is not None and len(cols) > 1:
                raise _errors.SchemaMismatch(
                    f"{cls.__name__}: unique({', '.join(cols)}) repeats "
                    f"unique({', '.join(first)}): a unique constraint over the same columns, "
                    f"in any order, is the same constraint")
    if index:
        schema["index"] = _names(cls, "index", index)
    if check:
        schema["checks"] = [check] if isinstance(check, str) else [str(c) for c in check]
    drops = [str(d) for d in ([dropped] if isinstance(dropped, str) else list(dropped or ()))]
    for d in drops:
        if d in fields:
            raise _errors.SchemaMismatch(
                f"{cls.__name__}: dropped={d!r} names a field the class still has; a dropped "
                f"column is one the class no longer has")
        renamed_to = [new for old, new in renamed if old == d]
        if renamed_to:
            raise _errors.SchemaMismatch(
                f"{cls.__name__}: {d!r} is both dropped and the old name of "
                f"{renamed_to[0]!r} (renamed_from={d!r}); a column is renamed or dropped, "
                f"not both")
    return Described(schema, renamed, drops, containers)


def _default(cls: type, name: str, ty: str, held: Any, value: Any) -> Any:
    """A field's default as the schema stores it, refused with what ``insert()`` would say
    of the same value: the column's type checks a default only by what it can hold, and a
    float column's schema spells NaN as the text ``"NaN"``."""
    where = f"{cls.__name__}.{name}"
    if ty == "json":
        if held in (dict, list) and not isinstance(value, held):
            raise TypeError(
                f"{where}: the default {value!r} is a {type(value).__name__}, but the field "
                f"is a {held.__name__}")
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)
        except ValueError:
            raise ValueError(
                f"{where}: the default {value!r} holds NaN or an infinity, which JSON "
                f"cannot write") from None
        _utf8(where, text, value)
        return text
    if (ty == "f64" and not isinstance(value, (int, float))) or (
            isinstance(value, bool) and ty != "bool"):
        raise TypeError(
            f"{where}: the default {value!r} is a {type(value).__name__}, but the field "
            f"is a {held.__name__ if isinstance(held, type) else ty}")
    if isinstance(value, str):
        _utf8(where, value, value)
    if ty == "i64" and isinstance(value, int) and not isinstance(value, bool) and not (
            -(2 ** 63) <= value < 2 ** 63):
        raise ValueError(
            f"{where}: the default {value} does not fit the column's type, a signed 64-bit "
            f"integer (-2**63 to 2**63 - 1)")
    if isinstance(value, float) and not math.isfinite(value) and ty == "f64":
        # JSON has no NaN or infinity: the schema spells them as its files do.
        return "NaN" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{cls.__name__}.{name}: a default must be a bool, int, float or str, "
                    f"not {value!r}")


def _utf8(where: str, text: str, value: Any) -> None:
    """Refuses a default whose text UTF-8 cannot hold (a lone surrogate, ``'\\ud800'``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where}: the default {value!r} holds a character UTF-8 cannot "
                         "encode (a lone surrogate)") from None
