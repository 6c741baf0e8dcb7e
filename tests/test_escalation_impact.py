"""Users affected through links: several customers' Zendesk incidents linked to one problem ticket
escalate the problem once (nwire: "L2 escalates when the issue affects multiple users", 2 or more),
whatever the order the webhooks arrive in and however often they are re-sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector.demo import payloads as p
from connector.runtime import Runtime
from connector.store import Database
from connector.store.tables import Escalation, Link, Ticket
from tests.conftest import ADMIN, drain, installed_runtime
from tests.helpers import T0, post

PROBLEM = 48201


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    with installed_runtime(database, CONNECTOR_POLICY="nwire") as runtime:
        yield runtime


@pytest.fixture
def client(rt: Runtime) -> Any:
    from webhooks.app import create_app

    return create_app(rt, start_worker=False).test_client()


def ticket(ticket_id: int, requester: str, *, kind: str = "INCIDENT", minutes: int = 0) -> dict[str, Any]:
    return p.zendesk_ticket(
        ticket_id=ticket_id,
        subject="Exports fail with a timeout" if kind == "PROBLEM" else f"Export times out ({requester})",
        description="Every CSV export stops after 30 s.",
        status="OPEN",
        priority="HIGH",
        requester_id=requester,
        organization_id=f"org-{requester}",
        tags=["exports"],
        created=T0,
        updated=T0 + timedelta(minutes=minutes),
        ticket_type=kind,
    )


def created(ticket_id: int, requester: str, *, kind: str = "INCIDENT", minutes: int = 0) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return p.zendesk_event("created", ticket(ticket_id, requester, kind=kind, minutes=minutes), {}, at)


def linked(ticket_id: int, requester: str, problem: int | None, *, minutes: int) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    change = {"current": None if problem is None else str(problem), "previous": None}
    return p.zendesk_event("problem_link_changed", ticket(ticket_id, requester, minutes=minutes), change, at)


def send(rt: Runtime, client: Any, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        assert post(client, "zendesk", body).status_code in (200, 202)
    drain(rt)


def ticket_of(rt: Runtime, external_id: int) -> Ticket:
    with rt.db.session() as s:
        link = s.scalar(select(Link).where(Link.vendor == "zendesk", Link.external_id == str(external_id)))
        assert link is not None
        t = s.get(Ticket, link.ticket_id)
        assert t is not None
        return t


def multiple_users(rt: Runtime) -> list[tuple[int, str, str | None]]:
    with rt.db.session() as s:
        return [
            (e.ticket_id, e.action, e.reason)
            for e in s.scalars(select(Escalation).where(Escalation.trigger_id == "multiple-users"))
        ]


def test_two_customers_incidents_linked_to_one_problem_escalate_the_problem_once(rt: Runtime, client: Any) -> None:
    problem = created(PROBLEM, "agent-17", kind="PROBLEM")
    first, second = created(48213, "cust-a", minutes=1), created(48219, "cust-b", minutes=2)
    link_a, link_b = linked(48213, "cust-a", PROBLEM, minutes=3), linked(48219, "cust-b", PROBLEM, minutes=4)
    send(rt, client, problem, first, second, link_a)
    assert ticket_of(rt, PROBLEM).linked_users == 1
    assert multiple_users(rt) == []  # one customer's incident: one user affected

    send(rt, client, link_b)
    problem_ticket = ticket_of(rt, PROBLEM)
    assert problem_ticket.linked_users == 2
    assert problem_ticket.support_level == "L3"
    [(ticket_id, action, reason)] = multiple_users(rt)
    assert (ticket_id, action) == (problem_ticket.id, "raise_level")
    assert reason is not None and "2 users affected (requesters of the incidents linked to this problem)" in reason
    assert ticket_of(rt, 48213).support_level != "L3"  # the incidents are not escalated one by one
    shown = client.get(f"/api/tickets/{problem_ticket.id}", headers=ADMIN).get_json()
    assert shown["linked_users"] == 2
    assert any("users affected through linked incidents: 1 → 2" in e["summary"] for e in shown["timeline"])

    # every webhook again, as new deliveries of the same facts: nothing happens twice
    for body in (problem, first, second, link_a, link_b):
        body = json.loads(json.dumps(body))
        body["id"] = body["id"][:-4] + "ffff"
        send(rt, client, body)
    assert len(multiple_users(rt)) == 1


def test_a_problem_arriving_after_its_incidents_counts_them(rt: Runtime, client: Any) -> None:
    send(
        rt,
        client,
        created(48213, "cust-a"),
        created(48219, "cust-b", minutes=1),
        created(48220, "cust-b", minutes=1),  # the same requester twice: one user
        linked(48213, "cust-a", PROBLEM, minutes=2),
        linked(48219, "cust-b", PROBLEM, minutes=3),
        linked(48220, "cust-b", PROBLEM, minutes=3),
    )
    assert multiple_users(rt) == []  # the problem is not known yet
    send(rt, client, created(PROBLEM, "agent-17", kind="PROBLEM", minutes=5))
    assert ticket_of(rt, PROBLEM).linked_users == 2
    assert [t for t, _, _ in multiple_users(rt)] == [ticket_of(rt, PROBLEM).id]


def test_an_unlinked_incident_no_longer_counts(rt: Runtime, client: Any) -> None:
    send(
        rt,
        client,
        created(PROBLEM, "agent-17", kind="PROBLEM"),
        created(48213, "cust-a", minutes=1),
        linked(48213, "cust-a", PROBLEM, minutes=2),
    )
    assert ticket_of(rt, PROBLEM).linked_users == 1
    send(rt, client, linked(48213, "cust-a", None, minutes=3))
    assert ticket_of(rt, PROBLEM).linked_users is None
    assert ticket_of(rt, 48213).problem_ref is None
