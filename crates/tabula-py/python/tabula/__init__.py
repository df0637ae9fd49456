"""tabula: an embedded, in-memory table database on a Rust engine, with the seed's
decorator API::

    from dataclasses import dataclass, field
    from tabula import table

    @table()
    @dataclass
    class Student:
        id: int = field(metadata={'primary_key': True})
        name: str = field(metadata={'nullable': False})
        email: str = field(metadata={'unique': True, 'nullable': False})
        gpa: float = field(default=0.0)

    Student.insert(name="Alice Johnson", email="alice@university.edu", gpa=3.8)
    top = Student.select(where=lambda s: s['gpa'] > 3.5, order_by='-gpa', limit=3)

Type checkers and editors see the class methods when the class also inherits from
``tabula.Model`` (optional). See the package README for persistence, transactions, SQL
and the exceptions.
"""

from ._database import Database, Transaction, default_database
from ._errors import *  # noqa: F401,F403 - one exception class per engine error
from ._errors import __all__ as _error_names
from ._table import Model, table

__all__ = ["Database", "Model", "Transaction", "default_database", "table", *_error_names]
__version__ = "0.1.0"
