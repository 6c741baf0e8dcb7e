"""The policy document: validation errors point into it, names resolve, targets resolve by precedence."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from connector.errors import PolicyError
from connector.model import Comment
from connector.policy import load_policy, parse_duration, parse_policy, policy_calendar, preset_names
from connector.policy.durations import format_duration

NY = ZoneInfo("America/New_York")


@pytest.fixture
def doc() -> dict[str, Any]:
    """A small but complete policy: four severities, two tiers, two categories, one calendar."""
    return {
        "name": "acme",
        "severity": {
            "levels": [
                {"id": "P0", "aliases": ["Sev1", "CRITICAL"]},
                {"id": "P1", "aliases": ["Sev2", "HIGH"]},
                {"id": "P2", "aliases": ["Sev3", "MEDIUM"]},
                {"id": "P3", "aliases": ["Sev4", "LOW"]},
            ],
            "default": "LOW",
            "hints": [
                {"level": "CRITICAL", "keywords": ["production down", "losing money"]},
                {"level": "P2", "keywords": ["how do I"]},
            ],
        },
        "customer_tiers": {
            "tiers": [
                {"id": "standard", "aliases": ["std"]},
                {"id": "enterprise", "aliases": ["ent"], "calendar": "ent_hours"},
                {"id": "free", "sla": False},
            ],
            "default": "standard",
        },
        "categories": [{"id": "billing", "aliases": ["invoices"]}, {"id": "technical"}],
        "calendars": {
            "business": {"timezone": "America/New_York", "hours": {"mon-fri": "08:00-18:00"}, "holiday_country": "US"},
            "ent_hours": {"timezone": "Europe/Berlin", "hours": {"daily": "07:00-22:00"}},
        },
        "metrics": [
            "first_response",
            "next_update",
            "resolution",
            {"id": "engineering_ack", "start": "escalated", "met_by": ["acknowledged"]},
        ],
        "sla": {
            "defaults": {"calendar": "business", "warn_before": ["30m"]},
            "pause": {"first_response": [], "*": ["waiting_on_customer", "on_hold"]},
            "targets": [
                {"metric": "first_response", "target": "8h"},
                {"metric": "first_response", "severity": "Sev1", "target": "1h"},
                {"metric": "first_response", "tier": "ent", "target": "2h"},
                {"metric": "first_response", "severity": "P0", "tier": "enterprise", "target": "45m"},
                {"metric": "first_response", "category": "billing", "target": "4h"},
                {"metric": "resolution", "severity": ["P0", "P1"], "target": "1d", "maximum": "2d", "time": "calendar"},
                {"metric": "resolution", "severity": "P3", "target": None},
            ],
        },
        "support_levels": [
            {"id": "L1", "name": "Frontline", "escalation_path": ["L2"]},
            {"id": "L2", "name": "Engineering"},
        ],
        "groups": [{"id": "oncall", "name": "On-call", "level": "L2"}],
        "triggers": [
            {
                "id": "p0-page",
                "event": "ticket",
                "severity": "Sev1",
                "actions": [{"do": "page", "target": "oncall"}, {"do": "raise_level", "to": "L2"}],
            },
            {
                "id": "churn",
                "event": "keywords",
                "kind": "churn",
                "keywords": ["canceling", "leaving"],
                "actions": [{"do": "notify", "target": "customer"}],
            },
        ],
    }


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(PolicyError) as exc:
        parse_policy(data, source="acme.yaml")
    return str(exc.value)


# ---- errors point into the document -------------------------------------------------------------


def test_unknown_severity_in_a_target_names_the_target(doc):
    doc["sla"]["targets"][3]["severity"] = "P5"
    assert "acme.yaml: sla.targets[3].severity: unknown level 'P5'" in _error(doc)


def test_misspelt_field_in_a_trigger_is_an_unknown_field(doc):
    doc["triggers"][0]["severty"] = doc["triggers"][0].pop("severity")
    assert "triggers[0].severty: unknown field" in _error(doc)


def test_action_without_its_target_names_the_action(doc):
    del doc["triggers"][1]["actions"][0]["target"]
    assert "triggers[1].actions[0].target: Field required" in _error(doc)


def test_unknown_time_zone_names_the_calendar(doc):
    doc["calendars"]["business"]["timezone"] = "America/Gotham"
    assert "calendars.business.timezone: unknown IANA time zone 'America/Gotham'" in _error(doc)


def test_alias_naming_two_levels_is_refused(doc):
    doc["severity"]["levels"][1]["aliases"].append("sev-1")
    assert "severity.levels[1].aliases[2]: 'sev-1' already names 'P0'" in _error(doc)


def test_escalation_path_to_an_undeclared_level(doc):
    doc["support_levels"][0]["escalation_path"] = ["L2", "L9"]
    assert "support_levels[0].escalation_path[1]: unknown level or group 'L9'" in _error(doc)


def test_target_of_an_undeclared_metric(doc):
    doc["sla"]["targets"].append({"metric": "investigation", "target": "4h"})
    assert "sla.targets[7].metric: unknown metric 'investigation'" in _error(doc)


def test_bare_number_is_not_a_duration(doc):
    doc["sla"]["targets"][0]["target"] = 60
    assert "sla.targets[0].target: a duration is text with a unit" in _error(doc)


def test_maximum_must_exceed_target(doc):
    doc["sla"]["targets"][5]["maximum"] = "12h"
    assert "sla.targets[5]: maximum must be longer than target" in _error(doc)


def test_warning_lead_from_defaults_longer_than_target(doc):
    doc["sla"]["targets"][3]["target"] = "20m"
    assert "sla.targets[3] (sla.defaults.warn_before): a warning 0:30:00 before a target of 0:20:00" in _error(doc)


def test_two_targets_with_the_same_selectors_are_ambiguous(doc):
    doc["sla"]["targets"].append({"metric": "first_response", "severity": ["P1", "CRITICAL"], "target": "3h"})
    assert "sla.targets[7]: overlaps sla.targets[1] (first_response for severity P1/P0)" in _error(doc)


def test_pause_with_an_unknown_status(doc):
    doc["sla"]["pause"]["resolution"] = ["pending"]
    assert "sla.pause.resolution[0]: Input should be" in _error(doc)


def test_overlapping_opening_hours(doc):
    doc["calendars"]["business"]["hours"] = {"mon-fri": ["08:00-12:00", "11:00-18:00"]}
    assert "calendars.business.hours: mon-fri: opening hours overlap" in _error(doc)


def test_unknown_trigger_event_names_the_trigger(doc):
    doc["triggers"][0]["event"] = "email"
    assert "triggers[0]: Input tag 'email' found using 'event'" in _error(doc)


def test_every_problem_is_reported_at_once(doc):
    doc["sla"]["targets"][1]["severity"] = "P9"
    doc["triggers"][0]["actions"][0]["target"] = "nobody"
    message = _error(doc)
    assert "sla.targets[1].severity: unknown level 'P9'" in message
    assert "triggers[0].actions[0].target: unknown level or group 'nobody'" in message


def test_business_time_without_any_calendar(doc):
    del doc["sla"]["defaults"]["calendar"]
    assert "sla.targets[0]: business time needs a calendar" in _error(doc)


# ---- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["P0", "p0", "Sev1", "sev 1", "SEV-1", "CRITICAL", "critical", "Sev 1 — Critical"])
def test_aliases_resolve_to_the_level(doc, name):
    assert parse_policy(doc).severity_of(name) == "P0"


@pytest.mark.parametrize("name", ["P5", "", "Sev1 / Sev2", "urgent"])
def test_unknown_or_ambiguous_names_resolve_to_nothing(doc, name):
    assert parse_policy(doc).severity_of(name) is None


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("Our production   DOWN since 9am", "P0"),
        ("We are losing money every minute", "P0"),
        ("How do I export? Also production down.", "P0"),  # the most severe hint wins
        ("how do I export invoices?", "P2"),
        ("a reproduction downgrade", None),  # whole words only
    ],
)
def test_keyword_severity_hints(doc, text, level):
    assert parse_policy(doc).severity_hint(text) == level


@pytest.mark.parametrize(
    ("value", "tier"), [("ENT", "enterprise"), ("std", "standard"), ("gold", "standard"), (None, "standard")]
)
def test_tier_of_falls_back_to_the_default(doc, value, tier):
    assert parse_policy(doc).tier_of(value) == tier


def test_trigger_filters_are_normalised_to_ids(doc):
    assert parse_policy(doc).triggers[0].severity == ["P0"]


def test_keyword_trigger_matches_whole_words(doc):
    trigger = parse_policy(doc).triggers[1]
    assert trigger.matches("We are LEAVING for a competitor") and not trigger.matches("interleaving data")


# ---- targets: precedence --------------------------------------------------------------------------


def _due(doc: dict[str, Any], metric: str, **facts: Any) -> timedelta | None:
    facts.setdefault("tier", None)
    found = parse_policy(doc).targets_for(metric, **facts)
    return found[0].target if found else None


def test_more_selectors_beat_fewer(doc):
    assert _due(doc, "first_response", severity="P0", tier="enterprise") == timedelta(minutes=45)


def test_severity_beats_tier_when_equally_specific(doc):
    assert _due(doc, "first_response", severity="P0", tier="standard") == timedelta(hours=1)
    assert _due(doc, "first_response", severity="P1", tier="ent") == timedelta(hours=2)


def test_category_beats_severity_when_equally_specific(doc):
    assert _due(doc, "first_response", severity="P0", tier=None, category="invoices") == timedelta(hours=4)


def test_wildcard_target_applies_when_nothing_more_specific_matches(doc):
    assert _due(doc, "first_response", severity="P2", tier=None, category="technical") == timedelta(hours=8)


def test_null_target_means_no_clock(doc):
    assert _due(doc, "resolution", severity="P3") is None


def test_unknown_severity_falls_back_to_the_default(doc):
    assert _due(doc, "resolution", severity="P7") is None  # default LOW = P3: no resolution clock
    assert _due(doc, "first_response", severity=None) == timedelta(hours=8)


def test_out_of_scope_tier_runs_no_clocks(doc):
    assert parse_policy(doc).targets_for(severity="P0", tier="free") == []


def test_targets_for_every_metric_in_declared_order(doc):
    found = parse_policy(doc).targets_for(severity="Sev2", tier=None)
    assert [(t.metric, t.target, t.maximum) for t in found] == [
        ("first_response", timedelta(hours=8), None),
        ("resolution", timedelta(days=1), timedelta(days=2)),
    ]


def test_business_target_takes_the_tier_calendar_then_the_default(doc):
    policy = parse_policy(doc)
    ent = policy.targets_for("first_response", severity="P2", tier="enterprise")[0]
    std = policy.targets_for("first_response", severity="P2", tier="standard")[0]
    assert (ent.time, ent.calendar, std.calendar) == ("business", "ent_hours", "business")


def test_calendar_time_target_has_no_calendar_and_defaults_fill_warnings(doc):
    target = parse_policy(doc).targets_for("resolution", severity="P0", tier=None)[0]
    assert (target.time, target.calendar, target.warn_before) == ("calendar", None, [timedelta(minutes=30)])


def test_paused_statuses_per_metric_else_the_rest(doc):
    policy = parse_policy(doc)
    assert policy.paused_statuses("first_response") == set()
    assert policy.paused_statuses("resolution") == {"waiting_on_customer", "on_hold"}


def test_received_selector_uses_arrival_against_the_calendar(doc):
    doc["sla"]["targets"].append(
        {"metric": "first_response", "channel": "email", "received": "weekend", "target": "1d", "time": "calendar"}
    )
    policy = parse_policy(doc)
    saturday = datetime(2026, 3, 7, 11, 0, tzinfo=NY)
    assert policy.arrival(saturday) == "weekend"
    found = policy.targets_for(
        "first_response", severity="P3", tier=None, channel="email", received=policy.arrival(saturday)
    )
    assert found[0].target == timedelta(days=1)


@pytest.mark.parametrize(
    ("at", "arrival"),
    [
        (datetime(2026, 3, 6, 17, 30, tzinfo=NY), "business_hours"),
        (datetime(2026, 3, 6, 18, 0, tzinfo=NY), "after_hours"),
        (datetime(2026, 3, 9, 7, 59, tzinfo=NY), "after_hours"),
        (datetime(2026, 11, 26, 12, 0, tzinfo=NY), "weekend"),  # Thanksgiving (holiday_country: US)
    ],
)
def test_arrival_window(doc, at, arrival):
    assert parse_policy(doc).arrival(at) == arrival


# ---- what counts as a first response -------------------------------------------------------------


def test_first_response_needs_a_public_reply_by_an_agent(doc):
    doc["first_response"] = {"exclude_authors": ["Answer Bot"], "exclude_tags": ["auto_ack"]}
    rule = parse_policy(doc).first_response
    reply = Comment(external_id="1", body="Looking into it", public=True, author_name="Dana", author_is_agent=True)
    assert rule.accepts_comment(reply)
    assert not rule.accepts_comment(Comment("2", "note", public=False, author_is_agent=True))
    assert not rule.accepts_comment(Comment("3", "Thanks!", public=True, author_is_agent=False))
    assert not rule.accepts_comment(
        Comment("4", "We got it", public=True, author_name="answer bot", author_is_agent=True)
    )
    assert not rule.accepts_comment(reply, tags=["AUTO_ACK"])
    assert not rule.accepts_comment(Comment("5", "Hi", public=True, author_is_agent=None))


# ---- loading ---------------------------------------------------------------------------------------


def test_preset_names():
    assert preset_names() == ["localizevideos", "nwire", "signx", "skillancer", "tai"]


@pytest.mark.parametrize("name", ["nwire", "signx", "localizevideos", "tai", "skillancer"])
def test_every_preset_loads_and_survives_show_and_reload(name):
    policy = load_policy(name)
    again = parse_policy(json.loads(json.dumps(policy.show())))
    assert policy.name == name and again.all_targets == policy.all_targets


def test_load_from_yaml_and_json_files(doc, tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    (tmp_path / "p.json").write_text(json.dumps(doc), encoding="utf-8")
    assert load_policy(str(tmp_path / "p.yaml")).name == load_policy(tmp_path / "p.json").name == "acme"


def test_load_from_yaml_text_and_dict(doc):
    assert load_policy(yaml.safe_dump(doc)).severity_of("high") == load_policy(doc).severity_of("HIGH") == "P1"


def test_errors_from_a_file_name_the_file(doc, tmp_path):
    doc["sla"]["targets"][3]["severity"] = "P5"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"broken\.yaml: sla\.targets\[3\]\.severity: unknown level 'P5'"):
        load_policy(str(path))


def test_unknown_reference_lists_the_presets():
    with pytest.raises(PolicyError, match="neither a preset .*signx.*nor a policy file"):
        load_policy("signx-old")


def test_invalid_yaml_text():
    with pytest.raises(PolicyError, match="policy text: not valid YAML"):
        load_policy("name: [unclosed\nseverity: {}")


# ---- calendars and durations ------------------------------------------------------------------------


def test_policy_calendar_builds_a_business_calendar(doc):
    calendar = policy_calendar(parse_policy(doc), "business")
    friday = datetime(2026, 3, 6, 17, 30, tzinfo=NY)
    assert calendar.add(friday, 3600) == datetime(2026, 3, 9, 8, 30, tzinfo=NY)


def test_calendar_time_is_always_open(doc):
    calendar = policy_calendar(parse_policy(doc), "24x7")
    saturday = datetime(2026, 3, 7, 23, 0, tzinfo=NY)
    assert calendar.add(saturday, 1800) == saturday + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("text", "seconds", "shown"),
    [
        ("90s", 90, "1m30s"),
        ("15m", 900, "15m"),
        ("1h30m", 5400, "1h30m"),
        ("24 hours", 86400, "1d"),
        ("1w", 604800, "1w"),
        ("72h", 259200, "3d"),
    ],
)
def test_durations(text, seconds, shown):
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert format_duration(parse_duration(text)) == shown


@pytest.mark.parametrize("text", ["", "5", "1 fortnight", "h", "-1h"])
def test_not_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_calendar_time_target_naming_a_calendar_is_refused(doc):
    doc["sla"]["targets"][5]["calendar"] = "business"
    assert "sla.targets[5].calendar: calendar time counts every hour" in _error(doc)


def test_category_resolves_by_id_alias_or_unique_display_name(doc):
    doc["categories"][1]["name"] = "Technical issue"
    policy = parse_policy(doc)
    assert [policy.category_of(v) for v in ("billing", "Invoices", "technical issue", "Sales")] == [
        "billing",
        "billing",
        "technical",
        None,
    ]


def test_unknown_channel_matches_only_channel_wildcards(doc):
    doc["sla"]["targets"].append({"metric": "first_response", "channel": "chat", "target": "5m", "warn_before": []})
    assert _due(doc, "first_response", severity="P3", channel="CHAT") == timedelta(minutes=5)
    assert _due(doc, "first_response", severity="P3", channel="carrier pigeon") == timedelta(hours=8)
