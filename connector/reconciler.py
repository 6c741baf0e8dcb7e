"""Re-arm what Redis forgot: enqueue every stored delivery that is due and not yet done.

Runs when a worker starts and then periodically (`Ticker`). Safe to run from several processes
at once: jobs are idempotent, so a delivery enqueued twice is applied once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import OperationalError

from connector import defaults
from connector.queue import QueueUnavailable
from connector.runtime import Runtime
from connector.tables import Delivery

log = logging.getLogger(__name__)


def due_deliveries(rt: Runtime, *, now: datetime, stale_after: float, limit: int = 1000) -> list[int]:
    """Received but not processed for `stale_after` seconds, or failed with their retry time come."""
    with rt.db.session() as s:
        return list(s.scalars(
            select(Delivery.id).where(or_(
                and_(Delivery.status == "received", Delivery.received_at <= now - timedelta(seconds=stale_after)),
                and_(Delivery.status == "failed", Delivery.next_attempt_at <= now),
            )).order_by(Delivery.id).limit(limit)
        ))


def reconcile(rt: Runtime, *, now: datetime | None = None,
              stale_after: float = defaults.RECONCILE_STALE_AFTER_SECONDS) -> int:
    """Enqueue what is due; returns how many were enqueued. Raises if the queue is unreachable."""
    ids = due_deliveries(rt, now=now or datetime.now(UTC), stale_after=stale_after)
    for delivery_id in ids:
        rt.queue.enqueue_delivery(delivery_id)
    if ids:
        log.info("reconciler enqueued deliveries", extra={"count": len(ids)})
    return len(ids)


class Ticker:
    """Runs periodic duties in a daemon thread: the reconciler (every `reconcile_interval`) and the
    SLA sweeper (every `sla_interval`). Both read the database; neither needs Redis to be up."""

    def __init__(self, rt: Runtime, *, reconcile_interval: float, sla_interval: float = defaults.SLA_TICK_SECONDS):
        from connector.sla.live import sweep

        self.rt = rt
        self.duties: list[tuple[str, float, Callable[[Runtime], object]]] = [
            ("reconcile", reconcile_interval, lambda r: reconcile(r)),
            ("sla sweep", sla_interval, lambda r: sweep(r)),
        ]
        self._next = {name: 0.0 for name, _, _ in self.duties}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: float | None = None) -> float:
        """Run the duties that are due; returns the seconds until the next one is."""
        real = now is None
        now = time.monotonic() if now is None else now
        for name, interval, duty in self.duties:
            if now < self._next[name]:
                continue
            # Fixed rate: the next run is due one interval after this one was, not after it ended.
            nxt = self._next[name] + interval
            self._next[name] = nxt if nxt > now else now + interval
            try:
                duty(self.rt)
            except (*QueueUnavailable, OperationalError) as exc:
                # Nothing is lost: the rows stay due and the next tick tries again.
                log.warning("ticker: %s skipped, %s unavailable", name,
                            "database" if isinstance(exc, OperationalError) else "queue",
                            extra={"error": type(exc).__name__})
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
