"""The SLA engine's objects as JSON, and scenario events from JSON (simulate, the API, stored clocks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypedDict, cast

from connector.errors import PayloadError
from connector.inbound import parse_time
from connector.policy import Policy, format_duration
from connector.sla.engine import Clock, Fire, SlaEvent, SlaEventType, iso_utc


class ClockJson(TypedDict):
    """A clock as the API shows it and `sla_clocks.data` stores it; `clock_data` reads it back."""

    metric: str
    cycle: int
    target: str
    target_seconds: float
    maximum: str | None
    time: str
    calendar: str | None
    started_at: str | None
    due_at: str | None
    paused_seconds: float
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
    due = clock.due_at()
    return {
        "metric": clock.metric,
        "cycle": clock.cycle,
        "target": format_duration(clock.target_delta),
        "target_seconds": clock.target_seconds,
        "maximum": format_duration(clock.target.maximum) if clock.target.maximum else None,
        "time": clock.target.time or policy.sla.defaults.time,
        "calendar": clock.target.calendar,
        "started_at": iso_utc(clock.started_at),
        "due_at": iso_utc(due),
        "paused_seconds": round(
            clock.paused_seconds
            + ((at - clock.paused_since).total_seconds() if clock.paused_since and clock.open else 0.0),
            3,
        ),
        "counted_seconds": round(clock.counted(at if clock.open else (clock.met_at or at)), 3),
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


def events_from(items: Iterable[dict[str, Any]]) -> list[SlaEvent]:
    """Scenario events (`{"at", "type", ...}`) → SlaEvents; raises ValueError naming the bad item."""
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "at" not in item or "type" not in item:
            raise ValueError(f"events[{i}]: an event is an object with 'at' and 'type'")
        try:
            at = parse_time(item["at"], vendor="scenario", path=f"events[{i}].at")
        except PayloadError as exc:
            raise ValueError(f"events[{i}].at: {exc.message}") from exc
        try:
            kind = SlaEventType(item["type"])
        except ValueError:
            raise ValueError(f"events[{i}].type: unknown event type {item['type']!r}") from None
        value = item.get("value") or item.get(item["type"]) or item.get("status")
        out.append(
            SlaEvent(
                at=at,
                type=kind,
                author=item.get("author"),
                author_is_agent=item.get("author_is_agent"),
                public=item.get("public"),
                value=value,
                tags=tuple(item.get("tags") or ()),
            )
        )
    return out
