"""The canonical model every part of the connector speaks: tickets, inbound events, the mapping
contract. Imports nothing of the connector but `errors`."""

from __future__ import annotations

from connector.model.events import Comment, EventKind, ExternalRef, InboundEvent, Parsed
from connector.model.mapping import FieldMapping, MappedFields, MappingEngine, MappingNote
from connector.model.sync import IssueField, JiraComments, Owner, SyncRules, TicketChange
from connector.model.ticket import (
    JOIN_ROLE,
    SLA_FIELDS,
    TERMINAL,
    TICKET_FIELDS,
    Channel,
    LinkRole,
    Status,
)

__all__ = [
    "JOIN_ROLE",
    "SLA_FIELDS",
    "TERMINAL",
    "TICKET_FIELDS",
    "Channel",
    "Comment",
    "EventKind",
    "ExternalRef",
    "FieldMapping",
    "InboundEvent",
    "IssueField",
    "JiraComments",
    "LinkRole",
    "MappedFields",
    "MappingEngine",
    "MappingNote",
    "Owner",
    "Parsed",
    "Status",
    "SyncRules",
    "TicketChange",
]
