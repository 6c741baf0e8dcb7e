"""Sync back under faults, through the outbox and the real zenpy and jira clients: a 429 with
`Retry-After` waits in the database; a 503 then success is sent once; a 500 forever is dead after
the attempt budget; a 404 is dead at once with the vendor's message; an answer lost after the tool
acted (a timeout, a worker killed mid-call) is not acted on twice; Redis emptied with intents in
flight delivers each once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector import defaults
from connector.outbox.delivery import deliver, sweep
from connector.runtime import Runtime
from connector.store import Database
from connector.store.tables import OutboxItem, OutboxStatus
from tests.conftest import drain, installed_runtime
from tests.helpers import post, zd_event
from tests.vendor_fakes import SITES_ENV


@pytest.fixture
def rt(database: Database, vendors: Any) -> Iterator[Runtime]:
    with installed_runtime(
        database,
        CONNECTOR_POLICY="signx",  # P0 → L3 and a linked Bug: one Jira issue, then its key to Zendesk
        **SITES_ENV,
    ) as runtime:
        yield runtime


def escalate(rt: Runtime) -> None:
    """An urgent Zendesk ticket → its Jira issue (sent) → the Zendesk key update, recorded and queued."""
    from webhooks.app import create_app

    client = create_app(rt, start_worker=False).test_client()
    assert post(client, "zendesk", zd_event("created", priority="URGENT")).status_code == 202
    drain(rt)


def key_update(rt: Runtime) -> OutboxItem:
    with rt.db.session() as s:
        [item] = s.scalars(select(OutboxItem).where(OutboxItem.intent == "zendesk_update")).all()
        s.expunge(item)
        return item


def test_a_429_waits_its_retry_after_in_the_database(rt: Runtime, vendors: Any) -> None:
    zd, _ = vendors
    zd.fail.append((429, {"Retry-After": "120"}, {"error": "TooManyRequests"}))
    escalate(rt)  # the key update's first attempt ran in the drain: 429
    item = key_update(rt)
    assert item.status == OutboxStatus.FAILED.value and "429" in (item.reason or "")
    assert item.next_attempt_at is not None and item.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=110)
    assert deliver(rt, item.id).endswith(f"is not due before {item.next_attempt_at.isoformat()}")  # not early
    assert deliver(rt, item.id, now=item.next_attempt_at) == f"outbox item {item.id} sent"
    assert len(zd.tickets[501]["comments"]) == 1


def test_a_503_then_success_is_sent_once(rt: Runtime, vendors: Any) -> None:
    zd, _ = vendors
    zd.fail.append((503, {"Retry-After": "0"}, {"error": "ServiceUnavailable"}))
    escalate(rt)  # retried in place: the second try succeeds
    assert key_update(rt).status == OutboxStatus.SENT.value
    assert len(zd.updates(501)) == 1 and len(zd.tickets[501]["comments"]) == 1


def test_a_500_forever_is_dead_after_the_budget(rt: Runtime, vendors: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    zd, _ = vendors
    monkeypatch.setattr(defaults, "OUTBOX_CALL_ATTEMPTS", 1)  # one try per job: the budget counts jobs
    zd.fail.extend([(500, {}, {"error": "InternalServerError"})] * 20)
    escalate(rt)
    item = key_update(rt)
    for _ in range(defaults.OUTBOX_MAX_ATTEMPTS + 2):
        with rt.db.session() as s:
            row = s.get(OutboxItem, item.id)
            assert row is not None
            due = row.next_attempt_at
        deliver(rt, item.id, now=due)
    final = key_update(rt)
    assert final.status == OutboxStatus.DEAD.value and final.attempts == defaults.OUTBOX_MAX_ATTEMPTS
    assert f"gave up after {defaults.OUTBOX_MAX_ATTEMPTS} attempts" in (final.reason or "")
    assert zd.tickets.get(501, {}).get("comments", []) == []


def test_a_404_is_dead_at_once_with_zendesks_message(rt: Runtime, vendors: Any) -> None:
    zd, _ = vendors
    zd.fail.append((404, {}, {"error": "RecordNotFound", "description": "Not found"}))
    escalate(rt)
    item = key_update(rt)
    assert item.status == OutboxStatus.DEAD.value and item.attempts == 1
    assert "refused: Zendesk refused it (404)" in (item.reason or "") and "RecordNotFound" in (item.reason or "")


def test_an_answer_lost_after_zendesk_acted_is_not_acted_on_twice(rt: Runtime, vendors: Any) -> None:
    zd, _ = vendors
    zd.lose_answers = 1  # the note is written; the worker never hears so (a timeout, a kill mid-call)
    escalate(rt)
    item = key_update(rt)
    if item.status != OutboxStatus.SENT.value:  # tried again in place or by a later job
        deliver(rt, item.id, now=item.next_attempt_at)
    assert key_update(rt).status == OutboxStatus.SENT.value
    assert len(zd.tickets[501]["comments"]) == 1  # the marker was found: not written again
    assert len(zd.updates(501)) == 1


def test_a_comment_to_jira_whose_answer_was_lost_is_added_once(rt: Runtime, vendors: Any) -> None:
    from webhooks.app import create_app

    _, jira = vendors
    escalate(rt)
    drain(rt)
    jira.lose_answers = 1
    client = create_app(rt, start_worker=False).test_client()
    reply = {
        "comment": {
            "id": "8102",
            "body": "It fails for our March invoices too.",
            "is_public": True,
            "author": {"id": "9001", "is_staff": False, "name": "Dana Ortiz"},
        }
    }
    body = zd_event("comment_added", minutes=7, priority="URGENT", status="OPEN", event=reply)
    assert post(client, "zendesk", body).status_code == 202
    drain(rt)
    with rt.db.session() as s:
        [item] = s.scalars(select(OutboxItem).where(OutboxItem.intent == "jira_comment")).all()
        if item.status != OutboxStatus.SENT.value:
            item_id, due = item.id, item.next_attempt_at
        else:
            item_id, due = item.id, None
    if due is not None:
        deliver(rt, item_id, now=due)
    assert len(jira.comments["ENG-42"]) == 1


def test_redis_emptied_with_intents_in_flight_delivers_each_once(rt: Runtime, vendors: Any) -> None:
    from webhooks.app import create_app

    zd, jira = vendors
    client = create_app(rt, start_worker=False).test_client()
    assert post(client, "zendesk", zd_event("created", priority="URGENT")).status_code == 202
    rt.queue.dispatch()
    rt.queue.connection.flushdb()  # Redis restarted empty: the processing job and everything after it gone
    from connector.inbox.reconciler import reconcile

    later = datetime.now(UTC) + timedelta(minutes=5)
    for _ in range(4):  # the reconciler and the outbox sweep, as the workers' tickers run them
        reconcile(rt, stale_after=0)
        drain(rt)
        sweep(rt, now=later)
        drain(rt)
        rt.queue.connection.flushdb()  # and again after each round: nothing is lost, nothing doubled
        later += timedelta(minutes=1)
    sweep(rt, now=later)
    drain(rt)
    assert list(jira.issues) == ["ENG-42"] and len(jira.made("POST", "/rest/api/2/issue")) == 1
    assert len(zd.updates(501)) == 1
    with rt.db.session() as s:
        statuses = {i.intent: i.status for i in s.scalars(select(OutboxItem).where(OutboxItem.channel != "pagerduty"))}
    assert statuses == {"create_linked_issue": "sent", "zendesk_update": "sent"}


def test_one_busy_ticket_gets_its_share_of_the_rate_limit_and_no_more(database: Database, vendors: Any) -> None:
    from webhooks.app import create_app

    zd, _ = vendors
    with installed_runtime(
        database,
        CONNECTOR_POLICY="signx",
        **SITES_ENV,
        ZENDESK_UPDATES_PER_MINUTE="20",  # a ticket's share: 2 a minute
    ) as rt:
        client = create_app(rt, start_worker=False).test_client()
        for ticket in (501, 502):
            body = zd_event("created", ticket_id=ticket, priority="URGENT")
            assert post(client, "zendesk", body).status_code == 202
        drain(rt)
        drain(rt)
        # a comment storm on the first ticket's Jira issue: five notes for one Zendesk ticket
        from connector.demo import payloads as p

        issue = p.jira_issue(
            issue_id="10042",
            key="ENG-42",
            summary="Cannot export invoices",
            description="",
            status="In Progress",
            category="indeterminate",
            priority="High",
            labels=["hdc-ticket-1"],
            reporter=("712020:5f0c-support-bot", "Support Bot"),
            created="2026-03-06T15:00:05.000+0000",
        )
        for n in range(5):
            at = datetime(2026, 3, 6, 15, 10 + n, tzinfo=UTC)
            body = p.jira_comment(issue, comment_id=f"3000{n}", body=f"Update {n}", public=False, at=at)
            assert post(client, "jira", body).status_code == 202
            drain(rt)
        assert len(zd.updates(501)) == 2  # the key update and one note: its share of this minute
        assert len(zd.updates(502)) == 1  # the other ticket was not starved
        with rt.db.session() as s:
            waiting = s.scalars(
                select(OutboxItem).where(OutboxItem.intent == "zendesk_update", OutboxItem.status == "pending")
            ).all()
            assert len(waiting) == 4
            later = max(i.next_attempt_at for i in waiting if i.next_attempt_at is not None)
        for _ in range(4):  # minute by minute the rest go, two at a time
            later += timedelta(minutes=1)
            sweep(rt, now=later)
            with rt.db.session() as s:
                ids = [i.id for i in s.scalars(select(OutboxItem).where(OutboxItem.status == "pending"))]
            for outbox_id in ids:
                deliver(rt, outbox_id, now=later)
        assert len(zd.updates(501)) == 6 and len(zd.tickets[501]["comments"]) == 6
