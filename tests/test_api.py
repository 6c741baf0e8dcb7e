"""The admin API: auth on every route, tickets, deliveries, mappings with versions and preview."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, drain
from tests.helpers import post, zd_event

ROUTES = [
    ("get", "/api/tickets"),
    ("get", "/api/tickets/1"),
    ("get", "/api/deliveries"),
    ("get", "/api/deliveries/1"),
    ("post", "/api/deliveries/1/replay"),
    ("get", "/api/mappings/zendesk"),
    ("put", "/api/mappings/zendesk"),
    ("get", "/api/mappings/zendesk/versions"),
    ("post", "/api/mappings/zendesk/rollback"),
    ("post", "/api/mappings/zendesk/preview"),
    ("post", "/api/simulate"),
    ("get", "/api/policy"),
    ("put", "/api/policy"),
    ("get", "/api/policy/versions"),
    ("post", "/api/policy/rollback"),
    ("get", "/api/reports/sla"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer "])
def test_every_admin_route_requires_the_token(client, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    r = getattr(client, method)(path, headers=headers)
    assert r.status_code == 401
    assert r.get_json()["message"]


def test_admin_api_is_disabled_without_a_token(database):
    from connector.wiring import build_runtime
    from tests.conftest import make_queue, make_settings
    from webhooks.app import create_app

    settings = make_settings(database, CONNECTOR_ADMIN_TOKEN="")
    client = create_app(
        build_runtime(settings, db=database, queue=make_queue(settings)), start_worker=False
    ).test_client()
    r = client.get("/api/tickets", headers={"Authorization": "Bearer "})
    assert r.status_code == 401
    assert "CONNECTOR_ADMIN_TOKEN" in r.get_json()["message"]


def test_health_is_public(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


def test_ticket_not_found_is_404(client):
    assert client.get("/api/tickets/999", headers=ADMIN).status_code == 404


def test_tickets_list_filters(client, rt):
    post(client, "zendesk", zd_event("created", ticket_id=1, priority="URGENT"))
    post(client, "zendesk", zd_event("created", ticket_id=2, priority="LOW"))
    drain(rt)
    assert client.get("/api/tickets", headers=ADMIN).get_json()["total"] == 2
    p0 = client.get("/api/tickets?severity=P0", headers=ADMIN).get_json()
    assert p0["total"] == 1 and p0["tickets"][0]["severity"] == "P0"


def test_deliveries_show_body_and_outcome(client, rt):
    r = post(client, "zendesk", zd_event("created"))
    drain(rt)
    d = client.get(f"/api/deliveries/{r.get_json()['delivery_id']}", headers=ADMIN).get_json()
    assert d["status"] == "processed"
    assert d["outcome"].startswith("ticket 1 created")
    assert d["body"]["type"] == "zen:event-type:ticket.created"
    assert "x-zendesk-webhook-signature" in d["headers"]


MAPPING_V1 = {
    "vendor": "zendesk",
    "shapes": {
        "event": {
            "fields": {
                "title": {"path": "detail.subject"},
                "severity": {"path": "detail.priority", "map": {"urgent": "P1", "normal": "P3"}},
            }
        }
    },
}


def test_mapping_versions_and_rollback(client, rt):
    shipped = client.get("/api/mappings/zendesk", headers=ADMIN).get_json()
    assert shipped["version"] == 0
    r = client.put("/api/mappings/zendesk?by=admin@example.com", json=MAPPING_V1, headers=ADMIN)
    assert r.status_code == 201 and r.get_json()["version"] == 1
    v2 = {**MAPPING_V1, "description": "second"}
    assert client.put("/api/mappings/zendesk", json=v2, headers=ADMIN).get_json()["version"] == 2
    back = client.post("/api/mappings/zendesk/rollback", json={"version": 1}, headers=ADMIN).get_json()
    assert back["version"] == 3
    versions = client.get("/api/mappings/zendesk/versions", headers=ADMIN).get_json()["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(1, False), (2, False), (3, True)]
    assert versions[2]["comment"] == "rollback to version 1"
    assert client.get("/api/mappings/zendesk", headers=ADMIN).get_json()["document"].get("description") is None


def test_invalid_mapping_is_400_with_the_path(client):
    bad = {"vendor": "zendesk", "shapes": {"event": {"fields": {"severity": {"map": {"a": "b"}}}}}}
    r = client.put("/api/mappings/zendesk", json=bad, headers=ADMIN)
    assert r.status_code == 400
    assert "shapes.event.fields.severity" in r.get_json()["message"]


def test_mapping_accepts_yaml(client):
    text = "vendor: zendesk\nshapes:\n  event:\n    fields:\n      title: {path: detail.subject}\n"
    r = client.put("/api/mappings/zendesk", data=text, headers={**ADMIN, "Content-Type": "application/yaml"})
    assert r.status_code == 201


def test_saved_mapping_applies_to_new_deliveries(client, rt):
    client.put("/api/mappings/zendesk", json=MAPPING_V1, headers=ADMIN)
    post(client, "zendesk", zd_event("created", priority="URGENT"))
    drain(rt)
    assert client.get("/api/tickets/1", headers=ADMIN).get_json()["severity"] == "P1"


def test_preview_a_draft_against_a_stored_delivery(client, rt):
    r = post(client, "zendesk", zd_event("created", priority="URGENT"))
    delivery_id = r.get_json()["delivery_id"]
    out = client.post(
        "/api/mappings/zendesk/preview", json={"delivery_id": delivery_id, "document": MAPPING_V1}, headers=ADMIN
    ).get_json()
    assert out["mapping"] == "draft"
    assert out["events"][0]["fields"] == {"title": "Cannot export invoices", "severity": "P1"}
    active = client.post("/api/mappings/zendesk/preview", json={"delivery_id": delivery_id}, headers=ADMIN).get_json()
    assert active["events"][0]["fields"]["severity"] == "P0"
    assert client.get("/api/tickets", headers=ADMIN).get_json()["total"] == 0  # preview touches nothing


def test_preview_needs_something_to_preview(client):
    r = client.post("/api/mappings/zendesk/preview", json={}, headers=ADMIN)
    assert r.status_code == 400


def test_sla_report_api_formats(client, rt):
    post(client, "zendesk", zd_event("created", priority="URGENT"))
    drain(rt)
    r = client.get("/api/reports/sla?since=2026-03-01&until=2026-03-31", headers=ADMIN)
    assert r.status_code == 200
    assert r.get_json()["tickets"] == 1
    csv = client.get("/api/reports/sla?since=2026-03-01&until=2026-03-31&format=csv", headers=ADMIN)
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).startswith("section,")
    assert "attachment" in csv.headers["Content-Disposition"]
    assert client.get("/api/reports/sla?since=yesterday-ish", headers=ADMIN).status_code == 400
    assert client.get("/api/reports/sla?format=xml", headers=ADMIN).status_code == 400
