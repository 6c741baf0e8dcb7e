"""`connector demo`: the seeds' scenarios end to end on the embedded default.

Starts the real app on a free local port with a temporary SQLite database and the in-process
queue, sends signed webhooks from all three vendors over HTTP, waits for the worker, and prints
the canonical tickets with their timelines. A composition root: it builds its runtime through
`connector.wiring` and signs with the vendors' adapters, as the vendors would.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

from connector.config import Settings
from connector.demo import payloads as p
from connector.demo.act_one import act_one
from connector.demo.render import (
    render_jira,
    render_pages,
    render_received,
    render_simulation,
    render_ticket,
    render_zendesk,
)
from connector.demo.simulators import JiraSimulator, PagerDutySimulator, ZendeskSimulator
from connector.inbox.deliveries import count_unfinished
from connector.outbox import counts_by_status
from connector.runtime import Runtime
from connector.store.tables import OUTBOX_FINAL
from connector.wiring import build_runtime

__all__ = ["run_demo", "render_jira", "render_pages", "render_simulation", "render_ticket", "render_zendesk"]

#: The "what happens if this ticket arrives now" dry run the demo ends with (policy: signx, seed 001):
#: a P1 opened late on a Friday is paged at once (P0/P1 escalate automatically), acknowledged in
#: PagerDuty 20 minutes later, answered on Monday, raised to P0, and resolved on Tuesday.
SCENARIO: dict[str, Any] = {
    "policy": "signx",
    "ticket": {"severity": "P1", "customer_tier": "enterprise", "category": "technical", "channel": "web"},
    "events": [
        {"at": "2026-03-06T16:30:00-05:00", "type": "created"},
        {"at": "2026-03-06T16:50:00-05:00", "type": "acknowledged"},
        {"at": "2026-03-09T09:10:00-04:00", "type": "public_reply", "author": "agent"},
        {"at": "2026-03-09T09:40:00-04:00", "type": "status", "status": "waiting_on_customer"},
        {"at": "2026-03-09T15:00:00-04:00", "type": "status", "status": "open"},
        {"at": "2026-03-09T15:05:00-04:00", "type": "severity", "severity": "P0"},
        {"at": "2026-03-10T14:00:00-04:00", "type": "resolved"},
    ],
    "until": "2026-03-11T00:00:00Z",
}
SECRETS = {"zendesk": "demo-zendesk-secret", "jira": "demo-jira-secret", "pagerduty": "demo-pagerduty-secret"}
ADMIN_TOKEN = "demo-admin-token"
#: Events API routing keys of the demo's PagerDuty services (the local simulator takes any)
ROUTING_KEYS = {
    "oncall_primary": "R0DEMOPRIMARY0000000000000000001",
    "oncall_secondary": "R0DEMOSECONDARY00000000000000002",
}


def _headers(rt: Runtime, vendor: str, body: bytes) -> dict[str, str]:
    """What the vendor would send: its signature, and Jira's delivery identifier (Jira's dedupe key)."""
    headers = {
        "Content-Type": "application/json",
        **rt.adapter(vendor).sign(body=body, secret=SECRETS[vendor], now=datetime.now(UTC)),
    }
    if vendor == "jira":
        headers["X-Atlassian-Webhook-Identifier"] = f"demo-{hash(body) & 0xFFFFFFFF:x}"
    return headers


def run_demo(
    *,
    as_json: bool = False,
    db_path: str | None = None,
    echo: Callable[[str], None] = print,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Run the story; the result goes to `echo`, progress lines to `progress` (with `as_json`, by default
    standard error, so that `connector demo --json | jq` reads only JSON)."""
    if progress is None:
        progress = (lambda line: print(line, file=sys.stderr)) if as_json else echo
    import logging

    from webhooks.app import create_app

    logging.getLogger().setLevel(logging.WARNING)  # the demo prints its own story
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = None
    if db_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="connector-demo-")
        db_path = str(Path(tmp.name) / "demo.db")
    pagerduty = PagerDutySimulator().start()
    jira = JiraSimulator().start()
    zendesk = ZendeskSimulator().start()
    settings = Settings.from_env(
        {
            "ZENDESK_URL": zendesk.url,
            "ZENDESK_EMAIL": "support-bot@northwind.example",
            "ZENDESK_API_TOKEN": "demo-zendesk-api-token",
            "JIRA_URL": jira.url,
            "JIRA_EMAIL": "support-bot@northwind.example",
            "JIRA_API_TOKEN": "demo-jira-api-token",
            "JIRA_PROJECT": "ENG",
            "DATABASE_URL": f"sqlite:///{db_path}",
            "CONNECTOR_ADMIN_TOKEN": ADMIN_TOKEN,
            **{f"{v.upper()}_WEBHOOK_SECRETS": s for v, s in SECRETS.items()},
            "PAGERDUTY_EVENTS_URL": pagerduty.url,
            "PAGERDUTY_ROUTING_KEYS": ",".join(f"{t}={k}" for t, k in ROUTING_KEYS.items()),
        }
    )
    rt = build_runtime(settings)
    rt.db.upgrade()  # a new embedded SQLite database
    app = create_app(rt)  # embedded: starts the in-process worker
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        progress(f"connector demo — app on {base}, database {db_path}, embedded queue")
        progress(f"PagerDuty: a local Events API v2 simulator on {pagerduty.url}")
        progress(f"Jira: a local REST API v2 simulator on {jira.url} (linked engineering issues)")
        progress(f"Zendesk: a local REST API simulator on {zendesk.url} (notes, status, the Jira key)\n")
        with requests.Session() as http:

            def send(vendor: str, what: str, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                r = http.post(f"{base}/webhooks/{vendor}", data=body, headers=_headers(rt, vendor, body), timeout=10)
                progress(f"  {vendor:<9} {what:<62} → {r.status_code} {r.text.strip()}")

            now = datetime.now(UTC)
            for vendor, what, payload in act_one(now):
                send(vendor, what, payload)
            _wait_processed(rt)
            _escalation_story(rt, http, base, pagerduty, jira, send, now, progress)
            _wait_outbox(rt)
            _wait_outbox(rt, "zendesk")
            tickets = http.get(
                f"{base}/api/tickets", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
            ).json()["tickets"]
            full = [
                http.get(
                    f"{base}/api/tickets/{t['id']}", timeout=10, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                ).json()
                for t in sorted(tickets, key=lambda t: t["id"])
            ]
            simulated = http.post(
                f"{base}/api/simulate", json=SCENARIO, timeout=10, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ).json()
        if as_json:
            echo(json.dumps(full, indent=2))
            return len(full)
        for t in full:
            echo("")
            echo(render_ticket(t))
        echo("")
        echo(render_pages(pagerduty))
        echo("")
        echo(render_jira(jira))
        echo("")
        echo(render_zendesk(zendesk))
        echo("")
        for name, sim in (("PagerDuty", pagerduty), ("Jira", jira), ("Zendesk", zendesk)):
            echo(render_received(name, sim))
        echo("")
        echo(render_simulation(simulated))
        return len(full)
    finally:
        server.shutdown()
        rt.close()
        pagerduty.stop()
        jira.stop()
        zendesk.stop()
        if tmp is not None:
            tmp.cleanup()


Send = Callable[[str, str, dict[str, Any]], None]


def _escalation_story(
    rt: Runtime,
    http: requests.Session,
    base: str,
    pagerduty: PagerDutySimulator,
    jira: JiraSimulator,
    send: Send,
    now: datetime,
    progress: Callable[[str], None],
) -> None:
    """Act two: an Enterprise P0 arrives, on-call is paged once, nobody acknowledges within the seed's
    15 minutes, the secondary on-call is paged ("Backup for critical issues"); its Jira issue and its
    Zendesk ticket talk (an engineer's comment becomes a note, the customer's reply a Jira comment,
    Jira done sends the ticket back to the agent), and resolving the ticket resolves both pages. The
    ticket was opened 40 minutes ago (the tools tell of the past), so the acknowledgement clock has
    already run out when the page's incident is reported."""
    progress("\n  escalation: an Enterprise P0 arrives; nobody acknowledges the page")
    opened = now - timedelta(minutes=40)
    zd: dict[str, Any] = dict(
        ticket_id=48230,
        subject="Checkout API answers 503 for every enterprise customer",
        description="All checkouts fail since 14:02. Our storefront is down.",
        requester_id="20077902",
        organization_id="360099001188",
        tags=["checkout", "tier_enterprise"],
        created=opened,
        channel="web",
    )
    send(
        "zendesk",
        "an Enterprise P0 arrives",
        p.zendesk_event("created", p.zendesk_ticket(**zd, status="NEW", priority="URGENT", updated=opened), {}, opened),
    )
    _wait_processed(rt)
    ticket = max(_tickets(http, base), key=lambda t: t["id"])
    key = f"hdc-ticket-{ticket['id']}/oncall_primary"
    _wait_for_page(pagerduty, "trigger", key)
    incident = dict(
        incident_id="Q1CHK503ENTRP9",
        number=1208,
        title=ticket["title"],
        incident_key=key,
        priority="P1",
        urgency="high",
        created=opened + timedelta(minutes=1),
    )
    send(
        "pagerduty",
        "PagerDuty opens an incident for the page; nobody acknowledges",
        p.pd_event("incident.triggered", p.pd_incident(**incident, status="triggered"), opened + timedelta(minutes=1)),
    )
    _wait_processed(rt)
    # the acknowledgement clock ran out 15 min after the page: the sweeper pages the secondary
    secondary = f"hdc-ticket-{ticket['id']}/oncall_secondary"
    _wait_for_page(pagerduty, "trigger", secondary)
    _sync_story(rt, jira, send, zd, ticket["id"], opened)
    solved = now + timedelta(seconds=1)
    send(
        "zendesk",
        "the ticket is solved",
        p.zendesk_event(
            "status_changed",
            p.zendesk_ticket(**zd, status="SOLVED", priority="URGENT", updated=solved),
            {"current": "SOLVED", "previous": "OPEN"},
            solved,
        ),
    )
    _wait_processed(rt)
    _wait_for_page(pagerduty, "resolve", key)
    _wait_for_page(pagerduty, "resolve", secondary)


def _tickets(http: requests.Session, base: str) -> list[dict[str, Any]]:
    answer = http.get(f"{base}/api/tickets", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    tickets: list[dict[str, Any]] = answer.json()["tickets"]
    return tickets


def _sync_story(
    rt: Runtime, jira: JiraSimulator, send: Send, zd: dict[str, Any], ticket_id: int, opened: datetime
) -> None:
    """The ticket's Jira issue and its Zendesk ticket talking, through the connector."""
    _wait_outbox(rt)
    key = next(k for k, i in jira.issues.items() if f"hdc-ticket-{ticket_id}" in (i["fields"].get("labels") or []))
    made = jira.issues[key]
    issue = p.jira_issue(
        issue_id=made["id"],
        key=key,
        summary=str(made["fields"].get("summary") or ""),
        description=str(made["fields"].get("description") or ""),
        status="In Progress",
        category="indeterminate",
        priority="Highest",
        labels=list(made["fields"].get("labels") or []),
        reporter=("712020:demo-support-bot", "Support Bot"),
        created=(opened + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    engineer = ("5b10ac8d82e05b22cc7d4ef5", "Priya Raman")
    found = opened + timedelta(minutes=25)
    send(
        "jira",
        f"an engineer comments on {key}",
        p.jira_comment(
            issue,
            comment_id="30001",
            body="Found it: the 14:00 config push dropped the checkout pool. Rolling back.",
            public=False,
            at=found,
            author=engineer,
        ),
    )
    _wait_processed(rt)
    replied = opened + timedelta(minutes=28)
    reply = {
        "comment": {
            "id": "41230001",
            "body": "Still failing for our EU storefront as of 14:30.",
            "is_public": True,
            "author": {"id": zd["requester_id"], "is_staff": False, "name": "Jordan Blake"},
        }
    }
    on_ticket = p.zendesk_ticket(**zd, status="OPEN", priority="URGENT", updated=replied)
    send("zendesk", "the customer replies on the ticket", p.zendesk_event("comment_added", on_ticket, reply, replied))
    _wait_processed(rt)
    fixed = opened + timedelta(minutes=35)
    done = {**issue, "fields": {**issue["fields"], "status": {"id": "10001", "name": "Done"}}}
    done["fields"]["status"]["statusCategory"] = {"id": 3, "key": "done", "name": "Done"}
    change = [
        {"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": "In Progress", "toString": "Done"}
    ]
    send(
        "jira",
        f"engineering marks {key} Done",
        p.jira_event("jira:issue_updated", done, fixed, changelog=change, user=engineer),
    )
    _wait_processed(rt)
    _wait_outbox(rt)
    _wait_outbox(rt, "zendesk")


def _wait_for_page(pagerduty: PagerDutySimulator, action: str, dedup_key: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["event_action"] == action and e["dedup_key"] == dedup_key for e in pagerduty.events()):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the PagerDuty simulator got no {action} for {dedup_key} in {timeout:.0f} s")


def _wait_outbox(rt: Runtime, channel: str = "jira", timeout: float = 20.0) -> None:
    """Until every outbound intent of `channel` is in a final status (sent, not sent, dead)."""
    final = {str(status.value) for status in OUTBOX_FINAL}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt.db.session() as s:
            if not any(c == channel and st not in final for c, st, _ in counts_by_status(s)):
                return
        time.sleep(0.05)
    raise RuntimeError(f"{channel} intents still waiting after {timeout:.0f} s")


def _wait_processed(rt: Runtime, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt.db.session() as s:
            pending = count_unfinished(s)
        if not pending:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{pending} deliveries still unprocessed after {timeout:.0f} s")
