"""Threads sharing one database: concurrent writers, and readers that never wait for a
writer's transaction."""

from __future__ import annotations

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


def resume_elsewhere(g, opener_stays):
    """Runs generator `g` to its yield on one thread, then to its end on another (the
    opener still running when `opener_stays`, as a pool's worker would be); returns what
    the resume raised, or None."""
    opened = threading.Event()
    done = threading.Event()

    def open_it():
        next(g)
        opened.set()
        if opener_stays:
            done.wait(30)

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    assert opened.wait(30)
    if not opener_stays:
        opener.join(30)
    outcome = []

    def resume():
        try:
            next(g, None)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - reported below
            outcome.append(e)

    t = threading.Thread(target=resume, daemon=True)
    t.start()
    t.join(30)
    done.set()
    assert not t.is_alive(), "the block's write waited for its own transaction forever"
    return outcome[0]


@pytest.mark.parametrize("opener_stays", [False, True])
def test_a_generator_block_resumed_on_another_thread_stays_one_transaction(db, opener_stays):
    # A generator's `with db.transaction():` opened on one thread and resumed on another
    # (a thread pool's worker, the opener still running or gone): the block's writes on the
    # new thread belong to its transaction (they used to wait for it, forever), and the
    # block commits them all together.
    Event = counter_class(db)
    seen = []

    def batch():
        with db.transaction():
            Event.insert(worker=1)
            yield
            Event.insert(worker=2)
            seen.append(Event.count())

    assert resume_elsewhere(batch(), opener_stays) is None
    assert seen == [2]
    assert sorted(r["worker"] for r in Event.select()) == [1, 2]

    def failing():
        with db.transaction():
            Event.insert(worker=3)
            yield
            Event.insert(worker=4)
            raise RuntimeError("give up")

    assert isinstance(resume_elsewhere(failing(), opener_stays), RuntimeError)
    assert sorted(r["worker"] for r in Event.select()) == [1, 2]


def test_a_transaction_whose_thread_ended_is_refused_not_waited_for(db):
    # A block entered by hand on a thread that then ended, its Transaction kept: the writer's
    # turn would stay taken forever, so calls of other threads raise InTransaction instead
    # of waiting; ending it (from any thread) frees the database.
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
    # Reads never wait: they see the last committed version.
    assert Event.count() == 0 and Event.select() == []
    held[0].__exit__(None, None, None)
    Event.insert(worker=3)
    assert sorted(r["worker"] for r in Event.select()) == [1, 3]


def test_a_call_outside_a_suspended_block_is_not_in_its_transaction(db):
    # The thread that entered a generator's block, running other code while the generator
    # is suspended (a pool's worker given another task): that code is not the block's. A
    # write there would wait for the block's transaction, which this same thread may be
    # the one to resume, so it is refused; a read sees the committed version. Neither joins
    # the transaction (a write that did was lost with the block's rollback).
    from concurrent.futures import ThreadPoolExecutor

    Event = counter_class(db)
    Event.insert(worker=0)

    def block():
        with db.transaction():
            Event.insert(worker=1)
            yield
            raise RuntimeError("give up")

    with ThreadPoolExecutor(1) as pool:
        g = block()
        pool.submit(next, g).result(30)
        with pytest.raises(tabula.InTransaction, match="not running now"):
            pool.submit(Event.insert, worker=999).result(30)
        assert pool.submit(Event.count).result(30) == 1
        with pytest.raises(RuntimeError):
            next(g)
    assert [r["worker"] for r in Event.select()] == [0]
    # The same on the thread itself, without a pool.
    g = block()
    next(g)
    with pytest.raises(tabula.InTransaction, match="not running now"):
        Event.insert(worker=998)
    assert [r["worker"] for r in Event.select()] == [0]
    with pytest.raises(RuntimeError):
        next(g)
    Event.insert(worker=2)
    assert sorted(r["worker"] for r in Event.select()) == [0, 2]


def test_persistent_database_shared_by_threads(pdb):
    Event = counter_class(pdb)

    def work(k):
        Event.insert_many([dict(worker=k, n=i) for i in range(100)])
        for i in range(20):
            Event.insert(worker=k, n=1000 + i)

    run_threads(work, 4)
    pdb.save()
    assert Event.count() == 480
