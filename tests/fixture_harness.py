"""The one fixture harness for every vendor (as Zulip's integration tests read).

A case is `tests/fixtures/<vendor>/<event>[__variant].json`, a body as the vendor sends it, beside
`<same>.expected.json`: the adapter's canonical output *before any mapping* (`event_type`, `ignored`,
`events`), or `error_path` for a body the adapter must refuse, plus optional `headers` sent with it.
What the shipped default mapping makes of a case's events lives apart, in
`tests/fixtures/mappings/<vendor>/<case>.json`, owned by the mapping tests.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adapters import build_adapters
from connector.model import InboundEvent, Parsed

FIXTURES = Path(__file__).parent / "fixtures"
MAPPED = FIXTURES / "mappings"
VENDORS = ("zendesk", "jira", "pagerduty")
ADAPTERS = build_adapters(zendesk_timestamp_tolerance=300)


@dataclass(frozen=True)
class Case:
    vendor: str
    name: str

    @property
    def body_path(self) -> Path:
        return FIXTURES / self.vendor / f"{self.name}.json"

    @property
    def expected_path(self) -> Path:
        return FIXTURES / self.vendor / f"{self.name}.expected.json"

    @property
    def mapped_path(self) -> Path:
        return MAPPED / self.vendor / f"{self.name}.json"

    def payload(self) -> Any:
        return json.loads(self.body_path.read_bytes())

    def expected(self) -> dict[str, Any]:
        return json.loads(self.expected_path.read_text(encoding="utf-8"))

    def headers(self) -> dict[str, str]:
        return dict(self.expected().get("headers", {}))

    def parse(self) -> Parsed:
        return ADAPTERS[self.vendor].parse(headers=self.headers(), payload=self.payload())

    def __str__(self) -> str:
        return f"{self.vendor}/{self.name}"


def cases(vendor: str | None = None) -> list[Case]:
    """Every fixture body of `vendor` (or of all vendors), by name."""
    out = []
    for v in [vendor] if vendor else VENDORS:
        out += [
            Case(v, p.name.removesuffix(".json"))
            for p in sorted((FIXTURES / v).glob("*.json"))
            if not p.name.endswith(".expected.json")
        ]
    return out


def mapped_cases() -> list[Case]:
    return [Case(p.parent.name, p.name.removesuffix(".json")) for p in sorted(MAPPED.glob("*/*.json"))]


def render(parsed: Parsed) -> dict[str, Any]:
    """A parse result as the `.expected.json` files write it."""
    return {
        "event_type": parsed.event_type,
        "ignored": parsed.ignored,
        "events": [render_event(e) for e in parsed.events],
    }


def render_event(e: InboundEvent) -> dict[str, Any]:
    return {
        "kind": e.kind.value,
        "shape": e.shape,
        "object": asdict(e.object),
        "occurred_at": e.occurred_at.isoformat().replace("+00:00", "Z"),
        "creates_ticket": e.creates_ticket,
        "channel": e.channel.value if e.channel else None,
        "ticket_hint": e.ticket_hint,
        "actor": e.actor,
        "detail": dict(e.detail),
        "comment": asdict(e.comment) if e.comment else None,
    }
