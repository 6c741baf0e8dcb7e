"""Escalation routing: the policy's triggers → raise level, reassign, page, notify, create a linked
issue, require a post-mortem. `engine` is pure (signals in, decisions out: live processing, `simulate`
and the tests share it); `live` applies decisions to stored tickets and writes their intents to the
outbox (`requests` builds them, `repeats` finds repeat-issue clusters, `impact` counts the users a
problem's linked incidents affect); `state` is the ticket as the
triggers read it; `followups` tracks what is owed; `simulate` is the dry run. May import the model,
the policy, the store, tickets, SLA and the outbox."""

from __future__ import annotations

from connector.escalation.carry import Acting
from connector.escalation.engine import decide
from connector.escalation.impact import linked_impact
from connector.escalation.live import fire_signals, react, settle, settle_many, signals_of
from connector.escalation.signals import (
    ActionKind,
    Changed,
    Decision,
    FollowupMissed,
    Opened,
    Outcome,
    RepeatSeen,
    Signal,
    SlaFired,
    TextAdded,
)
from connector.escalation.state import TicketState, escalation_path, path_position

__all__ = [
    "Acting",
    "ActionKind",
    "Changed",
    "Decision",
    "FollowupMissed",
    "Opened",
    "Outcome",
    "RepeatSeen",
    "Signal",
    "SlaFired",
    "TextAdded",
    "TicketState",
    "decide",
    "escalation_path",
    "fire_signals",
    "linked_impact",
    "path_position",
    "react",
    "settle",
    "settle_many",
    "signals_of",
]
