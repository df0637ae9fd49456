"""``tabula.Database``: one database, in memory or in a directory, shared by every
``@table()`` class bound to it."""

from __future__ import annotations

from collections.abc import Mapping, Set
import os
import threading
import weakref
from typing import Any, Iterator, Optional, Sequence, Union

from . import _errors
from ._native import Database as _NativeDatabase

# Directories this process has open: opening one again returns the same Database.
_open: dict[str, "Database"] = {}
_open_lock = threading.Lock()
# The in-memory databases alive, for a forked child (see `_after_fork_in_child`).
_in_memory: "weakref.WeakSet[Database]" = weakref.WeakSet()


class Database:
    """A tabula database.

    ``Database()`` is in memory. ``Database(name="university", persist=True,
    base_path="./data")`` keeps it in ``./data/university`` (``path=`` names the directory
    itself): every commit is in its write-ahead log before it returns (with
    ``durability="immediate"``, the default; ``"buffered"`` leaves the flush to the
    operating system), and opening the directory again recovers it. Opening a directory
    this process already has open returns the same object; another process gets
    ``tabula.Locked`` (``read_only=True`` reads beside it).
    """

    _native: _NativeDatabase

    def __new__(cls, name: Optional[str] = None, persist: bool = False,
                base_path: str = "./data", path: Optional[str] = None,
                durability: str = "immediate", read_only: bool = False) -> "Database":
        # Checked first: a bad value is the answer, whether or not the directory is open.
        if durability not in ("immediate", "buffered"):
            raise ValueError(
                f'durability must be "immediate" or "buffered", not {durability!r}')
        directory = _directory(name, persist, base_path, path)
        if directory is None:
            self = super().__new__(cls)
            self._setup(name, None, durability, read_only)
            _in_memory.add(self)
            return self
        with _open_lock:
            existing = _open.get(directory)
            if existing is not None and not existing._native.is_open():
                # Closed without close() saying so: opened afresh below.
                existing._forget_locked()
                existing = None
            if existing is not None:
                asked = {"durability": durability, "read_only": read_only}
                differ = {k: v for k, v in asked.items() if getattr(existing, k) != v}
                if differ:
                    now = ", ".join(f"{k}={getattr(existing, k)!r}" for k in differ)
                    want = ", ".join(f"{k}={v!r}" for k, v in differ.items())
                    raise _errors.Error(
                        f"{directory} is already open in this process with {now}; close it "
                        f"before opening it with {want}")
                return existing
            self = super().__new__(cls)
            self._setup(name, directory, durability, read_only)
            _open[directory] = self
            return self

    def _setup(self, name: Optional[str], directory: Optional[str], durability: str,
               read_only: bool) -> None:
        self.name = name
        self.durability = durability
        self.read_only = read_only
        self._directory = directory
        self._native = _NativeDatabase(directory, durability, read_only)
        self._classes: dict[str, type] = {}
        self._closed = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Everything happens in __new__, which may return an already open database.
        pass

    def __repr__(self) -> str:
        where = self._directory or "in memory"
        return f"<tabula.Database {self.name or ''} {where}>".replace("  ", " ")

    # -- the calling thread's transaction ---------------------------------------------

    def transaction(self) -> "Transaction":
        """``with db.transaction():`` runs its block as one transaction: everything the
        block writes (on this thread, through any table of this database) commits
        together when the block ends, and nothing does if it raises. Reads inside see the
        block's own writes; other threads see none of them until the commit, and their
        writes wait for it. Under asyncio the block is its context's: tasks it starts
        run inside it; the thread's other tasks read the last committed version, and their
        writes raise ``tabula.InTransaction`` while it is open."""
        return Transaction(self)

    # -- the seed's persistence API ---------------------------------------------------

    def save(self) -> None:
        """Writes a checkpoint: every table's snapshot, and a fresh write-ahead log. (Each
        commit is already durable; this makes reopening faster and archives the log.)"""
        self._native.checkpoint()

    def checkpoint(self) -> None:
        """The same as :meth:`save`."""
        self.save()

    def load(self) -> None:
        """Loads every table into memory now (opening already recovered the database;
        tables are otherwise loaded when first used)."""
        self._native.load()

    def refresh(self) -> None:
        """For ``read_only=True``: reads the writer's newer commits. A table another
        process migrated since this database read it (its columns changed) raises
        ``tabula.SchemaMismatch``: ``close()`` this database, then open it again."""
        try:
            self._native.refresh()
        except _errors.SchemaMismatch as e:
            # Opening the directory again while this one is open returns this one.
            if e.args and "open the database again" in str(e.args[0]):
                e.args = (f"{e.args[0]} (in Python: close() this Database first, since "
                          "opening a directory this process has open returns the same "
                          "Database)",) + e.args[1:]
            raise

    def close(self) -> None:
        """Closes the database: a last checkpoint, then the directory is free for others.
        Tables bound to it fail afterwards with ``tabula.Closed``. Closing it again does
        nothing, as for Python's files and ``sqlite3`` connections (so ``with db:`` around
        a block that closed it does not fail on the way out)."""
        if self._closed:
            return
        try:
            self._native.close()
        finally:
            # The engine closes even when its last checkpoint fails (a database poisoned by
            # a failed write raises that here): the directory is then free to open again,
            # and this object is closed whatever was raised.
            if not self._native.is_open():
                self._forget()

    def _forget(self) -> None:
        """Marks this database closed and no longer the one its directory opens to."""
        with _open_lock:
            self._forget_locked()

    def _forget_locked(self) -> None:
        """:meth:`_forget`, with ``_open_lock`` held by the caller."""
        self._closed = True
        if self._directory is not None and _open.get(self._directory) is self:
            del _open[self._directory]

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def statistics(self) -> dict:
        """Rows per table, bytes on disk (snapshots, log, archives), log positions."""
        return self._native.statistics()

    def export_json(self, path: "str | os.PathLike[str]") -> None:
        """Writes every table (schema and rows) to one JSON file."""
        self._native.export_json(os.fspath(path))

    def import_json(self, path: "str | os.PathLike[str]") -> int:
        """Reads a file :meth:`export_json` wrote, as one transaction; returns the rows."""
        return self._native.import_json(os.fspath(path))

    def schema_history(self, table: str) -> list[dict]:
        """The schema changes table ``table`` went through, oldest first: one dict
        ``{"lsn": int, "change": str}`` per change (``"rename name -> full_name"``,
        ``"widen age i64 -> f64"``, ...), the changes of one migration sharing its log
        position. Empty for a table never migrated; ``tabula.UnknownTable`` for a name
        that is no table."""
        return self._native.schema_history(table)

    def tables(self) -> list[str]:
        """The names of the tables, sorted."""
        return self._native.tables()

    def sql(self, text: str, params: Sequence[Any] = ()) -> "list[dict] | int":
        """Runs SQL (see the project's docs/SQL.md): one or more statements separated by
        ``;``. Returns the last statement's rows as a list of dicts when it returns rows,
        else the number of rows it changed (after ``COMMIT``, the number the transaction's
        last statement that changes rows changed, as ``sqlite3``'s ``changes()``). ``?`` or ``$1`` placeholders take ``params``.
        Inside ``with db.transaction():`` it is part of the transaction. A name the
        result repeats (``SELECT a.id, b.id``) is ``id``, then ``id:1``, ``id:2``, ... (as
        ``tabula sql`` prints it), so no column is lost."""
        if self._closed:
            # The engine refuses every statement on a closed database but one that reads
            # no table (`SELECT 1`), which it would still answer.
            where = (f"database {self._directory}" if self._directory
                     else "the in-memory database")
            raise _errors.Closed(f"{where} is closed")
        if isinstance(params, (str, bytes, bytearray, memoryview, Mapping, Set)):
            # A mapping would bind its keys, a string its characters, a set in no order.
            raise TypeError(
                "sql() takes its parameters as a list or tuple (for ? or $1 placeholders), "
                f"not {type(params).__name__}")
        columns, rows, changed = self._native.sql(text, list(params))
        return rows if columns else changed

    @property
    def path(self) -> Optional[str]:
        """The database directory, or ``None`` in memory."""
        return self._directory

    def _attach(self, described: Any) -> Any:
        return self._native.attach(described.json, described.renamed, described.dropped,
                                   described.containers)

    def migration_plan(self, cls: type, name: Optional[str] = None, *,
                       unique: Optional[Sequence[Any]] = None,
                       index: Optional[Sequence[Any]] = None,
                       check: Union[None, str, Sequence[str]] = None,
                       dropped: Optional[Sequence[str]] = None) -> list[str]:
        """What binding ``cls`` (a ``@table()`` class, or one about to be) to this database
        would change, in words, changing nothing: the dry run of a migration. The options
        are ``@table()``'s, for a class about to be decorated with them (``dropped=`` for a
        field removed, ``name=`` for a table not named after the class); a class decorated
        already has its own, which those given here replace."""
        from . import _table
        if not isinstance(cls, type):
            raise TypeError(f"migration_plan takes a class, not {type(cls).__name__}")
        given = {"name": name, "unique": unique, "index": index, "check": check,
                 "dropped": dropped}
        described = _table.describe_class(
            cls, {k: v for k, v in given.items() if v is not None})
        return self._native.migration_plan(described.json, described.renamed,
                                           described.dropped)


