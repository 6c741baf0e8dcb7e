"""The SLA rules that follow real triage, through `simulate`, each with a worked example computed by
hand in the comments: targets that appear after creation, cancelled targets that come back, events
of one instant ordered by meaning, one creation per ticket, reopening, "within" versus "less than",
and what the simulate output says about starts and pauses."""

from __future__ import annotations

from typing import Any

import pytest

from connector.policy import load_policy
from connector.sla.simulate import simulate


def run(policy: str | dict[str, Any], ticket: dict[str, Any], events: list[dict[str, Any]], until: str) -> Any:
    return simulate({"policy": policy, "ticket": ticket, "events": events, "until": until})


def clocks(result: Any, metric: str) -> list[dict[str, Any]]:
    return [c for c in result["clocks"] if c["metric"] == metric]


def clock(result: Any, metric: str, cycle: int = 1) -> dict[str, Any]:
    return next(c for c in clocks(result, metric) if c["cycle"] == cycle)


def actions(result: Any, metric: str, kind: str) -> list[dict[str, Any]]:
    return [a for a in result["actions"] if a["metric"] == metric and a["kind"] == kind]


# ---- 1. a target that appears after creation starts its clock --------------------------------------


def test_p2_raised_to_p1_gets_p1s_resolution_clock_counted_from_creation():
    # signx: resolution has a target for P1 (24 h calendar time) and P0, none for P2. Created Tuesday
    # 14:00Z as P2; raised to P1 at 16:00Z → the clock counts from 14:00Z: due Wednesday 14:00Z.
    r = run(
        "signx",
        {"severity": "P2", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T16:00:00Z", "type": "severity", "severity": "P1"},
        ],
        "2026-03-04T15:00:00Z",
    )
    res = clock(r, "resolution")
    assert (res["start_event_at"], res["due_at"]) == ("2026-03-03T14:00:00Z", "2026-03-04T14:00:00Z")
    assert (res["state"], res["breached_at"]) == ("breached", "2026-03-04T14:00:00Z")
    (appeared,) = actions(r, "resolution", "retargeted")
    assert appeared["at"] == "2026-03-03T16:00:00Z" and "no target → 1d" in appeared["detail"]


def test_raising_p1_to_p0_keeps_the_resolution_clock():
    # signx states a resolution time for P1 only; P0 inherits it (the preset's choice), so raising a P1 to
    # P0 keeps the same promise: no cancellation, no retarget, due 24 h after creation.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "severity", "severity": "P0"},
        ],
        "2026-03-03T20:00:00Z",
    )
    res = clock(r, "resolution")
    assert (res["state"], res["due_at"]) == ("running", "2026-03-04T14:00:00Z")
    assert actions(r, "resolution", "cancelled") == [] and actions(r, "resolution", "retargeted") == []


def test_a_category_set_after_creation_starts_its_routing_table_sla():
    # skillancer: "Performance issues … SLA 1h" (category_resolution, calendar time). Created 10:00Z with no
    # category; triage sets it at 10:20Z → due 11:00Z, counted from 10:00Z; unresolved at 11:30Z → breached.
    policy = load_policy("skillancer")
    performance = next(c for c in policy.categories if c.id == "performance_issues")
    assert performance.sla is not None and performance.sla.total_seconds() == 3600
    r = run(
        "skillancer",
        {"severity": "P2", "channel": "email"},
        [
            {"at": "2026-03-03T10:00:00Z", "type": "created"},
            {"at": "2026-03-03T10:20:00Z", "type": "category", "category": "performance_issues"},
        ],
        "2026-03-03T11:30:00Z",
    )
    cat = clock(r, "category_resolution")
    assert (cat["due_at"], cat["state"], cat["breached_at"]) == (
        "2026-03-03T11:00:00Z",
        "breached",
        "2026-03-03T11:00:00Z",
    )


def test_a_customer_who_becomes_enterprise_gets_every_clock():
    # localizevideos: self-serve tickets have no SLA; enterprise Sev1 first response 1 h calendar time.
    # Created 10:00Z as self-serve, tier set to enterprise at 10:30Z → first response due 11:00Z (counted
    # from 10:00Z); the agent answers at 10:50Z: met in time. The update cadence (60 min) starts there.
    r = run(
        "localizevideos",
        {"severity": "Sev1", "customer_tier": "self_serve", "channel": "email"},
        [
            {"at": "2026-03-03T10:00:00Z", "type": "created"},
            {"at": "2026-03-03T10:30:00Z", "type": "tier", "tier": "enterprise"},
            {"at": "2026-03-03T10:50:00Z", "type": "public_reply", "author": "agent"},
        ],
        "2026-03-03T11:20:00Z",
    )
    fr = clock(r, "first_response")
    assert (fr["due_at"], fr["state"], fr["met_at"]) == ("2026-03-03T11:00:00Z", "met", "2026-03-03T10:50:00Z")
    assert clock(r, "next_update")["due_at"] == "2026-03-03T11:50:00Z"


