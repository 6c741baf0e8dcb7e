"""Zendesk's and Jira's REST APIs at the HTTP edge (`responses`), as their documentation describes
them, keeping what was written so a test can read it back: the real zenpy and jira clients talk to
these. Each remembers every call; `fail` queues answers to give instead of the next real ones."""

from __future__ import annotations

import json
import re
from typing import Any

import requests
import responses

ZENDESK = "http://127.0.0.1:8090"  # a local simulator's kind of URL: plain HTTP must work
JIRA = "http://127.0.0.1:8089"
ZENDESK_BOT = 3900001  # the connector's own Zendesk user (the API token's owner)
JIRA_BOT = "712020:5f0c-support-bot"  # the connector's Atlassian account id
Answer = tuple[int, dict[str, str], str]
#: the connector's accounts at these fakes (Cloud basic auth for Jira, an API token for Zendesk)
JIRA_ENV = {
    "JIRA_URL": JIRA,
    "JIRA_EMAIL": "support-bot@northwind.example",
    "JIRA_API_TOKEN": "atl-token",
    "JIRA_PROJECT": "ENG",
}
ZENDESK_ENV = {
    "ZENDESK_URL": ZENDESK,
    "ZENDESK_EMAIL": "support-bot@northwind.example",
    "ZENDESK_API_TOKEN": "zd-token",
}
SITES_ENV = {**JIRA_ENV, **ZENDESK_ENV}


class FakeZendesk:
    """Tickets by id: their comments, status and tags; `PUT /api/v2/tickets/{id}.json` updates one."""

    def __init__(self, rs: responses.RequestsMock, base: str = ZENDESK):
        self.base = base
        self.tickets: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.auth: list[str | None] = []
        self.fail: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self.headers: dict[str, str] = {}  # added to every good answer (e.g. X-Rate-Limit-Remaining)
        self.lose_answers = 0  # the next N updates are made, and their answers lost (a timeout)
        pattern = re.compile(rf"{re.escape(base)}/api/v2/.*")
        for method in (responses.GET, responses.PUT):
            rs.add_callback(method, pattern, callback=self._answer)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        return self.tickets.setdefault(
            ticket_id, {"id": ticket_id, "status": "open", "tags": [], "comments": [], "custom_fields": {}}
        )

    def _answer(self, req: Any) -> Answer:
        path = req.path_url.split("?")[0]
        body = json.loads(req.body) if req.body else None
        self.calls.append((req.method, path, body))
        self.auth.append(req.headers.get("Authorization"))
        if self.fail:
            status, headers, data = self.fail.pop(0)
            return status, headers, json.dumps(data)
        m = re.fullmatch(r"/api/v2/tickets/(\d+)/comments\.json", path)
        if m and req.method == "GET":
            comments = self.ticket(int(m.group(1)))["comments"]
            return 200, self.headers, json.dumps({"comments": comments, "next_page": None, "count": len(comments)})
        m = re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path)
        if m and req.method == "PUT":
            answer = self._update(int(m.group(1)), body["ticket"])
            if self.lose_answers:
                self.lose_answers -= 1
                raise requests.ConnectionError("Read timed out (the update was made; its answer was lost)")
            return answer
        return 404, {}, json.dumps({"error": "InvalidEndpoint", "description": f"Not found: {path}"})

    def _update(self, ticket_id: int, change: dict[str, Any]) -> Answer:
        if ticket_id >= 900000:
            return 404, {}, json.dumps({"error": "RecordNotFound", "description": "Not found"})
        t = self.ticket(ticket_id)
        events: list[dict[str, Any]] = []
        if "comment" in change:
            c = change["comment"]
            comment = {"id": 7000 + len(t["comments"]), "body": c["body"], "public": c.get("public", True)}
            comment["author_id"] = ZENDESK_BOT
            t["comments"].append(comment)
            events.append({"type": "Comment", **comment})
        if "status" in change:
            t["status"] = change["status"]
        for tag in change.get("additional_tags") or ():
            if tag not in t["tags"]:
                t["tags"].append(tag)
        for f in change.get("custom_fields") or ():
            t["custom_fields"][f["id"]] = f["value"]
        ticket = {k: v for k, v in t.items() if k not in ("comments", "custom_fields")}
        ticket["custom_fields"] = [{"id": k, "value": v} for k, v in t["custom_fields"].items()]
        audit = {"id": 81000 + len(self.calls), "ticket_id": ticket_id, "author_id": ZENDESK_BOT, "events": events}
        return 200, self.headers, json.dumps({"ticket": ticket, "audit": audit})

    def updates(self, ticket_id: int | None = None) -> list[dict[str, Any]]:
        """The `ticket` objects of the updates made, in order."""
        return [
            body["ticket"]
            for method, path, body in self.calls
            if method == "PUT" and (ticket_id is None or path == f"/api/v2/tickets/{ticket_id}.json")
        ]


