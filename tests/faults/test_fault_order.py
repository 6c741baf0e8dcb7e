"""Test 7: out-of-order and late deliveries for every vendor.

- Zendesk: a ticket is solved (newer); then an older status change (to open) and an older public
  reply arrive.
- Jira: an issue is moved to Done at +25 min; the `jira:issue_updated` of +5 min (In Progress)
  arrives after it, 20 minutes late.
- PagerDuty: `incident.acknowledged` arrives before `incident.triggered`, and an older
  `incident.priority_updated` last.

Each delivery is processed before the next is sent (so a late one meets the newer state). The oracle
is the same deliveries in the order they happened, on a fresh in-process SQLite database: order safety
means the final ticket is the same either way. Promises: every delivery processed (nothing failed or
dead); no field a newer delivery set changes when an older one arrives; the final ticket equals the
in-order one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.demo import payloads as p
from tests.faults.ledger import TICKET_FIELDS, examples
from tests.faults.results import FaultResult
from tests.faults.targets import InProcess, Target
from tests.faults.traffic import Outgoing, outgoing
from tests.helpers import T0, zd_event


@dataclass(frozen=True)
class Step:
    at: datetime  # when it happened at the vendor
    build: Callable[[], Outgoing]  # signs when called: just before it is sent


@dataclass(frozen=True)
class Scenario:
    vendor: str
    object_type: str
    object_id: str
    arrival: list[Step]  # in the order they are delivered
    newest: dict[str, Any]  # fields the newest delivery sets, which must stand

    def chronological(self) -> list[Step]:
        return sorted(self.arrival, key=lambda s: s.at)


def _m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def zendesk() -> Scenario:
    tid = 7001

    def zd(name: str, minutes: float, **kw: Any) -> Step:
        return Step(_m(minutes), lambda: _zd(zd_event(name, ticket_id=tid, minutes=minutes, **kw)))

    reply = {
        "comment": {
            "id": "88001",
            "body": "We are on it.",
            "is_public": True,
            "author": {"id": "42", "is_staff": True, "name": "Maya Chen"},
        }
    }
    return Scenario(
        "zendesk",
        "ticket",
        str(tid),
        [
            zd("created", 0, status="NEW", priority="NORMAL"),
            zd(
                "status_changed",
                30,
                status="SOLVED",
                priority="URGENT",
                event={"current": "SOLVED", "previous": "OPEN"},
            ),
            zd("status_changed", 10, status="OPEN", priority="HIGH", event={"current": "OPEN", "previous": "NEW"}),
            zd("comment_added", 20, status="OPEN", priority="HIGH", event=reply),
        ],
        {"status": "resolved", "severity": "P0"},
    )


def _zd(payload: dict[str, Any]) -> Outgoing:
    return outgoing("zendesk", payload, key=payload["id"], object_id=payload["detail"]["id"])


def jira() -> Scenario:
    issue_id = "10990"
    base = p.jira_issue(
        issue_id=issue_id,
        key="OOO-1",
        summary="Exports time out",
        description="Order test",
        status="To Do",
        category="new",
        priority="Medium",
        labels=["faults"],
        reporter=("acc-ooo", "Order Test"),
        created=T0.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    base["fields"]["customfield_10071"] = {"id": "10203", "value": "Sev-3"}

    def state(status: str, category: str, priority: str, sev: str, minutes: float) -> dict[str, Any]:
        issue = copy.deepcopy(base)
        issue["fields"]["status"] = {
            "id": {"new": "10000", "indeterminate": "3", "done": "10001"}[category],
            "name": status,
            "statusCategory": {
                "id": {"new": 2, "indeterminate": 4, "done": 3}[category],
                "key": category,
                "name": status,
            },
        }
        issue["fields"]["priority"] = {"id": "2", "name": priority}
        issue["fields"]["customfield_10071"] = {"id": "10201", "value": sev}
        issue["fields"]["updated"] = _m(minutes).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        return issue

    def change(field: str, old: str, new: str) -> dict[str, Any]:
        return {"field": field, "fieldtype": "jira", "fieldId": field, "fromString": old, "toString": new}

    def step(name: str, minutes: float, issue: dict[str, Any], changes: list[dict[str, Any]], n: int) -> Step:
        payload = p.jira_event(name, issue, _m(minutes), changelog=changes)
        return Step(_m(minutes), lambda: outgoing("jira", payload, key=f"ooo-jira-{n}", object_id=issue_id))

    return Scenario(
        "jira",
        "issue",
        issue_id,
        [
            step("jira:issue_created", 0, state("To Do", "new", "Medium", "Sev-3", 0), [], 1),
            step(
                "jira:issue_updated",
                25,
                state("Done", "done", "Highest", "Sev-1", 25),
                [change("status", "In Progress", "Done"), change("priority", "High", "Highest")],
                2,
            ),
            step(  # happened at +5, arrives after +25: 20 minutes late
                "jira:issue_updated",
                5,
                state("In Progress", "indeterminate", "High", "Sev-2", 5),
                [change("status", "To Do", "In Progress"), change("priority", "Medium", "High")],
                3,
            ),
        ],
        {"status": "resolved", "severity": "P0"},
    )


def pagerduty() -> Scenario:
    incident_id = "QOOO1"

    def step(event_type: str, minutes: float, status: str, priority: str) -> Step:
        inc = p.pd_incident(
            incident_id=incident_id,
            number=4401,
            title="Checkout API 5xx",
            status=status,
            incident_key="ooo-4401",
            priority=priority,
            urgency="high",
            created=T0,
        )
        payload = p.pd_event(event_type, inc, _m(minutes))
        return Step(
            _m(minutes),
            lambda: outgoing("pagerduty", payload, key=payload["event"]["id"], object_id=incident_id),
        )

    return Scenario(
        "pagerduty",
        "incident",
        incident_id,
        [
            step("incident.acknowledged", 5, "acknowledged", "P1"),
            step("incident.triggered", 0, "triggered", "P3"),
            step("incident.priority_updated", 2, "triggered", "P1"),
        ],
        {"status": "in_progress", "severity": "P0"},
    )


SCENARIOS = (zendesk, jira, pagerduty)


def run(target: Target, scenario: Scenario, steps: list[Step]) -> tuple[list[dict[str, Any]], list[str]]:
    """Send `steps` one at a time, each processed before the next; the ticket after each, and the
    status each delivery ended in."""
    snapshots, statuses = [], []
    for step in steps:
        reply = target.post(step.build())
        delivery_id = reply.delivery_id
        target.settle(timeout=60)
        status = (
            target.ledger.status_of([delivery_id]).get(delivery_id, f"not stored ({reply.status})")
            if delivery_id
            else f"answered {reply.status}"
        )
        statuses.append(status)
        snapshots.append(target.ledger.ticket_for(scenario.vendor, scenario.object_type, scenario.object_id) or {})
    return snapshots, statuses


@pytest.mark.faults
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("inprocess-sqlite", marks=pytest.mark.faults_ci),
        pytest.param("inprocess-postgres", marks=pytest.mark.faults_ci),
        "gunicorn-postgres",
    ],
)
def test_out_of_order_and_late_deliveries_roll_nothing_back(
    kind, make_target, workdir: Path, fault_result: FaultResult
):
    target = make_target(kind)
    oracle = InProcess("in-order oracle", f"sqlite:///{workdir / 'oracle.db'}")
    scenarios = [make() for make in SCENARIOS]
    fault_result.title = "Out-of-order and late deliveries"
    fault_result.scenario = (
        f"{sum(len(s.arrival) for s in scenarios)} deliveries about one object per vendor, sent out of order "
        f"to {target.name} (each processed before the next); compared with the same deliveries in order."
    )
    delivered = processed = 0
    fields_compared = fields_equal = 0
    late_total = late_ok = 0
    not_processed: list[str] = []
    differences: list[str] = []
    rolled_back: list[str] = []
    newest_tried = newest_held = 0
    newest_wrong: list[str] = []
    figures: dict[str, Any] = {}
    try:
        for sc in scenarios:
            snaps, statuses = run(target, sc, sc.arrival)
            in_order, _ = run(oracle, sc, sc.chronological())
            final, expected = snaps[-1], in_order[-1]
            delivered += len(statuses)
            processed += statuses.count("processed")
            not_processed += [f"{sc.vendor} delivery {i + 1}: {s}" for i, s in enumerate(statuses) if s != "processed"]
            for name in TICKET_FIELDS:
                fields_compared += 1
                if final.get(name) == expected.get(name):
                    fields_equal += 1
                else:
                    differences.append(
                        f"{sc.vendor} {name}: out of order {final.get(name)!r}, in order {expected.get(name)!r}"
                    )
            newest = sc.arrival[0].at
            for i, step in enumerate(sc.arrival):
                if i and step.at < newest:  # late: something newer was already applied
                    late_total += 1
                    before, after = snaps[i - 1], snaps[i]
                    changed = [
                        f"{sc.vendor} {n}: {before.get(n)!r} → {after.get(n)!r} by the delivery of {step.at:%H:%M}"
                        for n in TICKET_FIELDS
                        if n != "updated_at" and before.get(n) not in (None, []) and after.get(n) != before.get(n)
                    ]
                    rolled_back += changed
                    late_ok += not changed
                newest = max(newest, step.at)
            for name, value in sc.newest.items():
                newest_tried += 1
                if final.get(name) == value:
                    newest_held += 1
                else:
                    newest_wrong.append(f"{sc.vendor} {name}: {final.get(name)!r}, expected {value!r}")
            figures[sc.vendor] = {
                "arrival": [s.at.strftime("+%M min") for s in sc.arrival],
                "statuses": statuses,
                "final": {
                    k: final.get(k) for k in ("status", "severity", "first_response_at", "resolved_at", "created_at")
                },
                "in_order": {
                    k: expected.get(k) for k in ("status", "severity", "first_response_at", "resolved_at", "created_at")
                },
                "timeline": [kind for kind, _ in target.ledger.timeline(final["id"])] if final else [],
            }
            if final and final.get("created_at") != expected.get("created_at"):
                fault_result.note(
                    f"{sc.vendor}: the ticket's created_at is {final.get('created_at')} out of order, "
                    f"{expected.get('created_at')} in order (not asserted: created_at is not a field a delivery sets)"
                )
    finally:
        oracle.close()
    fault_result.figures = {"deliveries": delivered, "late_deliveries": late_total, **figures}
    fault_result.check(
        "every delivery processed (none failed, dead, ignored or rejected)",
        delivered,
        processed,
        examples(not_processed),
    )
    fault_result.check(
        "a late delivery changes no field a newer one set", late_total, late_ok, examples(rolled_back, 8)
    )
    fault_result.check("the newest values stand", newest_tried, newest_held, examples(newest_wrong))
    fault_result.check(
        "final ticket equals the in-order result, field by field",
        fields_compared,
        fields_equal,
        examples(differences, 8),
    )
    fault_result.verify()
