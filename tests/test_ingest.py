"""The receiving edge: size, content type, signature, JSON, shape; store before acknowledging."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from connector.inbox.reconciler import reconcile
from connector.queue import JobQueue
from connector.store.tables import Delivery, Ticket, TimelineEntry
from connector.wiring import build_runtime
from tests.conftest import drain
from tests.helpers import post, signed, zd_event


def _count(rt, model=Delivery, **where) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.scalar(q)


def test_accepted_delivery_is_stored_then_acknowledged(client, rt):
    r = post(client, "zendesk", zd_event("created"))
    assert r.status_code == 202
    delivery_id = r.get_json()["delivery_id"]
    with rt.db.session() as s:
        d = s.get(Delivery, delivery_id)
        assert d.status == "received"
        assert d.event_type == "zen:event-type:ticket.created"
        assert json.loads(d.body)["type"] == "zen:event-type:ticket.created"
        assert "x-zendesk-webhook-signature-timestamp" in d.headers
    assert rt.queue.depth() == 1


def test_raw_body_is_stored_byte_for_byte(client, rt):
    body = b'{"type": "zen:event-type:ticket.created",  "extra":   "spacing kept"}'
    payload = json.loads(body)
    full = zd_event("created")
    full.update(payload)
    raw = json.dumps(full, indent=3).encode()
    r = post(client, "zendesk", None, body=raw)
    assert r.status_code == 202
    with rt.db.session() as s:
        assert s.get(Delivery, r.get_json()["delivery_id"]).body == raw


def test_wrong_secret_is_401_and_nothing_stored(client, rt):
    r = post(client, "zendesk", zd_event("created"), secret="not-the-secret")
    assert r.status_code == 401
    assert "signature" in r.get_json()["message"]
    assert _count(rt) == 0


def test_rotated_secret_is_accepted(client):
    assert post(client, "zendesk", zd_event("created"), secret="zd-secret-previous").status_code == 202


def test_tampered_body_is_401(client):
    body = json.dumps(zd_event("created")).encode()
    headers = signed("zendesk", body)
    r = client.post("/webhooks/zendesk", data=body.replace(b"Cannot", b"Can"), headers=headers)
    assert r.status_code == 401


def test_missing_signature_header_is_401(client):
    r = client.post("/webhooks/jira", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert "X-Hub-Signature" in r.get_json()["message"]


def test_zendesk_timestamp_outside_tolerance_is_401(client):
    body = json.dumps(zd_event("created")).encode()
    old = signed("zendesk", body, at=datetime.now(UTC) - timedelta(minutes=6))
    r = client.post("/webhooks/zendesk", data=body, headers=old)
    assert r.status_code == 401
    assert "tolerance" in r.get_json()["message"]


def test_instance_uses_its_own_secrets(client, rt):
    payload = zd_event("created")
    assert post(client, "zendesk", payload, instance="eu", secret="zd-secret-current").status_code == 401
    r = post(client, "zendesk", payload, instance="eu", secret="zd-eu-secret")
    assert r.status_code == 202
    with rt.db.session() as s:
        assert s.get(Delivery, r.get_json()["delivery_id"]).instance == "eu"


def test_instance_without_secret_is_rejected_unless_unsigned_allowed(client, rt):
    r = post(client, "jira", {"webhookEvent": "jira:issue_created"}, instance="lab")
    assert r.status_code == 401
    assert "JIRA_LAB_WEBHOOK_SECRETS" in r.get_json()["message"]


def test_unsigned_allowed_explicitly(database):
    from tests.conftest import make_queue, make_settings
    from webhooks.app import create_app

    settings = make_settings(database, CONNECTOR_ALLOW_UNSIGNED="pagerduty/lab")
    rt = build_runtime(settings, db=database, queue=make_queue(settings))
    client = create_app(rt, start_worker=False).test_client()
    body = json.dumps(
        {
            "event": {
                "id": "01UNSIGNED",
                "event_type": "service.created",
                "resource_type": "service",
                "occurred_at": "2026-03-06T15:00:00Z",
                "agent": None,
                "client": None,
                "data": {"id": "PSVC", "type": "service"},
            }
        }
    ).encode()
    r = client.post("/webhooks/pagerduty/lab", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.get_json()["ignored"] is True
    assert (
        client.post("/webhooks/pagerduty", data=body, headers={"Content-Type": "application/json"}).status_code == 401
    )


def test_not_json_is_400_and_kept(client, rt):
    r = post(client, "zendesk", None, body=b"ticket=1&status=open")
    assert r.status_code == 400
    assert "not valid JSON" in r.get_json()["message"]
    assert _count(rt, status="rejected") == 1


def test_wrong_content_type_is_415(client, rt):
    body = json.dumps(zd_event("created")).encode()
    headers = signed("zendesk", body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    r = client.post("/webhooks/zendesk", data=body, headers=headers)
    assert r.status_code == 415
    assert "application/json" in r.get_json()["message"]
    assert _count(rt) == 0


def test_over_size_limit_is_413(client, rt):
    payload = zd_event("created")
    payload["detail"]["description"] = "x" * (1024 * 1024)
    r = post(client, "zendesk", payload)
    assert r.status_code == 413
    assert "limit" in r.get_json()["message"]
    assert _count(rt) == 0


def test_unknown_shape_is_400_naming_the_field(client, rt):
    payload = zd_event("created")
    del payload["detail"]["id"]
    r = post(client, "zendesk", payload)
    assert r.status_code == 400
    assert "detail.id" in r.get_json()["message"]
    assert _count(rt, status="rejected") == 1


def test_unknown_event_type_is_200_ignored_and_counted(client, rt):
    payload = zd_event("created")
    payload["type"] = "zen:event-type:ticket.brand_changed"
    r = post(client, "zendesk", payload)
    assert r.status_code == 200
    assert r.get_json()["ignored"] is True
    assert _count(rt, status="ignored") == 1
    assert rt.queue.depth() == 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'connector_webhook_requests_total{outcome="ignored",vendor="zendesk"}' in metrics
    assert 'connector_deliveries{status="ignored",vendor="zendesk"} 1.0' in metrics


def test_unknown_vendor_is_404(client):
    assert (
        client.post("/webhooks/freshdesk", data=b"{}", headers={"Content-Type": "application/json"}).status_code == 404
    )


def test_duplicate_answers_200_with_the_original_id(client, rt):
    payload = zd_event("created")
    first = post(client, "zendesk", payload)
    again = post(client, "zendesk", payload)
    assert again.status_code == 200
    assert again.get_json() == {"delivery_id": first.get_json()["delivery_id"], "duplicate": True}
    assert rt.queue.depth() == 1


def test_fifty_concurrent_copies_store_one_process_once_change_once(app, rt):
    payload = zd_event("created")
    answers: list[tuple[int, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def send() -> None:
        client = app.test_client()
        start.wait()
        r = post(client, "zendesk", payload)
        with lock:
            answers.append((r.status_code, r.get_json()["delivery_id"]))

    threads = [threading.Thread(target=send) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(code for code, _ in answers) == [200] * 49 + [202]
    assert len({i for _, i in answers}) == 1
    assert _count(rt) == 1
    assert rt.queue.depth() == 1
    drain(rt)
    assert _count(rt, Ticket) == 1
    assert _count(rt, TimelineEntry, kind="created") == 1


def test_redis_down_at_ingest_loses_nothing(app, rt):
    working = rt.queue
    rt.queue = JobQueue.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    client = app.test_client()
    r = post(client, "pagerduty", _pd_triggered())
    assert r.status_code == 202
    assert client.get("/readyz").status_code == 503
    rt.queue = working  # Redis is back, empty
    assert working.depth() == 0
    assert reconcile(rt, stale_after=0) == 1
    drain(rt)
    with rt.db.session() as s:
        d = s.get(Delivery, r.get_json()["delivery_id"])
        assert d.status == "processed"
        assert d.ticket_id is not None


def test_reconciler_leaves_fresh_and_finished_deliveries_alone(client, rt):
    post(client, "zendesk", zd_event("created"))
    assert reconcile(rt) == 0  # fresh: its own job is queued
    drain(rt)
    assert reconcile(rt, stale_after=0) == 0  # processed


def _pd_triggered():  # type: ignore[no-untyped-def]
    from connector.demo import payloads as p
    from tests.helpers import T0

    inc = p.pd_incident(
        incident_id="PQ1",
        number=9,
        title="API down",
        status="triggered",
        incident_key="abc",
        priority="P1",
        urgency="high",
        created=T0,
    )
    return p.pd_event("incident.triggered", inc, T0, agent=None)
