"""Cross-field validation of a policy: every reference resolves, every alias is unambiguous.

Runs after pydantic has checked each field's shape. It also *normalises* what it checks (aliases
in targets and triggers become level/tier ids; targets get their defaults filled in), so the rest
of the code only ever sees ids. Each problem is (path into the document, message), e.g.
`("sla.targets[3].severity", "unknown level 'P5'")`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from connector.model import Status
from connector.policy.routing import (
    CUSTOMER,
    FollowupOverdueTrigger,
    Notify,
    OwnerGroup,
    Page,
    PageSeverity,
    RaiseLevel,
    Reassign,
    SupportLevel,
)
from connector.policy.scales import NameIndex, duplicate_names
from connector.policy.targets import MET_EVENTS, START_EVENTS, Target, overlaps

if TYPE_CHECKING:
    from connector.policy.schema import Policy

Problem = tuple[str, str]
#: The calendar name meaning "calendar time": 24x7, no calendar to declare.
ALWAYS_OPEN = "24x7"


class _Checker:
    def __init__(self, policy: Policy):
        self.p = policy
        self.problems: list[Problem] = []
        self.severities = NameIndex(policy.severity.levels)
        self.tiers = NameIndex(policy.customer_tiers.tiers)
        self.categories = NameIndex(policy.categories)
        self.level_ids = {lv.id for lv in policy.support_levels}
        self.owner_ids = self.level_ids | {g.id for g in policy.groups}
        self.metric_ids = {m.id for m in policy.metrics}

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def names(self, values: list[str] | None, index: NameIndex, path: str, what: str) -> list[str] | None:
        if values is None:
            return None
        out: list[str] = []
        for v in values:
            found = index.get(v)
            if found is None:
                self.add(path, f"unknown {what} {v!r}")
            elif found not in out:
                out.append(found)
        return out

    def ref(self, value: str | None, allowed: set[str], path: str, what: str) -> None:
        if value is not None and value not in allowed:
            self.add(path, f"unknown {what} {value!r}")

    def calendar(self, name: str | None, path: str) -> None:
        if name is not None and name != ALWAYS_OPEN and name not in self.p.calendars:
            self.add(path, f"unknown calendar {name!r} (declared: {', '.join(self.p.calendars) or 'none'})")

    # ---- sections ------------------------------------------------------------------------------

    def scales(self) -> None:
        p = self.p
        self.problems += duplicate_names(p.severity.levels, "severity.levels")
        self.problems += duplicate_names(p.customer_tiers.tiers, "customer_tiers.tiers")
        self.problems += duplicate_names(p.categories, "categories")
        if p.severity.default is not None:
            found = self.names([p.severity.default], self.severities, "severity.default", "level")
            p.severity.default = found[0] if found else None
        for i, hint in enumerate(p.severity.hints):
            found = self.names([hint.level], self.severities, f"severity.hints[{i}].level", "level")
            hint.level = found[0] if found else hint.level
        found = self.names([p.customer_tiers.default], self.tiers, "customer_tiers.default", "tier")
        p.customer_tiers.default = found[0] if found else p.customer_tiers.default
        for i, tier in enumerate(p.customer_tiers.tiers):
            self.calendar(tier.calendar, f"customer_tiers.tiers[{i}].calendar")
        if ALWAYS_OPEN in p.calendars:
            self.add(f"calendars.{ALWAYS_OPEN}", "this name is reserved for calendar time (24x7)")

    def event(self, value: str, allowed: frozenset[str], path: str, *, statuses: bool) -> None:
        kind, sep, arg = value.partition(":")
        if sep and kind == "level":
            self.ref(arg, self.level_ids, path, "support level")
        elif sep and kind == "status" and statuses:
            self.ref(arg, {s.value for s in Status}, path, "status")
        elif value not in allowed:
            extra = "level:<id>, status:<status>" if statuses else "level:<id>"
            self.add(path, f"unknown event {value!r} (one of {', '.join(sorted(allowed))}, {extra})")

    def metrics(self) -> None:
        seen: set[str] = set()
        for i, m in enumerate(self.p.metrics):
            if m.id in seen:
                self.add(f"metrics[{i}].id", f"metric {m.id!r} is declared twice")
            seen.add(m.id)
            self.event(m.start, START_EVENTS, f"metrics[{i}].start", statuses=False)
            for j, e in enumerate(m.met_by):
                self.event(e, MET_EVENTS, f"metrics[{i}].met_by[{j}]", statuses=True)

    def routing(self) -> None:
        p = self.p
        seen: dict[str, str] = {}
        owners: list[tuple[str, Sequence[SupportLevel | OwnerGroup]]] = [
            ("support_levels", p.support_levels),
            ("groups", p.groups),
        ]
        for where, items in owners:
            for i, item in enumerate(items):
                if item.id in seen:
                    self.add(f"{where}[{i}].id", f"{item.id!r} already names one of {seen[item.id]}")
                seen.setdefault(item.id, where)
                self.calendar(item.calendar, f"{where}[{i}].calendar")
        for i, lv in enumerate(p.support_levels):
            for j, step in enumerate(lv.escalation_path):
                self.ref(step, self.owner_ids, f"support_levels[{i}].escalation_path[{j}]", "level or group")
        for i, g in enumerate(p.groups):
            self.ref(g.level, self.level_ids, f"groups[{i}].level", "support level")
        for i, c in enumerate(p.categories):
            self.ref(c.initial_owner, self.owner_ids, f"categories[{i}].initial_owner", "level or group")
            for j, step in enumerate(c.escalation_path):
                self.ref(step, self.owner_ids, f"categories[{i}].escalation_path[{j}]", "level or group")
            if c.sla is not None and p.sla.category_metric not in self.metric_ids:
                self.add(
                    f"categories[{i}].sla", f"sla.category_metric {p.sla.category_metric!r} is not declared in metrics"
                )

    def triggers(self) -> None:
        seen: set[str] = set()
        for i, t in enumerate(self.p.triggers):
            at = f"triggers[{i}]"
            if t.id in seen:
                self.add(f"{at}.id", f"trigger {t.id!r} is declared twice")
            seen.add(t.id)
            t.severity = self.names(t.severity, self.severities, f"{at}.severity", "level")
            t.tier = self.names(t.tier, self.tiers, f"{at}.tier", "tier")
            t.category = self.names(t.category, self.categories, f"{at}.category", "category")
            for lv in t.level or []:
                self.ref(lv, self.level_ids, f"{at}.level", "support level")
            self.ref(getattr(t, "metric", None), self.metric_ids, f"{at}.metric", "metric")
            for j, a in enumerate(t.actions):
                path = f"{at}.actions[{j}]"
                if isinstance(a, RaiseLevel):
                    self.ref(a.to, self.level_ids, f"{path}.to", "support level")
                elif isinstance(a, Reassign):
                    self.ref(a.to, self.owner_ids, f"{path}.to", "level or group")
                elif isinstance(a, Page | Notify):
                    self.ref(a.target, self.owner_ids | {CUSTOMER}, f"{path}.target", "level or group")
            if isinstance(t, FollowupOverdueTrigger):
                self.ref(t.target, self.owner_ids | {CUSTOMER}, f"{at}.target", "level or group")

    def escalation(self) -> None:
        self.ref(self.p.escalation.initial_level, self.level_ids, "escalation.initial_level", "support level")
        normalised: dict[str, PageSeverity] = {}
        for name, value in self.p.paging.severity.items():
            level = self.severities.get(name)
            if level is None:
                self.add(f"paging.severity.{name}", f"unknown level {name!r}")
            else:
                normalised[level] = value
        self.p.paging.severity = normalised

    def pause(self) -> None:
        for key in self.p.sla.pause:
            if key != "*" and key not in self.metric_ids:
                self.add(f"sla.pause.{key}", f"unknown metric {key!r}")

    def target(self, t: Target, path: str, explicit: set[str]) -> None:
        p, d = self.p, self.p.sla.defaults
        self.ref(t.metric, self.metric_ids, f"{path}.metric", "metric")
        t.severity = self.names(t.severity, self.severities, f"{path}.severity", "level")
        t.tier = self.names(t.tier, self.tiers, f"{path}.tier", "tier")
        t.category = self.names(t.category, self.categories, f"{path}.category", "category")
        for lv in t.level or []:
            self.ref(lv, self.level_ids, f"{path}.level", "support level")
        self.calendar(t.calendar, f"{path}.calendar")
        if t.time is None:
            t.time = "calendar" if t.calendar == ALWAYS_OPEN else d.time
        if t.time == "calendar":
            if t.calendar not in (None, ALWAYS_OPEN):
                self.add(
                    f"{path}.calendar", f"calendar time counts every hour; drop {t.calendar!r} or use `time: business`"
                )
            t.calendar = None
        elif t.calendar is None and d.calendar is None and t.target is not None:
            tiers = [x for x in p.customer_tiers.tiers if t.tier is None or x.id in t.tier]
            if any(x.calendar is None and x.sla for x in tiers):
                self.add(
                    path,
                    "business time needs a calendar: set `calendar` here, on the tier, or in "
                    "sla.defaults.calendar (or use `time: calendar`)",
                )
        if "warn_before" not in explicit:
            t.warn_before = list(d.warn_before)
        if "warn_at_percent" not in explicit:
            t.warn_at_percent = list(d.warn_at_percent)
        for j, lead in enumerate(t.warn_before or []):
            if t.target is not None and lead >= t.target:
                where = (
                    f"{path}.warn_before[{j}]" if "warn_before" in explicit else f"{path} (sla.defaults.warn_before)"
                )
                self.add(where, f"a warning {lead} before a target of {t.target} would fire before the clock starts")

    def targets(self, generated: list[tuple[str, Target]]) -> None:
        self.calendar(self.p.sla.defaults.calendar, "sla.defaults.calendar")
        listed = [(f"sla.targets[{i}]", t, t.model_fields_set) for i, t in enumerate(self.p.sla.targets)]
        every = listed + [(path, t, t.model_fields_set) for path, t in generated]
        for path, t, explicit in every:
            self.target(t, path, set(explicit))
        for k, (path, t, _) in enumerate(every):
            for earlier, u, _ in every[:k]:
                if overlaps(u, t):
                    self.add(path, f"overlaps {earlier} ({t.describe()}): give one of them another selector")
                    break


def check_policy(policy: Policy, generated: list[tuple[str, Target]]) -> list[Problem]:
    """Check and normalise `policy` (and the targets generated from it); return the problems found."""
    c = _Checker(policy)
    c.scales()
    c.metrics()
    c.routing()
    c.triggers()
    c.escalation()
    c.pause()
    c.targets(generated)
    return c.problems
