"""The field-mapping engine: paths, rules, value maps, and errors that point into the document."""

from __future__ import annotations

import pytest

from connector.errors import MappingError
from mappings.engine import apply, default_document, load_document, resolve

PAYLOAD = {
    "type": "zen:event-type:ticket.custom_field_changed",
    "detail": {
        "priority": "URGENT",
        "tags": ["vip", "tier_enterprise"],
        "assignee_id": None,
        "via": {"channel": "web_form"},
    },
    "event": {"current": "Gold", "custom_field": {"id": "360001"}},
    "fields": {
        "customfield_10071": {"id": "10201", "value": "Sev-1"},
        "labels": ["a", "b"],
        "custom_fields": [{"id": 1, "value": "x"}, {"id": 2, "value": "y"}],
    },
}


def doc(fields: dict) -> object:
    return load_document({"vendor": "zendesk", "shapes": {"event": {"fields": fields}}})


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("detail.priority", "URGENT"),
        ("detail.tags[1]", "tier_enterprise"),
        ("detail.tags[-1]", "tier_enterprise"),
        ("fields.custom_fields[id=2].value", "y"),
        ("fields.customfield_10071.value", "Sev-1"),
        ("event.custom_field.id", "360001"),
    ],
)
def test_resolve_paths(path, expected):
    assert resolve(PAYLOAD, path) == expected


def test_missing_path_leaves_the_field_unset():
    assert apply(doc({"title": {"path": "detail.subject"}}), "event", PAYLOAD).fields == {}


def test_value_map_is_case_insensitive_and_traced():
    result = apply(doc({"severity": [{"path": "detail.priority", "map": {"urgent": "P0"}}]}), "event", PAYLOAD)
    assert result.fields == {"severity": "P0"}
    assert result.trace["severity"] == "detail.priority 'URGENT' → 'P0'"


def test_first_rule_that_yields_wins():
    rules = [{"path": "detail.nothing"}, {"path": "fields.customfield_10071", "map": {"sev-1": "P0"}}, {"value": "P3"}]
    assert apply(doc({"severity": rules}), "event", PAYLOAD).fields == {"severity": "P0"}


def test_when_gates_a_rule():
    rule = {
        "path": "event.current",
        "transform": "lower",
        "when": {"type": "zen:event-type:ticket.custom_field_changed", "event.custom_field.id": "360001"},
    }
    assert apply(doc({"customer_tier": rule}), "event", PAYLOAD).fields == {"customer_tier": "gold"}
    rule["when"]["event.custom_field.id"] = "999"
    assert apply(doc({"customer_tier": rule}), "event", PAYLOAD).fields == {}


def test_a_list_maps_by_its_first_known_item():
    rule = {"path": "detail.tags", "map": {"tier_enterprise": "enterprise", "tier_starter": "starter"}}
    assert apply(doc({"customer_tier": rule}), "event", PAYLOAD).fields == {"customer_tier": "enterprise"}


def test_unmapped_value_falls_back_to_default_or_nothing():
    rule = {"path": "detail.priority", "map": {"low": "P3"}}
    assert apply(doc({"severity": rule}), "event", PAYLOAD).fields == {}
    rule["default"] = "P2"
    assert apply(doc({"severity": rule}), "event", PAYLOAD).fields == {"severity": "P2"}


def test_explicit_null_clears_only_when_asked():
    assert apply(doc({"assignee": {"path": "detail.assignee_id"}}), "event", PAYLOAD).fields == {}
    cleared = apply(doc({"assignee": {"path": "detail.assignee_id", "clear_on_null": True}}), "event", PAYLOAD)
    assert cleared.fields == {"assignee": None}


def test_split_transform_for_trigger_tags():
    result = apply(doc({"tags": {"path": "t", "transform": "split"}}), "event", {"t": "vip  billing,urgent"})
    assert result.fields == {"tags": ["vip", "billing", "urgent"]}


def test_transform_reads_option_objects_by_label():
    rule = {"path": "fields.customfield_10071", "transform": "lower"}
    assert apply(doc({"category": rule}), "event", PAYLOAD).fields == {"category": "sev-1"}


def test_bad_value_becomes_a_note_not_a_crash():
    result = apply(doc({"impact_users": {"path": "detail.priority"}}), "event", PAYLOAD)
    assert result.fields == {}
    assert result.notes[0].field == "impact_users"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"vendor": "zendesk", "shapes": {"event": {"fields": {"colour": {"path": "a"}}}}},
            "unknown canonical field 'colour'",
        ),
        (
            {"vendor": "zendesk", "shapes": {"event": {"fields": {"status": {"path": "a", "map": {"x": "done"}}}}}},
            "shapes.event.fields",
        ),
        (
            {"vendor": "zendesk", "shapes": {"event": {"fields": {"title": {"transform": "lower"}}}}},
            "needs a 'path' or a 'value'",
        ),
        ({"vendor": "freshdesk", "shapes": {}}, "vendor"),
        ({"vendor": "jira", "shapes": {"issue": {"fields": {"title": {"path": "a..b"}}}}}, "malformed path"),
    ],
)
def test_invalid_documents_point_into_the_document(document, message):
    with pytest.raises(MappingError) as exc:
        load_document(document)
    assert message in str(exc.value)


def test_yaml_errors_are_reported():
    with pytest.raises(MappingError, match="not valid YAML"):
        load_document("vendor: [zendesk")


@pytest.mark.parametrize("vendor", ["zendesk", "jira", "pagerduty"])
def test_shipped_defaults_are_valid(vendor):
    assert default_document(vendor).vendor == vendor
