"""The escalation engine's rules, one at a time, on small inline policies (the pure engine: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.errors import PolicyError
from connector.escalation import (
    ActionKind,
    Changed,
    FollowupMissed,
    Opened,
    Outcome,
    SlaFired,
    TextAdded,
    TicketState,
    decide,
    escalation_path,
    path_position,
)
from connector.policy import parse_policy
from connector.sla.events import FireKind

AT = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def policy(**extra: Any) -> Any:
    doc: dict[str, Any] = {
        "name": "unit",
        "severity": {"levels": [{"id": "P0"}, {"id": "P1"}, {"id": "P2"}], "default": "P2"},
        "support_levels": [
            {"id": "L1", "name": "Frontline", "escalation_path": ["L2", "L3"]},
            {"id": "L2", "name": "Specialists", "escalation_path": ["L3"]},
            {"id": "L3", "name": "Engineering"},
        ],
        "groups": [
            {"id": "billing", "name": "Billing", "level": "L2"},
            {"id": "cfo", "name": "CFO"},
            {"id": "oncall", "name": "On-call", "level": "L3"},
            {"id": "csm", "name": "CSM"},
        ],
        "categories": [
            {
                "id": "billing",
                "name": "Billing",
                "keywords": ["invoice", "refund"],
                "initial_owner": "billing",
                "escalation_path": ["cfo"],
            },
            {"id": "outage", "name": "Outage", "keywords": ["down"], "initial_owner": "L2"},
        ],
        "triggers": [],
    }
    doc.update(extra)
    return parse_policy(doc, source="unit")


def run(p: Any, state: TicketState, *signals: Any, done: set[Any] | None = None) -> tuple[TicketState, list[Any]]:
    taken: list[Any] = []
    keys = set(done or ())
    for signal in signals:
        state, ds = decide(p, state, signal, done=keys)
        keys.update(d.key for d in ds)
        taken += ds
    return state, taken


def summary(ds: list[Any]) -> list[tuple[str, str, str | None, str]]:
    return [(d.trigger_id, d.action.value, d.target, d.outcome.value) for d in ds]


def test_a_decision_is_taken_once_whatever_repeats_it() -> None:
    p = policy(
        triggers=[{"id": "p0", "event": "ticket", "severity": "P0", "actions": [{"do": "page", "target": "oncall"}]}]
    )
    state = TicketState.of(p, {"severity": "P0"})
    state, first = run(p, state, Opened(AT))
    assert summary(first) == [("p0", "page", "oncall", "queued")]
    # the same signal again, a field change that keeps it matching, and a fresh state (a replay) with the keys
    _, again = run(p, state, Opened(AT), Changed(AT, frozenset({"severity"})), done={d.key for d in first})
    assert again == []
    _, replayed = run(p, TicketState.of(p, {"severity": "P0"}), Opened(AT), done={d.key for d in first})
    assert replayed == []


def test_levels_only_go_up_and_the_path_gives_the_next_one() -> None:
    p = policy(
        triggers=[
            {"id": "to-l3", "event": "ticket", "severity": "P0", "actions": [{"do": "raise_level", "to": "L3"}]},
            {"id": "back-to-l2", "event": "ticket", "severity": "P0", "actions": [{"do": "raise_level", "to": "L2"}]},
        ]
    )
    state, ds = run(p, TicketState.of(p, {"severity": "P0"}), Opened(AT))
    assert summary(ds) == [("to-l3", "raise_level", "L3", "applied"), ("back-to-l2", "raise_level", "L2", "skipped")]
    assert ds[0].changes == {"support_level": ("L1", "L3"), "owner": (None, "L3")}
    assert "already at L3" in ds[1].reason and state.level == "L3"
    # without `to`: the next level on the current level's path
    p2 = policy(
        triggers=[{"id": "up", "event": "keywords", "keywords": ["urgent"], "actions": [{"do": "raise_level"}]}]
    )
    state, ds = run(p2, TicketState.of(p2, {}), TextAdded(AT, "customer_comments", "this is urgent"))
    assert summary(ds) == [("up", "raise_level", "L2", "applied")]


def test_reassign_walks_the_categorys_path_and_a_groups_level_comes_with_it() -> None:
    p = policy(
        triggers=[{"id": "again", "event": "breach", "metric": "first_response", "actions": [{"do": "reassign"}]}]
    )
    state = TicketState.of(p, {"category": "billing"})
    state, ds = run(p, state, Opened(AT))
    # intake: billing's routing table sends it to the Billing group, who work at L2
    assert summary(ds) == [("intake", "route", "billing", "applied")]
    assert ds[0].changes == {"owner": (None, "billing"), "support_level": ("L1", "L2")}
    assert escalation_path(p, state) == ["cfo"] and path_position(p, state) is None
    breach = SlaFired(AT + timedelta(hours=1), FireKind.BREACH, "first_response", 1, "breach")
    state, ds = run(p, state, breach)
    assert summary(ds) == [("again", "reassign", "cfo", "applied")] and state.owner == "cfo"
    assert path_position(p, state) == 0
    # the end of the path: nothing left to reassign to, and it says so
    state, ds = run(p, state, SlaFired(AT + timedelta(hours=2), FireKind.BREACH, "first_response", 2, "breach"))
    assert summary(ds) == [("again", "reassign", None, "skipped")] and "end of its escalation path" in ds[0].reason


def test_intake_categorises_only_a_ticket_that_came_with_no_category() -> None:
    p = policy()
    _, ds = run(p, TicketState.of(p, {"title": "Refund for invoice 2291"}), Opened(AT))
    assert summary(ds) == [("intake", "categorize", "billing", "applied"), ("intake", "route", "billing", "applied")]
    assert "mentions 'invoice'" in ds[0].reason
    # a category the tool gave, even one the policy does not know, is the tool's: ours would flip-flop
    _, ds = run(p, TicketState.of(p, {"title": "Refund for invoice 2291", "category": "question"}), Opened(AT))
    assert ds == []
    _, ds = run(policy(escalation={"auto_categorize": False}), TicketState.of(p, {"title": "invoice"}), Opened(AT))
    assert ds == []


def test_a_breach_after_fires_on_the_overdue_point_not_on_the_breach() -> None:
    p = policy(
        triggers=[
            {
                "id": "late",
                "event": "breach",
                "metric": "first_response",
                "after": "2h",
                "actions": [{"do": "reassign", "to": "csm"}],
            },
            {"id": "max", "event": "breach", "breach": "maximum", "actions": [{"do": "notify", "target": "cfo"}]},
        ]
    )
    state = TicketState.of(p, {})
    _, ds = run(p, state, SlaFired(AT, FireKind.BREACH, "first_response", 1, "breach"))
    assert ds == []
    _, ds = run(p, state, SlaFired(AT, FireKind.OVERDUE, "first_response", 1, "breach + 2h"))
    assert summary(ds) == [("late", "reassign", "csm", "applied")]
    assert "still not met 2h after its breach" in ds[0].reason
    _, ds = run(p, state, SlaFired(AT, FireKind.MAXIMUM_BREACH, "resolution", 1, "maximum breach"))
    assert summary(ds) == [("max", "notify", "cfo", "queued")]
    assert p.breach_followups("first_response") == (timedelta(hours=2),) and p.breach_followups("resolution") == ()


def test_keywords_read_the_customers_words_unless_told_otherwise() -> None:
    p = policy(
        triggers=[
            {
                "id": "churn",
                "event": "keywords",
                "keywords": ["canceling"],
                "actions": [{"do": "notify", "target": "csm"}],
            },
            {
                "id": "leak",
                "event": "keywords",
                "keywords": ["credentials leaked"],
                "in": ["internal_notes"],
                "actions": [{"do": "raise_level", "to": "L3"}],
            },
        ]
    )
    state = TicketState.of(p, {})
    _, ds = run(p, state, TextAdded(AT, "agent_comments", "Sorry to hear you are canceling"))
    assert ds == []  # an agent's words page nobody
    _, ds = run(p, state, TextAdded(AT, "customer_comments", "We are CANCELING next month"))
    assert summary(ds) == [("churn", "notify", "csm", "queued")]
    _, ds = run(p, state, TextAdded(AT, "internal_notes", "their credentials leaked on GitHub"))
    assert summary(ds) == [("leak", "raise_level", "L3", "applied")]
    assert p.show()["triggers"][1]["in"] == ["internal_notes"]  # shown under the name the document uses


def test_csat_fires_per_rating_and_users_affected_once() -> None:
    p = policy(
        triggers=[
            {"id": "csat", "event": "csat_below", "threshold": 3, "actions": [{"do": "notify", "target": "csm"}]},
            {"id": "many", "event": "users_affected", "at_least": 10, "actions": [{"do": "raise_level", "to": "L2"}]},
        ]
    )
    state = TicketState.of(p, {"csat": 2})
    state, ds = run(p, state, Changed(AT, frozenset({"csat"})), Changed(AT + timedelta(days=1), frozenset({"csat"})))
    assert summary(ds) == [("csat", "notify", "csm", "queued")] * 2  # two ratings, two alerts
    state, ds = run(p, TicketState.of(p, {"impact_users": 9}), Changed(AT, frozenset({"impact_users"})))
    assert ds == []
    state, ds = run(p, TicketState.of(p, {"impact_users": 12}), Changed(AT, frozenset({"impact_users"})))
    assert summary(ds) == [("many", "raise_level", "L2", "applied")]
    # the requesters of a problem's linked incidents count too: the larger of the two numbers
    linked = TicketState.of(p, {"impact_users": 3, "linked_users": 11})
    state, ds = run(p, linked, Changed(AT, frozenset({"linked_users"})))
    assert summary(ds) == [("many", "raise_level", "L2", "applied")]
    assert "11 users affected (requesters of the incidents linked to this problem)" in (ds[0].reason or "")
    state, ds = run(p, TicketState.of(p, {"linked_users": 4}), Changed(AT, frozenset({"linked_users"})))
    assert ds == []


def test_pages_are_resolved_with_the_ticket_and_acknowledged_when_the_policy_says() -> None:
    triggers = [{"id": "p0", "event": "ticket", "severity": "P0", "actions": [{"do": "page", "target": "oncall"}]}]
    p = policy(triggers=triggers, paging={"acknowledge_on_first_response": True})
    state, _ = run(p, TicketState.of(p, {"severity": "P0"}), Opened(AT))
    assert state.pages == ("oncall",)
    state, ds = run(p, state, SlaFired(AT, FireKind.MET, "first_response", 1, "met"))
    assert summary(ds) == [("lifecycle", "page_acknowledge", "oncall", "queued")]
    from dataclasses import replace

    state, ds = run(p, replace(state, status="resolved"), Changed(AT, frozenset({"status"})))
    assert summary(ds) == [("lifecycle", "page_resolve", "oncall", "queued")] and state.pages == ()
    quiet = policy(triggers=triggers, paging={"resolve_with_ticket": False})
    state, _ = run(quiet, TicketState.of(quiet, {"severity": "P0"}), Opened(AT))
    _, ds = run(
        quiet,
        replace(state, status="resolved"),
        Changed(AT, frozenset({"status"})),
        SlaFired(AT, FireKind.MET, "first_response", 1, "met"),
    )
    assert ds == []


def test_a_postmortem_is_owed_with_the_policys_default_and_overdue_follow_ups_escalate() -> None:
    p = policy(
        escalation={"postmortem_within": "2d"},
        triggers=[
            {"id": "pm", "event": "ticket", "severity": "P0", "actions": [{"do": "require_postmortem"}]},
            {
                "id": "pm-late",
                "event": "followup_overdue",
                "followup": "postmortem",
                "actions": [{"do": "notify", "target": "cfo"}],
            },
        ],
    )
    _, ds = run(p, TicketState.of(p, {"severity": "P0"}), Opened(AT))
    assert summary(ds) == [("pm", "require_postmortem", None, "owed")] and ds[0].within == timedelta(days=2)
    missed = FollowupMissed(AT, key="7", kind="postmortem", target=None, due_at=AT)
    _, ds = run(p, TicketState.of(p, {}), missed)
    assert summary(ds) == [("pm-late", "notify", "cfo", "queued")]
    _, ds = run(p, TicketState.of(p, {}), FollowupMissed(AT, key="8", kind="notify", target="csm", due_at=AT))
    assert ds == []


def test_a_severity_maps_to_a_page_severity_by_rank_or_as_the_policy_says() -> None:
    p = policy()
    assert [p.page_severity(s) for s in ("P0", "P1", "P2", None)] == ["critical", "error", "warning", "warning"]
    assert policy(paging={"severity": {"P1": "critical"}}).page_severity("P1") == "critical"


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"escalation": {"initial_level": "L9"}}, "escalation.initial_level: unknown support level 'L9'"),
        ({"paging": {"severity": {"P7": "critical"}}}, "paging.severity.P7: unknown level 'P7'"),
        (
            {
                "triggers": [
                    {"id": "x", "event": "followup_overdue", "target": "nobody", "actions": [{"do": "raise_level"}]}
                ]
            },
            "triggers[0].target: unknown level or group 'nobody'",
        ),
        (
            {
                "triggers": [
                    {
                        "id": "x",
                        "event": "keywords",
                        "keywords": ["a"],
                        "in": ["emails"],
                        "actions": [{"do": "raise_level"}],
                    }
                ]
            },
            "triggers[0].in[0]: Input should be 'subject', 'description', 'customer_comments'",
        ),
    ],
)
def test_the_new_policy_settings_are_checked_with_a_path(extra: dict[str, Any], where: str) -> None:
    with pytest.raises(PolicyError) as err:
        policy(**extra)
    assert where in str(err.value)


def test_decisions_say_what_happened_in_one_line() -> None:
    p = policy(
        triggers=[
            {
                "id": "p0",
                "event": "ticket",
                "severity": "P0",
                "actions": [{"do": "raise_level", "to": "L3"}, {"do": "notify", "target": "csm", "within": "2h"}],
            }
        ]
    )
    _, ds = run(p, TicketState.of(p, {"severity": "P0"}), Opened(AT))
    assert (
        ds[0].describe()
        == "raise level L3 (p0): the ticket matches severity P0 [support_level: L1 → L3; owner: ∅ → L3]"
    )
    assert ds[1].describe().endswith("; within 2h") and ds[1].due_at == AT + timedelta(hours=2)
    assert ds[1].outcome is Outcome.QUEUED and ds[1].action is ActionKind.NOTIFY
