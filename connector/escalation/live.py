"""The escalation engine over stored tickets: signals in, decisions stored, applied and sent — in the
caller's transaction.

`react` is called by delivery processing (after a ticket changed and its SLA clocks were refreshed)
and `react_many` by the SLA sweeper (with the fires a chunk recorded). For each decision it writes, in
the same transaction, an `escalations` row (its unique key makes the decision happen at most once),
then carries it out (`connector.escalation.carry`: the ticket's new level, owner or category, a
timeline entry, the outbound intent in the outbox, any owed follow-up).
A decision that changes the level or the category changes which SLA targets apply, so `settle`
refreshes the clocks again and feeds their new fires back, a bounded number of rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.escalation.carry import (
    ANYWHERE,
    Acting,
    carry_out,
    decision_row,
    postmortems_fall_due,
    postmortems_owed,
)
from connector.escalation.engine import decide, reacts_to
from connector.escalation.repeats import may_complete_cluster, repeat_signals
from connector.escalation.requests import Context, read_shared
from connector.escalation.signals import (
    ActionKind,
    Changed,
    Decision,
    Key,
    Opened,
    Outcome,
    Signal,
    SlaFired,
    TextAdded,
)
from connector.escalation.state import TICKET_STATE_FIELDS, TicketState
from connector.model import Comment
from connector.outbox.records import Unsent, close_unsent
from connector.policy import ARRIVALS, Policy, RepeatIssueTrigger
from connector.sla.events import FireKind
from connector.sla.live import RefreshMany
from connector.store.tables import (
    Escalation,
    SlaFire,
    Ticket,
)
from connector.tickets import Applied, locks

#: rounds of "escalation changed the level → clocks retarget → their fires escalate" per call
MAX_ROUNDS = 4
_SLA_KINDS = frozenset({FireKind.WARNING, FireKind.BREACH, FireKind.MAXIMUM_BREACH, FireKind.OVERDUE, FireKind.MET})

Refresh = Callable[[Session, Policy, int, datetime], list[SlaFire]]


@dataclass
class Reaction:
    decisions: list[Decision] = field(default_factory=list)
    retargets: bool = False  # a decision changed the level or the category: the clocks need a refresh


def signals_of(applied: Iterable[Applied]) -> list[Signal]:
    """What ticket processing tells the engine: creations, field changes, new comments' text."""
    out: list[Signal] = []
    for a, at in _with_time(applied):
        if a.created:
            out.append(Opened(at))
        elif a.changes:
            out.append(Changed(at, frozenset(a.changes)))
            for name, source in (("title", "subject"), ("description", "description")):
                if name in a.changes and a.changes[name][1]:
                    out.append(TextAdded(at, source, str(a.changes[name][1])))  # type: ignore[arg-type]  # a TextSource
        if a.comment is not None:
            out.append(TextAdded(at, _comment_source(a.comment), a.comment.body))
    return out


def _with_time(applied: Iterable[Applied]) -> Iterable[tuple[Applied, datetime]]:
    for a in applied:
        if a.at is not None and a.ticket_id is not None and not a.skipped:
            yield a, a.at


def _comment_source(c: Comment) -> Any:
    if not c.public:
        return "internal_notes"
    return "agent_comments" if c.author_is_agent else "customer_comments"


def fire_signals(fires: Iterable[SlaFire]) -> list[Signal]:
    out: list[Signal] = []
    for f in fires:
        kind = FireKind(f.kind)
        if kind in _SLA_KINDS:
            out.append(SlaFired(at=f.at, kind=kind, metric=f.metric, cycle=f.cycle, label=_fire_label(f.label)))
    return out


def _fire_label(stored: str) -> str:
    return stored.split("@", 1)[0]


def settle(
    s: Session,
    policy: Policy,
    ticket_id: int,
    signals: Sequence[Signal],
    now: datetime,
    *,
    refresh: Refresh,
    acting: Acting = ANYWHERE,
) -> list[Decision]:
    """React to `signals`, then while decisions retarget the clocks: refresh them and react to their
    new fires. Returns every decision taken."""

    def one_by_one(s: Session, policy: Policy, ids: Sequence[int], now: datetime) -> Mapping[int, list[SlaFire]]:
        return {i: refresh(s, policy, i, now) for i in ids}

    return settle_many(s, policy, {ticket_id: signals}, now, refresh=one_by_one, acting=acting).get(ticket_id, [])


