"""The inbox → RQ hop: the dispatcher keeps a bounded number of processing jobs waiting, packs a backlog
into jobs of several deliveries, and leaves the rest of a burst in the inbox as ids; the reconciler
re-arms what Redis forgot and nothing Redis still holds (a delivery whose job waits — alone or in a
batch — or a backlog still in the inbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rq.job import JobStatus
from sqlalchemy import select

from connector.inbox.reconciler import reconcile
from connector.queue.jobqueue import batch_job_id, delivery_ids_of, spread
from connector.queue.workers import Dispatcher
from connector.runtime import Runtime
from connector.store import DeliveryStatus
from connector.store.tables import Delivery
from tests.conftest import drain
from tests.helpers import post, zd_event


def _deliveries(client: Any, n: int) -> list[int]:
    ids = []
    for i in range(n):
        r = post(client, "zendesk", zd_event("created", ticket_id=7000 + i))
        assert r.status_code == 202
        ids.append(r.get_json()["delivery_id"])
    return ids


def _queued(rt: Runtime) -> list[int]:
    return [i for job_id in rt.queue.rq.job_ids for i in delivery_ids_of(job_id)]


def _jobs(rt: Runtime) -> list[list[int]]:
    return [delivery_ids_of(job_id) for job_id in rt.queue.rq.job_ids]


def test_the_dispatcher_keeps_its_look_ahead_and_leaves_the_rest_in_the_inbox(client: Any, rt: Runtime) -> None:
    ids = _deliveries(client, 7)
    dispatcher = Dispatcher(rt.queue, ahead=3, batch=1)
    assert dispatcher.once() == 0.0
    assert _queued(rt) == ids[:3] and rt.queue.backlog() == 4  # in order, oldest first
    # full: no Redis work but a look at the queue's length, and a short wait before the next
    assert dispatcher.once() > 0
    assert _queued(rt) == ids[:3] and rt.queue.backlog() == 4
    rt.queue.rq.remove(f"delivery-{ids[0]}")  # as if a worker took one
    dispatcher.once()
    assert _queued(rt) == ids[1:4] and rt.queue.backlog() == 3
    assert drain(rt) == 3 + 3  # a burst worker (the tests' drain): the three jobs, and the three left (room for each)
    with rt.db.session() as s:
        statuses = {i: st for i, st in s.execute(select(Delivery.id, Delivery.status).where(Delivery.id.in_(ids)))}
    assert statuses == {i: DeliveryStatus.RECEIVED if i == ids[0] else DeliveryStatus.PROCESSED for i in ids}


def test_a_backlog_goes_out_in_batches_and_a_trickle_one_by_one(client: Any, rt: Runtime) -> None:
    ids = _deliveries(client, 7)
    dispatcher = Dispatcher(rt.queue, ahead=2, batch=3)
    dispatcher.once()  # room for two jobs of at most three: six ids, spread evenly, the seventh waits
    assert _jobs(rt) == [ids[0:3], ids[3:6]] and rt.queue.backlog() == 1
    assert drain(rt) == 2 + 1
    assert _deliveries(client, 2) and Dispatcher(rt.queue, ahead=4, batch=3).once() == 0.0
    assert [len(job) for job in _jobs(rt)] == [1, 1]  # as many jobs as ids while there is room: no one waits
    assert all(job_id.startswith("delivery-") for job_id in rt.queue.rq.job_ids)  # one delivery: the one-delivery job


def test_a_batch_job_names_its_deliveries() -> None:
    assert batch_job_id([100, 101, 102, 160, 162, 163]) == "deliveries-100-102_160_162-163"
    assert delivery_ids_of("deliveries-100-102_160_162-163") == [100, 101, 102, 160, 162, 163]
    assert delivery_ids_of("delivery-42") == [42]
    assert delivery_ids_of("0f9c2a7e-outbox") == [] and delivery_ids_of("delivery-x") == []
    assert spread(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert spread([1, 2], 5) == [[1], [2]] and spread([], 3) == []


def test_the_reconciler_leaves_deliveries_whose_batch_waits_alone(client: Any, rt: Runtime) -> None:
    ids = _deliveries(client, 5)
    rt.queue.dispatch(jobs=2, batch=3)
    assert [len(job) for job in _jobs(rt)] == [3, 2]
    assert reconcile(rt, stale_after=0) == 0  # both batch jobs wait: every delivery in them is accounted for
    rt.queue.rq.remove(rt.queue.rq.job_ids[0])  # a worker took the first batch and died before committing
    assert reconcile(rt, stale_after=0) == 3  # its three go back to the inbox; the waiting batch's two do not
    assert sorted(int(x) for x in rt.queue.connection.lrange(rt.queue.inbox_key, 0, -1)) == ids[:3]


def test_an_id_in_the_inbox_twice_makes_one_job(client: Any, rt: Runtime) -> None:
    (only,) = _deliveries(client, 1)
    rt.queue.notify_deliveries([only])  # e.g. the reconciler and the web tier both
    assert rt.queue.dispatch() == 2
    assert _queued(rt) == [only]


def test_the_reconciler_leaves_a_stale_delivery_whose_job_waits_alone(client: Any, rt: Runtime) -> None:
    ids = _deliveries(client, 2)
    rt.queue.dispatch()
    assert reconcile(rt, stale_after=0) == 0  # both jobs wait: enqueueing them again would run each twice
    assert _queued(rt) == ids


def test_the_reconciler_waits_while_the_inbox_holds_a_backlog(client: Any, rt: Runtime) -> None:
    _deliveries(client, 3)
    assert reconcile(rt, stale_after=0) == 0  # still `received`, and most likely in the inbox
    assert rt.queue.backlog() == 3 and _queued(rt) == []
    assert drain(rt) == 3


def test_what_redis_forgot_goes_back_through_the_inbox(client: Any, rt: Runtime) -> None:
    ids = _deliveries(client, 3)
    rt.queue.dispatch()
    rt.queue.connection.flushdb()  # Redis restarted empty: the inbox and the jobs gone
    assert reconcile(rt, stale_after=0) == 3
    assert rt.queue.backlog() == 3 and _queued(rt) == []  # paced by the dispatcher like any other
    assert reconcile(rt, stale_after=0) == 0  # and not twice
    assert drain(rt) == 3
    with rt.db.session() as s:
        assert set(s.scalars(select(Delivery.status).where(Delivery.id.in_(ids)))) == {DeliveryStatus.PROCESSED}


def test_a_retry_due_is_enqueued_once(client: Any, rt: Runtime) -> None:
    (failed,) = _deliveries(client, 1)
    rt.queue.connection.flushdb()
    with rt.db.session() as s:
        d = s.get(Delivery, failed)
        assert d is not None
        d.status = DeliveryStatus.FAILED.value
        d.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    assert reconcile(rt) == 1
    assert _queued(rt) == [failed]  # straight to the queue: its time has come
    assert reconcile(rt) == 0  # its job waits
    assert _queued(rt) == [failed]


def test_a_job_whose_worker_died_mid_run_does_not_hold_its_delivery_back(client: Any, rt: Runtime) -> None:
    (cut_off,) = _deliveries(client, 1)
    rt.queue.dispatch()
    job = rt.queue.rq.dequeue_any([rt.queue.rq], timeout=None, connection=rt.queue.connection)
    assert job is not None
    job[0].set_status(JobStatus.STARTED)  # a worker took it and was SIGKILLed: RQ still says "started"
    assert reconcile(rt, stale_after=0) == 1
    assert drain(rt) == 1
    with rt.db.session() as s:
        d = s.get(Delivery, cut_off)
        assert d is not None and d.status == DeliveryStatus.PROCESSED


def test_a_backlog_redis_forgot_comes_back_in_pages_within_one_round(client: Any, rt: Runtime) -> None:
    ids = _deliveries(client, 7)
    rt.queue.connection.flushdb()
    assert reconcile(rt, stale_after=0, page=3, most=5) == 5  # pages of 3, at most 5 a round
    assert rt.queue.backlog() == 5
    rt.queue.dispatch()  # the dispatcher took them: the inbox is empty, their jobs wait
    assert reconcile(rt, stale_after=0, page=3) == 2  # the two left; none of the five twice
    rt.queue.dispatch()
    assert sorted(_queued(rt)) == ids
    assert drain(rt) == 7
