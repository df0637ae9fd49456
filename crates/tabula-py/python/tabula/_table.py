"""``@tabula.table()``: a dataclass becomes a table, with the seed's class methods."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Optional, Sequence, TypeVar, Union

from . import _errors, _schema, _trace
from ._database import Database, default_database

T = TypeVar("T")

Where = Optional[Callable[[dict[str, Any]], Any]]
OrderBy = Union[None, str, Sequence[str]]


def describe_class(cls: type, given: Optional[dict[str, Any]] = None) -> _schema.Described:
    """The schema of a class, as its ``@table()`` options describe it, those in ``given``
    replacing its own."""
    options = {**(getattr(cls, "__tabula_options__", None) or {}), **(given or {})}
    target = cls if dataclasses.is_dataclass(cls) else dataclasses.dataclass(cls)
    return _schema.describe(target, options.get("name"), options.get("unique"),
                            options.get("index"), options.get("check"),
                            options.get("dropped"))


class Binding:
    """What a ``@table()`` class is bound to: its database, the engine's table, and the
    columns a traced lambda sees."""

    def __init__(self, db: Database, native: Any, described: _schema.Described):
        self.db = db
        self.native = native
        self.name: str = native.table_name
        self.key: str = native.primary_key
        self.columns = _trace.columns_of(described.schema)
        self.quoted = '"' + self.name + '"'

    def order(self, order_by: OrderBy) -> list[str]:
        if order_by is None:
            return []
        if not isinstance(order_by, (str, list, tuple)):
            raise TypeError(f"order_by takes a column name ('gpa', '-gpa') or a list of them, "
                            f"not {order_by!r}")
        keys = [order_by] if isinstance(order_by, str) else list(order_by)
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(f"order_by takes column names ('gpa', '-gpa'), not {k!r}")
            name, _ = _split(k)
            self.column(name)
            # Checked here, not left to the engine: the per-row path refuses a json
            # column and SQL would order by its text, so a traced lambda would answer
            # where an untraced one raises.
            if _trace.is_json(self.columns[name]):
                raise _located(_errors.InvalidColumnUse(
                    f"{self.name}.{name}: json columns cannot be compared or ordered by"),
                    self.name, name)
        return keys

    def orders_floats(self, keys: list[str]) -> bool:
        """Whether ``keys`` (from :meth:`order`) order by a float column."""
        return any(_trace.is_float(self.columns[_split(k)[0]]) for k in keys)

    def column(self, name: str) -> None:
        if name not in self.columns:
            raise _located(_errors.UnknownColumn(f"table {self.name} has no column {name!r}"),
                           self.name, name)

    def trace(self, where: Where) -> Optional[tuple[str, list]]:
        if where is None:
            return None
        if not callable(where):
            raise TypeError(f"where= takes a function of a row (a dict), not {where!r}")
        return _trace.trace(where, self.columns)

    def prefilter(self, where: Where) -> Optional[tuple[str, list]]:
        """For a ``where`` that runs per row: a condition false only on rows it refuses
        (see ``_trace.prefilter``), if one is known."""
        return _trace.prefilter(where, self.columns)

    def prefilter_statement(self, where: Where) -> Optional[tuple[str, list]]:
        """:meth:`prefilter` as a ``SELECT *`` of the table and its parameters."""
        pre = self.prefilter(where)
        return None if pre is None else (_select_text(self, pre[0], []), pre[1])

    def reads(self, where: Where) -> Optional[list]:
        """For a ``where`` that runs per row: the only columns it can read, if known."""
        return _trace.read_columns(where, self.columns)


def _same_database(cls: type, database: Database) -> None:
    """Refuses a field that references a ``@table()`` class of another database: its rows
    are not where this table's keys are looked up, and every insert would fail."""
    for f in dataclasses.fields(cls):
        target = f.metadata.get("references")
        binding = getattr(target, "__tabula__", None)
        if isinstance(binding, Binding) and binding.db is not database:
            raise TypeError(
                f"{cls.__name__}.{f.name}: references={getattr(target, '__name__', target)}, a table of another "
                "database; a foreign key references a table of its own database (give "
                "both classes the same db=)")


