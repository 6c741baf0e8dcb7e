"""Dry run of a scenario through the SLA clocks *and* the escalation engine: the clocks, warnings and
breaches, and every escalation, page and notification they would cause, with the rule behind each —
nothing stored, nothing sent. `connector simulate` and `POST /api/simulate` answer with this.

The scenario is the SLA dry run's (`connector.sla.simulate`), with what the escalation engine reads:
- `ticket` may give `title` (or `subject`), `description`, `customer_id`, `impact_users`, `csat`;
- a reply (`public_reply`, `internal_note`, `reply`) may carry `"text"` (keywords are read from it;
  `author: customer` makes it the customer's);
- events of the escalation engine's own: `{"type": "csat", "value": 3}`, `{"type": "users_affected",
  "value": 12}`, `{"type": "repeat_issue", "count": 3}` (this is the customer's 3rd ticket of its
  category within the window), `{"type": "followup_overdue", "followup": "postmortem"}`.

The engines feed each other as they do live: a decision that raises the level or sets the category
changes which SLA targets apply, and a page starts the clocks that start on a page; the clocks are
evaluated again with those effects until nothing changes (a few rounds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from connector.errors import json_kind
from connector.escalation.engine import decide
from connector.escalation.signals import (
    ActionKind,
    Changed,
    Decision,
    FollowupMissed,
    Key,
    Opened,
    Outcome,
    RepeatSeen,
    Signal,
    SlaFired,
    TextAdded,
)
from connector.escalation.state import TicketState
from connector.policy import Policy, RepeatIssueTrigger, format_duration
from connector.sla.engine import Evaluation, iso_utc
from connector.sla.events import FireKind, SlaEvent, SlaEventType, rank
from connector.sla.serialize import scenario_time
from connector.sla.simulate import Scenario, ScenarioError, clocks_result, parse_scenario, run_clocks

#: scenario event types only the escalation engine reads
OWN_EVENTS = ("csat", "users_affected", "repeat_issue", "followup_overdue")
MAX_ROUNDS = 5
_FIRES = frozenset({FireKind.WARNING, FireKind.BREACH, FireKind.MAXIMUM_BREACH, FireKind.OVERDUE, FireKind.MET})
_FIELD_OF = {
    SlaEventType.SEVERITY: "severity",
    SlaEventType.TIER: "customer_tier",
    SlaEventType.CATEGORY: "category",
    SlaEventType.LEVEL: "support_level",
}


@dataclass(frozen=True)
class _Item:
    """One thing that happens in the scenario, in time order: an SLA event, a fire, or one of ours."""

    at: datetime
    order: int  # among items of one instant: events as the SLA engine orders them, then fires
    event: SlaEvent | None = None
    fire: SlaFired | None = None
    own: Mapping[str, Any] | None = None
    text: str | None = None


def simulate(
    scenario: Mapping[str, Any], *, default_policy: str | Policy | None = None, allow_files: bool = True
) -> dict[str, Any]:
    """The SLA dry run's answer plus `escalations`, `pages`, `notifications` and `postmortems`."""
    sc = parse_scenario(scenario, default_policy=default_policy, allow_files=allow_files, skip=OWN_EVENTS)
    own = _own_events(sc)
    texts = _texts(sc)
    induced: list[SlaEvent] = []
    for _ in range(MAX_ROUNDS):
        clocks = run_clocks(sc, induced)
        decisions, effects = _replay(sc, clocks, own, texts)
        if effects == induced:
            break
        induced = effects
    out = clocks_result(sc, clocks)
    out["escalations"] = [_decision_json(d) for d in decisions]
    out["pages"] = [_page_json(d) for d in decisions if d.action in _PAGE_ACTIONS and d.outcome is not Outcome.SKIPPED]
    out["notifications"] = [
        {**_decision_json(d), "due_at": iso_utc(d.due_at)}
        for d in decisions
        if d.action is ActionKind.NOTIFY and d.outcome is not Outcome.SKIPPED
    ]
    out["postmortems"] = _postmortems(sc, decisions)
    return out


_PAGE_ACTIONS = (ActionKind.PAGE, ActionKind.PAGE_ACKNOWLEDGE, ActionKind.PAGE_RESOLVE)


def _replay(
    sc: Scenario, clocks: Evaluation, own: list[_Item], texts: dict[int, str]
) -> tuple[list[Decision], list[SlaEvent]]:
    policy = sc.policy
    items = _stream(sc, clocks, own, texts)
    state = TicketState.of(policy, sc.ticket)
    done: set[Key] = set()
    decisions: list[Decision] = []
    effects: list[SlaEvent] = []
    for item in items:
        state, signals = _signals(policy, state, item)
        for signal in signals:
            state, taken = decide(policy, state, signal, done=done)
            for d in taken:
                done.add(d.key)
                decisions.append(d)
                effects += _effects(d)
    return decisions, effects


