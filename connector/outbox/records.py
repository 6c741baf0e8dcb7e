"""Outbox rows: record an intent (in the caller's transaction), list, show, replay.

Recording is idempotent on the intent's key: a decision retried, replayed or duplicated finds its
intent already there and records nothing. The ids of new rows are kept on the session (`NEW_IDS`),
so the database's after-commit hook can enqueue their delivery jobs the moment the decision commits;
the outbox sweep enqueues anything that hook missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector import defaults
from connector.errors import ConnectorError, NotFound
from connector.outbound import CHANNELS, OutboundRequest
from connector.outbound.intents import to_json
from connector.store import is_id
from connector.store.listing import conditions, newest_first
from connector.store.tables import OUTBOX_FINAL, OutboxItem, OutboxStatus
from connector.tickets import timeline
from connector.tickets.timeline import OutboundRecorded

#: `Session.info` key under which the ids of outbox rows added in the transaction are kept
NEW_IDS = "outbox_new_ids"
#: intents recorded as not sent whose timeline entries wait for `close_unsent`: (row, when, why)
Unsent = list[tuple[OutboxItem, datetime, str]]
#: query-string filters of the outbox list
FILTERS = ("status", "channel", "intent", "ticket_id", "target")
#: the values its `status` filter takes
STATUSES = tuple(s.value for s in OutboxStatus)


def record(
    s: Session,
    request: OutboundRequest,
    *,
    idempotency_key: str,
    ticket_id: int | None,
    escalation_id: int | None = None,
    sequence_key: str | None = None,
    fresh: bool = False,
    unavailable: str | None = None,
    echo_of: int | None = None,
    unsent: Unsent | None = None,
) -> OutboxItem | None:
    """Add an intent to the outbox unless one with this key exists; the new row, else None. `fresh`: the
    key cannot exist yet (it names a row this transaction made): no look-up, the unique key still holds.
    `unavailable`: why it cannot be sent here (its channel has no sender): recorded as not sent at once,
    with the reason, and no job is queued for it. `echo_of`: the outbox item whose own change this
    intent would carry back (recorded as not sent, with `unavailable` saying so). `unsent`: where a
    caller recording many intents collects the ones not sent, to put them on the timeline together
    (`close_unsent`, one flush for all of them) instead of a flush each."""
    key = idempotency_key[:255]
    if not fresh and s.scalar(select(OutboxItem.id).where(OutboxItem.idempotency_key == key)) is not None:
        return None
    now = datetime.now(UTC)
    item = OutboxItem(
        ticket_id=ticket_id,
        escalation_id=escalation_id,
        channel=CHANNELS[request.kind],
        intent=request.kind.value,
        target=getattr(request, "target", None),
        idempotency_key=key,
        sequence_key=sequence_key,
        payload=to_json(request),
        status=OutboxStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        enqueued_at=now,  # the after-commit hook enqueues it; the sweep only if that was missed
        created_at=now,
        updated_at=now,
        echo_of=echo_of,
    )
    if unavailable is not None:  # final at once: inserted as not sent (its id, for the timeline, by the flush)
        item.status, item.reason = OutboxStatus.NOT_SENT.value, unavailable
        item.next_attempt_at = item.enqueued_at = None
        s.add(item)
        if unsent is not None:
            unsent.append((item, now, unavailable))
            return item
        s.flush()
        close_item(s, item, OutboxStatus.NOT_SENT, now, reason=unavailable)
        return item
    s.add(item)
    # its id is known once the transaction flushes (a concurrent writer of the same key fails there, and
    # its job retries and finds this row); the after-commit hook reads it then
    s.info.setdefault(NEW_IDS, []).append(item)
    return item


def close_unsent(s: Session, unsent: Unsent) -> None:
    """Put the intents `record` collected as not sent on their tickets' timelines (one flush gives them
    their ids first), as it would have done for each; empties `unsent`."""
    if not unsent:
        return
    s.flush()
    for item, at, reason in unsent:
        close_item(s, item, OutboxStatus.NOT_SENT, at, reason=reason)
    unsent.clear()


def not_configured(channel: str) -> str:
    """Why an intent of a channel without a sender is not sent, and what to set."""
    setup = defaults.CHANNEL_SETUP.get(channel)
    return f"{channel} is not configured" + (f": {setup}" if setup else "")


def close_item(
    s: Session,
    item: OutboxItem,
    status: OutboxStatus,
    now: datetime,
    *,
    reason: str | None = None,
    reference: str | None = None,
) -> None:
    """Put a row in a final status and say so on its ticket's timeline."""
    item.status = status.value
    item.reason = reason
    item.updated_at = now
    item.next_attempt_at = None
    if status is OutboxStatus.SENT:
        item.sent_at = now
    if item.ticket_id is not None:
        what = item.intent.replace("_", " ")
        to = f" to {item.target}" if item.target else ""
        summary = {
            OutboxStatus.SENT: f"{what}{to} sent" + (f" ({reference})" if reference else ""),
            OutboxStatus.NOT_SENT: f"{what}{to} not sent: {reason}",
            OutboxStatus.DEAD: f"{what}{to} failed for good: {reason}",
        }.get(status, f"{what}{to} {status.value}")
        timeline.write(
            s,
            ticket_id=item.ticket_id,
            at=now,
            recorded_at=now,
            source=f"connector/outbox/{item.channel}",
            summary=summary,
            record=OutboundRecorded(
                outbox_id=item.id,
                intent=item.intent,
                channel=item.channel,
                target=item.target,
                status=status.value,
                reference=reference,
                reason=reason,
            ),
        )


