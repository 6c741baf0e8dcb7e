"""Zendesk adapter: what its fixtures cannot show (the shared harness runs them): trigger bodies,
signing with timestamp tolerance, dedupe keys."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.zendesk import ZendeskAdapter
from adapters.zendesk.inbound import AGENT_BY_ACTOR_TYPE
from adapters.zendesk.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_of
from connector.errors import PayloadError, SignatureError
from connector.model import Channel, EventKind

FIXTURES = Path(__file__).parent / "fixtures" / "zendesk"
BODIES = sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith(".expected.json"))

SECRET = "dGhpc2lzbm90YXJlYWxzZWNyZXQtemVuZGVzaw"
OLD_SECRET = "b2xkLXNlY3JldC1zdGlsbC1hY3RpdmUtZm9yLXJvdGF0aW9u"
SIGNED_AT = "2025-03-11T09:15:03Z"
NOW = datetime(2025, 3, 11, 9, 15, 5, tzinfo=UTC)
BODY = (FIXTURES / "status_changed.json").read_bytes()


def signed_headers(body: bytes, *, secret: str = SECRET, at: str = SIGNED_AT) -> dict[str, str]:
    return {SIGNATURE_HEADER: signature_of(body=body, secret=secret, timestamp=at), TIMESTAMP_HEADER: at}


@pytest.fixture
def adapter() -> ZendeskAdapter:
    return ZendeskAdapter(tolerance_seconds=300)


def test_event_document_is_the_payload_itself_and_left_unchanged(adapter: ZendeskAdapter) -> None:
    payload = json.loads((FIXTURES / "comment_added.json").read_bytes())
    before = copy.deepcopy(payload)
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.document is payload
    assert payload == before


def test_unknown_event_type_is_ignored_not_an_error(adapter: ZendeskAdapter) -> None:
    payload = json.loads((FIXTURES / "created.json").read_bytes())
    payload["type"] = "zen:event-type:ticket.followers_changed"
    parsed = adapter.parse(headers={}, payload=payload)
    assert parsed.ignored and parsed.events == ()
    assert parsed.event_type == "zen:event-type:ticket.followers_changed"


def test_payload_that_is_not_an_object_is_a_payload_error(adapter: ZendeskAdapter) -> None:
    with pytest.raises(PayloadError):
        adapter.event_type(headers={}, payload=["zen:event-type:ticket.created"])


def test_trigger_body_with_a_ticket_type_key_is_still_a_trigger(adapter: ZendeskAdapter) -> None:
    payload = {"ticket_id": "48213", "type": "Incident", "updated_at": "2025-03-11T09:15Z"}
    assert adapter.event_type(headers={}, payload=payload) == "trigger"


def test_unquoted_trigger_placeholders_are_read_as_text(adapter: ZendeskAdapter) -> None:
    payload = {
        "ticket_id": 48213,
        "event": "commented",
        "latest_comment": "Fixed in 4.2.1",
        "latest_comment_public": True,
        "updated_at": "2025-03-11T09:15Z",
    }
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert (event.object.external_id, event.comment and event.comment.public) == ("48213", True)


def test_assignment_given_as_a_reference_object_reads_its_id(adapter: ZendeskAdapter) -> None:
    payload = json.loads((FIXTURES / "agent_assignment_changed.json").read_bytes())
    payload["event"] |= {"current": {"id": "21730391226513"}, "previous": {"id": None}}
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.detail == {"field": "assignee_id", "from": None, "to": "21730391226513"}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"event": "commented", "latest_comment": ""}, "latest_comment"),
        ({"event": "commented", "latest_comment_public": "maybe"}, "latest_comment_public"),
        ({"ticket_id": "{{ticket.id}}"}, "ticket_id"),
    ],
)
def test_malformed_trigger_body_names_the_key(adapter: ZendeskAdapter, changes: dict, path: str) -> None:
    payload = json.loads((FIXTURES / "trigger.json").read_bytes()) | changes
    with pytest.raises(PayloadError) as info:
        adapter.parse(headers={}, payload=payload)
    assert info.value.path == path


# --- messaging and comment changes ----------------------------------------------------------------

MESSAGE = FIXTURES / "messaging_ticket.message_added.json"


def _message_from(adapter: ZendeskAdapter, actor: object) -> bool | None:
    payload = json.loads(MESSAGE.read_bytes())
    if actor is None:
        del payload["event"]["actor"]
    else:
        payload["event"]["actor"] = actor
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.comment is not None and event.comment.public
    return event.comment.author_is_agent


@pytest.mark.parametrize(
    ("actor_type", "is_agent"),
    [("agent", True), ("Agent", True), ("end_user", False), ("trigger", False), ("system", False), ("bot", None)],
)
def test_a_message_author_is_an_agent_only_when_zendesk_says_agent(
    adapter: ZendeskAdapter, actor_type: str, is_agent: bool | None
) -> None:
    actor = {"id": "21730391226513", "name": "Priya Raman", "type": actor_type}
    assert _message_from(adapter, actor) is is_agent


@pytest.mark.parametrize("actor", [None, {"id": "21730391226513", "name": "Priya Raman"}], ids=["no-actor", "no-type"])
def test_a_message_whose_author_role_is_unknown_says_so(adapter: ZendeskAdapter, actor: object) -> None:
    assert _message_from(adapter, actor) is None


def test_every_messaging_actor_type_zendesk_documents_is_decided() -> None:
    assert set(AGENT_BY_ACTOR_TYPE) == {"end_user", "agent", "trigger", "system"}


def test_a_message_is_on_a_chat_ticket_and_dedupes_on_its_envelope_id(adapter: ZendeskAdapter) -> None:
    payload = json.loads(MESSAGE.read_bytes())
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert (event.kind, event.channel, event.object.external_id) == (EventKind.COMMENTED, Channel.CHAT, "48301")
    assert adapter.delivery_key(headers={}, payload=payload) == "01JP3Q8M4Z6W2R9T5K7V1X3B8D"


def test_a_message_that_names_another_ticket_is_refused(adapter: ZendeskAdapter) -> None:
    payload = json.loads(MESSAGE.read_bytes()) | {"subject": "zen:ticket:48302"}
    with pytest.raises(PayloadError) as info:
        adapter.parse(headers={}, payload=payload)
    assert info.value.path == "subject"


@pytest.mark.parametrize("name", ["comment_made_private", "comment_redacted", "comment_redacted__public_reply"])
def test_a_comment_change_with_only_the_comment_id_is_read(adapter: ZendeskAdapter, name: str) -> None:
    payload = json.loads((FIXTURES / f"{name}.json").read_bytes())
    payload["event"]["comment"] = {"id": payload["event"]["comment"]["id"]}
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.kind is EventKind.COMMENT_UPDATED and event.comment is not None
    # made private: internal whatever else is said; redacted: public only when the payload says so
    assert (event.comment.public, event.comment.body, event.comment.author_id) == (False, "", None)


def test_a_comment_made_private_is_internal_even_if_the_payload_says_public(adapter: ZendeskAdapter) -> None:
    payload = json.loads((FIXTURES / "comment_made_private.json").read_bytes())
    payload["event"]["comment"]["is_public"] = True
    (event,) = adapter.parse(headers={}, payload=payload).events
    assert event.comment is not None and event.comment.public is False


@pytest.mark.parametrize("name", ["marked_as_spam", "permanently_deleted"])
def test_spam_and_permanent_deletion_never_open_a_ticket(adapter: ZendeskAdapter, name: str) -> None:
    (event,) = adapter.parse(headers={}, payload=json.loads((FIXTURES / f"{name}.json").read_bytes())).events
    assert (event.kind, event.creates_ticket, event.detail) == (EventKind.DELETED, False, {"reason": name})


# --- delivery keys -------------------------------------------------------------------------------


def test_event_delivery_key_is_the_envelope_id(adapter: ZendeskAdapter) -> None:
    payload = json.loads(BODY)
    headers = {"X-Zendesk-Webhook-Invocation-Id": "8350205582"}
    assert adapter.delivery_key(headers=headers, payload=payload) == "f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def test_trigger_delivery_key_is_the_invocation_id_header(adapter: ZendeskAdapter) -> None:
    payload = json.loads((FIXTURES / "trigger.json").read_bytes())
    headers = {
        "x-zendesk-webhook-invocation-id": "8350205582",
        "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
    }
    assert adapter.delivery_key(headers=headers, payload=payload) == "8350205582"


def test_trigger_delivery_key_never_uses_the_webhook_id(adapter: ZendeskAdapter) -> None:
    payload = json.loads((FIXTURES / "trigger.json").read_bytes())
    headers = {"X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY"}
    assert adapter.delivery_key(headers=headers, payload=payload) is None


# --- signatures ----------------------------------------------------------------------------------


def test_valid_signature_passes(adapter: ZendeskAdapter) -> None:
    adapter.verify(headers=signed_headers(BODY), body=BODY, secrets=[SECRET], now=NOW)


def test_headers_are_matched_case_insensitively(adapter: ZendeskAdapter) -> None:
    headers = {k.lower(): v for k, v in signed_headers(BODY).items()}
    adapter.verify(headers=headers, body=BODY, secrets=[SECRET], now=NOW)


def test_wrong_secret_is_refused(adapter: ZendeskAdapter) -> None:
    with pytest.raises(SignatureError, match="does not match any active secret"):
        headers = signed_headers(BODY, secret="not-the-secret")
        adapter.verify(headers=headers, body=BODY, secrets=[SECRET], now=NOW)


def test_tampered_body_is_refused(adapter: ZendeskAdapter) -> None:
    tampered = BODY.replace(b'"PENDING"', b'"SOLVED"', 1)
    with pytest.raises(SignatureError, match="does not match"):
        adapter.verify(headers=signed_headers(BODY), body=tampered, secrets=[SECRET], now=NOW)


def test_timestamp_is_part_of_the_signed_message(adapter: ZendeskAdapter) -> None:
    headers = signed_headers(BODY) | {TIMESTAMP_HEADER: "2025-03-11T09:15:04Z"}
    with pytest.raises(SignatureError, match="does not match"):
        adapter.verify(headers=headers, body=BODY, secrets=[SECRET], now=NOW)


@pytest.mark.parametrize("name", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
def test_missing_header_is_refused(adapter: ZendeskAdapter, name: str) -> None:
    headers = {k: v for k, v in signed_headers(BODY).items() if k != name}
    with pytest.raises(SignatureError, match=f"missing {name} header"):
        adapter.verify(headers=headers, body=BODY, secrets=[SECRET], now=NOW)


def test_any_of_several_active_secrets_is_accepted(adapter: ZendeskAdapter) -> None:
    headers = signed_headers(BODY, secret=OLD_SECRET)
    adapter.verify(headers=headers, body=BODY, secrets=[SECRET, OLD_SECRET], now=NOW)


def test_a_retired_secret_is_refused(adapter: ZendeskAdapter) -> None:
    with pytest.raises(SignatureError):
        adapter.verify(headers=signed_headers(BODY, secret=OLD_SECRET), body=BODY, secrets=[SECRET], now=NOW)


def test_no_active_secret_is_refused(adapter: ZendeskAdapter) -> None:
    with pytest.raises(SignatureError):
        adapter.verify(headers=signed_headers(BODY), body=BODY, secrets=[], now=NOW)


def test_signature_that_is_not_base64_is_refused(adapter: ZendeskAdapter) -> None:
    headers = signed_headers(BODY) | {SIGNATURE_HEADER: "sha256=not base64!"}
    with pytest.raises(SignatureError, match="not base64"):
        adapter.verify(headers=headers, body=BODY, secrets=[SECRET], now=NOW)


def test_signature_with_characters_outside_ascii_is_refused(adapter: ZendeskAdapter) -> None:
    # base64 decoding of such text raises a bare ValueError, not binascii.Error: it was a 503 once
    headers = signed_headers(BODY) | {SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJlé=="}
    with pytest.raises(SignatureError, match="not base64"):
        adapter.verify(headers=headers, body=BODY, secrets=[SECRET], now=NOW)


def test_timestamp_too_old_is_refused(adapter: ZendeskAdapter) -> None:
    later = datetime(2025, 3, 11, 9, 20, 4, tzinfo=UTC)  # 301 s after signing
    with pytest.raises(SignatureError, match="outside tolerance.*ago"):
        adapter.verify(headers=signed_headers(BODY), body=BODY, secrets=[SECRET], now=later)


def test_timestamp_too_far_in_the_future_is_refused(adapter: ZendeskAdapter) -> None:
    earlier = datetime(2025, 3, 11, 9, 10, 2, tzinfo=UTC)  # signed 301 s ahead of our clock
    with pytest.raises(SignatureError, match="outside tolerance.*in the future"):
        adapter.verify(headers=signed_headers(BODY), body=BODY, secrets=[SECRET], now=earlier)


def test_timestamp_at_the_edge_of_the_tolerance_passes(adapter: ZendeskAdapter) -> None:
    edge = datetime(2025, 3, 11, 9, 20, 3, tzinfo=UTC)  # exactly 300 s
    adapter.verify(headers=signed_headers(BODY), body=BODY, secrets=[SECRET], now=edge)


def test_tolerance_is_a_constructor_argument() -> None:
    strict = ZendeskAdapter(tolerance_seconds=1)
    with pytest.raises(SignatureError, match="outside tolerance"):
        strict.verify(headers=signed_headers(BODY), body=BODY, secrets=[SECRET], now=NOW)


def test_unparseable_timestamp_is_refused(adapter: ZendeskAdapter) -> None:
    at = "Tue, 11 Mar 2025 09:15:03 GMT"
    with pytest.raises(SignatureError, match="not an ISO 8601 time"):
        adapter.verify(headers=signed_headers(BODY, at=at), body=BODY, secrets=[SECRET], now=NOW)


def test_errors_never_name_the_secret(adapter: ZendeskAdapter) -> None:
    later = NOW + timedelta(hours=1)
    for headers, secrets, now in [
        (signed_headers(BODY, secret="wrong"), [SECRET], NOW),
        (signed_headers(BODY), [SECRET], later),
    ]:
        with pytest.raises(SignatureError) as info:
            adapter.verify(headers=headers, body=BODY, secrets=secrets, now=now)
        assert SECRET not in str(info.value)
