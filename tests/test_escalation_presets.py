"""One scenario per preset, taken from its seed, through the SLA clocks and the escalation engine
(`connector simulate`): every escalation, page, notification and post-mortem it causes, and its time.

Each expected decision is reasoned from the seed sentence the preset's trigger quotes; times are the
scenario's own instants (a decision happens when what fired it happened)."""

from __future__ import annotations

from typing import Any

from connector.escalation.simulate import simulate


def decisions(result: dict[str, Any]) -> list[tuple[str, str, str, str | None, str]]:
    return [(e["at"], e["rule"], e["action"], e["target"], e["outcome"]) for e in result["escalations"]]


def test_tai_enterprise_critical_with_churn_words() -> None:
    """Seed 003 (4.2 / 4.3): "Is it CRITICAL? → Page VP Product + on-call engineer"; "[CUSTOMER TIER 3
    (ENTERPRISE)?] → Route to dedicated CSM"; 'Customer says "canceling" or "leaving": IMMEDIATE page to
    VP Product; CSM calls within 2 hours'; "Update resolved incidents within 24 hours with full post-mortem"."""
    result = simulate(
        {
            "policy": "tai",
            "ticket": {"severity": "CRITICAL", "customer_tier": "enterprise", "title": "Checkout API returns 500"},
            "events": [
                {"at": "2026-03-02T14:00:00Z", "type": "created"},
                {
                    "at": "2026-03-02T14:20:00Z",
                    "type": "public_reply",
                    "author": "customer",
                    "text": "Third outage this month. We are canceling our contract.",
                },
                {"at": "2026-03-02T14:30:00Z", "type": "public_reply", "author": "agent", "text": "On it"},
                {"at": "2026-03-02T18:00:00Z", "type": "resolved"},
            ],
            "until": "2026-03-03T12:00:00Z",
        }
    )
    assert decisions(result) == [
        # at creation: CRITICAL pages VP Product and the on-call engineer, and owes a post-mortem
        ("2026-03-02T14:00:00Z", "critical-page", "page", "vp_product", "queued"),
        ("2026-03-02T14:00:00Z", "critical-page", "page", "eng_oncall", "queued"),
        ("2026-03-02T14:00:00Z", "critical-page", "require_postmortem", None, "owed"),
        # an enterprise customer goes to the dedicated CSM
        ("2026-03-02T14:00:00Z", "enterprise-csm", "reassign", "csm", "applied"),
        # "canceling": VP Product is already paged for this ticket (paged once, not twice); the CSM is told
        ("2026-03-02T14:20:00Z", "churn-words", "page", "vp_product", "skipped"),
        ("2026-03-02T14:20:00Z", "churn-words", "notify", "csm", "queued"),
        # resolving the ticket resolves both pages
        ("2026-03-02T18:00:00Z", "lifecycle", "page_resolve", "vp_product", "queued"),
        ("2026-03-02T18:00:00Z", "lifecycle", "page_resolve", "eng_oncall", "queued"),
    ]
    assert [(p["event_action"], p["target"]) for p in result["pages"]] == [
        ("trigger", "vp_product"),
        ("trigger", "eng_oncall"),
        ("resolve", "vp_product"),
        ("resolve", "eng_oncall"),
    ]
    # "CSM calls within 2 hours" of the customer's words: 14:20 + 2 h
    assert [(n["target"], n["due_at"]) for n in result["notifications"]] == [("csm", "2026-03-02T16:20:00Z")]
    # "within 24 hours" of the resolution: 18:00 + 24 h
    (postmortem,) = result["postmortems"]
    assert postmortem["due_at"] == "2026-03-03T18:00:00Z" and postmortem["overdue"] is False
    # the CSM works at L2: the reassignment took the ticket there
    reassign = result["escalations"][3]
    assert reassign["changes"] == {"owner": [None, "csm"], "support_level": ["L1", "L2"]}


