"""The outbound contract: the canonical intents the connector sends (pages, notifications, linked
issues) and the `Sender` protocol an outbound adapter satisfies. `adapters/` imports this, as it
imports `connector.inbound`; the core hands intents to senders and never imports a vendor library."""

from __future__ import annotations

from connector.outbound.contract import Fetcher, RateLimit, Sender, Sent
from connector.outbound.intents import (
    CHANNELS,
    IntentKind,
    IssueComment,
    IssueTransition,
    LinkedIssueRequest,
    Notification,
    OutboundRequest,
    PageAction,
    PageRequest,
    PostmortemTask,
    TicketUpdate,
    WebLink,
    marked,
    marker,
    request_from_json,
)

__all__ = [
    "CHANNELS",
    "Fetcher",
    "IntentKind",
    "IssueComment",
    "IssueTransition",
    "LinkedIssueRequest",
    "Notification",
    "OutboundRequest",
    "PageAction",
    "PageRequest",
    "PostmortemTask",
    "RateLimit",
    "Sender",
    "Sent",
    "TicketUpdate",
    "WebLink",
    "marked",
    "marker",
    "request_from_json",
]
