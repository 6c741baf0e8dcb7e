from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.jira import JiraAdapter
from adapters.jira.inbound import browse_url
from adapters.jira.payloads import Issue
from connector.errors import PayloadError, SignatureError

FIXTURES = Path(__file__).parent / "fixtures" / "jira"
PAYLOADS = sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith(".expected.json"))
PARSEABLE = [p for p in PAYLOADS if not p.name.startswith("invalid__")]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BODY = (FIXTURES / "comment_created.json").read_bytes()

adapter = JiraAdapter()


def _sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: p.stem)
def test_event_document_is_the_unmodified_payload(path: Path) -> None:
    payload = json.loads(path.read_bytes())
    before = copy.deepcopy(payload)
    parsed = adapter.parse(headers={}, payload=payload)
    assert all(event.document is payload for event in parsed.events)
    assert payload == before


# --- event type, unknown events, malformed bodies ------------------------------------------------


def test_unknown_event_type_is_ignored_with_a_reason() -> None:
    parsed = adapter.parse(headers={}, payload={"timestamp": 1772442927512, "webhookEvent": "sprint_started"})
    assert parsed.ignored and parsed.events == ()
    assert "sprint_started" in (parsed.ignored_reason or "")


def test_event_type_is_the_webhook_event() -> None:
    assert adapter.event_type(headers={}, payload={"webhookEvent": "comment_updated"}) == "comment_updated"


@pytest.mark.parametrize("payload", [[], "jira:issue_created", None], ids=["list", "string", "null"])
def test_a_body_that_is_not_an_object_is_a_payload_error(payload: Any) -> None:
    with pytest.raises(PayloadError):
        adapter.event_type(headers={}, payload=payload)


@pytest.mark.parametrize("value", ["", "  ", 42, None])
def test_an_empty_or_non_text_event_type_names_the_field(value: Any) -> None:
    with pytest.raises(PayloadError) as err:
        adapter.event_type(headers={}, payload={"webhookEvent": value})
    assert err.value.path == "webhookEvent"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_type=st.sampled_from(sorted(JiraAdapter.handlers)),
    body=st.dictionaries(st.sampled_from(["timestamp", "issue", "comment", "changelog", "user"]), json_values),
)
def test_a_garbled_payload_is_a_payload_error_or_parses(event_type: str, body: dict[str, Any]) -> None:
    payload = {**body, "webhookEvent": event_type}
    try:
        adapter.parse(headers={}, payload=payload)
    except PayloadError as err:
        assert err.vendor == "jira" and err.event_type == event_type


# --- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("self_url", "url"),
    [
        (
            "https://acme-support.atlassian.net/rest/api/2/issue/10042",
            "https://acme-support.atlassian.net/browse/SUP-42",
        ),
        (
            "https://acme-support.atlassian.net/rest/api/3/issue/10042",
            "https://acme-support.atlassian.net/browse/SUP-42",
        ),
        ("https://jira.example.org/jira/rest/api/2/issue/10042", "https://jira.example.org/jira/browse/SUP-42"),
        ("issue/10042", None),
        (None, None),
    ],
)
def test_browse_url_is_derived_from_the_issue_self_link(self_url: str | None, url: str | None) -> None:
    issue = Issue.model_validate({"id": "10042", "key": "SUP-42", "self": self_url, "fields": {}})
    assert browse_url(issue) == url


# --- delivery key --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x-atlassian-webhook-identifier", "X-Atlassian-Webhook-Identifier"])
def test_delivery_key_is_the_webhook_identifier_header(name: str) -> None:
    headers = {name: "6ba7b810-9dad-41d1-80b4-00c04fd430c8", "x-atlassian-webhook-retry": "2"}
    assert adapter.delivery_key(headers=headers, payload={}) == "6ba7b810-9dad-41d1-80b4-00c04fd430c8"


@pytest.mark.parametrize("headers", [{}, {"x-atlassian-webhook-identifier": " "}], ids=["absent", "blank"])
def test_delivery_key_is_none_without_the_header(headers: dict[str, str]) -> None:
    assert adapter.delivery_key(headers=headers, payload={"webhookEvent": "comment_created"}) is None


# --- signatures ----------------------------------------------------------------------------------


def _verify(headers: dict[str, str], body: bytes = BODY, secrets: list[str] | None = None) -> None:
    adapter.verify(headers=headers, body=body, secrets=["s3cret-current"] if secrets is None else secrets, now=NOW)


def test_valid_signature_is_accepted() -> None:
    _verify({"X-Hub-Signature": _sign(BODY, "s3cret-current")})


def test_signature_header_name_is_case_insensitive() -> None:
    _verify({"x-hub-signature": _sign(BODY, "s3cret-current")})


def test_uppercase_hex_digest_is_accepted() -> None:
    signed = _sign(BODY, "s3cret-current")
    _verify({"X-Hub-Signature": "sha256=" + signed.removeprefix("sha256=").upper()})


def test_wrong_secret_is_rejected_without_revealing_secrets() -> None:
    with pytest.raises(SignatureError, match="does not match any active secret") as err:
        _verify({"X-Hub-Signature": _sign(BODY, "someone-else")})
    assert "s3cret-current" not in str(err.value) and "someone-else" not in str(err.value)


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(SignatureError):
        _verify({"X-Hub-Signature": _sign(BODY, "s3cret-current")}, body=BODY.replace(b"10233", b"10234"))


def test_missing_signature_header_is_rejected() -> None:
    with pytest.raises(SignatureError, match="missing X-Hub-Signature header"):
        _verify({"x-atlassian-webhook-identifier": "6ba7b810-9dad-41d1-80b4-00c04fd430c8"})


@pytest.mark.parametrize("signing", ["s3cret-old", "s3cret-new"])
def test_any_active_secret_is_accepted_during_rotation(signing: str) -> None:
    _verify({"X-Hub-Signature": _sign(BODY, signing)}, secrets=["s3cret-old", "s3cret-new"])


def test_a_retired_secret_is_rejected_after_rotation() -> None:
    with pytest.raises(SignatureError):
        _verify({"X-Hub-Signature": _sign(BODY, "s3cret-old")}, secrets=["s3cret-new"])


def test_no_configured_secret_is_rejected() -> None:
    with pytest.raises(SignatureError):
        _verify({"X-Hub-Signature": _sign(BODY, "")}, secrets=[])


def test_sha1_signatures_are_not_accepted() -> None:
    sha1 = "sha1=" + hmac.new(b"s3cret-current", BODY, hashlib.sha1).hexdigest()
    with pytest.raises(SignatureError, match="unsupported"):
        _verify({"X-Hub-Signature": sha1})


@pytest.mark.parametrize("value", ["sha256=not-hex-at-all", "6f1c2a", "sha256="], ids=["not-hex", "no-method", "empty"])
def test_malformed_signature_header_is_rejected(value: str) -> None:
    with pytest.raises(SignatureError):
        _verify({"X-Hub-Signature": value})
