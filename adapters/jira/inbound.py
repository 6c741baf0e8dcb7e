"""Jira Cloud / Jira Service Management and Jira Server / Data Center webhooks → canonical events.
Pure: no I/O.

Shapes: `issue` for the `jira:issue_*` events (the document carries the whole issue) and `comment`
for comment events: the `comment_*` events (on Cloud the document's issue carries only summary,
issuetype, project, assignee, priority and status; on Server there is no issue at all) and the
comment a `jira:issue_updated` of type `issue_commented` reports beside the update.

Users are identified by `accountId` (Cloud), else `key`, else `name` (Server / Data Center).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar

from adapters.jira import signature
from adapters.jira.payloads import ChangelogItem, CommentEvent, Issue, IssueEvent, JiraComment, JiraUser
from connector.errors import PayloadError
from connector.inbound import HandlerTable, Headers, checked, dispatch, header, parse_time
from connector.model import Channel, Comment, EventKind, ExternalRef, InboundEvent, LinkRole, Parsed

VENDOR = "jira"
DELIVERY_HEADER = "x-atlassian-webhook-identifier"
#: Label the connector puts on Jira issues it creates: "hdc-ticket-<ticket id>".
TICKET_LABEL_PREFIX = "hdc-ticket-"
#: and on the post-mortem tasks it creates, beside the ticket's: "hdc-postmortem-<follow-up id>"
POSTMORTEM_LABEL_PREFIX = "hdc-postmortem-"
#: `issue_event_type_name` of a `jira:issue_updated` that reports a new comment (it carries `comment`).
ISSUE_COMMENTED = "issue_commented"

#: `comment.self` of a comment: `<base>/rest/api/<version>/issue/<issue id>/comment/<comment id>`.
_COMMENT_SELF = re.compile(r"/rest/api/[^/]+/issue/(\d+)/comment/\d+/?$")

# Very old payloads carry no `fieldId`; only these built-in fields are recognised by display name.
_BUILTIN_BY_NAME = frozenset({"status", "priority", "assignee", "summary", "labels"})

# An update that touches several fields takes the kind of the most significant one, in this order:
# status first (it starts, pauses and stops SLA clocks), then priority (it moves SLA targets), then
# assignee. Every change is listed in `detail` whatever the kind.
_KIND_BY_FIELD: tuple[tuple[str, EventKind], ...] = (
    ("status", EventKind.STATUS_CHANGED),
    ("priority", EventKind.PRIORITY_CHANGED),
    ("assignee", EventKind.ASSIGNMENT_CHANGED),
)


def browse_url(issue: Issue) -> str | None:
    """`https://site/rest/api/2/issue/10042` → `https://site/browse/SUP-42` (None if `self` is not a REST URL)."""
    if not issue.self_url:
        return None
    base, sep, _ = issue.self_url.partition("/rest/api/")
    if not sep or not base.startswith(("https://", "http://")):
        return None
    return f"{base}/browse/{issue.key}"


def issue_ref(issue: Issue) -> ExternalRef:
    return ExternalRef(VENDOR, "issue", issue.id, key=issue.key, url=browse_url(issue))


def ticket_hint(issue: Issue) -> str | None:
    """The connector ticket id from an `hdc-ticket-<id>` label, if the issue has one."""
    for label in issue.fields.labels:
        if label.startswith(TICKET_LABEL_PREFIX) and len(label) > len(TICKET_LABEL_PREFIX):
            return label[len(TICKET_LABEL_PREFIX) :]
    return None


def join_role(issue: Issue) -> LinkRole | None:
    """A post-mortem task the connector made joins its ticket as such, not as an engineering issue."""
    return LinkRole.POSTMORTEM if any(x.startswith(POSTMORTEM_LABEL_PREFIX) for x in issue.fields.labels) else None


def changed_field(item: ChangelogItem) -> str:
    """The field a changelog item changed: its `fieldId`, else a built-in name, else the display name."""
    if item.fieldId:
        return item.fieldId
    name = item.field.strip().lower()
    return name if name in _BUILTIN_BY_NAME else item.field


def update_kind(changed: Sequence[str]) -> EventKind:
    for field_id, kind in _KIND_BY_FIELD:
        if field_id in changed:
            return kind
    return EventKind.UPDATED


def user_id(user: JiraUser | None) -> str | None:
    """A user's id: `accountId` (Cloud), else `key`, else `name` (Server / Data Center)."""
    return user.id if user is not None else None