def _split(key: str) -> tuple[str, bool]:
    """An ``order_by`` key (``'gpa'``, ``'-gpa'``) as its column and whether descending."""
    return (key[1:], True) if key.startswith("-") else (key, False)


def _located(e: _errors.Error, table: str, column: str) -> _errors.Error:
    """``e`` with the ``table`` and ``column`` attributes the engine's errors carry."""
    e.table, e.column = table, column
    return e


def _count(n: Any, what: str) -> Optional[int]:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 2 ** 63:
        raise ValueError(f"{what} must be a non-negative int below 2**63, not {n!r}")
    return n


def _bound(cls: type) -> Binding:
    # Inherited too: a subclass of a table class is the same table, as its native
    # insert/get/get_by (class attributes) already are.
    binding = getattr(cls, "__tabula__", None)
    if binding is None:
        raise TypeError(f"{cls.__name__} is not a @tabula.table() class")
    return binding


def _select(cls: type, /, where: Where = None, order_by: OrderBy = None,
            limit: Optional[int] = None, offset: Optional[int] = None) -> list[dict]:
    """The rows ``where(row)`` accepts (every row without it), as dicts, ordered by
    ``order_by`` (``'gpa'``, ``'-gpa'`` for descending, or a list of them; ties in key
    order), skipping ``offset`` rows and returning at most ``limit``."""
    b = _bound(cls)
    order = b.order(order_by)
    limit, offset = _count(limit, "limit"), _count(offset, "offset")
    traced = b.trace(where)
    # Ordered by a float column, the engine's own ordering puts -0.0 before 0.0, where SQL
    # (the traced path) - and Python, and "ties in key order" - find them equal. Such a
    # select goes through SQL, or, for a lambda that runs per row, is ordered here, so
    # that tracing never changes the order.
    floats = b.orders_floats(order)
    if traced is None and where is not None:
        pre = b.prefilter(where)
        if pre is not None:
            # The engine passes over the rows the lambda would refuse at one of its `and`s;
            # the lambda is called on the others in key order, as on every row per row
            # (so that of two rows that would raise, the same one does), and limit and
            # offset count the rows it accepts. Ordered, they are sorted as SQL sorts.
            text = _select_text(b, pre[0], [])
            if not order:
                return b.native.query_where(text, pre[1], where, b.reads(where), limit,
                                            offset)
            rows = _sorted_as_sql(b.native.query_where(text, pre[1], where, b.reads(where)),
                                  order)
            start = offset or 0
            return rows[start:] if limit is None else rows[start:start + limit]
    if traced is None and not floats:
        return b.native.select(where, order, limit, offset, b.reads(where))
    if traced is None and where is not None:
        rows = _sorted_as_sql(b.native.select(where, [], None, None, b.reads(where)), order)
        start = offset or 0
        return rows[start:] if limit is None else rows[start:start + limit]
    condition, params = traced if traced is not None else (None, [])
    text = _select_text(b, condition, order)
    if limit is not None or offset is not None:
        text += " LIMIT ? OFFSET ?"
        params = params + [limit if limit is not None else -1, offset or 0]
    return b.native.query(text, params)


def _select_text(b: Binding, condition: Optional[str], order: list[str]) -> str:
    """``SELECT *`` of ``b``'s table where ``condition`` holds (if given), ordered by the
    ``order`` keys and then the key."""
    text = "SELECT * FROM " + b.quoted
    if condition is not None:
        text += " WHERE " + condition
    if order:
        text += " ORDER BY " + ", ".join(
            '"' + name + ('" DESC' if desc else '"') for name, desc in map(_split, order))
        text += ', "' + b.key + '"'
    return text


def _sorted_as_sql(rows: list, order: list[str]) -> list:
    """``rows`` (in key order) ordered by ``order`` as SQL orders them: nulls first (last
    descending), NaN after every number, -0.0 equal to 0.0, ties in key order."""
    for name, desc in map(_split, reversed(order)):
        # Stable, also with reverse=True: each sort keeps the order of the keys after it.
        rows.sort(key=lambda r: _sql_rank(r[name]), reverse=desc)
    return rows