def settle_many(
    s: Session,
    policy: Policy,
    signals: Mapping[int, Sequence[Signal]],
    now: datetime,
    *,
    refresh: RefreshMany,
    acting: Acting = ANYWHERE,
) -> dict[int, list[Decision]]:
    """`settle` for many tickets at once (the SLA sweeper's chunk): each round reacts ticket by ticket,
    then refreshes the clocks of every ticket a decision retargeted with one call — a few statements
    for all of them, instead of a refresh each. Tickets do not affect
    each other's decisions (a fire's triggers read its own ticket), so this takes, for each ticket,
    exactly the decisions `settle` takes. Returns each ticket's decisions."""
    taken: dict[int, list[Decision]] = {}
    pending = {ticket_id: list(x) for ticket_id, x in signals.items() if x}
    for _ in range(MAX_ROUNDS):
        if not pending:
            break
        reactions = react_many(s, policy, pending, now, acting=acting)
        retargeted: list[int] = []
        for ticket_id, reaction in reactions.items():
            if reaction.decisions:
                taken.setdefault(ticket_id, []).extend(reaction.decisions)
            if reaction.retargets:
                retargeted.append(ticket_id)
        if not retargeted:
            break
        fired = refresh(s, policy, retargeted, now)
        pending = {ticket_id: new for ticket_id in retargeted if (new := fire_signals(fired.get(ticket_id, ())))}
    return taken


def react(
    s: Session, policy: Policy, ticket_id: int, signals: Sequence[Signal], now: datetime, *, acting: Acting = ANYWHERE
) -> Reaction:
    """Run the engine over `signals` for one ticket and carry out its decisions (see the module). SLA
    fires no trigger takes are dropped first: a ticket whose signals are all such is not read."""
    return react_many(s, policy, {ticket_id: signals}, now, acting=acting).get(ticket_id, Reaction())


def react_many(
    s: Session,
    policy: Policy,
    signals: Mapping[int, Sequence[Signal]],
    now: datetime,
    *,
    acting: Acting = ANYWHERE,
) -> dict[int, Reaction]:
    """`react` for many tickets (the SLA sweeper's chunk) in a few statements for all: their rows are
    locked with one, their earlier decisions and links read with one each, and their decisions
    inserted with one flush, before each is carried out. Returns the reaction of each ticket that was
    read.

    A ticket's decisions read only its own rows, with one exception: a signal that may complete a
    repeat cluster (an opening, a new category or customer) reads the customer's other tickets. A
    ticket with such a signal (under a policy with repeat-issue triggers) is reacted to together with
    the others only when no other such ticket of the batch has its customer; else alone, after the
    others, as if the tickets had come one after another in that order."""
    wanted = {t: kept for t, these in signals.items() if (kept := [x for x in these if reacts_to(policy, x)])}
    together: dict[int, list[Signal]] = {}
    alone: list[int] = []
    clusters = any(isinstance(t, RepeatIssueTrigger) for t in policy.triggers)
    customers: set[str | None] = set()
    for ticket_id, these in wanted.items():
        if clusters and may_complete_cluster(these):
            # tickets of one customer complete its clusters one after another; other customers' do not meet
            ticket = locks.lock(s, ticket_id)
            customer = None if ticket is None else (ticket.customer_id or ticket.requester_email)
            if customer is None or customer in customers:
                alone.append(ticket_id)
                continue
            customers.add(customer)
        together[ticket_id] = these
    out = _react_together(s, policy, together, now, acting) if together else {}
    for ticket_id in alone:
        out.update(_react_together(s, policy, {ticket_id: wanted[ticket_id]}, now, acting))
    return out


@dataclass
class _Step:
    ticket: Ticket
    signals: list[Signal]
    before: dict[str, Any]
    reaction: Reaction
    rows: list[Escalation]


def _react_together(
    s: Session, policy: Policy, signals: Mapping[int, list[Signal]], now: datetime, acting: Acting
) -> dict[int, Reaction]:
    tickets = locks.lock_many(s, signals)
    with s.no_autoflush:
        taken = _taken_many(s, list(tickets))
    steps: list[_Step] = []
    for ticket_id, these in signals.items():
        ticket = tickets.get(ticket_id)
        if ticket is None:
            continue
        mine = taken[ticket_id]
        with s.no_autoflush:
            state = _state(policy, ticket, mine)
            done = {(t.trigger_id, t.occurrence, t.action_index) for t in mine}
            before = {name: getattr(ticket, name) for name in TICKET_STATE_FIELDS}
        step = _Step(ticket, these, before, Reaction(), [])
        for signal in [*these, *repeat_signals(s, policy, ticket, these)]:
            state, decisions = decide(policy, state, signal, done=done)
            done.update(d.key for d in decisions)
            step.reaction.decisions += decisions
        step.rows = [decision_row(ticket, d, now) for d in step.reaction.decisions]
        s.add_all(step.rows)
        mine += [_Taken(r.trigger_id, r.occurrence, r.action_index, r.action, r.target, r.outcome) for r in step.rows]
        steps.append(step)
    if any(step.rows for step in steps):
        s.flush()  # a concurrent job taking the same decisions fails here (unique key) and retries
    unsent: Unsent = []  # intents not sent (no channel here): on the timeline with one flush for all
    contexts = [
        Context(
            s,
            policy,
            step.ticket,
            acting.public_url,
            issue_fields=acting.issue_fields,
            sites=acting.sites,
            unsent=unsent,
        )
        for step in steps
    ]
    # what the intents carry: links, SLA due (a chunk's with one query each)
    acts = [
        c
        for c, step in zip(contexts, steps, strict=True)
        if any(d.outcome is not Outcome.SKIPPED for d in step.reaction.decisions)
    ]
    read_shared(s, acts)
    # a resolution with no decision of its own still makes the post-mortems owed fall due (read for all at once)
    resolving = [step.ticket for step in steps if any(_status_changed(x) for x in step.signals)]
    owed = postmortems_owed(s, resolving)
    for context, step in zip(contexts, steps, strict=True):
        for d, row in zip(step.reaction.decisions, step.rows, strict=True):
            carry_out(context, acting, d, row, now)
            step.reaction.retargets |= _moves_clocks(policy, step.before, d.changes)
        if step.ticket.id in owed:
            postmortems_fall_due(context, acting, owed[step.ticket.id])
    close_unsent(s, unsent)
    return {step.ticket.id: step.reaction for step in steps}


