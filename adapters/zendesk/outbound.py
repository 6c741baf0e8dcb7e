"""Ticket updates out: `TicketUpdate`s → `PUT /api/v2/tickets/{id}.json`, through zenpy.

One update carries what one sync decision writes: an internal note (or a public comment where the
mapping allows), a status, tags added with `additional_tags` (the ticket's own tags are never
replaced), custom field values. Every comment ends with its origin marker (`[hdc:…]`): before
writing one, the ticket's comments are read and a comment already carrying the marker — written by
an attempt whose answer was lost — is not written again.

Rate limits: zenpy sleeps out a 429's `Retry-After` inside the call, for as long as Zendesk says.
Here a response hook turns the 429 into an answer at once, so the outbox waits in the database, not
a worker; an `X-Rate-Limit-Remaining: 0` holds the next update back until the minute has passed; and
the outbox's own limit (`ZENDESK_UPDATES_PER_MINUTE`, default 100, Zendesk's Update Ticket limit on
lower plans) keeps below it. zenpy's session is ours, without its transparent retries of 503 (they
ignore `Retry-After`), and its object cache is off: a cached ticket never decides a sync.

zenpy builds `https://<subdomain>.<domain>/api/v2/…`; the scheme and host come from each site's
`ZENDESK_URL`, per client (`http://127.0.0.1:PORT` works; zenpy's process-wide ZENPY_FORCE_* are not
used, as one process may write to several instances).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, ZenpyException

from connector.errors import NotSent, OutboundError
from connector.outbound import OutboundRequest, RateLimit, Sent, TicketUpdate

VENDOR = "zendesk"


@dataclass(frozen=True)
class ZendeskSite:
    """One Zendesk account the connector writes to (`ZENDESK_URL`, `ZENDESK_EMAIL`, `ZENDESK_API_TOKEN`)."""

    url: str
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    setup: str = "set ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"  # what to set when credentials lack


class _Throttled(Exception):
    """A 429 from Zendesk, raised by the session's response hook before zenpy can sleep on it."""

    def __init__(self, response: requests.Response):
        super().__init__("429")
        self.response = response


def ticket_body(request: TicketUpdate) -> dict[str, Any]:
    """The `ticket` object of the update, as Zendesk documents it (what zenpy sends)."""
    body: dict[str, Any] = {}
    if request.comment is not None:
        text = request.comment if request.marker is None else f"{request.comment}\n\n{request.marker}"
        body["comment"] = {"body": text, "public": request.public}
    if request.status:
        body["status"] = request.status
    if request.tags:
        body["additional_tags"] = list(request.tags)
    if request.custom_fields:
        body["custom_fields"] = [{"id": _field_id(k), "value": v} for k, v in request.custom_fields.items()]
    return body


def _field_id(key: str) -> int | str:
    return int(key) if str(key).isdigit() else key


