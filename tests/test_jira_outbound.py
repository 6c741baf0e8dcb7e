"""Linked engineering issues out through the real `jira` client, at the HTTP edge with `responses`:
request bodies as Jira documents them (`POST /rest/api/2/issue {"fields": …}`, `POST
/rest/api/2/issue/{key}/remotelink {"object": {url, title}}`), one issue per ticket however often the
intent is retried, the library's own retries off, and Jira's refusals dead-lettered with its message."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from sqlalchemy import select

from adapters.jira.outbound import JiraSender, issue_fields
from connector.errors import NotSent, OutboundError
from connector.outbound import LinkedIssueRequest
from connector.runtime import Runtime
from connector.store import Database
from connector.store.tables import OutboxItem, OutboxStatus
from tests.conftest import drain, installed_runtime
from tests.helpers import post, zd_event

SITE = "http://127.0.0.1:8089"  # a local simulator's kind of URL: plain HTTP must work
FIELDS = [
    {"id": "summary", "name": "Summary", "custom": False, "clauseNames": ["summary"]},
    {"id": "labels", "name": "Labels", "custom": False, "clauseNames": ["labels"]},
]
ISSUE = {"id": "10042", "key": "ENG-42", "self": f"{SITE}/rest/api/2/issue/10042"}
ZD_URL = "https://acme.zendesk.com/agent/tickets/501"


def request(ticket_id: int = 7, **kw: Any) -> LinkedIssueRequest:
    base: dict[str, Any] = {
        "ticket_id": ticket_id,
        "issue_type": "Bug",
        "summary": "Checkout fails with 502 after upgrading to v4.2",
        "description": "Customer: Northwind (enterprise)\nSeverity: P0\nSLA due: 2025-03-12T12:20:05+00:00",
        "labels": (f"hdc-ticket-{ticket_id}",),
        "link_url": ZD_URL,
        "link_title": "zendesk ticket 501",
    }
    return LinkedIssueRequest(**{**base, **kw})


class FakeJira:
    """Jira's REST answers for one project: searches by label see the issues created before."""

    def __init__(self, rs: responses.RequestsMock, deployment: str = "Cloud"):
        self.deployment = deployment  # Cloud's /search is gone (410): it searches with /search/jql
        self.issues: list[dict[str, Any]] = []
        self.links: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.auth: list[str | None] = []  # each request's Authorization header
        self.fail: list[tuple[int, dict[str, str], dict[str, Any]]] = []  # next answers to give instead
        rs.add_callback(responses.GET, re.compile(rf"{re.escape(SITE)}/.*"), callback=self._answer)
        rs.add_callback(responses.POST, re.compile(rf"{re.escape(SITE)}/.*"), callback=self._answer)

    def _answer(self, req: Any) -> tuple[int, dict[str, str], str]:
        path = req.path_url.split("?")[0]
        body = json.loads(req.body) if req.body else None
        self.calls.append((req.method, path, body))
        self.auth.append(req.headers.get("Authorization"))
        if self.fail and path not in ("/rest/api/2/field", "/rest/api/2/serverInfo"):
            status, headers, data = self.fail.pop(0)
            return status, headers, json.dumps(data)
        if path == "/rest/api/2/serverInfo":
            version = [1001, 0, 0] if self.deployment == "Cloud" else [9, 12, 0]
            return 200, {}, json.dumps({"baseUrl": SITE, "versionNumbers": version, "deploymentType": self.deployment})
        if path == "/rest/api/2/field":
            return 200, {}, json.dumps(FIELDS)
        if path in ("/rest/api/2/search", "/rest/api/2/search/jql"):
            if (path == "/rest/api/2/search") == (self.deployment == "Cloud"):
                return 410, {}, json.dumps({"errorMessages": ["The requested API has been removed."]})
            wanted = re.search(r'labels = "([^"]+)"', req.params["jql"])
            found = [i for i in self.issues if wanted and wanted.group(1) in i["fields"]["labels"]]
            if path.endswith("/jql"):
                return 200, {}, json.dumps({"issues": found[:1], "isLast": True})
            return 200, {}, json.dumps({"startAt": 0, "maxResults": 1, "total": len(found), "issues": found[:1]})
        if path == "/rest/api/2/issue" and req.method == "POST":
            n = 42 + len(self.issues)
            issue = {"id": str(10000 + n), "key": f"ENG-{n}", "self": f"{SITE}/rest/api/2/issue/{10000 + n}"}
            self.issues.append({**issue, "fields": body["fields"]})
            return 201, {}, json.dumps(issue)
        m = re.fullmatch(r"/rest/api/2/issue/([A-Z]+-\d+)/remotelink", path)
        if m and req.method == "POST":
            self.links.setdefault(m.group(1), []).append({"id": len(self.links) + 1, **body})
            return 201, {}, json.dumps({"id": 1, "self": f"{SITE}{path}/1"})
        if m:
            return 200, {}, json.dumps(self.links.get(m.group(1), []))
        return 404, {}, json.dumps({"errorMessages": [f"no such resource {path}"], "errors": {}})

    def made(self, method: str, path: str) -> list[Any]:
        return [body for m, p, body in self.calls if m == method and p == path]


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        yield FakeJira(rs)


