"""The vendor adapters the connector ships, one package per vendor.

Each is pure (payload in, canonical events out) and satisfies `connector.inbound.Adapter`; this
package imports only that contract, `connector.model` and `connector.errors`. The composition roots
(`connector.wiring`) build them with `build_adapters` and hand them to the runtime.
"""

from __future__ import annotations

from adapters.jira import JiraAdapter
from adapters.pagerduty import PagerDutyAdapter
from adapters.zendesk import ZendeskAdapter
from connector.inbound import Adapter


def build_adapters(*, zendesk_timestamp_tolerance: float) -> dict[str, Adapter]:
    """One adapter per vendor, keyed by vendor name."""
    built: list[Adapter] = [
        ZendeskAdapter(tolerance_seconds=zendesk_timestamp_tolerance),
        JiraAdapter(),
        PagerDutyAdapter(),
    ]
    return {adapter.vendor: adapter for adapter in built}


__all__ = ["JiraAdapter", "PagerDutyAdapter", "ZendeskAdapter", "build_adapters"]