def _occurred_at(millis: int) -> datetime:
    return parse_time(millis, vendor=VENDOR, path="timestamp")


def _issue_event(
    payload: Any, event: IssueEvent, kind: EventKind, *, creates_ticket: bool, detail: Mapping[str, Any] | None = None
) -> InboundEvent:
    return InboundEvent(
        vendor=VENDOR,
        event_type=event.webhookEvent,
        kind=kind,
        shape="issue",
        object=issue_ref(event.issue),
        occurred_at=_occurred_at(event.timestamp),
        document=payload,
        actor=user_id(event.user),
        creates_ticket=creates_ticket,
        channel=Channel.JIRA,
        ticket_hint=ticket_hint(event.issue),
        join_role=join_role(event.issue),
        detail=detail or {},
    )


def _checked_issue(payload: Any, event_type: str) -> IssueEvent:
    return checked(IssueEvent, payload, vendor=VENDOR, event_type=event_type)


def on_issue_created(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    event = _checked_issue(payload, event_type)
    return (_issue_event(payload, event, EventKind.CREATED, creates_ticket=True),)


def on_issue_updated(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    """The update; and when it reports a new comment (`issue_commented`), that comment as well."""
    event = _checked_issue(payload, event_type)
    items = event.changelog.items if event.changelog is not None else []
    fields = [changed_field(i) for i in items]
    changes = [{"field": f, "from": i.fromString, "to": i.toString} for f, i in zip(fields, items, strict=True)]
    kind = update_kind(fields)
    update = _issue_event(payload, event, kind, creates_ticket=True, detail={"changes": changes})
    if event.issue_event_type_name != ISSUE_COMMENTED or event.comment is None:
        return (update,)
    # The same comment may also arrive as `comment_created`; the core dedupes comments by their id.
    commented = InboundEvent(
        vendor=VENDOR,
        event_type=event.webhookEvent,
        kind=EventKind.COMMENTED,
        shape="comment",
        object=issue_ref(event.issue),
        occurred_at=_occurred_at(event.timestamp),
        document=payload,
        comment=_comment(event.comment),
        actor=user_id(event.comment.author),
        creates_ticket=True,
        channel=Channel.JIRA,
        ticket_hint=ticket_hint(event.issue),
        join_role=join_role(event.issue),
    )
    return (update, commented)


def on_issue_deleted(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    event = _checked_issue(payload, event_type)
    return (_issue_event(payload, event, EventKind.DELETED, creates_ticket=False),)


def _comment(comment: JiraComment) -> Comment:
    public = comment.jsdPublic is not False
    return Comment(
        external_id=comment.id,
        body=comment.body,
        public=public,
        author_id=user_id(comment.author),
        author_name=comment.author.displayName if comment.author is not None else None,
        # Only agents can write internal JSM comments; a public one may come from either side.
        author_is_agent=True if not public else None,
        customer_visible=comment.jsdPublic,  # absent on a Jira Software issue: nobody said a customer sees it
    )


def _comment_actor(comment: JiraComment, kind: EventKind) -> str | None:
    if kind is EventKind.COMMENTED:
        return user_id(comment.author)
    if kind is EventKind.COMMENT_UPDATED:
        return user_id(comment.updateAuthor or comment.author)
    return None  # a deletion payload does not say who deleted the comment


def issue_id_of_comment(comment: JiraComment) -> str | None:
    """The issue id in a comment's `self` link (`.../rest/api/2/issue/10013/comment/10100` → `10013`)."""
    match = _COMMENT_SELF.search(comment.self_url or "")
    return match.group(1) if match else None


def _comment_event(payload: Any, event_type: str, kind: EventKind, *, creates_ticket: bool) -> InboundEvent:
    event = checked(CommentEvent, payload, vendor=VENDOR, event_type=event_type)
    actor = _comment_actor(event.comment, kind)
    if event.issue is not None:
        obj, hint = issue_ref(event.issue), ticket_hint(event.issue)
    else:
        # Jira Server / Data Center: no issue object; its id is in the comment's `self` link. The key
        # is unknown, and a browse link needs the key. Such an event cannot say which ticket an issue
        # it has never seen belongs to (no labels), so it opens none: the `jira:issue_updated`
        # (`issue_commented`) Server sends for the same comment carries the whole issue.
        issue_id = issue_id_of_comment(event.comment)
        if issue_id is None:
            raise PayloadError(
                "no issue object, and comment.self names no issue (.../rest/api/2/issue/<id>/comment/<id>)",
                path="issue",
                vendor=VENDOR,
                event_type=event_type,
            )
        obj, hint, creates_ticket = ExternalRef(VENDOR, "issue", issue_id), None, False
    return InboundEvent(
        vendor=VENDOR,
        event_type=event_type,
        kind=kind,
        shape="comment",
        object=obj,
        occurred_at=_occurred_at(event.timestamp),
        document=payload,
        comment=_comment(event.comment),
        actor=actor,
        creates_ticket=creates_ticket,
        channel=Channel.JIRA,
        ticket_hint=hint,
        join_role=join_role(event.issue) if event.issue is not None else None,
    )


def on_comment_created(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    return (_comment_event(payload, event_type, EventKind.COMMENTED, creates_ticket=True),)


def on_comment_updated(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    return (_comment_event(payload, event_type, EventKind.COMMENT_UPDATED, creates_ticket=True),)


def on_comment_deleted(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    # A deletion never opens a ticket, even on an issue the connector has not seen yet.
    return (_comment_event(payload, event_type, EventKind.COMMENT_DELETED, creates_ticket=False),)


HANDLERS: HandlerTable = MappingProxyType(
    {
        "jira:issue_created": on_issue_created,
        "jira:issue_updated": on_issue_updated,
        "jira:issue_deleted": on_issue_deleted,
        "comment_created": on_comment_created,
        "comment_updated": on_comment_updated,
        "comment_deleted": on_comment_deleted,
    }
)


class JiraAdapter:
    vendor: ClassVar[str] = VENDOR
    handlers: ClassVar[HandlerTable] = HANDLERS

    def sign(self, *, body: bytes, secret: str, now: datetime) -> dict[str, str]:
        return signature.sign(body=body, secret=secret, now=now)

    def signed_content(self, *, headers: Headers, body: bytes) -> bytes:
        return body  # the signature covers the body alone

    def verify(self, *, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
        signature.verify(headers=headers, body=body, secrets=secrets, now=now)

    def delivery_key(self, *, headers: Headers, payload: Any) -> str | None:
        value = header(headers, DELIVERY_HEADER)
        return value.strip() if value and value.strip() else None

    def event_type(self, *, headers: Headers, payload: Any) -> str:
        if not isinstance(payload, Mapping):
            raise PayloadError("a Jira webhook body is a JSON object", vendor=VENDOR)
        name = payload.get("webhookEvent")
        if not isinstance(name, str) or not name.strip():
            raise PayloadError("missing or empty event type", path="webhookEvent", vendor=VENDOR)
        return name

    def parse(self, *, headers: Headers, payload: Any) -> Parsed:
        return dispatch(self, headers=headers, payload=payload)