def sender(**kw: Any) -> JiraSender:
    return JiraSender(url=SITE, project="ENG", email="support-bot@northwind.example", api_token="atl-token", **kw)


def test_one_issue_with_the_documented_fields_label_and_remote_link(jira: FakeJira) -> None:
    sent = sender().send(request())
    assert sent.reference == "ENG-42"
    [created] = jira.made("POST", "/rest/api/2/issue")
    assert created == {
        "fields": {
            "project": {"key": "ENG"},
            "issuetype": {"name": "Bug"},
            "summary": "Checkout fails with 502 after upgrading to v4.2",
            "description": request().description,
            "labels": ["hdc-ticket-7"],
        }
    }
    [link] = jira.made("POST", "/rest/api/2/issue/ENG-42/remotelink")
    assert link == {"object": {"url": ZD_URL, "title": "zendesk ticket 501"}}
    # the label was looked for first: a retry finds this issue
    assert jira.calls.index(("POST", "/rest/api/2/issue", created)) > [p for _, p, _ in jira.calls].index(
        "/rest/api/2/search/jql"
    )


def test_a_retry_after_a_lost_answer_finds_the_issue_and_its_link(jira: FakeJira) -> None:
    s = sender()
    s.send(request())
    again = s.send(request())  # e.g. the first answer timed out after Jira had made the issue
    assert again.reference == "ENG-42" and again.response["created"] is False
    assert len(jira.made("POST", "/rest/api/2/issue")) == 1
    assert len(jira.made("POST", "/rest/api/2/issue/ENG-42/remotelink")) == 1


def test_server_and_data_center_search_with_the_classic_endpoint(jira: FakeJira) -> None:
    jira.deployment = "Server"
    s = JiraSender(url=SITE, project="ENG", pat="server-pat")
    assert s.send(request()).reference == s.send(request()).reference == "ENG-42"
    assert "/rest/api/2/search" in [p for _, p, _ in jira.calls]
    assert len(jira.made("POST", "/rest/api/2/issue")) == 1


def test_basic_auth_for_cloud_and_a_bearer_token_for_server(jira: FakeJira) -> None:
    sender().send(request())
    assert set(jira.auth) == {"Basic " + base64.b64encode(b"support-bot@northwind.example:atl-token").decode()}
    jira.auth.clear()
    JiraSender(url=SITE, project="ENG", pat="server-pat").send(request(ticket_id=8))
    assert set(jira.auth) == {"Bearer server-pat"}


def test_429_and_503_are_retryable_with_retry_after_and_not_retried_by_the_library(jira: FakeJira) -> None:
    jira.fail = [(429, {"Retry-After": "30"}, {"errorMessages": ["Rate limit exceeded."]})]
    with pytest.raises(OutboundError) as caught:
        sender().send(request())
    assert caught.value.retryable and caught.value.retry_after == 30.0
    tried = [c for c in jira.calls if c[1] not in ("/rest/api/2/field", "/rest/api/2/serverInfo")]
    assert len(tried) == 1  # one try: the outbox retries
    jira.fail = [(503, {}, {"errorMessages": ["Service unavailable"]})]
    with pytest.raises(OutboundError) as caught:
        sender().send(request())
    assert caught.value.retryable and caught.value.retry_after is None


