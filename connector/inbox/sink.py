"""The one sink every receiver ends in: verify, parse, store, enqueue, answer.

HTTP-agnostic: the Flask view hands over headers and the raw body and turns the `Answer` into a
response. Order of work: content type → signature → JSON → adapter parse → store → enqueue.
(The body-size limit is enforced by the web layer before the body is read.)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connector import defaults, metrics
from connector.errors import PayloadError, SignatureError
from connector.inbound import Adapter, header
from connector.model import Parsed
from connector.queue import QueueUnavailable
from connector.runtime import Runtime
from connector.store import DeliveryStatus
from connector.store.tables import Delivery, object_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def receive(
    rt: Runtime, *, vendor: str, instance: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> Answer:
    now = now or datetime.now(UTC)
    adapter = rt.adapters[vendor]

    ctype = (header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/json" and not (ctype.startswith("application/") and ctype.endswith("+json")):
        return _reject(
            vendor, 415, "unsupported_media_type", f"Content-Type must be application/json, got {ctype or 'none'!r}"
        )

    secrets = rt.settings.secrets.for_(vendor, instance)
    if secrets or not rt.settings.unsigned_allowed(vendor, instance):
        if not secrets:
            return _reject(
                vendor,
                401,
                "unauthorized",
                f"no webhook secret is configured for {vendor}/{instance}; set "
                f"{_secret_var(vendor, instance)} (or allow unsigned deliveries explicitly)",
            )
        try:
            adapter.verify(headers=headers, body=body, secrets=secrets, now=now)
        except SignatureError as exc:
            return _reject(vendor, 401, "unauthorized", exc.message)

    audit = {k.lower(): v for k, v in headers.items() if k.lower() in defaults.AUDIT_HEADERS}
    digest = hashlib.sha256(body).hexdigest()

    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        message = f"body is not valid JSON: {exc}"
        return _store_rejected(rt, vendor, instance, f"sha256:{digest}", None, audit, body, digest, message)

    try:
        parsed = adapter.parse(headers=headers, payload=payload)  # names the event type, or raises
        key = adapter.delivery_key(headers=headers, payload=payload) or f"sha256:{digest}"
        event_type = parsed.event_type
    except PayloadError as exc:
        key = _safe_key(adapter, headers, payload) or f"sha256:{digest}"
        et = exc.event_type or _safe_event_type(adapter, headers, payload)
        return _store_rejected(rt, vendor, instance, key, et, audit, body, digest, exc.message)

    status = DeliveryStatus.IGNORED if parsed.ignored else DeliveryStatus.RECEIVED
    delivery_id, created = _store(
        rt,
        vendor=vendor,
        instance=instance,
        key=key,
        event_type=event_type,
        headers=audit,
        body=body,
        digest=digest,
        status=status,
        outcome=parsed.ignored_reason,
        about=_about(parsed, instance),
    )
    if not created:
        metrics.DELIVERIES.labels(vendor, "duplicate").inc()
        log.info("duplicate delivery", extra={"vendor": vendor, "instance": instance, "delivery_id": delivery_id})
        return Answer(200, {"delivery_id": delivery_id, "duplicate": True})
    if parsed.ignored:
        metrics.DELIVERIES.labels(vendor, "ignored").inc()
        log.info("ignored delivery", extra={"vendor": vendor, "delivery_id": delivery_id, "event_type": event_type})
        return Answer(200, {"delivery_id": delivery_id, "ignored": True, "reason": parsed.ignored_reason})

    try:
        rt.queue.notify_delivery(delivery_id)
    except QueueUnavailable as exc:
        # Stored is safe: the reconciler enqueues every stored, unprocessed delivery once Redis is back.
        metrics.ENQUEUE_FAILURES.inc()
        log.warning(
            "queue unavailable; delivery stored for the reconciler",
            extra={"vendor": vendor, "delivery_id": delivery_id, "error": type(exc).__name__},
        )
    metrics.DELIVERIES.labels(vendor, "accepted").inc()
    log.debug(
        "accepted delivery",
        extra={"vendor": vendor, "instance": instance, "delivery_id": delivery_id, "event_type": event_type},
    )
    return Answer(202, {"delivery_id": delivery_id})


def _reject(vendor: str, status: int, error: str, message: str) -> Answer:
    metrics.DELIVERIES.labels(vendor, error).inc()
    log.info("rejected delivery", extra={"vendor": vendor, "status": status, "reason": message})
    return Answer(status, {"error": error, "message": message})


def _store_rejected(
    rt: Runtime,
    vendor: str,
    instance: str,
    key: str,
    event_type: str | None,
    audit: dict[str, str],
    body: bytes,
    digest: str,
    message: str,
) -> Answer:
    """An authentic delivery we cannot read: keep it (it can be inspected and replayed), answer 400."""
    delivery_id, _ = _store(
        rt,
        vendor=vendor,
        instance=instance,
        key=key,
        event_type=event_type,
        headers=audit,
        body=body,
        digest=digest,
        status=DeliveryStatus.REJECTED,
        outcome=message,
    )
    answer = _reject(vendor, 400, "bad_request", message)
    return Answer(400, {**answer.body, "delivery_id": delivery_id})


_COLUMNS = (
    "vendor",
    "instance",
    "dedupe_key",
    "event_type",
    "headers",
    "body",
    "body_sha256",
    "status",
    "outcome",
    "received_at",
    "attempts",
    "object_key",
    "event_at",
)
_TABLE = Delivery.__table__
assert isinstance(_TABLE, Table)
# Built once per dialect: constructing and compiling the statement per request costs more than running it.
_INSERTS = {
    dialect: insert(_TABLE)
    .values({c: bindparam(c) for c in _COLUMNS})
    .on_conflict_do_nothing(index_elements=["vendor", "instance", "dedupe_key"])
    .returning(_TABLE.c.id)
    for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
_EXISTING = select(_TABLE.c.id).where(
    _TABLE.c.vendor == bindparam("vendor"),
    _TABLE.c.instance == bindparam("instance"),
    _TABLE.c.dedupe_key == bindparam("dedupe_key"),
)


def _store(
    rt: Runtime,
    *,
    vendor: str,
    instance: str,
    key: str,
    event_type: str | None,
    headers: dict[str, str],
    body: bytes,
    digest: str,
    status: DeliveryStatus,
    outcome: str | None,
    about: tuple[str | None, datetime | None] = (None, None),
) -> tuple[int, bool]:
    """Insert the delivery in one statement; on a duplicate key return the original's id and False."""
    params = {
        "vendor": vendor,
        "instance": instance,
        "dedupe_key": key[:255],
        "event_type": event_type,
        "headers": headers,
        "body": body,
        "body_sha256": digest,
        "status": status.value,
        "outcome": outcome,
        "received_at": datetime.now(UTC),
        "attempts": 0,
        "object_key": about[0],
        "event_at": about[1],
    }
    with rt.db.transaction() as conn:
        new_id = conn.execute(_INSERTS[rt.db.engine.dialect.name], params).scalar()
        if new_id is not None:
            return new_id, True
        existing = conn.execute(_EXISTING, params).scalar()
    if existing is None:
        raise RuntimeError(f"delivery {vendor}/{instance}/{key} conflicted but cannot be found")
    return existing, False


def _about(parsed: Parsed, instance: str) -> tuple[str | None, datetime | None]:
    """The vendor object a delivery is about and the time of its latest event (None if ignored)."""
    if not parsed.events:
        return None, None
    ref = parsed.events[0].object
    return object_key(ref.vendor, instance, ref.object_type, ref.external_id), max(e.occurred_at for e in parsed.events)


def _safe_key(adapter: Adapter, headers: Mapping[str, str], payload: Any) -> str | None:
    try:
        return adapter.delivery_key(headers=headers, payload=payload)
    except PayloadError:
        return None


def _safe_event_type(adapter: Adapter, headers: Mapping[str, str], payload: Any) -> str | None:
    try:
        return adapter.event_type(headers=headers, payload=payload)
    except PayloadError:
        return None


def _secret_var(vendor: str, instance: str) -> str:
    if instance == defaults.DEFAULT_INSTANCE:
        return f"{vendor.upper()}_WEBHOOK_SECRETS"
    return f"{vendor.upper()}_{instance.upper().replace('-', '_')}_WEBHOOK_SECRETS"
