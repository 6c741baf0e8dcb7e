"""The one sink every receiver ends in: verify, read, store, enqueue, answer.

HTTP-agnostic: the web layer hands over headers and the raw body (it enforces the size limit while
reading) and turns the `Answer` into a response. Order of work: content type → signature → JSON →
the adapter's parse → store → enqueue. The store and the enqueue are the process's writer's
(`connector.store.intake`): the deliveries waiting at the same moment share one INSERT, one COMMIT
and one inbox push, and each request is answered once the commit that holds its row returned.

The promises, whatever a body holds or the services do:
- **Every authentic body is stored**: a body we cannot read (not JSON, nested too deeply, a shape
  the adapter refuses, or one it fails on) is kept with status `rejected` and its reason, answered
  400 naming what is wrong; values the database cannot hold are cleaned by the column types.
- **Never a 202 for something not stored**: when the database cannot take the row the answer is
  503 with `Retry-After` (the vendor sends it again); a connection the database dropped (a restart)
  is tried once more first.
- **Stored is enough**: a queue that is down, full or read-only does not fail the answer — the
  reconciler enqueues every stored, unprocessed delivery.
- **Duplicates**: the vendor's delivery id, and the digest of what its signature covers, each
  identify a delivery; a body that matches a stored one by either is answered 200 with that
  delivery's id. A rejected body whose delivery id belongs to a different stored body is kept under
  its own digest (the answer carries its own id).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from connector import defaults, metrics
from connector.errors import PayloadError, SignatureError, StoreUnavailable
from connector.inbound import Adapter, header
from connector.logs import where
from connector.model import Parsed
from connector.runtime import Runtime
from connector.store import DeliveryStatus
from connector.store.intake import Row, Stored
from connector.store.tables import object_key

log = logging.getLogger(__name__)

#: seconds a vendor is asked to wait before sending again when the database is down
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """What the adapter made of a body: its events, or why it could not read it."""

    key: str
    event_type: str | None
    parsed: Parsed | None = None
    problem: str | None = None


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

    digest = hashlib.sha256(body).hexdigest()
    signed = adapter.signed_content(headers=headers, body=body)
    row = Row(
        vendor=vendor,
        instance=instance,
        key="",
        event_type=None,
        headers={k.lower(): v for k, v in headers.items() if k.lower() in defaults.AUDIT_HEADERS},
        body=body,
        digest=digest,
        content=digest if signed is body else hashlib.sha256(signed).hexdigest(),
        status=DeliveryStatus.RECEIVED,
    )
    # Without the vendor's delivery id, the signed content identifies the delivery (for Zendesk the
    # signature's timestamp with the body, so the same trigger body sent later is a new delivery).
    reading = read(adapter, vendor=vendor, headers=headers, body=body, fallback_key=f"sha256:{row.content}")
    try:
        if reading.parsed is None:
            return _keep_rejected(rt, row, reading)
        return _accept(rt, row, reading, reading.parsed)
    except StoreUnavailable as exc:
        metrics.DELIVERIES.labels(vendor, "unavailable").inc()
        log.warning(
            "database unavailable; delivery not stored, vendor asked to retry",
            extra={"vendor": vendor, "instance": instance, "error": exc.message},
        )
        return Answer(
            503,
            {"error": "unavailable", "message": "the database cannot store the delivery right now; send it again"},
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def inject(rt: Runtime, *, vendor: str, instance: str, payload: Mapping[str, Any], key: str) -> Answer:
    """Store and enqueue a delivery the connector made itself (the reconciliation sweep's account of
    what a missed webhook would have said), as a received one is: deduplicated on `key`, processed
    through the same adapter, mapping and rules. No signature: it never crossed the network."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hashlib.sha256(body).hexdigest()
    row = Row(
        vendor=vendor,
        instance=instance,
        key="",
        event_type=None,
        headers={},
        body=body,
        digest=digest,
        content=digest,
        status=DeliveryStatus.RECEIVED,
    )
    reading = read(rt.adapters[vendor], vendor=vendor, headers={}, body=body, fallback_key=key)
    reading = replace(reading, key=key)
    if reading.parsed is None:
        return _keep_rejected(rt, row, reading)
    return _accept(rt, row, reading, reading.parsed)


def read(adapter: Adapter, *, vendor: str, headers: Mapping[str, str], body: bytes, fallback_key: str) -> Reading:
    """Parse a body as JSON and through the adapter. Pure; never raises for what a body holds.
    `fallback_key` is the delivery's key when the body names no delivery id of the vendor's."""
    fallback = fallback_key
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Reading(fallback, None, problem=f"body is not valid JSON: {exc}")
    except RecursionError:
        return Reading(fallback, None, problem="body is not valid JSON we can read: nested too deeply")
    except ValueError as exc:  # e.g. an integer of thousands of digits
        return Reading(fallback, None, problem=f"body is not valid JSON we can read: {exc}")
    try:
        parsed = adapter.parse(headers=headers, payload=payload)
        key = adapter.delivery_key(headers=headers, payload=payload)
    except PayloadError as exc:
        key = _safe(lambda: adapter.delivery_key(headers=headers, payload=payload))
        event_type = exc.event_type or _safe(lambda: adapter.event_type(headers=headers, payload=payload))
        return Reading(_key(key, fallback), event_type, problem=exc.message)
    except RecursionError:
        return Reading(fallback, None, problem=f"the {vendor} adapter cannot read this body: nested too deeply")
    except Exception as exc:  # an adapter that fails on hostile input: keep the body, say so, fix the adapter
        log.error(
            "adapter failed on a body; stored as rejected",
            extra={"vendor": vendor, "error": type(exc).__name__, "where": where(exc)},
        )
        return Reading(fallback, None, problem=f"the {vendor} adapter failed on this body ({type(exc).__name__})")
    return Reading(_key(key, fallback), parsed.event_type, parsed=parsed)