def test_signx_p0_pages_on_call_and_the_secondary_when_nobody_acknowledges() -> None:
    """Seed 001: "P0/P1 incidents → Automatically Escalate" to Tier 3; "Page on-call engineer — Via
    PagerDuty"; "Engineer response — Acknowledge (<15 min for P0)"; "Secondary On-Call: Backup for
    critical issues"."""
    result = simulate(
        {
            "policy": "signx",
            "ticket": {"severity": "P0", "title": "Render farm down for all projects"},
            "events": [
                {"at": "2026-03-03T10:00:00-05:00", "type": "created"},
                {"at": "2026-03-03T10:30:00-05:00", "type": "public_reply", "author": "agent"},
                {"at": "2026-03-03T11:00:00-05:00", "type": "resolved"},
            ],
            "until": "2026-03-03T12:00:00-05:00",
        }
    )
    assert decisions(result) == [
        ("2026-03-03T15:00:00Z", "p0-p1-auto-escalate", "raise_level", "L3", "applied"),
        ("2026-03-03T15:00:00Z", "p0-p1-auto-escalate", "page", "oncall_primary", "queued"),
        ("2026-03-03T15:00:00Z", "p0-p1-auto-escalate", "create_linked_issue", "jira", "queued"),
        # the page starts the engineering acknowledgement clock (15 min for P0, "<": due at 10:15 is late);
        # nobody acknowledges, so it breaches at 10:15 and the secondary is paged
        ("2026-03-03T15:15:00Z", "p0-ack-breach", "page", "oncall_secondary", "queued"),
        ("2026-03-03T16:00:00Z", "lifecycle", "page_resolve", "oncall_primary", "queued"),
        ("2026-03-03T16:00:00Z", "lifecycle", "page_resolve", "oncall_secondary", "queued"),
    ]
    # a ticket starts at Tier 2, the Help Desk ("Tier 1 … No ticket created")
    assert result["escalations"][0]["changes"]["support_level"] == ["L2", "L3"]
    breach = next(a for a in result["actions"] if a["metric"] == "engineering_ack" and a["kind"] == "breach")
    assert breach["at"] == "2026-03-03T15:15:00Z"


def test_skillancer_p0_performance_issue_routes_pages_and_notifies() -> None:
    """Seed 004: routing table "Performance issues | L2 | → L3 | 1h"; "P0 Response: Immediate page to
    on-call; … Executive notification within 15 min; External communication within 1 hour";
    "Emergency Escalation … Begin post-mortem"."""
    result = simulate(
        {
            "policy": "skillancer",
            "ticket": {"severity": "P0", "category": "performance_issues", "title": "Checkout times out"},
            "events": [
                {"at": "2026-03-03T09:00:00-05:00", "type": "created"},
                {"at": "2026-03-03T09:05:00-05:00", "type": "public_reply", "author": "agent"},
                {"at": "2026-03-03T09:40:00-05:00", "type": "resolved"},
            ],
            "until": "2026-03-03T12:00:00-05:00",
        }
    )
    assert decisions(result) == [
        # intake: the routing table's initial owner for performance issues is L2
        ("2026-03-03T14:00:00Z", "intake", "route", "L2", "applied"),
        ("2026-03-03T14:00:00Z", "p0-emergency", "raise_level", "L3", "applied"),
        ("2026-03-03T14:00:00Z", "p0-emergency", "page", "oncall_primary", "queued"),
        ("2026-03-03T14:00:00Z", "p0-emergency", "notify", "executives", "queued"),
        ("2026-03-03T14:00:00Z", "p0-emergency", "notify", "customer", "queued"),
        ("2026-03-03T14:00:00Z", "p0-emergency", "require_postmortem", None, "owed"),
        ("2026-03-03T14:40:00Z", "lifecycle", "page_resolve", "oncall_primary", "queued"),
    ]
    assert [(n["target"], n["due_at"]) for n in result["notifications"]] == [
        ("executives", "2026-03-03T14:15:00Z"),  # "within 15 min"
        ("customer", "2026-03-03T15:00:00Z"),  # "within 1 hour"
    ]
    # the seed names no post-mortem deadline: the policy's default (7 days after the resolution)
    assert result["postmortems"][0]["due_at"] == "2026-03-10T14:40:00Z"
    # the routing table's 1 h SLA runs for the category
    assert any(c["metric"] == "category_resolution" and c["target"] == "1h" for c in result["clocks"])


