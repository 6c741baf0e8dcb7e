"""The ticker: periodic duties in one supervised daemon thread (`connector.loops.Loop`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from connector.logs import where
from connector.loops import Loop
from connector.queue import QueueUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    """Something to do every `interval` seconds (the reconciler, the SLA sweeper)."""

    name: str
    interval: float
    run: Callable[[], object]


class Ticker(Loop):
    """Runs periodic duties, each at a fixed rate. A duty keeps its work in the database, so a run that
    fails loses nothing: the next one finds the same work due, and one failing duty never holds up the
    others."""

    def __init__(self, duties: Sequence[Duty]):
        super().__init__("ticker", self.tick)
        self.duties = list(duties)
        self._next = {d.name: 0.0 for d in self.duties}

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
            except (*QueueUnavailable, SQLAlchemyError) as exc:
                # Nothing is lost: the rows stay due and the next tick tries again.
                log.warning(
                    "ticker: %s skipped, %s unavailable",
                    name,
                    "queue" if isinstance(exc, QueueUnavailable) else "database",
                    extra={"duty": name, "error": type(exc).__name__},
                )
            except Exception as exc:  # the duty's work stays due in the database; the ticker goes on
                log.error(
                    "ticker: %s failed", name, extra={"duty": name, "error": type(exc).__name__, "where": where(exc)}
                )
        return max(0.0, min(self._next.values()) - (time.monotonic() if real else now))
