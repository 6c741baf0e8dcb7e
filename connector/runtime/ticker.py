"""The ticker: periodic duties in one daemon thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from connector.queue import QueueUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    """Something to do every `interval` seconds (the reconciler, the SLA sweeper)."""

    name: str
    interval: float
    run: Callable[[], object]


class Ticker:
    """Runs periodic duties in a daemon thread, each at a fixed rate. A duty keeps its work in the
    database, so a run that fails loses nothing: the next one finds the same work due."""

    def __init__(self, duties: Sequence[Duty]):
        self.duties = list(duties)
        self._next = {d.name: 0.0 for d in self.duties}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: float | None = None) -> float:
        """Run the duties that are due; returns the seconds until the next one is."""
        real = now is None
        now = time.monotonic() if now is None else now
        for duty in self.duties:
            name = duty.name
            if now < self._next[name]:
                continue
            # Fixed rate: the next run is due one interval after this one was, not after it ended.
            nxt = self._next[name] + duty.interval
            self._next[name] = nxt if nxt > now else now + duty.interval
            try:
                duty.run()
            except (*QueueUnavailable, OperationalError) as exc:
                # Nothing is lost: the rows stay due and the next tick tries again.
                log.warning(
                    "ticker: %s skipped, %s unavailable",
                    name,
                    "database" if isinstance(exc, OperationalError) else "queue",
                    extra={"error": type(exc).__name__},
                )
            except Exception:
                # The duty's work stays due in the database; the ticker must outlive one bad run.
                log.exception("ticker: %s failed", name)
        return max(0.0, min(self._next.values()) - (time.monotonic() if real else now))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="connector-ticker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            wait = self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
