"""Escalations to engineering out: `LinkedIssueRequest`s → one Jira issue per ticket, through the `jira`
client library.

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

from typing import Any, ClassVar

from jira import JIRA, JIRAError
from requests import RequestException

from connector.errors import NotSent, OutboundError
from connector.outbound import LinkedIssueRequest, OutboundRequest, RateLimit, Sent

VENDOR = "jira"
SUMMARY_LIMIT = 255


def issue_fields(request: LinkedIssueRequest, project: str) -> dict[str, Any]:
    """The `fields` of the issue to create (`POST /rest/api/2/issue`)."""
    return {
        "project": {"key": project},
        "issuetype": {"name": request.issue_type},
        "summary": request.summary.replace("\n", " ")[:SUMMARY_LIMIT] or f"Ticket {request.ticket_id}",
        "description": request.description,
        "labels": list(dict.fromkeys([label(request.ticket_id), *request.labels])),
    }


def label(ticket_id: int) -> str:
    return f"hdc-ticket-{ticket_id}"


class JiraSender:
    """Opens the linked engineering issue of a ticket, once."""

    channel: ClassVar[str] = VENDOR

    def __init__(
        self,
        *,
        url: str,
        project: str | None,
        email: str | None = None,
        api_token: str | None = None,
        pat: str | None = None,
        timeout: float = 10.0,
    ):
        self.url = url.rstrip("/")
        self.project = project
        self.rate_limit: RateLimit | None = None  # Jira's 429s (with Retry-After) are the limit
        self._auth: dict[str, Any] = {"token_auth": pat} if pat else {"basic_auth": (email or "", api_token or "")}
        self.timeout = timeout
        self._client: JIRA | None = None

    def __repr__(self) -> str:  # never the credentials
        return f"JiraSender({self.url}, project {self.project or 'unset'})"

    def rate_key(self, request: OutboundRequest) -> str | None:
        return None

    def send(self, request: OutboundRequest) -> Sent:
        if not isinstance(request, LinkedIssueRequest):
            raise NotSent(f"the Jira sender opens linked issues, not {request.kind.value}", vendor=VENDOR)
        if request.existing_issue:
            raise NotSent(
                f"the ticket already has its Jira issue {request.existing_issue}: no second one is created",
                vendor=VENDOR,
            )
        project = request.project or self.project
        if not project:
            raise NotSent("no Jira project for the linked issue: set JIRA_PROJECT", vendor=VENDOR)
        try:
            client = self._jira()
            found = client.search_issues(
                f'project = "{project}" AND labels = "{label(request.ticket_id)}" ORDER BY created ASC',
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
        except JIRAError as exc:
            raise _error(exc) from None
        except RequestException as exc:  # no answer: a network error or a timeout
            raise OutboundError(f"Jira unreachable ({type(exc).__name__})", vendor=VENDOR) from None
        key = str(issue.key)
        return Sent(reference=key, response={"key": key, "id": str(issue.id), "created": created})

    def _jira(self) -> JIRA:
        if self._client is None:
            self._client = JIRA(
                server=self.url,
                # one call at the first send: Cloud searches with /search/jql (its /search is gone), Server
                # and Data Center with /search
                get_server_info=True,
                max_retries=0,  # the outbox retries, with backoff, in the database
                timeout=self.timeout,
                **self._auth,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


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
