"""The outbound adapters: pure builders, and each sender through its real client library against a local
simulator (PagerDuty's Events API, a chat webhook), answers sorted into sent / not sent / refused / retry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.notify import SIGNATURE_HEADER, WebhookNotifier, notification_body, sign_body
from adapters.pagerduty.outbound import PagerDutySender, event_body
from connector.demo.simulators import PagerDutySimulator, WebhookReceiver
from connector.errors import NotSent, OutboundError
from connector.outbound import Notification, PageRequest, WebLink, request_from_json
from connector.outbound.intents import to_json

PAGE = PageRequest(
    action="trigger",
    target="oncall",
    dedup_key="hdc-ticket-7/oncall",
    ticket_id=7,
    summary="[P0] [enterprise] " + "x" * 2000,
    severity="critical",
    component="outage",
    custom_details={"customer": "acme", "sla_due": None},
    links=(WebLink("https://acme.zendesk.com/agent/tickets/48213", "zendesk ticket 48213"),),
    timestamp="2026-03-03T10:00:00+00:00",
)


@pytest.fixture
def pd() -> Iterator[PagerDutySimulator]:
    sim = PagerDutySimulator().start()
    yield sim
    sim.stop()


def test_the_events_api_body_of_a_trigger_an_acknowledge_and_a_resolve() -> None:
    body = event_body(PAGE)
    assert body["event_action"] == "trigger" and body["dedup_key"] == "hdc-ticket-7/oncall"
    payload = body["payload"]
    assert len(payload["summary"]) == 1024  # PagerDuty's limit
    assert payload["source"] == "helpdesk-connector" and payload["severity"] == "critical"
    assert payload["component"] == "outage" and payload["timestamp"] == "2026-03-03T10:00:00+00:00"
    assert payload["custom_details"] == {"customer": "acme"}  # no nulls
    assert body["links"] == [{"href": "https://acme.zendesk.com/agent/tickets/48213", "text": "zendesk ticket 48213"}]
    resolve = PageRequest(action="resolve", target="oncall", dedup_key="hdc-ticket-7/oncall", ticket_id=7)
    assert event_body(resolve) == {"event_action": "resolve", "dedup_key": "hdc-ticket-7/oncall"}


def test_an_intent_reads_back_as_itself() -> None:
    assert request_from_json("page_trigger", json.loads(json.dumps(to_json(PAGE)))) == PAGE
    note = Notification(target="csm", ticket_id=7, text="hi", escalation={"rule": "churn"})
    assert request_from_json("notify", to_json(note)) == note


def test_a_page_goes_through_the_pagerduty_client_to_the_events_api(pd: PagerDutySimulator) -> None:
    sender = PagerDutySender(events_url=pd.url, routing_keys={"oncall": "R0KEY0000000000000000000000000001"})
    sent = sender.send(PAGE)
    assert sent.reference == "hdc-ticket-7/oncall" and sent.response["status"] == "success"
    (event,) = pd.events()
    assert event["routing_key"] == "R0KEY0000000000000000000000000001" and event["payload"]["severity"] == "critical"
    assert "R0KEY" not in repr(sender)
    with pytest.raises(NotSent, match="PAGERDUTY_ROUTING_KEYS=nobody=<integration key>"):
        sender.send(PageRequest(action="trigger", target="nobody", dedup_key="k", ticket_id=7, summary="s"))
    sender.close()


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (403, False), (404, False), (429, True), (500, True), (503, True)],
)
def test_pagerdutys_answers_are_sorted_into_refused_and_retryable(
    pd: PagerDutySimulator, status: int, retryable: bool
) -> None:
    pd.fail_next(status, retry_after=12)
    sender = PagerDutySender(events_url=pd.url, routing_keys={}, default_key="R0KEY0000000000000000000000000001")
    with pytest.raises(OutboundError) as err:
        sender.send(PAGE)
    assert err.value.retryable is retryable and str(status) in err.value.message
    assert len(pd.received) == 1  # the library's own retries are off: one request, one answer
    if status == 429:
        assert err.value.retry_after == 12.0
    assert "R0KEY" not in err.value.message
    sender.close()


def test_pagerduty_unreachable_is_retryable_at_once() -> None:
    sender = PagerDutySender(events_url="http://127.0.0.1:9", routing_keys={}, default_key="R0KEY", timeout=2)
    with pytest.raises(OutboundError) as err:
        sender.send(PAGE)
    assert err.value.retryable and "unreachable" in err.value.message
    sender.close()


def test_a_notification_is_posted_signed_and_its_answers_sorted() -> None:
    note = Notification(target="csm", ticket_id=7, text="[P0] churn words", escalation={"rule": "churn-words"})
    receiver = WebhookReceiver().start()
    try:
        url = f"{receiver.url}/services/T000/B000/secretpath"
        notifier = WebhookNotifier(webhooks={"csm": url}, secret="s3cret")
        assert notifier.send(note).reference == "HTTP 200"
        (got,) = receiver.received
        assert got.body == notification_body(note)
        assert got.headers[SIGNATURE_HEADER] == sign_body(got.body, "s3cret")
        assert got.json()["text"] == "[P0] churn words" and got.json()["escalation"] == {"rule": "churn-words"}
        assert "secretpath" not in repr(notifier)
        with pytest.raises(NotSent, match="CONNECTOR_NOTIFY_WEBHOOKS=cfo="):
            notifier.send(Notification(target="cfo", ticket_id=7, text="x"))
        receiver.status = 404
        with pytest.raises(OutboundError) as refused:
            notifier.send(note)
        assert not refused.value.retryable and "secretpath" not in refused.value.message
        receiver.status = 503
        with pytest.raises(OutboundError) as later:
            notifier.send(note)
        assert later.value.retryable
        notifier.close()
    finally:
        receiver.stop()


def test_a_payload_is_what_asdict_makes_of_the_intent() -> None:
    """`to_json` skips asdict's deep copy of plain values; what it returns must not differ."""
    from dataclasses import asdict

    from connector.outbound.intents import LinkedIssueRequest

    issue = LinkedIssueRequest(
        ticket_id=7,
        issue_type="Bug",
        summary="Exports fail",
        description="Every CSV export stops after 30 s.",
        labels=("helpdesk", "exports"),
        details={"ticket": 7, "nested": {"a": [1, 2]}, "when": datetime(2026, 3, 6, 15, tzinfo=UTC)},
    )
    for request in (PAGE, issue):
        made = to_json(request)
        assert made == asdict(request)
        assert made is not asdict(request) and type(made["links" if request is PAGE else "labels"]) is tuple