def test_a_metric_met_before_any_target_applied_shows_no_clock():
    # localizevideos self-serve answered at 10:10Z, becomes enterprise at 10:30Z: the first response was
    # given before any promise existed — no first-response clock; the update cadence starts at 10:30Z? No:
    # it started at the first response (10:10Z) and counts from there: due 11:10Z.
    r = run(
        "localizevideos",
        {"severity": "Sev1", "customer_tier": "self_serve", "channel": "email"},
        [
            {"at": "2026-03-03T10:00:00Z", "type": "created"},
            {"at": "2026-03-03T10:10:00Z", "type": "public_reply", "author": "agent"},
            {"at": "2026-03-03T10:30:00Z", "type": "tier", "tier": "enterprise"},
        ],
        "2026-03-03T10:40:00Z",
    )
    assert clocks(r, "first_response") == []
    assert clock(r, "next_update")["due_at"] == "2026-03-03T11:10:00Z"


def test_a_target_that_goes_away_and_comes_back_counts_again():
    # signx P1 resolution 24 h; lowered to P2 (no resolution target) at 15:00Z → cancelled, but the clock
    # goes on counting; back to P1 at 17:00Z → running again, still due 24 h after creation.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "severity", "severity": "P2"},
            {"at": "2026-03-03T17:00:00Z", "type": "severity", "severity": "P1"},
        ],
        "2026-03-03T18:00:00Z",
    )
    (res,) = clocks(r, "resolution")
    assert (res["state"], res["due_at"], res["counted_seconds"]) == ("running", "2026-03-04T14:00:00Z", 4 * 3600)
    assert [a["at"] for a in actions(r, "resolution", "cancelled")] == ["2026-03-03T15:00:00Z"]
    assert [a["at"] for a in actions(r, "resolution", "retargeted")] == ["2026-03-03T17:00:00Z"]


def test_a_target_appearing_after_its_due_time_breaches_at_the_crossing():
    # signx P2 has no resolution target; raised to P1 27 h after creation → 24 h were crossed at
    # creation + 24 h: the breach is recorded at that instant, its warning (75% = 18 h) is skipped.
    r = run(
        "signx",
        {"severity": "P2", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-04T17:00:00Z", "type": "severity", "severity": "P1"},
        ],
        "2026-03-04T18:00:00Z",
    )
    res = clock(r, "resolution")
    assert res["breached_at"] == "2026-03-04T14:00:00Z" and res["warnings"] == []


# ---- the policy validator warns about a looser promise for a more severe ticket --------------------


def test_the_validator_warns_when_a_more_severe_ticket_has_a_looser_or_no_target():
    doc = {
        "name": "gappy",
        "severity": {"levels": [{"id": "P0"}, {"id": "P1"}, {"id": "P2"}], "default": "P2"},
        "sla": {
            "defaults": {"time": "calendar"},
            "targets": [
                {"metric": "resolution", "severity": "P1", "target": "24h"},
                {"metric": "first_response", "severity": "P0", "target": "8h"},
                {"metric": "first_response", "severity": "P1", "target": "4h"},
                {"metric": "first_response", "severity": "P2", "target": "1d"},
            ],
        },
    }
    warnings = load_policy(doc).warnings()
    assert any(w.startswith("resolution: severity P0 has no target where the less severe P1 has 1d") for w in warnings)
    assert any(
        w.startswith("first_response: severity P0 has a looser target (8h) where the less severe P1 has 4h")
        for w in warnings
    )
    assert len(warnings) == 2


@pytest.mark.parametrize("preset", ["nwire", "signx", "localizevideos", "tai", "skillancer"])
def test_no_preset_holds_a_more_severe_ticket_to_a_looser_promise(preset: str):
    assert load_policy(preset).warnings() == []


# ---- 2. events of one instant are ordered by meaning ----------------------------------------------


