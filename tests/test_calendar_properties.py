"""Properties of BusinessCalendar over random calendars, checked against a slow minute-by-minute reference.

Calendars are drawn in zones with DST changes in both directions, with hours on a 5-minute grid biased
towards the hours in which clocks change, and holidays near the instants, which cluster around the
zone's 2026 clock changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connector.calendar import BusinessCalendar

# Each zone's 2026 clock changes (local dates), or any date for zones without DST. Santiago changes at
# midnight (24:00 -> 23:00 on 4 April, 00:00 -> 01:00 on 6 September); Lord Howe by 30 minutes.
CHANGES = {
    "UTC": [date(2026, 12, 31)],
    "Asia/Kolkata": [date(2026, 6, 30)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "America/Los_Angeles": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],
    "America/Santiago": [date(2026, 4, 4), date(2026, 9, 6)],
}
# Opening and closing times (in 5-minute steps) where clock changes happen: 00:00-03:30, 23:00-24:00.
CHANGE_STEPS = [0, 6, 12, 18, 24, 30, 36, 42, 276, 282, 288]
MINUTE = timedelta(minutes=1)
SPAN = timedelta(days=10)  # how far the reference looks around an instant
EXAMPLES = settings(max_examples=200, deadline=None)


@dataclass(frozen=True)
class Case:
    timezone: str
    hours: dict[int, list[tuple[time, time]]]
    holidays: frozenset[date]

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(timezone=self.timezone, weekly_hours=self.hours, holidays=self.holidays)


def _time(step: int) -> time:
    minutes = step * 5 % (24 * 60)  # step 288 is 24:00, written as time(0, 0)
    return time(minutes // 60, minutes % 60)


@st.composite
def day_hours(draw: st.DrawFn) -> list[tuple[time, time]]:
    steps = st.one_of(st.integers(0, 288), st.sampled_from(CHANGE_STEPS))
    bounds = sorted(draw(st.lists(steps, unique=True, max_size=6)))
    if len(bounds) % 2:
        bounds.pop()
    return [(_time(a), _time(b)) for a, b in zip(bounds[::2], bounds[1::2], strict=True)]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Case, datetime]:
    """A calendar and a minute-aligned UTC instant, usually within hours of a clock change and of holidays."""
    timezone = draw(st.sampled_from(sorted(CHANGES)))
    hours = {day: intervals for day in range(7) if (intervals := draw(day_hours()))}
    if not hours:
        hours[draw(st.integers(0, 6))] = [(time(9), time(17))]
    anchor = draw(st.sampled_from(CHANGES[timezone]))
    holidays = draw(st.frozensets(st.integers(-6, 6).map(lambda n: anchor + timedelta(days=n)), max_size=2))
    if draw(st.booleans()):
        midnight = datetime.combine(anchor, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)
        at = midnight + draw(st.integers(-36 * 60, 60 * 60)) * MINUTE
    else:
        at = datetime(2026, 1, 1, tzinfo=UTC) + draw(st.integers(0, 364 * 24 * 60)) * MINUTE
    return Case(timezone, hours, holidays), at


class Reference:
    """The open minutes in [around - SPAN, around + SPAN), found one minute at a time."""

    def __init__(self, case: Case, around: datetime) -> None:
        self.origin = around - SPAN
        zone = ZoneInfo(case.timezone)
        open_minutes: set[int] = set()
        day = self.origin.date() - timedelta(days=2)
        while day <= (around + SPAN).date() + timedelta(days=2):
            if day not in case.holidays:
                for opens, closes in case.hours.get(day.weekday(), []):
                    close_day = day + timedelta(days=1) if closes == time(0) else day
                    start = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
                    end = datetime.combine(close_day, closes, tzinfo=zone).astimezone(UTC)
                    open_minutes.update(range(self.index(start), self.index(end)))
            day += timedelta(days=1)
        self.open = [i in open_minutes for i in range(self.index(around + SPAN))]

    def index(self, at: datetime) -> int:
        return (at - self.origin) // MINUTE

    def at(self, index: int) -> datetime:
        return self.origin + index * MINUTE

    def is_open(self, at: datetime) -> bool:
        return self.open[self.index(at)]

    def elapsed_minutes(self, start: datetime, end: datetime) -> int:
        return sum(self.open[self.index(start) : self.index(end)])

    def closes(self, start: datetime, end: datetime) -> list[datetime]:
        """Every instant in (start, end] where an open minute is followed by a closed one."""
        indices = range(self.index(start) + 1, min(self.index(end), len(self.open) - 1) + 1)
        return [self.at(i) for i in indices if self.open[i - 1] and not self.open[i]]

    def add_minutes(self, start: datetime, minutes: int) -> datetime | None:
        """End of the `minutes`-th open minute from start (for 0, the first open minute's start)."""
        i = self.index(start)
        while i < len(self.open) and not self.open[i]:
            i += 1
        for _ in range(minutes):
            while i < len(self.open) and not self.open[i]:
                i += 1
            i += 1
        return self.at(i) if i <= len(self.open) and (minutes or i < len(self.open)) else None

    def subtract_minutes(self, end: datetime, minutes: int) -> datetime | None:
        """Start of the `minutes`-th open minute counting back from end (for 0, end itself)."""
        i = self.index(end)
        for _ in range(minutes):
            i -= 1
            while i >= 0 and not self.open[i]:
                i -= 1
        return self.at(i) if i >= 0 else None


# -- agreement with the minute-by-minute reference ------------------------------------------------

Scenario = tuple[Case, datetime]


@EXAMPLES
@given(scenarios(), st.integers(0, 3 * 24 * 60))
def test_elapsed_matches_reference(scenario: Scenario, minutes: int) -> None:
    case, start = scenario
    end = start + minutes * MINUTE
    assert case.calendar().elapsed(start, end) == 60 * Reference(case, start).elapsed_minutes(start, end)


@EXAMPLES
@given(scenarios(), st.integers(0, 24 * 60), st.booleans())
def test_add_matches_reference(scenario: Scenario, minutes: int, to_a_close: bool) -> None:
    case, start = scenario
    reference = Reference(case, start)
    if to_a_close:  # exactly the business time up to some close, where "earliest" matters
        closes = reference.closes(start, start + SPAN)
        assume(closes)
        minutes = reference.elapsed_minutes(start, closes[minutes % len(closes)])
    else:
        minutes %= reference.elapsed_minutes(start, start + SPAN) + 1  # stay within the reference's reach
    expected = reference.add_minutes(start, minutes)
    assume(expected is not None)  # no opening at all within the reference's reach
    assert case.calendar().add(start, 60 * minutes) == expected


@EXAMPLES
@given(scenarios(), st.integers(0, 24 * 60))
def test_subtract_matches_reference(scenario: Scenario, minutes: int) -> None:
    case, end = scenario
    reference = Reference(case, end)
    minutes %= reference.elapsed_minutes(end - SPAN, end) + 1
    assert case.calendar().subtract(end, 60 * minutes) == reference.subtract_minutes(end, minutes)


@EXAMPLES
@given(scenarios())
def test_is_open_matches_reference(scenario: Scenario) -> None:
    case, at = scenario
    assert case.calendar().is_open(at) == Reference(case, at).is_open(at)


@EXAMPLES
@given(scenarios())
def test_next_open_matches_reference(scenario: Scenario) -> None:
    case, at = scenario
    expected = Reference(case, at).add_minutes(at, 0)
    assume(expected is not None)  # no opening at all within the reference's reach
    assert case.calendar().next_open(at) == expected


# -- algebraic properties, with sub-second durations and instants ---------------------------------

durations = st.floats(0, 14 * 24 * 3600, allow_nan=False)
offsets = st.integers(0, 59_999_999)  # microseconds added to a minute-aligned instant
MICROSECOND = timedelta(microseconds=1)


@EXAMPLES
@given(scenarios(), offsets, durations)
def test_subtract_undoes_add(scenario: Scenario, offset: int, duration: float) -> None:
    case, start = scenario
    calendar, start = case.calendar(), start + offset * MICROSECOND
    assert calendar.subtract(calendar.add(start, duration), duration) == calendar.next_open(start)


@EXAMPLES
@given(scenarios(), offsets, durations.filter(lambda s: s > 0))
def test_add_lands_inside_hours_or_at_a_close(scenario: Scenario, offset: int, duration: float) -> None:
    case, start = scenario
    calendar = case.calendar()
    due = calendar.add(start + offset * MICROSECOND, duration)
    assert calendar.is_open(due) or calendar.is_open(due - MICROSECOND)


@EXAMPLES
@given(scenarios(), offsets, durations)
def test_elapsed_counts_what_add_added(scenario: Scenario, offset: int, duration: float) -> None:
    case, start = scenario
    calendar, start = case.calendar(), start + offset * MICROSECOND
    assert abs(calendar.elapsed(start, calendar.add(start, duration)) - duration) <= 1e-6


@EXAMPLES
@given(scenarios(), st.integers(0, 5 * 24 * 3600 * 10**6), st.integers(0, 5 * 24 * 3600 * 10**6))
def test_elapsed_is_additive_over_a_split_point(scenario: Scenario, first: int, second: int) -> None:
    case, start = scenario
    calendar = case.calendar()
    middle, end = start + first * MICROSECOND, start + (first + second) * MICROSECOND
    whole = calendar.elapsed(start, end)
    assert abs(whole - calendar.elapsed(start, middle) - calendar.elapsed(middle, end)) <= 1e-6


@EXAMPLES
@given(scenarios(), offsets, st.integers(0, 3 * 24 * 3600 * 10**6))
def test_windows_are_disjoint_ordered_and_sum_to_elapsed(scenario: Scenario, offset: int, length: int) -> None:
    case, start = scenario
    calendar = case.calendar()
    start = start + offset * MICROSECOND
    end = start + length * MICROSECOND
    windows = list(calendar.windows(start, end))
    bounds = [t for window in windows for t in window]
    total = sum((b - a for a, b in windows), timedelta()).total_seconds()
    assert (bounds == sorted(bounds), len(set(bounds)) == len(bounds)) == (True, True)
    assert abs(total - calendar.elapsed(start, end)) <= 1e-6


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
    seconds=st.floats(min_value=0, max_value=90 * 86400, allow_nan=False),
)
def test_the_always_open_shortcut_answers_as_the_day_by_day_walk(zone: str, start: datetime, seconds: float) -> None:
    """A 24x7 calendar without holidays skips the walk over days: every query answers the same."""
    fast = BusinessCalendar.always_open(zone)
    walk = BusinessCalendar.always_open(zone)
    walk._always_open = False  # the general path
    end = start + timedelta(seconds=seconds)
    assert fast.add(start, seconds) == walk.add(start, seconds)
    assert fast.subtract(end, seconds) == walk.subtract(end, seconds)
    assert fast.elapsed(start, end) == walk.elapsed(start, end)
    assert fast.elapsed(end, start) == walk.elapsed(end, start) == 0
    assert list(fast.windows(start, end)) == list(walk.windows(start, end))
    assert fast.is_open(start) and walk.is_open(start)
    assert fast.next_open(start) == walk.next_open(start)
