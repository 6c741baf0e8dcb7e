"""The acknowledgement path under hostile bodies and failing services: every authentic body is stored,
every answer is a 4xx with a reason or a 503 asking to send again — never a bare 500, never a 202 for
something not stored."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from werkzeug.test import EnvironBuilder, run_wsgi_app

from connector.store.tables import Delivery
from tests.helpers import post, signed, zd_event


def _rows(rt, **where: Any) -> list[Delivery]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        q = select(Delivery).order_by(Delivery.id)
        for k, v in where.items():
            q = q.where(getattr(Delivery, k) == v)
        return list(s.scalars(q))


def _count(rt) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return s.scalar(select(func.count()).select_from(Delivery)) or 0


# ---- hostile bodies: stored, answered 400 with a reason ------------------------------------------

DEEP = b"[" * 5000 + b"]" * 5000
BIG_INT = b'{"type": "zen:event-type:ticket.created", "id": ' + b"9" * 5000 + b"}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (DEEP, "nested too deeply"),
        (BIG_INT, "integer"),
        (b'{"type": "zen:event-type:ticket.created", "id": "x", "detail": {"id": "1"}' + b"}" * 2, "not valid JSON"),
        (b"\xff\xfe not utf-8", "not valid JSON"),
    ],
    ids=["deep-nesting", "5000-digit-integer", "trailing-garbage", "not-utf8"],
)
def test_an_unreadable_signed_body_is_stored_and_answered_400(client, rt, body: bytes, reason: str):
    r = post(client, "zendesk", None, body=body)
    assert r.status_code == 400, r.get_data(as_text=True)
    answer = r.get_json()
    assert reason in answer["message"] and answer["delivery_id"]
    (row,) = _rows(rt)
    assert (row.id, row.status, row.body) == (answer["delivery_id"], "rejected", body)


def test_values_the_database_cannot_hold_are_cleaned_not_fatal(client, rt):
    """A NUL character, a lone surrogate, an event type of 300 characters and a 1,000-character event
    id: PostgreSQL refuses all four as given; the delivery is stored and the body kept byte for byte."""
    event = zd_event("created", subject="Printer \u0000 on fire \ud800")
    event["type"] = "zen:event-type:ticket." + "x" * 300  # an event type we do not handle: ignored
    event["id"] = "id-" + "7" * 1000
    body = json.dumps(event).encode()
    r = post(client, "zendesk", None, body=body)
    assert r.status_code == 200 and r.get_json()["ignored"] is True
    (row,) = _rows(rt)
    assert row.body == body and len(row.event_type or "") == 128 and len(row.dedupe_key) <= 255
    again = post(client, "zendesk", None, body=body)  # the long id still deduplicates
    assert again.get_json() == {"delivery_id": row.id, "duplicate": True}


def test_a_nul_and_a_lone_surrogate_in_a_tickets_fields_do_not_poison_processing(client, rt):
    from tests.conftest import drain

    post(client, "zendesk", zd_event("created", subject="Printer \u0000 on fire \ud800"))
    drain(rt)
    (row,) = _rows(rt)
    assert row.status == "processed"
    ticket = client.get("/api/tickets/1", headers={"Authorization": "Bearer test-admin-token"}).get_json()
    assert ticket["title"] == "Printer \ufffd on fire \ufffd"


def test_an_adapter_that_fails_on_a_body_keeps_it_as_rejected(client, rt, monkeypatch):
    adapter = rt.adapters["zendesk"]

    def broken(**_: Any) -> Any:
        raise KeyError("detail")

    monkeypatch.setattr(adapter, "parse", broken)
    r = post(client, "zendesk", zd_event("created"))
    assert r.status_code == 400 and "adapter failed" in r.get_json()["message"]
    assert [row.status for row in _rows(rt)] == ["rejected"]


# ---- services failing: 503 when not stored, 202 when stored --------------------------------------


@contextmanager
def _failing_transaction(rt, exc: Exception, times: int):  # type: ignore[no-untyped-def]
    """The database failing the acknowledgement path's first `times` attempts: SQLite's transaction, or
    on PostgreSQL the pooled connection the writer's autocommit statement takes."""
    real, real_raw = rt.db.transaction, rt.db.engine.raw_connection
    calls = {"n": 0}

    def attempt() -> None:
        calls["n"] += 1
        if calls["n"] <= times:
            raise exc

    @contextmanager
    def flaky():  # type: ignore[no-untyped-def]
        attempt()
        with real() as conn:
            yield conn

    def flaky_raw():  # type: ignore[no-untyped-def]
        attempt()
        return real_raw()

    if rt.db.is_sqlite:
        rt.db.transaction = flaky
    else:
        rt.db.engine.raw_connection = flaky_raw
    try:
        yield calls
    finally:
        rt.db.transaction = real
        rt.db.engine.raw_connection = real_raw


