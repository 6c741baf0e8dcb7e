"""Sync back to the tools: what the events one delivery applied to a ticket ask the other tools to
hear, written to the outbox in the delivery's transaction (so a retried, replayed or duplicated
delivery asks nothing twice: every intent is keyed by the event that caused it).

Flows, for a ticket opened in Zendesk (its origin) with a linked Jira issue or PagerDuty incident:
- a comment on the linked Jira issue → an internal note on the Zendesk ticket (a JSM comment the
  customer sees stays public where the Zendesk mapping says `jira_comments: public_when_shared`);
- a public reply of the customer on the Zendesk ticket → a comment on each linked Jira issue;
  internal notes stay where they are;
- the linked issue reaching done → the Zendesk ticket updated as `sync.when_issue_done` says;
- the Zendesk ticket solved → each linked issue moved by the transition `sync.transition_when_solved`
  names (the Jira mapping's), if it names one;
- a PagerDuty note → an internal note; the incident resolved → `sync.when_incident_resolved`.

No echo loops: every comment the connector writes ends with its origin marker (`[hdc:…]`), so the
tool's webhook reporting it back is recognised and not synced again; a status change the connector
asked for (a Jira transition, a Zendesk status), reported back within `ECHO_WINDOW`, is recorded as
the echo of that intent — not sent, naming it — and each of the connector's own changes is
recognised once only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.escalation import followups
from connector.model import (
    TERMINAL,
    Comment,
    EventKind,
    JiraComments,
    LinkRole,
    Owner,
    Status,
    SyncRules,
    TicketChange,
)
from connector.outbound import (
    CHANNELS,
    IntentKind,
    IssueComment,
    IssueTransition,
    OutboundRequest,
    TicketUpdate,
    marked,
    marker,
)
from connector.outbox import record
from connector.outbox.records import not_configured
from connector.store.tables import Link, OutboxItem, OutboxStatus, Ticket
from connector.tickets import Applied, timeline
from connector.tickets.timeline import SyncHeld

log = logging.getLogger(__name__)

#: how long after the connector asked for a status change the tool's report of it counts as its echo
#: (Jira delivers webhooks up to about 30 minutes late)
ECHO_WINDOW = timedelta(hours=2)
_DONE = frozenset({Status.RESOLVED.value, Status.CLOSED.value})
#: Zendesk status → the canonical status a ticket has after the connector set it (for "already so")
ZENDESK_STATUS = {
    "open": Status.OPEN.value,
    "pending": Status.WAITING_ON_CUSTOMER.value,
    "hold": Status.ON_HOLD.value,
    "solved": Status.RESOLVED.value,
}

Rules = Callable[[Session, str, str], SyncRules]  # (vendor, instance) → that mapping's sync rules


@dataclass(frozen=True)
class Syncing:
    """What sync needs of the process: each mapping's sync rules and the channels that have a sender."""

    rules: Rules
    channels: frozenset[str] | None = None


@dataclass
class SyncedTicket:
    """The ticket and its links, read once per reaction."""

    ticket: Ticket
    zendesk: Link | None  # the origin Zendesk ticket, if it came from Zendesk
    issues: list[Link]  # linked engineering issues in Jira
    links: list[Link]

    def key_of(self, a: Applied) -> str:
        """The human key of the object an event was about (a PagerDuty note names its incident by id only)."""
        assert a.ref is not None
        if a.ref.key:
            return a.ref.key
        for x in self.links:
            if (x.vendor, x.instance, x.object_type, x.external_id) == (
                a.ref.vendor,
                a.instance,
                a.ref.object_type,
                a.ref.external_id,
            ):
                return x.key or x.external_id
        return a.ref.external_id


