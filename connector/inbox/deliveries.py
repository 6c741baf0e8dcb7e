"""Reading the inbox: stored deliveries as JSON, the list with its filters, and the counts the
metrics and the demo read. Shared by the admin API, the CLI and `/metrics`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.errors import NotFound
from connector.store import DeliveryStatus, is_id
from connector.store.tables import Delivery

#: query-string filters of the delivery list
FILTERS = ("vendor", "instance", "status")


@dataclass(frozen=True)
class Processed:
    vendor: str
    seconds: float  # received → processed


def list_deliveries(
    s: Session, *, filters: Mapping[str, str], limit: int, offset: int = 0, before: int | None = None
) -> list[dict[str, Any]]:
    """Deliveries, newest first; `filters` may name any of FILTERS (others are ignored); `before`: only
    those older than that id (keyset paging: the last row's id is the next page's cursor)."""
    q = select(Delivery).order_by(Delivery.id.desc())
    for name in FILTERS:
        if filters.get(name):
            q = q.where(getattr(Delivery, name) == filters[name])
    if before is not None:
        q = q.where(Delivery.id < before)
        offset = 0
    return [delivery_json(d) for d in s.scalars(q.limit(limit).offset(offset))]


def get_delivery(s: Session, delivery_id: int) -> dict[str, Any]:
    """One delivery with its audit headers and body; NotFound if there is none."""
    d = s.get(Delivery, delivery_id) if is_id(delivery_id) else None
    if d is None:
        raise NotFound(f"no delivery {delivery_id}")
    return delivery_json(d, body=True)


def ids_with_status(s: Session, status: DeliveryStatus) -> list[int]:
    return list(s.scalars(select(Delivery.id).where(Delivery.status == status.value).order_by(Delivery.id)))


def count_unfinished(s: Session) -> int:
    """Deliveries still to be processed: received, or failed and waiting for a retry."""
    return (
        s.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status.in_((DeliveryStatus.RECEIVED.value, DeliveryStatus.FAILED.value)))
        )
        or 0
    )


def counts_by_status(s: Session) -> list[tuple[str, str, int]]:
    """(vendor, status, how many) over every stored delivery."""
    rows = s.execute(select(Delivery.vendor, Delivery.status, func.count()).group_by(Delivery.vendor, Delivery.status))
    return [(vendor, status, int(n)) for vendor, status, n in rows]


def processed_since(s: Session, since: datetime) -> list[Processed]:
    """How long each delivery processed since `since` waited between its receipt and its processing."""
    rows = s.execute(
        select(Delivery.vendor, Delivery.received_at, Delivery.processed_at).where(
            Delivery.status == DeliveryStatus.PROCESSED.value, Delivery.processed_at >= since
        )
    )
    return [
        Processed(vendor, (processed - received).total_seconds())
        for vendor, received, processed in rows
        if processed is not None
    ]


def delivery_json(d: Delivery, *, body: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "vendor": d.vendor,
        "instance": d.instance,
        "dedupe_key": d.dedupe_key,
        "event_type": d.event_type,
        "status": d.status,
        "outcome": d.outcome,
        "error": d.error,
        "attempts": d.attempts,
        "received_at": _iso(d.received_at),
        "processed_at": _iso(d.processed_at),
        "next_attempt_at": _iso(d.next_attempt_at),
        "ticket_id": d.ticket_id,
        "body_sha256": d.body_sha256,
    }
    if body:
        out["headers"] = d.headers
        try:
            out["body"] = json.loads(d.body)
        except (ValueError, RecursionError):  # not JSON, an integer of thousands of digits, nested too deeply
            out["body_text"] = d.body.decode("utf-8", errors="replace")
    return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
