from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.pagerduty import PagerDutyAdapter
from adapters.pagerduty.inbound import ticket_hint_from_key
from adapters.pagerduty.signature import MAX_ENTRIES, SIGNATURE_HEADER
from adapters.pagerduty.signature import sign as sign_headers
from connector.errors import PayloadError, SignatureError

FIXTURES = Path(__file__).parent / "fixtures" / "pagerduty"
PAYLOADS = sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith(".expected.json"))
"""Fixture bodies; the shared harness (tests/test_fixtures.py) checks what each one parses to."""
NOW = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)
SECRET = "whsec-northwind-7c1f0b9e4d2a4f7f9d3b8e6a5c2f1e0d"
OLD_SECRET = "whsec-northwind-2b8e5d1c0a9f4e3d8c7b6a5f4e3d2c1b"

adapter = PagerDutyAdapter()


def _name(path: Path) -> str:
    return path.name.removesuffix(".json")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def sign(body: bytes, secret: str) -> str:
    """One `v1=<hex>` entry, as PagerDuty writes it per signing secret."""
    return sign_headers(body=body, secret=secret, now=NOW)[SIGNATURE_HEADER]


def _body(name: str = "incident.triggered") -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def _verify(body: bytes, signature: str | None, secrets: list[str]) -> None:
    headers = {} if signature is None else {"X-PagerDuty-Signature": signature}
    adapter.verify(headers=headers, body=body, secrets=secrets, now=NOW)


def test_fixture_names_match_their_event_type() -> None:
    named = [p for p in PAYLOADS if not _name(p).startswith("invalid__")]
    wrong = [p.name for p in named if _load(p)["event"]["event_type"] != _name(p).split("__")[0]]
    assert wrong == []


def test_document_is_the_payload_itself_and_is_not_mutated() -> None:
    payload = _load(FIXTURES / "incident.resolved__merged.json")
    before = copy.deepcopy(payload)
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.document is payload
    assert payload == before


def test_unknown_event_type_is_ignored_not_an_error() -> None:
    payload = {"event": {"id": "01HS0A", "event_type": "incident.workflow.started", "data": {}}}
    parsed = adapter.parse(headers={}, payload=payload)
    assert parsed.ignored and parsed.events == ()
    assert "incident.workflow.started" in (parsed.ignored_reason or "")


def test_a_body_that_is_not_an_object_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        adapter.parse(headers={}, payload=[{"event": {"event_type": "incident.triggered"}}])


# --- v1/v2 webhooks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["invalid__v1_webhook", "invalid__v2_webhook"])
def test_a_v1_or_v2_webhook_is_refused_with_how_to_move_to_v3(name: str) -> None:
    payload = _load(FIXTURES / f"{name}.json")
    for call in (adapter.event_type, adapter.parse):
        with pytest.raises(PayloadError) as info:
            call(headers={}, payload=payload)
        assert info.value.path == "messages" and info.value.vendor == "pagerduty"
        assert "v1/v2 webhooks are not supported" in info.value.message
        assert "Integrations → Generic Webhooks (v3)" in info.value.message


def test_a_v3_body_is_read_whatever_else_it_carries() -> None:
    payload = _load(FIXTURES / "incident.triggered.json") | {"messages": []}
    assert adapter.event_type(headers={}, payload=payload) == "incident.triggered"


def test_an_incident_moved_to_another_service_is_a_reassignment_naming_the_service() -> None:
    payload = _load(FIXTURES / "incident.service_updated.json")
    payload["event"]["data"]["priority"] = None
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.detail == {
        "field": "service",
        "to": "Payments Database",
        "service_id": "PK9M3TQ",
        "escalation_policy": "Database Reliability",
    }


# --- ticket hint -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incident_key", "hint"),
    [
        ("hdc-ticket-1187", "1187"),
        ("hdc-ticket-1187/eng_oncall", "1187"),  # the connector's dedup key: ticket and paged target
        ("hdc-ticket-1187/", None),
        ("hdc-ticket-1187/on call", None),
        ("hdc-ticket-7f3a9c2e-41b8", "7f3a9c2e-41b8"),
        ("hdc-ticket-", None),
        ("hdc-ticket-1187 retry", None),
        ("x-hdc-ticket-1187", None),
        ("5f2c1d7e9a4b4c63b0e2d8f1a7c93e40", None),
        (None, None),
    ],
)
def test_ticket_hint_from_incident_key(incident_key: str | None, hint: str | None) -> None:
    assert ticket_hint_from_key(incident_key) == hint