def test_a_refusal_is_final_with_jiras_message(jira: FakeJira) -> None:
    jira.fail = [
        (200, {}, {"startAt": 0, "maxResults": 1, "total": 0, "issues": []}),
        (400, {}, {"errorMessages": [], "errors": {"issuetype": "The issue type selected is invalid."}}),
    ]
    with pytest.raises(OutboundError) as caught:
        sender().send(request(issue_type="Bugg"))
    assert not caught.value.retryable
    assert "400" in caught.value.message and "The issue type selected is invalid." in caught.value.message


def test_without_a_project_nothing_is_sent_and_the_reason_says_what_to_set(jira: FakeJira) -> None:
    with pytest.raises(NotSent) as caught:
        JiraSender(url=SITE, project=None, pat="p").send(request())
    assert "JIRA_PROJECT" in caught.value.message
    assert jira.calls == []
    assert issue_fields(request(project="OPS"), "OPS")["project"] == {"key": "OPS"}


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    with installed_runtime(
        database,
        CONNECTOR_POLICY="signx",  # P0/P1 → L3, page on-call, create a linked Bug
        JIRA_URL=SITE,
        JIRA_EMAIL="support-bot@northwind.example",
        JIRA_API_TOKEN="atl-token",
        JIRA_PROJECT="ENG",
    ) as runtime:
        yield runtime


def test_an_escalated_ticket_opens_one_jira_issue_through_the_outbox(rt: Runtime, jira: FakeJira) -> None:
    from webhooks.app import create_app

    client = create_app(rt, start_worker=False).test_client()
    body = zd_event("created", priority="URGENT")
    assert post(client, "zendesk", body).status_code == 202
    drain(rt)
    with rt.db.session() as s:
        [item] = s.scalars(select(OutboxItem).where(OutboxItem.intent == "create_linked_issue")).all()
        assert (item.status, item.response["key"] if item.response else None) == (OutboxStatus.SENT.value, "ENG-42")
    [created] = jira.made("POST", "/rest/api/2/issue")
    assert created["fields"]["labels"] == ["hdc-ticket-1"]
    assert created["fields"]["issuetype"] == {"name": "Bug"}
    description = created["fields"]["description"]
    for fact in ("severity: P0", "level: L3", "sla due: ", "rule: p0-p1-auto-escalate"):
        assert fact in description
    # the delivery again and a second run of the outbox job: still one issue
    assert post(client, "zendesk", body).status_code == 200
    rt.queue.enqueue_outbox(item.id)
    drain(rt)
    assert len(jira.made("POST", "/rest/api/2/issue")) == 1


def test_the_local_jira_simulator_takes_what_the_sender_sends() -> None:
    from connector.demo.simulators import JiraSimulator

    sim = JiraSimulator().start()
    try:
        s = JiraSender(url=sim.url, project="PLAT", pat="demo-pat")
        first, again = s.send(request()), s.send(request())
        assert first.reference == again.reference == "PLAT-1"
        assert list(sim.issues) == ["PLAT-1"] and sim.issues["PLAT-1"]["fields"]["labels"] == ["hdc-ticket-7"]
        assert [link["object"]["url"] for link in sim.remote_links["PLAT-1"]] == [ZD_URL]
        with pytest.raises(OutboundError) as caught:
            s.send(request(ticket_id=9, issue_type=""))  # Jira: "issuetype is required."
        assert not caught.value.retryable and "issuetype is required." in caught.value.message
    finally:
        sim.stop()


def test_a_ticket_that_has_its_jira_issue_gets_no_second_one(jira: FakeJira) -> None:
    with pytest.raises(NotSent) as caught:
        sender().send(request(existing_issue="PLAT-311"))
    assert "already has its Jira issue PLAT-311" in caught.value.message
    assert jira.calls == []
