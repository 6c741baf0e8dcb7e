"""Canonical outbound intents: what the connector asks a tool to do, in its own words. Pure data.

Each is written to the outbox as JSON (`to_json`) in the transaction of the decision that made it,
and read back by the delivery job (`request_from_json`) — one type on both sides of the seam. A
sender's pure builder turns one into the vendor's request body.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

PageAction = Literal["trigger", "acknowledge", "resolve"]


class IntentKind(StrEnum):
    PAGE_TRIGGER = "page_trigger"
    PAGE_ACKNOWLEDGE = "page_acknowledge"
    PAGE_RESOLVE = "page_resolve"
    NOTIFY = "notify"
    CREATE_LINKED_ISSUE = "create_linked_issue"
    ZENDESK_UPDATE = "zendesk_update"
    JIRA_COMMENT = "jira_comment"
    JIRA_TRANSITION = "jira_transition"
    CREATE_POSTMORTEM_TASK = "create_postmortem_task"


#: who carries each kind of intent (a sender's `channel`)
CHANNELS: Mapping[IntentKind, str] = {
    IntentKind.PAGE_TRIGGER: "pagerduty",
    IntentKind.PAGE_ACKNOWLEDGE: "pagerduty",
    IntentKind.PAGE_RESOLVE: "pagerduty",
    IntentKind.NOTIFY: "notify",
    IntentKind.CREATE_LINKED_ISSUE: "jira",
    IntentKind.ZENDESK_UPDATE: "zendesk",
    IntentKind.JIRA_COMMENT: "jira",
    IntentKind.JIRA_TRANSITION: "jira",
    IntentKind.CREATE_POSTMORTEM_TASK: "jira",
}
#: an origin marker, `[hdc:<id>]`, ends every comment the connector writes: a retry finds the comment
#: it already wrote, and the tool's webhook reporting it back is recognised as the connector's own
MARKER_PREFIX = "[hdc:"
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
    instance: str = "default"  # the Jira site (JIRA_URL, or JIRA_<INSTANCE>_URL)
    #: more fields of the issue, by Jira field id, filled from the ticket as the Jira mapping says
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> IntentKind:
        return IntentKind.CREATE_LINKED_ISSUE

    @property
    def search_label(self) -> str:
        """The label a retry looks the issue up by (one issue per ticket)."""
        return f"hdc-ticket-{self.ticket_id}"


@dataclass(frozen=True)
class PostmortemTask(LinkedIssueRequest):
    """The Jira task that holds an owed post-mortem (the seeds' template in its description), one per
    post-mortem owed (`followup_id`), labelled `hdc-postmortem-<id>` beside the ticket's label."""

    followup_id: int = 0

    @property
    def kind(self) -> IntentKind:
        return IntentKind.CREATE_POSTMORTEM_TASK

    @property
    def search_label(self) -> str:
        return f"hdc-postmortem-{self.followup_id}"


def marker(key: str) -> str:
    """The origin marker of one write: `[hdc:zd-note-17-10042]`."""
    return f"{MARKER_PREFIX}{key}]"


def marked(text: str) -> bool:
    """Does a comment carry a connector origin marker (it is the connector's own write)?"""
    return MARKER_PREFIX in text


@dataclass(frozen=True)
class TicketUpdate:
    """One update of a helpdesk ticket (Zendesk `PUT /api/v2/tickets/{id}`): a comment — an internal
    note unless `public` — ending with its origin `marker`, a status, tags added (never replacing the
    ticket's), custom field values. `why` says what caused it, for the timeline and the outbox."""

    ticket_id: int
    external_id: str  # the helpdesk's ticket id
    instance: str = "default"
    comment: str | None = None
    public: bool = False
    status: str | None = None
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)  # field id → value
    marker: str | None = None
    why: str = ""

    @property
    def kind(self) -> IntentKind:
        return IntentKind.ZENDESK_UPDATE

    @property
    def target(self) -> str:
        return f"#{self.external_id}"


@dataclass(frozen=True)
class IssueComment:
    """A comment on a linked Jira issue, ending with its origin `marker`; `internal` on a JSM request
    keeps it from the customer."""

    ticket_id: int
    issue_key: str
    body: str
    marker: str
    internal: bool = False
    instance: str = "default"
    why: str = ""

    @property
    def kind(self) -> IntentKind:
        return IntentKind.JIRA_COMMENT

    @property
    def target(self) -> str:
        return self.issue_key


@dataclass(frozen=True)
class IssueTransition:
    """Move a linked Jira issue through the workflow transition called `transition` (looked up by name
    among the issue's available transitions). An issue already in a status of that name, or of
    category `done` when that is what the transition leads to, is left alone."""

    ticket_id: int
    issue_key: str
    transition: str
    instance: str = "default"
    why: str = ""

    @property
    def kind(self) -> IntentKind:
        return IntentKind.JIRA_TRANSITION

    @property
    def target(self) -> str:
        return self.issue_key


OutboundRequest = (
    PageRequest | Notification | LinkedIssueRequest | PostmortemTask | TicketUpdate | IssueComment | IssueTransition
)


def to_json(request: OutboundRequest) -> dict[str, Any]:
    """The outbox row's `payload`: `dataclasses.asdict`, without deep-copying the plain values an intent
    is made of (text, numbers, times — immutable: asdict's copy of each is the value itself)."""
    out = _plain(request)
    assert isinstance(out, dict)
    return out


_ATOMS = frozenset({str, int, float, bool, type(None), datetime, date})


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _ATOMS:
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(kind)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple, as asdict keeps it
        return kind(*[_plain(v) for v in value])
    if isinstance(value, list | tuple):
        return kind(_plain(v) for v in value)
    if isinstance(value, dict):
        return kind((_plain(k), _plain(v)) for k, v in value.items())
    return copy.deepcopy(value)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def request_from_json(kind: IntentKind | str, data: Mapping[str, Any]) -> OutboundRequest:
    """The intent an outbox row holds (its `intent` and `payload`)."""
    kind = IntentKind(kind)
    if kind in (IntentKind.PAGE_TRIGGER, IntentKind.PAGE_ACKNOWLEDGE, IntentKind.PAGE_RESOLVE):
        links = tuple(WebLink(href=str(x["href"]), text=str(x.get("text") or "")) for x in data.get("links") or ())
        return PageRequest(**{**_known(PageRequest, data), "links": links})
    if kind is IntentKind.NOTIFY:
        return Notification(**_known(Notification, data))
    if kind is IntentKind.ZENDESK_UPDATE:
        return TicketUpdate(**{**_known(TicketUpdate, data), "tags": tuple(data.get("tags") or ())})
    if kind is IntentKind.JIRA_COMMENT:
        return IssueComment(**_known(IssueComment, data))
    if kind is IntentKind.JIRA_TRANSITION:
        return IssueTransition(**_known(IssueTransition, data))
    if kind is IntentKind.CREATE_POSTMORTEM_TASK:
        return PostmortemTask(**{**_known(PostmortemTask, data), "labels": tuple(data.get("labels") or ())})
    return LinkedIssueRequest(**{**_known(LinkedIssueRequest, data), "labels": tuple(data.get("labels") or ())})


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