# --- delivery key ----------------------------------------------------------------------------------


def test_delivery_key_is_the_event_id() -> None:
    payload = _load(FIXTURES / "incident.triggered.json")
    headers = {"X-Webhook-Id": "b7a9d2c4-0f1e-4c55-9a8b-3d6e2f1a0c9d"}
    assert adapter.delivery_key(headers=headers, payload=payload) == "01HRZ3T6QK8W2N4B7D9F1GXJ5M"


def test_delivery_key_falls_back_to_the_webhook_id_header() -> None:
    payload = {"event": {"event_type": "incident.triggered"}}
    headers = {"x-webhook-id": "b7a9d2c4-0f1e-4c55-9a8b-3d6e2f1a0c9d"}
    assert adapter.delivery_key(headers=headers, payload=payload) == "b7a9d2c4-0f1e-4c55-9a8b-3d6e2f1a0c9d"


@pytest.mark.parametrize("payload", [{"event": {"id": ""}}, {"messages": []}, ["not", "an", "object"]])
def test_delivery_key_is_none_without_event_id_or_header(payload: Any) -> None:
    assert adapter.delivery_key(headers={}, payload=payload) is None


# --- signatures --------------------------------------------------------------------------------------


def test_valid_signature_is_accepted() -> None:
    _verify(_body(), sign(_body(), SECRET), [SECRET])


def test_signature_header_name_is_case_insensitive() -> None:
    adapter.verify(headers={"x-pagerduty-signature": sign(_body(), SECRET)}, body=_body(), secrets=[SECRET], now=NOW)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureError, match="does not match any active secret"):
        _verify(_body(), sign(_body(), OLD_SECRET), [SECRET])


def test_tampered_body_is_rejected() -> None:
    tampered = _body().replace(b'"urgency": "high"', b'"urgency": "low"')
    assert tampered != _body()
    with pytest.raises(SignatureError, match="does not match"):
        _verify(tampered, sign(_body(), SECRET), [SECRET])


@pytest.mark.parametrize("value", [None, "", "  "])
def test_missing_signature_header_is_rejected(value: str | None) -> None:
    with pytest.raises(SignatureError, match="missing X-PagerDuty-Signature header"):
        _verify(_body(), value, [SECRET])


def test_no_active_secret_is_rejected() -> None:
    with pytest.raises(SignatureError, match="no active webhook secret"):
        _verify(_body(), sign(_body(), SECRET), [])


def test_an_empty_secret_never_counts_as_active() -> None:
    with pytest.raises(SignatureError, match="no active webhook secret"):
        _verify(_body(), sign(_body(), ""), [""])


def test_header_with_several_signatures_is_accepted_when_one_matches() -> None:
    header = f"{sign(_body(), OLD_SECRET)},{sign(_body(), SECRET)}"
    _verify(_body(), header, [SECRET])


def test_several_active_secrets_accept_either_during_rotation() -> None:
    _verify(_body(), sign(_body(), OLD_SECRET), [SECRET, OLD_SECRET])
    _verify(_body(), sign(_body(), SECRET), [SECRET, OLD_SECRET])


def test_unknown_signature_versions_are_skipped() -> None:
    digest = sign(_body(), SECRET).removeprefix("v1=")
    _verify(_body(), f"v2=ffff, v1={digest}", [SECRET])


def test_unknown_version_only_is_rejected() -> None:
    digest = sign(_body(), SECRET).removeprefix("v1=")
    with pytest.raises(SignatureError, match="no well-formed v1 signature"):
        _verify(_body(), f"v2={digest}", [SECRET])


@pytest.mark.parametrize("value", ["v1=not-hex-at-all", "v1=abcd", "sha256=00ff"])
def test_malformed_signature_is_rejected(value: str) -> None:
    with pytest.raises(SignatureError, match="no well-formed v1 signature"):
        _verify(_body(), value, [SECRET])


def test_too_many_signatures_are_rejected() -> None:
    header = ",".join([sign(_body(), OLD_SECRET)] * MAX_ENTRIES + [sign(_body(), SECRET)])
    with pytest.raises(SignatureError, match="at most"):
        _verify(_body(), header, [SECRET])


def test_signature_errors_never_reveal_a_secret() -> None:
    with pytest.raises(SignatureError) as err:
        _verify(_body(), sign(_body(), OLD_SECRET), [SECRET])
    assert SECRET not in str(err.value) and OLD_SECRET not in str(err.value)
