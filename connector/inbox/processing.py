"""Processing a stored delivery: parse it again, map each event's payload to canonical fields, apply
the events to tickets, refresh the touched tickets' SLA clocks and run the escalation engine over what
changed — one transaction, safe to repeat (decisions and outbound intents are keyed, so a retried or
replayed delivery takes none twice).

Failures are sorted by whether a retry can fix them. Transient ones (the database unreachable, a
lock, a deadlock, a serialization failure) are recorded on the delivery for the retry and dead-letter
machinery (backoff, then `dead`) and re-raised, so RQ's failed registry shows them too. Any other
failure — a value no write can take, a shape no code reads — fails the same way every time: the
delivery is `rejected` at once with the reason, and can be replayed once the cause is fixed."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from connector import escalation, metrics, sync
from connector.errors import PayloadError
from connector.runtime import Runtime
from connector.sla import live as sla
from connector.store import FINAL_STATUSES, DeliveryStatus
from connector.store.database import transient
from connector.store.tables import Delivery
from connector.tickets import Applied, apply_event

log = logging.getLogger(__name__)

#: seconds before retry N (1-based); the last value repeats
BACKOFF = (5, 30, 120, 600, 1800)
_RACE_RETRIES = 3


def process(rt: Runtime, delivery_id: int) -> str:
    """Parse a stored delivery, map it, and apply its events to tickets. Safe to run twice."""
    try:
        outcome = _process(rt, delivery_id)
    except Exception as exc:  # sorted below: retried, or rejected with its reason — never dropped
        if transient(exc):
            _record_failure(rt, delivery_id, exc)
            metrics.JOBS.labels("process_delivery", "failed").inc()
            raise
        _reject_poison(rt, delivery_id, exc)
        metrics.JOBS.labels("process_delivery", "rejected").inc()
        return f"delivery {delivery_id} rejected: {type(exc).__name__}"
    metrics.JOBS.labels("process_delivery", "ok").inc()
    return outcome


def _process(rt: Runtime, delivery_id: int) -> str:
    for attempt in range(_RACE_RETRIES):
        try:
            return _process_once(rt, delivery_id)
        except IntegrityError:
            # Another job linked the same vendor object a moment earlier; run again and find its link.
            if attempt == _RACE_RETRIES - 1:
                raise
        except OperationalError as exc:  # PostgreSQL serialization/deadlock: the transaction is safe to redo
            if attempt == _RACE_RETRIES - 1 or "deadlock" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


def _process_once(rt: Runtime, delivery_id: int) -> str:
    with rt.db.session() as s:
        d = s.scalar(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
        if d is None:
            return f"delivery {delivery_id} does not exist"
        if d.status in FINAL_STATUSES:
            return f"delivery {delivery_id} already {d.status}"
        adapter = rt.adapter(d.vendor)
        payload = json.loads(d.body)
        try:
            parsed = adapter.parse(headers=d.headers or {}, payload=payload)
        except PayloadError as exc:  # e.g. replayed after a stricter adapter shipped
            finish(d, DeliveryStatus.REJECTED, exc.message)
            return f"delivery {delivery_id} rejected: {exc.message}"
        if parsed.ignored:
            finish(d, DeliveryStatus.IGNORED, parsed.ignored_reason)
            return f"delivery {delivery_id} ignored"
        mapping = rt.mappings.active(s, vendor=d.vendor, instance=d.instance)
        touched: dict[int, datetime] = {}  # ticket → the latest event time this delivery brought
        applied_to: dict[int, list[Applied]] = {}
        outcomes = []
        ticket_id = d.ticket_id  # set on the row with its status at the end: one UPDATE of the delivery
        for event in parsed.events:
            mapped = rt.mappings.engine.apply(mapping.document, event.shape, event.document)
            applied = apply_event(s, event=event, instance=d.instance, fields=mapped.fields, delivery_id=d.id)
            ticket_id = applied.ticket_id or ticket_id
            if applied.ticket_id is not None:
                touched[applied.ticket_id] = max(event.occurred_at, touched.get(applied.ticket_id, event.occurred_at))
                applied_to.setdefault(applied.ticket_id, []).append(applied)
            outcomes.append(applied.describe())
            if mapped.notes:  # the fields only: a note may quote the payload
                log.warning(
                    "mapping could not use a value",
                    extra={"delivery_id": d.id, "fields": ",".join(str(n.field) for n in mapped.notes)},
                )
        if touched:
            policy = rt.policies.active(s).policy
            now = datetime.now(UTC)
            acting, syncing = rt.acting(), rt.syncing()
            for ticket_id, until in sorted(touched.items()):
                fires = sla.refresh(s, policy, ticket_id, now, until=until)
                escalation.settle(
                    s,
                    policy,
                    ticket_id,
                    [*escalation.signals_of(applied_to[ticket_id]), *escalation.fire_signals(fires)],
                    now,
                    refresh=partial(sla.refresh, until=until),
                    acting=acting,
                )
                sync.react(s, ticket_id, applied_to[ticket_id], syncing, now)
            # an incident linked to its problem (or the problem arriving after them): the problem's users affected
            for problem_id, signals in sorted(escalation.linked_impact(s, policy, applied_to).items()):
                escalation.settle(
                    s,
                    policy,
                    problem_id,
                    signals,
                    now,
                    refresh=partial(sla.refresh, until=max(touched.values())),
                    acting=acting,
                )
        d.ticket_id = ticket_id
        finish(d, DeliveryStatus.PROCESSED, "; ".join(outcomes) or "no events")
        log.info(
            "processed delivery",
            extra={"delivery_id": d.id, "ticket_id": d.ticket_id, "vendor": d.vendor, "event_type": d.event_type},
        )
        return f"delivery {delivery_id}: {d.outcome}"


def finish(d: Delivery, status: DeliveryStatus, outcome: str | None) -> None:
    """Mark a delivery done with `status` and its outcome (one more attempt counted)."""
    d.status = status.value
    d.outcome = outcome
    d.error = None
    d.next_attempt_at = None
    d.attempts = (d.attempts or 0) + 1
    d.processed_at = datetime.now(UTC)


def _reject_poison(rt: Runtime, delivery_id: int, exc: BaseException) -> None:
    """A failure no retry can fix: `rejected` now, with the reason (kept on the delivery, not logged:
    it may quote the payload)."""
    with rt.db.session() as s:
        d = s.get(Delivery, delivery_id, with_for_update=True)
        if d is None or d.status in FINAL_STATUSES:
            return
        finish(d, DeliveryStatus.REJECTED, f"processing failed and no retry can fix it: {type(exc).__name__}: {exc}")
        d.error = f"{type(exc).__name__}: {exc}"[:2000]
    log.error(
        "delivery rejected: processing failed and no retry can fix it",
        extra={"delivery_id": delivery_id, "error": type(exc).__name__},
    )


def _record_failure(rt: Runtime, delivery_id: int, exc: BaseException) -> None:
    """Count the attempt; schedule a retry with backoff, or dead-letter it after the last attempt."""
    now = datetime.now(UTC)
    with rt.db.session() as s:
        d = s.get(Delivery, delivery_id, with_for_update=True)
        if d is None or d.status in FINAL_STATUSES:
            return
        d.attempts = (d.attempts or 0) + 1
        d.error = f"{type(exc).__name__}: {exc}"[:2000]
        if d.attempts >= rt.settings.job_max_attempts:
            d.status = DeliveryStatus.DEAD.value
            d.next_attempt_at = None
            log.error("delivery dead-lettered", extra={"delivery_id": delivery_id, "attempts": d.attempts})
        else:
            d.status = DeliveryStatus.FAILED.value
            d.next_attempt_at = now + timedelta(seconds=BACKOFF[min(d.attempts, len(BACKOFF)) - 1])
            log.warning("delivery failed; will retry", extra={"delivery_id": delivery_id, "attempts": d.attempts})
