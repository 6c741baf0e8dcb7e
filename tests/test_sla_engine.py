"""The SLA engine through `simulate`: worked examples over the presets' calendars and numbers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from connector.sla.simulate import ScenarioError, simulate


def run(policy, ticket, events, until):  # type: ignore[no-untyped-def]
    return simulate({"policy": policy, "ticket": ticket, "events": events, "until": until})


def clock(result, metric, cycle=1):  # type: ignore[no-untyped-def]
    return next(c for c in result["clocks"] if c["metric"] == metric and c["cycle"] == cycle)


def kinds(result, metric):  # type: ignore[no-untyped-def]
    return [(a["kind"], a["at"]) for a in result["actions"] if a["metric"] == metric and a["kind"] != "started"]


def test_business_hours_clock_starts_at_the_next_opening_across_a_weekend():
    # signx: P1 first response 4 business hours, 08:00-18:00 America/New_York. Friday 17:30 EST →
    # 30 min on Friday, then Monday 08:00 EDT (DST began Sunday 2026-03-08) + 3h30 = 11:30 EDT.
    r = run(
        "signx",
        {"severity": "P1", "channel": "web"},
        [{"at": "2026-03-06T17:30:00-05:00", "type": "created"}],
        "2026-03-10T00:00:00Z",
    )
    fr = clock(r, "first_response")
    assert fr["due_at"] == "2026-03-09T15:30:00Z"
    assert fr["state"] == "breached"
    assert fr["breached_at"] == "2026-03-09T15:30:00Z"
    # 75% of 4h = 3h counted: Monday 10:30 EDT
    assert fr["warnings"] == ["75% elapsed at 2026-03-09T14:30:00Z"]


def test_after_hours_email_uses_the_calendar_time_target():
    # signx: "After Hours: Email support (4hr response)" — an email at 20:00 EST is due at 00:00.
    r = run(
        "signx",
        {"severity": "P2", "channel": "email"},
        [{"at": "2026-03-05T20:00:00-05:00", "type": "created"}],
        "2026-03-06T12:00:00Z",
    )
    assert clock(r, "first_response")["due_at"] == "2026-03-06T05:00:00Z"


def test_public_agent_reply_meets_first_response_but_internal_note_does_not():
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T14:10:00Z", "type": "internal_note", "author": "agent"},
        {"at": "2026-03-03T14:20:00Z", "type": "public_reply", "author": "customer"},
        {"at": "2026-03-03T14:40:00Z", "type": "public_reply", "author": "agent"},
    ]
    r = run("signx", {"severity": "P0", "channel": "web"}, events, "2026-03-03T16:00:00Z")
    fr = clock(r, "first_response")
    assert fr["state"] == "met"
    assert fr["met_at"] == "2026-03-03T14:40:00Z"
    assert fr["due_at"] == "2026-03-03T15:00:00Z"


def test_pause_while_waiting_on_customer_does_not_count():
    # signx P1 resolution: 24h calendar time, paused while waiting on the customer.
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T16:00:00Z", "type": "status", "status": "waiting_on_customer"},
        {"at": "2026-03-04T04:00:00Z", "type": "status", "status": "open"},
    ]
    r = run("signx", {"severity": "P1", "channel": "web"}, events, "2026-03-04T06:00:00Z")
    res = clock(r, "resolution")
    assert res["state"] == "running"
    assert res["paused_seconds"] == 12 * 3600
    assert res["counted_seconds"] == 4 * 3600
    assert res["due_at"] == "2026-03-05T02:00:00Z"  # 24h + 12h paused


def test_paused_clock_has_no_due_time_and_fires_nothing():
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T15:00:00Z", "type": "status", "status": "on_hold"},
    ]
    r = run("signx", {"severity": "P1", "channel": "web"}, events, "2026-03-06T00:00:00Z")
    res = clock(r, "resolution")
    assert res["state"] == "paused" and res["due_at"] is None and res["breached_at"] is None


def test_severity_raised_mid_flight_recomputes_due_from_history():
    # signx first response P2 24 business hours → P0 1 business hour; raised after 30 counted minutes.
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T14:30:00Z", "type": "severity", "severity": "P0"},
    ]
    r = run("signx", {"severity": "P2", "channel": "web"}, events, "2026-03-03T14:40:00Z")
    fr = clock(r, "first_response")
    assert fr["target"] == "1h"
    assert fr["due_at"] == "2026-03-03T15:00:00Z"
    assert ("retargeted", "2026-03-03T14:30:00Z") in kinds(r, "first_response")
    # the 75% warning of the new target (14:45) has not come yet at 14:40
    assert fr["warnings"] == []


def test_target_lowered_below_counted_time_breaches_at_the_crossing():
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T16:00:00Z", "type": "severity", "severity": "P0"},
    ]
    r = run("signx", {"severity": "P2", "channel": "web"}, events, "2026-03-03T17:00:00Z")
    fr = clock(r, "first_response")
    assert fr["breached_at"] == "2026-03-03T15:00:00Z"
    assert fr["warnings"] == []  # the new target's warning instant had passed: it never fired


def test_met_after_breach_records_both():
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T15:30:00Z", "type": "public_reply", "author": "agent"},
    ]
    r = run("signx", {"severity": "P0", "channel": "web"}, events, "2026-03-03T18:00:00Z")
    fr = clock(r, "first_response")
    assert (fr["breached_at"], fr["met_at"], fr["state"]) == (
        "2026-03-03T15:00:00Z",
        "2026-03-03T15:30:00Z",
        "breached",
    )
    assert [k for k, _ in kinds(r, "first_response")] == ["warning", "breach", "met"]


def test_update_cadence_restarts_with_each_public_update():
    # localizevideos: "Sev 1 … Every 30–60 mins" → breach at 60, warn at 30.
    events = [
        {"at": "2026-03-06T10:00:00Z", "type": "created"},
        {"at": "2026-03-06T10:20:00Z", "type": "public_reply", "author": "agent"},
        {"at": "2026-03-06T11:10:00Z", "type": "public_reply", "author": "agent"},
        {"at": "2026-03-06T12:30:00Z", "type": "public_reply", "author": "agent"},
    ]
    r = run("localizevideos", {"severity": "Sev1"}, events, "2026-03-06T12:31:00Z")
    cycles = [c for c in r["clocks"] if c["metric"] == "next_update"]
    assert [(c["started_at"], c["state"]) for c in cycles] == [
        ("2026-03-06T10:20:00Z", "met"),
        ("2026-03-06T11:10:00Z", "breached"),
        ("2026-03-06T12:30:00Z", "running"),
    ]
    assert cycles[0]["warnings"] == ["30m before due at 2026-03-06T10:50:00Z"]
    assert cycles[1]["breached_at"] == "2026-03-06T12:10:00Z"


def test_each_warning_and_breach_fires_once():
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T14:50:00Z", "type": "status", "status": "open"},
        {"at": "2026-03-03T15:10:00Z", "type": "status", "status": "in_progress"},
    ]
    r = run("signx", {"severity": "P0", "channel": "web"}, events, "2026-03-03T20:00:00Z")
    fired = kinds(r, "first_response")
    assert fired == [("warning", "2026-03-03T14:45:00Z"), ("breach", "2026-03-03T15:00:00Z")]


def test_resolution_maximum_is_a_second_breach():
    # skillancer: P0 resolution target 1h, maximum 4h (calendar time).
    r = run(
        "skillancer",
        {"severity": "P0", "channel": "email"},
        [{"at": "2026-03-03T14:00:00Z", "type": "created"}],
        "2026-03-03T19:00:00Z",
    )
    res = clock(r, "resolution")
    assert res["breached_at"] == "2026-03-03T15:00:00Z"
    assert res["maximum_breached_at"] == "2026-03-03T18:00:00Z"


def test_paging_starts_engineering_ack_and_acknowledge_meets_it():
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T14:05:00Z", "type": "paged"},
        {"at": "2026-03-03T14:12:00Z", "type": "acknowledged"},
    ]
    r = run("signx", {"severity": "P0", "channel": "web"}, events, "2026-03-03T15:00:00Z")
    ack = clock(r, "engineering_ack")
    assert (ack["started_at"], ack["due_at"], ack["state"]) == ("2026-03-03T14:05:00Z", "2026-03-03T14:20:00Z", "met")


def test_reopen_resumes_resolution():
    events = [
        {"at": "2026-03-03T14:00:00Z", "type": "created"},
        {"at": "2026-03-03T20:00:00Z", "type": "resolved"},
        {"at": "2026-03-04T08:00:00Z", "type": "reopened"},
    ]
    r = run("signx", {"severity": "P1", "channel": "web"}, events, "2026-03-04T10:00:00Z")
    res = clock(r, "resolution")
    assert res["state"] == "running" and res["met_at"] is None
    assert res["counted_seconds"] == 8 * 3600


def test_severity_hint_from_text_when_no_severity_given():
    r = run(
        "signx",
        {"text": "Production down for all users", "channel": "web"},
        [{"at": "2026-03-03T14:00:00Z", "type": "created"}],
        "2026-03-03T14:01:00Z",
    )
    assert clock(r, "first_response")["target"] == "1h"


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"policy": "signx", "events": []}, "events"),
        ({"policy": "signx", "events": [{"type": "created"}]}, "events[0]"),
        ({"policy": "signx", "events": [{"at": "yesterday", "type": "created"}]}, "events[0].at"),
        ({"policy": "signx", "events": [{"at": "2026-03-03T14:00:00Z", "type": "teleported"}]}, "teleported"),
        ({"policy": "signx", "events": [{"at": "2026-03-03T14:00:00Z", "type": "created"}], "until": "soon"}, "until"),
    ],
)
def test_bad_scenarios_say_what_is_wrong(scenario, message):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        simulate(scenario)


def test_simulate_cli(tmp_path):
    from connector.cli import main

    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "policy": "tai",
                "ticket": {"severity": "CRITICAL", "customer_tier": "enterprise"},
                "events": [{"at": "2026-03-03T18:00:00Z", "type": "created"}],
                "until": "2026-03-04T18:00:00Z",
            }
        )
    )
    result = CliRunner().invoke(main, ["simulate", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {c["metric"] for c in out["clocks"]} >= {"first_response", "resolution"}


def test_simulate_api(client):
    from tests.conftest import ADMIN

    scenario = {
        "policy": "signx",
        "ticket": {"severity": "P0", "channel": "web"},
        "events": [{"at": "2026-03-03T14:00:00Z", "type": "created"}],
        "until": "2026-03-03T16:00:00Z",
    }
    r = client.post("/api/simulate", json=scenario, headers=ADMIN)
    assert r.status_code == 200
    assert clock(r.get_json(), "first_response")["breached_at"] == "2026-03-03T15:00:00Z"
    bad = client.post("/api/simulate", json={"policy": "nope", "events": []}, headers=ADMIN)
    assert bad.status_code == 400
