"""Threads sharing one database: concurrent writers, and readers that never wait for a
writer's transaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass, field

import pytest

import tabula
from tabula import table


def counter_class(db):
    @table(db=db)
    @dataclass
    class Event:
        id: int = field(metadata={"primary_key": True})
        worker: int = 0
        n: int = 0

    return Event


def run_threads(target, count):
    errors = []

    def wrapped(k):
        try:
            target(k)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []


def test_four_threads_insert_500_rows_each(db):
    Event = counter_class(db)

    def work(k):
        for i in range(500):
            Event.insert(worker=k, n=i)

    run_threads(work, 4)
    assert Event.count() == 2000
    for k in range(4):
        assert Event.count(where=lambda e: e["worker"] == k) == 500
    ids = [r["id"] for r in Event.select()]
    assert ids == sorted(set(ids)) and len(ids) == 2000


def test_threads_mixing_writes_transactions_and_reads(db):
    Event = counter_class(db)

    def work(k):
        for i in range(50):
            if i % 3 == 0:
                with db.transaction():
                    Event.insert(worker=k, n=i)
                    Event.update(where=lambda e: e["worker"] == k and e["n"] == i, n=-i)
            else:
                Event.insert_many([dict(worker=k, n=i)])
            Event.select(where=lambda e: e["worker"] == k)
            Event.count()

    run_threads(work, 4)
    assert Event.count() == 200
    assert Event.count(where=lambda e: e["n"] < 0) == 4 * len(range(3, 50, 3))


def test_a_reader_completes_while_another_thread_holds_a_transaction(db):
    Event = counter_class(db)
    Event.insert_many([dict(worker=0, n=i) for i in range(100)])
    inside = threading.Event()
    release = threading.Event()

    def writer():
        with db.transaction():
            Event.insert(worker=9, n=1)
            Event.update(where=lambda e: e["n"] < 10, n=1000)
            inside.set()
            release.wait(30)

    w = threading.Thread(target=writer)
    w.start()
    try:
        assert inside.wait(30)
        seen = {}

        def reader():
            seen["select"] = len(Event.select(where=lambda e: e["n"] >= 0))
            seen["untraced"] = len(Event.select(where=lambda e: e["n"] >= 0 and True))
            seen["count"] = Event.count(where=lambda e: e["n"] == 1000)
            seen["get"] = Event.get(1)["n"]
            seen["sql"] = db.sql("SELECT COUNT(*) AS c FROM event")[0]["c"]

        r = threading.Thread(target=reader)
        r.start()
        r.join(20)
        assert not r.is_alive(), "a reader waited for the writer's transaction"
        # It saw the state before the transaction: none of its writes.
        assert seen == {"select": 100, "untraced": 100, "count": 0, "get": 0, "sql": 100}
    finally:
        release.set()
        w.join(30)
    assert Event.count(where=lambda e: e["n"] == 1000) == 11  # 0..9 and its own insert
    assert Event.count() == 101


def test_a_writer_waits_for_another_threads_transaction(db):
    Event = counter_class(db)
    inside = threading.Event()
    release = threading.Event()
    order = []

    def holder():
        with db.transaction():
            Event.insert(worker=1)
            inside.set()
            release.wait(30)
            order.append("commit")

    def other():
        Event.insert(worker=2)
        order.append("other")

    h = threading.Thread(target=holder)
    h.start()
    assert inside.wait(30)
    o = threading.Thread(target=other)
    o.start()
    o.join(0.3)
    assert o.is_alive(), "a write did not wait for the open transaction"
    release.set()
    h.join(30)
    o.join(30)
    assert order == ["commit", "other"]
    assert [r["worker"] for r in Event.select()] == [1, 2]


def test_a_transaction_belongs_to_its_thread(db):
    Event = counter_class(db)
    inside = threading.Event()
    release = threading.Event()

    def holder():
        with db.transaction():
            Event.insert(worker=1)
            inside.set()
            release.wait(30)

    h = threading.Thread(target=holder)
    h.start()
    assert inside.wait(30)
    # This thread has no transaction open: it may open its own (after the other ends).
    try:
        assert Event.count() == 0
    finally:
        release.set()
        h.join(30)
    with db.transaction():
        Event.insert(worker=2)
    assert Event.count() == 2


def test_a_generator_block_resumed_after_its_thread_ended_is_refused_not_waited_for(db):
    # A generator's `with db.transaction():` opened on one thread and resumed on another
    # after the first ended: the block's next write, on the new thread, is outside the
    # transaction (a transaction is its thread's) and would wait for it forever. It raises
    # InTransaction instead; the block rolls back (all or nothing), and the database takes
    # writes again.
    Event = counter_class(db)

    def batch():
        with db.transaction():
            Event.insert(worker=1)
            yield
            Event.insert(worker=2)

    g = batch()
    opener = threading.Thread(target=next, args=(g,))
    opener.start()
    opener.join(30)
    outcome = []

    def resume():
        try:
            next(g, None)
            outcome.append("no error")
        except tabula.InTransaction as e:
            outcome.append(str(e))

    t = threading.Thread(target=resume, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "the write waited for the transaction forever"
    assert len(outcome) == 1 and "thread that has since ended" in outcome[0], outcome
    assert Event.count() == 0
    Event.insert(worker=3)
    assert [r["worker"] for r in Event.select()] == [3]


def test_a_transaction_whose_thread_ended_is_refused_not_waited_for(db):
    # A block entered by hand on a thread that then ended, its Transaction kept: the writer's
    # turn would stay taken forever, so other threads' writes raise InTransaction instead
    # of waiting, while reads see the last committed version; ending it (from any thread)
    # frees the database.
    Event = counter_class(db)
    held = []

    def enter():
        tx = db.transaction()
        tx.__enter__()
        Event.insert(worker=1)
        held.append(tx)

    t = threading.Thread(target=enter)
    t.start()
    t.join(30)
    with pytest.raises(tabula.InTransaction, match="thread that has since ended"):
        Event.insert(worker=2)
    assert Event.count() == 0 and Event.select() == []
    held[0].__exit__(None, None, None)
    Event.insert(worker=3)
    assert sorted(r["worker"] for r in Event.select()) == [1, 3]


def test_persistent_database_shared_by_threads(pdb):
    Event = counter_class(pdb)

    def work(k):
        Event.insert_many([dict(worker=k, n=i) for i in range(100)])
        for i in range(20):
            Event.insert(worker=k, n=1000 + i)

    run_threads(work, 4)
    pdb.save()
    assert Event.count() == 480


def test_an_asyncio_task_is_not_inside_another_tasks_transaction(db):
    """asyncio tasks share their thread: a block that awaits lets other tasks run while it
    is open. Their writes must not join it (they would be rolled back with it after their
    keys were returned) and cannot wait for it (the block's task needs the same thread to
    finish): they raise InTransaction. Their reads see the last committed version."""
    import asyncio

    Event = counter_class(db)
    Event.insert(worker=0, n=0)
    seen = {}

    async def holder():
        with pytest.raises(RuntimeError, match="abandoned"):
            with db.transaction():
                Event.insert(worker=1, n=1)
                await asyncio.sleep(0.05)
                # The block's own task, after its await, is still inside its transaction.
                seen["own"] = Event.count()
                raise RuntimeError("abandoned")

    async def other():
        await asyncio.sleep(0.01)
        seen["count"] = Event.count()
        seen["rows"] = [r["worker"] for r in Event.select()]
        seen["get"] = Event.get(2)
        seen["sql"] = db.sql("SELECT count(*) AS n FROM event")
        for write in (
            lambda: Event.insert(worker=2, n=2),
            lambda: Event.update(where=lambda e: e["worker"] == 0, n=9),
            lambda: db.sql("INSERT INTO event (worker, n) VALUES (2, 2)"),
        ):
            with pytest.raises(tabula.InTransaction, match="in another context"):
                write()
        with pytest.raises(tabula.InTransaction, match="in another context"):
            with db.transaction():
                pass

    async def main():
        await asyncio.gather(holder(), other())
        # Once the block has ended, the other task writes as usual.
        return Event.insert(worker=3, n=3)

    key = asyncio.run(main())
    assert seen == {"count": 1, "rows": [0], "get": None, "sql": [{"n": 1}], "own": 2}
    assert [(r["worker"], r["n"]) for r in Event.select()] == [(0, 0), (3, 3)]
    assert Event.get(key)["worker"] == 3


def test_tasks_a_block_starts_run_inside_its_transaction(db):
    """A task started inside the block (create_task, gather, wait_for) copies the block's
    context: it reads the block's writes, and its writes commit or roll back with it."""
    import asyncio

    Event = counter_class(db)

    async def count():
        return Event.count()

    async def insert(k):
        return Event.insert(worker=k, n=k)

    async def main(fail):
        with db.transaction():
            Event.insert(worker=0, n=0)
            assert await asyncio.create_task(count()) == 1
            await asyncio.gather(insert(1), insert(2))
            await asyncio.wait_for(insert(3), 5)
            assert Event.count() == 4
            if fail:
                raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        asyncio.run(main(True))
    assert Event.count() == 0
    asyncio.run(main(False))
    assert sorted(r["worker"] for r in Event.select()) == [0, 1, 2, 3]


