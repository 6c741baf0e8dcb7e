"""Who handles a ticket and what happens when: support levels, owner groups, categories, triggers.

An escalation path is an ordered list of support-level or owner-group ids (they share one namespace).
Triggers are consumed by the escalation engine: each names the event that fires it, optional filters
(severity, tier, category, support level; a list means any of them) and its actions.

    triggers:
      - id: churn-words
        event: keywords
        keywords: [canceling, leaving]
        actions:
          - {do: page, target: vp_product}
          - {do: notify, target: csm, within: 2h}

(`event`, not `on`: YAML 1.1 reads a bare `on` key as the boolean true.)
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.policy.durations import Duration
from connector.policy.scales import NamedItem, phrase_pattern

#: Reserved action target: the customer / requester (external communication).
CUSTOMER = "customer"


class SupportLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="L1, L2, …")
    name: str
    who: str = ""
    calendar: str | None = Field(default=None, description="When this level is staffed.")
    resolves: list[str] = Field(default_factory=list)
    escalates_when: list[str] = Field(default_factory=list)
    escalation_path: list[str] = Field(default_factory=list, description="Where it escalates to, in order.")


class OwnerGroup(BaseModel):
    """A team or person tickets are routed or paged to (Billing, T&S Lead, CISO…)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str
    level: str | None = Field(default=None, description="The support level this group works at.")
    contact: str = ""
    calendar: str | None = None


class Category(NamedItem):
    group: str = Field(default="", description="A heading such as technical, billing, trust_safety.")
    keywords: list[str] = Field(default_factory=list, description="Phrases that suggest this category.")
    initial_owner: str | None = None
    escalation_path: list[str] = Field(default_factory=list)
    sla: Duration | None = Field(
        default=None, description="Routing-table SLA: becomes a target of `sla.category_metric` for this category."
    )


# ---- actions --------------------------------------------------------------------------------


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RaiseLevel(_Action):
    do: Literal["raise_level"]
    to: str | None = Field(default=None, description="A support level; absent: the next one on the path.")


class Reassign(_Action):
    do: Literal["reassign"]
    to: str | None = Field(default=None, description="A level or group; absent: the next owner on the path.")


class Page(_Action):
    do: Literal["page"]
    target: str
    urgency: Literal["high", "low"] = "high"


class Notify(_Action):
    do: Literal["notify"]
    target: str
    within: Duration | None = None
    message: str = ""


class CreateLinkedIssue(_Action):
    do: Literal["create_linked_issue"]
    vendor: Literal["jira"] = "jira"
    issue_type: str = "Bug"
    project: str | None = None


class RequirePostmortem(_Action):
    do: Literal["require_postmortem"]
    within: Duration | None = None


Action = Annotated[
    RaiseLevel | Reassign | Page | Notify | CreateLinkedIssue | RequirePostmortem, Field(discriminator="do")
]


# ---- triggers -------------------------------------------------------------------------------


class _Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    id: str = Field(min_length=1)
    description: str = ""
    severity: list[str] | None = None
    tier: list[str] | None = None
    category: list[str] | None = None
    level: list[str] | None = None
    actions: list[Action] = Field(min_length=1)

    @field_validator("severity", "tier", "category", "level", mode="before")
    @classmethod
    def _one_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class TicketTrigger(_Trigger):
    """Fires when a ticket matches the filters: on creation and whenever severity/tier/category/level change."""

    event: Literal["ticket"]


class BreachTrigger(_Trigger):
    """Fires when a clock breaches (its target, or its maximum), optionally some time after."""

    event: Literal["breach"]
    metric: str | None = None
    breach: Literal["target", "maximum"] = "target"
    after: Duration | None = None


class WarningTrigger(_Trigger):
    event: Literal["warning"]
    metric: str | None = None


#: where a keywords trigger looks: the ticket's subject and description, the customer's public comments,
#: agents' public replies, internal notes
TEXT_SOURCES = ("subject", "description", "customer_comments", "agent_comments", "internal_notes")
TextSource = Literal["subject", "description", "customer_comments", "agent_comments", "internal_notes"]
_DEFAULT_TEXT: tuple[TextSource, ...] = ("subject", "description", "customer_comments")


class KeywordsTrigger(_Trigger):
    """Fires when the ticket's text mentions a phrase: by default its subject, its description and the
    customer's public comments (`in`) — an agent's reply that quotes "canceling" pages nobody."""

    event: Literal["keywords"]
    keywords: list[str] = Field(min_length=1)
    kind: Literal["churn", "security", "data_integrity", "legal", "other"] = "other"
    in_: list[TextSource] = Field(
        default_factory=lambda: list(_DEFAULT_TEXT),
        alias="in",
        description="Which text is searched.",
    )

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return phrase_pattern(self.keywords)

    def matches(self, text: str) -> bool:
        return bool(self.pattern.search(text))


class CsatTrigger(_Trigger):
    event: Literal["csat_below"]
    threshold: float
    scale: float = Field(default=5.0, gt=0, description="The top of the rating scale, e.g. 5 or 10.")


class RepeatIssueTrigger(_Trigger):
    """The same customer raises the same issue (same category) `count` times within `window`."""

    event: Literal["repeat_issue"]
    count: int = Field(default=3, ge=2)
    window: Duration | None = None


class UsersAffectedTrigger(_Trigger):
    """The ticket reports at least `at_least` affected users (its `impact_users` field)."""

    event: Literal["users_affected"]
    at_least: int = Field(ge=1)


class FollowupOverdueTrigger(_Trigger):
    """A follow-up a notification asked for (`notify … within`) or an owed post-mortem is not done by its
    due time. `followup` and `target` narrow it (absent: any)."""

    event: Literal["followup_overdue"]
    followup: Literal["notify", "postmortem"] | None = None
    target: str | None = None


Trigger = Annotated[
    TicketTrigger
    | BreachTrigger
    | WarningTrigger
    | KeywordsTrigger
    | CsatTrigger
    | RepeatIssueTrigger
    | UsersAffectedTrigger
    | FollowupOverdueTrigger,
    Field(discriminator="event"),
]


# ---- how the engine acts ----------------------------------------------------------------------

#: PagerDuty's event severities, most severe first
PageSeverity = Literal["critical", "error", "warning", "info"]
PAGE_SEVERITIES: tuple[PageSeverity, ...] = ("critical", "error", "warning", "info")


class PagingSettings(BaseModel):
    """How pages follow the ticket (PagerDuty Events API v2)."""

    model_config = ConfigDict(extra="forbid")

    severity: dict[str, PageSeverity] = Field(
        default_factory=dict,
        description="Our severity level → the page's severity; unlisted levels by rank: critical, error, "
        "warning, then info.",
    )
    acknowledge_on_first_response: bool = Field(
        default=False, description="An agent's first public response acknowledges the ticket's pages."
    )
    resolve_with_ticket: bool = Field(default=True, description="Resolving the ticket resolves its pages.")


class EscalationSettings(BaseModel):
    """Defaults of the escalation engine."""

    model_config = ConfigDict(extra="forbid")

    initial_level: str | None = Field(
        default=None, description="The support level a new ticket starts at; absent: the first declared."
    )
    postmortem_within: Duration = Field(
        default=timedelta(days=7),
        description="When a `require_postmortem` names no `within`: due this long after the ticket resolves.",
    )
    repeat_window: Duration = Field(
        default=timedelta(days=30), description="When a `repeat_issue` trigger names no `window`."
    )
    auto_categorize: bool = Field(
        default=True, description="A ticket opened with no category gets the first whose keywords its text mentions."
    )