def _sql_rank(v: Any) -> tuple:
    if v is None:
        return (0, 0)
    if v != v:  # NaN
        return (2, 0)
    return (1, v)


def _every_row(row: Any) -> bool:
    return True


def _update(cls: type, /, where: Where = None, **changes: Any) -> int:
    """Sets ``changes`` in every row ``where(row)`` accepts (every row without it);
    returns how many rows matched. All of them change or, if one is refused or ``where``
    raises, none."""
    b = _bound(cls)
    if not changes:
        raise ValueError(f"update of {b.name} names no column to change")
    if any(isinstance(v, float) and v != v for v in changes.values()):
        # SQL binds a NaN parameter as NULL (it has no NaN), so a NaN is set row by row,
        # as `insert` stores it, whatever the shape of `where`.
        if where is not None and not callable(where):
            raise TypeError(f"where= takes a function of a row (a dict), not {where!r}")
        where = _every_row if where is None else where
        return b.native.update(where, changes, b.reads(where))
    if where is None:
        return b.native.update_sql(None, [], changes)
    traced = b.trace(where)
    if traced is None:
        return b.native.update(where, changes, b.reads(where), b.prefilter_statement(where))
    return b.native.update_sql(traced[0], traced[1], changes)


def _delete(cls: type, /, where: Where = None) -> int:
    """Deletes every row ``where(row)`` accepts (every row without it); returns how
    many. All of them or, if ``where`` raises or a foreign key refuses, none."""
    b = _bound(cls)
    if where is None:
        return b.native.execute("DELETE FROM " + b.quoted, [])
    traced = b.trace(where)
    if traced is None:
        return b.native.delete(where, b.reads(where), b.prefilter_statement(where))
    return b.native.execute("DELETE FROM " + b.quoted + " WHERE " + traced[0], traced[1])


def _count_rows(cls: type, /, where: Where = None) -> int:
    """How many rows ``where(row)`` accepts (every row without it)."""
    b = _bound(cls)
    traced = b.trace(where)
    if where is None:
        return b.native.count(None)
    if traced is None:
        pre = b.prefilter(where)
        if pre is not None:
            return b.native.query_where(_select_text(b, pre[0], []), pre[1], where,
                                        b.reads(where), count=True)
        return b.native.count(where, b.reads(where))
    return b.native.execute("SELECT COUNT(*) FROM " + b.quoted + " WHERE " + traced[0],
                            traced[1])


class Model:
    """An optional base class of a ``@table()`` dataclass, for type checkers and editors:
    it declares the class methods ``@table()`` gives the class, which they cannot see in
    the decorator's type. The seed's code, without it, runs the same::

        @table()
        @dataclass
        class Student(Model):
            id: int = field(metadata={'primary_key': True})
            name: str = ""

        Student.insert(name="Ada")   # known to mypy, pyright and editors

    ``@table()`` replaces each method below with the table's own; on a class it has not
    decorated (yet), each raises ``TypeError``.
    """

    __slots__ = ()

    @classmethod
    def insert(cls, **fields: Any) -> Any:
        """Inserts one row; returns its primary key (the one given, or the next
        auto-increment key)."""
        raise _undecorated(cls)

    @classmethod
    def insert_many(cls, rows: Iterable[Any]) -> list[Any]:
        """Inserts rows (dicts of fields, or instances of the class) in one commit;
        returns their keys. All of them or, if one is refused, none."""
        raise _undecorated(cls)

    @classmethod
    def select(cls, where: Where = None, order_by: OrderBy = None,
               limit: Optional[int] = None,
               offset: Optional[int] = None) -> list[dict[str, Any]]:
        """The rows ``where(row)`` accepts, as dicts (see ``@table()``'s own)."""
        raise _undecorated(cls)

    @classmethod
    def get(cls, id: Any) -> Optional[dict[str, Any]]:
        """The row with primary key ``id``, or ``None``."""
        raise _undecorated(cls)

    @classmethod
    def get_by(cls, column: str, value: Any) -> Optional[dict[str, Any]]:
        """The row whose unique ``column`` holds ``value``, or ``None``."""
        raise _undecorated(cls)

    @classmethod
    def update(cls, where: Where = None, **changes: Any) -> int:
        """Sets ``changes`` in every row ``where(row)`` accepts; returns how many."""
        raise _undecorated(cls)

    @classmethod
    def delete(cls, where: Where = None) -> int:
        """Deletes every row ``where(row)`` accepts; returns how many."""
        raise _undecorated(cls)

    @classmethod
    def count(cls, where: Where = None) -> int:
        """How many rows ``where(row)`` accepts."""
        raise _undecorated(cls)


