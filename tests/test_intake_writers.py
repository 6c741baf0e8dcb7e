"""Group commit with several batches on their way at once (`DeliveryWriter(writers=…)`, PostgreSQL),
and what follows a commit: the inbox push after the answers, and a restart's dropped connections.
Helpers and the shape of the tests: `tests/test_intake.py`."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from connector.errors import StoreUnavailable
from connector.store import Database
from connector.store.intake import DeliveryWriter, Stored
from tests.conftest import _clean
from tests.test_intake import Commits, in_threads, queue_behind_first, row, stored_keys, wait_until


@pytest.fixture
def db(database: Database) -> Database:
    _clean(database)
    return database


def test_with_two_writers_a_second_batch_goes_while_the_first_waits_for_its_commit(db):
    """PostgreSQL: `writers=2` lets a second batch be stored while the first waits for its flush, so
    the request threads' work overlaps the flush; a third delivery then waits for a free writer.
    SQLite has one writer whatever is asked: the second delivery waits for the first's commit."""
    writer = DeliveryWriter(db, writers=2)
    commits = Commits(writer, holding=True)
    first, (lead,) = in_threads(writer, [row("two-0")])
    lead.start()
    assert commits.inside.wait(10)
    second, (other,) = in_threads(writer, [row("two-1")])
    other.start()
    if db.is_sqlite:
        assert writer.writers == 1
        wait_until(lambda: len(writer._waiting) == 1)
        assert isinstance(second[0], StoreUnavailable)  # still unanswered: it waits for the first
    else:
        assert writer.writers == 2
        other.join(10)
        assert isinstance(second[0], Stored) and second[0].created  # answered while the first is held
        third, (behind,) = in_threads(writer, [row("two-2")])
        other_two, (also,) = in_threads(writer, [row("two-3")])
        for t in (behind, also):
            t.start()
        behind.join(10)
        also.join(10)
        assert isinstance(third[0], Stored) and isinstance(other_two[0], Stored)  # one writer is free
    commits.release.set()
    lead.join(10)
    other.join(10)
    assert isinstance(first[0], Stored) and first[0].created
    assert writer._leaders == 0 and not writer._waiting


@pytest.mark.parametrize("writers", [1, 3])
def test_many_threads_and_failing_batches_every_request_answered_once(db, monkeypatch, writers):
    """Leaders hand on their place under contention and when a batch fails: every request gets one
    answer (its row, or a 503 for a batch that failed), nothing is stored that was not answered as
    stored, and the writer ends with no leader and nobody waiting."""
    real = DeliveryWriter._insert
    lock = threading.Lock()
    calls = {"n": 0}

    def sometimes_failing(self: DeliveryWriter, conn: Any, batch: list[Any]) -> list[Stored]:
        with lock:
            calls["n"] += 1
            n = calls["n"]
        time.sleep(0.002)  # a commit's flush: long enough for batches to form behind it
        if n % 4 == 0:
            raise RuntimeError("a bug in this batch")
        return real(self, conn, batch)

    monkeypatch.setattr(DeliveryWriter, "_insert", sometimes_failing)
    writer = DeliveryWriter(db, writers=writers, max_batch=4)
    rows = [row(f"many-{i % 50}") for i in range(60)]  # ten of them a second time
    answers, threads = in_threads(writer, rows)
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads)
    assert all(isinstance(a, Stored | StoreUnavailable) for a in answers)
    keys = stored_keys(db)
    for r, answer in zip(rows, answers, strict=True):
        if isinstance(answer, Stored):
            assert keys[r.key] == answer.delivery_id
    assert {r.key for r, a in zip(rows, answers, strict=True) if isinstance(a, Stored)} == set(keys)
    assert calls["n"] >= 60 / 4  # batches of at most 4
    assert writer._leaders == 0 and not writer._waiting


def test_a_failing_announcement_does_not_fail_the_leaders_answer(db, caplog):
    def broken(ids: Any) -> None:
        raise RuntimeError("the inbox push broke")

    writer = DeliveryWriter(db, announce=broken)
    stored = writer.store(row("announce-fails"))
    assert stored.created and stored_keys(db)["announce-fails"] == stored.delivery_id  # committed, answered
    assert "the reconciler enqueues them" in caplog.text
    assert writer._leaders == 0 and not writer._waiting


def test_a_batch_is_answered_before_its_inbox_push(db):
    """Only the leader's request waits for the push: the others of its batch are answered at commit."""
    pushing, release = threading.Event(), threading.Event()

    def slow_push(ids: Any) -> None:
        if len(ids) > 1:
            pushing.set()
            assert release.wait(10)

    writer = DeliveryWriter(db, announce=slow_push)
    commits = Commits(writer, holding=True)
    _, answers, threads = queue_behind_first(writer, commits, "push", 3)
    commits.release.set()
    assert pushing.wait(10)  # the batch of three is committed; its leader is pushing
    for t in threads[2:]:
        t.join(10)
    assert all(isinstance(a, Stored) and a.created for a in answers[1:])  # answered meanwhile
    release.set()
    for t in threads:
        t.join(10)
    assert all(isinstance(a, Stored) for a in answers)


def test_after_a_restart_every_dropped_pooled_connection_is_passed_over(db):
    """A PostgreSQL restart drops every connection the pool holds — with two writers and the pool's
    other users, several: the batch is stored on a live one, not answered 503 after one retry."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL: SQLite has no server connections to drop")
    from sqlalchemy import text

    own = Database(str(db.url))
    try:
        held = [own.engine.raw_connection() for _ in range(3)]
        pids = []
        for pooled in held:
            cursor = pooled.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
            cursor.close()
            pooled.commit()
        for pooled in held:
            pooled.close()  # back to the pool: three connections wait there
        with db.engine.connect() as conn:  # what a restart does to each of them
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        wait_until(
            lambda: not _alive(db, pids),
        )
        stored = DeliveryWriter(own, writers=2).store(row("after-restart"))
        assert stored.created and stored_keys(db)["after-restart"] == stored.delivery_id
    finally:
        own.engine.dispose()


def _alive(db: Database, pids: list[int]) -> bool:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return bool(
            conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": pids}).scalar()
        )
