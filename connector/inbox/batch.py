"""Processing many stored deliveries in one transaction: for each, what `connector.inbox.processing`
does, with a few statements for all of them instead of a dozen for each.

A backlog — a burst of webhooks, a vendor retrying after an outage — reaches the workers as batches
of ids. The batch's deliveries are read and locked with one statement, the links of every object
they name with one more, and the tickets those links point to are locked together, in id order.
Then the deliveries are applied in order, in **rounds**: a round holds at most one delivery per
ticket — and, where the policy makes a reaction read other tickets, per customer (repeat clusters)
and per problem (users affected) — so whatever a delivery's reaction reads is what it would have read
processed alone, after the ones before it. After each round the touched tickets' SLA clocks are
refreshed together (`connector.sla.many`), the escalation engine reacts to all of them
(`settle_many`), and sync records its intents — each ticket up to its own latest event, exactly as one
delivery at a time would. A burst of updates to one ticket makes one round per update; most batches
are one round.

On SQLite, a batch job that finds webhooks being acknowledged in its process (in the last second)
processes its deliveries one at a time: SQLite has one writer, acknowledgements go first, and a
transaction per delivery lets them in between. A batch that fails in any way is rolled back and its
deliveries are processed one by one, each in its own transaction, where a failure is sorted as usual
(retried with backoff, or rejected with its reason): one bad delivery costs its batch the bulk path,
never the others their processing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import escalation, metrics, sync
from connector.errors import PayloadError
from connector.inbox.processing import finish, process
from connector.logs import where
from connector.model import InboundEvent, MappedFields
from connector.policy import Policy, RepeatIssueTrigger, UsersAffectedTrigger
from connector.runtime import Runtime
from connector.sla.many import refresh_many
from connector.store import FINAL_STATUSES, DeliveryStatus
from connector.store.database import transient
from connector.store.tables import Delivery, SlaFire, Ticket
from connector.tickets import Applied, apply_event, locks
from connector.tickets.ahead import ObjectKey, known_link, look_ahead_keys, look_ahead_links, reserve_ticket_ids
from connector.tickets.apply import comment_key

log = logging.getLogger(__name__)

#: what puts two deliveries in different rounds: ("ticket", id), ("customer", who), ("object", vendor key)
_Key = tuple[Any, ...]


@dataclass
class _Item:
    """One delivery of the batch, parsed and mapped."""

    delivery: Delivery
    events: list[tuple[InboundEvent, MappedFields]]
    outcomes: list[str] = field(default_factory=list)
    ticket_id: int | None = None  # set on the row with its status at the end: one UPDATE for the batch


@dataclass
class _Round:
    keys: set[_Key] = field(default_factory=set)
    #: ticket → the latest event time this round brought, in the order the deliveries touched them
    touched: dict[int, datetime] = field(default_factory=dict)
    applied_to: dict[int, list[Applied]] = field(default_factory=dict)


def process_many(rt: Runtime, delivery_ids: Sequence[int]) -> list[str]:
    """Process stored deliveries (see the module); returns each one's outcome, in order. Safe to run
    twice, and beside other workers: a delivery another transaction holds is left to it."""
    ids = list(dict.fromkeys(delivery_ids))
    if len(ids) <= 1 or rt.db.acknowledging():
        # SQLite while webhooks come in: one writer, and acknowledgements go first — a transaction per
        # delivery lets them in between; the batch would hold them back for all of its deliveries
        return _one_by_one(rt, ids)
    try:
        outcomes = _together(rt, ids)
    except Exception as exc:  # not dropped: each delivery is processed alone, where its failure is sorted
        log.warning(
            "batched processing failed; processing its deliveries one by one",
            extra={"deliveries": len(ids), "error": type(exc).__name__, "where": where(exc)},
        )
        metrics.JOBS.labels("process_batch", "fell_back").inc()
        return _one_by_one(rt, ids)
    metrics.JOBS.labels("process_batch", "ok").inc()
    metrics.JOBS.labels("process_delivery", "ok").inc(len(ids))
    return outcomes


def _one_by_one(rt: Runtime, ids: list[int]) -> list[str]:
    """Each delivery in its own transaction; a transient failure (recorded on its delivery for a retry)
    is raised once the others have had their turn."""
    outcomes: list[str] = []
    failed: BaseException | None = None
    for delivery_id in ids:
        try:
            outcomes.append(process(rt, delivery_id))
        except Exception as exc:  # `process` recorded it on the delivery; raised below for RQ's registry
            if not transient(exc):
                raise
            failed = failed or exc
            outcomes.append(f"delivery {delivery_id} failed: {type(exc).__name__}")
    if failed is not None:
        raise failed
    return outcomes


def _together(rt: Runtime, ids: list[int]) -> list[str]:
    outcomes: dict[int, str] = {}
    with rt.db.session() as s:
        q = select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)
        # a delivery another job holds is that job's to finish (SQLite has one writer: nothing to skip)
        q = q.with_for_update() if rt.db.is_sqlite else q.with_for_update(skip_locked=True)
        items: list[_Item] = []
        for d in s.scalars(q):
            item = _prepare(rt, s, d, outcomes)
            if item is not None:
                items.append(item)
        if items:
            _apply_all(rt, s, items)
            s.flush()  # the new tickets first: a delivery's row then names one that exists
        for item in items:
            d = item.delivery
            d.ticket_id = item.ticket_id
            finish(d, DeliveryStatus.PROCESSED, "; ".join(item.outcomes) or "no events")
            outcomes[d.id] = f"delivery {d.id}: {d.outcome}"
            log.info(
                "processed delivery",
                extra={"delivery_id": d.id, "ticket_id": d.ticket_id, "vendor": d.vendor, "event_type": d.event_type},
            )
    return [outcomes.get(i, f"delivery {i} does not exist or is held by another job") for i in ids]


def _prepare(rt: Runtime, s: Session, d: Delivery, outcomes: dict[int, str]) -> _Item | None:
    """The delivery parsed and mapped, or None when there is nothing to apply (its outcome noted)."""
    if d.status in FINAL_STATUSES:
        outcomes[d.id] = f"delivery {d.id} already {d.status}"
        return None
    try:
        parsed = rt.adapter(d.vendor).parse(headers=d.headers or {}, payload=json.loads(d.body))
    except PayloadError as exc:  # e.g. replayed after a stricter adapter shipped
        finish(d, DeliveryStatus.REJECTED, exc.message)
        outcomes[d.id] = f"delivery {d.id} rejected: {exc.message}"
        return None
    if parsed.ignored:
        finish(d, DeliveryStatus.IGNORED, parsed.ignored_reason)
        outcomes[d.id] = f"delivery {d.id} ignored"
        return None
    mapping = rt.mappings.active(s, vendor=d.vendor, instance=d.instance)
    events = [(e, rt.mappings.engine.apply(mapping.document, e.shape, e.document)) for e in parsed.events]
    for _, mapped in events:
        if mapped.notes:  # the fields only: a note may quote the payload
            log.warning(
                "mapping could not use a value",
                extra={"delivery_id": d.id, "fields": ",".join(str(n.field) for n in mapped.notes)},
            )
    return _Item(d, events)


def _apply_all(rt: Runtime, s: Session, items: list[_Item]) -> None:
    events = [(item, e) for item in items for e, _ in item.events]
    links = look_ahead_links(s, (_object_key(item, e) for item, e in events))
    hinted = {int(e.ticket_hint) for _, e in events if e.ticket_hint and e.ticket_hint.isdigit()}
    # every ticket the batch will touch, locked now and in id order (two batches never deadlock on them)
    tickets = locks.lock_many(s, sorted({link.ticket_id for link in links.values()} | hinted))
    # an object not linked yet may open a ticket: its id taken now, with the others', not by a flush each
    reserve_ticket_ids(s, sum(1 for item, e in events if e.creates_ticket and _object_key(item, e) not in links))
    # whether each comment on a linked object is on its ticket's timeline already: one statement for all
    commented = ((links.get(_object_key(item, e)), comment_key(e, item.delivery.instance)) for item, e in events)
    look_ahead_keys(s, ((link.ticket_id, key) for link, key in commented if link and key))
    settle = _Settle(rt, s)
    reads = _Reads.of(settle.policy())
    current = _Round()
    for item in items:
        keys = _keys_before(s, item, tickets, reads)
        if keys & current.keys:
            settle(current)
            current = _Round()
        current.keys |= keys
        _apply(s, item, current, reads)
    settle(current)


def _object_key(item: _Item, event: InboundEvent) -> ObjectKey:
    ref = event.object
    return (ref.vendor, item.delivery.instance, ref.object_type, ref.external_id)


#: the fields whose change may complete a repeat cluster (`escalation.repeats.may_complete_cluster`)
_CLUSTER_FIELDS = ("category", "customer_id", "requester_email")


@dataclass(frozen=True)
class _Reads:
    """What of other tickets a reaction may read under the policy: the customer's other tickets (repeat
    clusters), a problem's linked incidents (users affected)."""

    clusters: bool
    problems: bool

    @classmethod
    def of(cls, policy: Policy) -> _Reads:
        kinds = {type(t) for t in policy.triggers}
        return cls(clusters=RepeatIssueTrigger in kinds, problems=UsersAffectedTrigger in kinds)


