"""The outbound intents of a decision: the page, notification or linked issue it asks for, with the ticket's
facts (customer, tier, severity, level, owner, SLA due, rule, reason) and its links in each tool."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.escalation.signals import ActionKind, Decision
from connector.model import TICKET_FIELDS, IssueField, LinkRole
from connector.outbound import LinkedIssueRequest, Notification, PageRequest, WebLink
from connector.outbox.records import Unsent
from connector.policy import Policy, format_duration
from connector.sla.live import earliest_due_many
from connector.store.tables import Link, Ticket
from connector.tickets import locks
from connector.tickets.apply import LINKS_MADE

#: the dedup key of the connector's pages: one alert per ticket and target (PagerDuty dedupes on it)
DEDUP_KEY = "hdc-ticket-{ticket_id}/{target}"


@dataclass
class Context:
    """What the decisions of one reaction share: the ticket's links and earliest SLA due time, read once."""

    s: Session
    policy: Policy
    ticket: Ticket
    public_url: str | None
    issue_fields: Callable[[Session], Sequence[IssueField]] | None = None
    sites: Mapping[str, str] = field(default_factory=dict)  # "vendor/instance" → base URL
    #: intents recorded as not sent, for the caller to put on the timeline together (`outbox.close_unsent`)
    unsent: Unsent | None = None
    _rows: list[Link] | None = None
    _due: tuple[datetime | None] | None = None

    def link_rows(self) -> list[Link]:
        if self._rows is None:
            read_shared(self.s, [self])
            assert self._rows is not None
        return self._rows

    def links(self) -> list[WebLink]:
        return _links(self.link_rows(), self.ticket, self.public_url, self.sites)

    def jira_issue(self) -> str | None:
        """The Jira issue the ticket already has (it came from one, or one was linked to it), if any."""
        for link in self.link_rows():
            if link.vendor == "jira" and link.role in (LinkRole.ORIGIN.value, LinkRole.ENGINEERING.value):
                return link.key or link.external_id
        return None

    def sla_due(self) -> datetime | None:
        if self._due is None:
            read_shared(self.s, [self])
            assert self._due is not None
        return self._due[0]


def read_shared(s: Session, contexts: Sequence[Context]) -> None:
    """Give each context what its decisions share: the ticket's links and earliest SLA due time, what is
    not known yet read with one query each for all of them (a sweeper's chunk)."""
    _read_links(s, contexts)
    waiting = [c for c in contexts if c._due is None]
    if waiting:
        due = earliest_due_many(s, list(dict.fromkeys(c.ticket.id for c in waiting)))
        for c in waiting:
            c._due = (due[c.ticket.id],)


def _read_links(s: Session, contexts: Sequence[Context]) -> None:
    """A ticket this transaction made has only the links it made, kept as they were made; links are
    flushed as made, so the pending decision rows need not be flushed first."""
    unread: dict[int, list[Context]] = {}
    for c in contexts:
        if c._rows is not None:
            continue
        known = locks.known(s, c.ticket.id)
        if known is not None and locks.created_here(s, c.ticket.id):
            made = known.get(LINKS_MADE, ())
            if any(link.id is None for link in made):
                s.flush()  # a batch's links are inserted with its round's flush
            c._rows = sorted(made, key=lambda x: x.id)
        else:
            unread.setdefault(c.ticket.id, []).append(c)
    if not unread:
        return
    rows: dict[int, list[Link]] = {ticket_id: [] for ticket_id in unread}
    with s.no_autoflush:
        for link in s.scalars(select(Link).where(Link.ticket_id.in_(list(unread))).order_by(Link.ticket_id, Link.id)):
            rows[link.ticket_id].append(link)
    for ticket_id, waiting in unread.items():
        for c in waiting:
            c._rows = list(rows[ticket_id])