def _stream(sc: Scenario, clocks: Evaluation, own: list[_Item], texts: dict[int, str]) -> list[_Item]:
    ending = {"resolved", "closed"} | {s for m in sc.policy.metrics for s in sc.policy.paused_statuses(m.id)}
    items = [
        _Item(at=e.at, order=rank(e, ending=ending), event=e, text=texts.get(i))
        for i, e in enumerate(sc.events)
        if e.at <= sc.until
    ]
    if not any(e.type is SlaEventType.CREATED for e in sc.events):
        first = min([e.at for e in sc.events] or [sc.until])
        items.append(_Item(at=first, order=0, event=SlaEvent(at=first, type=SlaEventType.CREATED)))
    created = min(i.at for i in items if i.event is not None and i.event.type is SlaEventType.CREATED)
    items = [i if i.at >= created else _Item(created, i.order, i.event, i.fire, i.own, i.text) for i in items]
    for f in clocks.fires:
        if f.kind in _FIRES:
            fired = SlaFired(at=f.at, kind=f.kind, metric=f.metric, cycle=f.cycle, label=f.label)
            items.append(_Item(at=f.at, order=5, fire=fired))
    items += [i for i in own if i.at <= sc.until]
    return sorted(items, key=lambda i: (i.at, i.order))


def _signals(policy: Policy, state: TicketState, item: _Item) -> tuple[TicketState, list[Signal]]:
    """The state after an item and the signals it gives the engine."""
    at = item.at
    if item.fire is not None:
        return state, [item.fire]
    if item.own is not None:
        return _own_signals(policy, state, item)
    ev = item.event
    assert ev is not None
    t = ev.type
    if t is SlaEventType.CREATED:
        status = ev.value or state.status
        state = replace(state, status=status)
        signals: list[Signal] = [Opened(at)]
        signals += [TextAdded(at, "subject", state.subject)] if state.subject else []
        signals += [TextAdded(at, "description", state.description)] if state.description else []
        return state, signals
    if t in _FIELD_OF and ev.value is not None:
        name = _FIELD_OF[t]
        fields = {
            "severity": state.severity,
            "customer_tier": state.tier,
            "category": state.category,
            "support_level": state.level,
            name: ev.value,
        }
        fresh = TicketState.of(policy, fields)
        state = replace(
            state,
            severity=fresh.severity,
            tier=fresh.tier,
            category=fresh.category,
            category_given=state.category_given or name == "category",
            level=fresh.level,
        )
        return state, [Changed(at, frozenset({name}))]
    if t in (SlaEventType.STATUS, SlaEventType.RESOLVED, SlaEventType.REOPENED):
        new = ev.value if t is SlaEventType.STATUS else ("resolved" if t is SlaEventType.RESOLVED else "open")
        if new is None or new == state.status:
            return state, []
        return replace(state, status=new), [Changed(at, frozenset({"status"}))]
    if t in (SlaEventType.REPLY, SlaEventType.PUBLIC_REPLY, SlaEventType.INTERNAL_NOTE) and item.text:
        public = ev.public if ev.public is not None else t is not SlaEventType.INTERNAL_NOTE
        agent = ev.author_is_agent if ev.author_is_agent is not None else ev.author != "customer"
        source = "internal_notes" if not public else ("agent_comments" if agent else "customer_comments")
        return state, [TextAdded(at, source, item.text)]  # type: ignore[arg-type]  # a TextSource
    return state, []


def _own_signals(policy: Policy, state: TicketState, item: _Item) -> tuple[TicketState, list[Signal]]:
    own = item.own or {}
    at = item.at
    kind = own["type"]
    if kind == "csat":
        return replace(state, csat=float(own["value"])), [Changed(at, frozenset({"csat"}))]
    if kind == "users_affected":
        state = replace(state, impact_users=int(own["value"]))
        return state, [Changed(at, frozenset({"impact_users"}))]
    if kind == "repeat_issue":
        out: list[Signal] = []
        for t in policy.triggers:
            if isinstance(t, RepeatIssueTrigger) and int(own.get("count") or t.count) >= t.count:
                window = t.window or policy.escalation.repeat_window
                customer = state.customer or "the customer"
                category = state.category or "its category"
                cluster = f"{customer}/{category}#1"
                out.append(RepeatSeen(at, t.id, cluster, customer, category, int(own.get("count") or t.count), window))
        return state, out
    followup = str(own.get("followup") or "notify")
    return state, [
        FollowupMissed(at, key=f"scenario-{at.isoformat()}", kind=followup, target=own.get("target"), due_at=at)
    ]


