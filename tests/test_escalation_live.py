"""The escalation engine and the outbox over real deliveries: signed webhooks in, the real app, RQ jobs,
pages out through the `pagerduty` client library to a local Events API simulator, notifications to a
local webhook receiver. Exactly once however deliveries are repeated; every decision on the timeline."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from connector import defaults
from connector.demo.simulators import PagerDutySimulator, WebhookReceiver
from connector.outbox.delivery import deliver, sweep
from connector.runtime import Runtime, install
from connector.store import Database
from connector.store.tables import Escalation, Followup, OutboxItem, OutboxStatus, TimelineEntry
from connector.wiring import build_runtime
from tests.conftest import ADMIN, _clean, drain, make_queue, make_settings
from tests.helpers import T0, post, zd_event

VP_KEY = "R0VPPRODUCT00000000000000000000A"
ENG_KEY = "R0ENGONCALL00000000000000000000B"
NOTIFY_SECRET = "notify-secret"


@pytest.fixture
def pd() -> Iterator[PagerDutySimulator]:
    sim = PagerDutySimulator().start()
    yield sim
    sim.stop()


@pytest.fixture
def chat() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def acting_runtime(database: Database, pd: PagerDutySimulator, chat: WebhookReceiver, **env: str) -> Runtime:
    _clean(database)
    settings = make_settings(
        database,
        CONNECTOR_POLICY=env.pop("CONNECTOR_POLICY", "tai"),
        PAGERDUTY_EVENTS_URL=pd.url,
        PAGERDUTY_ROUTING_KEYS=env.pop("PAGERDUTY_ROUTING_KEYS", f"vp_product={VP_KEY},eng_oncall={ENG_KEY}"),
        CONNECTOR_NOTIFY_WEBHOOKS=f"csm={chat.url}/hooks/csm",
        CONNECTOR_NOTIFY_SECRET=NOTIFY_SECRET,
        CONNECTOR_PUBLIC_URL="https://connector.example.com",
        **env,
    )
    return build_runtime(settings, db=database, queue=make_queue(settings))


@pytest.fixture
def rt(database: Database, pd: PagerDutySimulator, chat: WebhookReceiver) -> Iterator[Runtime]:
    runtime = acting_runtime(database, pd, chat)
    prev = install(runtime)
    yield runtime
    install(prev)
    runtime.release()


@pytest.fixture
def client(rt: Runtime) -> Any:
    from webhooks.app import create_app

    return create_app(rt, start_worker=False).test_client()


def critical_enterprise(name: str = "created", **kw: Any) -> dict[str, Any]:
    """A Zendesk event of an urgent ticket of an enterprise customer (tai: CRITICAL, enterprise)."""
    return zd_event(name, priority="URGENT", tags=["tier_enterprise"], **kw)


def count(rt: Runtime, table: Any, *where: Any) -> int:
    with rt.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def test_a_critical_enterprise_ticket_pages_once_however_often_it_arrives(
    rt: Runtime, client: Any, pd: PagerDutySimulator
) -> None:
    body = critical_enterprise()
    assert post(client, "zendesk", body).status_code == 202
    drain(rt)
    triggers = [e for e in pd.events() if e["event_action"] == "trigger"]
    assert sorted((e["routing_key"], e["dedup_key"]) for e in triggers) == [
        (ENG_KEY, "hdc-ticket-1/eng_oncall"),
        (VP_KEY, "hdc-ticket-1/vp_product"),
    ]
    page = next(e for e in triggers if e["routing_key"] == VP_KEY)
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == "[CRITICAL] [enterprise] Cannot export invoices"
    assert page["payload"]["custom_details"]["rule"] == "critical-page"
    assert page["payload"]["custom_details"]["tier"] == "enterprise"
    assert {"href": "https://connector.example.com/admin/tickets/1", "text": "connector ticket 1"} in page["links"]
    decided = count(rt, Escalation)
    # the same delivery again (a vendor retry), a replay by an admin, and a second run of the job
    assert post(client, "zendesk", body).status_code == 200
    assert client.post("/api/deliveries/1/replay", headers=ADMIN).status_code == 202
    rt.queue.enqueue_delivery(1)
    drain(rt)
    assert len([e for e in pd.events() if e["event_action"] == "trigger"]) == 2
    assert count(rt, Escalation) == decided
    assert count(rt, OutboxItem, OutboxItem.intent == "page_trigger") == 2
    # every decision is on the timeline, with its rule and reason, and so is each page's sending
    ticket = client.get("/api/tickets/1", headers=ADMIN).get_json()
    escalations = [e for e in ticket["timeline"] if e["kind"] == "escalation"]
    assert [(e["data"]["trigger_id"], e["data"]["action"], e["data"]["target"]) for e in escalations] == [
        ("critical-page", "page", "vp_product"),
        ("critical-page", "page", "eng_oncall"),
        ("critical-page", "require_postmortem", None),
        ("enterprise-csm", "reassign", "csm"),
    ]
    sent = [e["summary"] for e in ticket["timeline"] if e["kind"] == "outbound"]
    assert sorted(sent) == [
        "page trigger to eng_oncall sent (hdc-ticket-1/eng_oncall)",
        "page trigger to vp_product sent (hdc-ticket-1/vp_product)",
    ]
    scrape = client.get("/metrics").get_data(as_text=True)
    assert 'connector_outbox{channel="pagerduty",status="sent"} 2.0' in scrape
    story = ticket["escalation"]
    assert story["owner"] == "csm" and story["level"] == "L2"
    assert sorted(story["open_pages"]) == ["eng_oncall", "vp_product"]
    assert [f["kind"] for f in story["followups"]] == ["postmortem"]


def test_resolving_the_ticket_resolves_its_pages_after_their_triggers(
    rt: Runtime, client: Any, pd: PagerDutySimulator
) -> None:
    post(client, "zendesk", critical_enterprise())
    post(
        client,
        "zendesk",
        critical_enterprise(
            "status_changed", minutes=30, status="SOLVED", event={"current": "SOLVED", "previous": "NEW"}
        ),
    )
    drain(rt)
    assert {k: (a.status, a.events) for k, a in pd.alerts.items()} == {
        "hdc-ticket-1/vp_product": ("resolved", ["trigger", "resolve"]),
        "hdc-ticket-1/eng_oncall": ("resolved", ["trigger", "resolve"]),
    }
    # the post-mortem is due 24 h after the resolution ("Update resolved incidents within 24 hours")
    with rt.db.session() as s:
        (postmortem,) = s.scalars(select(Followup))
        assert postmortem.due_at == T0 + timedelta(minutes=30) + timedelta(hours=24)


def test_churn_words_notify_the_csm_signed_with_a_follow_up_due(
    rt: Runtime, client: Any, chat: WebhookReceiver
) -> None:
    post(client, "zendesk", critical_enterprise())
    comment = {
        "comment": {
            "id": "8001",
            "body": "Honestly, we are canceling our subscription at the end of the month.",
            "is_public": True,
            "author": {"id": "9001", "is_staff": False, "name": "Dana Customer"},
        }
    }
    post(client, "zendesk", critical_enterprise("comment_added", minutes=20, event=comment))
    drain(rt)
    (got,) = chat.wait_for(1)
    assert got.path == "/hooks/csm"
    expected = "sha256=" + hmac.new(NOTIFY_SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Connector-Signature"], expected)
    body = got.json()
    assert body["target"] == "csm" and body["ticket_id"] == 1
    assert "canceling" in body["text"] and "churn-words" in body["text"] and "within 2h" in body["text"]
    assert body["escalation"]["rule"] == "churn-words"
    with rt.db.session() as s:
        follow = s.scalar(select(Followup).where(Followup.kind == "notify"))
        assert follow is not None and follow.target == "csm"
        assert follow.due_at == T0 + timedelta(minutes=20) + timedelta(hours=2)
        # VP Product was paged at creation; the churn words did not page them a second time
        skipped = s.scalar(
            select(Escalation).where(Escalation.trigger_id == "churn-words", Escalation.action == "page")
        )
        assert skipped is not None and skipped.outcome == "skipped" and "open page" in skipped.reason


def test_a_page_for_a_target_without_a_routing_key_is_recorded_as_not_sent(
    database: Database, pd: PagerDutySimulator, chat: WebhookReceiver
) -> None:
    rt = acting_runtime(database, pd, chat, PAGERDUTY_ROUTING_KEYS=f"vp_product={VP_KEY}")
    install(rt)
    from webhooks.app import create_app

    client = create_app(rt, start_worker=False).test_client()
    post(client, "zendesk", critical_enterprise())
    drain(rt)
    with rt.db.session() as s:
        item = s.scalar(select(OutboxItem).where(OutboxItem.target == "eng_oncall"))
        assert item is not None and item.status == OutboxStatus.NOT_SENT
        assert item.reason is not None and "PAGERDUTY_ROUTING_KEYS=eng_oncall=" in item.reason
        assert item.attempts == 1  # one attempt, which the sender declined: not a failure, nothing retries
    later = datetime.now(UTC) + timedelta(hours=1)
    assert sweep(rt, now=later) == 0
    dead = client.get("/api/outbox?status=not_sent", headers=ADMIN).get_json()
    assert [i["target"] for i in dead["items"]] == ["eng_oncall"]
    assert len(pd.events()) == 1  # the other page went
    rt.release()


def _one_page(rt: Runtime) -> int:
    """Record one page intent for ticket 1 directly (the decision part is tested above)."""
    from connector.outbound import PageRequest
    from connector.outbox import record
    from connector.store.tables import Ticket

    with rt.db.session() as s:
        ticket = Ticket(status="open", created_at=T0, updated_at=T0, tags=[], field_versions={}, title="x")
        s.add(ticket)
        s.flush()
        request = PageRequest(
            action="trigger",
            target="vp_product",
            dedup_key=f"hdc-ticket-{ticket.id}/vp_product",
            ticket_id=ticket.id,
            summary="[CRITICAL] [enterprise] x",
        )
        item = record(
            s, request, idempotency_key=f"test-{ticket.id}", ticket_id=ticket.id, sequence_key=request.dedup_key
        )
        assert item is not None
        s.flush()
        return item.id


def test_a_429_with_a_long_retry_after_waits_in_the_database_not_in_the_worker(
    rt: Runtime, pd: PagerDutySimulator
) -> None:
    pd.fail_next(429, retry_after=30)
    item_id = _one_page(rt)
    drain(rt)
    with rt.db.session() as s:
        item = s.get(OutboxItem, item_id)
        assert item is not None and item.status == OutboxStatus.FAILED and item.attempts == 1
        assert item.next_attempt_at is not None
        wait = (item.next_attempt_at - datetime.now(UTC)).total_seconds()
        assert 25 < wait <= 31  # PagerDuty's Retry-After, honoured
        assert "429" in (item.reason or "")
    assert deliver(rt, item_id).endswith("is not due before " + item.next_attempt_at.isoformat())
    assert deliver(rt, item_id, now=item.next_attempt_at) == f"outbox item {item_id} sent"
    assert [e["event_action"] for e in pd.events()] == ["trigger"]


def test_a_short_retry_after_is_waited_in_place(rt: Runtime, pd: PagerDutySimulator) -> None:
    pd.fail_next(429, retry_after=0.2)
    pd.fail_next(503)
    item_id = _one_page(rt)
    assert deliver(rt, item_id) == f"outbox item {item_id} sent"
    assert len(pd.received) == 3  # 429, 503, then taken: three tries of one attempt (tenacity)


def test_a_refusal_is_dead_at_once_with_pagerdutys_message(rt: Runtime, pd: PagerDutySimulator) -> None:
    from connector.outbound import PageRequest
    from connector.outbox import record

    item_id = _one_page(rt)
    with rt.db.session() as s:  # a summary PagerDuty refuses (over 1024 characters) is cut by the builder;
        item = s.get(OutboxItem, item_id)  # a severity it does not know is refused
        assert item is not None
        item.payload = {**item.payload, "severity": "catastrophic"}
    result = deliver(rt, item_id)
    assert result.startswith(f"outbox item {item_id} dead")
    with rt.db.session() as s:
        item = s.get(OutboxItem, item_id)
        assert item is not None and item.status == OutboxStatus.DEAD and item.attempts == 1
        assert "400" in (item.reason or "") and "payload.severity" in (item.reason or "")
    assert PageRequest and record  # (imported for the helper's sake)


def test_server_errors_retry_with_backoff_then_dead_letter_and_replay_sends(
    rt: Runtime, client: Any, pd: PagerDutySimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connector.outbox.delivery._in_call_wait", lambda state: 0.0)  # no real sleeps
    item_id = _one_page(rt)
    pd.fail_next(500, times=defaults.OUTBOX_MAX_ATTEMPTS * defaults.OUTBOX_CALL_ATTEMPTS)
    now = datetime.now(UTC)
    waits = []
    for _ in range(defaults.OUTBOX_MAX_ATTEMPTS + 2):
        deliver(rt, item_id, now=now)
        answered = datetime.now(UTC)
        with rt.db.session() as s:
            item = s.get(OutboxItem, item_id)
            assert item is not None
            if item.status == OutboxStatus.DEAD:
                break
            assert item.next_attempt_at is not None
            waits.append((item.next_attempt_at - answered).total_seconds())
            now = item.next_attempt_at
    with rt.db.session() as s:
        item = s.get(OutboxItem, item_id)
        assert item is not None and item.status == OutboxStatus.DEAD
        assert item.attempts == defaults.OUTBOX_MAX_ATTEMPTS
        assert "gave up after" in (item.reason or "")
    # exponential: each wait in [base·2ⁿ⁻¹/2, base·2ⁿ⁻¹] (jitter), growing
    for n, wait in enumerate(waits, start=1):
        ceiling = min(defaults.OUTBOX_BACKOFF_MAX_SECONDS, defaults.OUTBOX_BACKOFF_SECONDS * 2 ** (n - 1))
        assert ceiling / 2 - 1 <= wait <= ceiling + 1
    assert len(pd.received) == defaults.OUTBOX_MAX_ATTEMPTS * defaults.OUTBOX_CALL_ATTEMPTS  # bounded
    dead = client.get("/api/outbox?status=dead", headers=ADMIN).get_json()
    assert [i["id"] for i in dead["items"]] == [item_id]
    assert client.post(f"/api/outbox/{item_id}/replay", headers=ADMIN).status_code == 202
    drain(rt)
    assert [e["event_action"] for e in pd.events()] == ["trigger"]
    again = client.post(f"/api/outbox/{item_id}/replay", headers=ADMIN)
    assert again.status_code == 400 and "not sent twice" in again.get_json()["message"]


def test_a_resolve_waits_for_its_trigger_and_is_not_sent_without_one(rt: Runtime, pd: PagerDutySimulator) -> None:
    from connector.outbound import PageRequest
    from connector.outbox import record

    trigger_id = _one_page(rt)
    with rt.db.session() as s:
        resolve = PageRequest(action="resolve", target="vp_product", dedup_key="hdc-ticket-1/vp_product", ticket_id=1)
        item = record(s, resolve, idempotency_key="test-resolve", ticket_id=1, sequence_key=resolve.dedup_key)
        assert item is not None
        s.flush()
        resolve_id = item.id
    assert "waits for item" in deliver(rt, resolve_id)
    assert deliver(rt, trigger_id).endswith("sent")
    assert deliver(rt, resolve_id, now=datetime.now(UTC) + timedelta(seconds=5)).endswith("sent")
    assert [e["event_action"] for e in pd.events()] == ["trigger", "resolve"]
    with rt.db.session() as s:
        lone = PageRequest(action="acknowledge", target="eng_oncall", dedup_key="hdc-ticket-1/eng_oncall", ticket_id=1)
        item = record(s, lone, idempotency_key="test-ack", ticket_id=1, sequence_key=lone.dedup_key)
        assert item is not None
        s.flush()
        ack_id = item.id
    deliver(rt, ack_id)
    with rt.db.session() as s:
        item = s.get(OutboxItem, ack_id)
        assert item is not None and item.status == OutboxStatus.NOT_SENT
        assert item.reason == "nothing to acknowledge: no page was triggered"


def test_the_events_api_rate_is_respected_per_routing_key(
    database: Database, pd: PagerDutySimulator, chat: WebhookReceiver
) -> None:
    rt = acting_runtime(database, pd, chat, PAGERDUTY_EVENTS_PER_MINUTE="2")
    install(rt)
    ids = [_one_page(rt) for _ in range(3)]
    results = [deliver(rt, i) for i in ids]
    assert results[:2] == [f"outbox item {ids[0]} sent", f"outbox item {ids[1]} sent"]
    assert results[2] == f"outbox item {ids[2]} waits for the pagerduty rate limit"
    with rt.db.session() as s:
        first = s.get(OutboxItem, ids[0])
        third = s.get(OutboxItem, ids[2])
        assert first is not None and third is not None and first.sent_at is not None
        assert third.next_attempt_at == first.sent_at + timedelta(seconds=60)
        assert third.rate_key is not None and VP_KEY not in third.rate_key  # a digest, never the key
    assert len(pd.events()) == 2
    rt.release()


def test_intents_lost_with_redis_are_enqueued_again_and_sent_once(rt: Runtime, pd: PagerDutySimulator) -> None:
    item_id = _one_page(rt)
    rt.queue.connection.flushall()  # Redis restarted empty: the job is gone, the row is not
    assert drain(rt) == 0
    assert sweep(rt) == 0  # enqueued a moment ago: not yet given up on
    later = datetime.now(UTC) + timedelta(seconds=defaults.OUTBOX_REENQUEUE_AFTER_SECONDS + 1)
    assert sweep(rt, now=later) == 1
    drain(rt)
    assert sweep(rt, now=later + timedelta(seconds=60)) == 0
    assert [e["event_action"] for e in pd.events()] == ["trigger"]
    with rt.db.session() as s:
        item = s.get(OutboxItem, item_id)
        assert item is not None and item.status == OutboxStatus.SENT


def test_a_worker_that_died_mid_send_is_sent_again_and_pagerduty_keeps_one_alert(
    rt: Runtime, pd: PagerDutySimulator
) -> None:
    item_id = _one_page(rt)
    assert deliver(rt, item_id).endswith("sent")
    with rt.db.session() as s:  # as if the worker had died after PagerDuty took it, before it recorded so
        item = s.get(OutboxItem, item_id)
        assert item is not None
        item.status = OutboxStatus.SENDING.value
        item.claimed_at = datetime.now(UTC) - timedelta(seconds=defaults.OUTBOX_CLAIM_TIMEOUT_SECONDS + 1)
    assert sweep(rt) == 1
    drain(rt)
    assert [e["event_action"] for e in pd.events()] == ["trigger", "trigger"]
    (alert,) = pd.alerts.values()
    assert alert.opened == 1  # the same dedup key: one alert


def test_a_breach_found_by_the_sweeper_escalates_once(rt: Runtime, client: Any) -> None:
    """tai: "Change ownership if not responded in 2 hours past SLA" — CRITICAL's first response is due in
    1 h (calendar time), so at 3 h with no answer the ticket goes to the support engineers."""
    from connector.demo import payloads as p
    from connector.sla.due import sweep as sla_sweep
    from connector.wiring import escalate_fires

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    detail = p.zendesk_ticket(
        ticket_id=700,
        subject="Checkout down",
        description="500 on every order",
        status="NEW",
        priority="URGENT",
        requester_id="9001",
        organization_id="77",
        tags=["tier_enterprise"],
        created=start,
        updated=start,
    )
    post(client, "zendesk", p.zendesk_event("created", detail, {}, start))
    drain(rt)
    for minutes in (30, 61, 120, 181, 240, 300):
        sla_sweep(rt.db, rt.policies, now=start + timedelta(minutes=minutes), on_fires=escalate_fires(rt))
    with rt.db.session() as s:
        rows = list(s.scalars(select(Escalation).where(Escalation.trigger_id == "reassign-after-missed-response")))
        assert [(r.action, r.target, r.at) for r in rows] == [
            ("reassign", "support_engineers", start + timedelta(hours=3))
        ]
        overdue = s.scalar(select(TimelineEntry).where(TimelineEntry.kind == "sla_overdue"))
        assert overdue is not None and "2h past due" in overdue.summary


def test_an_overdue_follow_up_is_marked_once_and_done_by_the_api(rt: Runtime, client: Any) -> None:
    from connector.escalation import followups

    post(client, "zendesk", critical_enterprise())
    comment = {
        "comment": {
            "id": "8001",
            "body": "We are leaving for a competitor.",
            "is_public": True,
            "author": {"id": "9001", "is_staff": False, "name": "Dana Customer"},
        }
    }
    post(client, "zendesk", critical_enterprise("comment_added", minutes=20, event=comment))
    drain(rt)
    due = T0 + timedelta(minutes=20, hours=2)
    assert followups.sweep(rt.db, rt.policies, now=due - timedelta(seconds=1)) == 0
    assert followups.sweep(rt.db, rt.policies, now=due + timedelta(seconds=1)) == 1
    assert followups.sweep(rt.db, rt.policies, now=due + timedelta(minutes=5)) == 0
    listed = client.get("/api/followups?state=overdue", headers=ADMIN).get_json()["followups"]
    assert [(f["kind"], f["target"], f["overdue"]) for f in listed] == [("notify", "csm", True)]
    done = client.post(
        f"/api/followups/{listed[0]['id']}/done",
        headers=ADMIN,
        json={"by": "maria", "note": "Called Dana; staying with us"},
    )
    assert done.status_code == 200 and done.get_json()["done_by"] == "maria"
    assert client.get("/api/followups?state=overdue", headers=ADMIN).get_json()["followups"] == []
    kinds = [
        e["summary"]
        for e in client.get("/api/tickets/1", headers=ADMIN).get_json()["timeline"]
        if e["kind"] == "followup"
    ]
    assert kinds == [
        f"follow-up for csm overdue (due {due.isoformat()})",
        "follow-up for csm done: Called Dana; staying with us",
    ]


def test_repeat_issues_from_one_customer_escalate_once_per_cluster(
    database: Database, pd: PagerDutySimulator, chat: WebhookReceiver
) -> None:
    """nwire: the same confusion three times from one customer is one observation for the product owner."""
    rt = acting_runtime(database, pd, chat, CONNECTOR_POLICY="nwire")
    install(rt)
    from webhooks.app import create_app

    client = create_app(rt, start_worker=False).test_client()
    for n in range(4):  # organization 77, type incident (the default mapping's category), hours apart
        post(client, "zendesk", zd_event("created", ticket_id=600 + n, minutes=60 * n))
        drain(rt)
    with rt.db.session() as s:
        rows = list(s.scalars(select(Escalation).where(Escalation.trigger_id == "repeat-confusion")))
        assert [(r.ticket_id, r.action, r.target, r.outcome) for r in rows] == [
            (3, "notify", "product_owner", "queued")
        ]
        assert "3 tickets from 77 about incident" in rows[0].reason
    rt.release()


def test_the_escalations_api_lists_decisions_with_their_rules(rt: Runtime, client: Any) -> None:
    post(client, "zendesk", critical_enterprise())
    drain(rt)
    listed = client.get("/api/escalations?ticket_id=1&action=page", headers=ADMIN).get_json()
    assert listed["total"] == 2
    assert {(e["trigger"], e["target"], e["outcome"]) for e in listed["escalations"]} == {
        ("critical-page", "vp_product", "queued"),
        ("critical-page", "eng_oncall", "queued"),
    }
    one = client.get("/api/outbox?intent=page_trigger", headers=ADMIN).get_json()["items"][0]
    detail = client.get(f"/api/outbox/{one['id']}", headers=ADMIN).get_json()
    assert detail["payload"]["dedup_key"].startswith("hdc-ticket-1/")
    assert detail["response"]["status"] == "success"
    assert json.dumps(detail).count(VP_KEY) == 0 and json.dumps(detail).count(ENG_KEY) == 0  # keys never shown
