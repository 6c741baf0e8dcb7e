"""The vendor adapters the connector ships, one package per vendor.

Inbound, each is pure (payload in, canonical events out) and satisfies `connector.inbound.Adapter`;
outbound, each `outbound` module satisfies `connector.outbound.Sender` and is the only code that
imports its vendor's client library. This package imports only those two contracts,
`connector.model` and `connector.errors`. The composition roots (`connector.wiring`) build them with
`build_adapters` and `build_senders` and hand them to the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.jira import JiraAdapter
from adapters.jira.outbound import JiraSender, JiraSite
from adapters.notify import WebhookNotifier
from adapters.pagerduty import PagerDutyAdapter
from adapters.pagerduty.outbound import PagerDutySender
from adapters.zendesk import ZendeskAdapter
from adapters.zendesk.outbound import ZendeskSender, ZendeskSite
from connector.inbound import Adapter
from connector.outbound import Sender


def build_adapters(*, zendesk_timestamp_tolerance: float) -> dict[str, Adapter]:
    """One adapter per vendor, keyed by vendor name."""
    built: list[Adapter] = [
        ZendeskAdapter(tolerance_seconds=zendesk_timestamp_tolerance),
        JiraAdapter(),
        PagerDutyAdapter(),
    ]
    return {adapter.vendor: adapter for adapter in built}


def build_senders(
    *,
    pagerduty_events_url: str,
    pagerduty_routing_keys: Mapping[str, str],
    pagerduty_routing_key: str | None,
    notify_webhooks: Mapping[str, str],
    notify_secret: str | None,
    timeout: float,
    pagerduty_events_per_minute: int = 120,
    jira_sites: Mapping[str, JiraSite] | None = None,
    zendesk_sites: Mapping[str, ZendeskSite] | None = None,
    zendesk_updates_per_minute: int = 100,
) -> dict[str, Sender]:
    """One outbound sender per channel, keyed by channel. A sender without credentials for a target
    records that target's intents as not sent, with the reason; a channel without any site has no
    sender, and its intents are recorded as not sent with what to set."""
    built: list[Sender] = [
        PagerDutySender(
            events_url=pagerduty_events_url,
            routing_keys=pagerduty_routing_keys,
            default_key=pagerduty_routing_key,
            timeout=timeout,
            events_per_minute=pagerduty_events_per_minute,
        ),
        WebhookNotifier(webhooks=notify_webhooks, secret=notify_secret, timeout=timeout),
    ]
    if jira_sites:
        built.append(JiraSender(sites=jira_sites, timeout=timeout))
    if zendesk_sites:
        built.append(ZendeskSender(sites=zendesk_sites, timeout=timeout, updates_per_minute=zendesk_updates_per_minute))
    return {sender.channel: sender for sender in built}


__all__ = [
    "JiraAdapter",
    "JiraSite",
    "PagerDutyAdapter",
    "ZendeskAdapter",
    "ZendeskSite",
    "build_adapters",
    "build_senders",
]