def _keys_before(s: Session, item: _Item, tickets: Mapping[int, Ticket], reads: _Reads) -> set[_Key]:
    """What the delivery will touch, as far as is known before applying it: its objects, the tickets
    they are linked to (or hint at). Where the policy makes a reaction read other tickets, also what
    it reads: the customer of an event that may open a ticket or move one to another category or
    customer (the customer's other tickets), the problems an incident names or named (their linked
    incidents; a problem is a ticket object, so its own deliveries meet them)."""
    keys: set[_Key] = set()
    instance = item.delivery.instance
    for event, mapped in item.events:
        ref = event.object
        key = _object_key(item, event)
        link = known_link(s, key)
        ticket = None if link is None else tickets.get(link.ticket_id)
        keys.add(("object", *key))
        if link is not None:
            keys.add(("ticket", link.ticket_id))
        if event.ticket_hint and event.ticket_hint.isdigit():
            keys.add(("ticket", int(event.ticket_hint)))
        values = mapped.fields
        if reads.problems:
            for problem in (values.get("problem_ref"), None if ticket is None else ticket.problem_ref):
                if problem:
                    keys.add(("object", ref.vendor, instance, "ticket", str(problem)))
        if reads.clusters and (
            ticket is None or any(name in values and values[name] != getattr(ticket, name) for name in _CLUSTER_FIELDS)
        ):
            keys.add(("customer", _customer(values.get("customer_id"), values.get("requester_email"))))
            if ticket is not None:
                keys.add(("customer", _customer(ticket.customer_id, ticket.requester_email)))
    keys.discard(("customer", None))
    return keys


