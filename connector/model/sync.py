"""Sync rules: what the connector writes back to the tools, as a mapping document's `sync` section
says (the mapping's outbound direction). Pure data; the mapping engine reads the document into it.

The helpdesk's mapping (Zendesk) says how its tickets are written to: the Jira key as a tag or a
custom field, which Jira comments become notes, what a linked issue reaching done or a PagerDuty
incident resolving does to the ticket. The Jira mapping says how Jira is written to: customer replies
as comments, the transition a solved ticket asks for, the fields a linked issue is created with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Owner(StrEnum):
    """Which tool's word a synced field takes when the tools disagree."""

    LAST_WRITER = "last_writer"  # the latest change by the tools' own event times wins
    HELPDESK = "zendesk"  # the helpdesk's ticket: Jira's changes are noted, never written to it
    JIRA = "jira"  # the Jira issue: the helpdesk's changes are noted, never written to it


class JiraComments(StrEnum):
    """Which comments of a linked Jira issue reach the helpdesk ticket, and how."""

    INTERNAL = "internal"  # every comment, as an internal note
    PUBLIC_WHEN_SHARED = "public_when_shared"  # a JSM comment shared with the customer (jsdPublic) stays public
    OFF = "off"


@dataclass(frozen=True)
class TicketChange:
    """What happens to the helpdesk ticket when something outside it finishes."""

    status: str | None = None  # the helpdesk's status to set (Zendesk: open, pending, hold, solved); None: keep
    note: bool = True  # an internal note saying what happened
    public_comment: str | None = None  # a public reply to the customer; `{key}` and `{status}` are filled in

    @property
    def empty(self) -> bool:
        return self.status is None and not self.note and not self.public_comment


@dataclass(frozen=True)
class IssueField:
    """One field of a linked Jira issue, filled from a canonical ticket field (`source`, through `map`)
    or a constant (`value`)."""

    jira_field: str
    source: str | None = None
    map: Mapping[str, Any] = field(default_factory=dict)
    value: Any = None

    def resolve(self, ticket_values: Mapping[str, Any]) -> Any:
        if self.source is None:
            return self.value
        raw = ticket_values.get(self.source)
        if raw is None:
            return self.value
        if not self.map:
            return raw
        key = str(raw).lower()
        for k, v in self.map.items():
            if str(k).lower() == key:
                return v
        return self.map.get("*", self.value)


@dataclass(frozen=True)
class SyncRules:
    # written to the helpdesk (its mapping's `sync` section)
    jira_key_tag: str | None = "jira_{key}"
    jira_key_field: str | None = None
    jira_comments: JiraComments = JiraComments.INTERNAL
    pagerduty_notes: bool = True
    when_issue_done: TicketChange = TicketChange(status="open")
    when_incident_resolved: TicketChange = TicketChange()
    status_owner: Owner = Owner.LAST_WRITER
    # written to Jira (the Jira mapping's `sync` section)
    customer_replies: bool = True
    transition_when_solved: str | None = None
    issue_fields: tuple[IssueField, ...] = ()
