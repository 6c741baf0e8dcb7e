"""Every adapter keeps the same contract (`connector.inbound.Adapter`), checked by running it:
every fixture parses (or is refused with a PayloadError naming a field), sign → verify round-trips,
a forged or tampered delivery is refused, an unknown event type is ignored rather than an error, the
handler table is the one declared way, every shape it emits has a default mapping, and the README
lists every event it handles."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from connector.errors import PayloadError, SignatureError
from connector.inbound import Adapter
from mappings import default_document
from tests.fixture_harness import ADAPTERS, VENDORS, Case, cases

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
SECRET = "contract-secret-current"


def test_every_vendor_has_an_adapter() -> None:
    assert sorted(ADAPTERS) == sorted(VENDORS)


@pytest.mark.parametrize("vendor", VENDORS)
def test_conforms_to_the_protocol(vendor: str) -> None:
    adapter = ADAPTERS[vendor]
    assert isinstance(adapter, Adapter)
    assert adapter.vendor == vendor
    # one way to declare handlers: a read-only table, event type → handler(event_type, payload, headers)
    assert isinstance(type(adapter).handlers, MappingProxyType) and adapter.handlers
    for event_type, handler in adapter.handlers.items():
        params = list(inspect.signature(handler).parameters)
        assert params == ["event_type", "payload", "headers"], f"{vendor} {event_type}: {params}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_sign_then_verify_round_trips(vendor: str) -> None:
    adapter = ADAPTERS[vendor]
    body = cases(vendor)[0].body_path.read_bytes()
    headers = adapter.sign(body=body, secret=SECRET, now=NOW)
    adapter.verify(headers=headers, body=body, secrets=["retired-secret", SECRET], now=NOW + timedelta(seconds=5))
    with pytest.raises(SignatureError):
        adapter.verify(headers=headers, body=body + b" ", secrets=[SECRET], now=NOW)
    with pytest.raises(SignatureError):
        adapter.verify(headers=headers, body=body, secrets=["another-secret"], now=NOW)
    with pytest.raises(SignatureError):
        adapter.verify(headers={}, body=body, secrets=[SECRET], now=NOW)


@pytest.mark.parametrize("case", cases(), ids=str)
def test_every_fixture_parses_through_the_contract(case: Case) -> None:
    adapter = ADAPTERS[case.vendor]
    headers, payload = case.headers(), case.payload()
    before = json.dumps(payload, sort_keys=True)
    try:
        parsed = adapter.parse(headers=headers, payload=payload)
    except PayloadError as refused:
        assert "error_path" in case.expected(), f"{case} refused: {refused}"
        assert refused.vendor == case.vendor
        return
    assert json.dumps(payload, sort_keys=True) == before, "an adapter never changes the payload"
    assert parsed.event_type == adapter.event_type(headers=headers, payload=payload)
    assert parsed.ignored == (parsed.event_type not in adapter.handlers)
    assert parsed.ignored or parsed.events
    shapes = set(default_document(case.vendor).shapes)
    for event in parsed.events:
        assert event.vendor == case.vendor and event.object.vendor == case.vendor
        assert event.event_type == parsed.event_type
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert event.document is payload
        assert event.shape in shapes, f"{case}: no default mapping for shape {event.shape!r}"
    key = adapter.delivery_key(headers=headers, payload=payload)
    assert key is None or (isinstance(key, str) and key.strip() == key and key)


@pytest.mark.parametrize("vendor", VENDORS)
def test_unknown_event_types_are_ignored_not_errors(vendor: str) -> None:
    ignored = [c for c in cases(vendor) if c.expected().get("ignored")]
    assert ignored, f"{vendor} needs a fixture of an event type it does not handle"
    for case in ignored:
        parsed = case.parse()
        assert parsed.ignored and parsed.events == () and parsed.event_type not in ADAPTERS[vendor].handlers


@pytest.mark.parametrize("vendor", VENDORS)
def test_readme_lists_every_handled_event(vendor: str) -> None:
    for event_type in ADAPTERS[vendor].handlers:
        short = event_type.removeprefix("zen:event-type:ticket.")
        assert f"`{short}`" in README or f"`{event_type}`" in README, f"README misses {event_type}"
