"""Every long-running loop survives any exception — logs one line, backs off, goes on — and /readyz and
/metrics say how each is doing; `connector worker`'s RQ loop starts again after losing Redis."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from connector.loops import Backoff, Loop
from connector.queue import workers
from tests.conftest import ADMIN


def test_a_loop_survives_any_exception_and_backs_off(caplog):
    caplog.set_level(logging.INFO, logger="connector.loops")
    calls: list[int] = []

    def step() -> float:
        calls.append(1)
        if len(calls) <= 3:
            raise (KeyError, ZeroDivisionError, redis.exceptions.ConnectionError)[len(calls) - 1]("boom")
        return 0.0

    loop = Loop("test loop", step, backoff=Backoff(1.0, 3.0))
    waits = [loop.once() for _ in range(5)]
    assert waits == [1.0, 2.0, 3.0, 0.0, 0.0]  # backed off, capped, reset after a success
    status = loop.status()
    assert (status.failing, status.last_error) == (0, "ConnectionError")
    failures = [r for r in caplog.records if r.getMessage().startswith("test loop failed")]
    assert len(failures) == 3 and all(r.exc_info is None for r in failures)  # one line each, no traceback
    assert any(r.getMessage() == "test loop recovered" for r in caplog.records)


def test_a_loop_thread_goes_on_after_failures_until_stopped():
    seen = threading.Event()
    count = {"n": 0}

    def step() -> float:
        count["n"] += 1
        if count["n"] < 3:
            raise RuntimeError("transient")
        seen.set()
        return 0.01

    loop = Loop("thread loop", step, backoff=Backoff(0.01, 0.02))
    loop.start()
    assert seen.wait(5)
    assert loop.status().running
    loop.stop()
    assert not loop.status().running


def test_the_worker_starts_again_after_it_loses_redis(rt, monkeypatch):
    """RQ's work loop raises or quits when Redis drops; `run_worker` logs one line, waits and starts a new
    worker — until it is asked to stop (warm shutdown) or, in burst mode, runs out of jobs."""
    outcomes: list[Any] = [redis.exceptions.ConnectionError("Connection refused"), "lost", "stop"]
    made: list[Any] = []
    # building a worker for several queues already talks to Redis: that fails too while it is down
    refusals = [redis.exceptions.ConnectionError("Error 111 connecting"), redis.exceptions.TimeoutError("timeout")]

    class FakeWorker:
        def __init__(self, *_: Any, **__: Any) -> None:
            if refusals:
                raise refusals.pop(0)
            made.append(self)
            self._stop_requested = False

        def work(self, **_: Any) -> bool:
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            self._stop_requested = outcome == "stop"
            return False

    monkeypatch.setattr(workers, "ConnectorWorker", FakeWorker)
    monkeypatch.setattr(workers.time, "sleep", lambda _: None)
    workers.run_worker(rt.queue)
    assert len(made) == 3 and outcomes == [] and refusals == []


def test_the_worker_connection_outwaits_the_blocking_dequeue(rt):
    """An idle worker blocks on Redis for up to `dequeue_timeout` seconds; a socket timeout shorter than
    that made RQ log false connection errors and back off for up to 60 s before noticing new work."""
    worker = workers.ConnectorWorker(
        [rt.queue.rq], connection=rt.queue.worker_connection(), worker_ttl=workers.WORKER_TTL_SECONDS
    )
    timeout = worker.connection.connection_pool.connection_kwargs.get("socket_timeout")
    if rt.queue.url is not None:  # a real Redis (fakeredis has no sockets)
        assert timeout is not None and timeout > worker.dequeue_timeout
        assert worker.connection is not rt.queue.connection
    assert worker.dequeue_timeout <= 45 and worker.max_connection_wait_time == 5


def test_readyz_reports_each_loop_and_a_dead_one_is_not_ready(app, rt):
    client = app.test_client()
    rt.start_dispatcher()
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 200 and answer.get_json()["loops"]["dispatcher"]["running"] is True
        assert rt.dispatcher is not None
        rt.dispatcher._stop.set()  # the thread ends as if it had died
        rt.dispatcher._thread.join(5)  # type: ignore[union-attr]
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.get_json()["checks"]["loop dispatcher"] == "not running"
    finally:
        rt.close_loops()


def test_metrics_answer_while_the_database_is_down(app, rt, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down() -> Any:
        raise OperationalError("SELECT ...", {}, ConnectionRefusedError("refused"))

    monkeypatch.setattr(rt.db, "session", down)
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200
    assert "connector_store_up 0.0" in answer.get_data(as_text=True)


def test_readyz_is_503_not_500_while_the_database_is_down(app, rt, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    monkeypatch.setattr(rt.db, "ping", down)
    answer = app.test_client().get("/readyz", headers=ADMIN)
    assert answer.status_code == 503 and answer.get_json()["checks"]["database"].startswith("unreachable")
