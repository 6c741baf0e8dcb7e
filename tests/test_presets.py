"""Each preset carries its seed's numbers (shared/seeds/000–004); every assertion quotes its sentence."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from connector.policy import Policy, format_duration, load_policy


def clock(policy: Policy, metric: str, **facts: Any) -> tuple[str, str | None, str] | None:
    """(target, maximum, business|calendar) of the target that applies, or None for no clock."""
    facts.setdefault("severity", None)
    facts.setdefault("tier", None)
    found = policy.targets_for(metric, **facts)
    if not found:
        return None
    t = found[0]
    assert t.target is not None
    return format_duration(t.target), format_duration(t.maximum) if t.maximum else None, t.time


def actions(policy: Policy, trigger_id: str) -> list[tuple[str, str | None]]:
    trigger = next(t for t in policy.triggers if t.id == trigger_id)
    return [(a.do, getattr(a, "to", None) or getattr(a, "target", None)) for a in trigger.actions]


def test_nwire_levels_and_their_slas():
    p = load_policy("nwire")
    # 000: "L1 · First contact … SLA target: first response within 1 hour during business hours."
    assert clock(p, "first_response", severity="P2") == ("1h", None, "business")
    # 000: "L2 · Investigation … SLA target: investigation started within 4 hours, resolution or escalation
    #       within 1 business day."  (1 business day = 8 business hours on the preset's 09:00–17:00 calendar)
    assert clock(p, "investigation_start", level="L2") == ("4h", None, "business")
    assert clock(p, "escalation_within", level="L2") == ("8h", None, "business")
    assert p.metric("investigation_start").start == "level:L2"
    assert clock(p, "investigation_start", level="L1") is None
    # 000: "L3 · Engineering … SLA target: P0 triggers incident process immediately; P1 same day;
    #       P2 enters normal backlog."
    assert clock(p, "resolution", severity="P1", level="L3") == ("8h", None, "business")
    assert clock(p, "resolution", severity="P2", level="L3") is None
    assert actions(p, "p0-incident")[:2] == [("raise_level", "L3"), ("page", "dev_team")]
    assert p.calendars["business"].weekly_hours[0] == [(time(9), time(17))]
    # 000: "Three tickets about the same confusion is not three bugs."
    assert next(t for t in p.triggers if t.id == "repeat-confusion").count == 3
    assert [lv.id for lv in p.support_levels] == ["L1", "L2", "L3"]


def test_signx_response_times_hours_and_engineering_ack():
    p = load_policy("signx")
    # 001: "Response Times (SLA): P0 (Critical): <1 hour; P1 (High): <4 hours; P2 (Medium): <24 hours;
    #       P3 (Low): <1 week"
    got = [clock(p, "first_response", severity=s) for s in ("P0", "P1", "P2", "P3")]
    assert got == [
        ("1h", None, "calendar"),
        ("4h", None, "business"),
        ("1d", None, "business"),
        ("1w", None, "business"),
    ]
    # a P0 emailed after hours keeps its 1 h promise
    assert clock(p, "first_response", severity="P0", channel="email", received="after_hours") == (
        "1h",
        None,
        "calendar",
    )
    # 001: "Business Hours: 8 AM - 6 PM EST, Monday-Friday"
    cal = p.calendars["business"]
    assert cal.timezone == "America/New_York"
    assert [cal.weekly_hours[d] for d in range(7)] == [[(time(8), time(18))]] * 5 + [[], []]
    # 001: "After Hours: Email support (4hr response)"; "Weekend: Email support (24hr response)"
    assert clock(p, "first_response", severity="P3", channel="email", received="after_hours") == (
        "4h",
        None,
        "calendar",
    )
    assert clock(p, "first_response", severity="P3", channel="email", received="weekend") == ("1d", None, "calendar")
    # 001: "Acknowledge (<15 min for P0, <1hr for P1)"
    assert clock(p, "engineering_ack", severity="P0") == ("15m", None, "calendar")
    assert clock(p, "engineering_ack", severity="P1") == ("1h", None, "calendar")
    # 001: "Resolution Time | <24 hours (P1)"
    assert clock(p, "resolution", severity="P1") == ("1d", None, "calendar")
    # 001: "Priority (P0-P4)" — P4 is read as the lowest level, P3.
    assert p.severity_of("P4") == "P3"


def test_signx_friday_evening_p1_is_due_monday_morning():
    # 001: "P1 (High): <4 hours" in "Business Hours: 8 AM - 6 PM EST" — a P1 at 17:30 on Friday 6 March 2026
    # (EST) has 30 minutes on Friday and 3.5 h on Monday 9 March, after the DST change (EDT).
    p = load_policy("signx")
    created = datetime(2026, 3, 6, 17, 30, tzinfo=ZoneInfo("America/New_York"))
    target = p.targets_for("first_response", severity="P1", tier=None, channel="web", received=p.arrival(created))[0]
    due = p.clock_calendar(target).add(created, target.target.total_seconds())
    assert due == datetime(2026, 3, 9, 15, 30, tzinfo=ZoneInfo("UTC"))


def test_localizevideos_initial_response_and_update_cadence():
    p = load_policy("localizevideos")
    # 002: "Sev 1 ≤ 1 hour; Sev 2 ≤ 4 hours; Sev 3 ≤ 1 business day; Sev 4 ≤ 2 business days" (Initial Response)
    got = [clock(p, "first_response", severity=s) for s in ("Sev1", "Sev2", "Sev3", "Sev4")]
    assert got == [
        ("1h", None, "calendar"),
        ("4h", None, "calendar"),
        ("8h", None, "business"),
        ("16h", None, "business"),
    ]
    # 002: "Sev 1 … Every 30–60 mins" — breach at 60, warn at 30.
    cadence = p.targets_for("next_update", severity="Severity 1", tier=None)[0]
    assert (format_duration(cadence.target), [format_duration(w) for w in cadence.warn_before]) == ("1h", ["30m"])
    # 002: "Sev 2 … Every business day"; "Sev 3 … As needed"; "Sev 4 … As needed"
    assert clock(p, "next_update", severity="Sev2") == ("8h", None, "business")
    assert clock(p, "next_update", severity="Sev3") is clock(p, "next_update", severity="Sev4") is None
    # 002: "Resolution speed depends on complexity." — no resolution clock.
    assert clock(p, "resolution", severity="Sev1") is None
    # 002: "Self-serve customers are out of scope."
    assert p.targets_for(severity="Sev1", tier="self_serve") == []
    # 002: "Every Sev 1 / Sev 2 incident requires: Root Cause Analysis (RCA)"
    rca = next(t for t in p.triggers if t.id == "rca-sev1-sev2")
    assert rca.severity == ["Sev1", "Sev2"] and actions(p, "rca-sev1-sev2") == [("require_postmortem", None)]
    # 002: "Support Engineer → Platform Engineer → Security / Infra Lead → Leadership (if required)"
    assert p.support_levels[0].escalation_path == ["L2", "L3", "L4"]


def test_tai_tier_slas_priorities_and_hours():
    p = load_policy("tai")
    # 003 (SLA Targets): "Starter | 24h | 7d", "Professional | 4h | 2d", "Enterprise | 1h | 8h"
    assert clock(p, "first_response", severity="LOW", tier="Starter") == ("1d", None, "business")
    assert clock(p, "first_response", severity="LOW", tier="Professional") == ("4h", None, "business")
    assert clock(p, "first_response", severity="LOW", tier="Enterprise") == ("1h", None, "calendar")
    assert [clock(p, "resolution", tier=t) for t in ("starter", "professional", "enterprise")] == [
        ("1w", None, "calendar"),
        ("2d", None, "calendar"),
        ("8h", None, "calendar"),
    ]
    # 003: "Priority Level: CRITICAL / HIGH / MEDIUM / LOW — Default to LOW unless clear from description"
    assert [lv.id for lv in p.severity.levels] == ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    assert p.severity.default == "LOW"
    # 003: "Re-assess if customer mentions 'production down' or 'losing money'"
    assert p.severity_hint("We're losing money by the hour") == "CRITICAL"
    assert p.severity_hint("Production down for all stores") == "CRITICAL"
    # 003: "Auto-alert if 30 minutes before due time"
    target = p.targets_for("first_response", severity="LOW", tier="professional")[0]
    assert [format_duration(w) for w in target.warn_before] == ["30m"]
    # 003: "Starter … 9 AM - 5 PM PT, Monday-Friday"; "Professional … 9 AM - 6 PM PT, Monday-Friday"
    starter, pro = p.calendars["starter_hours"], p.calendars["professional_hours"]
    assert (starter.timezone, starter.weekly_hours[4], pro.weekly_hours[4], pro.weekly_hours[5]) == (
        "America/Los_Angeles",
        [(time(9), time(17))],
        [(time(9), time(18))],
        [],
    )
    assert target.calendar == "professional_hours"
    # 003: "Declare a P1 (Critical) Incident" — the seed's incident P1 is CRITICAL.
    assert p.severity_of("P1") == "CRITICAL"


def test_tai_escalation_triggers():
    p = load_policy("tai")
    # 003: 'Customer says "canceling" or "leaving": IMMEDIATE page to VP Product … CSM calls within 2 hours'
    churn = next(t for t in p.triggers if t.id == "churn-words")
    assert churn.matches("we are canceling our plan") and churn.matches("Leaving at month end")
    assert actions(p, "churn-words") == [("page", "vp_product"), ("notify", "csm")]
    # 003: "CSAT Score < 5: Alert CSM within 1 hour"; "Support tickets on same issue 3+ times: Alert VP Product"
    csat = next(t for t in p.triggers if t.id == "low-csat")
    assert (csat.threshold, csat.scale) == (5, 10)
    assert next(t for t in p.triggers if t.id == "repeat-issue").count == 3
    # 003: "Change ownership if not responded in 2 hours past SLA"
    late = next(t for t in p.triggers if t.id == "reassign-after-missed-response")
    assert (late.metric, format_duration(late.after)) == ("first_response", "2h")
    # 003: "CRITICAL SEVERITY → IMMEDIATE: Page VP Product + On-Call Eng (1-hour response SLA)"
    assert clock(p, "first_response", severity="CRITICAL", tier="professional") == ("1h", None, "calendar")
    assert actions(p, "critical-page")[:2] == [("page", "vp_product"), ("page", "eng_oncall")]


def test_skillancer_resolution_first_response_and_routing_table():
    p = load_policy("skillancer")
    # 004 (Resolution Time by Severity): "P0 | 1 hour | 4 hours", "P1 | 4 hours | 8 hours",
    #   "P2 | 24 hours | 48 hours", "P3 | 72 hours | 1 week"
    got = [clock(p, "resolution", severity=s) for s in ("P0", "P1", "P2", "P3")]
    assert got == [
        ("1h", "4h", "calendar"),
        ("4h", "8h", "calendar"),
        ("1d", "2d", "calendar"),
        ("3d", "1w", "calendar"),
    ]
    # 004 (First Response Time): "Live Chat | 2 min | 5 min", "Email | 2 hours | 4 hours"
    assert clock(p, "first_response", channel="chat") == ("2m", "5m", "calendar")
    assert clock(p, "first_response", channel="email") == ("2h", "4h", "calendar")
    # 004 (Issue Categories & Routing): "Performance issues | Tier 2 | Tier 3 | 1h", "Bug reports | Tier 1 |
    #   Tier 2 → Tier 3 | 24h", "Refund request | Tier 1 | Billing | 24h", "Account compromise | Security |
    #   Tier 3 → CISO | 1h"
    sla = {
        c: clock(p, "category_resolution", category=c)
        for c in ("Performance issues", "Bug reports", "Refund request", "Account compromise")
    }
    assert {c: v[0] for c, v in sla.items() if v} == {
        "Performance issues": "1h",
        "Bug reports": "1d",
        "Refund request": "1d",
        "Account compromise": "1h",
    }
    routes = {c.id: (c.initial_owner, c.escalation_path) for c in p.categories}
    assert routes["bug_reports"] == ("L1", ["L2", "L3"])
    assert routes["account_compromise"] == ("security", ["L3", "ciso"])
    assert routes["payment_failed"] == ("L1", ["billing", "L3"])
    assert len(p.categories) == 23 and all(c.sla is not None for c in p.categories)
    # 004 (Tier 3): "Response Time: 15 minutes (P0/P1), 4 hours (P2)"; (P1): "Engineering response within 30 min"
    assert clock(p, "escalation_ack", severity="P1", level="L3") == ("15m", "30m", "calendar")
    assert clock(p, "escalation_ack", severity="P2", level="L3") == ("4h", None, "calendar")
    # 004 (P1 Response): "Update every 30 min until resolved"
    assert clock(p, "next_update", severity="P1") == ("30m", None, "calendar")
    # 004 (P0 Response): "Immediate page to on-call … Executive notification within 15 min"
    assert ("page", "oncall_primary") in actions(p, "p0-emergency")
    assert ("notify", "executives") in actions(p, "p0-emergency")
