"""Preview a mapping: run an adapter and a mapping document over a payload, touching nothing."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from connector.errors import ConnectorError, MappingError, NotFound, PayloadError, json_kind
from connector.model import TICKET_FIELDS, FieldMapping, LinkRole
from connector.runtime import Runtime
from connector.store.limits import is_id
from connector.store.tables import Delivery, Ticket
from connector.tickets import find_link


def preview(
    rt: Runtime, *, vendor: str, payload: Any, headers: dict[str, str], document: FieldMapping, source: str
) -> dict[str, Any]:
    adapter = rt.adapter(vendor)
    try:
        parsed = adapter.parse(headers=headers, payload=payload)
    except PayloadError as exc:  # what the webhook would answer 400 with
        return {"source": source, "error": exc.message, "events": []}
    except RecursionError:  # as the webhook's sink says of such a body
        return {
            "source": source,
            "error": f"the {vendor} adapter cannot read this body: nested too deeply",
            "events": [],
        }
    if parsed.ignored:
        return {"source": source, "event_type": parsed.event_type, "ignored": parsed.ignored_reason, "events": []}
    events = []
    for ev in parsed.events:
        result = rt.mappings.engine.apply(document, ev.shape, ev.document)
        events.append(
            {
                "kind": ev.kind.value,
                "shape": ev.shape,
                "object": {
                    "vendor": ev.object.vendor,
                    "type": ev.object.object_type,
                    "id": ev.object.external_id,
                    "key": ev.object.key,
                    "url": ev.object.url,
                },
                "occurred_at": ev.occurred_at.isoformat(),
                "creates_ticket": ev.creates_ticket,
                "fields": dict(result.fields),
                "trace": dict(result.trace),
                "notes": [str(n) for n in result.notes],
                "comment": None
                if ev.comment is None
                else {"public": ev.comment.public, "author": ev.comment.author_name, "body": ev.comment.body},
            }
        )
    return {"source": source, "event_type": parsed.event_type, "events": events}


def preview_delivery(
    rt: Runtime,
    s: Session,
    *,
    vendor: str,
    instance: str,
    delivery_id: Any,
    payload: Any,
    headers: Any,
    document: Any,
) -> dict[str, Any]:
    """Preview against a stored delivery or a given payload, with the active or a draft document.

    The arguments are a request's values as sent; a wrong one is a ConnectorError naming it:
    `delivery_id` a whole number, `payload` a JSON object (the body the vendor sends), `headers` an
    object of text values, `document` a draft mapping document of this vendor (an object or YAML text).
    A payload the adapter refuses is not an error of the request: the answer says why (`error`), as
    the webhook would."""
    if headers is None:
        headers = {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConnectorError("headers: an object of header names and text values, as the vendor sends them")
    if delivery_id is not None:
        if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
            raise ConnectorError(f"delivery_id: a stored delivery's id, a whole number; got {json_kind(delivery_id)}")
        if payload is not None:
            raise ConnectorError("give a delivery_id or a payload, not both")
        d = s.get(Delivery, delivery_id) if is_id(delivery_id) else None
        if d is None or d.vendor != vendor:
            raise NotFound(f"no {vendor} delivery {delivery_id}")
        try:
            payload = json.loads(d.body)
        except (ValueError, RecursionError) as exc:
            raise ConnectorError(
                f"delivery {d.id} ({d.status}): its body is not JSON we can read, so there is nothing to map"
            ) from exc
        headers, source = d.headers or {}, f"delivery {d.id}"
    elif payload is None:
        raise ConnectorError("give a delivery_id or a payload to preview")
    elif not isinstance(payload, Mapping):
        raise ConnectorError(f"payload: the body the vendor sends, a JSON object; got {json_kind(payload)}")
    else:
        source = "payload"
    if document is None:
        active = rt.mappings.active(s, vendor=vendor, instance=instance)
        doc, label = active.document, f"{vendor}/{active.instance} version {active.version}"
    elif not isinstance(document, dict | str):
        raise ConnectorError(f"document: a draft mapping document, an object or YAML text; got {json_kind(document)}")
    else:
        doc, label = rt.mappings.load(document, source="draft"), "draft"
        if doc.vendor != vendor:
            raise MappingError(f"draft: vendor: this document is for {doc.vendor!r}, not {vendor!r}")
    result = {
        "mapping": label,
        **preview(rt, vendor=vendor, payload=payload, headers=dict(headers), document=doc, source=source),
    }
    for ev in result["events"]:
        _ticket_changes(s, instance, ev)
    if vendor == "zendesk" and (not result["events"] or result.get("event_type") == "trigger"):
        result["suggestions"] = suggest(payload)
    return result


def _ticket_changes(s: Session, instance: str, ev: dict[str, Any]) -> None:
    """Which fields of the ticket this event's object belongs to the draft would change (current → new)."""
    obj = ev["object"]
    link = find_link(s, vendor=obj["vendor"], instance=instance, object_type=obj["type"], external_id=str(obj["id"]))
    ticket = s.get(Ticket, link.ticket_id) if link is not None else None
    ev["ticket_id"] = ticket.id if ticket is not None else None
    if ticket is None or link is None or link.role != LinkRole.ORIGIN.value:
        ev["ticket_changes"] = {}
        return
    ev["ticket_changes"] = {
        name: [getattr(ticket, name, None), value]
        for name, value in ev["fields"].items()
        if getattr(ticket, name, None) != value
    }


#: payload keys an admin's trigger body commonly uses, and the canonical field each names
_SYNONYMS = {
    "subject": "title",
    "title": "title",
    "description": "description",
    "latest_comment": "description",
    "status": "status",
    "priority": "severity",
    "severity": "severity",
    "tags": "tags",
    "requester_email": "requester_email",
    "requester_name": "requester_name",
    "requester_id": "requester_id",
    "organization": "customer_name",
    "organization_name": "customer_name",
    "organization_id": "customer_id",
    "assignee": "assignee",
    "assignee_email": "assignee",
    "group": "group_name",
    "group_name": "group_name",
    "via": "channel",
    "channel": "channel",
    "tier": "customer_tier",
    "customer_tier": "customer_tier",
    "category": "category",
    "type": "category",
}


def suggest(payload: Any) -> list[dict[str, str]]:
    """For a pasted trigger body: each top-level key matched to the canonical field it most likely fills."""
    if not isinstance(payload, Mapping):
        return []
    out = []
    for key in payload:
        name = str(key).strip().lower().replace("-", "_").replace(" ", "_")
        for prefix in ("ticket_", "ticket."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
        field = _SYNONYMS.get(name)
        how = "a common name for it"
        if field is None:
            close = difflib.get_close_matches(name, list(TICKET_FIELDS), n=1, cutoff=0.75)
            field, how = (close[0], "a similar name") if close else (None, "")
        if field is not None:
            out.append({"key": str(key), "field": field, "why": how, "rule": f"- path: {key}"})
    return out
