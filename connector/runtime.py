"""The process-wide wiring: settings, database, queue and adapters, built once from the environment.

Jobs take ids and find everything else here, so the same job code runs in the embedded worker
thread, in `connector worker` processes and in tests.
"""

from __future__ import annotations

import threading
from typing import Any

from adapters.base import Adapter
from adapters.registry import build_adapters
from connector.config import Settings
from connector.db import Database
from connector.queue import Dispatcher, EmbeddedWorker, JobQueue


class Runtime:
    def __init__(self, settings: Settings, *, db: Database | None = None, queue: JobQueue | None = None):
        self.settings = settings
        self.db = db or Database(settings.database_url)
        if queue is None:
            queue = JobQueue.embedded(settings.queue_name) if settings.embedded else JobQueue.from_url(
                settings.redis_url or "", settings.queue_name
            )
        self.queue = queue
        self.adapters: dict[str, Adapter] = build_adapters(settings)
        self.embedded_worker: EmbeddedWorker | None = None
        self.ticker: Any = None
        self.dispatcher: Dispatcher | None = None

    def start_embedded_worker(self) -> None:
        """Embedded mode: process jobs in this process, in a thread."""
        if self.embedded_worker is None:
            self.embedded_worker = EmbeddedWorker(self.queue)
            self.embedded_worker.start()

    def start_dispatcher(self) -> None:
        """Turn acknowledged deliveries' inbox ids into RQ jobs, in this process."""
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(self.queue)
            self.dispatcher.start()

    def start_ticker(self) -> None:
        """Run the reconciler and the SLA sweeper periodically in this process."""
        from connector.reconciler import Ticker

        if self.ticker is None:
            self.ticker = Ticker(self, reconcile_interval=self.settings.reconcile_interval)
            self.ticker.start()

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None
        if self.ticker is not None:
            self.ticker.stop()
            self.ticker = None
        if self.embedded_worker is not None:
            self.embedded_worker.stop()
            self.embedded_worker = None
        self.db.dispose()


_lock = threading.Lock()
_current: Runtime | None = None


def install(rt: Runtime | None) -> Runtime | None:
    """Make `rt` the runtime jobs in this process use; returns the previous one."""
    global _current
    with _lock:
        prev, _current = _current, rt
    return prev


def current() -> Runtime:
    """The installed runtime, or one built from the environment on first use (worker processes)."""
    global _current
    with _lock:
        if _current is None:
            _current = Runtime(Settings.from_env())
        return _current