#: one workflow: To Do → In Progress → Done, with Reopen back from Done
STATUSES = {
    "To Do": {"id": "10000", "name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    "In Progress": {
        "id": "3",
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    },
    "Done": {"id": "10001", "name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
}
TRANSITIONS = {
    "To Do": [("11", "Start progress", "In Progress"), ("31", "Done", "Done")],
    "In Progress": [("21", "Stop progress", "To Do"), ("31", "Done", "Done")],
    "Done": [("41", "Reopen", "To Do")],
}


class FakeJira:
    """Jira Cloud's REST v2 for one site: issues (search by label, create), comments, transitions and
    remote links."""

    def __init__(self, rs: responses.RequestsMock, base: str = JIRA):
        self.base = base
        self.issues: dict[str, dict[str, Any]] = {}  # by key
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.links: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self.lose_answers = 0  # the next N comments are added, and their answers lost (a timeout)
        pattern = re.compile(rf"{re.escape(base)}/rest/.*")
        for method in (responses.GET, responses.POST):
            rs.add_callback(method, pattern, callback=self._answer)

    def _answer(self, req: Any) -> Answer:
        path = req.path_url.split("?")[0]
        body = json.loads(req.body) if req.body else None
        if path == "/rest/api/2/serverInfo":
            info = {"baseUrl": self.base, "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud"}
            return 200, {}, json.dumps(info)
        if path == "/rest/api/2/field":
            return 200, {}, json.dumps([{"id": "labels", "name": "Labels", "custom": False}])
        self.calls.append((req.method, path, body))
        if self.fail:
            status, headers, data = self.fail.pop(0)
            return status, headers, json.dumps(data)
        if path == "/rest/api/2/search/jql":
            wanted = re.search(r'labels = "([^"]+)"', req.params["jql"])
            found = [i for i in self.issues.values() if wanted and wanted.group(1) in i["fields"]["labels"]]
            return 200, {}, json.dumps({"issues": found[:1], "isLast": True})
        if path == "/rest/api/2/issue" and req.method == "POST":
            n = 42 + len(self.issues)
            key, issue_id = f"ENG-{n}", str(10000 + n)
            fields = {**body["fields"], "status": STATUSES["To Do"], "issuetype": {"id": "10004", "name": "Bug"}}
            fields["project"] = {"id": "10000", "key": "ENG"}
            self.issues[key] = {"id": issue_id, "key": key, "self": f"{self.base}/rest/api/2/issue/{issue_id}"}
            self.issues[key]["fields"] = fields
            return 201, {}, json.dumps({k: self.issues[key][k] for k in ("id", "key", "self")})
        m = re.fullmatch(r"/rest/api/2/issue/([A-Z]+-\d+)(/[a-z]+)?", path)
        if m is None or m.group(1) not in self.issues:
            return 404, {}, json.dumps({"errorMessages": ["Issue does not exist or you do not have permission."]})
        issue, tail = self.issues[m.group(1)], m.group(2)
        if tail is None:
            return 200, {}, json.dumps(issue)
        if tail == "/comment" and req.method == "POST":
            comment = {
                "id": str(20000 + sum(len(c) for c in self.comments.values())),
                "body": body["body"],
                "author": {"accountId": JIRA_BOT, "displayName": "Support Bot"},
                "properties": body.get("properties", []),
            }
            self.comments.setdefault(issue["key"], []).append(comment)
            if self.lose_answers:
                self.lose_answers -= 1
                raise requests.ConnectionError("Read timed out (the comment was added; its answer was lost)")
            return 201, {}, json.dumps(comment)
        if tail == "/comment":
            listed = list(reversed(self.comments.get(issue["key"], [])))
            return 200, {}, json.dumps({"startAt": 0, "total": len(listed), "comments": listed})
        if tail == "/transitions" and req.method == "POST":
            status = issue["fields"]["status"]["name"]
            chosen = [t for t in TRANSITIONS[status] if t[0] == str(body["transition"]["id"])]
            if not chosen:
                return 400, {}, json.dumps({"errorMessages": ["Transition id is not valid for this issue."]})
            issue["fields"]["status"] = STATUSES[chosen[0][2]]
            return 204, {}, ""
        if tail == "/transitions":
            offered = TRANSITIONS[issue["fields"]["status"]["name"]]
            listed = [{"id": i, "name": n, "to": STATUSES[to]} for i, n, to in offered]
            return 200, {}, json.dumps({"transitions": listed})
        if tail == "/remotelink" and req.method == "POST":
            self.links.setdefault(issue["key"], []).append(body)
            return 201, {}, json.dumps({"id": 1, "self": f"{self.base}{path}/1"})
        if tail == "/remotelink":
            return 200, {}, json.dumps(self.links.get(issue["key"], []))
        return 404, {}, json.dumps({"errorMessages": [f"no such resource {path}"]})

    def made(self, method: str, path: str) -> list[Any]:
        return [body for m, p, body in self.calls if m == method and p == path]

    def set_status(self, key: str, name: str) -> None:
        self.issues[key]["fields"]["status"] = STATUSES[name]
