"""The admin pages in a real browser: Playwright driving Debian's Chromium (`/usr/bin/chromium`,
headless) against the real app on a local port, on the test database. An admin signs in, opens the
Zendesk mapping, breaks it and sees the error at its line, fixes it, previews the draft against a
stored delivery and sees the canonical result change, saves with a note, rolls back, replays a dead
delivery and sees it processed, and reads a ticket's timeline; a viewer cannot save. One screenshot
per page is kept under build/screenshots/ for people to look at.

CI installs Chromium (`.ci/run`); without it here this module is skipped, saying so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from werkzeug.serving import make_server

from connector.runtime import Runtime
from connector.store import Database
from connector.store.tables import Delivery
from tests.conftest import drain, installed_runtime
from tests.helpers import post, zd_event

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parent.parent / "build" / "screenshots"
ADMIN, VIEWER = "test-admin-token", "test-viewer-token"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


@pytest.fixture
def site(database: Database) -> Iterator[tuple[Runtime, str]]:
    with installed_runtime(
        database, CONNECTOR_VIEWER_TOKEN=VIEWER, CONNECTOR_ALLOW_INSECURE_COOKIES="1", CONNECTOR_POLICY="signx"
    ) as rt:
        from webhooks.app import create_app

        app = create_app(rt, start_worker=False)
        client = app.test_client()
        for name, minutes, extra in (
            ("created", 0, {}),
            ("status_changed", 5, {"status": "OPEN", "event": {"current": "OPEN", "previous": "NEW"}}),
        ):
            assert post(client, "zendesk", zd_event(name, minutes=minutes, priority="HIGH", **extra)).status_code == 202
        drain(rt)
        # a delivery whose retries ran out (the database was down, say): dead, waiting for a replay
        assert post(client, "zendesk", zd_event("priority_changed", minutes=9, priority="URGENT")).status_code == 202
        with rt.db.session() as s:
            s.execute(
                update(Delivery)
                .where(Delivery.event_type == "zen:event-type:ticket.priority_changed")
                .values(status="dead", error="OperationalError: the database was unreachable (8 attempts)", attempts=8)
            )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield rt, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/admin/")
    assert "/admin/login" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/tickets")


def test_an_admin_edits_previews_saves_and_rolls_back_a_mapping(site: Any, browser: Any) -> None:
    rt, base = site
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/admin/login")
    shot(page, "login")
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    assert "not the admin's or the viewer's" in page.inner_text("#login-error")
    sign_in(page, base, ADMIN)
    assert "signed in as admin" in page.inner_text(".who")
    assert page.locator("#tickets tbody tr").count() == 1
    shot(page, "tickets")

    # the Zendesk mapping: valid as shipped
    page.goto(f"{base}/admin/mappings/zendesk")
    page.wait_for_function("document.querySelector('#validity').textContent === 'valid'")
    shot(page, "mapping")
    original = page.input_value("#doc")

    # an admin renamed a field at 2 a.m.: a canonical field that does not exist → the error at its line
    broken = original.replace("severity:", "sevrity:", 1)
    page.fill("#doc", broken)
    page.wait_for_function("document.querySelector('#validity').textContent.includes('problem')")
    problem = page.locator("#problems li").first
    text = problem.inner_text()
    assert "unknown canonical field 'sevrity'" in text
    line = int(problem.get_attribute("data-line") or 0)
    assert line > 0 and page.locator("#gutter span.bad").count() >= 1
    assert page.is_disabled("#save")
    shot(page, "mapping-error")

    # fixed; then a real change: urgent tickets become P1 instead of P0
    page.fill("#doc", original)
    page.wait_for_function("document.querySelector('#validity').textContent === 'valid'")
    assert "urgent: P0" in original
    draft = original.replace("urgent: P0", "urgent: P1", 1)
    page.fill("#doc", draft)
    page.wait_for_function("document.querySelector('#validity').textContent === 'valid'")
    # preview against the stored (dead) priority_changed delivery: the canonical severity is the draft's
    page.select_option("#delivery", index=1)
    page.click("#preview")
    page.wait_for_selector("#preview-result table.canonical")
    severity = page.locator("#preview-result tr[data-field=severity] td").nth(1).inner_text()
    assert severity == '"P1"'
    shot(page, "mapping-preview")

    # save: a note is required
    page.click("#save")
    assert "change note" in page.inner_text("#save-result")
    page.fill("#note", "urgent is P1 for us: P0 is for outages only")
    page.click("#save")
    page.wait_for_selector("#versions tr[data-version='1']")
    assert "urgent: P1" in page.input_value("#doc")
    with rt.db.session() as s:
        assert rt.mappings.active(s, vendor="zendesk").version == 1

    # the diff between the shipped default and version 1
    page.check("#versions tr[data-version='0'] input[name=from]")
    page.check("#versions tr[data-version='1'] input[name=to]")
    page.click("#diff")
    page.wait_for_selector("#diff-result span.add")
    assert "urgent: P1" in page.inner_text("#diff-result")

    # the shipped priorities again (version 2), then a roll back to version 1 (it becomes version 3)
    page.fill("#doc", original)
    page.wait_for_function("document.querySelector('#validity').textContent === 'valid'")
    page.fill("#note", "back to the shipped priorities")
    page.click("#save")
    page.wait_for_selector("#versions tr[data-version='2']")
    page.click("#versions tr[data-version='1'] button.rollback")
    page.wait_for_selector("#versions tr[data-version='3']")
    assert "urgent: P1" in page.input_value("#doc")
    shot(page, "mapping-history")

    # every change is in the audit log, with who and the note
    page.goto(f"{base}/admin/audit")
    audit = page.inner_text("#audit")
    assert "mapping.save" in audit and "urgent is P1 for us" in audit and "mapping.rollback" in audit
    assert "admin" in audit
    shot(page, "audit")
    assert errors == []  # no script failed on any page


def test_an_admin_replays_a_dead_delivery_and_reads_the_ticket(site: Any, browser: Any) -> None:
    rt, base = site
    page = browser.new_page()
    sign_in(page, base, ADMIN)
    page.goto(f"{base}/admin/deliveries?status=dead")
    rows = page.locator("#deliveries tbody tr")
    assert rows.count() == 1
    assert "database was unreachable" in rows.first.inner_text()
    shot(page, "deliveries-dead")
    rows.first.locator("button.replay").click()
    page.wait_for_function("document.querySelector('#deliveries tbody tr .status').textContent !== 'dead'")
    drain(rt)  # the worker processes the replayed delivery
    page.goto(f"{base}/admin/deliveries?status=processed")
    assert "priority_changed" in page.inner_text("#deliveries")
    page.goto(f"{base}/admin/deliveries?status=dead")
    assert "None." in page.inner_text("#deliveries")
    # its raw body, pretty-printed
    page.goto(f"{base}/admin/deliveries")
    page.locator("#deliveries tbody tr a").first.click()
    assert '"type": "zen:event-type:ticket.' in page.inner_text("#body")
    shot(page, "delivery")

    # the ticket: the replayed priority change raised it to P0, its level, links, clocks and timeline
    page.goto(f"{base}/admin/tickets/1")
    timeline = page.inner_text("#timeline")
    assert "ticket created from zendesk ticket 501" in timeline
    assert "severity: P1 → P0" in timeline
    assert page.inner_text("#level") == "L3"  # signx: P0 escalates to L3
    assert "zendesk ticket 501 (origin)" in page.inner_text("#links")
    page.wait_for_function(
        "document.querySelector('.countdown') === null || document.querySelector('.countdown').textContent !== ''"
    )
    shot(page, "ticket")
    page.goto(f"{base}/admin/outbox")
    assert "page_trigger" in page.inner_text("#outbox")
    shot(page, "outbox")


def test_a_viewer_sees_everything_and_cannot_save(site: Any, browser: Any) -> None:
    rt, base = site
    page = browser.new_page()
    sign_in(page, base, VIEWER)
    assert "(read-only)" in page.inner_text(".who")
    page.goto(f"{base}/admin/mappings/zendesk")
    page.wait_for_function("document.querySelector('#validity').textContent === 'valid'")
    page.fill("#note", "a viewer trying")
    page.click("#save")
    page.wait_for_function("document.querySelector('#save-result').textContent.startsWith('Not saved')")
    assert "viewer token reads; it cannot change anything" in page.inner_text("#save-result")
    with rt.db.session() as s:
        assert rt.mappings.active(s, vendor="zendesk").version == 0
    page.goto(f"{base}/admin/deliveries?status=dead")
    page.locator("#deliveries button.replay").first.click()
    page.wait_for_selector("#flash.bad")
    assert "cannot change anything" in page.inner_text("#flash")
    shot(page, "viewer")
    # signing out ends the session
    page.click("header button[type=submit]")
    page.wait_for_url(f"{base}/admin/login")
    page.goto(f"{base}/admin/tickets")
    assert "/admin/login" in page.url
    assert datetime.now(UTC)  # the session cookie is gone with it


def test_an_admin_edits_the_policy_and_asks_what_would_happen(site: Any, browser: Any) -> None:
    rt, base = site
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base, ADMIN)
    page.goto(f"{base}/admin/policy")
    page.wait_for_function("document.querySelector('#validity').textContent === 'valid'")
    assert "signx" in page.inner_text("h1")
    original = page.input_value("#doc")
    # a target that is not a duration: the problem named at its line
    assert "    target: 1h\n" in original
    broken = original.replace("    target: 1h\n", "    target: soon\n", 1)
    assert broken != original
    page.fill("#doc", broken)
    page.wait_for_function("document.querySelector('#validity').textContent.includes('problem')")
    problem = page.locator("#problems li").first
    assert problem.get_attribute("data-line") not in (None, "")
    shot(page, "policy-error")
    page.fill("#doc", original)
    page.wait_for_function("document.querySelector('#validity').textContent === 'valid'")
    # what would happen: an Enterprise P1 opened on a Friday afternoon, acknowledged, answered, resolved
    page.fill("#sim-severity", "P1")
    page.click("#simulate")
    page.wait_for_selector("#sim-timeline tbody tr")
    story = page.inner_text("#sim-timeline")
    assert "page oncall_primary" in story and "raise_level L3" in story  # signx: P0/P1 → L3 and a page
    assert page.locator("#sim-clocks tbody tr").count() >= 2
    shot(page, "policy-simulate")
    # save with a note: version 1, audited
    page.fill("#note", "checked the seed's P1 path")
    page.click("#save")
    page.wait_for_selector("#versions tr[data-version='1']")
    with rt.db.session() as s:
        assert rt.policies.active(s).version == 1
    page.goto(f"{base}/admin/audit")
    assert "policy.save" in page.inner_text("#audit") and "checked the seed's P1 path" in page.inner_text("#audit")
    assert errors == []


def test_the_reports_page_charts_compliance_and_downloads_csv(site: Any, browser: Any) -> None:
    from connector.sla.due import sweep

    rt, base = site
    # March's tickets: their clocks ran out long ago (recorded once the burst they came in has settled)
    sweep(rt.db, rt.policies, now=datetime.now(UTC) + timedelta(minutes=2))
    page = browser.new_page()
    sign_in(page, base, ADMIN)
    page.goto(f"{base}/admin/reports?since=2026-03-01&until=2026-03-31")
    assert page.locator("#compliance-chart rect").count() >= 1
    assert page.locator("#trend-chart rect").count() == 8
    assert "first_response" in page.inner_text("#compliance")
    assert "breached its" in page.inner_text("#breaches") or "no public agent reply" in page.inner_text("#breaches")
    assert "owed" in page.inner_text("#postmortems")
    shot(page, "reports")
    href = page.get_attribute("#csv", "href")
    assert href is not None
    csv = page.request.get(f"{base}{href}")  # with the page's session: the link works for the signed-in
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text().splitlines()[0].startswith("section,since,until")


def test_replaying_every_dead_delivery_from_the_list(site: Any, browser: Any) -> None:
    rt, base = site
    page = browser.new_page()
    sign_in(page, base, ADMIN)
    page.goto(f"{base}/admin/deliveries?status=dead&vendor=zendesk")
    page.click("button.replay-all")
    page.wait_for_selector("#flash:not([hidden])")
    assert "Replayed 1." in page.inner_text("#flash")
    drain(rt)
    page.goto(f"{base}/admin/deliveries?status=dead")
    assert "None." in page.inner_text("#deliveries")
    page.goto(f"{base}/admin/outbox?status=not_sent")
    shot(page, "outbox-not-sent")
