"""Canonical outbound intents: what the connector asks a tool to do, in its own words. Pure data.

Each is written to the outbox as JSON (`to_json`) in the transaction of the decision that made it,
and read back by the delivery job (`request_from_json`) — one type on both sides of the seam. A
sender's pure builder turns one into the vendor's request body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal

PageAction = Literal["trigger", "acknowledge", "resolve"]


class IntentKind(StrEnum):
    PAGE_TRIGGER = "page_trigger"
    PAGE_ACKNOWLEDGE = "page_acknowledge"
    PAGE_RESOLVE = "page_resolve"
    NOTIFY = "notify"
    CREATE_LINKED_ISSUE = "create_linked_issue"


#: who carries each kind of intent (a sender's `channel`)
CHANNELS: Mapping[IntentKind, str] = {
    IntentKind.PAGE_TRIGGER: "pagerduty",
    IntentKind.PAGE_ACKNOWLEDGE: "pagerduty",
    IntentKind.PAGE_RESOLVE: "pagerduty",
    IntentKind.NOTIFY: "notify",
    IntentKind.CREATE_LINKED_ISSUE: "jira",
}
_PAGE_KINDS = {"trigger": IntentKind.PAGE_TRIGGER, "acknowledge": IntentKind.PAGE_ACKNOWLEDGE}


@dataclass(frozen=True)
class WebLink:
    href: str
    text: str


@dataclass(frozen=True)
class PageRequest:
    """A PagerDuty Events API v2 event for one ticket and one target (a policy owner group or level).

    `dedup_key` is stable per ticket and target (`hdc-ticket-<id>/<target>`), so a re-sent trigger is
    the same alert and the acknowledge and resolve find it."""

    action: PageAction
    target: str
    dedup_key: str
    ticket_id: int
    summary: str = ""
    source: str = "helpdesk-connector"
    severity: str = "critical"
    component: str | None = None
    group: str | None = None
    custom_details: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[WebLink, ...] = ()
    timestamp: str | None = None  # ISO 8601: when what caused the page happened

    @property
    def kind(self) -> IntentKind:
        return _PAGE_KINDS.get(self.action, IntentKind.PAGE_RESOLVE)


@dataclass(frozen=True)
class Notification:
    """A message to a policy target's channels (a Slack-compatible incoming webhook): `text` for
    people, `escalation` the structured facts of the decision that sent it."""

    target: str
    ticket_id: int
    text: str
    escalation: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> IntentKind:
        return IntentKind.NOTIFY


@dataclass(frozen=True)
class LinkedIssueRequest:
    """An engineering issue to open for a ticket (Jira), labelled `hdc-ticket-<id>` so that a retry
    finds the issue it already made instead of making a second one."""

    ticket_id: int
    issue_type: str
    summary: str
    description: str
    project: str | None = None  # None: the instance's default project (JIRA_PROJECT)
    labels: tuple[str, ...] = ()
    link_url: str | None = None  # back to the ticket (its origin tool, else the connector)
    link_title: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # customer, tier, severity, SLA due, ...
    #: the Jira issue the ticket already has (it came from Jira, or one is linked): no second one is made
    existing_issue: str | None = None

    @property
    def kind(self) -> IntentKind:
        return IntentKind.CREATE_LINKED_ISSUE


OutboundRequest = PageRequest | Notification | LinkedIssueRequest


def to_json(request: OutboundRequest) -> dict[str, Any]:
    """The outbox row's `payload`."""
    return asdict(request)


def request_from_json(kind: IntentKind | str, data: Mapping[str, Any]) -> OutboundRequest:
    """The intent an outbox row holds (its `intent` and `payload`)."""
    kind = IntentKind(kind)
    if kind in (IntentKind.PAGE_TRIGGER, IntentKind.PAGE_ACKNOWLEDGE, IntentKind.PAGE_RESOLVE):
        links = tuple(WebLink(href=str(x["href"]), text=str(x.get("text") or "")) for x in data.get("links") or ())
        return PageRequest(**{**_known(PageRequest, data), "links": links})
    if kind is IntentKind.NOTIFY:
        return Notification(**_known(Notification, data))
    return LinkedIssueRequest(**{**_known(LinkedIssueRequest, data), "labels": tuple(data.get("labels") or ())})


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
