"""Reading what the connector stored, from the outside: deliveries, their effects on tickets.

The fault tests judge the connector by its database — the source of truth — through their own
engine (no pool: each look opens a fresh connection, so a database restart does not break it).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from connector.config import normalize_database_url
from connector.store.tables import Delivery, Link, Ticket, TimelineEntry

#: statuses no job changes any more, other than `dead` (a dead delivery is a failure in every test here)
SETTLED = frozenset({"processed", "ignored", "rejected"})
#: the ticket columns the out-of-order test compares (everything but ids and bookkeeping)
TICKET_FIELDS = (
    "title",
    "description",
    "status",
    "severity",
    "category",
    "customer_id",
    "customer_name",
    "customer_tier",
    "requester_id",
    "requester_name",
    "requester_email",
    "support_level",
    "assignee",
    "group_name",
    "channel",
    "tags",
    "impact_users",
    "csat",
    "root_cause",
    "resolution_summary",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
)


@dataclass(frozen=True)
class Row:
    id: int
    vendor: str
    dedupe_key: str
    event_type: str | None
    status: str
    attempts: int
    body_sha256: str
    error: str | None
    outcome: str | None


class Ledger:
    def __init__(self, database_url: str):
        self.engine: Engine = create_engine(normalize_database_url(database_url), poolclass=NullPool)

    def close(self) -> None:
        self.engine.dispose()

    def deliveries(self) -> dict[int, Row]:
        cols = (
            Delivery.id,
            Delivery.vendor,
            Delivery.dedupe_key,
            Delivery.event_type,
            Delivery.status,
            Delivery.attempts,
            Delivery.body_sha256,
            Delivery.error,
            Delivery.outcome,
        )
        with self.engine.connect() as conn:
            return {r.id: Row(*r) for r in conn.execute(select(*cols))}

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Delivery)) or 0)

    def statuses(self) -> Counter[str]:
        with self.engine.connect() as conn:
            return Counter(dict(conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()))

    def status_of(self, ids: Iterable[int]) -> dict[int, str]:
        ids = list(ids)
        if not ids:
            return {}
        with self.engine.connect() as conn:
            return dict(conn.execute(select(Delivery.id, Delivery.status).where(Delivery.id.in_(ids))).all())

    def effects(self) -> Counter[tuple[int, str]]:
        """Timeline entries by (delivery id, kind): what each delivery did to tickets."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TimelineEntry.delivery_id, TimelineEntry.kind, func.count())
                .where(TimelineEntry.delivery_id.is_not(None))
                .group_by(TimelineEntry.delivery_id, TimelineEntry.kind)
            ).all()
        return Counter({(int(d), str(k)): int(n) for d, k, n in rows})

    def links(self, vendor: str, object_type: str) -> Counter[str]:
        """Links per external id of one vendor's objects (each object belongs to exactly one ticket)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Link.external_id, func.count())
                .where(Link.vendor == vendor, Link.object_type == object_type)
                .group_by(Link.external_id)
            ).all()
        return Counter({str(e): int(n) for e, n in rows})

    def tickets(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Ticket)) or 0)

    def ticket_for(self, vendor: str, object_type: str, external_id: str) -> dict[str, Any] | None:
        """The canonical fields of the ticket a vendor object belongs to (None if it has none)."""
        with self.engine.connect() as conn:
            ticket_id = conn.scalar(
                select(Link.ticket_id).where(
                    Link.vendor == vendor, Link.object_type == object_type, Link.external_id == external_id
                )
            )
            if ticket_id is None:
                return None
            row = conn.execute(select(Ticket).where(Ticket.id == ticket_id)).mappings().one()
        out = {name: row[name] for name in TICKET_FIELDS}
        out["created_at"] = row["created_at"]
        out["id"] = ticket_id
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in out.items()}

    def timeline(self, ticket_id: int) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TimelineEntry.kind, TimelineEntry.summary)
                .where(TimelineEntry.ticket_id == ticket_id)
                .order_by(TimelineEntry.id)
            ).all()
        return [(str(k), str(s)) for k, s in rows]

    def wait(self, done: Callable[[Ledger], bool], timeout: float, interval: float = 0.5) -> bool:
        """Poll until `done(self)` (database errors count as not yet); False after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if done(self):
                    return True
            except SQLAlchemyError:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def settled(self, *, allow_failed: bool = False) -> bool:
        """No delivery is waiting (`received`), nor `failed` awaiting a retry unless `allow_failed`."""
        waiting = {"received"} | (set() if allow_failed else {"failed"})
        return not (set(self.statuses()) & waiting)


def examples(items: Iterable[Any], n: int = 5) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f" … (+{len(items) - n} more)" if len(items) > n else "")