def build_request(c: Context, d: Decision) -> PageRequest | Notification | LinkedIssueRequest | None:
    policy, ticket = c.policy, c.ticket
    if d.action in (ActionKind.PAGE, ActionKind.PAGE_ACKNOWLEDGE, ActionKind.PAGE_RESOLVE) and d.target:
        action = {ActionKind.PAGE: "trigger", ActionKind.PAGE_ACKNOWLEDGE: "acknowledge"}.get(d.action, "resolve")
        facts = _facts(c, d)
        return PageRequest(
            action=action,  # type: ignore[arg-type]  # one of PageAction
            target=d.target,
            dedup_key=DEDUP_KEY.format(ticket_id=ticket.id, target=d.target),
            ticket_id=ticket.id,
            summary=_summary(policy, ticket),
            severity=policy.page_severity(ticket.severity),
            component=ticket.category,
            group=ticket.owner,
            custom_details=facts,
            links=tuple(c.links()),
            timestamp=d.at.isoformat(),
        )
    if d.action is ActionKind.NOTIFY and d.target:
        facts = _facts(c, d)
        message = str(d.params.get("message") or "")
        within = f" within {format_duration(d.within)}" if d.within is not None else ""
        text = f"{_summary(policy, ticket)} — {message or 'escalation'}: {d.reason} (rule {d.trigger_id}){within}."
        links = c.links()
        if links:
            text += " " + " ".join(f"<{x.href}|{x.text}>" for x in links)
        return Notification(target=d.target, ticket_id=ticket.id, text=text, escalation=facts)
    if d.action is ActionKind.CREATE_LINKED_ISSUE:
        facts = _facts(c, d)
        origin = next(iter(c.links()), None)
        lines = [f"{k.replace('_', ' ')}: {v}" for k, v in facts.items() if v not in (None, "")]
        return LinkedIssueRequest(
            ticket_id=ticket.id,
            issue_type=str(d.params.get("issue_type") or "Bug"),
            project=d.params.get("project"),
            summary=(ticket.title or f"Ticket {ticket.id}")[:255],
            description="\n".join([ticket.description or "", "", *lines]).strip(),
            labels=(f"hdc-ticket-{ticket.id}",),
            existing_issue=c.jira_issue(),
            link_url=origin.href if origin else None,
            link_title=origin.text if origin else None,
            details=facts,
            fields=_issue_fields(c),
        )
    return None


def _issue_fields(c: Context) -> dict[str, Any]:
    """The Jira fields the mapping fills from the ticket (`sync.issue_fields`), empty values left out."""
    with c.s.no_autoflush:  # a read of the mapping: the decision's pending rows can wait for the commit
        rules = c.issue_fields(c.s) if c.issue_fields is not None else ()
    values = {name: getattr(c.ticket, name, None) for name in TICKET_FIELDS}
    out = {r.jira_field: r.resolve(values) for r in rules}
    return {k: v for k, v in out.items() if v not in (None, "")}


def _summary(policy: Policy, ticket: Ticket) -> str:
    severity = policy.severity_of(ticket.severity) or ticket.severity or "no severity"
    tier = policy.tier_of(ticket.customer_tier)
    return f"[{severity}] [{tier}] {ticket.title or f'ticket {ticket.id}'}"[:1024]


def _facts(c: Context, d: Decision) -> dict[str, Any]:
    policy, ticket, due = c.policy, c.ticket, c.sla_due()
    return {
        "ticket": ticket.id,
        "customer": ticket.customer_name or ticket.customer_id,
        "tier": policy.tier_of(ticket.customer_tier),
        "severity": policy.severity_of(ticket.severity) or ticket.severity,
        "category": ticket.category,
        "level": ticket.support_level or policy.initial_level,
        "owner": ticket.owner,
        "sla_due": None if due is None else due.isoformat(),
        "rule": d.trigger_id,
        "reason": d.reason,
    }


#: where a vendor object lives under its tool's base URL, when its payloads carried no URL
_OBJECT_PATHS = {("zendesk", "ticket"): "/agent/tickets/{id}", ("jira", "issue"): "/browse/{key}"}


def object_url(link: Link, sites: Mapping[str, str]) -> str | None:
    """The link's URL, else one built from its tool's configured base URL (`ZENDESK_URL`, `JIRA_URL`)."""
    if link.url:
        return link.url
    base, path = sites.get(f"{link.vendor}/{link.instance}"), _OBJECT_PATHS.get((link.vendor, link.object_type))
    if base is None or path is None:
        return None
    return base.rstrip("/") + path.format(id=link.external_id, key=link.key or link.external_id)


def _links(links: list[Link], ticket: Ticket, public_url: str | None, sites: Mapping[str, str]) -> list[WebLink]:
    out = []
    for link in links:
        url = object_url(link, sites)
        if url and link.role in (LinkRole.ORIGIN.value, LinkRole.ENGINEERING.value):
            out.append(WebLink(href=url, text=f"{link.vendor} {link.object_type} {link.key or link.external_id}"))
    if public_url:
        out.append(
            WebLink(href=f"{public_url.rstrip('/')}/admin/tickets/{ticket.id}", text=f"connector ticket {ticket.id}")
        )
    return out


# ---- repeat issues ----------------------------------------------------------------------------