def _down() -> OperationalError:
    return OperationalError("INSERT INTO deliveries ...", {}, ConnectionRefusedError("connection refused"))


def test_database_down_is_503_with_retry_after_and_nothing_acknowledged(client, rt):
    with _failing_transaction(rt, _down(), times=99):
        r = post(client, "zendesk", zd_event("created"))
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.get_json()["error"] == "unavailable"
    assert _count(rt) == 0


def test_a_connection_the_database_dropped_is_tried_once_more(client, rt):
    dropped = _down()
    dropped.connection_invalidated = True  # what SQLAlchemy says of a pooled connection killed by a restart
    with _failing_transaction(rt, dropped, times=1) as calls:
        r = post(client, "zendesk", zd_event("created"))
    assert r.status_code == 202 and calls["n"] == 2
    assert _count(rt) == 1


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'"),
        redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
    ],
    ids=["down", "full", "read-only"],
)
def test_a_queue_that_fails_after_the_row_is_stored_still_answers_202(client, rt, monkeypatch, error):
    refused: list[list[int]] = []

    def refuse(ids: list[int]) -> None:
        refused.append(list(ids))
        raise error

    monkeypatch.setattr(rt.queue, "notify_deliveries", refuse)
    r = post(client, "zendesk", zd_event("created"))
    assert r.status_code == 202
    (row,) = _rows(rt)
    assert row.status == "received"  # the reconciler enqueues it
    assert refused == [[r.get_json()["delivery_id"]]]  # the queue was asked, after the commit, and refused


def test_an_unexpected_failure_on_the_acknowledgement_path_is_503_not_500(client, monkeypatch):
    import webhooks.receivers

    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("something we did not foresee")

    monkeypatch.setattr(webhooks.receivers, "receive", boom)
    r = post(client, "zendesk", zd_event("created"))
    assert r.status_code == 503 and r.headers["Retry-After"] and r.get_json()["error"] == "unavailable"


# ---- size: a chunked body over the limit is 413, not cut ------------------------------------------


