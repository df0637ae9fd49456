"""Fixtures for the tabula tests.

Every test binds its tables to a database of its own (``@table(db=db)``), so tests share
no state: ``db`` is a fresh in-memory database, ``pdb`` a fresh persistent one in a
temporary directory. ``university`` is the seed's three classes bound to ``db``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Optional

import pytest

import tabula
from tabula import Database, table


@pytest.fixture
def db():
    """A fresh in-memory database, closed after the test."""
    d = Database()
    yield d
    try:
        d.close()
    except tabula.Error:
        pass


def _close_quietly(d: Database) -> None:
    try:
        d.close()
    except tabula.Error:
        pass


@pytest.fixture
def pdb(tmp_path):
    """A fresh persistent database in a temporary directory (``base_path=tmp_path``,
    ``name="university"``), closed after the test so the directory is free again."""
    d = Database(name="university", persist=True, base_path=str(tmp_path))
    yield d
    _close_quietly(d)
    # A test may have reopened the directory: close whatever this process still holds.
    from tabula import _database
    for other in list(_database.open_databases()):
        if other.path and other.path.startswith(os.path.realpath(str(tmp_path))):
            _close_quietly(other)


def make_university(database: Database) -> SimpleNamespace:
    """The seed's Student, Course and Registration classes, bound to ``database``."""

    @table(db=database)
    @dataclass
    class Student:
        id: int = field(metadata={'primary_key': True})
        name: str = field(metadata={'nullable': False})
        email: str = field(metadata={'unique': True, 'nullable': False})
        gpa: float = field(default=0.0)

    @table(db=database)
    @dataclass
    class Course:
        id: int = field(metadata={'primary_key': True})
        code: str = field(metadata={'unique': True})
        title: str = field(default="")
        credits: int = field(default=3, metadata={'check': 'credits > 0'})

    @table(db=database, unique=[("student_id", "course_id")])
    @dataclass
    class Registration:
        id: int = field(metadata={'primary_key': True})
        student_id: int = field(metadata={'references': Student, 'on_delete': 'cascade'})
        course_id: int = field(metadata={'references': Course, 'on_delete': 'restrict'})
        grade: Optional[str] = None

    return SimpleNamespace(Student=Student, Course=Course, Registration=Registration)


STUDENTS = [
    dict(name="Alice Johnson", email="alice@university.edu", gpa=3.8),
    dict(name="Bob Smith", email="bob@university.edu", gpa=3.2),
    dict(name="Carol White", email="carol@university.edu", gpa=3.9),
    dict(name="David Brown", email="david@university.edu", gpa=2.7),
    dict(name="Eve Davis", email="eve@university.edu", gpa=3.5),
    dict(name="Frank Miller", email="frank@university.edu", gpa=1.9),
]


@pytest.fixture
def uni(db):
    """The seed's classes on ``db``, with six students, two courses, three
    registrations."""
    u = make_university(db)
    u.db = db
    u.ids = u.Student.insert_many(STUDENTS)
    u.cs = u.Course.insert(code="CS101", title="Programming", credits=4)
    u.math = u.Course.insert(code="MATH150", title="Calculus")
    u.Registration.insert(student_id=u.ids[0], course_id=u.cs, grade="A")
    u.Registration.insert(student_id=u.ids[0], course_id=u.math)
    u.Registration.insert(student_id=u.ids[1], course_id=u.cs, grade="B")
    return u


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh Python process (this interpreter), returning its result
    with stdout and stderr as text."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout)
