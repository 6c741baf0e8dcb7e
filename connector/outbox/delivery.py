"""Delivering outbox rows: the job that carries one intent out through its sender, and the sweep that
enqueues what is due.

One attempt: claim the row (`pending`/`failed` → `sending`, in its own short transaction, so two jobs
for one row never both send), call the sender outside any transaction, record the answer. Exactly
once in effect: a worker that dies mid-call leaves the row `sending`; the sweep gives it back after
`OUTBOX_CLAIM_TIMEOUT_SECONDS` and it is sent again — which the vendors' own keys make harmless (a
PagerDuty event with the same dedup key is the same alert; a Jira issue is looked up by its label
before one is made).

Order: intents that share a sequence key (a page's trigger, acknowledge and resolve) go in id order;
an acknowledge or resolve whose trigger was never sent is not sent either. Rate: a sender with a rate
limit (PagerDuty: about 120 events a minute per routing key) is never asked for more; the row waits.
Failures: `NotSent` → `not_sent` with the reason; a refusal (`OutboundError`, not retryable) → `dead`
at once with the vendor's message; a retryable one is tried again in place (tenacity: up to
`OUTBOX_CALL_ATTEMPTS`, waits with jitter, honouring a short `Retry-After`), then later with
exponential backoff and jitter (a longer `Retry-After` is honoured in the database, not by a sleeping
worker), and `dead` after `OUTBOX_MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from connector import defaults, metrics, runtime
from connector.errors import NotSent, OutboundError
from connector.logs import where
from connector.outbound import IntentKind, OutboundRequest, RateLimit, Sender, Sent, request_from_json
from connector.outbox.records import close_item, not_configured
from connector.runtime import Runtime
from connector.store.tables import OUTBOX_FINAL, OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

_PAGE_FOLLOWERS = frozenset({IntentKind.PAGE_ACKNOWLEDGE.value, IntentKind.PAGE_RESOLVE.value})
_in_call_wait = wait_exponential_jitter(multiplier=0.5, max=defaults.OUTBOX_CALL_WAIT_MAX_SECONDS, jitter=0.5)


def deliver(rt: Runtime, outbox_id: int, *, now: datetime | None = None) -> str:
    """One delivery attempt of one outbox row (see the module). Safe to run twice."""
    claimed = _claim(rt, outbox_id, now or datetime.now(UTC))
    if isinstance(claimed, str):
        return claimed
    sender, request = claimed
    try:
        sent = _send(sender, request)
    except NotSent as exc:
        return _finish(rt, outbox_id, OutboxStatus.NOT_SENT, reason=exc.message)
    except OutboundError as exc:
        return _failed(rt, outbox_id, exc.message, retryable=exc.retryable, retry_after=exc.retry_after)
    except Exception as exc:  # a vendor library failing in a way it does not document: retried, then dead
        log.error(
            "outbound call failed unexpectedly",
            extra={"outbox_id": outbox_id, "error": type(exc).__name__, "where": where(exc)},
        )
        return _failed(rt, outbox_id, f"{type(exc).__name__} in the {sender.channel} sender", retryable=True)
    return _finish(rt, outbox_id, OutboxStatus.SENT, sent=sent)


def _claim(rt: Runtime, outbox_id: int, now: datetime) -> tuple[Sender, OutboundRequest] | str:
    with rt.db.session() as s:
        item = s.get(OutboxItem, outbox_id, with_for_update=True)
        if item is None:
            return f"outbox item {outbox_id} does not exist"
        if item.status not in (OutboxStatus.PENDING.value, OutboxStatus.FAILED.value):
            return f"outbox item {outbox_id} already {item.status}"
        if item.next_attempt_at is not None and item.next_attempt_at > now + timedelta(seconds=1):
            return f"outbox item {outbox_id} is not due before {item.next_attempt_at.isoformat()}"
        if item.sequence_key is not None:
            ahead = s.execute(
                select(OutboxItem.id, OutboxItem.status, OutboxItem.intent)
                .where(OutboxItem.sequence_key == item.sequence_key, OutboxItem.id < item.id)
                .order_by(OutboxItem.id.desc())
            ).all()
            waiting = [i for i, status, _ in ahead if status not in OUTBOX_FINAL]
            if waiting:
                item.next_attempt_at = now + timedelta(seconds=defaults.OUTBOX_SEQUENCE_WAIT_SECONDS)
                item.enqueued_at = None  # the sweep enqueues it when it is due
                return f"outbox item {outbox_id} waits for item {waiting[-1]} of its sequence"
            trigger = next(((i, status) for i, status, intent in ahead if intent == IntentKind.PAGE_TRIGGER), None)
            if item.intent in _PAGE_FOLLOWERS and (trigger is None or trigger[1] != OutboxStatus.SENT.value):
                why = "no page was triggered" if trigger is None else f"its page (item {trigger[0]}) is {trigger[1]}"
                close_item(
                    s, item, OutboxStatus.NOT_SENT, now, reason=f"nothing to {item.intent.split('_')[-1]}: {why}"
                )
                return f"outbox item {outbox_id} not sent"
        sender = rt.senders.get(item.channel)
        if sender is None:
            close_item(s, item, OutboxStatus.NOT_SENT, now, reason=not_configured(item.channel))
            return f"outbox item {outbox_id} not sent"
        request = request_from_json(item.intent, item.payload)
        if sender.rate_limit is not None:
            key = sender.rate_key(request)
            if key is not None:
                item.rate_key = key  # written with the claim below: the query needs no flush first
                with s.no_autoflush:
                    wait = _rate_wait(s, key, sender, now)
                if wait is not None:
                    item.next_attempt_at = wait
                    item.enqueued_at = None
                    return f"outbox item {outbox_id} waits for the {sender.channel} rate limit"
        if sender.ticket_rate_limit is not None and item.ticket_id is not None:
            with s.no_autoflush:
                wait = _ticket_wait(s, item.channel, item.ticket_id, sender.ticket_rate_limit, now)
            if wait is not None:
                item.next_attempt_at = wait
                item.enqueued_at = None
                return f"outbox item {outbox_id} waits: its ticket has had its share of the {sender.channel} rate limit"
        item.status = OutboxStatus.SENDING.value
        item.claimed_at = now
        item.attempts = (item.attempts or 0) + 1
        item.updated_at = now
    return sender, request


def _rate_wait(s: Session, key: str, sender: Sender, now: datetime) -> datetime | None:
    """When the next send under `key` fits the sender's rate limit, if it does not now."""
    limit = sender.rate_limit
    if limit is None:
        return None
    window = timedelta(seconds=limit.seconds)
    # The N-th most recent send under the key (one row, however high the limit): with N sends in the
    # window already, the next fits once that one has left it.
    nth = s.scalar(
        select(OutboxItem.sent_at)
        .where(OutboxItem.rate_key == key, OutboxItem.sent_at > now - window)
        .order_by(OutboxItem.sent_at.desc())
        .offset(limit.events - 1)
        .limit(1)
    )
    return None if nth is None else nth + window