def react(
    s: Session,
    ticket_id: int,
    applied: Sequence[Applied],
    syncing: Syncing,
    now: datetime,
    *,
    links: Sequence[Link] | None = None,
) -> list[OutboxItem]:
    """Record the sync intents the events applied to one ticket ask for; the new outbox rows. `now`:
    when the delivery is processed (a tool reports the connector's own change after it was asked for).
    `links`: the ticket's links, when the caller read them already (`links_of`, a batch's tickets at once)."""
    interesting = [a for a in applied if _may_sync(a)]
    if not interesting:  # most deliveries: no comment, no status reaching an end (no query at all)
        return []
    t = load_ticket(s, ticket_id, links=links)
    if t is None or (
        t.zendesk is None and not t.issues and not any(a.role is LinkRole.POSTMORTEM for a in interesting)
    ):
        return []
    made: list[OutboxItem | None] = []
    for a in interesting:
        assert a.ref is not None and a.at is not None
        vendor, role = a.ref.vendor, a.role
        if vendor == "jira" and role is LinkRole.POSTMORTEM:
            if a.kind is EventKind.STATUS_CHANGED and a.linked_fields.get("status") in _DONE:
                _postmortem_done(s, t, a)
        elif vendor == "jira" and role is LinkRole.ENGINEERING and t.zendesk is not None:
            if a.posted is not None:
                made.append(_jira_comment(s, t, a, a.posted, syncing))
            if a.kind is EventKind.STATUS_CHANGED and a.linked_fields.get("status") in _DONE:
                made.append(_issue_done(s, t, a, syncing, now))
        elif vendor == "pagerduty" and role is LinkRole.INCIDENT and t.zendesk is not None:
            if a.posted is not None:
                made.append(_incident_note(s, t, a, a.posted, syncing))
            if a.kind is EventKind.INCIDENT_RESOLVED:
                made.append(_incident_resolved(s, t, a, syncing))
        elif vendor == "zendesk" and role is LinkRole.ORIGIN and t.issues:
            if a.posted is not None and _customer_reply(t.ticket, a.posted):
                made.extend(_customer_reply_to_jira(s, t, a, a.posted, syncing))
            old, new = a.changes.get("status", (None, None))
            if new in _DONE and old not in TERMINAL:
                made.extend(_solved(s, t, a, syncing, now))
    return [m for m in made if m is not None]


def may_sync(applied: Sequence[Applied]) -> bool:
    """Could any of these events ask anything of another tool (then `react` reads the ticket's links)?"""
    return any(_may_sync(a) for a in applied)


def links_of(s: Session, ticket_ids: Sequence[int]) -> dict[int, list[Link]]:
    """The links of many tickets, with one statement, in id order (what `react` reads of each)."""
    out: dict[int, list[Link]] = {t: [] for t in ticket_ids}
    if ticket_ids:
        for link in s.scalars(select(Link).where(Link.ticket_id.in_(list(ticket_ids))).order_by(Link.id)):
            out[link.ticket_id].append(link)
    return out


def _may_sync(a: Applied) -> bool:
    """Could this event ask anything of another tool (a new comment, a status reaching its end)?"""
    if a.ref is None or a.role is None or a.at is None:
        return False
    if a.posted is not None:
        return True
    if a.role is LinkRole.ORIGIN:
        return a.changes.get("status", (None, None))[1] in _DONE
    return a.kind in (EventKind.STATUS_CHANGED, EventKind.INCIDENT_RESOLVED)


def load_ticket(s: Session, ticket_id: int, *, links: Sequence[Link] | None = None) -> SyncedTicket | None:
    ticket = s.get(Ticket, ticket_id)
    if ticket is None:
        return None
    if links is None:
        links = list(s.scalars(select(Link).where(Link.ticket_id == ticket_id).order_by(Link.id)))
    links = list(links)
    zendesk = next(
        (x for x in links if x.role == LinkRole.ORIGIN.value and x.vendor == "zendesk" and x.object_type == "ticket"),
        None,
    )
    issues = [x for x in links if x.role == LinkRole.ENGINEERING.value and x.vendor == "jira"]
    return SyncedTicket(ticket, zendesk, issues, links)


# --- Jira → Zendesk ------------------------------------------------------------------------


def _jira_comment(s: Session, t: SyncedTicket, a: Applied, c: Comment, syncing: Syncing) -> OutboxItem | None:
    if marked(c.body):  # the connector's own comment (a customer reply it copied), reported back
        return None
    assert t.zendesk is not None and a.ref is not None
    rules = syncing.rules(s, "zendesk", t.zendesk.instance)
    if rules.jira_comments is JiraComments.OFF:
        return None
    public = rules.jira_comments is JiraComments.PUBLIC_WHEN_SHARED and c.customer_visible is True
    key = a.ref.key or a.ref.external_id
    who = c.author_name or c.author_id or "someone"
    text = f"{who} commented on {key} (Jira):\n\n{c.body}"
    mark = f"jira-{a.instance}-{c.external_id}"
    return _zendesk_note(s, t, text, mark, f"a comment on the linked Jira issue {key}", syncing, public=public)


