"""Business-time arithmetic over weekly opening hours, holidays and an IANA time zone.

Semantics, in one place:

* A calendar is open during its *windows*. Each local date that is not a holiday contributes one
  window per (open, close) interval of its weekday; both ends are local wall-clock times on that
  date, converted to UTC for that date (``close == time(0, 0)`` means 24:00, the next midnight).
  Business time is real elapsed time inside the windows, so a 09:00-17:00 day is 8 hours on the
  day clocks change as on any other day, while a 00:00-24:00 day on that date is 23 or 25 hours.
* Wall-clock times that DST makes ambiguous or nonexistent are resolved as :mod:`zoneinfo` does
  with ``fold=0``: an ambiguous time (fall back) is its first occurrence; a nonexistent time
  (spring forward) is read with the offset in force before the change, so 02:30 on 2026-03-08 in
  America/New_York is 07:30Z, i.e. 03:30 EDT. An interval whose converted close is not after its
  converted open (both ends inside the gap, or reversed by it) contributes nothing that day.
* The open set is the union of all windows; overlaps (possible only around DST gaps) count once.
  Windows are half-open: open at their start, closed at their end.
* ``add(start, s)`` is the earliest instant ``y`` with ``elapsed(next_open(start), y) == s``;
  when the count runs out exactly at a close, the close is returned. ``subtract(end, s)`` is the
  latest instant ``x`` with ``elapsed(x, end) == s``, so ``subtract(add(t, s), s) == next_open(t)``.

Every instant taken must be timezone-aware (naive ones raise ValueError); every instant returned
is an aware UTC datetime. Durations are rounded to whole microseconds, as :class:`timedelta` does.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

Window = tuple[datetime, datetime]

_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MIDNIGHT = time(0, 0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every window of local date d lies within [d 00:00 - 1 day, d+1 00:00 + 1 day] read as UTC:
# UTC offsets stay well inside +-24 h, and fold=0 moves a time by at most one gap.
_MARGIN = timedelta(days=1)
# A calendar with hours but no window for this many consecutive days is treated as broken.
_MAX_CLOSED_DAYS = 3660


_LONG = timedelta(days=3650)  # an always-open calendar's windows, as long as any target needs


def _utc(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {at.isoformat()}")
    return at.astimezone(UTC)


def _duration(seconds: float) -> timedelta:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    return timedelta(seconds=seconds)


def _minutes(t: time) -> float:
    return t.hour * 60 + t.minute + (t.second + t.microsecond / 1e6) / 60


def _checked_hours(
    weekly_hours: Mapping[int, Sequence[tuple[time, time]]],
) -> dict[int, tuple[tuple[time, time], ...]]:
    checked: dict[int, tuple[tuple[time, time], ...]] = {}
    for weekday, intervals in weekly_hours.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"weekly_hours: weekday must be an int 0 (Mon) .. 6 (Sun), got {weekday!r}")
        spans: list[tuple[float, float, time, time]] = []
        for i, interval in enumerate(intervals):
            where = f"weekly_hours[{weekday}][{i}]"
            if len(interval) != 2 or not all(isinstance(t, time) for t in interval):
                raise ValueError(f"{where}: expected an (open, close) pair of datetime.time, got {interval!r}")
            opens, closes = interval
            if opens.tzinfo is not None or closes.tzinfo is not None:
                raise ValueError(f"{where}: times are local wall-clock times and must be naive")
            start, end = _minutes(opens), (_minutes(closes) or 24 * 60)
            if start >= end:
                raise ValueError(f"{where}: open {opens.isoformat()} is not before close {closes.isoformat()}")
            spans.append((start, end, opens, closes))
        spans.sort()
        for (_, prev_end, _, prev_close), (start, _, opens, _) in pairwise(spans):
            if start < prev_end:
                raise ValueError(
                    f"weekly_hours[{weekday}]: interval opening {opens.isoformat()} overlaps one "
                    f"closing {prev_close.isoformat()}"
                )
        if spans:
            checked[weekday] = tuple((opens, closes) for _, _, opens, closes in spans)
    if not checked:
        raise ValueError("weekly_hours: the calendar has no open hours at all")
    return checked


class BusinessCalendar:
    """Opening hours in one time zone, minus holidays; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        timezone: str,
        weekly_hours: Mapping[int, Sequence[tuple[time, time]]],
        holidays: Iterable[date] = (),
        holiday_country: str | None = None,
        holiday_subdivision: str | None = None,
        name: str = "",
    ) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown IANA time zone {timezone!r}") from exc
        self.timezone = timezone
        self.name = name
        self._hours = _checked_hours(weekly_hours)
        explicit = set()
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"holidays: expected datetime.date values, got {day!r}")
            explicit.add(day)
        self._explicit_holidays = frozenset(explicit)
        if holiday_subdivision is not None and holiday_country is None:
            raise ValueError("holiday_subdivision needs holiday_country")
        self._holiday_country = holiday_country
        self._holiday_subdivision = holiday_subdivision
        self._country_holidays: dict[int, frozenset[date]] = {}
        if holiday_country is not None:
            try:
                holidays_lib.country_holidays(holiday_country, subdiv=holiday_subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"holiday_country/holiday_subdivision: {exc}") from exc
        self._day_windows = lru_cache(maxsize=4096)(self._compute_day_windows)
        #: open around the clock, every day, no holidays: business time is calendar time, and the
        #: window arithmetic needs no day-by-day walk (most calendar-time SLA targets use such a one)
        self._always_open = (
            all(self._hours.get(day) == ((_MIDNIGHT, _MIDNIGHT),) for day in range(7))
            and not self._explicit_holidays
            and holiday_country is None
        )

    @classmethod
    def always_open(cls, timezone: str = "UTC") -> BusinessCalendar:
        """A 24x7 calendar: business time equals calendar time."""
        return cls(
            timezone=timezone,
            weekly_hours={day: [(_MIDNIGHT, _MIDNIGHT)] for day in range(7)},
            name="24x7",
        )

    def __repr__(self) -> str:
        return f"BusinessCalendar(name={self.name!r}, timezone={self.timezone!r})"

    # -- queries --------------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        at = _utc(at, "at")
        return self._first_window(at)[0] == at

    def next_open(self, at: datetime) -> datetime:
        """`at` itself (in UTC) if open, else the next opening."""
        return self._first_window(_utc(at, "at"))[0]

    def add(self, start: datetime, seconds: float) -> datetime:
        """`seconds` of business time after `start`; a start outside hours starts at the next opening."""
        remaining = _duration(seconds)
        for opens, closes in self._forward(_utc(start, "start")):
            span = closes - opens
            if remaining <= span:
                return opens + remaining
            remaining -= span
        raise AssertionError("unreachable: _forward is unbounded")

    def subtract(self, end: datetime, seconds: float) -> datetime:
        """The latest instant with `seconds` of business time between it and `end`."""
        remaining = _duration(seconds)
        end = _utc(end, "end")
        if not remaining:
            return end
        for opens, closes in self._backward(end):
            span = closes - opens
            if remaining <= span:
                return closes - remaining
            remaining -= span
        raise AssertionError("unreachable: _backward is unbounded")

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Business seconds in [start, end); 0 if end <= start."""
        total = _ZERO
        for opens, closes in self._clipped(_utc(start, "start"), _utc(end, "end")):
            total += closes - opens
        return total.total_seconds()

    def windows(self, start: datetime, end: datetime) -> Iterator[Window]:
        """The open intervals within [start, end), clipped to it; touching windows are joined."""
        pending: Window | None = None
        for opens, closes in self._clipped(_utc(start, "start"), _utc(end, "end")):
            if pending is not None and pending[1] == opens:
                pending = (pending[0], closes)
                continue
            if pending is not None:
                yield pending
            pending = (opens, closes)
        if pending is not None:
            yield pending

    # -- windows --------------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        """Whether the local date `day` is closed all day (explicit date or the country's holiday)."""
        if day in self._explicit_holidays:
            return True
        if self._holiday_country is None:
            return False
        year = self._country_holidays.get(day.year)
        if year is None:
            year = frozenset(
                holidays_lib.country_holidays(self._holiday_country, subdiv=self._holiday_subdivision, years=day.year)
            )
            self._country_holidays[day.year] = year
        return day in year

    def _compute_day_windows(self, day: date) -> tuple[Window, ...]:
        intervals = self._hours.get(day.weekday(), ())
        if not intervals or self.is_holiday(day):
            return ()
        result: list[Window] = []
        for opens, closes in intervals:
            close_day = day + _DAY if closes == _MIDNIGHT else day
            start = datetime.combine(day, opens, tzinfo=self._zone).astimezone(UTC)
            end = datetime.combine(close_day, closes, tzinfo=self._zone).astimezone(UTC)
            if end > start:
                result.append((start, end))
        result.sort()
        return tuple(result)

    def _lowest_start(self, day: date) -> datetime:
        return datetime.combine(day, _MIDNIGHT, tzinfo=UTC) - _MARGIN

    def _highest_end(self, day: date) -> datetime:
        return datetime.combine(day + _DAY, _MIDNIGHT, tzinfo=UTC) + _MARGIN

    def _load(self, day: date, closed_days: int, at: datetime) -> tuple[tuple[Window, ...], int]:
        windows = self._day_windows(day)
        closed_days = 0 if windows else closed_days + 1
        if closed_days > _MAX_CLOSED_DAYS:
            raise ValueError(f"{self!r} has no business hours within {_MAX_CLOSED_DAYS} days of {at}")
        return windows, closed_days

    def _forward(self, at: datetime) -> Iterator[Window]:
        """Disjoint windows in time order, clipped to start at `at` or later; never ends.

        Days are loaded into a heap until no unloaded day can hold a window starting before the
        earliest loaded one; windows that overlap what was already yielded are trimmed.
        """
        if self._always_open:  # one long window after another: the same answers without the walk
            while True:
                yield at, at + _LONG
                at += _LONG
        day = at.date() - 2 * _DAY  # one spare day before the first whose windows can reach `at`
        heap: list[Window] = []
        cursor = at
        closed_days = 0
        while True:
            while not heap or self._lowest_start(day) < heap[0][0]:
                loaded, closed_days = self._load(day, closed_days, at)
                for window in loaded:
                    heapq.heappush(heap, window)
                day += _DAY
            opens, closes = heapq.heappop(heap)
            opens = max(opens, cursor)
            if closes > opens:
                yield opens, closes
                cursor = closes

    def _backward(self, at: datetime) -> Iterator[Window]:
        """Disjoint windows in reverse time order, clipped to end at `at` or earlier; never ends."""
        if self._always_open:
            while True:
                yield at - _LONG, at
                at -= _LONG
        day = at.date() + 2 * _DAY  # one spare day after the last whose windows can reach before `at`
        heap: list[tuple[timedelta, datetime, datetime]] = []  # keyed on -close: latest close first
        cursor = at
        closed_days = 0
        while True:
            while not heap or self._highest_end(day) > heap[0][2]:
                loaded, closed_days = self._load(day, closed_days, at)
                for opens, closes in loaded:
                    heapq.heappush(heap, (_EPOCH - closes, opens, closes))
                day -= _DAY
            _, opens, closes = heapq.heappop(heap)
            closes = min(closes, cursor)
            if closes > opens:
                yield opens, closes
                cursor = opens

    def _first_window(self, at: datetime) -> Window:
        return next(self._forward(at))

    def _clipped(self, start: datetime, end: datetime) -> Iterator[Window]:
        if end <= start:
            return
        for opens, closes in self._forward(start):
            if opens >= end:
                return
            yield opens, min(closes, end)