def _effects(d: Decision) -> list[SlaEvent]:
    """What a decision changes for the clocks: a level or category (targets), a page (clocks that start on it)."""
    out = []
    for name, kind in (("support_level", SlaEventType.LEVEL), ("category", SlaEventType.CATEGORY)):
        if name in d.changes and d.changes[name][1] is not None:
            out.append(SlaEvent(at=d.at, type=kind, value=d.changes[name][1]))
    if d.action is ActionKind.PAGE and d.outcome is Outcome.QUEUED:
        out.append(SlaEvent(at=d.at, type=SlaEventType.PAGED))
    return out


def _own_events(sc: Scenario) -> list[_Item]:
    out = []
    for i, raw in enumerate(sc.raw_events):
        if not isinstance(raw, dict) or raw.get("type") not in OWN_EVENTS:
            continue
        where = f"events[{i}]"
        try:
            at = scenario_time(raw.get("at"), f"{where}.at")
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc
        kind = raw["type"]
        if kind in ("csat", "users_affected"):
            value = raw.get("value")
            wanted = (int, float) if kind == "csat" else (int,)
            if isinstance(value, bool) or not isinstance(value, wanted) or value < 0:
                raise ScenarioError(f"{where}.value: a number, 0 or more; got {json_kind(value)}")
        if kind == "repeat_issue" and raw.get("count") is not None:
            count = raw["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ScenarioError(f"{where}.count: a whole number, 1 or more; got {json_kind(count)}")
        if kind == "followup_overdue" and raw.get("followup") not in (None, "notify", "postmortem"):
            raise ScenarioError(f"{where}.followup: notify or postmortem")
        out.append(_Item(at=at, order=4, own=raw))
    return out


def _texts(sc: Scenario) -> dict[int, str]:
    """The `text` of each SLA event (by its index among them), where the scenario gives one."""
    out: dict[int, str] = {}
    index = 0
    for i, raw in enumerate(sc.raw_events):
        if isinstance(raw, dict) and raw.get("type") in OWN_EVENTS:
            continue
        if isinstance(raw, dict) and raw.get("text") is not None:
            if not isinstance(raw["text"], str):
                raise ScenarioError(f"events[{i}].text: text; got {json_kind(raw['text'])}")
            out[index] = raw["text"]
        index += 1
    return out


def _decision_json(d: Decision) -> dict[str, Any]:
    return {
        "at": iso_utc(d.at),
        "rule": d.trigger_id,
        "event": d.event,
        "action": d.action.value,
        "target": d.target,
        "outcome": d.outcome.value,
        "reason": d.reason,
        "changes": {k: list(v) for k, v in d.changes.items()},
        "within": None if d.within is None else format_duration(d.within),
        **({"params": dict(d.params)} if d.params else {}),
    }


def _page_json(d: Decision) -> dict[str, Any]:
    action = {ActionKind.PAGE: "trigger", ActionKind.PAGE_ACKNOWLEDGE: "acknowledge"}.get(d.action, "resolve")
    return {
        "at": iso_utc(d.at),
        "event_action": action,
        "target": d.target,
        "dedup_key": f"hdc-ticket-<id>/{d.target}",
        "rule": d.trigger_id,
        "reason": d.reason,
    }


def _postmortems(sc: Scenario, decisions: list[Decision]) -> list[dict[str, Any]]:
    resolved = _resolved_at(sc)
    out = []
    for d in decisions:
        if d.action is not ActionKind.REQUIRE_POSTMORTEM:
            continue
        within = d.within or sc.policy.escalation.postmortem_within
        due = resolved + within if resolved is not None else None
        out.append(
            {
                **_decision_json(d),
                "due_at": iso_utc(due),
                "due": f"{format_duration(within)} after the ticket resolves"
                + ("" if resolved else " (not resolved in this scenario)"),
                "overdue": due is not None and due < sc.until,
            }
        )
    return out


def _resolved_at(sc: Scenario) -> datetime | None:
    resolved = None
    for e in sorted(sc.events, key=lambda e: e.at):
        if e.at > sc.until:
            break
        if e.type is SlaEventType.RESOLVED or (e.type is SlaEventType.STATUS and e.value in ("resolved", "closed")):
            resolved = resolved or e.at
        elif e.type is SlaEventType.REOPENED or (
            e.type is SlaEventType.STATUS and e.value not in ("resolved", "closed")
        ):
            resolved = None
    return resolved


__all__ = ["OWN_EVENTS", "simulate"]
