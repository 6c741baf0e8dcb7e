"""Moving work: RQ queues on Redis, or on an in-process fakeredis with a worker thread (embedded).

Redis only moves work. Every job takes ids, is idempotent, and the database says what is left to
do, so a Redis that forgot everything is repaired by the reconciler.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import fakeredis
import redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from connector import defaults

log = logging.getLogger(__name__)

#: Errors that mean "Redis is unreachable right now": the caller stores first and lets the reconciler catch up.
QueueUnavailable = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class JobQueue:
    """The connector's one queue, with verbs for each job it carries."""

    def __init__(self, connection: redis.Redis, name: str = defaults.QUEUE_NAME):
        self.connection = connection
        self.rq = Queue(name, connection=connection)

    @classmethod
    def from_url(cls, url: str, name: str = defaults.QUEUE_NAME) -> JobQueue:
        conn = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
        return cls(conn, name)

    @classmethod
    def embedded(cls, name: str = defaults.QUEUE_NAME) -> JobQueue:
        return cls(fakeredis.FakeRedis(server=fakeredis.FakeServer()), name)

    def enqueue_delivery(self, delivery_id: int) -> None:
        self.rq.enqueue_call(
            "connector.jobs.process_delivery",
            args=(delivery_id,),
            job_id=f"delivery-{delivery_id}",
            timeout=defaults.JOB_TIMEOUT_SECONDS,
            result_ttl=300,
            failure_ttl=7 * 24 * 3600,
            description=f"process delivery {delivery_id}",
        )

    def enqueue(self, func: str, *args: Any, job_id: str | None = None) -> None:
        self.rq.enqueue_call(func, args=args, job_id=job_id, timeout=defaults.JOB_TIMEOUT_SECONDS, result_ttl=300)

    def depth(self) -> int:
        return self.rq.count

    def ping(self) -> None:
        self.connection.ping()


class ThreadWorker(SimpleWorker):
    """An RQ worker that can live in a non-main thread: no signal handlers, timer-based timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals only work in the main thread
        return None


class EmbeddedWorker:
    """Runs a ThreadWorker on the embedded queue in a daemon thread until `stop()`."""

    def __init__(self, queue: JobQueue):
        self.queue = queue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.worker: ThreadWorker | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="connector-embedded-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.worker = ThreadWorker([self.queue.rq], connection=self.queue.connection, worker_ttl=16)
            # worker_ttl 16 → the blocking dequeue wakes every second to notice stop().
            self.worker.work(burst=False, logging_level="WARNING", with_scheduler=False)
            if not self._stop.is_set():
                log.error("embedded worker loop ended unexpectedly; restarting it")
                self._stop.wait(1.0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker._stop_requested = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