class Transaction:
    """The context manager :meth:`Database.transaction` returns."""

    def __init__(self, db: Database):
        self._db = db
        self._native: Any = None

    def __enter__(self) -> "Transaction":
        # The engine refuses a second one on this thread (tabula.InTransaction).
        self._native = self._db._native.begin()
        return self

    def __del__(self) -> None:
        # Entered and dropped without __exit__ (a misuse, or a generator never resumed):
        # roll back, or the writer's turn would stay taken and this thread's later calls
        # would all run inside a transaction nobody commits.
        native = getattr(self, "_native", None)
        if native is not None and native.is_open():
            try:
                native.rollback()
            except Exception:
                pass

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._native is None:
            raise _errors.Error(
                "this transaction was never begun: use it as `with db.transaction():`")
        if exc_type is None:
            self._native.commit()
        else:
            self._native.rollback()


def _directory(name: Optional[str], persist: bool, base_path: str,
               path: Optional[str]) -> Optional[str]:
    if path is not None:
        if not os.fspath(path):
            raise ValueError("path= names the database directory; it cannot be empty")
        # base_path only places a named database: beside path= it would be ignored, and a
        # caller who gave both meant one of two directories.
        if base_path is not None and os.path.normpath(os.fspath(base_path)) != "data":
            raise ValueError(f"path= names the database directory itself; base_path= "
                             f"({os.fspath(base_path)!r}) places a database by its name, "
                             f"so give one of them")
        return _resolved(os.fspath(path))
    if not persist:
        return None
    if name is not None and not isinstance(name, str):
        raise TypeError(f"a Database name is a str, not {type(name).__name__}")
    if not name:
        raise ValueError("a persistent Database needs a name (or a path=)")
    if os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise ValueError(f"a Database name is one directory name inside base_path, not "
                         f"{name!r}; use path= for a directory elsewhere")
    return _resolved(os.path.join(os.fspath(base_path), name))


