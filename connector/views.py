"""JSON views of stored objects, shared by the admin API, the CLI and the demo."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.model import TICKET_FIELDS
from connector.tables import Delivery, Link, SlaClock, Ticket, TimelineEntry


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_json(t: Ticket, s: Session, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t.id, **{name: getattr(t, name) for name in TICKET_FIELDS}}
    for name in ("created_at", "updated_at", "first_response_at", "resolved_at", "closed_at"):
        out[name] = _iso(getattr(t, name))
    links = s.scalars(select(Link).where(Link.ticket_id == t.id).order_by(Link.id)).all()
    out["links"] = [{"vendor": ln.vendor, "instance": ln.instance, "object_type": ln.object_type,
                     "external_id": ln.external_id, "key": ln.key, "url": ln.url, "role": ln.role}
                    for ln in links]
    if full:
        entries = s.scalars(select(TimelineEntry).where(TimelineEntry.ticket_id == t.id)
                            .order_by(TimelineEntry.at, TimelineEntry.id)).all()
        out["timeline"] = [{"at": _iso(e.at), "recorded_at": _iso(e.recorded_at), "kind": e.kind,
                            "source": e.source, "actor": e.actor, "summary": e.summary,
                            "delivery_id": e.delivery_id, "data": e.data} for e in entries]
        clocks = s.scalars(select(SlaClock).where(SlaClock.ticket_id == t.id)
                           .order_by(SlaClock.started_at, SlaClock.metric, SlaClock.cycle)).all()
        out["sla_clocks"] = [c.data for c in clocks]
    return out


def delivery_json(d: Delivery, *, body: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id, "vendor": d.vendor, "instance": d.instance, "dedupe_key": d.dedupe_key,
        "event_type": d.event_type, "status": d.status, "outcome": d.outcome, "error": d.error,
        "attempts": d.attempts, "received_at": _iso(d.received_at), "processed_at": _iso(d.processed_at),
        "next_attempt_at": _iso(d.next_attempt_at), "ticket_id": d.ticket_id, "body_sha256": d.body_sha256,
    }
    if body:
        out["headers"] = d.headers
        try:
            out["body"] = json.loads(d.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            out["body_text"] = d.body.decode("utf-8", errors="replace")
    return out