class ZendeskSender:
    """Writes notes, statuses, tags and fields to Zendesk tickets, one site per instance."""

    channel: ClassVar[str] = VENDOR

    def __init__(self, *, sites: Mapping[str, ZendeskSite], timeout: float = 10.0, updates_per_minute: int = 100):
        self.sites = dict(sites)
        self.timeout = timeout
        self.rate_limit: RateLimit | None = RateLimit(events=updates_per_minute, seconds=60.0)
        #: one busy ticket (a Jira comment storm) may take a tenth of the instance's minute, no more
        self.ticket_rate_limit: RateLimit | None = RateLimit(events=max(1, updates_per_minute // 10), seconds=60.0)
        self._clients: dict[str, Zenpy] = {}
        self._exhausted: dict[str, float] = {}  # instance → monotonic time its minute's budget refills
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the credentials
        return f"ZendeskSender({', '.join(f'{i}: {s.url}' for i, s in sorted(self.sites.items()))})"

    def rate_key(self, request: OutboundRequest) -> str | None:
        return f"zendesk/{request.instance}" if isinstance(request, TicketUpdate) else None

    def send(self, request: OutboundRequest) -> Sent:
        if not isinstance(request, TicketUpdate):
            raise NotSent(f"the Zendesk sender updates tickets, not {request.kind.value}", vendor=VENDOR)
        client = self._client(request.instance)
        refill = self._exhausted.get(request.instance)
        if refill is not None and refill > time.monotonic():
            raise OutboundError(
                "Zendesk said no requests are left this minute (X-Rate-Limit-Remaining: 0)",
                vendor=VENDOR,
                retry_after=refill - time.monotonic(),
            )
        ticket_id = int(request.external_id)
        try:
            if request.marker and request.comment is not None and self._has_marker(client, ticket_id, request.marker):
                return Sent(reference=request.marker, response={"ticket_id": ticket_id, "already_written": True})
            audit = client.tickets.update(self._ticket(request, ticket_id))
        except _Throttled as exc:
            raise OutboundError(
                "Zendesk answered 429 (rate limited)", vendor=VENDOR, retry_after=_retry_after(exc.response)
            ) from None
        except APIException as exc:
            raise _refused(getattr(exc, "response", None), str(exc)) from None
        except requests.HTTPError as exc:
            raise _refused(exc.response, "") from None
        except requests.RequestException as exc:  # no answer: a network error or a timeout
            raise OutboundError(f"Zendesk unreachable ({type(exc).__name__})", vendor=VENDOR) from None
        except ZenpyException as exc:
            raise OutboundError(f"zenpy refused the update: {exc}", vendor=VENDOR, retryable=False) from None
        audit_obj = getattr(audit, "audit", None)
        response = {
            "ticket_id": ticket_id,
            "audit_id": getattr(audit_obj, "id", None),
            "author_id": _str(getattr(audit_obj, "author_id", None)),  # the connector's own Zendesk user
            "status": getattr(getattr(audit, "ticket", None), "status", None),
        }
        return Sent(reference=request.marker or f"audit {response['audit_id']}", response=response)

    @staticmethod
    def _ticket(request: TicketUpdate, ticket_id: int) -> Ticket:
        body = ticket_body(request)
        ticket = Ticket(id=ticket_id)
        if "comment" in body:
            ticket.comment = Comment(**body["comment"])
        for name in ("status", "additional_tags", "custom_fields"):
            if name in body:
                setattr(ticket, name, body[name])
        return ticket

    @staticmethod
    def _has_marker(client: Zenpy, ticket_id: int, marker: str) -> bool:
        """Did an earlier attempt write this comment already (its answer lost)?"""
        return any(marker in (getattr(c, "body", None) or "") for c in client.tickets.comments(ticket=ticket_id))

    def _client(self, instance: str) -> Zenpy:
        site = self.sites.get(instance)
        if site is None:
            name = "ZENDESK_URL" if instance == "default" else f"ZENDESK_{instance.upper().replace('-', '_')}_URL"
            raise NotSent(f"no Zendesk account for instance {instance!r}: set {name}", vendor=VENDOR)
        if not (site.email and site.api_token):
            raise NotSent(f"Zendesk instance {instance!r} has no credentials: {site.setup}", vendor=VENDOR)
        with self._lock:
            client = self._clients.get(instance)
            if client is None:
                client = self._clients[instance] = self._build(instance, site)
            return client

    def _build(self, instance: str, site: ZendeskSite) -> Zenpy:
        parts = urlsplit(site.url)
        subdomain, _, domain = (parts.netloc or "").partition(".")
        session = requests.Session()  # ours: no transparent retries; the outbox retries
        session.hooks["response"].append(self._watch(instance))
        client = Zenpy(
            subdomain=subdomain,
            domain=domain,
            email=site.email,
            token=site.api_token,
            session=session,
            timeout=self.timeout,
            disable_cache=True,
        )
        for api in vars(client).values():  # every endpoint group builds its URLs with this scheme
            if hasattr(api, "protocol"):
                api.protocol = parts.scheme
        return client

    def _watch(self, instance: str) -> Any:
        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
            if response.status_code == 429:
                raise _Throttled(response)
            remaining = response.headers.get("X-Rate-Limit-Remaining")
            if remaining is not None and remaining.strip() == "0":
                self._exhausted[instance] = time.monotonic() + (_retry_after(response) or 60.0)
            else:
                self._exhausted.pop(instance, None)
            return response

        return hook

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                session = getattr(client.tickets, "session", None)
                if session is not None:
                    session.close()
            self._clients.clear()


def _retry_after(response: requests.Response | None) -> float | None:
    raw = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _refused(response: requests.Response | None, text: str) -> OutboundError:
    status = response.status_code if response is not None else None
    if not text and response is not None:
        text = response.text
    text = " ".join((text or "").split())[:300]
    if status is None or status in (408, 409, 429) or status >= 500:
        return OutboundError(
            f"Zendesk answered {status or 'nothing'} {text}".rstrip(),
            vendor=VENDOR,
            retry_after=_retry_after(response),
        )
    return OutboundError(f"Zendesk refused it ({status}): {text}".rstrip(": "), vendor=VENDOR, retryable=False)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