def _zendesk_note(
    s: Session, t: SyncedTicket, text: str, mark: str, why: str, syncing: Syncing, *, public: bool = False
) -> OutboxItem | None:
    """A comment copied to the Zendesk ticket (internal unless `public`), once per `mark`."""
    assert t.zendesk is not None
    update = TicketUpdate(
        ticket_id=t.ticket.id,
        external_id=t.zendesk.external_id,
        instance=t.zendesk.instance,
        comment=text,
        public=public,
        marker=marker(mark),
        why=why,
    )
    return record_intent(s, update, f"sync:zendesk-note:{mark}", syncing)


def _issue_done(s: Session, t: SyncedTicket, a: Applied, syncing: Syncing, now: datetime) -> OutboxItem | None:
    assert t.zendesk is not None and a.ref is not None and a.at is not None
    key = a.ref.key or a.ref.external_id
    idem = f"sync:issue-done:jira/{a.instance}/{a.ref.external_id}@{a.at.isoformat()}"
    status_name = _status_name(a) or "done"
    own = _own_change(s, t.ticket.id, IntentKind.JIRA_TRANSITION, key, now)
    if own is not None:
        return _echo(s, t, IntentKind.ZENDESK_UPDATE, idem, own, f"{key} reached {status_name}", syncing)
    rules = syncing.rules(s, "zendesk", t.zendesk.instance)
    change = rules.when_issue_done
    if change.status is not None:
        held = _status_held(t.ticket, rules, a.at)
        if held is not None:
            _hold(s, t, a, idem, change.status, rules.status_owner, held)
            change = replace(change, status=None)
    update = _ticket_change(
        t,
        change,
        note=f"The linked engineering issue {key} is {status_name} (Jira).",
        facts={"key": key, "status": status_name},
        mark=f"jira-{a.instance}-{a.ref.external_id}-done-{int(a.at.timestamp())}",
        why=f"the linked Jira issue {key} reached {status_name}",
    )
    return None if update is None else record_intent(s, update, idem, syncing)


def _status_held(ticket: Ticket, rules: SyncRules, at: datetime) -> str | None:
    """Why Jira's status is not written to the ticket (None: it is)."""
    if rules.status_owner is Owner.HELPDESK:
        return "Zendesk owns the ticket's status (sync.status_owner: zendesk)"
    if rules.status_owner is Owner.LAST_WRITER:
        seen = (ticket.field_versions or {}).get("status")
        if seen is not None and datetime.fromisoformat(seen) > at:
            return f"the ticket's status changed later ({seen}): the later write wins"
    return None


def _hold(s: Session, t: SyncedTicket, a: Applied, idem: str, value: str | None, owner: Owner, why: str) -> None:
    """On the timeline: a change a tool reported that sync did not carry to the other tool."""
    assert a.ref is not None and a.at is not None
    timeline.write(
        s,
        ticket_id=t.ticket.id,
        at=a.at,
        record=SyncHeld(field="status", value=value, source=a.ref.vendor, owner=owner.value, reason=why),
        source="connector/sync",
        summary=f"{a.ref.vendor} {t.key_of(a)} status not synced: {why}",
        dedupe_key=f"held:{idem}"[:255],
    )


def _status_name(a: Applied) -> str | None:
    for change in a.detail.get("changes") or ():
        if isinstance(change, dict) and change.get("field") == "status" and change.get("to"):
            return str(change["to"])
    return None


def _postmortem_done(s: Session, t: SyncedTicket, a: Applied) -> None:
    """The post-mortem's Jira task is done: so is the post-mortem (once; `GET /api/followups`)."""
    key = t.key_of(a)
    tasks = s.scalars(
        select(OutboxItem).where(
            OutboxItem.ticket_id == t.ticket.id, OutboxItem.intent == IntentKind.CREATE_POSTMORTEM_TASK.value
        )
    )
    for task in tasks:
        if (task.response or {}).get("key") == key:
            followup_id = int((task.payload or {}).get("followup_id") or 0)
            url = (task.response or {}).get("url")
            followups.done(s, followup_id, by="jira", note=f"Jira task {key} is {_status_name(a) or 'done'}", url=url)


