"""The seed's university story on tabula: students, courses and the registrations that
join them, seeded with sample data and queried the seed's way (lambdas, ordering, limits,
counts), plus what tabula adds (foreign keys, get/get_by, SQL with a join).

Run it with ``python crates/tabula-py/examples/university.py``; everything lives in
tabula's default in-memory database, so it leaves no files behind.
"""

from dataclasses import dataclass, field
from typing import Optional

import tabula
from tabula import table


@table()
@dataclass
class Student:
    id: int = field(metadata={'primary_key': True})
    name: str = field(metadata={'nullable': False})
    email: str = field(metadata={'unique': True, 'nullable': False})
    gpa: float = field(default=0.0)
    year: int = field(default=1)


@table()
@dataclass
class Course:
    id: int = field(metadata={'primary_key': True})
    code: str = field(metadata={'unique': True})
    title: str = field(metadata={'nullable': False})
    credits: int = field(default=3)


# A registration belongs to one student and one course; deleting a student deletes their
# registrations (cascade), deleting a course that has registrations is refused (restrict).
@table(unique=[("student_id", "course_id")])
@dataclass
class Registration:
    id: int = field(metadata={'primary_key': True})
    student_id: int = field(metadata={'references': Student, 'on_delete': 'cascade',
                                      'index': True})
    course_id: int = field(metadata={'references': Course, 'on_delete': 'restrict',
                                     'index': True})
    semester: str = field(default="Fall 2024")
    grade: Optional[str] = None


def heading(text: str) -> None:
    print()
    print(text)
    print("-" * len(text))


def show(rows: list) -> None:
    for r in rows:
        print("   ", r)


def seed() -> None:
    """Sample data: six students, four courses, and who takes what."""
    students = [
        dict(name="Alice Johnson", email="alice@university.edu", gpa=3.8, year=3),
        dict(name="Bob Smith", email="bob@university.edu", gpa=3.2, year=2),
        dict(name="Carol White", email="carol@university.edu", gpa=3.9, year=4),
        dict(name="David Brown", email="david@university.edu", gpa=2.7, year=1),
        dict(name="Eve Davis", email="eve@university.edu", gpa=3.5, year=2),
        dict(name="Frank Miller", email="frank@university.edu", gpa=1.9, year=1),
    ]
    for s in students:
        Student.insert(**s)
    # insert_many: one commit for all of them; instances of the dataclass work too.
    Course.insert_many([
        dict(code="CS101", title="Introduction to Programming", credits=4),
        dict(code="CS201", title="Data Structures", credits=4),
        dict(code="MATH150", title="Calculus I"),
        Course(id=None, code="HIST210", title="Modern History", credits=2),
    ])
    cs101 = Course.get_by("code", "CS101")["id"]
    cs201 = Course.get_by("code", "CS201")["id"]
    math = Course.get_by("code", "MATH150")["id"]
    hist = Course.get_by("code", "HIST210")["id"]
    plan = {
        "alice@university.edu": [(cs101, "A"), (cs201, "A-"), (math, "B+")],
        "bob@university.edu": [(cs101, "B"), (math, "C+")],
        "carol@university.edu": [(cs201, "A"), (math, "A"), (hist, "A")],
        "david@university.edu": [(cs101, None), (hist, "C")],
        "eve@university.edu": [(cs101, "B+"), (cs201, None)],
        "frank@university.edu": [(math, "D")],
    }
    for email, courses in plan.items():
        sid = Student.get_by("email", email)["id"]
        Registration.insert_many(
            dict(student_id=sid, course_id=cid, grade=grade) for cid, grade in courses)


