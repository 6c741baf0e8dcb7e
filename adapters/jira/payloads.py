"""Checked models of the parts of Jira webhook payloads the adapter reads.

Only what the adapter itself needs is modelled; everything else stays in the raw payload, which is
what the field mapping reads. Jira sends ids as strings, but numbers are accepted and turned into
strings so an id is always a string downstream.

Jira Cloud and Jira Server / Data Center send the same events with two differences the models
allow for: Server users carry `name` and `key` instead of `accountId`, and Server `comment_*`
events carry no `issue` (its id is only in `comment.self`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Epoch milliseconds; the upper bound is the last millisecond of year 9999, so a value that fits
# here always converts to a datetime.
EpochMillis = Annotated[int, Field(strict=True, ge=0, le=253_402_300_799_999)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True, frozen=True)


class JiraUser(_Model):
    """A user: Cloud identifies one by `accountId`; Server / Data Center by `key` (stable across
    renames) and `name` (the username)."""

    accountId: str | None = None
    key: str | None = None
    name: str | None = None
    displayName: str | None = None
    emailAddress: str | None = None

    @property
    def id(self) -> str | None:
        """`accountId`, else `key`, else `name`: the first the payload carries (blank counts as absent)."""
        for value in (self.accountId, self.key, self.name):
            if value is not None and value.strip():
                return value
        return None


class IssueFields(_Model):
    labels: list[str] = Field(default_factory=list)

    @field_validator("labels", mode="before")
    @classmethod
    def _null_is_empty(cls, v: object) -> object:
        return [] if v is None else v


class Issue(_Model):
    id: NonEmpty
    key: NonEmpty
    self_url: str | None = Field(default=None, alias="self")
    fields: IssueFields


class ChangelogItem(_Model):
    field: str
    fieldId: str | None = None
    fieldtype: str | None = None
    fromString: str | None = None
    toString: str | None = None


class Changelog(_Model):
    id: str | None = None
    items: list[ChangelogItem] = Field(default_factory=list)


class JiraComment(_Model):
    id: NonEmpty
    self_url: str | None = Field(default=None, alias="self")  # .../rest/api/2/issue/<issue id>/comment/<id>
    body: str = ""  # wiki markup in the v2 payloads webhooks send
    author: JiraUser | None = None
    updateAuthor: JiraUser | None = None
    jsdPublic: bool | None = None  # JSM only; False is an internal comment


class IssueEvent(_Model):
    """`jira:issue_created`, `jira:issue_updated`, `jira:issue_deleted`.

    An update whose `issue_event_type_name` is `issue_commented` also carries the new `comment`.
    """

    timestamp: EpochMillis
    webhookEvent: str
    issue_event_type_name: str | None = None
    user: JiraUser | None = None
    issue: Issue
    changelog: Changelog | None = None
    comment: JiraComment | None = None


class CommentEvent(_Model):
    """`comment_created`, `comment_updated`, `comment_deleted` (no `user`, no issue_event_type_name).

    Cloud sends the issue (summary, issuetype, project, assignee, priority, status); Jira Server /
    Data Center sends none.
    """

    timestamp: EpochMillis
    webhookEvent: str
    comment: JiraComment
    issue: Issue | None = None