def _resolved(path: str) -> str:
    """The directory ``path`` names, links followed (one directory opened under two names is
    one database). A symbolic link that leads nowhere stays as it is: followed, the database
    would be made wherever it points; the engine refuses it, saying what it is."""
    if os.path.islink(path) and not os.path.exists(path):
        return os.path.abspath(path)
    return os.path.realpath(path)


def _after_fork_in_child() -> None:
    # A forked child shares the parent's open files and directory lock: its writes would
    # interleave with the parent's in the log. Its copies of the parent's databases refuse
    # every call (tabula.Closed), and it may open directories afresh.
    global _open_lock, _default_lock
    # Another thread of the parent may have held these (an open under way): no thread
    # here will give them back.
    _open_lock = threading.Lock()
    _default_lock = threading.Lock()
    for db in list(_open.values()):
        db._native.forked()
    _open.clear()
    # Its copies of in-memory databases are its own, and work; but one whose writers' turn
    # a thread of the parent held at the fork would make every write wait forever for a
    # thread the child does not have: it refuses every call instead.
    for db in list(_in_memory):
        db._native.forked_in_memory()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_default: Optional[Database] = None
_default_lock = threading.Lock()


def default_database() -> Database:
    """The in-memory database that ``@table()`` classes without ``db=`` live in. Once it
    is closed, the next call makes a new, empty one (classes bound to the closed one stay
    bound to it, and raise ``tabula.Closed``)."""
    global _default
    with _default_lock:
        if _default is None or not _default._native.is_open():
            _default = Database(name="default")
        return _default


def open_databases() -> Iterator[Database]:
    """The directories this process has open (for tests and tools)."""
    with _open_lock:
        return iter(list(_open.values()))