def _accept(rt: Runtime, row: Row, reading: Reading, parsed: Parsed) -> Answer:
    vendor = row.vendor
    row = replace(
        row,
        key=reading.key,
        event_type=reading.event_type,
        status=DeliveryStatus.IGNORED if parsed.ignored else DeliveryStatus.RECEIVED,
        outcome=parsed.ignored_reason,
        about=_about(parsed, row.instance),
    )
    stored = _store(rt, row)
    if not stored.created and stored.rejected and not stored.same_body:
        # Its delivery id names a body kept as unreadable: this readable one is a delivery of its own
        # (kept under its own digest), not that one's duplicate — nothing readable is dropped.
        stored = _store(rt, replace(row, key=f"sha256:{row.content}"))
    if not stored.created:
        metrics.DELIVERIES.labels(vendor, "duplicate").inc()
        log.info(
            "duplicate delivery", extra={"vendor": vendor, "instance": row.instance, "delivery_id": stored.delivery_id}
        )
        return Answer(200, {"delivery_id": stored.delivery_id, "duplicate": True})
    if parsed.ignored:
        metrics.DELIVERIES.labels(vendor, "ignored").inc()
        # Not the event type: one we do not handle is whatever the body says, a payload value.
        log.info("ignored delivery", extra={"vendor": vendor, "delivery_id": stored.delivery_id})
        return Answer(200, {"delivery_id": stored.delivery_id, "ignored": True, "reason": parsed.ignored_reason})
    metrics.DELIVERIES.labels(vendor, "accepted").inc()
    log.debug(
        "accepted delivery",
        extra={
            "vendor": vendor,
            "instance": row.instance,
            "delivery_id": stored.delivery_id,
            "event_type": row.event_type,
        },
    )
    return Answer(202, {"delivery_id": stored.delivery_id})


def _keep_rejected(rt: Runtime, row: Row, reading: Reading) -> Answer:
    """An authentic delivery we cannot read: keep it (it can be inspected and replayed), answer 400.
    The answer's delivery id is always this body's own."""
    message = reading.problem or "unreadable"
    row = replace(row, key=reading.key, event_type=reading.event_type, status=DeliveryStatus.REJECTED, outcome=message)
    stored = _store(rt, row)
    if not stored.created and not stored.same_body:
        # Its delivery id names another stored body: keep this one under its own digest.
        stored = _store(rt, replace(row, key=f"sha256:{row.content}"))
    answer = _reject(row.vendor, 400, "bad_request", message, log_reason=False)
    extra = {"delivery_id": stored.delivery_id} | ({} if stored.created else {"duplicate": True})
    log.info(
        "rejected delivery stored",
        extra={"vendor": row.vendor, "delivery_id": stored.delivery_id},
    )
    return Answer(400, {**answer.body, **extra})


def _reject(vendor: str, status: int, error: str, message: str, *, log_reason: bool = True) -> Answer:
    """An answer that refuses the delivery. The reason goes to the sender; the log gets it only when
    it holds no value of the body (signature and content-type reasons), never a payload's text."""
    metrics.DELIVERIES.labels(vendor, error).inc()
    log.info(
        "refused delivery", extra={"vendor": vendor, "status": status, **({"reason": message} if log_reason else {})}
    )
    return Answer(status, {"error": error, "message": message})


def _store(rt: Runtime, row: Row) -> Stored:
    """Insert the delivery (with the others of this process waiting at the same moment: one commit
    for all, `connector.store.intake`); on a duplicate return the stored one. A new row to process is
    put in the inbox once committed. Raises StoreUnavailable when the database cannot take it."""
    return rt.intake.store(row)


def _about(parsed: Parsed, instance: str) -> tuple[str | None, datetime | None]:
    """The vendor object a delivery is about and the time of its latest event (None if ignored)."""
    if not parsed.events:
        return None, None
    ref = parsed.events[0].object
    return object_key(ref.vendor, instance, ref.object_type, ref.external_id), max(e.occurred_at for e in parsed.events)


def _key(key: str | None, fallback: str) -> str:
    """The dedupe key as stored: the vendor's id, a digest of an id too long for the column, or the
    body's digest when the vendor gives none."""
    if not key:
        return fallback
    return key if len(key) <= 255 else f"sha256:{hashlib.sha256(key.encode('utf-8', 'replace')).hexdigest()}"


def _safe(read_value: Callable[[], object]) -> str | None:
    try:
        value = read_value()
    except (PayloadError, RecursionError, ValueError, TypeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _secret_var(vendor: str, instance: str) -> str:
    if instance == defaults.DEFAULT_INSTANCE:
        return f"{vendor.upper()}_WEBHOOK_SECRETS"
    return f"{vendor.upper()}_{instance.upper().replace('-', '_')}_WEBHOOK_SECRETS"
