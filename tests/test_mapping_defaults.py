"""What the shipped default mappings make of the fixtures' events. These tests own the mapping output
(`tests/fixtures/mappings/<vendor>/<case>.json`); the adapter fixtures stop before mapping, so editing
a default mapping changes only these expectations."""

from __future__ import annotations

import json

import pytest

from mappings import apply, default_document
from tests.fixture_harness import Case, cases, mapped_cases


@pytest.mark.parametrize("case", mapped_cases(), ids=str)
def test_default_mapping(case: Case) -> None:
    expected = json.loads(case.mapped_path.read_text(encoding="utf-8"))["fields"]
    mapping = default_document(case.vendor)
    results = [apply(mapping, e.shape, e.document) for e in case.parse().events]
    assert [dict(r.fields) for r in results] == expected
    assert [r.notes for r in results] == [()] * len(results)


def test_every_fixture_with_events_has_a_mapping_expectation() -> None:
    missing = [
        str(c)
        for c in cases()
        if "error_path" not in c.expected() and c.expected()["events"] and not c.mapped_path.exists()
    ]
    assert missing == []
