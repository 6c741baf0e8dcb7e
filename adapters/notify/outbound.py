"""Notifications out: canonical `Notification`s → a JSON POST to the target's webhook (`requests`).

The body carries a Slack-compatible `text` (Slack, Mattermost and Teams workflow webhooks take it as
is) and the structured escalation beside it. With a secret configured the body is signed:
`X-Connector-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` — the receiver recomputes it over
the bytes it got. Answers: 2xx sent; 408, 429 and 5xx, timeouts and network errors retryable (with
`Retry-After`); any other 4xx refused with the receiver's message; redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from connector.errors import NotSent, OutboundError
from connector.outbound import Notification, OutboundRequest, RateLimit, Sent

VENDOR = "notify"
SIGNATURE_HEADER = "X-Connector-Signature"


def notification_body(request: Notification) -> bytes:
    """The JSON body: `text` for people, the facts for machines."""
    data = {
        "text": request.text,
        "target": request.target,
        "ticket_id": request.ticket_id,
        "escalation": dict(request.escalation),
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def sign_body(body: bytes, secret: str) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """Posts notifications to each target's webhook URL (`webhooks`: target → URL; `*` for any other)."""

    channel: ClassVar[str] = VENDOR
    rate_limit: RateLimit | None = None
    ticket_rate_limit: RateLimit | None = None

    def __init__(
        self,
        *,
        webhooks: Mapping[str, str],
        secret: str | None = None,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ):
        self._urls = dict(webhooks)
        self._secret = secret
        self.timeout = timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # a Slack webhook URL is a secret
        return f"WebhookNotifier({len(self._urls)} targets, {'signed' if self._secret else 'unsigned'})"

    def rate_key(self, request: OutboundRequest) -> str | None:
        return None

    def send(self, request: OutboundRequest) -> Sent:
        if not isinstance(request, Notification):
            raise NotSent(f"the notifier sends notifications, not {request.kind.value}", vendor=VENDOR)
        url = self._urls.get(request.target) or self._urls.get("*")
        if url is None:
            raise NotSent(
                f"no notification webhook for {request.target!r}: set CONNECTOR_NOTIFY_WEBHOOKS="
                f"{request.target}=https://… (the event is on the ticket's timeline)",
                vendor=VENDOR,
            )
        body = notification_body(request)
        headers = {"Content-Type": "application/json", "User-Agent": "helpdesk-connector"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign_body(body, self._secret)
        host = urlsplit(url).netloc  # never the path: a Slack webhook's path is its secret
        try:
            r = self._session.post(url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise OutboundError(f"notification to {host} failed: {type(exc).__name__}", vendor=VENDOR) from None
        if 200 <= r.status_code < 300:
            return Sent(reference=f"HTTP {r.status_code}", response={"status": r.status_code, "host": host})
        message = f"notification to {host}: HTTP {r.status_code} {r.text[:200]}".rstrip()
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise OutboundError(message, vendor=VENDOR, retryable=True, retry_after=_retry_after(r.headers))
        raise OutboundError(message, vendor=VENDOR, retryable=False)

    def close(self) -> None:
        self._session.close()


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    raw = headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None