def main() -> None:
    seed()
    print(f"Seeded {Student.count()} students, {Course.count()} courses and "
          f"{Registration.count()} registrations into tables {tabula.default_database().tables()}")

    heading("1. All students")
    show(Student.select())

    heading("2. Students with a GPA above 3.5 (a lambda filter)")
    show(Student.select(where=lambda s: s['gpa'] > 3.5))

    heading("3. Students by GPA, best first")
    for s in Student.select(order_by='-gpa'):
        print(f"    {s['gpa']:.1f}  {s['name']}")

    heading("4. The top 3 students")
    show(Student.select(order_by='-gpa', limit=3))

    heading("5. Second-year students, by name (combined conditions and ordering)")
    show(Student.select(where=lambda s: (s['year'] == 2) & (s['gpa'] >= 3.0),
                        order_by='name'))

    heading("6. Students whose name starts with a vowel (any Python in a lambda)")
    show(Student.select(where=lambda s: s['name'][0] in "AEIOU", order_by=['year', '-gpa']))

    heading("7. Counts")
    print("    students:", Student.count())
    print("    on probation (GPA < 2.0):", Student.count(where=lambda s: s['gpa'] < 2.0))
    print("    four-credit courses:", Course.count(where=lambda c: c['credits'] == 4))
    print("    registrations without a grade yet:",
          Registration.count(where=lambda r: r['grade'] == None))  # noqa: E711

    heading("8. Lookups by key and by a unique column")
    print("    get(1):", Student.get(1))
    print("    get(999):", Student.get(999))
    print("    get_by('email', 'carol@university.edu'):",
          Student.get_by("email", "carol@university.edu"))
    print("    get_by('code', 'CS201'):", Course.get_by("code", "CS201"))

    heading("9. Pagination: students 3 and 4 by name")
    show(Student.select(order_by='name', offset=2, limit=2))

    heading("10. Alice's courses (a join in Python)")
    alice = Student.get_by("email", "alice@university.edu")
    for r in Registration.select(where=lambda r: r['student_id'] == alice['id']):
        course = Course.get(r['course_id'])
        print(f"    {course['code']:8} {course['title']:30} grade {r['grade']}")

    heading("11. Enrolment per course (SQL: a join with GROUP BY)")
    show(tabula.default_database().sql(
        "SELECT c.code AS code, c.title AS title, COUNT(*) AS students, "
        "AVG(s.gpa) AS avg_gpa "
        "FROM registration r JOIN course c ON c.id = r.course_id "
        "JOIN student s ON s.id = r.student_id "
        "GROUP BY c.code, c.title ORDER BY students DESC, code"))

    heading("12. Credits per student above 6 (SQL with a parameter)")
    show(tabula.default_database().sql(
        "SELECT s.name AS name, SUM(c.credits) AS credits "
        "FROM student s JOIN registration r ON r.student_id = s.id "
        "JOIN course c ON c.id = r.course_id "
        "GROUP BY s.name HAVING SUM(c.credits) > ? ORDER BY credits DESC, name", [6]))

    heading("Updates")
    n = Student.update(where=lambda s: s['name'] == "Alice Johnson", gpa=3.9)
    print(f"    Alice's GPA raised: {n} row; now {Student.get_by('email', 'alice@university.edu')['gpa']}")
    n = Student.update(where=lambda s: s['year'] == 1, year=2)
    print(f"    first-years moved up a year: {n} rows")
    n = Registration.update(where=lambda r: r['grade'] == None, grade="I")  # noqa: E711
    print(f"    missing grades set to incomplete: {n} rows")
    print("    after the updates:")
    show(Student.select(order_by='id'))

    heading("Constraints")
    try:
        Student.insert(name="Alice Again", email="alice@university.edu")
    except tabula.UniqueViolation as e:
        print("    refused:", e)
    try:
        Registration.insert(student_id=1, course_id=999)
    except tabula.ForeignKey as e:
        print("    refused:", e)
    try:
        Course.delete(where=lambda c: c['code'] == "CS101")
    except tabula.ForeignKey as e:
        print("    refused:", e)
    try:
        Student.insert(name=None, email="nobody@university.edu")
    except tabula.NotNull as e:
        print("    refused:", e)

    heading("Deletes")
    before = Registration.count()
    n = Student.delete(where=lambda s: s['gpa'] < 2.0)
    print(f"    students on probation removed: {n}; their registrations went with them: "
          f"{before} -> {Registration.count()} registrations")
    hist = Course.get_by("code", "HIST210")["id"]
    n = Registration.delete(where=lambda r: r['course_id'] == hist)
    print(f"    HIST210 cancelled: {n} registrations removed, then "
          f"{Course.delete(where=lambda c: c['code'] == 'HIST210')} course")
    # A lambda may call anything, even another table (it then runs once per row).
    n = Course.delete(
        where=lambda c: Registration.count(where=lambda r: r['course_id'] == c['id']) == 0)
    print(f"    courses nobody takes removed: {n}")
    print(f"    remaining: {Student.count()} students, {Course.count()} courses, "
          f"{Registration.count()} registrations")


if __name__ == "__main__":
    main()
