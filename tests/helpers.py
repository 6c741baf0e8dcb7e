"""Small helpers for posting signed deliveries in tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters import build_adapters
from connector.demo import payloads as p

T0 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
#: the adapters as the vendors' side of a test: they sign what a test posts
ADAPTERS = build_adapters(zendesk_timestamp_tolerance=300)
SECRETS = {"zendesk": "zd-secret-current", "jira": "jira-secret", "pagerduty": "pd-secret-new"}


def signed(vendor: str, body: bytes, *, secret: str | None = None, at: datetime | None = None) -> dict[str, str]:
    """The headers the vendor would send with `body`: content type, signature, and for Jira the
    delivery identifier (a stable one per body, as Jira keeps it across retries)."""
    headers = {
        "Content-Type": "application/json",
        **ADAPTERS[vendor].sign(body=body, secret=secret or SECRETS[vendor], now=at or datetime.now(UTC)),
    }
    if vendor == "jira":
        headers["X-Atlassian-Webhook-Identifier"] = f"id-{hash(body) & 0xFFFFFF:x}"
    return headers


def post(
    client: Any,
    vendor: str,
    payload: Any,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    secret: str | None = None,
) -> Any:
    body = body if body is not None else json.dumps(payload).encode()
    signed_headers = signed(vendor, body, secret=secret)
    signed_headers.update(headers or {})
    path = f"/webhooks/{vendor}" + (f"/{instance}" if instance else "")
    return client.post(path, data=body, headers=signed_headers)


def zd_ticket(
    ticket_id: int = 501,
    *,
    status: str = "NEW",
    priority: str = "NORMAL",
    at: datetime = T0,
    subject: str = "Cannot export invoices",
    tags: list[str] | None = None,
) -> dict[str, Any]:
    return p.zendesk_ticket(
        ticket_id=ticket_id,
        subject=subject,
        description="Export button spins forever.",
        status=status,
        priority=priority,
        requester_id="9001",
        organization_id="77",
        tags=tags or ["billing"],
        created=T0,
        updated=at,
    )


def zd_event(
    name: str, *, ticket_id: int = 501, minutes: float = 0, event: dict[str, Any] | None = None, **ticket: Any
) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return p.zendesk_event(name, zd_ticket(ticket_id, at=at, **ticket), event or {}, at)
