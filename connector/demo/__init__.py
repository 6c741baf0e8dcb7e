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
from connector.inbox.deliveries import count_unfinished
from connector.runtime import Runtime
from connector.sla.report import human
from connector.wiring import build_runtime

#: The "what happens if this ticket arrives now" dry run the demo ends with (policy: signx, seed 001).
SCENARIO: dict[str, Any] = {
    "policy": "signx",
    "ticket": {"severity": "P1", "customer_tier": "enterprise", "category": "technical", "channel": "web"},
    "events": [
        {"at": "2026-03-06T16:30:00-05:00", "type": "created"},
        {"at": "2026-03-09T09:10:00-04:00", "type": "public_reply", "author": "agent"},
        {"at": "2026-03-09T09:40:00-04:00", "type": "status", "status": "waiting_on_customer"},
        {"at": "2026-03-09T15:00:00-04:00", "type": "status", "status": "open"},
        {"at": "2026-03-09T15:05:00-04:00", "type": "severity", "severity": "P0"},
        {"at": "2026-03-09T15:10:00-04:00", "type": "paged"},
        {"at": "2026-03-09T15:31:00-04:00", "type": "acknowledged"},
        {"at": "2026-03-10T14:00:00-04:00", "type": "resolved"},
    ],
    "until": "2026-03-11T00:00:00Z",
}
SECRETS = {"zendesk": "demo-zendesk-secret", "jira": "demo-jira-secret", "pagerduty": "demo-pagerduty-secret"}
ADMIN_TOKEN = "demo-admin-token"


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
        incident_key="hdc-ticket-1",
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
        ("pagerduty", "on-call is paged (dedup key hdc-ticket-1 links it)", triggered),
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
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{db_path}",
            "CONNECTOR_ADMIN_TOKEN": ADMIN_TOKEN,
            **{f"{v.upper()}_WEBHOOK_SECRETS": s for v, s in SECRETS.items()},
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
        progress(f"connector demo — app on {base}, database {db_path}, embedded queue\n")
        with requests.Session() as http:
            for vendor, what, payload in _steps(datetime.now(UTC)):
                body = json.dumps(payload).encode()
                r = http.post(f"{base}/webhooks/{vendor}", data=body, headers=_headers(rt, vendor, body), timeout=10)
                progress(f"  {vendor:<9} {what:<62} → {r.status_code} {r.text.strip()}")
            _wait_processed(rt)
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
        echo(render_simulation(simulated))
        return len(full)
    finally:
        server.shutdown()
        rt.close()
        if tmp is not None:
            tmp.cleanup()


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
        f"SLA dry run (POST /api/simulate, policy {result['policy']}): a P1 ticket opened Friday "
        "2026-03-06 16:30 New York time; first reply Monday; waiting on the customer; raised to P0; paged.",
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
    return "\n".join(lines)
