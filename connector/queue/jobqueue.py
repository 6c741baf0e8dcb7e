"""Moving work: RQ queues on Redis, or on an in-process fakeredis with a worker thread (embedded).

Redis only moves work. Every job takes ids, is idempotent, and the database says what is left to
do, so a Redis that forgot everything is repaired by the reconciler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import fakeredis
import redis
from rq import Queue
from rq.queue import EnqueueData

from connector import defaults

#: Errors that mean "Redis cannot take this right now" — unreachable, restarting, out of memory, read-only:
#: the caller has stored first and lets the reconciler catch up.
QueueUnavailable = (redis.exceptions.RedisError,)


_ONE = "delivery-"
_MANY = "deliveries-"


def _delivery_job_id(delivery_id: int) -> str:
    return f"{_ONE}{delivery_id}"


def batch_job_id(delivery_ids: Sequence[int]) -> str:
    """A processing job's id for several deliveries, naming them: runs of consecutive ids as
    `first-last`, joined by `_` (`deliveries-100-149_160`). The queue's job ids then say which
    deliveries wait (`waiting_deliveries`), with no other record to keep."""
    runs: list[list[int]] = []
    for i in sorted(set(delivery_ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return _MANY + "_".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def delivery_ids_of(job_id: str) -> list[int]:
    """The deliveries a processing job's id names (none for any other job)."""
    if job_id.startswith(_ONE) and job_id[len(_ONE) :].isdigit():
        return [int(job_id[len(_ONE) :])]
    if not job_id.startswith(_MANY):
        return []
    out: list[int] = []
    for run in job_id[len(_MANY) :].split("_"):
        first, _, last = run.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            out.extend(range(int(first), int(last or first) + 1))
    return out


def _id_job(func: str, args: tuple[Any, ...], description: str, job_id: str | None = None) -> EnqueueData:
    """A job that takes row ids. No result is kept (the outcome is on the rows; a kept result is Redis
    work per job); a failed job stays a week for a human to read."""
    return Queue.prepare_data(
        func,
        args=args,
        job_id=job_id,
        timeout=defaults.JOB_TIMEOUT_SECONDS,
        result_ttl=0,
        failure_ttl=7 * 24 * 3600,
        description=description,
    )


def spread(ids: Sequence[int], jobs: int) -> list[list[int]]:
    """`ids` in order, over at most `jobs` parts of sizes that differ by one at most."""
    count = min(jobs, len(ids))
    if count <= 0:
        return []
    size, extra = divmod(len(ids), count)
    parts, start = [], 0
    for k in range(count):
        end = start + size + (1 if k < extra else 0)
        parts.append(list(ids[start:end]))
        start = end
    return parts


def _processing_job(ids: list[int]) -> EnqueueData:
    if len(ids) == 1:
        (i,) = ids
        return _id_job("connector.inbox.jobs.process_delivery", (i,), f"process delivery {i}", _delivery_job_id(i))
    job_id = batch_job_id(ids)
    return _id_job(
        "connector.inbox.jobs.process_deliveries", (ids,), f"process deliveries {job_id[len(_MANY) :]}", job_id
    )


