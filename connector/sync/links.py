"""After Jira made a ticket's linked issue or post-mortem task: link it to the ticket at once (not when
Jira's webhook happens to arrive) and tell the Zendesk ticket — for an engineering issue its key, as
a tag and/or a custom field as the Zendesk mapping's `sync` says, with an internal note linking to
it; for a post-mortem task a note, and the task becomes the post-mortem's link. Runs in the
transaction that records the intent as sent, so it happens once."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.model import LinkRole
from connector.outbound import LinkedIssueRequest, PostmortemTask, Sent, TicketUpdate, marker, request_from_json
from connector.store.tables import Escalation, Followup, Link, OutboxItem
from connector.sync.engine import Syncing, load_ticket, record_intent
from connector.tickets import find_link, timeline
from connector.tickets.timeline import Linked

log = logging.getLogger(__name__)


def linked_issue_sent(s: Session, item: OutboxItem, sent: Sent, syncing: Syncing) -> None:
    """`create_linked_issue` was sent: Jira answered with the issue (`sent.response`: id, key, url)."""
    request = request_from_json(item.intent, item.payload)
    response = sent.response or {}
    key, issue_id = response.get("key"), response.get("id")
    if not isinstance(request, LinkedIssueRequest) or item.ticket_id is None or not key or not issue_id:
        return
    ticket_id, instance, url = item.ticket_id, request.instance, response.get("url")
    postmortem = isinstance(request, PostmortemTask)
    role = LinkRole.POSTMORTEM if postmortem else LinkRole.ENGINEERING
    link = find_link(s, vendor="jira", instance=instance, object_type="issue", external_id=str(issue_id))
    if link is None:
        try:
            with s.begin_nested():  # Jira's webhook about the new issue may link it a moment before us
                s.add(
                    Link(
                        ticket_id=ticket_id,
                        vendor="jira",
                        instance=instance,
                        object_type="issue",
                        external_id=str(issue_id),
                        key=str(key),
                        url=url,
                        role=role.value,
                    )
                )
        except IntegrityError:
            link = find_link(s, vendor="jira", instance=instance, object_type="issue", external_id=str(issue_id))
        else:
            # in the ticket's own time: when the escalation that asked for the issue happened (the SLA
            # clocks read this record; a wall-clock time would move a story about the past to now)
            decided = s.get(Escalation, item.escalation_id) if item.escalation_id is not None else None
            timeline.write(
                s,
                ticket_id=ticket_id,
                at=decided.at if decided is not None else item.created_at,
                record=Linked(role=role, url=url),
                source=f"connector/outbox/{item.channel}",
                summary=f"jira issue {key} linked ({role.value})",
                dedupe_key=f"linked:jira/{instance}/{issue_id}",
            )
    if link is not None and link.ticket_id != ticket_id:
        log.warning("the new Jira issue is linked to another ticket", extra={"ticket_id": ticket_id})
        return
    if link is not None and link.role != role.value:  # joined by its label before Jira answered
        link.role = role.value
    if isinstance(request, PostmortemTask):
        _postmortem_linked(s, request, str(key), url)
        return
    t = load_ticket(s, ticket_id)
    if t is None or t.zendesk is None:
        return
    rules = syncing.rules(s, "zendesk", t.zendesk.instance)
    tags = (rules.jira_key_tag.replace("{key}", str(key)).lower(),) if rules.jira_key_tag else ()
    fields = {rules.jira_key_field: str(key)} if rules.jira_key_field else {}
    mark = f"jira-{instance}-{issue_id}-linked"
    update = TicketUpdate(
        ticket_id=ticket_id,
        external_id=t.zendesk.external_id,
        instance=t.zendesk.instance,
        comment=f"Escalated to engineering: Jira issue {key}" + (f" {url}" if url else ""),
        public=False,
        tags=tags,
        custom_fields=fields,
        marker=marker(mark),
        why=f"the linked Jira issue {key} was created",
    )
    record_intent(s, update, f"sync:jira-key:{ticket_id}:{instance}/{key}", syncing)


def _postmortem_linked(s: Session, request: PostmortemTask, key: str, url: str | None) -> None:
    """The post-mortem owed now has its task: its link (`GET /api/followups`) is the task's."""
    owed = s.get(Followup, request.followup_id)
    if owed is not None and owed.url is None and url:
        owed.url = url
        owed.note = owed.note or f"Jira task {key}"
