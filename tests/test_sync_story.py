"""The whole story of one escalated ticket across the three tools, end to end (on PostgreSQL + Redis in
CI as on the embedded default): an Enterprise P0 in Zendesk → paged once (PagerDuty's Events API, a
local simulator reached through the real `pagerduty` client) → L3 escalation creates one Jira issue,
linked both ways → a Jira comment appears as a Zendesk internal note → Jira done → Zendesk updated →
the ticket solved → its page resolved → its post-mortem task created in Jira. Then every webhook of
the run is sent again, as new deliveries: nothing happens twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.demo import payloads as p
from connector.demo.simulators import PagerDutySimulator
from connector.runtime import Runtime
from connector.store import Database
from connector.store.tables import Link, OutboxItem
from tests.conftest import drain, installed_runtime
from tests.helpers import T0, post, zd_event
from tests.vendor_fakes import SITES_ENV, ZENDESK, FakeJira, FakeZendesk

PRESETS = Path(__file__).parent.parent / "connector" / "presets"
ENGINEER = ("5b10ac8d82e05b22cc7d4ef5", "Priya Raman")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """signx (P0/P1 → L3, page on-call, a linked Bug), its P0 rule also owing a post-mortem."""
    doc = yaml.safe_load((PRESETS / "signx.yaml").read_text(encoding="utf-8"))
    rule = next(t for t in doc["triggers"] if t["id"] == "p0-p1-auto-escalate")
    rule["actions"].append({"do": "require_postmortem", "within": "24h"})
    path = tmp_path / "signx-with-postmortems.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def story(database: Database, policy_file: Path) -> Iterator[tuple[Runtime, FlaskClient, FakeZendesk, FakeJira, Any]]:
    pd = PagerDutySimulator().start()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
            rs.add_passthru(pd.url)  # the pagerduty client speaks httpx; anything else to it passes
            zd, jira = FakeZendesk(rs), FakeJira(rs)
            with installed_runtime(
                database,
                CONNECTOR_POLICY=str(policy_file),
                PAGERDUTY_EVENTS_URL=pd.url,
                PAGERDUTY_ROUTING_KEYS="oncall_primary=R0ONCALLPRIMARY0000000000000000AB",
                **SITES_ENV,
            ) as rt:
                from webhooks.app import create_app

                yield rt, create_app(rt, start_worker=False).test_client(), zd, jira, pd
    finally:
        pd.stop()


def test_one_escalated_ticket_across_the_three_tools_and_nothing_twice(story: Any) -> None:
    rt, client, zd, jira, pd = story
    sent: list[tuple[str, dict[str, Any]]] = []

    def deliver(vendor: str, body: dict[str, Any]) -> None:
        assert post(client, vendor, body).status_code in (200, 202)
        sent.append((vendor, body))
        for _ in range(3):  # the delivery, then what its sends caused
            drain(rt)

    def ticket(**kw: Any) -> dict[str, Any]:
        return {"priority": "URGENT", "tags": ["enterprise", "billing"], **kw}

    # 1. An Enterprise P0 in Zendesk: L3, one page, one Jira issue linked both ways, the key on the ticket.
    deliver("zendesk", zd_event("created", **ticket()))
    assert [e["event_action"] for e in pd.events()] == ["trigger"]
    [trigger] = pd.events()
    assert trigger["dedup_key"] == "hdc-ticket-1/oncall_primary"
    assert list(jira.issues) == ["ENG-42"]
    assert jira.links["ENG-42"][0]["object"]["url"] == f"{ZENDESK}/agent/tickets/501"
    [keyed] = zd.updates(501)
    assert keyed["additional_tags"] == ["jira_eng-42"]

    # 2. PagerDuty opens the incident for the page (its incident_key is the dedup key): linked.
    incident = p.pd_incident(
        incident_id="Q2QW9ZK3E1T8LV",
        number=4412,
        title=trigger["payload"]["summary"],
        status="triggered",
        incident_key=trigger["dedup_key"],
        priority="P1",
        urgency="high",
        created=T0 + timedelta(minutes=1),
    )
    deliver("pagerduty", p.pd_event("incident.triggered", incident, T0 + timedelta(minutes=1)))

    # 3. The engineer comments in Jira → an internal note on the Zendesk ticket.
    issue = p.jira_issue(
        issue_id="10042",
        key="ENG-42",
        summary="Cannot export invoices",
        description="Escalated from support",
        status="In Progress",
        category="indeterminate",
        priority="High",
        labels=["hdc-ticket-1"],
        reporter=("712020:5f0c-support-bot", "Support Bot"),
        created="2026-03-06T15:00:05.000+0000",
    )
    comment = p.jira_comment(
        issue, comment_id="30001", body="Reproduced; fix in review.", public=False, at=T0 + timedelta(minutes=10)
    )
    deliver("jira", comment)
    note = zd.updates(501)[-1]
    assert note["comment"]["public"] is False and "Reproduced; fix in review." in note["comment"]["body"]

    # 4. Jira done → the Zendesk ticket back to the agent, with a note.
    deliver("zendesk", zd_event("status_changed", minutes=11, status="HOLD", event={"current": "HOLD"}, **ticket()))
    done = json.loads(json.dumps(issue))
    done["fields"]["status"] = {
        "id": "10001",
        "name": "Done",
        "statusCategory": {"id": 3, "key": "done", "name": "Done"},
    }
    change = [
        {"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": "In Progress", "toString": "Done"}
    ]
    deliver(
        "jira", p.jira_event("jira:issue_updated", done, T0 + timedelta(minutes=40), changelog=change, user=ENGINEER)
    )
    reopened = zd.updates(501)[-1]
    assert reopened["status"] == "open" and "ENG-42 is Done" in reopened["comment"]["body"]

    # 5. The agent solves the ticket: its page resolved, its post-mortem task created in Jira.
    solved = zd_event("status_changed", minutes=45, status="SOLVED", event={"current": "SOLVED"}, **ticket())
    deliver("zendesk", solved)
    assert [e["event_action"] for e in pd.events()] == ["trigger", "resolve"]
    assert list(jira.issues) == ["ENG-42", "ENG-43"]
    task = jira.issues["ENG-43"]["fields"]
    assert task["summary"].startswith("Post-mortem: [P0]") and "hdc-postmortem-1" in task["labels"]
    with rt.db.session() as s:
        roles = sorted((x.key, x.role) for x in s.scalars(select(Link).where(Link.vendor == "jira")))
        assert roles == [("ENG-42", "engineering"), ("ENG-43", "postmortem")]

    # 6. Every webhook again, as new deliveries: not one more call to any tool.
    calls = (len(zd.calls), len(jira.calls), len(pd.events()))
    intents = _intents(rt)
    for vendor, body in sent:
        again = json.loads(json.dumps(body))
        if vendor == "zendesk":
            again["id"] = again["id"][:-4] + "beef"
        if vendor == "pagerduty":
            again["event"]["id"] = again["event"]["id"][:-4] + "BEEF"
        headers = {"X-Atlassian-Webhook-Identifier": f"again-{len(sent)}-{id(again)}"} if vendor == "jira" else None
        # new deliveries of the same events (a Jira body byte for byte the same is known as a duplicate)
        assert post(client, vendor, again, headers=headers).status_code == (200 if vendor == "jira" else 202)
        for _ in range(3):
            drain(rt)
    assert (len(zd.calls), len(jira.calls), len(pd.events())) == calls
    assert _intents(rt) == intents


def _intents(rt: Runtime) -> list[tuple[str, str | None, str]]:
    with rt.db.session() as s:
        return sorted((i.intent, i.target, i.status) for i in s.scalars(select(OutboxItem)))
