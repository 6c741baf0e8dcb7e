"""Tickets: applying canonical events to stored tickets, the typed timeline, and reading tickets
back. Imports the model and the store."""

from __future__ import annotations

from connector.tickets.apply import Applied, apply_event, find_link, set_field
from connector.tickets.queries import TicketPage, get_ticket, list_tickets, ticket_json

__all__ = [
    "Applied",
    "TicketPage",
    "apply_event",
    "find_link",
    "set_field",
    "get_ticket",
    "list_tickets",
    "ticket_json",
]
