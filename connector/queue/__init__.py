"""Moving work: RQ queues on Redis (or an in-process fakeredis in embedded mode), the worker threads
and the inbox dispatcher. Knows jobs only by name; imports nothing of the connector but defaults."""

from __future__ import annotations

from connector.queue.jobqueue import JobQueue, QueueUnavailable
from connector.queue.workers import Dispatcher, EmbeddedWorker, ThreadWorker

__all__ = ["Dispatcher", "EmbeddedWorker", "JobQueue", "QueueUnavailable", "ThreadWorker"]
