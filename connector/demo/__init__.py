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
from connector.demo.simulators import JiraSimulator, PagerDutySimulator
from connector.inbox.deliveries import count_unfinished
from connector.outbox import counts_by_status
from connector.runtime import Runtime
from connector.sla.report import human
from connector.store.tables import OUTBOX_FINAL
from connector.wiring import build_runtime

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


def _steps(now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """(vendor, what it shows, payload) in the order the tools would send them."""
    t0 = now - timedelta(hours=3)
    at = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    zd: dict[str, Any] = dict(
        ticket_id=48213,
        subject="Video exports fail for every project — production down",
        description="Since 09:10 every export ends in 'render worker unavailable'. We are losing money: "
        "a customer premiere is tonight.",
        requester_id="20077881",
        organization_id="360099001122",
        tags=["exports", "tier_enterprise"],  # the tag a "Customer tier" drop-down field adds
        created=at(0),
        channel="email",
    )
    created = p.zendesk_event(
        "created",
        p.zendesk_ticket(**zd, status="NEW", priority="URGENT", updated=at(0)),
        {"meta": {"sequence": {"id": "c1", "position": 1, "total": 1}}},
        at(0),
    )
    reply = p.zendesk_event(
        "comment_added",
        p.zendesk_ticket(**zd, status="OPEN", priority="URGENT", updated=at(12), assignee_id="381726354"),
        {
            "comment": {
                "id": "48213001",
                "body": "We see it too and have paged on-call. Next update within 30 minutes.",
                "is_public": True,
                "author": {"id": "381726354", "is_staff": True, "name": "Maya Chen"},
            }
        },
        at(12),
    )
    internal = p.zendesk_event(
        "comment_added",
        p.zendesk_ticket(**zd, status="OPEN", priority="URGENT", updated=at(14), assignee_id="381726354"),
        {
            "comment": {
                "id": "48213002",
                "body": "Escalating to L3, render fleet is empty.",
                "is_public": False,
                "author": {"id": "381726354", "is_staff": True, "name": "Maya Chen"},
            }
        },
        at(14),
    )
    pending = p.zendesk_event(
        "status_changed",
        p.zendesk_ticket(**zd, status="PENDING", priority="URGENT", updated=at(95), assignee_id="381726354"),
        {"current": "PENDING", "previous": "OPEN"},
        at(95),
    )
    # Sent late by a retry: it is older than what the ticket reflects and must not roll priority back.
    stale = p.zendesk_event(
        "priority_changed",
        p.zendesk_ticket(**zd, status="NEW", priority="HIGH", updated=at(-1)),
        {"current": "HIGH", "previous": "NORMAL"},
        at(-1),
    )

    issue = p.jira_issue(
        issue_id="10457",
        key="PLAT-311",
        summary="Render worker pool scales to zero under load",
        description="Autoscaler drops the render pool to 0 when the queue depth metric is stale.",
        status="To Do",
        category="new",
        priority="Highest",
        labels=["render", "autoscaling"],
        reporter=("5b10ac8d82e05b22cc7d4ef5", "Priya Raman"),
        created=at(20).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    issue_created = p.jira_event("jira:issue_created", issue, at(20), changelog=[])
    progressing = json.loads(json.dumps(issue))
    progressing["fields"]["status"] = {
        "id": "3",
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    }
    issue_updated = p.jira_event(
        "jira:issue_updated",
        progressing,
        at(31),
        changelog=[
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": "10000",
                "fromString": "To Do",
                "to": "3",
                "toString": "In Progress",
            }
        ],
    )
    comment = p.jira_comment(
        progressing, comment_id="100231", body="Pinned min replicas to 4; exports recovering.", public=False, at=at(58)
    )

    pd: dict[str, Any] = dict(
        incident_id="Q3KX8Z1VN5RT2B",
        number=1207,
        title="Render queue depth > 500 for 10 minutes",
        incident_key="hdc-ticket-1/oncall_primary",  # the connector's page for ticket 1 (dedup key)
        priority="P1",
        urgency="high",
        created=at(5),
    )
    triggered = p.pd_event("incident.triggered", p.pd_incident(**pd, status="triggered"), at(5), agent=None)
    acked = p.pd_event("incident.acknowledged", p.pd_incident(**pd, status="acknowledged"), at(9))
    note = p.pd_event(
        "incident.annotated",
        {
            "incident": {
                "id": pd["incident_id"],
                "type": "incident_reference",
                "html_url": f"{p.PD_SITE}/incidents/{pd['incident_id']}",
                "self": f"https://api.pagerduty.com/incidents/{pd['incident_id']}",
            },
            "id": "PNOTE7Q",
            "type": "incident_note",
            "trimmed": False,
            "content": "Autoscaler misread a stale metric; min replicas pinned.",
        },
        at(60),
        resource_type="incident",
    )
    resolved = p.pd_event("incident.resolved", p.pd_incident(**pd, status="resolved"), at(64))
    return [
        ("zendesk", "customer opens an urgent ticket by email", created),
        ("pagerduty", "PagerDuty opens an incident for our page (dedup key links it)", triggered),
        ("pagerduty", "on-call acknowledges", acked),
        ("zendesk", "agent's first public reply", reply),
        ("zendesk", "internal note (not a first response)", internal),
        ("jira", "engineering files a bug in Jira", issue_created),
        ("jira", "the bug moves to In Progress", issue_updated),
        ("jira", "internal engineering comment", comment),
        ("pagerduty", "on-call annotates the incident", note),
        ("pagerduty", "incident resolved", resolved),
        ("zendesk", "waiting on the customer to confirm", pending),
        ("zendesk", "a late, older priority change arrives (must not roll back)", stale),
        ("zendesk", "Zendesk re-sends the first delivery", created),
    ]


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
    settings = Settings.from_env(
        {
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
        progress(f"Jira: a local REST API v2 simulator on {jira.url} (linked engineering issues)\n")
        with requests.Session() as http:

            def send(vendor: str, what: str, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                r = http.post(f"{base}/webhooks/{vendor}", data=body, headers=_headers(rt, vendor, body), timeout=10)
                progress(f"  {vendor:<9} {what:<62} → {r.status_code} {r.text.strip()}")

            now = datetime.now(UTC)
            for vendor, what, payload in _steps(now):
                send(vendor, what, payload)
            _wait_processed(rt)
            _escalation_story(rt, http, base, pagerduty, send, now, progress)
            _wait_outbox(rt)
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
        echo(render_simulation(simulated))
        return len(full)
    finally:
        server.shutdown()
        rt.close()
        pagerduty.stop()
        jira.stop()
        if tmp is not None:
            tmp.cleanup()


Send = Callable[[str, str, dict[str, Any]], None]


def _escalation_story(
    rt: Runtime,
    http: requests.Session,
    base: str,
    pagerduty: PagerDutySimulator,
    send: Send,
    now: datetime,
    progress: Callable[[str], None],
) -> None:
    """Act two: an Enterprise P0 arrives, on-call is paged once, nobody acknowledges within the seed's
    15 minutes, the secondary on-call is paged ("Backup for critical issues"), and resolving the ticket
    resolves both pages. The ticket was opened 40 minutes ago (the tools tell of the past), so the
    acknowledgement clock has already run out when the page's incident is reported."""
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


def _wait_for_page(pagerduty: PagerDutySimulator, action: str, dedup_key: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["event_action"] == action and e["dedup_key"] == dedup_key for e in pagerduty.events()):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the PagerDuty simulator got no {action} for {dedup_key} in {timeout:.0f} s")


def render_pages(pagerduty: PagerDutySimulator) -> str:
    """What the PagerDuty simulator received, and each alert's state."""
    lines = [f"PagerDuty (the local Events API simulator) received {len(pagerduty.events())} events:"]
    for e in pagerduty.events():
        payload = e.get("payload") or {}
        what = f"{payload.get('severity', ''):<8} {payload.get('summary', '')}" if payload else ""
        lines.append(f"  {e['event_action']:<11} {e['dedup_key']:<30} {what}".rstrip())
    lines.append("  alerts: " + "; ".join(f"{k} {a.status} (opened {a.opened}×)" for k, a in pagerduty.alerts.items()))
    return "\n".join(lines)


def render_jira(jira: JiraSimulator) -> str:
    """What the Jira simulator was asked to create: each issue, its labels and its links back."""
    lines = [f"Jira (the local REST simulator) holds {len(jira.issues)} linked engineering issues:"]
    for key, issue in jira.issues.items():
        fields = issue["fields"]
        lines.append(f"  {key:<8} {fields['issuetype']['name']:<6} {fields['summary']}  labels {fields['labels']}")
        for link in jira.remote_links.get(key, []):
            lines.append(f"           remote link → {link['object']['url']}")
    return "\n".join(lines)


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


def render_ticket(t: dict[str, Any]) -> str:
    lines = [
        f"Ticket #{t['id']}  [{t['status']}]  {t['severity'] or '-'}  {t['title'] or '(no title)'}",
        f"  channel {t['channel'] or '-'} · customer {t['customer_id'] or '-'} "
        f"(tier {t['customer_tier'] or '-'}) · assignee {t['assignee'] or '-'} · tags {', '.join(t['tags']) or '-'}",
        f"  created {t['created_at']} · first response {t['first_response_at'] or '—'}",
    ]
    for link in t["links"]:
        lines.append(
            f"  ↔ {link['vendor']} {link['object_type']} {link['key'] or link['external_id']} "
            f"({link['role']}) {link['url'] or ''}".rstrip()
        )
    for c in t.get("sla_clocks", []):
        lines.append(
            f"  ⏱ {c['metric']}#{c['cycle']} {c['state']:<9} target {c['target']:<4} ({c['time']}) "
            f"due {c['due_at'] or '— (paused)'}" + (f" · breached {c['breached_at']}" if c["breached_at"] else "")
        )
    for e in t.get("timeline", []):
        lines.append(f"    {e['at'][:19]}Z  {e['source']:<18} {e['kind']:<24} {e['summary']}")
    return "\n".join(lines)


def render_simulation(result: dict[str, Any]) -> str:
    lines = [
        f"Dry run (POST /api/simulate, policy {result['policy']}): a P1 ticket opened Friday 2026-03-06 16:30 "
        "New York time; acknowledged in PagerDuty at 16:50; first reply Monday; waiting on the customer; "
        "raised to P0; resolved Tuesday.",
        "  clocks:",
    ]
    for c in result["clocks"]:
        lines.append(
            f"    {c['metric']:<16} {c['state']:<9} target {c['target']:<4} ({c['time']}) "
            f"started {c['started_at']}  due {c['due_at'] or '—'}  paused {human(c['paused_seconds'])}"
        )
    lines.append("  what fired, in simulated time:")
    for a in result["actions"]:
        if a["kind"] != "started":
            lines.append(f"    {a['at']}  {a['kind']:<10} {a['detail']}")
    escalations = result.get("escalations") or []
    if escalations:
        lines.append("  what the escalation engine would do (nothing is sent in a dry run):")
        for e in escalations:
            target = f" {e['target']}" if e["target"] else ""
            lines.append(f"    {e['at']}  {e['action']}{target} [{e['rule']}, {e['outcome']}]: {e['reason']}")
    return "\n".join(lines)
