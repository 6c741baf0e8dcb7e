"""Replay: run a stored delivery through processing again (e.g. after fixing a mapping).

Resets a dead, failed, rejected or ignored delivery to `received` and enqueues it. A processed
delivery is replayed too: ticket updates are order-safe, so re-applying it changes nothing that a
newer event already set.
"""

from __future__ import annotations

from typing import Any

from connector.errors import NotFound
from connector.queue import QueueUnavailable
from connector.runtime import Runtime
from connector.store import DeliveryStatus, is_id
from connector.store.tables import Delivery


def replay(rt: Runtime, delivery_id: int) -> dict[str, Any]:
    with rt.db.session() as s:
        d = s.get(Delivery, delivery_id, with_for_update=True) if is_id(delivery_id) else None
        if d is None:
            raise NotFound(f"no delivery {delivery_id}")
        previous = d.status
        d.status = DeliveryStatus.RECEIVED.value
        d.error = None
        d.next_attempt_at = None
        d.attempts = 0
    try:
        rt.queue.enqueue_delivery(delivery_id)
        queued = True
    except QueueUnavailable:
        queued = False  # stays "received": the reconciler enqueues it
    return {"delivery_id": delivery_id, "previous_status": previous, "queued": queued}