def test_a_task_dropped_inside_its_block_rolls_the_block_back(db):
    """A task abandoned inside a block (its loop closed, the task dropped) must not keep the
    transaction open: dropping it rolls it back, and writers go on."""
    import asyncio
    import gc

    Event = counter_class(db)

    async def stuck():
        with db.transaction():
            Event.insert(worker=1, n=1)
            await asyncio.get_running_loop().create_future()

    loop = asyncio.new_event_loop()
    task = loop.create_task(stuck())
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    del task
    gc.collect()
    Event.insert(worker=2, n=2)
    done = []
    worker = threading.Thread(target=lambda: done.append(Event.insert(worker=3, n=3)))
    worker.start()
    worker.join(30)
    assert done, "another thread's write waited for the abandoned block"
    assert sorted(r["worker"] for r in Event.select()) == [2, 3]


def test_a_block_entered_inside_asyncio_run_is_outside_the_code_after_it(db):
    """A block entered inside `asyncio.run` that has returned belongs to the context that
    ran there: the thread's code after it is outside it, and its __exit__ still ends it."""
    import asyncio

    Event = counter_class(db)
    tx = db.transaction()

    async def enter():
        tx.__enter__()
        Event.insert(worker=1, n=1)

    asyncio.run(enter())
    assert Event.count() == 0
    with pytest.raises(tabula.InTransaction, match="in another context"):
        Event.insert(worker=2, n=2)
    tx.__exit__(None, None, None)
    assert [r["worker"] for r in Event.select()] == [1]
    Event.insert(worker=2, n=2)
    assert Event.count() == 2


