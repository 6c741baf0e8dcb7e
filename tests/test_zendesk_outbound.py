"""Ticket updates out through the real zenpy client, at the HTTP edge with `responses`: the body
Zendesk documents (`PUT /api/v2/tickets/{id}.json {"ticket": {comment, status, additional_tags,
custom_fields}}`), API-token auth, a comment written once however often it is retried, and zenpy's
own sleeping and retrying kept out of the worker: a 429 answers at once with its `Retry-After`."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from adapters.zendesk.outbound import ZendeskSender, ZendeskSite, ticket_body
from connector.errors import NotSent, OutboundError
from connector.outbound import TicketUpdate, marker
from tests.vendor_fakes import ZENDESK, FakeZendesk


@pytest.fixture
def zd() -> Iterator[FakeZendesk]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        yield FakeZendesk(rs)


def sender(**sites: ZendeskSite) -> ZendeskSender:
    return ZendeskSender(
        sites=sites or {"default": ZendeskSite(url=ZENDESK, email="support-bot@northwind.example", api_token="zd-tok")}
    )


def update(**kw: Any) -> TicketUpdate:
    base: dict[str, Any] = {
        "ticket_id": 7,
        "external_id": "501",
        "comment": "Priya Raman commented on ENG-42 (Jira):\n\nReproduced on v4.2.",
        "marker": marker("jira-default-30001"),
    }
    return TicketUpdate(**{**base, **kw})


def test_the_update_zendesk_documents_with_api_token_auth(zd: FakeZendesk) -> None:
    sent = sender().send(
        update(status="open", tags=("jira_eng-42",), custom_fields={"360004417": "ENG-42"}, public=False)
    )
    [put] = zd.updates(501)
    assert put == {
        "id": 501,
        "comment": {
            "body": "Priya Raman commented on ENG-42 (Jira):\n\nReproduced on v4.2.\n\n[hdc:jira-default-30001]",
            "public": False,
        },
        "status": "open",
        "additional_tags": ["jira_eng-42"],  # added: the ticket's own tags are never replaced
        "custom_fields": [{"id": 360004417, "value": "ENG-42"}],
    }
    assert ticket_body(update(public=True))["comment"]["public"] is True
    token = base64.b64encode(b"support-bot@northwind.example/token:zd-tok").decode()
    assert zd.auth[-1] == f"Basic {token}"
    assert sent.response["author_id"] == "3900001"  # the connector's own Zendesk user, for echo checks
    assert zd.tickets[501]["tags"] == ["jira_eng-42"] and zd.tickets[501]["status"] == "open"


def test_a_retry_after_a_lost_answer_does_not_write_the_comment_twice(zd: FakeZendesk) -> None:
    s = sender()
    s.send(update())
    again = s.send(update())  # the first answer was lost after Zendesk had written the comment
    assert again.response["already_written"] is True
    assert len(zd.updates(501)) == 1 and len(zd.tickets[501]["comments"]) == 1


def test_a_429_answers_at_once_with_its_retry_after(zd: FakeZendesk) -> None:
    zd.fail.append((429, {"Retry-After": "37"}, {"error": "TooManyRequests"}))
    started = time.monotonic()
    with pytest.raises(OutboundError) as caught:
        sender().send(update(marker=None))
    assert time.monotonic() - started < 5  # zenpy would have slept 37 s inside the call
    assert caught.value.retryable and caught.value.retry_after == 37.0
    assert len(zd.calls) == 1


def test_a_503_is_retryable_and_not_retried_by_the_client(zd: FakeZendesk) -> None:
    zd.fail.append((503, {"Retry-After": "5"}, {"error": "ServiceUnavailable"}))
    with pytest.raises(OutboundError) as caught:
        sender().send(update(marker=None))
    assert caught.value.retryable and caught.value.retry_after == 5.0
    assert len(zd.calls) == 1


@pytest.mark.parametrize(
    ("status", "answer", "says"),
    [
        (404, {"error": "RecordNotFound", "description": "Not found"}, "RecordNotFound"),
        (422, {"error": "RecordInvalid", "description": "Record validation errors"}, "Record validation errors"),
        (401, {"error": "Couldn't authenticate you"}, "Couldn't authenticate you"),
    ],
)
def test_refusals_are_final_with_zendesks_message(zd: FakeZendesk, status: int, answer: Any, says: str) -> None:
    zd.fail.append((status, {}, answer))
    with pytest.raises(OutboundError) as caught:
        sender().send(update(marker=None))
    assert not caught.value.retryable
    assert f"({status})" in caught.value.message and says in caught.value.message


def test_no_requests_left_this_minute_holds_the_next_update_back(zd: FakeZendesk) -> None:
    zd.headers = {"X-Rate-Limit": "100", "X-Rate-Limit-Remaining": "0"}
    s = sender()
    s.send(update(marker=None))
    calls = len(zd.calls)
    with pytest.raises(OutboundError) as caught:
        s.send(update(marker=None, comment="second"))
    assert caught.value.retryable and caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60
    assert len(zd.calls) == calls  # not asked


def test_an_instance_without_an_account_or_credentials_is_not_sent(zd: FakeZendesk) -> None:
    with pytest.raises(NotSent) as caught:
        sender().send(update(instance="eu"))
    assert "set ZENDESK_EU_URL" in caught.value.message
    bare = sender(default=ZendeskSite(url=ZENDESK, setup="set ZENDESK_EMAIL and ZENDESK_API_TOKEN"))
    with pytest.raises(NotSent) as caught:
        bare.send(update())
    assert "set ZENDESK_EMAIL and ZENDESK_API_TOKEN" in caught.value.message
    assert zd.calls == []


def test_the_rate_limit_counts_per_instance_and_repr_shows_no_secret() -> None:
    s = sender()
    assert s.rate_limit is not None and (s.rate_limit.events, s.rate_limit.seconds) == (100, 60.0)
    assert s.rate_key(update()) == "zendesk/default" and s.rate_key(update(instance="eu")) == "zendesk/eu"
    assert "zd-tok" not in repr(s)
