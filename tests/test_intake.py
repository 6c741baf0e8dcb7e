"""Group commit on the acknowledgement path (`connector.store.intake.DeliveryWriter`), on the suite's
database (PostgreSQL in CI, SQLite otherwise): batches form while a commit runs, every answer comes
after its commit, duplicates are found inside a batch and against stored rows, and a failure reaches
the requests it concerns — all of a batch when the database is down, only its own when one row is
refused."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError

from connector.errors import StoreUnavailable
from connector.store import Database, DeliveryStatus
from connector.store.intake import DeliveryWriter, Row, Stored
from connector.store.tables import Delivery
from tests.conftest import _clean


@pytest.fixture
def db(database: Database) -> Database:
    _clean(database)
    return database


def row(key: str, content: str | None = None, *, status: DeliveryStatus = DeliveryStatus.RECEIVED) -> Row:
    content = content or f"content-of-{key}"
    return Row(
        vendor="zendesk",
        instance="default",
        key=key,
        event_type="zen:event-type:ticket.created",
        headers={"content-type": "application/json"},
        body=f'{{"id": "{key}"}}'.encode(),
        digest=f"body-of-{content}",
        content=content,
        status=status,
    )


class Commits:
    """Counts the writer's statements (one per commit); `holding` keeps the first one from answering
    until `release` is set."""

    def __init__(self, writer: DeliveryWriter, *, holding: bool = False):
        self.count, self.holding = 0, holding
        self.release, self.inside = threading.Event(), threading.Event()
        real = writer._insert

        def counted(conn: Any, batch: list[Any]) -> list[Stored]:
            self.count += 1
            first = self.count == 1
            answers = real(conn, batch)
            if first and self.holding:
                self.inside.set()
                assert self.release.wait(10)
            return answers

        writer._insert = counted  # type: ignore[method-assign]


def in_threads(writer: DeliveryWriter, rows: list[Row]) -> tuple[list[Stored | BaseException], list[threading.Thread]]:
    answers: list[Stored | BaseException] = [StoreUnavailable("no answer")] * len(rows)

    def one(i: int) -> None:
        try:
            answers[i] = writer.store(rows[i])
        except BaseException as exc:  # noqa: BLE001 — the answer under test
            answers[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(rows))]
    return answers, threads


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def queue_behind_first(
    writer: DeliveryWriter, commits: Commits, prefix: str, n: int
) -> tuple[list[Stored | BaseException], list[Stored | BaseException], list[threading.Thread]]:
    """`prefix-0` held inside its commit (`commits.holding`), then `n` more deliveries queued behind it:
    (the first's answer, the others' answers, every thread) — answered once `commits.release` is set."""
    first, (lead,) = in_threads(writer, [row(f"{prefix}-0")])
    lead.start()
    assert commits.inside.wait(10)  # the first delivery is in its commit, nothing answered yet
    answers, threads = in_threads(writer, [row(f"{prefix}-{i}") for i in range(1, n + 1)])
    for t in threads:
        t.start()
    wait_until(lambda: len(writer._waiting) == n)
    return first, answers, [lead, *threads]


def stored_keys(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {k: i for i, k in conn.execute(select(Delivery.id, Delivery.dedupe_key))}


def test_deliveries_that_wait_while_a_commit_runs_share_the_next_commit(db, monkeypatch):
    announced: list[list[int]] = []
    writer = DeliveryWriter(db, announce=lambda ids: announced.append(list(ids)))
    commits = Commits(writer, holding=True)

    first, answers, threads = queue_behind_first(writer, commits, "d", 20)
    assert first[0] is not None and isinstance(first[0], StoreUnavailable)  # still unanswered
    commits.release.set()
    for t in threads:
        t.join(10)

    assert commits.count == 2  # 21 deliveries, two commits: the first alone, the 20 that waited together
    keys = stored_keys(db)
    assert len(keys) == 21
    for i, answer in enumerate(first + answers):
        assert isinstance(answer, Stored) and answer.created and answer.same_body
        assert keys[f"d-{i}"] == answer.delivery_id
    assert [len(ids) for ids in announced] == [1, 20]  # one inbox push per commit
    assert sorted(sum(announced, [])) == sorted(keys.values())


def test_a_batch_is_capped_and_the_rest_is_led_by_the_next_in_line(db, monkeypatch):
    writer = DeliveryWriter(db, max_batch=8)
    commits = Commits(writer, holding=True)
    _, answers, threads = queue_behind_first(writer, commits, "cap", 20)
    commits.release.set()
    for t in threads:
        t.join(10)
    assert commits.count == 4  # 1, then 20 in batches of at most 8: 8 + 8 + 4
    assert all(isinstance(a, Stored) and a.created for a in answers)
    assert len(stored_keys(db)) == 21


def test_a_window_gathers_a_batch_before_the_first_commit(db, monkeypatch):
    writer = DeliveryWriter(db, window=2.0, max_batch=5)  # the leader writes once 5 wait, or after 2 s
    commits = Commits(writer)
    answers, threads = in_threads(writer, [row(f"w-{i}") for i in range(5)])
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert commits.count == 1
    assert all(isinstance(a, Stored) and a.created for a in answers)


def test_duplicates_inside_one_batch_and_against_stored_rows(db):
    writer = DeliveryWriter(db)
    earlier = writer.store(row("old", "c-old"))
    # One batch: the same delivery twice, a delivery whose id is stored, a new body under a stored
    # delivery's signed content, and one whose key is new but whose content is the stored one's while
    # another row of the batch with the same key is inserted (RETURNING must not hand it that row's id).
    batch = [
        row("twice", "c-twice"),
        row("twice", "c-twice"),
        row("old", "c-other"),
        row("fresh", "c-old"),
        row("fresh", "c-fresh"),
    ]
    from connector.store.intake import _Waiting

    waiting = [_Waiting(r, r.params()) for r in batch]
    writer._write(waiting)
    answers = [w.stored for w in waiting]
    keys = stored_keys(db)
    assert answers[0] == Stored(keys["twice"], True, True)
    assert answers[1] == Stored(keys["twice"], False, True)  # the first of the pair is the one stored
    assert answers[2] == Stored(earlier.delivery_id, False, False)  # same id, another body
    assert answers[3] is not None and answers[3].delivery_id == earlier.delivery_id and not answers[3].created
    assert answers[4] == Stored(keys["fresh"], True, True) and keys["fresh"] != earlier.delivery_id
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Delivery)) == 3


def test_only_new_deliveries_to_process_are_announced(db):
    announced: list[int] = []
    writer = DeliveryWriter(db, announce=announced.extend)
    new = writer.store(row("n-1"))
    writer.store(row("n-1"))  # duplicate
    writer.store(row("n-2", status=DeliveryStatus.IGNORED))
    writer.store(row("n-3", status=DeliveryStatus.REJECTED))
    assert announced == [new.delivery_id]


def test_a_database_that_is_down_fails_every_delivery_of_the_batch_and_stores_none(db, monkeypatch):
    announced: list[int] = []
    writer = DeliveryWriter(db, announce=announced.extend)
    commits = Commits(writer, holding=True)
    _, answers, threads = queue_behind_first(writer, commits, "down", 5)

    def refuse(*_: Any, **__: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("the database system is shutting down"))

    monkeypatch.setattr("connector.store.intake._Driver.run", refuse)  # the next statement, whichever
    commits.release.set()
    for t in threads:
        t.join(10)
    monkeypatch.undo()
    assert all(isinstance(a, StoreUnavailable) for a in answers)
    assert len({id(a) for a in answers}) == 5  # an error of its own for each request
    assert set(stored_keys(db)) == {"down-0"}
    assert len(announced) == 1


def test_a_row_the_database_refuses_fails_only_its_own_request(db, monkeypatch):
    real = DeliveryWriter._insert

    def picky(self: DeliveryWriter, conn: Any, batch: list[Any]) -> list[Stored]:
        if any(w.row.key == "poison" for w in batch):
            raise DataError("INSERT", {}, Exception("value too long for type character varying(64)"))
        return real(self, conn, batch)

    monkeypatch.setattr(DeliveryWriter, "_insert", picky)
    announced: list[int] = []
    writer = DeliveryWriter(db, announce=announced.extend)
    from connector.store.intake import _Waiting

    waiting = [_Waiting(r, r.params()) for r in (row("good-1"), row("poison"), row("good-2"))]
    writer._write(waiting)
    writer._announce(waiting)  # what the leader does once the batch is answered
    assert isinstance(waiting[1].error, DataError) and waiting[1].stored is None
    good = [waiting[0].stored, waiting[2].stored]
    assert all(s is not None and s.created for s in good)
    assert set(stored_keys(db)) == {"good-1", "good-2"}
    assert sorted(announced) == sorted(s.delivery_id for s in good if s)


def test_the_lead_passes_on_when_the_leader_fails_unexpectedly(db, monkeypatch):
    calls = {"n": 0}
    real = DeliveryWriter._insert

    def flaky(self: DeliveryWriter, conn: Any, batch: list[Any]) -> list[Stored]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the first batch")
        return real(self, conn, batch)

    monkeypatch.setattr(DeliveryWriter, "_insert", flaky)
    writer = DeliveryWriter(db)
    with pytest.raises(StoreUnavailable):
        writer.store(row("bug"))
    assert writer.store(row("after")).created  # the writer is not stuck
    assert writer._leaders == 0 and not writer._waiting


def test_sqlite_background_work_waits_for_deliveries_queued_behind_a_batch():
    """The writer's queued deliveries count as acknowledgements waiting for SQLite's one writer: a
    background transaction (the embedded worker) does not slip in between two batches."""
    from connector.store import WriterGate

    gate = WriterGate()
    gate.expect(3)  # three deliveries queued behind the batch being written
    entered = threading.Event()

    def background() -> None:
        with gate.hold(urgent=False):
            entered.set()

    t = threading.Thread(target=background)
    t.start()
    assert not entered.wait(0.2)  # waits while they are expected
    with gate.hold(urgent=True):  # an acknowledgement takes the gate meanwhile
        pass
    gate.expect(-3)  # answered
    assert entered.wait(5)
    t.join(5)
