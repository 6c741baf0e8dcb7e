"""Threads that move work inside one process: an RQ worker that can live in a thread (embedded
mode), and the dispatcher that turns acknowledged deliveries' inbox ids into RQ jobs."""

from __future__ import annotations

import logging
import threading

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from connector.queue.jobqueue import JobQueue, QueueUnavailable

log = logging.getLogger(__name__)


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
