"""Preview a mapping: run an adapter and a mapping document over a payload, touching nothing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from connector.errors import ConnectorError, NotFound, PayloadError
from connector.model import FieldMapping
from connector.runtime import Runtime
from connector.store.tables import Delivery


def preview(
    rt: Runtime, *, vendor: str, payload: Any, headers: dict[str, str], document: FieldMapping, source: str
) -> dict[str, Any]:
    adapter = rt.adapter(vendor)
    try:
        parsed = adapter.parse(headers=headers, payload=payload)
    except PayloadError as exc:
        return {"source": source, "error": exc.message, "events": []}
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
    delivery_id: int | None,
    payload: Any,
    headers: dict[str, str],
    document: Any,
) -> dict[str, Any]:
    """Preview against a stored delivery or a given payload, with the active or a draft document."""
    if delivery_id is not None:
        d = s.get(Delivery, int(delivery_id))
        if d is None or d.vendor != vendor:
            raise NotFound(f"no {vendor} delivery {delivery_id}")
        payload, headers, source = json.loads(d.body), d.headers or {}, f"delivery {d.id}"
    elif payload is None:
        raise ConnectorError("give a delivery_id or a payload to preview")
    else:
        source = "payload"
    if document is None:
        active = rt.mappings.active(s, vendor=vendor, instance=instance)
        doc, label = active.document, f"{vendor}/{active.instance} version {active.version}"
    else:
        doc, label = rt.mappings.load(document, source="draft"), "draft"
    return {
        "mapping": label,
        **preview(rt, vendor=vendor, payload=payload, headers=headers, document=doc, source=source),
    }