# --- PagerDuty → Zendesk -------------------------------------------------------------------


def _incident_note(s: Session, t: SyncedTicket, a: Applied, c: Comment, syncing: Syncing) -> OutboxItem | None:
    assert t.zendesk is not None and a.ref is not None
    if marked(c.body) or not syncing.rules(s, "zendesk", t.zendesk.instance).pagerduty_notes:
        return None
    number = t.key_of(a)
    who = c.author_name or "a responder"
    text = f"{who} added a note to PagerDuty incident #{number}:\n\n{c.body}"
    mark = f"pd-{a.instance}-{c.external_id}"
    return _zendesk_note(s, t, text, mark, f"a note on PagerDuty incident #{number}", syncing)


def _incident_resolved(s: Session, t: SyncedTicket, a: Applied, syncing: Syncing) -> OutboxItem | None:
    assert t.zendesk is not None and a.ref is not None and a.at is not None
    number = t.key_of(a)
    rules = syncing.rules(s, "zendesk", t.zendesk.instance)
    reason = a.detail.get("resolve_reason")
    update = _ticket_change(
        t,
        rules.when_incident_resolved,
        note=f"PagerDuty incident #{number} was resolved" + (f" ({reason})." if reason else "."),
        facts={"key": f"#{number}", "status": "resolved"},
        mark=f"pd-{a.instance}-{a.ref.external_id}-resolved-{int(a.at.timestamp())}",
        why=f"PagerDuty incident #{number} resolved",
    )
    idem = f"sync:incident-resolved:pagerduty/{a.instance}/{a.ref.external_id}@{a.at.isoformat()}"
    return None if update is None else record_intent(s, update, idem, syncing)


def _ticket_change(
    t: SyncedTicket, change: TicketChange, *, note: str, facts: dict[str, str], mark: str, why: str
) -> TicketUpdate | None:
    """The Zendesk update a `TicketChange` rule asks for: a public reply if it has one (agents see it
    too), else the internal note; the status unless the ticket has it already. None: nothing to do."""
    assert t.zendesk is not None
    status = change.status
    if status is not None and ZENDESK_STATUS.get(status) == t.ticket.status:
        status = None
    comment, public = None, False
    if change.public_comment:
        comment, public = _fill(change.public_comment, facts), True
    elif change.note:
        comment = note
    if comment is None and status is None:
        return None
    return TicketUpdate(
        ticket_id=t.ticket.id,
        external_id=t.zendesk.external_id,
        instance=t.zendesk.instance,
        comment=comment,
        public=public,
        status=status,
        marker=marker(mark) if comment is not None else None,
        why=why,
    )


def _fill(template: str, facts: dict[str, str]) -> str:
    out = template
    for name, value in facts.items():
        out = out.replace("{" + name + "}", value)
    return out


# --- Zendesk → Jira ------------------------------------------------------------------------


def _customer_reply(ticket: Ticket, c: Comment) -> bool:
    """A public comment of the customer's (not an agent's reply, never an internal note)."""
    if not c.public or marked(c.body):
        return False
    if c.author_is_agent is not None:
        return not c.author_is_agent
    return c.author_id is not None and c.author_id == ticket.requester_id


def _customer_reply_to_jira(s: Session, t: SyncedTicket, a: Applied, c: Comment, syncing: Syncing) -> list[OutboxItem]:
    assert a.ref is not None
    out = []
    for issue in t.issues:
        if not syncing.rules(s, "jira", issue.instance).customer_replies:
            continue
        key = issue.key or issue.external_id
        who = c.author_name or "The customer"
        mark = f"zd-{a.instance}-{c.external_id}"
        comment = IssueComment(
            ticket_id=t.ticket.id,
            issue_key=key,
            instance=issue.instance,
            body=f"{who} (customer) replied on Zendesk ticket #{a.ref.external_id}:\n\n{c.body}",
            marker=marker(mark),
            internal=True,  # on a JSM request, never shown to its reporter: the reply was to support
            why=f"a customer reply on Zendesk ticket #{a.ref.external_id}",
        )
        item = record_intent(s, comment, f"sync:jira-comment:{issue.instance}/{key}:{mark}", syncing)
        if item is not None:
            out.append(item)
    return out


