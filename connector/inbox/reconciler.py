"""Re-arm what Redis forgot: enqueue every stored delivery that is due and not yet done.

Runs when a worker starts and then periodically (a duty of the runtime's ticker). Safe to run from several processes
at once: jobs are idempotent, so a delivery enqueued twice is applied once. It leaves alone what Redis still holds:
a delivery whose job waits in the queue, and — while the inbox still holds ids, a backlog the dispatcher is
working through — every delivery still `received`, which is most likely one of them (one the dispatcher lost in a
crash is enqueued once the backlog is through). A job that started and never finished (its worker killed) does
not count: its delivery is enqueued again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, select

from connector import defaults
from connector.runtime import Runtime
from connector.store import DeliveryStatus
from connector.store.tables import Delivery

log = logging.getLogger(__name__)


def stale_deliveries(rt: Runtime, *, now: datetime, stale_after: float, limit: int = 1000, after: int = 0) -> list[int]:
    """Received but not processed for `stale_after` seconds, oldest first (ids above `after`)."""
    with rt.db.session() as s:
        return list(
            s.scalars(
                select(Delivery.id)
                .where(
                    Delivery.status == DeliveryStatus.RECEIVED,
                    Delivery.received_at <= now - timedelta(seconds=stale_after),
                    Delivery.id > after,
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
        )


def retries_due(rt: Runtime, *, now: datetime, limit: int = 1000) -> list[int]:
    """Failed with their retry time come, oldest first."""
    with rt.db.session() as s:
        return list(
            s.scalars(
                select(Delivery.id)
                .where(and_(Delivery.status == DeliveryStatus.FAILED, Delivery.next_attempt_at <= now))
                .order_by(Delivery.id)
                .limit(limit)
            )
        )


def reconcile(
    rt: Runtime,
    *,
    now: datetime | None = None,
    stale_after: float = defaults.RECONCILE_STALE_AFTER_SECONDS,
    page: int = 1000,
    most: int = defaults.RECONCILE_MOST_PER_ROUND,
) -> int:
    """Enqueue what is due and not in Redis; returns how many were enqueued. Stale deliveries go to the
    inbox in pages of `page` (ids are cheap there: the dispatcher makes their jobs at the workers'
    pace), up to `most` a round, so a Redis that came back empty has its whole backlog back within a
    round or two; retries go straight to the queue. Raises if the queue is unreachable."""
    now = now or datetime.now(UTC)
    armed = 0
    if rt.queue.backlog() == 0:
        after = 0
        while armed < most:
            stale = stale_deliveries(rt, now=now, stale_after=stale_after, limit=min(page, most - armed), after=after)
            if not stale:
                break
            after = stale[-1]
            waiting = rt.queue.waiting_deliveries(stale)
            lost = [i for i in stale if i not in waiting]
            rt.queue.notify_deliveries(lost)
            armed += len(lost)
            if len(stale) < page:
                break
    retries = retries_due(rt, now=now)
    waiting = rt.queue.waiting_deliveries(retries)
    retries = [i for i in retries if i not in waiting]
    rt.queue.enqueue_deliveries(retries)
    if armed or retries:
        log.info("reconciler enqueued deliveries", extra={"count": armed + len(retries), "retries": len(retries)})
    return armed + len(retries)