def _status_changed(signal: Signal) -> bool:
    return isinstance(signal, Changed) and "status" in signal.fields


def _moves_clocks(policy: Policy, ticket: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
    """Could these changes of level or category change a clock: another target, or a metric that starts
    or is met at a level? (Else refreshing the clocks again would change nothing.)"""
    for name, (old, new) in changes.items():
        if name not in ("support_level", "category"):
            continue
        if name == "support_level" and any(
            f"level:{lv}" == m.start or f"level:{lv}" in m.met_by for m in policy.metrics for lv in (old, new)
        ):
            return True
        for received in (None, *ARRIVALS):
            common = {
                "severity": ticket.get("severity"),
                "tier": ticket.get("customer_tier"),
                "category": ticket.get("category"),
                "channel": ticket.get("channel"),
                "received": received,
                "level": ticket.get("support_level"),
            }
            key = "level" if name == "support_level" else "category"
            if policy.targets_for(**{**common, key: old}) != policy.targets_for(**{**common, key: new}):
                return True
    return False


@dataclass(frozen=True)
class _Taken:
    trigger_id: str
    occurrence: str
    action_index: int
    action: str
    target: str | None
    outcome: str


_TAKEN_COLUMNS = (
    Escalation.trigger_id,
    Escalation.occurrence,
    Escalation.action_index,
    Escalation.action,
    Escalation.target,
    Escalation.outcome,
)


def _taken(s: Session, ticket_id: int) -> list[_Taken]:
    """The decisions taken for a ticket so far, in order (one query: keys and pages)."""
    rows = s.execute(select(*_TAKEN_COLUMNS).where(Escalation.ticket_id == ticket_id).order_by(Escalation.id))
    return [_Taken(*row) for row in rows]


def _taken_many(s: Session, ticket_ids: Sequence[int]) -> dict[int, list[_Taken]]:
    """`_taken` of each locked ticket, remembered for the rest of the transaction while it is locked
    (the caller appends what it takes); the ones not known yet read with one query, and a ticket this
    transaction created has taken nothing before it."""
    out: dict[int, list[_Taken]] = {}
    unknown: dict[int, dict[str, Any]] = {}
    for ticket_id in ticket_ids:
        memo = locks.known(s, ticket_id)
        if memo is None:
            out[ticket_id] = _taken(s, ticket_id)
        elif "escalations_taken" in memo:
            out[ticket_id] = memo["escalations_taken"]
        elif locks.created_here(s, ticket_id):
            out[ticket_id] = memo["escalations_taken"] = []
        else:
            unknown[ticket_id] = memo
    if unknown:
        read: dict[int, list[_Taken]] = {ticket_id: [] for ticket_id in unknown}
        for row in s.execute(
            select(Escalation.ticket_id, *_TAKEN_COLUMNS)
            .where(Escalation.ticket_id.in_(list(unknown)))
            .order_by(Escalation.ticket_id, Escalation.id)
        ):
            read[row[0]].append(_Taken(*row[1:]))
        for ticket_id, memo in unknown.items():
            out[ticket_id] = memo["escalations_taken"] = read[ticket_id]
    return out


def current_state(s: Session, policy: Policy, ticket: Ticket) -> TicketState:
    """The ticket as the triggers read it, with its open pages (from the decisions taken so far)."""
    return _state(policy, ticket, _taken(s, ticket.id))


def _state(policy: Policy, ticket: Ticket, taken: Iterable[_Taken]) -> TicketState:
    pages: list[str] = []
    acknowledged: list[str] = []
    for t in taken:
        if t.outcome == Outcome.SKIPPED or t.target is None:
            continue
        if t.action == ActionKind.PAGE and t.target not in pages:
            pages.append(t.target)
        elif t.action == ActionKind.PAGE_RESOLVE:
            pages = [p for p in pages if p != t.target]
            acknowledged = [p for p in acknowledged if p != t.target]
        elif t.action == ActionKind.PAGE_ACKNOWLEDGE and t.target not in acknowledged:
            acknowledged.append(t.target)
    fields = {name: getattr(ticket, name) for name in TICKET_STATE_FIELDS}
    return TicketState.of(policy, fields, pages=tuple(pages), acknowledged=tuple(acknowledged))


def taken_keys(s: Session, ticket_id: int) -> set[Key]:
    return {(t.trigger_id, t.occurrence, t.action_index) for t in _taken(s, ticket_id)}
