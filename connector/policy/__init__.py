"""The support policy as data: schema, validation, presets (one per seed document), loading.
Imports the model, the calendar and the errors."""

from __future__ import annotations

from connector.policy.calendars import ARRIVALS, CalendarSpec
from connector.policy.checks import ALWAYS_OPEN
from connector.policy.durations import format_duration, parse_duration
from connector.policy.loader import load_policy, load_policy_document, parse_policy, policy_calendar, preset_names
from connector.policy.routing import (
    Action,
    BreachTrigger,
    Category,
    CreateLinkedIssue,
    CsatTrigger,
    EscalationSettings,
    FollowupOverdueTrigger,
    KeywordsTrigger,
    Notify,
    OwnerGroup,
    Page,
    PagingSettings,
    RaiseLevel,
    Reassign,
    RepeatIssueTrigger,
    RequirePostmortem,
    SupportLevel,
    TextSource,
    TicketTrigger,
    Trigger,
    UsersAffectedTrigger,
    WarningTrigger,
)
from connector.policy.schema import Policy
from connector.policy.targets import SELECTORS, Metric, ResponseRule, Target, TicketFacts

__all__ = [
    "ALWAYS_OPEN",
    "ARRIVALS",
    "SELECTORS",
    "Action",
    "BreachTrigger",
    "CalendarSpec",
    "Category",
    "CreateLinkedIssue",
    "CsatTrigger",
    "EscalationSettings",
    "FollowupOverdueTrigger",
    "KeywordsTrigger",
    "Metric",
    "Notify",
    "OwnerGroup",
    "Page",
    "PagingSettings",
    "Policy",
    "RaiseLevel",
    "Reassign",
    "RepeatIssueTrigger",
    "RequirePostmortem",
    "ResponseRule",
    "SupportLevel",
    "Target",
    "TextSource",
    "TicketFacts",
    "TicketTrigger",
    "Trigger",
    "UsersAffectedTrigger",
    "WarningTrigger",
    "format_duration",
    "load_policy",
    "load_policy_document",
    "parse_duration",
    "parse_policy",
    "policy_calendar",
    "preset_names",
]