def _customer(customer_id: Any, requester_email: Any) -> str | None:
    who = customer_id or requester_email
    return None if who in (None, "") else str(who)


def _apply(s: Session, item: _Item, current: _Round, reads: _Reads) -> None:
    """Apply one delivery's events (as `processing` does), noting what the round must settle."""
    d = item.delivery
    ticket_id = item.ticket_id = d.ticket_id
    touched_now: dict[int, datetime] = {}
    for event, mapped in item.events:
        applied = apply_event(s, event=event, instance=d.instance, fields=mapped.fields, delivery_id=d.id)
        ticket_id = applied.ticket_id or ticket_id
        if applied.ticket_id is not None:
            t = applied.ticket_id
            touched_now[t] = max(event.occurred_at, touched_now.get(t, event.occurred_at))
            current.applied_to.setdefault(t, []).append(applied)
            current.keys.add(("ticket", t))
            if reads.clusters and (applied.created or any(name in applied.changes for name in _CLUSTER_FIELDS)):
                ticket = locks.lock(s, t)
                if ticket is not None:
                    current.keys.add(("customer", _customer(ticket.customer_id, ticket.requester_email)))
                for old in (applied.changes.get(name, (None, None))[0] for name in ("customer_id", "requester_email")):
                    current.keys.add(("customer", _customer(old, None)))
        item.outcomes.append(applied.describe())
    current.keys.discard(("customer", None))
    for t, until in sorted(touched_now.items()):  # one delivery's tickets in id order, as `processing` takes them
        current.touched[t] = max(until, current.touched.get(t, until))
    item.ticket_id = ticket_id


class _Settle:
    """What follows a round: the touched tickets' clocks, the escalation engine, sync (see the module)."""

    def __init__(self, rt: Runtime, s: Session):
        self.rt, self.s = rt, s
        self._policy: Policy | None = None

    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = self.rt.policies.active(self.s).policy
        return self._policy

    def __call__(self, done: _Round) -> None:
        if not done.touched:
            return
        s, rt, policy = self.s, self.rt, self.policy()
        now = datetime.now(UTC)
        acting, syncing = rt.acting(), rt.syncing()
        until = done.touched

        def again(s: Session, policy: Policy, ids: Sequence[int], now: datetime) -> dict[int, list[SlaFire]]:
            return refresh_many(s, policy, locks.lock_many(s, ids), now, until=until)

        fires = again(s, policy, list(until), now)
        signals = {
            t: [*escalation.signals_of(done.applied_to[t]), *escalation.fire_signals(fires.get(t, ()))] for t in until
        }
        escalation.settle_many(s, policy, signals, now, refresh=again, acting=acting)
        links = sync.links_of(s, [t for t in until if sync.may_sync(done.applied_to[t])])
        for t in until:
            sync.react(s, t, done.applied_to[t], syncing, now, links=links.get(t, []))
        # an incident linked to its problem (or the problem arriving after them): the problem's users affected
        impact = escalation.linked_impact(s, policy, done.applied_to)
        if impact:
            latest = max(until.values())

            def again_latest(s: Session, policy: Policy, ids: Sequence[int], now: datetime) -> dict[int, list[SlaFire]]:
                return refresh_many(s, policy, locks.lock_many(s, ids), now, until=dict.fromkeys(ids, latest))

            escalation.settle_many(s, policy, dict(sorted(impact.items())), now, refresh=again_latest, acting=acting)