def _undecorated(cls: type) -> TypeError:
    return TypeError(f"{cls.__name__} is not a table yet: decorate it with @tabula.table()")


# The class methods written in Python; insert, insert_many, get and get_by are the
# engine's own (see `table` below).
_METHODS: dict[str, Callable[..., Any]] = {
    "select": _select, "update": _update, "delete": _delete,
    "count": _count_rows,
}


def table(db: Optional[Database] = None, name: Optional[str] = None, *,
          unique: Sequence[Any] = (), index: Sequence[Any] = (),
          check: Union[None, str, Sequence[str]] = None,
          dropped: Sequence[str] = ()) -> Callable[[type[T]], type[T]]:
    """Makes a dataclass a table of ``db`` (the default in-memory database without it),
    named ``name`` (the class name in snake_case without it).

    Field metadata: ``primary_key``, ``unique``, ``nullable`` (default: nullable only for
    ``Optional[...]``), ``index``, ``references`` (a table name or class) with
    ``on_delete`` (``'restrict'``, ``'cascade'``, ``'set_null'``), ``check`` (a SQL
    condition), ``renamed_from`` (the column's old name). The decorator takes composite
    ``unique=[("a", "b")]`` and ``index=[("a", "b")]``, table ``check="..."`` and
    ``dropped=["old_column"]``. Dataclass defaults become column defaults.

    A class whose fields changed since the table was stored migrates under the same rules
    as the Rust derive (new nullable or defaulted columns, renames, drops, lossless
    widening, constraints added or removed), or raises ``tabula.SchemaMismatch`` listing
    the differences; ``db.migration_plan(cls)`` shows the plan first.

    The class gains ``insert``, ``insert_many``, ``select``, ``get``, ``get_by``,
    ``update``, ``delete`` and ``count`` class methods.
    """
    if isinstance(db, type):
        # `@tabula.table` without its parentheses: the class came as `db`.
        raise TypeError(
            f"@tabula.table needs its parentheses: write @tabula.table() (or "
            f"@tabula.table(db=...)) above class {db.__name__}")
    if db is not None and not isinstance(db, Database):
        raise TypeError(f"table(db=...) takes a tabula.Database, not {db!r}")

    def bind(cls: type[T]) -> type[T]:
        if not isinstance(cls, type):
            raise TypeError(f"@table() decorates a class, not {cls!r}")
        target: Any = cls if dataclasses.is_dataclass(cls) else dataclasses.dataclass(cls)
        options = {"name": name, "unique": unique, "index": index, "check": check,
                   "dropped": dropped}
        described = describe_class(target, options)
        database = db if db is not None else default_database()
        _same_database(target, database)
        native = database._attach(described)
        # Kept only once bound: a refused decoration leaves the class's options as they
        # were, so that a later migration_plan() of it is not judged by them.
        target.__tabula_options__ = options
        target.__tabula__ = Binding(database, native, described)
        for method, f in _METHODS.items():
            setattr(target, method, classmethod(f))
        # The lookups and inserts go straight to the engine, with no Python frame between:
        # insert(**fields) -> key, insert_many(rows) -> [key] (dicts or instances of the
        # class, one commit), get(id) -> dict | None, get_by(column, value).
        target.insert = native.insert
        target.insert_many = native.insert_many
        target.get = native.get
        target.get_by = native.get_by
        return target

    return bind