class JobQueue:
    """The connector's one queue, with verbs for each job it carries."""

    def __init__(self, connection: redis.Redis, name: str = defaults.QUEUE_NAME, *, url: str | None = None):
        self.connection = connection
        self.url = url  # None: embedded (in-process fakeredis)
        self.rq = Queue(name, connection=connection)
        #: outbound intents (pages, notifications) go on a queue of their own that workers take from
        #: first: a page never waits behind a backlog of deliveries to process
        self.outbound = Queue(f"{name}-outbound", connection=connection)
        self.inbox_key = f"connector:inbox:{name}"

    @property
    def queues(self) -> list[Queue]:
        """The queues a worker takes jobs from, in priority order."""
        return [self.outbound, self.rq]

    def notify_delivery(self, delivery_id: int) -> None:
        """Put a stored delivery's id in the inbox (see `notify_deliveries`)."""
        self.notify_deliveries([delivery_id])

    def notify_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """The acknowledgement path's one Redis command per commit: put stored deliveries' ids in the
        inbox, in order.

        A dispatcher turns inbox ids into RQ jobs (`dispatch`); an RQ enqueue costs a pickled job
        and two pipelines, too much to pay before answering a webhook."""
        if delivery_ids:
            self.connection.lpush(self.inbox_key, *delivery_ids)

    def dispatch(self, *, block: float = 0, jobs: int = 10, batch: int = defaults.PROCESS_BATCH_MAX) -> int:
        """Make processing jobs of the ids in the inbox (waiting up to `block` seconds for the first), all
        with one Redis round trip; returns how many ids it took. At most `jobs` jobs of at most `batch`
        ids each, the ids spread evenly over them: a trickle makes jobs of one delivery each, as many as
        there are ids; a backlog makes batches, which a worker processes in one transaction
        (`connector.inbox.batch`). An id popped and then lost (a crash right here) stays `received` in
        the database, and the reconciler enqueues it."""
        ids: list[bytes | str] = []
        if block:
            first = self.connection.brpop([self.inbox_key], timeout=block)
            if first is None:
                return 0
            ids.append(first[1])
        limit = max(jobs, 1) * max(batch, 1)
        if limit > len(ids):
            more = self.connection.rpop(self.inbox_key, limit - len(ids))
            if isinstance(more, list):  # RPOP with a count answers a list (or nothing)
                ids.extend(more)
        unique = list(dict.fromkeys(int(raw) for raw in ids))  # an id pushed twice: one job
        self._enqueue_processing(spread(unique, max(jobs, 1)))
        return len(ids)

    def backlog(self) -> int:
        """Deliveries' ids in the inbox, not yet jobs."""
        return int(self.connection.llen(self.inbox_key))

    def waiting_deliveries(self, delivery_ids: Sequence[int]) -> set[int]:
        """Those of `delivery_ids` whose processing job waits in the queue: the ones the queue's job ids
        name (one round trip; a job a worker has taken, finished or not, is no longer there)."""
        if not delivery_ids:
            return set()
        waiting = {i for job_id in self.rq.get_job_ids() for i in delivery_ids_of(job_id)}
        return {i for i in delivery_ids if i in waiting}

    @classmethod
    def from_url(cls, url: str, name: str = defaults.QUEUE_NAME) -> JobQueue:
        conn = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
        return cls(conn, name, url=url)

    def worker_connection(self) -> redis.Redis:
        """A connection of its own for an RQ worker: its blocking dequeue waits longer than the shared
        connection's 5 s socket timeout would allow (RQ sets the socket timeout to fit), and a new one
        after each restart of the worker loop."""
        if self.url is None:
            return self.connection
        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_keepalive=True, health_check_interval=30)

    @classmethod
    def embedded(cls, name: str = defaults.QUEUE_NAME) -> JobQueue:
        return cls(fakeredis.FakeRedis(server=fakeredis.FakeServer()), name)

    def enqueue_delivery(self, delivery_id: int) -> None:
        self.enqueue_deliveries([delivery_id])

    def enqueue_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """A processing job for each delivery, in order, with one Redis round trip for all of them (each
        id once: a job id twice in one call is an error)."""
        self._enqueue_processing([[i] for i in delivery_ids])

    def _enqueue_processing(self, parts: Sequence[Sequence[int]]) -> None:
        """One job per part: a part of one delivery is `process_delivery`, of several `process_deliveries`."""
        if parts:
            self.rq.enqueue_many([_processing_job(list(part)) for part in parts])

    def enqueue_outbox(self, outbox_id: int) -> None:
        """Deliver one outbox row (the job claims it, so a second job for the same row does nothing)."""
        self.enqueue_outbox_many([outbox_id])

    def enqueue_outbox_many(self, outbox_ids: Sequence[int]) -> None:
        """`enqueue_outbox` for each row, with one Redis round trip for all of them (a sweeper's chunk
        commits dozens of pages and notifications at once)."""
        if outbox_ids:
            self.outbound.enqueue_many(
                [
                    _id_job("connector.outbox.delivery.deliver_outbox", (i,), f"deliver outbox item {i}")
                    for i in outbox_ids
                ]
            )

    def enqueue(self, func: str, *args: Any, job_id: str | None = None) -> None:
        self.rq.enqueue_call(func, args=args, job_id=job_id, timeout=defaults.JOB_TIMEOUT_SECONDS, result_ttl=300)

    def depth(self) -> int:
        """Work waiting: deliveries in the inbox, jobs enqueued and not yet started."""
        return int(self.connection.llen(self.inbox_key)) + self.rq.count + self.outbound.count

    def ping(self) -> None:
        self.connection.ping()
