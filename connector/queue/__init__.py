"""Moving work: RQ queues on Redis (or an in-process fakeredis in embedded mode), the worker threads
and the inbox dispatcher. Knows jobs only by name; imports only defaults, logs and loops."""

from __future__ import annotations

from connector.queue.jobqueue import JobQueue, QueueUnavailable
from connector.queue.workers import ConnectorWorker, Dispatcher, EmbeddedWorker, ThreadWorker, run_worker

__all__ = [
    "ConnectorWorker",
    "Dispatcher",
    "EmbeddedWorker",
    "JobQueue",
    "QueueUnavailable",
    "ThreadWorker",
    "run_worker",
]
