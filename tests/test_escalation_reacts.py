"""`reacts_to`: the SLA sweeper skips the tickets whose fires no trigger takes. The promise it rests on,
checked over every shipped preset: a signal it says no to makes no decision and leaves the state as it
was, whatever the ticket's severity, tier, category, level and open pages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from connector.escalation import TicketState, decide
from connector.escalation.engine import reacts_to
from connector.escalation.signals import Changed, SlaFired
from connector.policy import BreachTrigger, Policy, format_duration, load_policy, preset_names
from connector.sla.events import FireKind

AT = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York


def signals(policy: Policy) -> list[SlaFired]:
    """Every fire the policy's clocks can make, by kind and metric, with the labels triggers look at."""
    overdue = {
        f"breach + {format_duration(t.after)}" for t in policy.triggers if isinstance(t, BreachTrigger) and t.after
    }
    labels = {
        FireKind.WARNING: ["warning 75%", "warning 90%"],
        FireKind.BREACH: ["breach"],
        FireKind.MAXIMUM_BREACH: ["maximum breach"],
        FireKind.OVERDUE: sorted(overdue | {"breach + 1h"}),
        FireKind.MET: ["met"],
    }
    metrics = sorted({m.id for m in policy.metrics} | {"first_response", "resolution", "next_update"})
    return [
        SlaFired(at=AT, kind=kind, metric=metric, cycle=cycle, label=label)
        for metric in metrics
        for kind, names in labels.items()
        for label in names
        for cycle in (1, 2)
    ]


def states(policy: Policy) -> list[TicketState]:
    severities = [None, *(lv.id for lv in policy.severity.levels)]
    tiers = [None, *(t.id for t in policy.customer_tiers.tiers)]
    categories = [None, *(c.id for c in policy.categories[:4])]
    levels = [None, *(lv.id for lv in policy.support_levels)]
    targets = sorted({str(getattr(a, "target", "")) for t in policy.triggers for a in t.actions} - {"", "None"})
    pages = [(), tuple(targets[:1])]
    return [
        TicketState(severity=sev, tier=tier, category=cat, level=lvl, status="open", pages=pg, category_given=True)
        for sev, tier, cat, lvl, pg in itertools.product(severities, tiers, categories, levels, pages)
    ]


@pytest.mark.parametrize("name", sorted(preset_names()))
def test_a_fire_no_trigger_takes_decides_nothing_and_changes_nothing(name: str) -> None:
    policy = load_policy(name)
    skipped = taken = 0
    every_state = states(policy)
    for signal in signals(policy):
        if reacts_to(policy, signal):
            taken += any(decide(policy, st, signal)[1] for st in every_state)
            continue
        skipped += 1
        for st in every_state:
            after, decisions = decide(policy, st, signal)
            assert decisions == [], (name, signal, st)
            assert after == st, (name, signal, st)
    # Not vacuous: every preset has fires nothing takes, and the ones it lets through do decide things
    # (all but the preset whose only SLA trigger waits for a later point of the breach).
    assert skipped > 0
    assert taken > 0 or name == "nwire"


def test_whatever_is_not_an_sla_fire_is_always_let_through() -> None:
    policy = load_policy("signx")
    assert reacts_to(policy, Changed(AT, frozenset({"status"})))
    assert not reacts_to(policy, SlaFired(AT, FireKind.WARNING, "first_response", 1, "warning 75%"))
    assert reacts_to(policy, SlaFired(AT, FireKind.BREACH, "engineering_ack", 1, "breach"))
