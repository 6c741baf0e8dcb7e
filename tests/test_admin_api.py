"""What the admin pages stand on, at the HTTP level: who may do what (the admin token, the viewer
token, the session cookie with its flags and its CSRF token), the audit log of every change, and the
editor's helpers (a draft's problems at their lines, the diff of two versions, mapping suggestions
for a pasted trigger body)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.store import Database
from tests.conftest import ADMIN, drain, installed_runtime
from tests.helpers import post, zd_event

VIEWER = {"Authorization": "Bearer test-viewer-token"}
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    with installed_runtime(database, CONNECTOR_VIEWER_TOKEN="test-viewer-token") as runtime:
        yield runtime


@pytest.fixture
def client(rt: Runtime) -> FlaskClient:
    from webhooks.app import create_app

    return create_app(rt, start_worker=False).test_client()


def shipped(rt: Runtime, vendor: str = "zendesk") -> str:
    from connector.store.documents import as_yaml

    return as_yaml(rt.mappings.engine.default(vendor).dump())


def sign_in(client: FlaskClient, token: str) -> tuple[str, Any]:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf is not None
    answer = client.post("/admin/login", data={"token": token, "csrf_token": csrf.group(1)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    page = client.get("/admin/tickets")
    meta = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert meta is not None
    return meta.group(1), answer


def test_the_viewer_token_reads_everything_and_changes_nothing(rt: Runtime, client: FlaskClient) -> None:
    for path in (
        "/api/tickets",
        "/api/deliveries",
        "/api/outbox",
        "/api/mappings/zendesk",
        "/api/policy",
        "/api/audit",
    ):
        assert client.get(path, headers=VIEWER).status_code == 200, path
    # computing is not changing: a draft's validation and a preview are open to the viewer
    draft = client.post("/api/mappings/zendesk/validate", data=shipped(rt), headers={**VIEWER, **YAML})
    assert draft.status_code == 200 and draft.get_json()["valid"] is True
    for method, path in (
        ("put", "/api/mappings/zendesk?comment=x"),
        ("post", "/api/mappings/zendesk/rollback"),
        ("put", "/api/policy"),
        ("post", "/api/deliveries/1/replay"),
        ("post", "/api/outbox/1/replay"),
        ("post", "/api/followups/1/done"),
    ):
        answer = getattr(client, method)(path, data=shipped(rt), headers={**VIEWER, **YAML})
        assert answer.status_code == 403, (method, path)
        assert answer.get_json()["message"] == "the viewer token reads; it cannot change anything"
    assert client.get("/api/audit", headers=ADMIN).get_json()["entries"] == []
    assert client.get("/api/tickets", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_session_cookie_is_httponly_lax_and_secure_and_writes_need_its_csrf_token(
    rt: Runtime, client: FlaskClient
) -> None:
    csrf, answer = sign_in(client, "test-admin-token")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "test-admin-token" not in cookie
    assert client.get("/api/tickets").status_code == 200  # the session reads like the token
    no_token = client.put("/api/mappings/zendesk?comment=x", data=shipped(rt), headers=YAML)
    assert no_token.status_code == 403 and "CSRF" in no_token.get_json()["message"]
    wrong = client.put("/api/mappings/zendesk?comment=x", data=shipped(rt), headers={**YAML, "X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    saved = client.put(
        "/api/mappings/zendesk?comment=from+the+page", data=shipped(rt), headers={**YAML, "X-CSRF-Token": csrf}
    )
    assert saved.status_code == 201
    [entry] = client.get("/api/audit").get_json()["entries"]
    assert (entry["actor"], entry["action"], entry["target"], entry["note"]) == (
        "admin",
        "mapping.save",
        "zendesk/default",
        "from the page",
    )
    # signing out needs the token too (no one can sign you out from another site), then it is over
    assert client.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/admin/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/api/tickets").status_code == 401
    assert client.get("/admin/tickets").status_code == 302


def test_plain_http_development_drops_secure_only_when_allowed(database: Database) -> None:
    from webhooks.app import create_app

    with installed_runtime(database, CONNECTOR_ALLOW_INSECURE_COOKIES="1") as rt:
        _, answer = sign_in(create_app(rt, start_worker=False).test_client(), "test-admin-token")
        assert "Secure" not in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]


def test_a_session_ends_when_its_token_is_rotated(database: Database) -> None:
    from webhooks.app import create_app

    with installed_runtime(database, CONNECTOR_SECRET_KEY="fixed-key-for-both") as rt:
        client = create_app(rt, start_worker=False).test_client()
        sign_in(client, "test-admin-token")
        cookie = client.get_cookie("connector_session")
        assert cookie is not None
    with installed_runtime(database, CONNECTOR_SECRET_KEY="fixed-key-for-both", CONNECTOR_ADMIN_TOKEN="rotated") as rt:
        other = create_app(rt, start_worker=False).test_client()
        other.set_cookie("connector_session", cookie.value)
        assert other.get("/api/tickets").status_code == 401


def test_every_change_is_audited_with_who_and_the_note(rt: Runtime, client: FlaskClient) -> None:
    assert post(client, "zendesk", zd_event("created", priority="URGENT")).status_code == 202
    drain(rt)
    client.put("/api/mappings/zendesk?comment=tier+tags", data=shipped(rt), headers={**ADMIN, **YAML})
    client.post("/api/mappings/zendesk/rollback?comment=undo", json={"version": 1}, headers=ADMIN)
    client.put("/api/policy?comment=seed+001", json={"document": "signx"}, headers=ADMIN)
    client.post("/api/deliveries/1/replay", headers=ADMIN)
    client.post("/api/outbox/1/replay", headers=ADMIN)
    entries = client.get("/api/audit", headers=ADMIN).get_json()["entries"]
    assert [e["action"] for e in entries] == [
        "outbox.replay",
        "delivery.replay",
        "policy.save",
        "mapping.rollback",
        "mapping.save",
    ]
    assert {e["actor"] for e in entries} == {"admin"}
    assert [e["note"] for e in entries][2:] == ["seed 001", "undo", "tier tags"]
    # paged with a cursor
    first = client.get("/api/audit?limit=2", headers=ADMIN).get_json()
    assert len(first["entries"]) == 2 and first["next_before"] == first["entries"][-1]["id"]
    rest = client.get(f"/api/audit?limit=10&before={first['next_before']}", headers=ADMIN).get_json()
    assert [e["action"] for e in rest["entries"]] == ["policy.save", "mapping.rollback", "mapping.save"]
    # and in the history of versions, who saved each
    versions = client.get("/api/mappings/zendesk/versions", headers=ADMIN).get_json()["versions"]
    assert [v["created_by"] for v in versions] == ["admin", "admin"]


def test_a_drafts_problems_come_with_the_line_they_are_at(rt: Runtime, client: FlaskClient) -> None:
    text = shipped(rt)
    broken = text.replace("severity:", "sevrity:", 1)
    answer = client.post("/api/mappings/zendesk/validate", data=broken, headers={**ADMIN, **YAML}).get_json()
    assert answer["valid"] is False
    [problem] = answer["problems"]
    assert "unknown canonical field 'sevrity'" in problem["message"]
    assert problem["path"].startswith("shapes.")
    lines = broken.splitlines()
    assert problem["line"] is not None and lines[problem["line"] - 1].strip().endswith(":")
    # a misspelt key of one rule: the line of that very key
    assert "transform: lower" in text
    typo = text.replace("transform: lower", "transfrom: lower", 1)
    answer = client.post("/api/mappings/zendesk/validate", data=typo, headers={**ADMIN, **YAML}).get_json()
    [problem] = answer["problems"]
    assert problem["path"].endswith(".transfrom") and "transfrom: lower" in typo.splitlines()[problem["line"] - 1]
    # YAML that does not parse: the line the parser stopped at
    answer = client.post(
        "/api/mappings/zendesk/validate",
        data="vendor: zendesk\nshapes:\n  event: [unclosed\n",
        headers={**ADMIN, **YAML},
    ).get_json()
    assert answer["valid"] is False and answer["problems"][0]["line"] in (3, 4)
    # another vendor's document
    answer = client.post(
        "/api/mappings/zendesk/validate", data=shipped(rt, "jira"), headers={**ADMIN, **YAML}
    ).get_json()
    assert answer["problems"][0]["path"] == "vendor" and answer["problems"][0]["line"] is not None


def test_the_diff_between_two_versions(rt: Runtime, client: FlaskClient) -> None:
    changed = shipped(rt).replace("urgent: P0", "urgent: P1", 1)
    client.put("/api/mappings/zendesk?comment=urgent+is+P1", data=changed, headers={**ADMIN, **YAML})
    diff = client.get("/api/mappings/zendesk/diff?from=0&to=1", headers=ADMIN).get_json()["diff"]
    assert "-" in diff and "+" in diff
    assert [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")] == [
        ln.replace("-", "+", 1).replace("P0", "P1")
        for ln in diff.splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    ]
    assert client.get("/api/mappings/zendesk/versions/1", headers=ADMIN).get_json()["yaml"] == changed
    assert client.get("/api/mappings/zendesk/versions/7", headers=ADMIN).status_code == 404


def test_a_pasted_trigger_body_gets_mapping_suggestions(rt: Runtime, client: FlaskClient) -> None:
    body = {
        "ticket_id": "48213",
        "ticket_title": "Export fails",
        "ticket_priority": "Urgent",
        "ticket_status": "Open",
        "requester_email": "dana@northwind.example",
        "ticket_tags": "enterprise billing",
    }
    answer = client.post("/api/mappings/zendesk/preview", json={"payload": body}, headers=ADMIN).get_json()
    suggested = {s["key"]: s["field"] for s in answer["suggestions"]}
    assert suggested["ticket_title"] == "title" and suggested["ticket_priority"] == "severity"
    assert suggested["ticket_status"] == "status" and suggested["requester_email"] == "requester_email"
    assert suggested["ticket_tags"] == "tags"


def test_ticket_filters_and_keyset_paging(rt: Runtime, client: FlaskClient) -> None:
    from connector.demo import payloads as p
    from connector.sla.due import sweep

    for n in range(5):
        body = zd_event(
            "created", ticket_id=600 + n, priority="URGENT" if n == 4 else "NORMAL", subject=f"Export {n} fails"
        )
        assert post(client, "zendesk", body).status_code == 202
    issue = p.jira_issue(
        issue_id="10077",
        key="SUP-77",
        summary="Billing portal down",
        description="",
        status="To Do",
        category="new",
        priority="Medium",
        labels=[],
        reporter=("5b10ac8d82e05b22cc7d4ef5", "Priya Raman"),
        created="2026-03-06T15:00:00.000+0000",
    )
    from tests.helpers import T0

    assert post(client, "jira", p.jira_event("jira:issue_created", issue, T0)).status_code == 202
    drain(rt)
    # the tickets are from March: their first-response clocks ran out long ago (once the burst settles)
    sweep(rt.db, rt.policies, now=datetime.now(UTC) + timedelta(minutes=2))

    def ids(query: str) -> list[int]:
        answer = client.get(f"/api/tickets?{query}", headers=ADMIN)
        assert answer.status_code == 200, answer.get_json()
        return [t["id"] for t in answer.get_json()["tickets"]]

    assert ids("vendor=jira") == [6]
    assert ids("vendor=zendesk") == [5, 4, 3, 2, 1]
    assert ids("q=export+3") == [4] and ids("q=50%25") == []  # a % is a character, not a wildcard
    escalated = ids("support_level=L3")
    assert 5 in escalated and not {1, 2, 3, 4} & set(escalated)  # the urgent one escalated (signx: P0 → L3)
    assert set(ids("sla=breached")) == {1, 2, 3, 4, 5, 6}
    assert ids("sla=at_risk") == []
    assert client.get("/api/tickets?sla=late", headers=ADMIN).status_code == 400
    # keyset paging: two at a time, each page's cursor the next page's start; no count when asked
    first = client.get("/api/tickets?limit=2&count=false", headers=ADMIN).get_json()
    assert [t["id"] for t in first["tickets"]] == [6, 5] and first["total"] is None and first["next_before"] == 5
    second = client.get(f"/api/tickets?limit=2&before={first['next_before']}", headers=ADMIN).get_json()
    assert [t["id"] for t in second["tickets"]] == [4, 3] and second["total"] == 6
    last = client.get("/api/tickets?limit=2&before=3", headers=ADMIN).get_json()
    assert [t["id"] for t in last["tickets"]] == [2, 1]
    assert client.get("/api/tickets?limit=2&before=1", headers=ADMIN).get_json()["tickets"] == []


def test_replaying_a_filtered_selection(rt: Runtime, client: FlaskClient) -> None:
    from sqlalchemy import update

    from connector.store.tables import Delivery

    for n in range(3):
        assert post(client, "zendesk", zd_event("created", ticket_id=700 + n)).status_code == 202
    drain(rt)
    with rt.db.session() as s:
        s.execute(update(Delivery).where(Delivery.id.in_((1, 2))).values(status="dead", error="gave up"))
    refused = client.post("/api/deliveries/replay", json={"status": "processed"}, headers=ADMIN)
    assert refused.status_code == 400 and "status: one of" in refused.get_json()["message"]
    assert client.post("/api/deliveries/replay", json={"status": "dead"}, headers=VIEWER).status_code == 403
    done = client.post("/api/deliveries/replay", json={"status": "dead", "vendor": "zendesk"}, headers=ADMIN)
    assert done.status_code == 202 and done.get_json()["replayed"] == 2
    assert sorted(d["delivery_id"] for d in done.get_json()["deliveries"]) == [1, 2]
    drain(rt)
    dead = client.get("/api/deliveries?status=dead", headers=ADMIN).get_json()["deliveries"]
    assert dead == []
    [entry] = client.get("/api/audit?action=delivery.replay", headers=ADMIN).get_json()["entries"]
    assert entry["target"] == "2 deliveries" and sorted(entry["data"]["ids"]) == [1, 2]
    nothing = client.post("/api/outbox/replay", json={"status": "dead"}, headers=ADMIN)
    assert nothing.status_code == 202 and nothing.get_json()["replayed"] == 0


def test_the_mapping_page_opens_any_instance(rt: Runtime, client: FlaskClient) -> None:
    sign_in(client, "test-admin-token")
    page = client.get("/admin/mappings/zendesk?instance=eu").get_data(as_text=True)
    assert 'data-instance="eu"' in page and 'name="instance" value="eu"' in page
    assert "active version 0" in page  # eu has none of its own yet: the default one applies
    assert client.get("/admin/mappings/zendesk?instance=EU!").status_code == 400
