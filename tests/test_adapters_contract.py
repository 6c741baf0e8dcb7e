"""Every adapter keeps the same contract, and the README lists every event each one handles."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import Adapter
from adapters.registry import build_adapters
from connector.config import Settings
from mappings.engine import default_document

ADAPTERS = build_adapters(Settings())
README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("vendor", sorted(ADAPTERS))
def test_conforms_to_the_protocol(vendor):
    adapter = ADAPTERS[vendor]
    assert isinstance(adapter, Adapter)
    assert adapter.vendor == vendor
    assert adapter.handlers


@pytest.mark.parametrize("vendor", sorted(ADAPTERS))
def test_readme_lists_every_handled_event(vendor):
    for event_type in ADAPTERS[vendor].handlers:
        short = event_type.removeprefix("zen:event-type:ticket.")
        assert f"`{short}`" in README or f"`{event_type}`" in README, f"README misses {event_type}"


@pytest.mark.parametrize("vendor", sorted(ADAPTERS))
def test_default_mapping_exists(vendor):
    assert default_document(vendor).shapes
