"""Jira out, through the `jira` client library: escalations to engineering (`LinkedIssueRequest` → one
Jira issue per ticket), comments on a linked issue (`IssueComment`) and workflow transitions
(`IssueTransition`), one site per instance (`JIRA_URL`, `JIRA_<INSTANCE>_URL`).

A comment ends with its origin marker (`[hdc:…]`); before one is added the issue's recent comments
are read, so a retry after a lost answer does not add it twice. A transition is looked up by name
among those the issue's status offers (cached per project, issue type and status); an issue already
in the status it leads to is left alone.

A retry after a timeout must not make a second issue, so the issue is looked for by its label
(`hdc-ticket-<id>`) before one is created, and an issue found again gets the remote link back to the
ticket only if it does not have it yet. The library's own retries are off (its
session retries 429 and 503 itself, sleeping up to minutes, and retries connection errors): every
answer comes back at once and the outbox decides — 429/503 and 5xx retryable with `Retry-After`,
400/401/403/404 refused with Jira's message, dead-lettered at once.

The client reads `serverInfo` once: on Cloud the library searches with `/search/jql` (Cloud removed
`/search` in 2025, CHANGE-2046), on Server and Data Center with `/search`.

`JIRA_URL` may be `http://127.0.0.1:PORT` (tests, the demo, outside checkers run simulators).
Authentication: `JIRA_EMAIL` + `JIRA_API_TOKEN` (Cloud, basic auth) or `JIRA_PAT` (Server/Data Center,
bearer token). `JIRA_PROJECT` is the project an action without its own `project` opens issues in.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jira import JIRA, JIRAError
from requests import RequestException

from connector.errors import NotSent, OutboundError
from connector.outbound import IssueComment, IssueTransition, LinkedIssueRequest, OutboundRequest, RateLimit, Sent

VENDOR = "jira"
SUMMARY_LIMIT = 255
#: how many of an issue's most recent comments are searched for a marker before adding one
MARKER_LOOKBACK = 100


@dataclass(frozen=True)
class JiraSite:
    """One Jira site the connector writes to: Cloud's email + API token, or Server's PAT."""

    url: str
    project: str | None = None
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)


def issue_fields(request: LinkedIssueRequest, project: str) -> dict[str, Any]:
    """The `fields` of the issue to create (`POST /rest/api/2/issue`)."""
    return {
        **request.fields,  # the mapping's fields first: the connector's own below win
        "project": {"key": project},
        "issuetype": {"name": request.issue_type},
        "summary": request.summary.replace("\n", " ")[:SUMMARY_LIMIT] or f"Ticket {request.ticket_id}",
        "description": request.description,
        "labels": list(dict.fromkeys([label(request.ticket_id), request.search_label, *request.labels])),
    }


def label(ticket_id: int) -> str:
    return f"hdc-ticket-{ticket_id}"


class JiraSender:
    """Opens a ticket's linked engineering issue (once), comments on it and moves it through its workflow."""

    channel: ClassVar[str] = VENDOR

    def __init__(
        self,
        *,
        url: str | None = None,
        project: str | None = None,
        email: str | None = None,
        api_token: str | None = None,
        pat: str | None = None,
        timeout: float = 10.0,
        sites: Mapping[str, JiraSite] | None = None,
    ):
        """One site (`url` and its credentials: the default instance) or several (`sites` by instance)."""
        self.sites: dict[str, JiraSite] = dict(sites or {})
        if url is not None:
            self.sites["default"] = JiraSite(url=url, project=project, email=email, api_token=api_token, pat=pat)
        self.rate_limit: RateLimit | None = None  # Jira's 429s (with Retry-After) are the limit
        self.ticket_rate_limit: RateLimit | None = None
        self.timeout = timeout
        self._clients: dict[str, JIRA] = {}
        self._transitions: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str | None:
        site = self.sites.get("default")
        return site.url.rstrip("/") if site else None

    @property
    def project(self) -> str | None:
        site = self.sites.get("default")
        return site.project if site else None

    def __repr__(self) -> str:  # never the credentials
        return f"JiraSender({', '.join(f'{i}: {s.url}' for i, s in sorted(self.sites.items()))})"

    def rate_key(self, request: OutboundRequest) -> str | None:
        return None

    def send(self, request: OutboundRequest) -> Sent:
        try:
            if isinstance(request, LinkedIssueRequest):
                return self._linked_issue(request)
            if isinstance(request, IssueComment):
                return self._comment(request)
            if isinstance(request, IssueTransition):
                return self._transition(request)
        except JIRAError as exc:
            raise _error(exc) from None
        except RequestException as exc:  # no answer: a network error or a timeout
            raise OutboundError(f"Jira unreachable ({type(exc).__name__})", vendor=VENDOR) from None
        raise NotSent(f"the Jira sender does not carry {request.kind.value}", vendor=VENDOR)

    def _linked_issue(self, request: LinkedIssueRequest) -> Sent:
        if request.existing_issue:
            raise NotSent(
                f"the ticket already has its Jira issue {request.existing_issue}: no second one is created",
                vendor=VENDOR,
            )
        site = self._site(request.instance)
        project = request.project or site.project
        if not project:
            raise NotSent("no Jira project for the linked issue: set JIRA_PROJECT", vendor=VENDOR)
        client = self._jira(request.instance)
        found = client.search_issues(
            f'project = "{project}" AND labels = "{request.search_label}" ORDER BY created ASC',
            maxResults=1,
            fields="summary",
            validate_query=False,
        )
        if found:
            issue, created = found[0], False
        else:
            issue, created = client.create_issue(fields=issue_fields(request, project), prefetch=False), True
        if request.link_url and (created or not _has_link(client, issue.key, request.link_url)):
            link = {"url": request.link_url, "title": request.link_title or request.link_url}
            client.add_simple_link(issue.key, link)
        key = str(issue.key)
        browse = f"{site.url.rstrip('/')}/browse/{key}"
        return Sent(reference=key, response={"key": key, "id": str(issue.id), "created": created, "url": browse})

    def _comment(self, request: IssueComment) -> Sent:
        client = self._jira(request.instance)
        for comment in client.comments(request.issue_key, order_by="-created", max_results=MARKER_LOOKBACK):
            if request.marker in (getattr(comment, "body", None) or ""):
                return Sent(reference=str(comment.id), response={"issue": request.issue_key, "already_written": True})
        body = f"{request.body}\n\n{request.marker}"
        made = client.add_comment(request.issue_key, body, is_internal=request.internal)
        author = getattr(made, "author", None)
        account = getattr(author, "accountId", None) or getattr(author, "key", None) or getattr(author, "name", None)
        return Sent(
            reference=str(made.id),
            response={"issue": request.issue_key, "comment_id": str(made.id), "author_id": account},
        )

    def _transition(self, request: IssueTransition) -> Sent:
        client = self._jira(request.instance)
        issue = client.issue(request.issue_key, fields="status,project,issuetype")
        status = issue.fields.status
        now = str(status.name)
        wanted = request.transition.strip().lower()
        cache = (request.instance, str(issue.fields.project.key), str(issue.fields.issuetype.id), str(status.id))
        with self._lock:
            offered = self._transitions.get(cache)
        if offered is None:
            offered = list(client.transitions(issue.key))
            with self._lock:
                self._transitions[cache] = offered
        chosen = next((t for t in offered if str(t.get("name", "")).strip().lower() == wanted), None)
        if chosen is None:
            if now.strip().lower() == wanted:
                return Sent(reference=now, response={"issue": issue.key, "status": now, "already": True})
            names = ", ".join(sorted(str(t.get("name")) for t in offered)) or "none"
            raise OutboundError(
                f"{issue.key} (status {now}) offers no transition named {request.transition!r} (it offers: {names})",
                vendor=VENDOR,
                retryable=False,
            )
        to = str((chosen.get("to") or {}).get("name") or "")
        if to and to.lower() == now.lower():
            return Sent(reference=now, response={"issue": issue.key, "status": now, "already": True})
        try:
            client.transition_issue(issue.key, str(chosen["id"]))
        except JIRAError:
            with self._lock:  # the workflow may have changed: look the transitions up again next time
                self._transitions.pop(cache, None)
            raise
        return Sent(reference=to or request.transition, response={"issue": issue.key, "from": now, "to": to})

    def fetch(self, instance: str, object_type: str, key: str) -> Mapping[str, Any] | None:
        """An issue as `GET /rest/api/2/issue/{key}` shows it, with its latest comments under
        `comments` (for the reconciliation sweep); None if Jira says it does not exist."""
        if object_type != "issue":
            return None
        try:
            client = self._jira(instance)
            issue = client.issue(key)
            comments = client.comments(key, order_by="-created", max_results=MARKER_LOOKBACK)
        except JIRAError as exc:
            if exc.status_code == 404:
                return None
            raise _error(exc) from None
        except RequestException as exc:
            raise OutboundError(f"Jira unreachable ({type(exc).__name__})", vendor=VENDOR) from None
        return {"issue": dict(issue.raw), "comments": [dict(c.raw) for c in reversed(comments)]}

    def _site(self, instance: str) -> JiraSite:
        site = self.sites.get(instance)
        if site is None:
            name = "JIRA_URL" if instance == "default" else f"JIRA_{instance.upper().replace('-', '_')}_URL"
            raise NotSent(f"no Jira site for instance {instance!r}: set {name}", vendor=VENDOR)
        if not (site.pat or (site.email and site.api_token)):
            raise NotSent(
                f"Jira instance {instance!r} has no credentials: set its EMAIL + API_TOKEN or its PAT", vendor=VENDOR
            )
        return site

    def _jira(self, instance: str = "default") -> JIRA:
        site = self._site(instance)
        with self._lock:
            client = self._clients.get(instance)
        if client is None:
            auth: dict[str, Any] = (
                {"token_auth": site.pat} if site.pat else {"basic_auth": (site.email or "", site.api_token or "")}
            )
            client = JIRA(
                server=site.url.rstrip("/"),
                # one call at the first send: Cloud searches with /search/jql (its /search is gone), Server
                # and Data Center with /search
                get_server_info=True,
                max_retries=0,  # the outbox retries, with backoff, in the database
                timeout=self.timeout,
                **auth,
            )
            with self._lock:
                client = self._clients.setdefault(instance, client)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _has_link(client: JIRA, key: str, url: str) -> bool:
    """Does the issue (found again on a retry) already link back to `url`?"""
    return any(getattr(getattr(link, "object", None), "url", None) == url for link in client.remote_links(key))


def _error(exc: JIRAError) -> OutboundError:
    status = exc.status_code
    text = (exc.text or "").strip()[:300]
    if status is None or status in (408, 429) or status >= 500:
        response = exc.response
        raw = response.headers.get("Retry-After") if response is not None else None
        try:
            retry_after = max(0.0, float(raw)) if raw is not None else None
        except ValueError:
            retry_after = None
        return OutboundError(
            f"Jira answered {status or 'nothing'} {text}".rstrip(),
            vendor=VENDOR,
            retryable=True,
            retry_after=retry_after,
        )
    return OutboundError(f"Jira refused it ({status}): {text}".rstrip(": "), vendor=VENDOR, retryable=False)
