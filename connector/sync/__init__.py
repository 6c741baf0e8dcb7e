"""Sync back to the tools: comments and status both ways between a Zendesk ticket and its linked
Jira issue, PagerDuty notes and resolves onto the ticket, the Jira key on the ticket once its issue
is made — all as outbox intents, with echo-loop detection. Imports the model, the outbound contract,
the store, tickets and the outbox."""

from __future__ import annotations

from connector.sync.engine import ECHO_WINDOW, Rules, Syncing, links_of, may_sync, react
from connector.sync.links import linked_issue_sent

__all__ = ["ECHO_WINDOW", "Rules", "Syncing", "linked_issue_sent", "links_of", "may_sync", "react"]
