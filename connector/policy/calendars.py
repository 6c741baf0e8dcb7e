"""Business calendars as the policy writes them, and when a moment falls relative to one.

    calendars:
      business:
        timezone: America/New_York
        hours:
          mon-fri: "08:00-18:00"
          sat: ["10:00-12:00", "13:00-15:00"]
        holidays: [2026-11-26]        # explicit local dates, closed all day
        holiday_country: US           # and/or a country's public holidays (the `holidays` package)
        holiday_subdivision: NY

Day keys are `mon`…`sun`, ranges (`mon-fri`) or `daily`; a day may appear once. `24:00` closes at
midnight. The arithmetic lives in `connector.calendar.BusinessCalendar`; this module only
describes a calendar and answers "was this received in business hours, after hours or on a weekend?".
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Interval = tuple[time, time]
Arrival = Literal["business_hours", "after_hours", "weekend"]
ARRIVALS: tuple[str, ...] = ("business_hours", "after_hours", "weekend")

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


_DAY_NAMES = {name: i for i, name in enumerate(_DAYS)} | {
    name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}


def _day_keys(key: str) -> list[int]:
    k = key.strip().lower()
    if k in ("daily", "every day"):
        return list(range(7))
    first, dash, last = (p.strip() for p in k.partition("-"))
    if first in _DAY_NAMES and not dash:
        return [_DAY_NAMES[first]]
    if first in _DAY_NAMES and last in _DAY_NAMES and _DAY_NAMES[first] <= _DAY_NAMES[last]:
        return list(range(_DAY_NAMES[first], _DAY_NAMES[last] + 1))
    raise ValueError(f"unknown day {key!r} (use mon…sun, a range such as mon-fri, or daily)")


def _interval(text: str) -> Interval:
    m = _INTERVAL.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"opening hours are written 'HH:MM-HH:MM', got {text!r}")
    oh, om, ch, cm = (int(g) for g in m.groups())
    if oh > 23 or om > 59 or cm > 59 or ch > 24 or (ch == 24 and cm):
        raise ValueError(f"not a time of day in {text!r}")
    opens, closes = time(oh, om), time(0, 0) if ch == 24 else time(ch, cm)
    if closes != time(0, 0) and closes <= opens:
        raise ValueError(f"{text!r} closes before it opens (hours may not cross midnight; split the day)")
    return opens, closes


def _end(t: time) -> tuple[int, int]:
    """A closing time as a sortable (hour, minute), midnight counting as 24:00."""
    return (24, 0) if t == time(0, 0) else (t.hour, t.minute)


class CalendarSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(description="IANA time zone, e.g. America/New_York.")
    hours: dict[str, str | list[str]] = Field(
        description="Day (mon…sun, mon-fri, daily) → 'HH:MM-HH:MM' or a list of them; absent days are closed."
    )
    holidays: list[date] = Field(default_factory=list, description="Local dates closed all day.")
    holiday_country: str | None = Field(default=None, description="ISO country code for public holidays.")
    holiday_subdivision: str | None = None
    description: str = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "America" (a directory), too long
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: dict[str, Any]) -> dict[str, Any]:
        seen: dict[int, str] = {}
        for key, spans in v.items():
            for day in _day_keys(key):
                if day in seen:
                    raise ValueError(f"{_DAYS[day]} is given twice ({seen[day]!r} and {key!r})")
                seen[day] = key
            intervals = sorted(_interval(s) for s in ([spans] if isinstance(spans, str) else spans))
            for (_, close), (opens, _) in pairwise(intervals):
                if _end(close) > (opens.hour, opens.minute):
                    raise ValueError(f"{key}: opening hours overlap")
        if not seen:
            raise ValueError("a calendar needs opening hours on at least one day")
        return v

    @model_validator(mode="after")
    def _country(self) -> CalendarSpec:
        if self.holiday_subdivision and not self.holiday_country:
            raise ValueError("holiday_subdivision needs holiday_country")
        if self.holiday_country:
            try:
                holidays_lib.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"no public-holiday data: {exc}") from exc
        return self

    @cached_property
    def weekly_hours(self) -> dict[int, list[Interval]]:
        """Weekday (0 = Monday) → sorted local (open, close) intervals, as BusinessCalendar takes them."""
        week: dict[int, list[Interval]] = {d: [] for d in range(7)}
        for key, spans in self.hours.items():
            for day in _day_keys(key):
                week[day] = sorted(_interval(s) for s in ([spans] if isinstance(spans, str) else spans))
        return week

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        if self.holiday_country:
            return day in _country_holidays(self.holiday_country, self.holiday_subdivision, day.year)
        return False

    def arrival(self, at: datetime) -> Arrival:
        """`business_hours` when open at `at`; `weekend` on a day with no hours or a holiday; else `after_hours`."""
        if at.tzinfo is None:
            raise ValueError("arrival() needs a timezone-aware datetime")
        local = at.astimezone(self.zone)
        spans = self.weekly_hours[local.weekday()]
        if not spans or self.is_holiday(local.date()):
            return "weekend"
        now = (local.hour, local.minute, local.second, local.microsecond)
        for opens, closes in spans:
            if (opens.hour, opens.minute, 0, 0) <= now < (*_end(closes), 0, 0):
                return "business_hours"
        return "after_hours"


@lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str | None, year: int) -> Any:
    """A country's public holidays for one year, built once (building them is the costly part)."""
    return holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
