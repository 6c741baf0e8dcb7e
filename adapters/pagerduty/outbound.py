"""Pages out: canonical `PageRequest`s → PagerDuty Events API v2, through the `pagerduty` client library.

Split in two, as every outbound side is: `event_body` is the pure builder (intent → the request body,
less the routing key), `PagerDutySender` the one client factory and the call. The library's own
retries are switched off — it retries 429 without limit and sleeps between tries, which would hold a
worker for minutes — so every answer comes back at once and the outbox decides: 202 sent; 400 (the
body) and 401/403/404 refused, dead-lettered with PagerDuty's message; 429 and 5xx, timeouts and
network errors retryable, with `Retry-After` when PagerDuty sends one.

`PAGERDUTY_EVENTS_URL` may be `http://127.0.0.1:PORT` (a local simulator): the client refuses a base
URL that is not https, so the sender's client class supplies the URL itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

import pagerduty

from connector.errors import NotSent, OutboundError
from connector.outbound import OutboundRequest, PageRequest, RateLimit, Sent

VENDOR = "pagerduty"
#: Events API v2 limits (https://developer.pagerduty.com/docs/events-api-v2/overview): "about 120 events
#: per minute per routing key"
EVENTS_PER_MINUTE = 120
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255


def event_body(request: PageRequest) -> dict[str, Any]:
    """The Events API v2 body of a page, without the routing key (the client adds it)."""
    body: dict[str, Any] = {"event_action": request.action, "dedup_key": request.dedup_key[:DEDUP_KEY_LIMIT]}
    if request.action != "trigger":
        return body
    payload: dict[str, Any] = {
        "summary": (request.summary or f"ticket {request.ticket_id}")[:SUMMARY_LIMIT],
        "source": request.source,
        "severity": request.severity,
    }
    optional = {"timestamp": request.timestamp, "component": request.component, "group": request.group}
    payload.update({k: v for k, v in optional.items() if v})
    if request.custom_details:
        payload["custom_details"] = {k: v for k, v in request.custom_details.items() if v is not None}
    body["payload"] = payload
    if request.links:
        body["links"] = [{"href": link.href, "text": link.text} for link in request.links]
    return body


class _Refused(Exception):
    """An answer the library would retry (429, 5xx): raised from its response hook instead."""

    def __init__(self, response: Any):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _EventsClient(pagerduty.EventsApiV2Client):
    """The library's client with its retries off and its base URL ours (http allowed, for simulators)."""

    def __init__(self, routing_key: str, *, base_url: str, timeout: float):
        self._events_url = base_url.rstrip("/")
        super().__init__(routing_key)
        self.timeout = timeout  # type: ignore[assignment]  # declared int; httpx takes seconds as a float
        self.retry = {}
        self.max_network_attempts = 0  # a network error raises at once

    @property
    def url(self) -> str:
        return self._events_url

    @url.setter
    def url(self, _value: str) -> None:  # the library sets its default here; ours stays
        pass

    def postprocess(self, response: Any) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            raise _Refused(response)


class PagerDutySender:
    """Sends pages for policy targets; each target's routing key comes from `routing_keys`, else `default_key`."""

    channel: ClassVar[str] = VENDOR

    def __init__(
        self,
        *,
        events_url: str,
        routing_keys: Mapping[str, str],
        default_key: str | None = None,
        timeout: float = 10.0,
        events_per_minute: int = EVENTS_PER_MINUTE,
    ):
        self.events_url = events_url
        self.rate_limit: RateLimit | None = RateLimit(events=events_per_minute, seconds=60.0)
        self.ticket_rate_limit: RateLimit | None = None  # a ticket's pages are few, and keyed per target
        self._keys = dict(routing_keys)
        self._default = default_key
        self.timeout = timeout
        self._clients: dict[str, _EventsClient] = {}

    def __repr__(self) -> str:  # never the keys
        default = "set" if self._default else "unset"
        return f"PagerDutySender({self.events_url}, {len(self._keys)} routing keys, default {default})"

    def routing_key(self, target: str) -> str | None:
        return self._keys.get(target) or self._default

    def rate_key(self, request: OutboundRequest) -> str | None:
        key = self.routing_key(request.target) if isinstance(request, PageRequest) else None
        return None if key is None else "pd:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]

    def send(self, request: OutboundRequest) -> Sent:
        if not isinstance(request, PageRequest):
            raise NotSent(f"the PagerDuty sender sends pages, not {request.kind.value}", vendor=VENDOR)
        key = self.routing_key(request.target)
        if key is None:
            raise NotSent(
                f"no PagerDuty routing key for {request.target!r}: set PAGERDUTY_ROUTING_KEYS="
                f"{request.target}=<integration key> (or PAGERDUTY_ROUTING_KEY for every target)",
                vendor=VENDOR,
            )
        body = event_body(request)
        action = body.pop("event_action")
        dedup_key = body.pop("dedup_key")
        try:
            answer = self._client(key).send_event(action, dedup_key=dedup_key, **body)
        except _Refused as exc:
            raise _retryable(exc.response, action) from None
        except pagerduty.HttpError as exc:
            raise _refused(exc.response, action) from None
        except pagerduty.Error as exc:  # no answer: a network error or a timeout
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "no answer"
            raise OutboundError(f"{action}: PagerDuty unreachable ({cause})", vendor=VENDOR) from None
        return Sent(reference=str(answer), response={"status": "success", "dedup_key": answer, "event_action": action})

    def _client(self, routing_key: str) -> _EventsClient:
        client = self._clients.get(routing_key)
        if client is None:
            client = self._clients[routing_key] = _EventsClient(
                routing_key, base_url=self.events_url, timeout=self.timeout
            )
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def _message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return (response.text or "")[:300]
    if isinstance(data, dict):
        errors = data.get("errors")
        text = data.get("message") or ""
        if isinstance(errors, list) and errors:
            text = f"{text}: {'; '.join(str(e) for e in errors)}" if text else "; ".join(str(e) for e in errors)
        return str(text)[:300]
    return str(data)[:300]


def _retry_after(response: Any) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _retryable(response: Any, action: str) -> OutboundError:
    return OutboundError(
        f"{action}: PagerDuty answered {response.status_code} {_message(response)}".rstrip(),
        vendor=VENDOR,
        retryable=True,
        retry_after=_retry_after(response),
    )


def _refused(response: Any, action: str) -> OutboundError:
    status = getattr(response, "status_code", None)
    if status is not None and (status == 429 or status >= 500 or status == 408):
        return _retryable(response, action)
    return OutboundError(
        f"{action}: PagerDuty refused it ({status}): {_message(response) if response is not None else ''}".rstrip(": "),
        vendor=VENDOR,
        retryable=False,
    )