def test_nwire_l2_bug_many_users_and_repeated_confusion() -> None:
    """Seed 000: a ticket not answered by the L1 handoff "becomes a JIRA bug"; L2 escalates when "the
    issue affects multiple users"; "Three tickets about the same confusion is not three bugs" — the PO
    looks at the pattern."""
    result = simulate(
        {
            "policy": "nwire",
            "ticket": {"severity": "P2", "title": "Dashboard totals differ from the export", "customer_id": "acme"},
            "events": [
                {"at": "2026-03-03T10:00:00Z", "type": "created"},
                {"at": "2026-03-03T10:30:00Z", "type": "public_reply", "author": "agent"},
                {"at": "2026-03-03T11:00:00Z", "type": "level", "level": "L2"},
                {"at": "2026-03-03T11:30:00Z", "type": "users_affected", "value": 4},
                {"at": "2026-03-03T12:00:00Z", "type": "repeat_issue", "count": 3},
            ],
            "until": "2026-03-03T13:00:00Z",
        }
    )
    assert decisions(result) == [
        ("2026-03-03T11:00:00Z", "l1-unexpected-becomes-bug", "create_linked_issue", "jira", "queued"),
        ("2026-03-03T11:30:00Z", "multiple-users", "raise_level", "L3", "applied"),
        ("2026-03-03T12:00:00Z", "repeat-confusion", "notify", "product_owner", "queued"),
    ]
    assert "4 users affected (≥ 2)" in result["escalations"][1]["reason"]


def test_localizevideos_sev1_rca_data_loss_and_a_missed_update() -> None:
    """Seed 002: "Every Sev 1 / Sev 2 incident requires: Root Cause Analysis (RCA)"; "Data integrity risk"
    is Sev 1 and escalates to the Security / Infra Lead; update frequency "Sev 1 Every 30–60 mins";
    "Support Engineer → Platform Engineer → Security / Infra Lead → Leadership (if required)"."""
    result = simulate(
        {
            "policy": "localizevideos",
            "ticket": {"severity": "Sev1", "customer_tier": "enterprise", "title": "Dubbing jobs fail"},
            "events": [
                {"at": "2026-03-03T10:00:00Z", "type": "created"},
                {"at": "2026-03-03T10:20:00Z", "type": "public_reply", "author": "agent", "text": "Investigating"},
                {
                    "at": "2026-03-03T10:40:00Z",
                    "type": "public_reply",
                    "author": "customer",
                    "text": "We now see data loss in finished projects",
                },
            ],
            "until": "2026-03-03T12:00:00Z",
        }
    )
    assert decisions(result) == [
        ("2026-03-03T10:00:00Z", "rca-sev1-sev2", "require_postmortem", None, "owed"),
        ("2026-03-03T10:40:00Z", "data-integrity-security", "raise_level", "L3", "applied"),
        ("2026-03-03T10:40:00Z", "data-integrity-security", "notify", "security_infra", "queued"),
        # the first response at 10:20 starts the 60 min cadence; the customer's message is no update,
        # so it breaches at 11:20 and the ticket climbs one more step: L3 → L4 (Leadership)
        ("2026-03-03T11:20:00Z", "sev1-cadence-breach", "raise_level", "L4", "applied"),
    ]
    assert result["escalations"][3]["changes"]["support_level"] == ["L3", "L4"]
    # the RCA is owed; its due time comes with the resolution
    assert result["postmortems"][0]["due_at"] is None
