"""Signed deliveries and the ways the fault tests send them: over HTTP to gunicorn (a keep-alive
client and a paced background sender that tags each request with the test's current phase), or
in-process through the Flask test client. Both answer with a `Reply`, so a test's logic runs
unchanged against either target.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.servers import HOST
from connector.demo import payloads as p
from tests.helpers import ADAPTERS, SECRETS


@dataclass(frozen=True)
class Outgoing:
    """One delivery as the vendor sends it: its bytes, headers and what it is about."""

    vendor: str
    body: bytes
    headers: dict[str, str]
    key: str  # the delivery id the vendor gives it (the connector's dedupe key)
    object_id: str = ""  # the vendor object (ticket, issue, incident) it is about
    label: str = ""

    @property
    def path(self) -> str:
        return f"/webhooks/{self.vendor}"


@dataclass
class Reply:
    status: int  # 0: no answer (the exchange failed)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    error: str | None = None

    @property
    def delivery_id(self) -> int | None:
        value = self.body.get("delivery_id") if isinstance(self.body, dict) else None
        return value if isinstance(value, int) else None

    @property
    def duplicate(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("duplicate") is True


def signed_headers(vendor: str, body: bytes, key: str, *, secret: str | None = None) -> dict[str, str]:
    """What the vendor sends with `body`: JSON, a signature made now, and its delivery-id header."""
    headers = {"Content-Type": "application/json"}
    headers |= ADAPTERS[vendor].sign(body=body, secret=secret or SECRETS[vendor], now=datetime.now(UTC))
    headers |= {
        "zendesk": {"X-Zendesk-Webhook-Invocation-Id": key},
        "jira": {"X-Atlassian-Webhook-Identifier": key},
        "pagerduty": {"X-Webhook-Id": key},
    }[vendor]
    return headers


def outgoing(vendor: str, payload: Any, *, key: str, object_id: str = "", label: str = "") -> Outgoing:
    body = json.dumps(payload).encode()
    return Outgoing(vendor, body, signed_headers(vendor, body, key), key, object_id, label)


# --- payloads --------------------------------------------------------------------------------------


def zendesk_created(ticket_id: int, *, at: datetime | None = None) -> Outgoing:
    """A Zendesk `ticket.created` event for a ticket of its own, signed now."""
    at = at or datetime.now(UTC)
    ticket = p.zendesk_ticket(
        ticket_id=ticket_id,
        subject=f"Fault test ticket {ticket_id}",
        description="Created by the fault suite.",
        status="NEW",
        priority="HIGH",
        requester_id="9001",
        organization_id="77",
        tags=["faults"],
        created=at,
        updated=at,
    )
    payload = p.zendesk_event("created", ticket, {}, at)
    return outgoing("zendesk", payload, key=payload["id"], object_id=str(ticket_id), label="zendesk ticket.created")


def jira_created(issue_id: int, *, at: datetime | None = None) -> Outgoing:
    at = at or datetime.now(UTC)
    issue = p.jira_issue(
        issue_id=str(issue_id),
        key=f"FLT-{issue_id}",
        summary=f"Fault test issue {issue_id}",
        description="Created by the fault suite.",
        status="To Do",
        category="new",
        priority="High",
        labels=["faults"],
        reporter=("acc-faults", "Fault Suite"),
        created=at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    payload = p.jira_event("jira:issue_created", issue, at, changelog=[])
    return outgoing("jira", payload, key=f"jira-{uuid.uuid4()}", object_id=str(issue_id), label="jira issue_created")


def pagerduty_triggered(number: int, *, at: datetime | None = None) -> Outgoing:
    at = at or datetime.now(UTC)
    incident_id = f"QFLT{number}"
    inc = p.pd_incident(
        incident_id=incident_id,
        number=number,
        title=f"Fault test incident {number}",
        status="triggered",
        incident_key=f"faults-{number}",
        priority="P2",
        urgency="high",
        created=at,
    )
    payload = p.pd_event("incident.triggered", inc, at, agent=None)
    return outgoing(
        "pagerduty", payload, key=payload["event"]["id"], object_id=incident_id, label="pagerduty incident.triggered"
    )


#: a ticket-opening delivery per vendor, and the object type its link carries
OPENERS: dict[str, tuple[Callable[..., Outgoing], str]] = {
    "zendesk": (zendesk_created, "ticket"),
    "jira": (jira_created, "issue"),
    "pagerduty": (pagerduty_triggered, "incident"),
}


# --- HTTP ------------------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:`port`; a connection the server closed while
    idle is reopened and the request sent again (a webhook sender's retry: the connector dedupes)."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def exchange(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        for attempt in range(2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, _json(data))
                if resp.will_close:
                    self.close()
                return reply
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if reused and attempt == 0:
                    continue
                return Reply(0, error=type(exc).__name__)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                return Reply(0, error=type(exc).__name__)
        raise AssertionError("unreachable")

    def post(self, out: Outgoing, query: str = "") -> Reply:
        return self.exchange("POST", out.path + (f"?{query}" if query else ""), out.body, out.headers)

    def get(self, path: str) -> Reply:
        return self.exchange("GET", path, None, {})


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data[:200].decode("latin-1")


@dataclass
class Sent:
    """One request of a background sender and its answer."""

    seq: int
    out: Outgoing
    phase: str
    reply: Reply
    started: float
    ended: float


class Sender:
    """Background threads posting `make(seq)` deliveries (built — and so signed — just before each is
    sent) at about `rate` per second in all, each request tagged `?phase=<the phase at send time>`.
    Bounded by `limit` requests. `pause()` waits until nothing is in flight."""

    def __init__(
        self, port: int, make: Callable[[int], Outgoing], *, threads: int = 4, rate: float = 80.0, limit: int = 20_000
    ):
        self.port, self.make, self.threads, self.rate, self.limit = port, make, threads, rate, limit
        self.phase = "start"
        self.sent: list[Sent] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failures: list[str] = []

    def start(self) -> Sender:
        self._threads = [
            threading.Thread(target=self._run, name=f"fault-sender-{i}", daemon=True) for i in range(self.threads)
        ]
        for t in self._threads:
            t.start()
        return self

    def _run(self) -> None:
        client = Client(self.port, timeout=30.0)
        gap = self.threads / self.rate
        try:
            while not self._stop.is_set():
                if self._paused.is_set():
                    time.sleep(0.02)
                    continue
                began = time.perf_counter()
                with self._lock:
                    if self._paused.is_set():
                        continue
                    seq = next(self._seq)
                    if seq >= self.limit:
                        return
                    self._in_flight += 1
                    phase = self.phase
                try:
                    out = self.make(seq)
                    reply = client.post(out, f"phase={phase}")
                    ended = time.perf_counter()
                except Exception as exc:  # a bug of the test: stop() reports it
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    return
                finally:
                    with self._lock:
                        self._in_flight -= 1
                        self._idle.notify_all()
                with self._lock:
                    self.sent.append(Sent(seq, out, phase, reply, began, ended))
                if (wait := gap - (time.perf_counter() - began)) > 0:
                    self._stop.wait(wait)
        finally:
            client.close()

    def pause(self, timeout: float = 60.0) -> None:
        self._paused.set()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def resume(self) -> None:
        self._paused.clear()

    def stop(self, timeout: float = 60.0) -> list[Sent]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        if self.failures:
            raise RuntimeError(f"sender threads failed: {self.failures}")
        with self._lock:
            return sorted(self.sent, key=lambda s: s.seq)
