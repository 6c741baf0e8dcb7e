"""The support policy document: one YAML file an admin edits, validated on load.

Top-level sections (all but `name` and `severity` have defaults):

    name: signx                     # a slug
    severity: {levels, default, hints}            # scales.py
    customer_tiers: {tiers, default}              # scales.py
    categories: [...]                             # routing.py (with routing table: owner, path, sla)
    calendars: {name: {timezone, hours, holidays, holiday_country}}   # calendars.py
    metrics: [first_response, next_update, resolution, {id: engineering_ack, start, met_by}]
    sla: {defaults, category_metric, targets, pause}                  # targets.py
    first_response: {public_only, agent_only, exclude_authors, exclude_tags}   # what counts
    updates: {...same...}                         # what counts as an update (restarts next_update)
    support_levels: [...]; groups: [...]; triggers: [...]             # routing.py
    escalation: {initial_level, postmortem_within, repeat_window, auto_categorize}   # routing.py
    paging: {severity, acknowledge_on_first_response, resolve_with_ticket}           # routing.py

Errors point into the document: `sla.targets[3].severity: unknown level 'P5'`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from connector.calendar import BusinessCalendar
from connector.errors import PolicyError
from connector.model import Channel
from connector.policy.calendars import ARRIVALS, CalendarSpec
from connector.policy.checks import ALWAYS_OPEN, check_policy
from connector.policy.gaps import severity_gaps
from connector.policy.routing import (
    PAGE_SEVERITIES,
    BreachTrigger,
    Category,
    EscalationSettings,
    OwnerGroup,
    PagingSettings,
    SupportLevel,
    Trigger,
)
from connector.policy.scales import NameIndex, SeverityScale, Tier, TierScale, default_tiers, phrase_pattern
from connector.policy.targets import (
    BUILTIN_METRICS,
    Metric,
    ResponseRule,
    SlaSection,
    Target,
    TicketFacts,
    best_target,
)

_CHANNELS = frozenset(c.value for c in Channel)


def _builtin_metrics() -> list[Metric]:
    return [Metric.model_validate(m) for m in BUILTIN_METRICS]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = ""
    description: str = ""
    source: str = Field(default="", description="Where the policy comes from (e.g. the seed document).")
    severity: SeverityScale
    customer_tiers: TierScale = Field(default_factory=default_tiers)
    categories: list[Category] = Field(default_factory=list)
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    metrics: list[Metric] = Field(default_factory=_builtin_metrics)
    sla: SlaSection = Field(default_factory=SlaSection)
    first_response: ResponseRule = Field(default_factory=ResponseRule)
    updates: ResponseRule = Field(default_factory=ResponseRule)
    support_levels: list[SupportLevel] = Field(default_factory=list)
    groups: list[OwnerGroup] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    paging: PagingSettings = Field(default_factory=PagingSettings)

    _category_targets: list[Target] = PrivateAttr(default_factory=list)
    _severities: NameIndex = PrivateAttr()
    _tiers: NameIndex = PrivateAttr()
    _categories: NameIndex = PrivateAttr()
    _hints: list[tuple[str, re.Pattern[str]]] = PrivateAttr(default_factory=list)
    _calendars: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)
    _paused: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)  # `paused_statuses` by metric
    #: `targets_for` answers by its arguments (a policy is not changed once validated), and whose they
    #: are: a copy of the model starts afresh
    _targets_memo: tuple[int, dict[tuple[Any, ...], tuple[Target, ...]]] = PrivateAttr(default=(0, {}))

    @model_validator(mode="after")
    def _cross_check(self) -> Policy:
        generated = [
            (f"categories[{i}].sla", Target(metric=self.sla.category_metric, category=[c.id], target=c.sla))
            for i, c in enumerate(self.categories)
            if c.sla is not None
        ]
        problems = check_policy(self, generated)
        if problems:
            raise PolicyError("; ".join(f"{path}: {message}" for path, message in problems))
        self._category_targets = [t for _, t in generated]
        self._severities = NameIndex(self.severity.levels)
        self._tiers = NameIndex(self.customer_tiers.tiers)
        self._categories = NameIndex(self.categories)
        self._hints = [(h.level, phrase_pattern(h.keywords)) for h in self.severity.hints]
        return self

    # ---- names --------------------------------------------------------------------------------

    def severity_of(self, value: str | None) -> str | None:
        """The severity level an id or alias names (`P0`, `sev 1`, `CRITICAL`, `Sev 1 — Critical`), else None."""
        return self._severities.get(value) if value else None

    def severity_rank(self, level: str) -> int:
        """0 for the most severe level; raises KeyError for an unknown one."""
        for i, lv in enumerate(self.severity.levels):
            if lv.id == level:
                return i
        raise KeyError(level)

    def severity_hint(self, text: str) -> str | None:
        """The most severe level whose keyword hints the text mentions ("production down"), else None."""
        found = [level for level, pattern in self._hints if pattern.search(text or "")]
        return min(found, key=self.severity_rank, default=None)

    def tier_of(self, value: str | None) -> str:
        """The tier an id or alias names; the default tier for anything else (including nothing)."""
        return (self._tiers.get(value) if value else None) or self.customer_tiers.default

    def tier(self, tier_id: str) -> Tier:
        return next(t for t in self.customer_tiers.tiers if t.id == tier_id)

    def category_of(self, value: str | None) -> str | None:
        return self._categories.get(value) if value else None

    def metric(self, metric_id: str) -> Metric:
        for m in self.metrics:
            if m.id == metric_id:
                return m
        raise KeyError(metric_id)

    def level_rank(self, level: str | None) -> int:
        """A support level's place in the declared order (0: the first, L1); -1 for none or an unknown one."""
        for i, lv in enumerate(self.support_levels):
            if lv.id == level:
                return i
        return -1

    @property
    def initial_level(self) -> str | None:
        """The support level a new ticket starts at (`escalation.initial_level`, else the first declared)."""
        if self.escalation.initial_level is not None:
            return self.escalation.initial_level
        return self.support_levels[0].id if self.support_levels else None

    def page_severity(self, severity: str | None) -> str:
        """The PagerDuty severity of a page for a ticket of this severity level (`paging.severity`, else by rank)."""
        level = self.severity_of(severity) or self.severity.default
        if level is None:
            return PAGE_SEVERITIES[-1]
        if level in self.paging.severity:
            return self.paging.severity[level]
        try:
            rank = self.severity_rank(level)
        except KeyError:
            return PAGE_SEVERITIES[-1]
        return PAGE_SEVERITIES[min(rank, len(PAGE_SEVERITIES) - 1)]

    def owner(self, owner_id: str) -> SupportLevel | OwnerGroup:
        """A support level or owner group by id (they share one namespace)."""
        owners: list[SupportLevel | OwnerGroup] = [*self.support_levels, *self.groups]
        for item in owners:
            if item.id == owner_id:
                return item
        raise KeyError(owner_id)

    # ---- SLA ----------------------------------------------------------------------------------

    @property
    def all_targets(self) -> list[Target]:
        """`sla.targets` plus the targets the categories' routing-table `sla` values stand for."""
        return [*self.sla.targets, *self._category_targets]

    def targets_for(
        self,
        metric: str | None = None,
        *,
        severity: str | None,
        tier: str | None,
        category: str | None = None,
        channel: str | None = None,
        received: str | None = None,
        level: str | None = None,
    ) -> list[Target]:
        """The winning target of each metric (or of `metric`) for a ticket, metrics in declared order.

        Values may be aliases (or unique display names). A channel that is not a `Channel` value counts
        as unknown, so only channel-wildcard targets match it. A severity nothing names falls back to
        `severity.default`; a tier to the default tier. Metrics whose winner says "no clock" (target
        null) are left out; so is everything for a tier with `sla: false`. Business-time targets come
        back with their calendar filled in (the target's, else the tier's, else `sla.defaults.calendar`).
        """
        owner, memo = self._targets_memo
        if owner != id(self):
            memo = {}
            self._targets_memo = (id(self), memo)
        key = (metric, severity, tier, category, channel, received, level)
        found = memo.get(key)
        if found is None:
            found = memo[key] = tuple(
                self._targets_for(
                    metric,
                    severity=severity,
                    tier=tier,
                    category=category,
                    channel=channel,
                    received=received,
                    level=level,
                )
            )
        return list(found)

    def _targets_for(
        self,
        metric: str | None,
        *,
        severity: str | None,
        tier: str | None,
        category: str | None,
        channel: str | None,
        received: str | None,
        level: str | None,
    ) -> list[Target]:
        tier_id = self.tier_of(tier)
        if not self.tier(tier_id).sla:
            return []
        if received is not None and received not in ARRIVALS:
            raise ValueError(f"received is one of {', '.join(ARRIVALS)}, got {received!r}")
        facts = TicketFacts(
            severity=self.severity_of(severity) or self.severity.default,
            tier=tier_id,
            category=self.category_of(category),
            channel=channel.lower() if channel and channel.lower() in _CHANNELS else None,
            received=received,
            level=level,
        )
        metrics = [metric] if metric is not None else [m.id for m in self.metrics]
        out: list[Target] = []
        for m in metrics:
            best = best_target(self.all_targets, m, facts)
            if best is None or best.target is None:
                continue
            if best.time == "business" and best.calendar is None:
                best = best.model_copy(update={"calendar": self.tier(tier_id).calendar or self.sla.defaults.calendar})
            out.append(best)
        return out

    def breach_followups(self, metric: str) -> tuple[timedelta, ...]:
        """How long after a breach of `metric` its breach triggers act (their `after`), shortest first: the
        clock fires an `overdue` point at each while it is still not met."""
        leads = {
            t.after
            for t in self.triggers
            if isinstance(t, BreachTrigger) and t.after and t.breach == "target" and t.metric in (None, metric)
        }
        return tuple(sorted(leads))

    def paused_statuses(self, metric: str) -> frozenset[str]:
        """Statuses during which `metric`'s clock does not run (its own entry, else `*`)."""
        memo = self._paused
        found = memo.get(metric)
        if found is None:
            pause = self.sla.pause
            found = memo[metric] = frozenset(s.value for s in pause.get(metric, pause.get("*", [])))
        return found

    # ---- calendars ----------------------------------------------------------------------------

    def calendar_spec(self, name: str | None = None) -> CalendarSpec | None:
        """A declared calendar; `None` asks for `sla.defaults.calendar`. None for calendar time."""
        name = name or self.sla.defaults.calendar
        if name is None or name == ALWAYS_OPEN:
            return None
        try:
            return self.calendars[name]
        except KeyError:
            raise PolicyError(f"policy {self.name!r} has no calendar {name!r}") from None

    def calendar(self, name: str | None = None) -> BusinessCalendar:
        """The BusinessCalendar for a declared calendar name (`24x7` or no default: always open)."""
        key = name or self.sla.defaults.calendar or ALWAYS_OPEN
        if key not in self._calendars:
            spec = self.calendar_spec(key)
            if spec is None:
                zone = next(iter(self.calendars.values())).timezone if self.calendars else "UTC"
                self._calendars[key] = BusinessCalendar.always_open(zone)
            else:
                self._calendars[key] = BusinessCalendar(
                    timezone=spec.timezone,
                    weekly_hours=spec.weekly_hours,
                    holidays=spec.holidays,
                    holiday_country=spec.holiday_country,
                    holiday_subdivision=spec.holiday_subdivision,
                    name=key,
                )
        return self._calendars[key]

    def clock_calendar(self, target: Target) -> BusinessCalendar:
        """The calendar a target's clock counts over: its business calendar, or 24x7 for calendar time."""
        return self.calendar(target.calendar if target.time == "business" else ALWAYS_OPEN)

    def arrival(self, at: datetime, *, tier: str | None = None) -> str:
        """When a ticket arrived, for the `received` selector: business_hours, after_hours or weekend,
        against the tier's calendar, else `sla.defaults.calendar` (no calendar: always business_hours)."""
        spec = self.calendar_spec(self.tier(self.tier_of(tier)).calendar)
        return spec.arrival(at) if spec is not None else "business_hours"

    def warnings(self) -> list[str]:
        """What the policy promises upside down (a more severe ticket held to a looser target, or to
        none, where a less severe one has one): valid, but worth a second look. See `gaps`."""
        return severity_gaps(self)

    def show(self) -> dict[str, Any]:
        """The document as data (durations as text), for `connector policy show` and `GET /api/policy`."""
        return self.model_dump(mode="json", exclude_defaults=False)