def _solved(s: Session, t: SyncedTicket, a: Applied, syncing: Syncing, now: datetime) -> list[OutboxItem]:
    assert t.zendesk is not None and a.at is not None
    out: list[OutboxItem] = []
    own = None
    owner = syncing.rules(s, "zendesk", t.zendesk.instance).status_owner
    for issue in t.issues:
        transition = syncing.rules(s, "jira", issue.instance).transition_when_solved
        if transition is None:
            continue
        key = issue.key or issue.external_id
        idem = f"sync:jira-transition:{issue.instance}/{key}@{a.at.isoformat()}"
        if owner is Owner.JIRA:
            _hold(s, t, a, idem, transition, owner, f"Jira owns {key}'s status (sync.status_owner: jira)")
            continue
        own = own or _own_change(s, t.ticket.id, IntentKind.ZENDESK_UPDATE, f"#{t.zendesk.external_id}", now)
        if own is not None:
            item = _echo(s, t, IntentKind.JIRA_TRANSITION, idem, own, "the Zendesk ticket was solved", syncing, key)
        else:
            request = IssueTransition(
                ticket_id=t.ticket.id,
                issue_key=key,
                instance=issue.instance,
                transition=transition,
                why=f"Zendesk ticket #{t.zendesk.external_id} was solved",
            )
            item = record_intent(s, request, idem, syncing)
        if item is not None:
            out.append(item)
    return out


# --- echoes and recording ------------------------------------------------------------------


def _own_change(s: Session, ticket_id: int, intent: IntentKind, target: str, now: datetime) -> OutboxItem | None:
    """The connector's own request for the status change a tool now reports, made within `ECHO_WINDOW`
    and not recognised as an echo before, if there is one."""
    rows = s.scalars(
        select(OutboxItem)
        .where(
            OutboxItem.ticket_id == ticket_id,
            OutboxItem.intent == intent.value,
            OutboxItem.target == target,
            OutboxItem.status.in_((OutboxStatus.SENT.value, OutboxStatus.SENDING.value, OutboxStatus.PENDING.value)),
            OutboxItem.created_at >= now - ECHO_WINDOW,
        )
        .order_by(OutboxItem.id)
    )
    for row in rows:
        if intent is IntentKind.ZENDESK_UPDATE and (row.payload or {}).get("status") != "solved":
            continue
        taken = s.scalar(select(OutboxItem.id).where(OutboxItem.echo_of == row.id).limit(1))
        if taken is None:
            return row
    return None


def _echo(
    s: Session,
    t: SyncedTicket,
    kind: IntentKind,
    idem: str,
    own: OutboxItem,
    what: str,
    syncing: Syncing,
    issue_key: str | None = None,
) -> OutboxItem | None:
    """Record the intent an echo would have made as not sent, naming the connector's own change."""
    assert t.zendesk is not None
    reason = f"{what} because the connector asked for it (outbox item {own.id}): not synced back"
    request: OutboundRequest
    if kind is IntentKind.ZENDESK_UPDATE:
        request = TicketUpdate(
            ticket_id=t.ticket.id, external_id=t.zendesk.external_id, instance=t.zendesk.instance, why=reason
        )
    else:
        request = IssueTransition(ticket_id=t.ticket.id, issue_key=issue_key or "", transition="", why=reason)
    return record(s, request, idempotency_key=idem, ticket_id=t.ticket.id, unavailable=reason, echo_of=own.id)


def record_intent(s: Session, request: OutboundRequest, idem: str, syncing: Syncing) -> OutboxItem | None:
    channel = CHANNELS[request.kind]
    unavailable = None
    if syncing.channels is not None and channel not in syncing.channels:
        unavailable = not_configured(channel)
    item = record(s, request, idempotency_key=idem, ticket_id=request.ticket_id, unavailable=unavailable)
    if item is not None:
        log.info(
            "sync intent recorded",
            extra={"ticket_id": request.ticket_id, "intent": request.kind.value, "channel": channel},
        )
    return item