def test_submit_as_solved_with_a_reply_is_a_first_response_whatever_the_list_order():
    # signx P1: the agent answers and solves in one action at 15:00Z; the resolve is listed first.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "resolved"},
            {"at": "2026-03-03T15:00:00Z", "type": "public_reply", "author": "agent"},
        ],
        "2026-03-03T16:00:00Z",
    )
    assert (clock(r, "first_response")["state"], clock(r, "first_response")["met_at"]) == (
        "met",
        "2026-03-03T15:00:00Z",
    )
    assert clock(r, "resolution")["state"] == "met"


def test_a_reply_and_a_pause_at_one_instant_answer_first_then_pause():
    # "Submit as Pending": the reply meets the first response, then the resolution clock pauses.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "status", "status": "waiting_on_customer"},
            {"at": "2026-03-03T15:00:00Z", "type": "public_reply", "author": "agent"},
        ],
        "2026-03-03T16:00:00Z",
    )
    assert clock(r, "first_response")["met_at"] == "2026-03-03T15:00:00Z"
    assert clock(r, "resolution")["state"] == "paused"


def test_triage_at_the_creation_instant_sets_the_first_targets():
    # Severity set in the same instant as the creation (listed first): the P0 target applies from the start.
    r = run(
        "signx",
        {"severity": "P2", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "severity", "severity": "P0"},
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
        ],
        "2026-03-03T14:30:00Z",
    )
    assert clock(r, "first_response")["due_at"] == "2026-03-03T15:00:00Z"


# ---- 3. one creation per ticket ----------------------------------------------------------------


def test_events_before_the_creation_and_a_late_second_creation_start_nothing_twice():
    # A reply stamped 1 min before the creation (clock skew between tools) counts at the creation; a second
    # `created` at 15:00Z (a late re-delivery) changes nothing: one set of clocks, one breach at most.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T13:59:00Z", "type": "public_reply", "author": "customer"},
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "created"},
        ],
        "2026-03-05T00:00:00Z",
    )
    assert [c["cycle"] for c in clocks(r, "first_response")] == [1]
    assert [c["cycle"] for c in clocks(r, "resolution")] == [1]
    assert clock(r, "first_response")["start_event_at"] == "2026-03-03T14:00:00Z"
    assert len(actions(r, "first_response", "breach")) == 1 and len(actions(r, "resolution", "breach")) == 1


def test_the_earliest_creation_wins_whatever_the_list_order():
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T15:00:00Z", "type": "created"},
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
        ],
        "2026-03-03T16:00:00Z",
    )
    assert [c["start_event_at"] for c in clocks(r, "resolution")] == ["2026-03-03T14:00:00Z"]


# ---- 4. reopening resumes every clock the resolution ended -----------------------------------------


def test_reopen_resumes_the_update_cadence():
    # localizevideos Sev1: first response 10:10Z starts the 60-min update cadence (due 11:10Z); solved at
    # 10:30Z (20 min counted); reopened 12:00Z → the cadence counts again from 12:00Z: due 12:40Z, and
    # with no update by 13:00Z it breaches at 12:40Z.
    r = run(
        "localizevideos",
        {"severity": "Sev1", "channel": "email"},
        [
            {"at": "2026-03-03T10:00:00Z", "type": "created"},
            {"at": "2026-03-03T10:10:00Z", "type": "public_reply", "author": "agent"},
            {"at": "2026-03-03T10:30:00Z", "type": "resolved"},
            {"at": "2026-03-03T12:00:00Z", "type": "reopened"},
        ],
        "2026-03-03T13:00:00Z",
    )
    nu = clock(r, "next_update")
    assert (nu["due_at"], nu["state"], nu["breached_at"]) == (
        "2026-03-03T12:40:00Z",
        "breached",
        "2026-03-03T12:40:00Z",
    )
    assert [a["at"] for a in actions(r, "next_update", "reopened")] == ["2026-03-03T12:00:00Z"]


def test_a_met_after_a_reopen_is_a_fire_of_its_own():
    # signx P1 resolution: solved 15:00Z, reopened 16:00Z, solved again 17:00Z → two mets, distinct labels.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "resolved"},
            {"at": "2026-03-03T16:00:00Z", "type": "reopened"},
            {"at": "2026-03-03T17:00:00Z", "type": "resolved"},
        ],
        "2026-03-03T18:00:00Z",
    )
    mets = actions(r, "resolution", "met")
    assert [m["at"] for m in mets] == ["2026-03-03T15:00:00Z", "2026-03-03T17:00:00Z"]
    assert len({m["label"] for m in mets}) == 2
    res = clock(r, "resolution")
    assert (res["met_at"], res["counted_seconds"]) == ("2026-03-03T17:00:00Z", 2 * 3600)


