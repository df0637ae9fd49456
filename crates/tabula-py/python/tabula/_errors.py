"""tabula's exceptions: ``tabula.Error`` and one subclass per ``tabula::Error`` variant of
the Rust engine, with the same name. Each carries the engine's message, which names the
table, the column and the value involved; most also carry them as attributes
(``e.table``, ``e.column``, ``e.value``)."""

from __future__ import annotations


class Error(Exception):
    """Every failure tabula reports. A failed operation changes nothing."""

    table: str | None = None
    column: str | None = None
    value: object = None
    #: In a ``db.sql`` text of several statements, the number of the one that failed
    #: (from 1); its message starts "statement N (line L) failed".
    statement: int | None = None


class UniqueViolation(Error):
    """A unique column (or the primary key) already holds this value in another row."""


class NotNull(Error):
    """A column that is not nullable was given no value or ``None``."""


class TypeMismatch(Error, TypeError):
    """A value does not fit the type of its column. Also a ``TypeError``."""


class UnknownTable(Error):
    """No table of this name exists."""


class UnknownColumn(Error):
    """A table has no column of this name."""


class Check(Error):
    """A row makes a check false; ``e.constraint`` is the check as written, ``e.value``
    the row's key (``None`` before an insert assigned one), ``e.values`` the columns the
    check reads with the row's values (``{"credits": 0}``), and ``e.column`` the column
    when the check reads just one."""

    constraint: str | None = None
    values: dict | None = None


class Sql(Error):
    """SQL text that cannot be parsed or bound; ``e.line`` and ``e.sql_column`` say where."""

    line: int | None = None
    sql_column: int | None = None


class Unsupported(Error):
    """A SQL feature tabula does not support."""


class InvalidExpression(Error):
    """A condition (a ``check``) that cannot be parsed or does not fit the table."""


class InvalidColumnUse(Error):
    """A column used in a way it does not allow (``get_by`` on a column that is not unique,
    ordering by a json column)."""


class PrimaryKeyChanged(Error):
    """An update tried to change a row's primary key."""


class KeyExhausted(Error):
    """The auto-increment counter cannot produce another key."""


class SchemaMismatch(Error):
    """A class's schema differs from its stored table in a way no migration covers; the
    message lists every difference."""


class InvalidName(Error):
    """A table or column name is not allowed."""


class ForeignKey(Error):
    """A foreign key points at a row that does not exist, or a referenced row is in use."""


class TableReferenced(Error):
    """A table other tables reference cannot be dropped."""


class InTransaction(Error):
    """A call that would wait for the transaction open on this thread (a checkpoint, a
    close, a migration inside ``with db.transaction():``)."""


class MigrationInTransaction(Error):
    """A table that needs a migration was attached inside a transaction."""


class WrongDatabase(Error):
    """A handle of one database was used with another."""


class TransactionTooLarge(Error):
    """One transaction's changes are larger than the write-ahead log accepts."""


class TableFull(Error):
    """A table holds as many rows as it can address."""


class Aborted(Error):
    """A transaction gave up with an error of the caller's own."""


class Reentrant(Error):
    """A table was used from inside a callback of another call on it."""


class NotADatabase(Error):
    """A path is not a tabula database directory."""


class ExportIntoDatabase(Error):
    """An export would write inside the database directory."""


class Corrupt(Error):
    """A stored file is damaged."""


class Io(Error):
    """A file-system operation failed."""


class Locked(Error):
    """Another process (or another open database) has the directory open for writing."""


class ReadOnly(Error):
    """A write on a database opened with ``read_only=True``."""


class Json(Error):
    """A JSON document (an import, a schema) could not be read."""


class Closed(Error):
    """The database was closed."""


class Poisoned(Error):
    """An earlier failure left the database unusable until it is reopened."""


__all__ = [name for name, value in list(globals().items())
           if isinstance(value, type) and issubclass(value, Error)]
