"""Dry run: "what happens if this ticket arrives now". Touches no real ticket.

Scenario (JSON):
    {"policy": "<preset> | <path: the CLI only> | {inline policy document} | <inline YAML text>",
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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.errors import ConnectorError, json_kind
from connector.policy import Policy, load_policy, load_policy_document, preset_names
from connector.sla.engine import Evaluation, evaluate, iso_utc
from connector.sla.events import FireKind, SlaEvent
from connector.sla.serialize import clock_json, events_from, fire_json, scenario_time

#: fire kinds shown as actions: all of them
ACTIONS = frozenset(FireKind)
#: the ticket attributes a scenario may set (the engine reads the first eight, `text` gives a severity hint)
TICKET_KEYS = ("severity", "customer_tier", "tier", "category", "channel", "level", "support_level", "status", "text")
#: scenario times lie in [EARLIEST, LATEST): clocks are counted over real calendars (holidays, DST),
#: and a year far from today is a typo — one near the ends of what a datetime holds would overflow
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class ScenarioError(ConnectorError):
    """A scenario that cannot be simulated; the message names the offending key."""


@dataclass
class Scenario:
    """A checked scenario: its policy, the ticket's starting attributes, its SLA events and its end."""

    policy: Policy
    ticket: dict[str, Any]
    events: list[SlaEvent]
    until: datetime
    raw_events: list[Any]  # as given (other engines read their own keys: a reply's text, a rating)


def simulate(
    scenario: Mapping[str, Any], *, default_policy: str | Policy | None = None, allow_files: bool = True
) -> dict[str, Any]:
    """Run a scenario's SLA clocks.

    `allow_files` says whether the scenario's `policy` may name a policy file on this machine: yes for
    the CLI (the operator's own files), no for a request over HTTP, where `policy` is a preset name or
    an inline document (an object, or YAML text) and nothing the scenario says touches the filesystem.
    `default_policy`, used when the scenario names none, is the caller's (a Policy, a preset or a file).
    """
    sc = parse_scenario(scenario, default_policy=default_policy, allow_files=allow_files)
    return clocks_result(sc, run_clocks(sc))


def parse_scenario(
    scenario: Mapping[str, Any],
    *,
    default_policy: str | Policy | None = None,
    allow_files: bool = True,
    skip: Collection[str] = (),
) -> Scenario:
    """Check a scenario (see `simulate`); events of the types in `skip` are left to the caller."""
    if not isinstance(scenario, Mapping):
        raise ScenarioError("a scenario is a JSON object with 'policy', 'ticket', 'events' and 'until'")
    if "policy" in scenario:
        policy = _scenario_policy(scenario["policy"], allow_files=allow_files)
    else:
        policy = _default_policy(default_policy)
    ticket_attrs = _ticket(scenario.get("ticket"))
    events_raw = scenario.get("events")
    if not isinstance(events_raw, list) or not events_raw:
        raise ScenarioError('events: a non-empty list, starting with {"at": ..., "type": "created"}')
    try:
        events = events_from(events_raw, skip=skip)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc
    for i, event in enumerate(events):
        _in_range(event.at, f"events[{i}].at")
    if "until" in scenario:
        try:
            until = scenario_time(scenario["until"], "until")
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc
        _in_range(until, "until")
    elif events:
        until = max(e.at for e in events)
    else:
        raise ScenarioError('events: a non-empty list, starting with {"at": ..., "type": "created"}')
    if ticket_attrs.get("severity") is None and ticket_attrs.get("text"):
        ticket_attrs["severity"] = policy.severity_hint(str(ticket_attrs["text"]))
    return Scenario(policy=policy, ticket=ticket_attrs, events=events, until=until, raw_events=list(events_raw))


def run_clocks(sc: Scenario, extra: Sequence[SlaEvent] = ()) -> Evaluation:
    """The clocks of a scenario, with `extra` events (another engine's effects) among its own."""
    try:
        return evaluate(sc.policy, ticket=sc.ticket, events=[*sc.events, *extra], until=sc.until)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc


def clocks_result(sc: Scenario, result: Evaluation) -> dict[str, Any]:
    return {
        "policy": sc.policy.name,
        "until": sc.until.isoformat().replace("+00:00", "Z"),
        "clocks": [clock_json(c, sc.policy, at=sc.until) for c in result.clocks],
        "actions": [fire_json(f) for f in result.fires if f.kind in ACTIONS],
    }


def _scenario_policy(ref: Any, *, allow_files: bool) -> Policy:
    if ref is None:
        what = (
            "a preset name, a file path or an inline policy document"
            if allow_files
            else (f"a preset name ({', '.join(preset_names())}) or an inline policy document (an object, or YAML text)")
        )
        raise ScenarioError(f"policy: give {what}")
    if allow_files:
        return load_policy(ref)
    return load_policy_document(ref)


def _default_policy(ref: str | Policy | None) -> Policy:
    if isinstance(ref, Policy):
        return ref
    if ref is None:
        raise ScenarioError("policy: give a preset name, a file path or an inline policy document")
    return load_policy(ref)


def _ticket(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ScenarioError('ticket: an object such as {"severity": "P1", "customer_tier": "enterprise"}')
    for key in TICKET_KEYS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ScenarioError(f"ticket.{key}: text or null; got {json_kind(value)}")
    return dict(raw)


def _in_range(at: datetime, where: str) -> None:
    if not EARLIEST <= at < LATEST:
        raise ScenarioError(f"{where}: {iso_utc(at)} is outside {EARLIEST.year}–{LATEST.year - 1}")
