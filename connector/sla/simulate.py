"""Dry run: "what happens if this ticket arrives now". Touches no real ticket.

Scenario (JSON):
    {"policy": "<preset> | <path> | {inline policy document}",
     "ticket": {"severity": "P1", "customer_tier": "enterprise", "category": "technical", "channel": "email"},
     "events": [{"at": "2026-03-06T17:30:00-05:00", "type": "created"},
                {"at": "...", "type": "public_reply", "author": "agent"},
                {"at": "...", "type": "status", "status": "waiting_on_customer"},
                {"at": "...", "type": "severity", "severity": "P0"},
                {"at": "...", "type": "resolved"}],
     "until": "2026-03-10T00:00:00Z"}

Event types: created, public_reply, internal_note, reply (with "public"), status, severity, tier,
category, channel, level, resolved, reopened, escalated, paged, acknowledged, assigned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.errors import ConnectorError, PayloadError
from connector.inbound import parse_time
from connector.policy import Policy, load_policy
from connector.sla.engine import evaluate
from connector.sla.events import FireKind
from connector.sla.serialize import clock_json, events_from, fire_json

#: fire kinds shown as actions: all of them
ACTIONS = frozenset(FireKind)


class ScenarioError(ConnectorError):
    """A scenario that cannot be simulated; the message names the offending key."""


def simulate(scenario: Mapping[str, Any], *, default_policy: str | Policy | None = None) -> dict[str, Any]:
    if not isinstance(scenario, Mapping):
        raise ScenarioError("a scenario is a JSON object with 'policy', 'ticket', 'events' and 'until'")
    policy = _policy(scenario.get("policy", default_policy))
    ticket = scenario.get("ticket") or {}
    if not isinstance(ticket, Mapping):
        raise ScenarioError('ticket: an object such as {"severity": "P1", "customer_tier": "enterprise"}')
    events_raw = scenario.get("events")
    if not isinstance(events_raw, list) or not events_raw:
        raise ScenarioError('events: a non-empty list, starting with {"at": ..., "type": "created"}')
    try:
        events = events_from(events_raw)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc
    if "until" in scenario:
        try:
            until = parse_time(scenario["until"], vendor="scenario", path="until")
        except PayloadError as exc:
            raise ScenarioError(exc.message) from exc
    else:
        until = max(e.at for e in events)
    ticket_attrs = dict(ticket)
    if ticket_attrs.get("severity") is None and ticket_attrs.get("text"):
        ticket_attrs["severity"] = policy.severity_hint(str(ticket_attrs["text"]))
    try:
        result = evaluate(policy, ticket=ticket_attrs, events=events, until=until)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc
    return {
        "policy": policy.name,
        "until": until.isoformat().replace("+00:00", "Z"),
        "clocks": [clock_json(c, policy, at=until) for c in result.clocks],
        "actions": [fire_json(f) for f in result.fires if f.kind in ACTIONS],
    }


def _policy(ref: Any) -> Policy:
    if isinstance(ref, Policy):
        return ref
    if ref is None:
        raise ScenarioError("policy: give a preset name, a file path or an inline policy document")
    return load_policy(ref)
