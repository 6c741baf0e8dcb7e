"""Local vendor simulators on 127.0.0.1: what the demo, the tests and the benchmarks page and notify.

`PagerDutySimulator` answers the Events API v2 (`POST /v2/enqueue`) as PagerDuty documents it: 202
`{"status": "success", "message": "Event processed", "dedup_key": ...}`, 400 with `errors` for a
body it would refuse; it keeps every event it took and, per dedup key, the alert's state (triggered,
acknowledged, resolved — a trigger after a resolve opens a new alert). `fail_next` queues answers to
give instead (429 with `Retry-After`, 500, ...), for fault tests. `WebhookReceiver` keeps every
notification POSTed to it, with its headers. `JiraSimulator` answers what linked engineering issues
use of Jira's REST API v2 (fields, search, create, remote links). `ZendeskSimulator` takes ticket
updates (`PUT /api/v2/tickets/{id}.json`) and lists a ticket's comments. All are real HTTP servers:
the connector reaches them through its real client libraries.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

_ACTIONS = ("trigger", "acknowledge", "resolve")
_SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived
    method: str = "POST"

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Alert:
    dedup_key: str
    routing_key: str
    status: str  # triggered | acknowledged | resolved
    summary: str
    severity: str
    opened: int = 1  # how many alerts this key has opened (a trigger after a resolve opens another)
    events: list[str] = field(default_factory=list)


class Server:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one write per answer, sent at once: no 40 ms stall of Nagle's algorithm against the
            # client's delayed acknowledgement between the headers and the body
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
                self._handle("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_PUT(self) -> None:  # noqa: N802
                self._handle("PUT")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                got = Received(self.path, {k: v for k, v in self.headers.items()}, body, time.monotonic(), method)
                status, headers, answer = outer.answer(got)
                payload = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=type(self).__name__, daemon=True)

    @property
    def url(self) -> str:
        port = self.httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, got: Received) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` requests arrived (or `timeout`); the requests so far."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.received) < count and time.monotonic() < deadline:
                self.lock.wait(max(0.0, deadline - time.monotonic()))
            return list(self.received)


class PagerDutySimulator(Server):
    """PagerDuty's Events API v2, on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.alerts: dict[str, Alert] = {}
        self._failures: list[tuple[int, dict[str, str], Any]] = []

    def fail_next(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        """The next `times` events get this answer instead of being taken."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        body = {"status": "throttle events", "message": "Requests for this service are arriving too quickly"}
        if status != 429:
            body = {"status": "error", "message": f"simulated {status}"}
        with self.lock:
            self._failures += [(status, headers, body)] * times

    def events(self) -> list[dict[str, Any]]:
        """The events taken (202), in order."""
        with self.lock:
            return [r.json() for r in self.received if getattr(r, "taken", False)]

    def answer(self, got: Received) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.received.append(got)
            self.lock.notify_all()
            if self._failures:
                return self._failures.pop(0)
            if got.path.rstrip("/") != "/v2/enqueue":
                return 404, {}, {"status": "error", "message": "not found"}
            try:
                event = got.json()
            except ValueError:
                event = None
            errors = _problems(event)
            if errors:
                return 400, {}, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
            got.taken = True  # type: ignore[attr-defined]  # marks the request as an event taken
            key = event.get("dedup_key") or f"sim-{len(self.received)}"
            self._apply(key, event)
            return 202, {}, {"status": "success", "message": "Event processed", "dedup_key": key}

    def _apply(self, key: str, event: dict[str, Any]) -> None:
        action = event["event_action"]
        alert = self.alerts.get(key)
        if action == "trigger":
            payload = event["payload"]
            if alert is None:
                self.alerts[key] = alert = Alert(
                    key, event["routing_key"], "triggered", payload["summary"], payload["severity"]
                )
            elif alert.status == "resolved":
                alert.status, alert.opened = "triggered", alert.opened + 1
        elif alert is not None and alert.status != "resolved":
            alert.status = "acknowledged" if action == "acknowledge" else "resolved"
        if alert is not None:
            alert.events.append(action)


def _problems(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["the event is not an object"]
    out = []
    if not event.get("routing_key"):
        out.append("'routing_key' is missing")
    action = event.get("event_action")
    if action not in _ACTIONS:
        out.append(f"'event_action' must be one of {', '.join(_ACTIONS)}")
    if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
        out.append("'dedup_key' is required for acknowledge and resolve")
    if len(str(event.get("dedup_key") or "")) > 255:
        out.append("'dedup_key' is longer than 255 characters")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            out.append("'payload' is missing")
        else:
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    out.append(f"'payload.{name}' is missing")
            if payload.get("severity") not in _SEVERITIES:
                out.append(f"'payload.severity' must be one of {', '.join(_SEVERITIES)}")
            if len(str(payload.get("summary") or "")) > 1024:
                out.append("'payload.summary' is longer than 1024 characters")
    return out


class JiraSimulator(Server):
    """The part of Jira Cloud's REST API v2 the connector's linked issues use, on 127.0.0.1: server
    info, the field list, JQL search by `project` and `labels` (`/search/jql`; the old `/search`
    answers 410 as Cloud's does), creating an issue (`{"fields": …}` with project, issuetype
    and summary required), reading one, its comments (list, add) and its remote links. Keys are
    `<project>-<n>`; every request is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.issues: dict[str, dict[str, Any]] = {}  # key → {"id", "key", "fields"}
        self.remote_links: dict[str, list[dict[str, Any]]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}  # key → comments, oldest first

    def answer(self, got: Received) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.received.append(got)
            self.lock.notify_all()
            path, _, query = got.path.partition("?")
            if got.method == "GET" and path == "/rest/api/2/serverInfo":
                return 200, {}, {"baseUrl": self.url, "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud"}
            if got.method == "GET" and path == "/rest/api/2/field":
                return (
                    200,
                    {},
                    [
                        {"id": "summary", "name": "Summary", "custom": False, "clauseNames": ["summary"]},
                        {"id": "labels", "name": "Labels", "custom": False, "clauseNames": ["labels"]},
                    ],
                )
            if got.method == "GET" and path == "/rest/api/2/search":  # as on Jira Cloud since 2025
                return 410, {}, {"errorMessages": ["The requested API has been removed. Use /search/jql."]}
            if got.method == "GET" and path in ("/rest/api/2/search/jql", "/rest/api/3/search/jql"):
                return 200, {}, self._search(parse_qs(query).get("jql", [""])[0])
            if got.method == "POST" and path == "/rest/api/2/issue":
                return self._create(got)
            match = re.fullmatch(r"/rest/api/2/issue/([A-Z][A-Z0-9]*-\d+)/comment", path)
            if match and match.group(1) in self.issues:
                comments = self.comments.setdefault(match.group(1), [])
                if got.method == "GET":  # newest first, as the connector asks (orderBy=-created)
                    listed = list(reversed(comments))
                    return 200, {}, {"startAt": 0, "maxResults": len(listed), "total": len(listed), "comments": listed}
                body = got.json()
                comment = {
                    "id": str(20000 + sum(len(c) for c in self.comments.values())),
                    "body": str(body.get("body") or ""),
                    "author": {"accountId": "712020:demo-support-bot", "displayName": "Support Bot"},
                    "properties": body.get("properties") or [],
                }
                comments.append(comment)
                return 201, {}, comment
            match = re.fullmatch(r"/rest/api/2/issue/([A-Z][A-Z0-9]*-\d+)", path)
            if match and got.method == "GET" and match.group(1) in self.issues:
                issue = self.issues[match.group(1)]
                return 200, {}, {**issue, "self": f"{self.url}/rest/api/2/issue/{issue['id']}"}
            match = re.fullmatch(r"/rest/api/2/issue/([A-Z][A-Z0-9]*-\d+)/remotelink", path)
            if match and match.group(1) in self.issues:
                links = self.remote_links.setdefault(match.group(1), [])
                if got.method == "GET":
                    return 200, {}, links
                links.append({"id": len(links) + 1, **got.json()})
                return 201, {}, {"id": len(links), "self": f"{self.url}{path}/{len(links)}"}
            return 404, {}, {"errorMessages": [f"not found: {got.method} {path}"], "errors": {}}

    def _search(self, jql: str) -> dict[str, Any]:
        project = re.search(r'project = "([^"]+)"', jql)
        label = re.search(r'labels = "([^"]+)"', jql)
        found = [
            {"id": i["id"], "key": i["key"], "fields": {"summary": i["fields"].get("summary")}}
            for i in self.issues.values()
            if (project is None or i["key"].startswith(project.group(1) + "-"))
            and (label is None or label.group(1) in (i["fields"].get("labels") or []))
        ]
        return {"issues": found[:50], "isLast": len(found) <= 50}

    def _create(self, got: Received) -> tuple[int, dict[str, str], Any]:
        try:
            fields = got.json()["fields"]
            project = fields["project"]["key"]
        except (ValueError, KeyError, TypeError):
            return 400, {}, {"errorMessages": ['the body must be {"fields": {"project": {"key": …}, …}}']}
        given = {"issuetype": (fields.get("issuetype") or {}).get("name"), "summary": fields.get("summary")}
        errors = {name: f"{name} is required." for name, value in given.items() if not value}
        if errors:
            return 400, {}, {"errorMessages": [], "errors": errors}
        n = 1 + sum(1 for key in self.issues if key.startswith(project + "-"))
        key, issue_id = f"{project}-{n}", str(10000 + len(self.issues) + 1)
        self.issues[key] = {"id": issue_id, "key": key, "fields": fields}
        return 201, {}, {"id": issue_id, "key": key, "self": f"{self.url}/rest/api/2/issue/{issue_id}"}


class ZendeskSimulator(Server):
    """The part of Zendesk's REST API the connector's sync uses, on 127.0.0.1: a ticket update (`PUT
    /api/v2/tickets/{id}.json {"ticket": {comment, status, additional_tags, custom_fields}}`, answered
    with the ticket and its audit) and a ticket's comments (`GET /api/v2/tickets/{id}/comments.json`).
    Every ticket exists; every request is kept."""

    BOT = 3900001  # the API token's owner: the author of every comment written here

    def __init__(self) -> None:
        super().__init__()
        self.tickets: dict[int, dict[str, Any]] = {}

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        return self.tickets.setdefault(ticket_id, {"id": ticket_id, "status": "open", "tags": [], "comments": []})

    def answer(self, got: Received) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.received.append(got)
            self.lock.notify_all()
            path = got.path.partition("?")[0]
            match = re.fullmatch(r"/api/v2/tickets/(\d+)/comments\.json", path)
            if match and got.method == "GET":
                comments = self.ticket(int(match.group(1)))["comments"]
                return 200, {}, {"comments": comments, "next_page": None, "count": len(comments)}
            match = re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path)
            if match and got.method == "PUT":
                try:
                    change = got.json()["ticket"]
                except (ValueError, KeyError, TypeError):
                    return 400, {}, {"error": "InvalidParameter", "description": "a 'ticket' object is required"}
                return 200, {}, self._update(int(match.group(1)), change)
            return 404, {}, {"error": "InvalidEndpoint", "description": f"Not found: {got.method} {path}"}

    def _update(self, ticket_id: int, change: dict[str, Any]) -> dict[str, Any]:
        t = self.ticket(ticket_id)
        events = []
        if isinstance(change.get("comment"), dict):
            c = change["comment"]
            comment: dict[str, Any] = {"id": 7000 + sum(len(x["comments"]) for x in self.tickets.values())}
            comment.update({"body": str(c.get("body") or ""), "public": c.get("public", True), "author_id": self.BOT})
            t["comments"].append(comment)
            events.append({"type": "Comment", **comment})
        if change.get("status"):
            t["status"] = change["status"]
        for tag in change.get("additional_tags") or ():
            if tag not in t["tags"]:
                t["tags"].append(tag)
        ticket = {k: v for k, v in t.items() if k != "comments"}
        return {"ticket": ticket, "audit": {"id": 81000 + len(self.received), "author_id": self.BOT, "events": events}}


class WebhookReceiver(Server):
    """A chat tool's incoming webhook: keeps every POST, answers 200 `ok` (or what `status` says)."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status

    def answer(self, got: Received) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.received.append(got)
            self.lock.notify_all()
        return self.status, {}, {"ok": self.status < 300}


@contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
