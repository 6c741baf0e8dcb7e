"""Typed views of what Zendesk sends: the event envelope (one model per `event` body) and the
flat trigger/automation body the admin writes from placeholders.

Ticket events (`zen:event-type:ticket.*`) and messaging events (`zen:event-type:messaging_ticket.*`)
share the envelope; a messaging event's `detail` carries only the ticket `id`.

Only the fields the adapter reads are declared; everything else stays in the raw payload, which is
what the field mapping reads. IDs arrive as strings (an integer is accepted and kept as text).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

TICKET_SUBJECT = r"^zen:ticket:\d+$"


def _id_of(value: Any) -> Any:
    """An id given as a scalar or as a reference object `{"id": ...}` reads as the id."""
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


def _text(value: Any) -> Any:
    """Placeholders render as text, but an unquoted `{{...}}` arrives as a JSON number or bool."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Ref = Annotated[str | None, BeforeValidator(_id_of)]
Text = Annotated[str | None, BeforeValidator(_text)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)


class Via(_Model):
    channel: str | None = None


class TicketDetail(_Model):
    """The envelope's `detail`: the ticket after the change (messaging events: only its `id`)."""

    id: str = Field(pattern=r"^\d+$")
    actor_id: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    organization_id: str | None = None
    requester_id: str | None = None
    status: str | None = None
    priority: str | None = None
    type: str | None = None
    subject: str | None = None
    tags: list[str] = Field(default_factory=list)
    via: Via | None = None


E = TypeVar("E")


class TicketEnvelope(_Model):
    """A `zen:event-type:ticket.*` or `zen:event-type:messaging_ticket.*` delivery, without its
    `event` body. Both name the ticket in `subject` (`zen:ticket:<id>`) and `detail.id`."""

    type: str
    id: str = Field(min_length=1)
    time: str
    subject: str = Field(pattern=TICKET_SUBJECT)
    account_id: int | None = None
    zendesk_event_version: str | None = None
    detail: TicketDetail


class EventEnvelope(TicketEnvelope, Generic[E]):
    """A ticket delivery whose `event` body is typed per event type."""

    event: E


class Change(_Model):
    """`{current, previous}`: a scalar, or a reference object whose `id` is taken."""

    current: Ref = None
    previous: Ref = None


class Author(_Model):
    id: str | None = None
    name: str | None = None
    is_staff: bool | None = None


class CommentBody(_Model):
    id: str = Field(min_length=1)
    body: str
    is_public: bool
    author: Author | None = None


class CommentAdded(_Model):
    comment: CommentBody


class CommentRef(_Model):
    """The comment of `comment_made_private` and `comment_redacted`: its id, and what else the
    payload says of it (the redacted text, its visibility, its author)."""

    id: str = Field(min_length=1)
    body: str | None = None
    is_public: bool | None = None
    author: Author | None = None


class CommentChanged(_Model):
    comment: CommentRef


class MessagingActor(_Model):
    """Who added a message: `type` is `end_user`, `agent`, `trigger` or `system` (a bot such as
    `zd:answerBot`)."""

    id: str | None = None
    name: str | None = None
    type: str | None = None


class Message(_Model):
    id: str = Field(min_length=1)
    body: str = ""  # a message that only carries a file may have no text


class MessageAdded(_Model):
    """`zen:event-type:messaging_ticket.message_added`: a message on a messaging (chat) ticket."""

    actor: MessagingActor | None = None
    conversation_id: str | None = None
    message: Message


class TagsChanged(_Model):
    tags_added: list[str] = Field(default_factory=list)
    tags_removed: list[str] = Field(default_factory=list)


class CustomField(_Model):
    id: str = Field(min_length=1)
    title: str | None = None
    type: str | None = None


class CustomFieldChanged(_Model):
    custom_field: CustomField
    current: Any = None  # text, number, bool, or a list for multi-select fields
    previous: Any = None


class Merged(_Model):
    target_ticket_id: str = Field(min_length=1)


class TriggerBody(_Model):
    """The recommended trigger/automation body (see mappings/defaults/zendesk.yaml).

    Every key but `ticket_id` is optional: the admin decides what the body carries.
    """

    ticket_id: str = Field(pattern=r"^\s*\d+\s*$")
    event: Text = None
    updated_at: Text = None
    url: Text = None
    via: Text = None
    latest_comment: Text = None
    latest_comment_public: Text = None
    latest_comment_author: Text = None
