"""The SLA engine's objects as JSON, and scenario events from JSON (simulate, the API, stored clocks)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, TypedDict, cast

from connector.errors import PayloadError, json_kind
from connector.inbound import parse_time
from connector.policy import Policy, format_duration
from connector.sla.clock import Clock
from connector.sla.engine import iso_utc
from connector.sla.events import Fire, SlaEvent, SlaEventType


class ClockJson(TypedDict):
    """A clock as the API shows it and `sla_clocks.data` stores it; `clock_data` reads it back.

    `started_at` is when the clock began to count (the next opening, for a ticket created at night)
    and `start_event_at` the event that started it (the creation, the first response...).
    `paused_seconds` is wall-clock time spent paused; `paused_counted_seconds` the part of it the
    clock's calendar would have counted (the business time the pauses saved). `counted_seconds` is
    the time the clock has counted towards its target."""

    metric: str
    cycle: int
    target: str
    target_seconds: float
    maximum: str | None
    time: str
    calendar: str | None
    at_due: str
    start_event_at: str | None
    started_at: str | None
    due_at: str | None
    paused_seconds: float
    paused_counted_seconds: float
    counted_seconds: float
    state: str
    met_at: str | None
    breached_at: str | None
    maximum_breached_at: str | None
    warnings: list[str]


def clock_data(data: Mapping[str, Any] | None) -> ClockJson | None:
    """A stored clock's JSON as the type `clock_json` wrote (None for a row that has none)."""
    return cast(ClockJson, dict(data)) if data else None


def clock_json(clock: Clock, policy: Policy, *, at: datetime) -> ClockJson:
    """A clock a target has applied to (`Evaluation.clocks`); a cancelled one shows its last target."""
    target = clock.target or clock.last_target
    if target is None or target.target is None:
        raise ValueError(f"{clock.metric} #{clock.cycle}: no target has applied to this clock")
    due = clock.due_at()
    end = at if clock.counting else (clock.met_at or clock.stopped_at or at)
    return {
        "metric": clock.metric,
        "cycle": clock.cycle,
        "target": format_duration(target.target),
        "target_seconds": target.target.total_seconds(),
        "maximum": format_duration(target.maximum) if target.maximum else None,
        "time": target.time or policy.sla.defaults.time,
        "calendar": target.calendar,
        "at_due": clock.at_due(policy.sla.defaults),
        "start_event_at": iso_utc(clock.started_at),
        "started_at": iso_utc(clock.counting_since()),
        "due_at": iso_utc(due),
        "paused_seconds": round(clock.paused_seconds(end), 3),
        "paused_counted_seconds": round(clock.paused_counted_seconds(end), 3),
        "counted_seconds": round(clock.counted(end), 3),
        "state": clock.state.value,
        "met_at": iso_utc(clock.met_at),
        "breached_at": iso_utc(clock.breached_at),
        "maximum_breached_at": iso_utc(clock.maximum_breached_at),
        "warnings": [
            f"{label} at {iso_utc(when)}"
            for label, when in clock.fired.items()
            if label not in ("breach", "maximum breach")
        ],
    }


def fire_json(fire: Fire) -> dict[str, Any]:
    return {
        "at": iso_utc(fire.at),
        "kind": fire.kind.value,
        "metric": fire.metric,
        "cycle": fire.cycle,
        "label": fire.label,
        "detail": fire.detail,
    }


def events_from(items: Iterable[Any], *, skip: Collection[str] = ()) -> list[SlaEvent]:
    """Scenario events (`{"at", "type", ...}`) → SlaEvents; raises ValueError naming the bad item and key.
    Items whose type is in `skip` are another engine's (a CSAT rating, users affected): left out."""
    out = []
    for i, item in enumerate(items):
        where = f"events[{i}]"
        if not isinstance(item, dict) or "at" not in item or "type" not in item:
            raise ValueError(f"{where}: an event is an object with 'at' and 'type'")
        if isinstance(item["type"], str) and item["type"] in skip:
            continue
        at = scenario_time(item["at"], f"{where}.at")
        kind = _event_type(item["type"], where)
        value = None
        for key in dict.fromkeys(("value", kind.value, "status")):  # the first that is set gives the value
            given = _optional(item, key, str, "text", where)
            value = value or given
        tags = item.get("tags")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise ValueError(f"{where}.tags: a list of strings")
        out.append(
            SlaEvent(
                at=at,
                type=kind,
                author=_optional(item, "author", str, "text ('agent', 'customer' or a name)", where),
                author_is_agent=_optional(item, "author_is_agent", bool, "true or false", where),
                public=_optional(item, "public", bool, "true or false", where),
                value=value,
                tags=tuple(tags or ()),
            )
        )
    return out


def scenario_time(value: Any, where: str) -> datetime:
    """A scenario's time: ISO 8601 text (`2026-03-06T17:30:00-05:00`; naive is UTC); ValueError naming `where`."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: ISO 8601 text such as 2026-03-06T17:30:00Z; got {json_kind(value)}")
    try:
        return parse_time(value, vendor="scenario", path=where)
    except PayloadError as exc:
        raise ValueError(exc.message) from exc


_EVENT_TYPES = ", ".join(t.value for t in SlaEventType)


def _event_type(raw: Any, where: str) -> SlaEventType:
    if not isinstance(raw, str):
        raise ValueError(f"{where}.type: one of {_EVENT_TYPES}; got {json_kind(raw)}")
    try:
        return SlaEventType(raw)
    except ValueError:
        shown = raw if len(raw) <= 40 else f"{raw[:40]}…"
        raise ValueError(f"{where}.type: unknown event type {shown!r} (one of {_EVENT_TYPES})") from None


def _optional(item: Mapping[str, Any], key: str, kind: type[Any], what: str, where: str) -> Any:
    """`item[key]` when it is a `kind` (None when absent or null); ValueError naming the key otherwise."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{where}.{key}: {what}; got {json_kind(value)}")
    return value
