"""Warnings about a policy that loads but makes a promise upside down: a more severe ticket held to
a looser target — or to none — where a less severe one has a target. Such a policy is valid (a
preset may mean it), so these are warnings, shown by `connector policy validate` and by
`PUT /api/policy`, not errors; the shipped presets have none.

Every combination of the selector values the targets use is tried (each selector also unknown), so
a gap that only one tier or category has is found too. The promises compared are target durations;
a business-time target and a calendar-time one are compared by their counted length.
"""

from __future__ import annotations

from itertools import product
from typing import TYPE_CHECKING

from connector.policy.durations import format_duration
from connector.policy.targets import Target

if TYPE_CHECKING:
    from connector.policy.schema import Policy


def severity_gaps(policy: Policy) -> list[str]:
    found: dict[tuple[str, str, str, str], str] = {}
    levels = [lv.id for lv in policy.severity.levels]
    for context in _contexts(policy):
        for metric in (m.id for m in policy.metrics):
            chosen = [_target(policy, metric, level, context) for level in levels]
            for i, stricter in enumerate(chosen):
                for j in range(i + 1, len(levels)):
                    looser = chosen[j]
                    if looser is None or looser.target is None:
                        continue
                    if stricter is not None and stricter.target is not None and stricter.target <= looser.target:
                        continue
                    what = (
                        "no target"
                        if stricter is None or stricter.target is None
                        else (f"a looser target ({format_duration(stricter.target)})")
                    )
                    key = (metric, levels[i], levels[j], what)
                    if key not in found:
                        where = ", ".join(f"{k} {v}" for k, v in context.items() if v is not None) or "any ticket"
                        found[key] = (
                            f"{metric}: severity {levels[i]} has {what} where the less severe {levels[j]} "
                            f"has {format_duration(looser.target)} ({where})"
                        )
                    break  # one report per more-severe level and context: the nearest looser level
    return list(found.values())


def _target(policy: Policy, metric: str, severity: str, context: dict[str, str | None]) -> Target | None:
    found = policy.targets_for(
        metric,
        severity=severity,
        tier=context["tier"],
        category=context["category"],
        channel=context["channel"],
        received=context["received"],
        level=context["level"],
    )
    return found[0] if found else None


def _contexts(policy: Policy) -> list[dict[str, str | None]]:
    used: dict[str, set[str]] = {"category": set(), "channel": set(), "received": set(), "level": set()}
    for t in policy.all_targets:
        for name, values in t.selectors().items():
            if name in used:
                used[name].update(values)
    tiers: list[str | None] = [t.id for t in policy.customer_tiers.tiers]
    axes: list[list[str | None]] = [tiers] + [[None, *sorted(used[name])] for name in used]
    return [dict(zip(("tier", *used), combo, strict=True)) for combo in product(*axes)]