def test_reopen_resumes_an_unanswered_first_response():
    # signx P1 (4 business hours; 08–18 New York): created Tue 14:00Z (09:00 EST), solved unanswered
    # 15:00Z (1 h counted), reopened 16:00Z → 3 h left: due 19:00Z.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "resolved"},
            {"at": "2026-03-03T16:00:00Z", "type": "reopened"},
        ],
        "2026-03-03T17:00:00Z",
    )
    fr = clock(r, "first_response")
    assert (fr["state"], fr["due_at"]) == ("running", "2026-03-03T19:00:00Z")


# ---- 5. "within" versus "less than" ------------------------------------------------------------


def test_less_than_one_hour_an_answer_at_the_due_instant_is_late():
    # signx (seed: "P0 (Critical): <1 hour"): created 14:00Z, answered at 15:00:00Z exactly → breached.
    r = run(
        "signx",
        {"severity": "P0", "channel": "web"},
        [
            {"at": "2026-03-03T14:00:00Z", "type": "created"},
            {"at": "2026-03-03T15:00:00Z", "type": "public_reply", "author": "agent"},
        ],
        "2026-03-03T16:00:00Z",
    )
    fr = clock(r, "first_response")
    assert (fr["at_due"], fr["state"], fr["breached_at"]) == ("late", "breached", "2026-03-03T15:00:00Z")


def test_within_one_hour_an_answer_at_the_due_instant_is_in_time():
    # localizevideos (seed: "Sev 1 ≤ 1 hour"): answered at 11:00:00Z exactly → met, no breach.
    r = run(
        "localizevideos",
        {"severity": "Sev1", "channel": "email"},
        [
            {"at": "2026-03-03T10:00:00Z", "type": "created"},
            {"at": "2026-03-03T11:00:00Z", "type": "public_reply", "author": "agent"},
        ],
        "2026-03-03T12:00:00Z",
    )
    fr = clock(r, "first_response")
    assert (fr["at_due"], fr["state"], fr["breached_at"]) == ("on_time", "met", None)


@pytest.mark.parametrize(
    ("preset", "ticket", "breached"),
    [
        ("signx", {"severity": "P0", "channel": "web"}, True),
        ("localizevideos", {"severity": "Sev1", "channel": "email"}, False),
    ],
)
def test_at_the_due_instant_itself_only_less_than_has_breached(preset: str, ticket: dict[str, Any], breached: bool):
    created = "2026-03-03T10:00:00Z"
    r = run(preset, ticket, [{"at": created, "type": "created"}], "2026-03-03T11:00:00Z")
    assert (clock(r, "first_response")["state"] == "breached") is breached


# ---- 8. what simulate says about starts and pauses -------------------------------------------------


def test_started_at_is_when_counting_began_beside_the_event_that_started_it():
    # signx P1 business time (08–18 New York): created Thursday 20:00 EST = Friday 01:00Z → counting starts at
    # Friday 08:00 EST = 13:00Z; due 4 business hours later, 17:00Z.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [
            {"at": "2026-03-05T20:00:00-05:00", "type": "created"},
        ],
        "2026-03-06T14:00:00Z",
    )
    fr = clock(r, "first_response")
    assert (fr["start_event_at"], fr["started_at"], fr["due_at"]) == (
        "2026-03-06T01:00:00Z",
        "2026-03-06T13:00:00Z",
        "2026-03-06T17:00:00Z",
    )


def test_paused_time_is_given_in_wall_clock_and_in_counted_time():
    # localizevideos Sev2 update cadence: 8 business hours (09–17 UTC). It starts at the first response
    # (Monday 09:30Z); waiting on the customer 10:00Z → 20:00Z: 10 h of wall clock, of which 7 h (10–17)
    # the calendar would have counted. By 20:30Z it has counted 30 min (09:30–10:00).
    r = run(
        "localizevideos",
        {"severity": "Sev2", "channel": "email"},
        [
            {"at": "2026-03-02T09:00:00Z", "type": "created"},
            {"at": "2026-03-02T09:30:00Z", "type": "public_reply", "author": "agent"},
            {"at": "2026-03-02T10:00:00Z", "type": "status", "status": "waiting_on_customer"},
            {"at": "2026-03-02T20:00:00Z", "type": "status", "status": "open"},
        ],
        "2026-03-02T20:30:00Z",
    )
    nu = clock(r, "next_update")
    assert (nu["paused_seconds"], nu["paused_counted_seconds"], nu["counted_seconds"]) == (36000, 25200, 1800)
