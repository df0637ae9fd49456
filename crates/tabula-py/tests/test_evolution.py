"""Schema evolution of a dataclass: the table a changed class is bound to migrates under
the Rust derive's rules, or the decorator raises ``tabula.SchemaMismatch`` listing every
difference; ``db.migration_plan(cls)`` is the dry run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pytest

import tabula
from tabula import Database, table


def v1(db):
    @table(db=db, name="person")
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        age: int = 0
        nickname: Optional[str] = None

    Person.insert_many([dict(name="Ann", age=30, nickname="A"), dict(name="Ben", age=41)])
    return Person


def columns(db, table_name="person"):
    return list(db.sql(f"SELECT * FROM {table_name} LIMIT 1")[0])


def test_add_a_defaulted_and_an_optional_column(db):
    v1(db)

    @table(db=db, name="person")
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        age: int = 0
        nickname: Optional[str] = None
        city: str = "Oslo"
        email: Optional[str] = None
        score: float = 1.5

    rows = Person.select()
    assert [(r["name"], r["city"], r["email"], r["score"]) for r in rows] == [
        ("Ann", "Oslo", None, 1.5), ("Ben", "Oslo", None, 1.5)]
    Person.insert(name="Cid", city="Bergen")
    assert Person.get_by("id", 3)["city"] == "Bergen"


def test_renamed_from(db):
    v1(db)

    @table(db=db, name="person")
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        full_name: str = field(default="", metadata={"renamed_from": "name"})
        age: int = 0
        nickname: Optional[str] = None

    assert [r["full_name"] for r in Person.select()] == ["Ann", "Ben"]
    assert "name" not in columns(db)


def test_schema_history_lists_each_migration(tmp_path):
    db = Database(path=str(tmp_path / "h"))
    v1(db)
    assert db.schema_history("person") == []

    @table(db=db, name="person")
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        full_name: str = field(default="", metadata={"renamed_from": "name"})
        age: float = 0.0
        nickname: Optional[str] = None

    history = db.schema_history("person")
    assert [h["change"] for h in history] == ["rename name -> full_name", "widen age i64 -> f64"]
    # One migration: its changes share its log position.
    assert history[0]["lsn"] == history[1]["lsn"] > 0
    with pytest.raises(tabula.UnknownTable):
        db.schema_history("nobody")
    db.close()


def test_dropped(db):
    v1(db)

    @table(db=db, name="person", dropped=["nickname"])
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        age: int = 0

    assert Person.select() == [{"id": 1, "name": "Ann", "age": 30},
                               {"id": 2, "name": "Ben", "age": 41}]
    assert columns(db) == ["id", "name", "age"]


def test_a_column_left_out_without_dropped_is_refused(db):
    Old = v1(db)
    with pytest.raises(tabula.SchemaMismatch) as e:
        @table(db=db, name="person")
        @dataclass
        class Person:
            id: int = field(metadata={"primary_key": True})
            name: str = ""
            age: int = 0
    msg = str(e.value)
    assert "column nickname is gone from the dataclass" in msg
    assert '@table(dropped=["nickname"])' in msg
    assert 'field(metadata={"renamed_from": "nickname"})' in msg
    assert "#[" not in msg
    assert Old.count() == 2 and "nickname" in columns(db)


def test_widening_int_to_float(db):
    v1(db)

    @table(db=db, name="person")
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        age: float = 0.0
        nickname: Optional[str] = None

    ages = [r["age"] for r in Person.select()]
    assert ages == [30.0, 41.0] and all(type(a) is float for a in ages)
    Person.insert(name="Half", age=2.5)
    assert Person.count(where=lambda p: p["age"] > 2.4) == 3


def test_an_incompatible_change_lists_every_difference(db):
    Old = v1(db)
    with pytest.raises(tabula.SchemaMismatch) as e:
        @table(db=db, name="person")
        @dataclass
        class Person:
            id: int = field(metadata={"primary_key": True})
            name: int = 0                                          # text -> int
            age: str = ""                                          # int -> text
            nickname: Optional[str] = None
            required: str = field(default=None, metadata={"nullable": False})  # no default
    msg = str(e.value)
    assert "person" in msg
    for column in ("name", "age", "required"):
        assert column in msg, (column, msg)
    assert "T to Optional[T]" in msg and "Option<" not in msg, msg
    assert e.value.table == "person"
    # Nothing changed: the old class still works on the old table.
    assert Old.select()[0] == {"id": 1, "name": "Ann", "age": 30, "nickname": "A"}


def test_migration_plan_is_a_dry_run(db):
    Old = v1(db)

    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        full_name: str = field(default="", metadata={"renamed_from": "name"})
        age: float = 0.0
        city: str = "Oslo"

    Person.__tabula_options__ = {"name": "person", "dropped": ["nickname"]}
    plan = db.migration_plan(Person)
    assert isinstance(plan, list) and all(isinstance(p, str) for p in plan)
    text = "\n".join(plan)
    for word in ("full_name", "age", "city", "nickname"):
        assert word in text, (word, plan)
    # Nothing changed.
    assert columns(db) == ["id", "name", "age", "nickname"]
    assert Old.select()[1] == {"id": 2, "name": "Ben", "age": 41, "nickname": None}
    # The same class as stored: no change at all.
    assert db.migration_plan(Old) == []


def test_migration_plan_takes_the_options_table_would_be_given(db):
    Old = v1(db)

    @dataclass
    class NextPerson:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        age: int = 0

    # Without them the class is another table (named after it), and a dropped field is
    # not known to be dropped.
    assert db.migration_plan(NextPerson) == ["create table next_person"]
    with pytest.raises(tabula.SchemaMismatch, match="nickname"):
        db.migration_plan(NextPerson, "person")
    plan = db.migration_plan(NextPerson, "person", dropped=["nickname"],
                             index=["age"], check="age >= 0")
    text = "\n".join(plan)
    for word in ("drop nickname (1 value)", "build index on age", "add check age >= 0"):
        assert word in text, (word, plan)
    # A decorated class's own options, replaced by those given.
    assert db.migration_plan(Old) == []
    assert "build index on age" in "\n".join(db.migration_plan(Old, index=["age"]))
    assert columns(db) == ["id", "name", "age", "nickname"]


def test_renames_that_swap_columns_are_refused(db):
    v1(db)
    with pytest.raises(tabula.SchemaMismatch, match="renamed_from='age' names a field"):
        @table(db=db, name="person")
        @dataclass
        class Person:
            id: int = field(metadata={"primary_key": True})
            name: str = field(default="", metadata={"renamed_from": "age"})
            age: str = field(default="", metadata={"renamed_from": "name"})
            nickname: Optional[str] = None
    assert db.sql("SELECT name, age FROM person WHERE id = 1") == [{"name": "Ann", "age": 30}]


def test_two_fields_renamed_from_one_column_are_refused(db):
    v1(db)
    for bind in (lambda cls: table(db=db, name="person")(cls),
                 lambda cls: db.migration_plan(cls, name="person")):
        @dataclass
        class Person:
            id: int = field(metadata={"primary_key": True})
            given: str = field(default="", metadata={"renamed_from": "name"})
            alias: str = field(default="", metadata={"renamed_from": "name"})
            age: int = 0
            nickname: Optional[str] = None

        with pytest.raises(tabula.SchemaMismatch,
                           match="fields 'given' and 'alias' are both renamed_from='name'"):
            bind(Person)
    assert columns(db) == ["id", "name", "age", "nickname"]


def test_a_column_renamed_by_sql_is_offered_back_as_a_rename(db):
    v1(db)
    db.sql("ALTER TABLE person RENAME COLUMN name TO full_name")
    with pytest.raises(tabula.SchemaMismatch) as e:
        @table(db=db, name="person")
        @dataclass
        class Person:
            id: int = field(metadata={"primary_key": True})
            name: str = ""
            age: int = 0
            nickname: Optional[str] = None
    msg = str(e.value)
    assert ("column full_name is gone from the dataclass, which has a new column name: if "
            "name is full_name under a new name, mark it "
            'field(metadata={"renamed_from": "full_name"}) (its values are kept); to drop it '
            'and its data, name it in @table(dropped=["full_name"])') in msg, msg
    assert columns(db) == ["id", "full_name", "age", "nickname"]


def test_migration_plan_of_an_incompatible_class_raises(db):
    v1(db)

    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        name: int = 0
        age: int = 0
        nickname: Optional[str] = None

    Person.__tabula_options__ = {"name": "person"}
    with pytest.raises(tabula.SchemaMismatch) as e:
        db.migration_plan(Person)
    assert "name" in str(e.value)


def test_constraints_added_and_removed(db):
    v1(db)

    @table(db=db, name="person")
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        name: str = field(default="", metadata={"unique": True})
        age: int = field(default=0, metadata={"index": True})
        nickname: Optional[str] = None

    with pytest.raises(tabula.UniqueViolation):
        Person.insert(name="Ann")
    assert Person.get_by("name", "Ben")["age"] == 41

    @table(db=db, name="person")
    @dataclass
    class Person2:
        id: int = field(metadata={"primary_key": True})
        name: str = ""
        age: int = 0
        nickname: Optional[str] = None

    Person2.insert(name="Ann")
    assert Person2.count() == 3


def test_a_unique_constraint_the_data_breaks_is_refused(db):
    Old = v1(db)
    Old.insert(name="Ann", age=5)
    with pytest.raises(tabula.SchemaMismatch) as e:
        @table(db=db, name="person")
        @dataclass
        class Person:
            id: int = field(metadata={"primary_key": True})
            name: str = field(default="", metadata={"unique": True})
            age: int = 0
            nickname: Optional[str] = None
    assert "name" in str(e.value) and "Ann" in str(e.value)
    assert Old.count() == 3


def test_evolution_across_a_reopen(tmp_path):
    db = Database(name="evolve", persist=True, base_path=str(tmp_path))
    v1(db)
    db.close()
    db = Database(name="evolve", persist=True, base_path=str(tmp_path))

    @table(db=db, name="person", dropped=["nickname"])
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        full_name: str = field(default="", metadata={"renamed_from": "name"})
        age: float = 0.0
        city: str = "Oslo"

    assert Person.get(1) == {"id": 1, "full_name": "Ann", "age": 30.0, "city": "Oslo"}
    db.close()
    db = Database(name="evolve", persist=True, base_path=str(tmp_path))

    # The migrated class binds again with nothing to do (its renamed_from is history).
    @table(db=db, name="person", dropped=["nickname"])
    @dataclass
    class Person:
        id: int = field(metadata={"primary_key": True})
        full_name: str = field(default="", metadata={"renamed_from": "name"})
        age: float = 0.0
        city: str = "Oslo"

    assert db.migration_plan(Person) == []
    assert [p["full_name"] for p in Person.select()] == ["Ann", "Ben"]
    db.close()


def test_migrating_inside_a_transaction_is_refused(db):
    v1(db)
    with db.transaction():
        with pytest.raises(tabula.InTransaction):
            @table(db=db, name="person")
            @dataclass
            class Person:
                id: int = field(metadata={"primary_key": True})
                name: str = ""
                age: int = 0
                nickname: Optional[str] = None
                city: str = "Oslo"


def test_a_class_whose_table_migrated_since_says_so_whatever_it_is_given(db):
    @table(db=db, name="t")
    @dataclass
    class Old:
        id: int = field(metadata={"primary_key": True})
        x: int = field(default=0, metadata={"unique": True})

    Old.insert(x=1)

    @table(db=db, name="t")
    @dataclass
    class New:
        id: int = field(metadata={"primary_key": True})
        x: Optional[int] = field(default=None, metadata={"unique": True})

    # Values the old class's schema refuses (a null, a text) are judged by the table as it
    # is now: the answer is that the class is stale, never the old column's NotNull.
    for call in (lambda: Old.insert(x=None), lambda: Old.insert(x="a"),
                 lambda: Old.insert_many([{"x": None}]), lambda: Old.update(x=None),
                 lambda: Old.get("a"), lambda: Old.get_by("x", "a"), lambda: Old.insert(x=2)):
        with pytest.raises(tabula.SchemaMismatch, match="migrated"):
            call()
    assert New.select() == [{"id": 1, "x": 1}]


def test_dropped_names_a_column_the_class_no_longer_has(db):
    v1(db)
    with pytest.raises(tabula.SchemaMismatch, match="dropped='age' names a field"):
        @table(db=db, name="person", dropped=["age"])
        @dataclass
        class Person:
            id: int = field(metadata={"primary_key": True})
            name: str = ""
            age: int = 0
            nickname: Optional[str] = None
    with pytest.raises(tabula.SchemaMismatch, match="both dropped and the old name"):
        @table(db=db, name="person", dropped=["age"])
        @dataclass
        class Person2:
            id: int = field(metadata={"primary_key": True})
            name: str = ""
            years: int = field(default=0, metadata={"renamed_from": "age"})
            nickname: Optional[str] = None
    assert columns(db) == ["id", "name", "age", "nickname"]


def test_a_refused_decoration_leaves_no_options_for_migration_plan(db):
    @table(db=db, name="q")
    @dataclass
    class Q:
        id: int = field(metadata={"primary_key": True})
        a: int = 0
        b: int = 0

    Q.insert(a=1, b=1)

    @dataclass
    class Q2:
        id: int = field(metadata={"primary_key": True})
        a: int = 0

    with pytest.raises(tabula.SchemaMismatch, match="unknown column b"):
        table(db=db, name="q", unique=[("a", "b")], dropped=["b"])(Q2)
    # The dry run of the options the binding below is given says what it does.
    assert db.migration_plan(Q2, name="q", dropped=["b"]) == ["drop b (1 value)"]
    bound = table(db=db, name="q", dropped=["b"])(Q2)
    assert bound.select() == [{"id": 1, "a": 1}]