def _ticket_wait(s: Session, channel: str, ticket_id: int, limit: RateLimit, now: datetime) -> datetime | None:
    """When the ticket's next send on `channel` fits its share of the limit, if it does not now."""
    window = timedelta(seconds=limit.seconds)
    nth = s.scalar(
        select(OutboxItem.sent_at)
        .where(OutboxItem.ticket_id == ticket_id, OutboxItem.channel == channel, OutboxItem.sent_at > now - window)
        .order_by(OutboxItem.sent_at.desc())
        .offset(limit.events - 1)
        .limit(1)
    )
    return None if nth is None else nth + window


def _send(sender: Sender, request: OutboundRequest) -> Sent:
    """The call, retried in place while that is short: a retryable failure with no `Retry-After`, or one
    within `OUTBOX_CALL_WAIT_MAX_SECONDS`."""

    def short(exc: BaseException) -> bool:
        return (
            isinstance(exc, OutboundError)
            and exc.retryable
            and (exc.retry_after is None or exc.retry_after <= defaults.OUTBOX_CALL_WAIT_MAX_SECONDS)
        )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, OutboundError) and exc.retry_after is not None:
            return exc.retry_after
        return float(_in_call_wait(state))

    retrying = Retrying(
        stop=stop_after_attempt(defaults.OUTBOX_CALL_ATTEMPTS),
        wait=wait,
        retry=retry_if_exception(short),
        reraise=True,
    )
    return retrying(sender.send, request)


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones: exponential with full jitter in its
    upper half, at least the vendor's `Retry-After`."""
    base = min(defaults.OUTBOX_BACKOFF_MAX_SECONDS, defaults.OUTBOX_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))
    wait = base * random.uniform(0.5, 1.0)
    return max(wait, retry_after or 0.0)