def _chunked(app, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    env = EnvironBuilder(path="/webhooks/zendesk", method="POST", headers=headers).get_environ()
    env.pop("CONTENT_LENGTH", None)
    env["wsgi.input"] = io.BytesIO(body)
    env["wsgi.input_terminated"] = True  # what a server sets for Transfer-Encoding: chunked
    env["HTTP_TRANSFER_ENCODING"] = "chunked"
    chunks, status, _ = run_wsgi_app(app.wsgi_app, env)
    return int(status.split()[0]), json.loads(b"".join(chunks))


def test_a_chunked_body_over_the_limit_is_413(app, rt):
    rt.settings = type(rt.settings)(**{**rt.settings.__dict__, "max_body_bytes": 2000})
    body = json.dumps(zd_event("created", subject="x" * 3000)).encode()
    status, answer = _chunked(app, body, signed("zendesk", body))
    assert status == 413 and answer["error"] == "payload_too_large"
    assert _count(rt) == 0


def test_a_chunked_body_under_the_limit_is_read_whole(app, rt):
    body = json.dumps(zd_event("created")).encode()
    status, answer = _chunked(app, body, signed("zendesk", body))
    assert status == 202
    assert _rows(rt)[0].body == body


# ---- replay of a captured body with a fresh delivery-id header ------------------------------------


def test_a_captured_jira_body_re_sent_with_a_fresh_identifier_is_a_duplicate(client, rt):
    body = json.dumps(
        {
            "timestamp": 1772809200000,
            "webhookEvent": "comment_created",
            "comment": {"id": "10500", "body": "Fixed", "author": {"accountId": "a1", "displayName": "Dev"}},
            "issue": {
                "id": "10457",
                "key": "PLAT-1",
                "self": "https://x.atlassian.net/rest/api/2/issue/10457",
                "fields": {"summary": "s"},
            },
        }
    ).encode()
    first = post(client, "jira", None, body=body, headers={"X-Atlassian-Webhook-Identifier": "original"})
    replayed = post(client, "jira", None, body=body, headers={"X-Atlassian-Webhook-Identifier": "forged-new"})
    assert first.status_code == 202
    assert replayed.status_code == 200 and replayed.get_json() == {
        "delivery_id": first.get_json()["delivery_id"],
        "duplicate": True,
    }
    assert _count(rt) == 1


def test_a_captured_zendesk_trigger_body_re_sent_with_a_fresh_invocation_id_is_a_duplicate(client, rt):
    body = json.dumps(
        {
            "ticket_id": "48213",
            "event": "commented",
            "latest_comment": "Thanks!",
            "latest_comment_public": "true",
            "updated_at": "2026-03-06T15:00:00Z",
        }
    ).encode()
    headers = signed("zendesk", body)
    first = client.post("/webhooks/zendesk", data=body, headers={**headers, "X-Zendesk-Webhook-Invocation-Id": "1"})
    replayed = client.post("/webhooks/zendesk", data=body, headers={**headers, "X-Zendesk-Webhook-Invocation-Id": "2"})
    assert first.status_code == 202 and replayed.status_code == 200
    assert replayed.get_json()["delivery_id"] == first.get_json()["delivery_id"]


def test_the_same_trigger_body_signed_at_another_time_is_a_new_delivery(client, rt):
    """Zendesk signs its timestamp with the body: an identical trigger body sent later (the same
    placeholders, another invocation) is not a replay."""
    from datetime import UTC, datetime, timedelta

    body = json.dumps({"ticket_id": "48213", "status": "open", "updated_at": "March 6, 2026"}).encode()
    now = datetime.now(UTC)
    a = client.post("/webhooks/zendesk", data=body, headers=signed("zendesk", body, at=now - timedelta(minutes=2)))
    b = client.post("/webhooks/zendesk", data=body, headers=signed("zendesk", body, at=now))
    assert (a.status_code, b.status_code) == (202, 202)
    assert _count(rt) == 2


# ---- a rejected body whose delivery id belongs to another stored body -----------------------------


def test_a_rejected_body_gets_its_own_delivery_id(client, rt):
    good = zd_event("created")
    accepted = post(client, "zendesk", good)
    bad = dict(good, detail={"id": "not a number"})  # the same event id, a body the adapter refuses
    # signed once and sent twice (a retry is the same request, its signature's timestamp too, which the
    # stored digest covers: the same body signed at another second is another delivery)
    body = json.dumps(bad).encode()
    once = signed("zendesk", body)
    refused = post(client, "zendesk", bad, body=body, headers=once)
    assert accepted.status_code == 202 and refused.status_code == 400
    assert refused.get_json()["delivery_id"] != accepted.get_json()["delivery_id"]
    assert [r.status for r in _rows(rt)] == ["received", "rejected"]
    again = post(client, "zendesk", bad, body=body, headers=once)  # the same refused body again: the same row, said so
    assert again.status_code == 400 and again.get_json()["delivery_id"] == refused.get_json()["delivery_id"]
    assert again.get_json()["duplicate"] is True


def test_a_readable_body_whose_event_id_names_a_rejected_one_is_stored_and_processed(client, rt):
    """The reverse order: the unreadable body first, then a readable one with the same event id. The
    readable one is not that rejected body's duplicate: it is kept (under its own digest) and processed;
    sent again, it is its own duplicate."""
    good = zd_event("created")
    bad = dict(good, detail={"id": "not a number"})
    refused = post(client, "zendesk", bad)
    body = json.dumps(good).encode()
    once = signed("zendesk", body)  # signed once, sent twice: a retry of the same request
    accepted = post(client, "zendesk", good, body=body, headers=once)
    assert refused.status_code == 400 and accepted.status_code == 202
    assert accepted.get_json()["delivery_id"] != refused.get_json()["delivery_id"]
    assert sorted(r.status for r in _rows(rt)) == ["received", "rejected"]
    again = post(client, "zendesk", good, body=body, headers=once)
    assert again.status_code == 200 and again.get_json() == {
        "delivery_id": accepted.get_json()["delivery_id"],
        "duplicate": True,
    }
