"""Named scales: severities (ordered, most severe first) and customer tiers, each with aliases.

Names are compared after normalising: case-insensitive, spaces, hyphens and underscores ignored,
so `Sev 1`, `sev-1` and `SEV1` are one name. Keyword phrases match whole words, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

_IGNORED = re.compile(r"[\s\-_]+")
_SEPARATORS = re.compile(r"\s*[–—:()/,|]\s*|\s+-\s+")


def norm(name: str) -> str:
    return _IGNORED.sub("", name).lower()


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any phrase as whole words; inner whitespace matches any whitespace."""
    alts = sorted({r"\s+".join(map(re.escape, p.split())) for p in phrases if p.strip()}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE)


class NamedItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str = ""
    aliases: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("aliases")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        for a in v:
            if not norm(a):
                raise ValueError("an alias cannot be empty")
        return v


class SeverityLevel(NamedItem):
    pass


class SeverityHint(BaseModel):
    """Raise a ticket to `level` when its text mentions one of `keywords`."""

    model_config = ConfigDict(extra="forbid")

    level: str
    keywords: list[str] = Field(min_length=1)


class SeverityScale(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: list[SeverityLevel] = Field(min_length=1, description="Most severe first.")
    default: str | None = Field(default=None, description="The severity of a ticket nothing classified.")
    hints: list[SeverityHint] = Field(default_factory=list)


class Tier(NamedItem):
    calendar: str | None = Field(
        default=None, description="Business calendar of this tier's coverage; business-time targets use it."
    )
    sla: bool = Field(default=True, description="False: tickets of this tier run no SLA clocks (out of scope).")


class TierScale(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tiers: list[Tier] = Field(min_length=1)
    default: str


def default_tiers() -> TierScale:
    return TierScale(tiers=[Tier(id="standard", name="Standard")], default="standard")


class NameIndex:
    """Resolves ids and aliases of one scale (proved unique by validation), then display names that are
    unique within it (`Refund request` for the category `refund_request`)."""

    def __init__(self, items: Iterable[NamedItem]):
        self._by_name: dict[str, str] = {}
        display: dict[str, set[str]] = {}
        for item in items:
            for name in (item.id, *item.aliases):
                self._by_name[norm(name)] = item.id
            if norm(item.name):
                display.setdefault(norm(item.name), set()).add(item.id)
        for name, ids in display.items():
            if len(ids) == 1:
                self._by_name.setdefault(name, ids.pop())

    def get(self, value: str) -> str | None:
        """Exact (normalised) match, else the parts of e.g. `Sev 1 — Critical` when they agree."""
        found = self._by_name.get(norm(value))
        if found is not None:
            return found
        parts = {self._by_name.get(norm(p)) for p in _SEPARATORS.split(value) if norm(p)}
        parts.discard(None)
        return parts.pop() if len(parts) == 1 else None


def duplicate_names(items: Sequence[NamedItem], where: str) -> list[tuple[str, str]]:
    """(path, message) for every id or alias that names two things (or one thing twice)."""
    problems: list[tuple[str, str]] = []
    owner: dict[str, str] = {}
    for i, item in enumerate(items):
        for j, name in enumerate((item.id, *item.aliases)):
            path = f"{where}[{i}].id" if j == 0 else f"{where}[{i}].aliases[{j - 1}]"
            key = norm(name)
            if key in owner and (owner[key] != item.id or j > 0):
                message = f"{name!r} already names {owner[key]!r} (names ignore case, spaces, '-' and '_')"
                problems.append((path, message))
            else:
                owner.setdefault(key, item.id)
    return problems
