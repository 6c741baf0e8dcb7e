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
from adapters.jira.inbound import browse_url, issue_id_of_comment, user_id
from adapters.jira.payloads import Issue, JiraComment, JiraUser
from connector.errors import PayloadError, SignatureError
from connector.model import EventKind
from mappings import apply, default_document

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


# --- Jira Server / Data Center ------------------------------------------------------------------


def _load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"accountId": "5f8a3c2e9b1d4e0069a7c3d1", "displayName": "Tomasz Wójcik"}, "5f8a3c2e9b1d4e0069a7c3d1"),
        (
            {"accountId": "5f8a3c2e9b1d4e0069a7c3d1", "key": "JIRAUSER10207", "name": "mkowalski"},
            "5f8a3c2e9b1d4e0069a7c3d1",
        ),
        ({"key": "JIRAUSER10207", "name": "mkowalski"}, "JIRAUSER10207"),  # key survives a rename
        ({"name": "mkowalski", "displayName": "Marta Kowalski"}, "mkowalski"),
        ({"accountId": " ", "key": "", "name": "mkowalski"}, "mkowalski"),
        ({"displayName": "Former user"}, None),
    ],
)
def test_a_user_is_identified_by_account_id_else_key_else_name(user: dict[str, str], expected: str | None) -> None:
    assert user_id(JiraUser.model_validate(user)) == expected


@pytest.mark.parametrize(
    ("self_url", "issue_id"),
    [
        ("https://jira.example.org/rest/api/2/issue/10013/comment/10100", "10013"),
        ("https://intranet.example.org/jira/rest/api/2/issue/10013/comment/10100", "10013"),
        ("https://acme-support.atlassian.net/rest/api/3/issue/10042/comment/10233", "10042"),
        ("https://jira.example.org/rest/api/2/issue/SUP-7/comment/10100", None),  # a key, not an id
        ("https://jira.example.org/rest/api/2/issue/10013", None),
        (None, None),
    ],
)
def test_the_issue_id_of_a_comment_is_read_from_its_self_link(self_url: str | None, issue_id: str | None) -> None:
    comment = JiraComment.model_validate({"id": "10100", "self": self_url})
    assert issue_id_of_comment(comment) == issue_id


@pytest.mark.parametrize("event_type", ["comment_updated", "comment_deleted"])
def test_a_server_comment_event_without_issue_joins_only_a_linked_issue(event_type: str) -> None:
    payload = _load("comment_created__server") | {"webhookEvent": event_type}
    payload["comment"] = payload["comment"] | {
        "updateAuthor": {"name": "abergstrom", "key": "JIRAUSER10115", "displayName": "Anna Bergström"}
    }
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert (event.object.external_id, event.object.key, event.object.url) == ("10013", None, None)
    assert event.creates_ticket is False and event.ticket_hint is None
    # the editor of an updated comment acts; a deletion does not say who deleted
    assert event.actor == ("JIRAUSER10115" if event_type == "comment_updated" else None)
    assert event.comment is not None and event.comment.author_id == "JIRAUSER10207"


def test_a_cloud_comment_event_still_opens_a_ticket() -> None:
    (event,) = adapter.parse(headers={}, payload=_load("comment_created")).events
    assert event.creates_ticket is True and event.object.key == "SUP-42"


def test_an_issue_commented_update_without_a_comment_is_the_update_alone() -> None:
    payload = _load("jira_issue_updated__commented")
    del payload["comment"]
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.kind is EventKind.UPDATED and event.comment is None


def test_a_comment_on_another_kind_of_update_is_not_posted_again() -> None:
    payload = _load("jira_issue_updated__server_commented") | {"issue_event_type_name": "issue_comment_edited"}
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.kind is EventKind.UPDATED


ASSIGNED = {"accountId": "712020:5c1e4b6a", "key": "JIRAUSER10207", "name": "mkowalski", "displayName": "Marta"}


@pytest.mark.parametrize(
    ("assignee", "mapped"),
    [
        (ASSIGNED, {"assignee": "712020:5c1e4b6a"}),
        ({k: v for k, v in ASSIGNED.items() if k != "accountId"}, {"assignee": "JIRAUSER10207"}),
        ({"name": "mkowalski", "displayName": "Marta"}, {"assignee": "mkowalski"}),
        ({"displayName": "Marta"}, {}),  # no id at all: says nothing, clears nothing
        (None, {"assignee": None}),  # unassigned in Jira
    ],
    ids=["cloud", "server", "old-server", "no-id", "unassigned"],
)
@pytest.mark.parametrize("shape", ["issue", "comment"])
def test_default_mapping_clears_the_assignee_only_when_jira_says_unassigned(
    assignee: dict[str, str] | None, mapped: dict[str, str | None], shape: str
) -> None:
    document = {"issue": {"id": "10013", "key": "SUP-7", "fields": {"assignee": assignee}}}
    fields = apply(default_document("jira"), shape, document).fields
    assert {k: v for k, v in fields.items() if k == "assignee"} == mapped


def test_default_mapping_leaves_the_assignee_alone_when_the_payload_has_no_issue() -> None:
    fields = apply(default_document("jira"), "comment", _load("comment_created__server")).fields
    assert "assignee" not in fields


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("Blocker", "P0"), ("Critical", "P1"), ("Major", "P2"), ("Minor", "P3"), ("Trivial", "P3"), ("Highest", "P0")],
)
def test_default_mapping_reads_the_classic_priority_scheme(priority: str, severity: str) -> None:
    document = {"issue": {"id": "10013", "key": "SUP-7", "fields": {"priority": {"id": "2", "name": priority}}}}
    assert apply(default_document("jira"), "issue", document).fields["severity"] == severity


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