def take_new_ids(info: Mapping[str, Any]) -> list[int]:
    """The ids of the outbox rows a committed session added or replayed (for the after-commit hook)."""
    return [x.id if isinstance(x, OutboxItem) else int(x) for x in info.get(NEW_IDS) or ()]


def list_items(
    s: Session, *, filters: Mapping[str, str], limit: int, offset: int, before: int | None = None
) -> dict[str, Any]:
    """Outbox items, newest first; `filters` may name any of FILTERS; `before`: keyset paging (the
    answer's `next_before` is the next page's cursor)."""
    where = conditions(OutboxItem, FILTERS, filters, choices={"status": {st.value for st in OutboxStatus}})
    total, rows = newest_first(s, OutboxItem, where, limit=limit, offset=offset, before=before)
    more = rows[-1].id if len(rows) == limit else None
    return {"total": total, "items": [item_json(i) for i in rows], "next_before": more}


def get_item(s: Session, item_id: int) -> dict[str, Any]:
    item = s.get(OutboxItem, item_id) if is_id(item_id) else None
    if item is None:
        raise NotFound(f"no outbox item {item_id}")
    return item_json(item, payload=True)


def replay_item(s: Session, item_id: int) -> dict[str, Any]:
    """Send a dead, not-sent or failed intent again (after fixing what stopped it): pending now, its
    attempts counted afresh. A sent one is not sent twice."""
    item = s.get(OutboxItem, item_id, with_for_update=True) if is_id(item_id) else None
    if item is None:
        raise NotFound(f"no outbox item {item_id}")
    previous = item.status
    if previous == OutboxStatus.SENT.value:
        raise ConnectorError(f"outbox item {item_id} was sent at {item.sent_at}: it is not sent twice")
    if previous == OutboxStatus.SENDING.value:
        raise ConnectorError(f"outbox item {item_id} is being sent right now")
    now = datetime.now(UTC)
    item.status = OutboxStatus.PENDING.value
    item.attempts = 0
    item.next_attempt_at = now
    item.enqueued_at = now
    item.reason = f"replayed (was {previous})"
    item.updated_at = now
    s.info.setdefault(NEW_IDS, []).append(item.id)
    return {"outbox_id": item.id, "previous_status": previous, "status": item.status}


def item_json(item: OutboxItem, *, payload: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "ticket_id": item.ticket_id,
        "escalation_id": item.escalation_id,
        "channel": item.channel,
        "intent": item.intent,
        "target": item.target,
        "status": item.status,
        "final": item.status in OUTBOX_FINAL,
        "attempts": item.attempts,
        "reason": item.reason,
        "created_at": _iso(item.created_at),
        "next_attempt_at": _iso(item.next_attempt_at) if item.status not in OUTBOX_FINAL else None,
        "sent_at": _iso(item.sent_at),
        "idempotency_key": item.idempotency_key,
    }
    if payload:
        out["payload"] = item.payload
        out["response"] = item.response
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def counts_by_status(s: Session) -> list[tuple[str, str, int]]:
    """(channel, status, rows) of the outbox, for /metrics."""
    rows = s.execute(
        select(OutboxItem.channel, OutboxItem.status, func.count()).group_by(OutboxItem.channel, OutboxItem.status)
    )
    return [(str(c), str(st), int(n)) for c, st, n in rows]
