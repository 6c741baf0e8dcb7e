"""PagerDuty: Webhooks v3 in (inbound, signature)."""

from __future__ import annotations

from adapters.pagerduty.inbound import PagerDutyAdapter

__all__ = ["PagerDutyAdapter"]