def _failed(rt: Runtime, outbox_id: int, message: str, *, retryable: bool, retry_after: float | None = None) -> str:
    with rt.db.session() as s:
        item = s.get(OutboxItem, outbox_id, with_for_update=True)
        if item is None:
            return f"outbox item {outbox_id} does not exist"
        now = datetime.now(UTC)
        if not retryable:
            close_item(s, item, OutboxStatus.DEAD, now, reason=f"refused: {message}")
            metrics.JOBS.labels("deliver_outbox", "dead").inc()
            return f"outbox item {outbox_id} dead: {message}"
        if item.attempts >= defaults.OUTBOX_MAX_ATTEMPTS:
            close_item(s, item, OutboxStatus.DEAD, now, reason=f"gave up after {item.attempts} attempts: {message}")
            metrics.JOBS.labels("deliver_outbox", "dead").inc()
            return f"outbox item {outbox_id} dead after {item.attempts} attempts"
        item.status = OutboxStatus.FAILED.value
        item.reason = message
        item.next_attempt_at = now + timedelta(seconds=backoff(item.attempts, retry_after))
        item.enqueued_at = None
        item.updated_at = now
        metrics.JOBS.labels("deliver_outbox", "failed").inc()
        log.warning(
            "outbound intent failed; will retry",
            extra={"outbox_id": outbox_id, "channel": item.channel, "attempts": item.attempts},
        )
        return f"outbox item {outbox_id} failed (attempt {item.attempts}); next at {item.next_attempt_at.isoformat()}"


def _finish(
    rt: Runtime, outbox_id: int, status: OutboxStatus, *, sent: Sent | None = None, reason: str | None = None
) -> str:
    with rt.db.session() as s:
        item = s.get(OutboxItem, outbox_id, with_for_update=True)
        if item is None:
            return f"outbox item {outbox_id} does not exist"
        now = datetime.now(UTC)
        if sent is not None:
            item.response = dict(sent.response)
        close_item(s, item, status, now, reason=reason, reference=sent.reference if sent else None)
        after = rt.after_sent.get(item.intent) if sent is not None else None
        if after is not None and sent is not None:
            after(s, item, sent)
    metrics.JOBS.labels("deliver_outbox", status.value).inc()
    return f"outbox item {outbox_id} {status.value}"


def deliver_outbox(outbox_id: int) -> str:
    """The queued job, as RQ calls it by name: one delivery attempt with this process's runtime."""
    return deliver(runtime.current(), outbox_id)


def sweep(rt: Runtime, *, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue the outbox rows that are due and not enqueued (or enqueued long ago and still waiting),
    and give back rows whose sending worker stopped. Returns how many were enqueued."""
    now = now or datetime.now(UTC)
    stale = now - timedelta(seconds=defaults.OUTBOX_REENQUEUE_AFTER_SECONDS)
    with rt.db.session() as s:
        s.execute(
            update(OutboxItem)
            .where(
                OutboxItem.status == OutboxStatus.SENDING.value,
                OutboxItem.claimed_at < now - timedelta(seconds=defaults.OUTBOX_CLAIM_TIMEOUT_SECONDS),
            )
            .values(
                status=OutboxStatus.FAILED.value,
                next_attempt_at=now,
                enqueued_at=None,
                reason="the worker sending it stopped before it answered; sending again",
                updated_at=now,
            )
        )
        q = (
            select(OutboxItem)
            .where(
                OutboxItem.status.in_((OutboxStatus.PENDING.value, OutboxStatus.FAILED.value)),
                or_(OutboxItem.next_attempt_at.is_(None), OutboxItem.next_attempt_at <= now),
                or_(OutboxItem.enqueued_at.is_(None), OutboxItem.enqueued_at < stale),
            )
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if not rt.db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        due = list(s.scalars(q))
        for item in due:
            item.enqueued_at = now
        ids = [item.id for item in due]
    rt.queue.enqueue_outbox_many(ids)
    return len(ids)


__all__ = ["backoff", "deliver", "deliver_outbox", "sweep"]