def test_a_transaction_in_one_task_commits_across_its_awaits(db):
    import asyncio

    Event = counter_class(db)

    async def main():
        with db.transaction():
            Event.insert(worker=1, n=1)
            await asyncio.sleep(0)
            Event.insert(worker=1, n=2)
            assert Event.count() == 2

    asyncio.run(main())
    assert [r["n"] for r in Event.select()] == [1, 2]


def test_a_block_on_another_database_inside_a_block_leaves_it_whole(db):
    """Each database's blocks are its own: a block on a second database, entered and left
    inside a block on the first, does not take the first one's place."""
    other = tabula.Database()
    try:
        Event = counter_class(db)
        Other = counter_class(other)
        with db.transaction():
            Event.insert(worker=1, n=1)
            with other.transaction():
                Other.insert(worker=2, n=2)
            assert Event.count() == 1
            assert db.sql("SELECT count(*) AS n FROM event") == [{"n": 1}]
            Event.insert(worker=1, n=2)
            assert db._native.in_transaction()
        assert Event.count() == 2 and Other.count() == 1
    finally:
        other.close()


def test_sql_in_another_task_refuses_a_table_still_on_disk(tmp_path):
    """Loading a table takes the writers' lock: another task's SQL that would load one
    while a block is open on its thread is refused rather than left waiting for ever."""
    import asyncio

    path = str(tmp_path / "lazy")
    first = tabula.Database(path=path)
    first.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    first.sql("CREATE TABLE u (id INTEGER PRIMARY KEY, v INTEGER)")
    first.sql("INSERT INTO t (v) VALUES (1), (2)")
    first.close()
    db = tabula.Database(path=path)
    try:
        seen = {}

        async def block():
            with db.transaction():
                db.sql("INSERT INTO u (v) VALUES (5)")
                await asyncio.sleep(0.05)

        async def other():
            await asyncio.sleep(0.01)
            with pytest.raises(tabula.InTransaction, match="every table is loaded"):
                db.sql("SELECT count(*) AS n FROM t")
            seen["ok"] = True

        async def main():
            await asyncio.gather(block(), other())

        asyncio.run(main())
        assert seen == {"ok": True}
        db.load()

        async def loaded_other():
            await asyncio.sleep(0.01)
            seen["count"] = db.sql("SELECT count(*) AS n FROM t")

        async def loaded_main():
            await asyncio.gather(block(), loaded_other())

        asyncio.run(loaded_main())
        assert seen["count"] == [{"n": 2}]
        assert db.sql("SELECT count(*) AS n FROM u") == [{"n": 2}]
    finally:
        db.close()


@pytest.mark.parametrize("work", ["insert", "select", "transaction"])
def test_a_daemon_thread_inside_the_engine_at_exit_does_not_abort_the_interpreter(work):
    """At exit the interpreter stops its daemon threads where they next take the GIL; one
    coming back from the engine (which runs without the GIL) is parked there, never
    unwound through the engine's frames (which aborted the process: "FATAL: exception not
    rethrown")."""
    script = textwrap.dedent(f"""
        import threading, time, tabula
        from dataclasses import dataclass, field

        @tabula.table()
        @dataclass
        class T:
            id: int = field(metadata={{"primary_key": True}})
            a: int = 0

        db = tabula.default_database()

        def worker():
            while True:
                if {work!r} == "insert":
                    T.insert(a=1)
                elif {work!r} == "select":
                    T.select(where=lambda s: s["a"] > 0)
                else:
                    with db.transaction():
                        T.insert(a=2)

        T.insert_many({{"a": 1}} for _ in range(2000))
        threading.Thread(target=worker, daemon=True).start()
        time.sleep(0.3)
        print("main done")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "main done"
