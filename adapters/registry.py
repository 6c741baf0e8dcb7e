"""The adapters the connector ships, one per vendor, built with their settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.base import Adapter
from adapters.jira import JiraAdapter
from adapters.pagerduty import PagerDutyAdapter
from adapters.zendesk import ZendeskAdapter

if TYPE_CHECKING:
    from connector.config import Settings


def build_adapters(settings: Settings) -> dict[str, Adapter]:
    return {
        "zendesk": ZendeskAdapter(tolerance_seconds=settings.zendesk_timestamp_tolerance),
        "jira": JiraAdapter(),
        "pagerduty": PagerDutyAdapter(),
    }
