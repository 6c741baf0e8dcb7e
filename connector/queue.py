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
        self.inbox_key = f"connector:inbox:{name}"

    def notify_delivery(self, delivery_id: int) -> None:
        """The acknowledgement path's one Redis command: put a stored delivery's id in the inbox.

        A dispatcher turns inbox ids into RQ jobs (`dispatch`); an RQ enqueue costs a pickled job
        and two pipelines, too much to pay before answering a webhook."""
        self.connection.lpush(self.inbox_key, delivery_id)

    def dispatch(self, *, block: float = 0, limit: int = 500) -> int:
        """Enqueue a processing job for each id in the inbox (waiting up to `block` seconds for the
        first); returns how many. An id popped and then lost (a crash right here) stays `received`
        in the database, and the reconciler enqueues it."""
        ids: list[bytes] = []
        if block:
            first = self.connection.brpop([self.inbox_key], timeout=block)
            if first is None:
                return 0
            ids.append(first[1])
        more = self.connection.rpop(self.inbox_key, limit - len(ids))
        ids.extend(more or [])
        for raw in ids:
            self.enqueue_delivery(int(raw))
        return len(ids)

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
        """Deliveries waiting: in the inbox, or enqueued and not yet started."""
        return int(self.connection.llen(self.inbox_key)) + self.rq.count

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


class Dispatcher:
    """Moves inbox ids to RQ jobs in a daemon thread (in every worker process, and in embedded mode)."""

    def __init__(self, queue: JobQueue):
        self.queue = queue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="connector-dispatcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.queue.dispatch(block=1)
            except QueueUnavailable as exc:
                # The ids wait in Redis, or (if Redis lost them) in the database for the reconciler.
                log.warning("dispatcher: queue unavailable", extra={"error": type(exc).__name__})
                self._stop.wait(1.0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
