"""What `connector demo` prints: the canonical tickets, what each local simulator received, and the
dry run's clocks and escalations. Plain text from the API's JSON and the simulators' records."""

from __future__ import annotations

import re
from typing import Any

from connector.demo.simulators import JiraSimulator, PagerDutySimulator, Server, ZendeskSimulator
from connector.sla.report import human


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
        for c in jira.comments.get(key, []):
            first = str(c["body"]).splitlines()[0] if c["body"] else ""
            internal = any(p.get("key") == "sd.public.comment" for p in c.get("properties") or [])
            lines.append(f"           {'internal ' if internal else ''}comment: {first}")
    return "\n".join(lines)


def render_received(name: str, sim: Server) -> str:
    """What a simulator was sent, by request (ids and keys folded): what the connector asked of the tool."""
    counts: dict[str, int] = {}
    for got in sim.received:
        path = re.sub(r"/[A-Z][A-Z0-9]*-\d+", "/{key}", got.path.partition("?")[0])
        path = re.sub(r"/\d{3,}", "/{id}", path)
        counts[f"{got.method} {path}"] = counts.get(f"{got.method} {path}", 0) + 1
    lines = [f"{name} received {len(sim.received)} requests:"]
    lines += [f"  {n:>3} × {what}" for what, n in sorted(counts.items())]
    return "\n".join(lines)


def render_zendesk(zendesk: ZendeskSimulator) -> str:
    """What the connector wrote to Zendesk: per ticket its status, tags and the notes it added."""
    lines = [f"Zendesk (the local REST simulator) was updated on {len(zendesk.tickets)} tickets:"]
    for ticket_id, t in sorted(zendesk.tickets.items()):
        lines.append(f"  #{ticket_id:<7} status {t['status']:<7} tags {t['tags']}")
        for c in t["comments"]:
            first = str(c["body"]).splitlines()[0] if c["body"] else ""
            lines.append(f"           {'public' if c['public'] else 'internal'} note: {first}")
    return "\n".join(lines)


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
