"""Sign a body the way each vendor does. Used by the demo, the benchmarks and the tests — the
receivers verify with the adapters' own code, never with this module."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def zendesk_headers(body: bytes, secret: str, *, at: datetime | None = None, webhook_id: str = "01HWDEMO00000000000000000") -> dict[str, str]:
    ts = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(_mac(secret, ts.encode() + body)).decode()
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Id": webhook_id,
            "X-Zendesk-Webhook-Signature-Timestamp": ts, "X-Zendesk-Webhook-Signature": sig}


def jira_headers(body: bytes, secret: str, *, identifier: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Hub-Signature": "sha256=" + _mac(secret, body).hex()}
    if identifier:
        headers["X-Atlassian-Webhook-Identifier"] = identifier
    return headers


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "X-PagerDuty-Signature": ",".join("v1=" + _mac(s, body).hex() for s in secrets)}
