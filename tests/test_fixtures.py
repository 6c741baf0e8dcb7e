"""Every vendor's fixtures through the one harness: this body in, exactly these canonical events out
(before any mapping), or refused naming this field. One parametrised case per fixture file."""

from __future__ import annotations

import pytest

from connector.errors import PayloadError
from tests.fixture_harness import ADAPTERS, VENDORS, Case, cases, render


@pytest.mark.parametrize("case", cases(), ids=str)
def test_fixture(case: Case) -> None:
    expected = case.expected()
    if "error_path" in expected:
        with pytest.raises(PayloadError) as refused:
            case.parse()
        assert refused.value.path == expected["error_path"]
        assert refused.value.vendor == case.vendor
    else:
        assert render(case.parse()) == {k: v for k, v in expected.items() if k != "headers"}


@pytest.mark.parametrize("case", cases(), ids=str)
def test_every_fixture_has_its_expected_result(case: Case) -> None:
    assert case.expected_path.exists(), f"write {case.expected_path.name}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_handled_event_type_has_a_fixture(vendor: str) -> None:
    covered = {c.expected().get("event_type") for c in cases(vendor) if not c.expected().get("ignored", True)}
    assert set(ADAPTERS[vendor].handlers) - covered == set()


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vendor_has_an_unsupported_event_fixture(vendor: str) -> None:
    """An event type we do not handle is acknowledged and ignored; a fixture of each vendor says so."""
    assert any(c.expected().get("ignored") for c in cases(vendor))
