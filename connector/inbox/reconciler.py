"""Re-arm what Redis forgot: enqueue every stored delivery that is due and not yet done.

Runs when a worker starts and then periodically (a duty of the runtime's ticker). Safe to run from several processes
at once: jobs are idempotent, so a delivery enqueued twice is applied once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select

from connector import defaults
from connector.runtime import Runtime
from connector.store import DeliveryStatus
from connector.store.tables import Delivery

log = logging.getLogger(__name__)


def due_deliveries(rt: Runtime, *, now: datetime, stale_after: float, limit: int = 1000) -> list[int]:
    """Received but not processed for `stale_after` seconds, or failed with their retry time come."""
    with rt.db.session() as s:
        return list(
            s.scalars(
                select(Delivery.id)
                .where(
                    or_(
                        and_(
                            Delivery.status == DeliveryStatus.RECEIVED,
                            Delivery.received_at <= now - timedelta(seconds=stale_after),
                        ),
                        and_(Delivery.status == DeliveryStatus.FAILED, Delivery.next_attempt_at <= now),
                    )
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
        )


def reconcile(
    rt: Runtime, *, now: datetime | None = None, stale_after: float = defaults.RECONCILE_STALE_AFTER_SECONDS
) -> int:
    """Enqueue what is due; returns how many were enqueued. Raises if the queue is unreachable."""
    ids = due_deliveries(rt, now=now or datetime.now(UTC), stale_after=stale_after)
    for delivery_id in ids:
        rt.queue.enqueue_delivery(delivery_id)
    if ids:
        log.info("reconciler enqueued deliveries", extra={"count": len(ids)})
    return len(ids)
