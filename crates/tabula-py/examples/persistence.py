"""The seed's persistence story on tabula: a database kept in a directory, saved, opened
again, its files on disk and its write-ahead log, exported to JSON and imported into a
second database, and its statistics.

Run it with ``python crates/tabula-py/examples/persistence.py [directory]``. Without a
directory it works in a temporary one and removes it at the end; with one it leaves the
database there (in ``<directory>/university``) to look at.
"""

import os
import sys
import tempfile
from dataclasses import dataclass, field

import tabula
from tabula import Database, table


def heading(text: str) -> None:
    print()
    print(text)
    print("-" * len(text))


def show_files(root: str) -> None:
    """Every file under ``root`` with its size, as ``tree`` would list them."""
    for directory, subdirs, files in sorted(os.walk(root)):
        subdirs.sort()
        depth = os.path.relpath(directory, root).count(os.sep) + (directory != root)
        if directory != root:
            print(f"    {'    ' * (depth - 1)}{os.path.basename(directory)}/")
        for name in sorted(files):
            size = os.path.getsize(os.path.join(directory, name))
            print(f"    {'    ' * depth}{name:40} {size:>9,} bytes")


def story(base_path: str) -> None:
    heading("1. Create a persistent database")
    db = Database(name="university", persist=True, base_path=base_path)
    print(f"    {db!r}: its directory is {db.path}")

    @table(db=db)
    @dataclass
    class Student:
        id: int = field(metadata={'primary_key': True})
        name: str = field(metadata={'nullable': False})
        email: str = field(metadata={'unique': True, 'nullable': False})
        gpa: float = field(default=0.0)

    @table(db=db)
    @dataclass
    class Course:
        id: int = field(metadata={'primary_key': True})
        code: str = field(metadata={'unique': True})
        title: str = ""

    heading("2. Insert and change data (every commit is in the write-ahead log at once)")
    Student.insert(name="Alice", email="alice@university.edu", gpa=3.8)
    Student.insert(name="Bob", email="bob@university.edu", gpa=3.5)
    Student.insert_many([
        dict(name="Carol", email="carol@university.edu", gpa=3.9),
        dict(name="David", email="david@university.edu", gpa=2.9),
    ])
    Course.insert_many([dict(code="CS101", title="Programming"),
                        dict(code="MATH150", title="Calculus")])
    Student.update(where=lambda s: s['name'] == "Bob", gpa=3.6)
    Student.delete(where=lambda s: s['gpa'] < 3.0)
    print(f"    {Student.count()} students, {Course.count()} courses")
    stats = db.statistics()
    print(f"    the log holds {stats['wal_records']} records, {stats['wal_bytes']:,} bytes "
          f"(commits up to number {stats['last_lsn']})")
    print("    files before the first save:")
    show_files(db.path)

    heading("3. Save: a checkpoint writes each table's snapshot and starts a fresh log")
    db.save()
    stats = db.statistics()
    print(f"    checkpoint at commit {stats['checkpoint_lsn']}; the log now holds "
          f"{stats['wal_records']} records; archived logs:")
    for archived in stats["archived"]:
        print(f"      {os.path.relpath(archived['path'], db.path)}: up to commit "
              f"{archived['last_lsn']}, {archived['bytes']:,} bytes")
    print("    files after the save:")
    show_files(db.path)
    records = os.path.join(db.path, "data", "student.records")
    print("    data/student.records, one JSON line per row:")
    with open(records, encoding="utf-8") as f:
        for line in f:
            print("      " + line.rstrip())
    schema = os.path.join(db.path, "schema", "student.schema.json")
    print(f"    schema/student.schema.json: {os.path.getsize(schema)} bytes of table metadata")

    heading("4. More writes after the save go to the new log")
    Student.insert(name="Eve", email="eve@university.edu", gpa=3.7)
    stats = db.statistics()
    print(f"    the log holds {stats['wal_records']} record(s), {stats['wal_bytes']:,} bytes")

    heading("5. Open it again, the seed's way")
    db_new = Database(name="university", persist=True, base_path=base_path)
    print(f"    Database(...) again is the same object: {db_new is db}")
    db_new.load()
    print("    students after load():")
    for s in Student.select(order_by="-gpa"):
        print(f"      {s}")

    heading("6. Export to JSON and import into a second database")
    export = os.path.join(base_path, "university-export.json")
    db.export_json(export)
    print(f"    {os.path.basename(export)}: {os.path.getsize(export):,} bytes")
    copy = Database(name="university-copy", persist=True, base_path=base_path)
    imported = copy.import_json(export)
    print(f"    imported {imported} rows into {copy.path}: tables {copy.tables()}")
    print("    the copy answers SQL:",
          copy.sql("SELECT name, gpa FROM student WHERE gpa > ? ORDER BY gpa DESC", [3.6]))
    copy.close()

    heading("7. Close (a last checkpoint), then open it as a new Database")
    db.close()
    reopened = Database(name="university", persist=True, base_path=base_path)
    print(f"    a new object after close(): {reopened is not db}; its tables: "
          f"{reopened.tables()}")
    print("    students:", [r["name"] for r in reopened.sql("SELECT name FROM student ORDER BY id")])
    try:
        Student.count()
    except tabula.Closed as e:
        print(f"    the class bound to the closed database says: {e}")

    heading("8. Statistics")
    stats = reopened.statistics()
    for t in stats["tables"]:
        print(f"    table {t['name']}: {t['rows']} rows, snapshot {t['snapshot_bytes']:,} "
              f"bytes, schema {t['schema_bytes']:,} bytes, indexes {t['indexes']}")
    for key in ("wal_bytes", "wal_records", "last_lsn", "checkpoint_lsn", "manifest_bytes",
                "total_bytes"):
        print(f"    {key}: {stats[key]:,}")
    reopened.close()


def main() -> None:
    if len(sys.argv) > 1:
        base_path = sys.argv[1]
        os.makedirs(base_path, exist_ok=True)
        story(base_path)
    else:
        with tempfile.TemporaryDirectory(prefix="tabula-persistence-") as base_path:
            story(base_path)


if __name__ == "__main__":
    main()
