"""Worked examples for BusinessCalendar: weekends, holidays, DST changes, time zones, split hours."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from connector.calendar import BusinessCalendar

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
HOUR = 3600
WEEKDAYS = range(5)


def weekdays(opens: time, closes: time) -> dict[int, list[tuple[time, time]]]:
    return {day: [(opens, closes)] for day in WEEKDAYS}


def signx(**kwargs: object) -> BusinessCalendar:
    """The signx seed's hours: 08:00-18:00 America/New_York, Monday to Friday."""
    return BusinessCalendar(timezone="America/New_York", weekly_hours=weekdays(time(8), time(18)), **kwargs)


def la(**kwargs: object) -> BusinessCalendar:
    return BusinessCalendar(timezone="America/Los_Angeles", weekly_hours=weekdays(time(9), time(17)), **kwargs)


def berlin(**kwargs: object) -> BusinessCalendar:
    return BusinessCalendar(timezone="Europe/Berlin", weekly_hours=weekdays(time(9), time(17)), **kwargs)


def berlin_with_lunch() -> BusinessCalendar:
    hours = {day: [(time(13), time(17)), (time(9), time(12))] for day in WEEKDAYS}
    return BusinessCalendar(timezone="Europe/Berlin", weekly_hours=hours)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (calendar, start, business seconds, expected result)
ADD_EXAMPLES = {
    "friday evening rolls to monday": (signx(), datetime(2026, 1, 9, 17, 30, tzinfo=NEW_YORK), HOUR, utc(2026, 1, 12, 13, 30)),
    "inside one day": (signx(), datetime(2026, 1, 13, 9, 0, tzinfo=NEW_YORK), 2 * HOUR, utc(2026, 1, 13, 16, 0)),
    "overnight": (signx(), datetime(2026, 1, 13, 17, 0, tzinfo=NEW_YORK), 2 * HOUR, utc(2026, 1, 14, 14, 0)),
    "ends exactly at close": (signx(), datetime(2026, 1, 9, 17, 0, tzinfo=NEW_YORK), HOUR, utc(2026, 1, 9, 23, 0)),
    "zero from saturday is monday's opening": (signx(), datetime(2026, 1, 10, 12, 0, tzinfo=NEW_YORK), 0, utc(2026, 1, 12, 13, 0)),
    "zero at close is the next opening": (signx(), datetime(2026, 1, 9, 18, 0, tzinfo=NEW_YORK), 0, utc(2026, 1, 12, 13, 0)),
    "zero while open is the start": (signx(), datetime(2026, 1, 13, 10, 15, tzinfo=NEW_YORK), 0, utc(2026, 1, 13, 15, 15)),
    "start given in another zone": (signx(), datetime(2026, 1, 10, 7, 30, tzinfo=TOKYO), HOUR, utc(2026, 1, 12, 13, 30)),
    "one business week": (signx(), datetime(2026, 1, 12, 8, 0, tzinfo=NEW_YORK), 50 * HOUR, utc(2026, 1, 16, 23, 0)),
    # Thanksgiving (Thursday 2026-11-26) is closed; the Friday after is an ordinary US business day.
    "thanksgiving, explicit date": (signx(holidays=[date(2026, 11, 26)]), datetime(2026, 11, 25, 17, 0, tzinfo=NEW_YORK), 2 * HOUR, utc(2026, 11, 27, 14, 0)),
    "thanksgiving, US public holidays": (signx(holiday_country="US"), datetime(2026, 11, 25, 17, 0, tzinfo=NEW_YORK), 2 * HOUR, utc(2026, 11, 27, 14, 0)),
    "no holidays: thanksgiving is a weekday": (signx(), datetime(2026, 11, 25, 17, 0, tzinfo=NEW_YORK), 2 * HOUR, utc(2026, 11, 26, 14, 0)),
    "US holiday observed on friday 2026-07-03": (signx(holiday_country="US"), datetime(2026, 7, 2, 17, 0, tzinfo=NEW_YORK), 2 * HOUR, utc(2026, 7, 6, 13, 0)),
    # DST starts Sunday 2026-03-08: Friday is EST (UTC-5), Monday is EDT (UTC-4).
    "spring forward weekend": (signx(), datetime(2026, 3, 6, 17, 30, tzinfo=NEW_YORK), 4 * HOUR, utc(2026, 3, 9, 15, 30)),
    # DST ends Sunday 2026-11-01: Friday is EDT, Monday is EST.
    "fall back weekend": (signx(), datetime(2026, 10, 30, 17, 0, tzinfo=NEW_YORK), 2 * HOUR, utc(2026, 11, 2, 14, 0)),
    "los angeles overnight": (la(), datetime(2026, 6, 15, 16, 0, tzinfo=LOS_ANGELES), 2 * HOUR, utc(2026, 6, 16, 17, 0)),
    # California also closes the day after Thanksgiving.
    "los angeles, US-CA holidays": (la(holiday_country="US", holiday_subdivision="CA"), datetime(2026, 11, 25, 16, 0, tzinfo=LOS_ANGELES), 2 * HOUR, utc(2026, 11, 30, 18, 0)),
    "los angeles, US holidays": (la(holiday_country="US"), datetime(2026, 11, 25, 16, 0, tzinfo=LOS_ANGELES), 2 * HOUR, utc(2026, 11, 27, 18, 0)),
    # Berlin changes clocks on 2026-03-29, three weeks after New York; start given in UTC.
    "berlin over its DST weekend": (berlin(), utc(2026, 3, 27, 15, 0), 2 * HOUR, utc(2026, 3, 30, 8, 0)),
    "berlin over easter, DE holidays": (berlin(holiday_country="DE"), datetime(2026, 4, 2, 16, 0, tzinfo=BERLIN), 2 * HOUR, utc(2026, 4, 7, 8, 0)),
    "start during lunch waits for the afternoon": (berlin_with_lunch(), datetime(2026, 6, 16, 12, 15, tzinfo=BERLIN), HOUR, utc(2026, 6, 16, 12, 0)),
    "morning runs over lunch": (berlin_with_lunch(), datetime(2026, 6, 16, 11, 30, tzinfo=BERLIN), HOUR, utc(2026, 6, 16, 11, 30)),
}  # fmt: skip
add_examples = pytest.mark.parametrize(
    ("calendar", "start", "seconds", "expected"), ADD_EXAMPLES.values(), ids=ADD_EXAMPLES.keys()
)


@add_examples
def test_add(calendar: BusinessCalendar, start: datetime, seconds: float, expected: datetime) -> None:
    result = calendar.add(start, seconds)
    assert (result, result.tzinfo) == (expected, UTC)


@add_examples
def test_subtract_undoes_add(calendar: BusinessCalendar, start: datetime, seconds: float, expected: datetime) -> None:
    assert calendar.subtract(expected, seconds) == calendar.next_open(start)


@add_examples
def test_elapsed_counts_what_add_added(
    calendar: BusinessCalendar, start: datetime, seconds: float, expected: datetime
) -> None:
    assert calendar.elapsed(start, expected) == seconds


def test_subtract_from_monday_morning_reaches_friday_evening() -> None:
    assert signx().subtract(datetime(2026, 3, 9, 8, 30, tzinfo=NEW_YORK), HOUR) == utc(2026, 3, 6, 22, 30)


def test_subtract_from_a_closed_instant_counts_back_from_the_last_close() -> None:
    assert signx().subtract(datetime(2026, 1, 10, 12, 0, tzinfo=NEW_YORK), HOUR) == utc(2026, 1, 9, 22, 0)


def test_subtract_zero_is_the_end_itself() -> None:
    end = datetime(2026, 1, 10, 12, 0, tzinfo=NEW_YORK)
    assert signx().subtract(end, 0) == end


def test_elapsed_over_the_dst_weekend_is_two_ten_hour_days() -> None:
    start, end = datetime(2026, 3, 6, 8, 0, tzinfo=NEW_YORK), datetime(2026, 3, 9, 18, 0, tzinfo=NEW_YORK)
    assert signx().elapsed(start, end) == 20 * HOUR


def test_elapsed_is_zero_when_end_is_not_after_start() -> None:
    start = datetime(2026, 1, 13, 12, 0, tzinfo=NEW_YORK)
    assert (signx().elapsed(start, start), signx().elapsed(start, start - timedelta(hours=1))) == (0, 0)


def test_elapsed_skips_lunch() -> None:
    start, end = datetime(2026, 6, 16, 11, 30, tzinfo=BERLIN), datetime(2026, 6, 16, 13, 30, tzinfo=BERLIN)
    assert berlin_with_lunch().elapsed(start, end) == HOUR


def test_closed_during_lunch_and_open_after() -> None:
    calendar = berlin_with_lunch()
    lunch = datetime(2026, 6, 16, 12, 30, tzinfo=BERLIN)
    assert (calendar.is_open(lunch), calendar.next_open(lunch)) == (False, utc(2026, 6, 16, 11, 0))


def test_open_at_opening_and_closed_at_close() -> None:
    calendar = signx()
    assert (
        calendar.is_open(datetime(2026, 1, 13, 8, 0, tzinfo=NEW_YORK)),
        calendar.is_open(datetime(2026, 1, 13, 18, 0, tzinfo=NEW_YORK)),
    ) == (True, False)


def test_holiday_is_closed_all_day() -> None:
    assert not signx(holiday_country="US").is_open(datetime(2026, 11, 26, 12, 0, tzinfo=NEW_YORK))


def test_windows_are_clipped_and_skip_closed_days() -> None:
    windows = list(berlin_with_lunch().windows(utc(2026, 6, 19, 9, 30), utc(2026, 6, 22, 8, 0)))
    assert windows == [
        (utc(2026, 6, 19, 9, 30), utc(2026, 6, 19, 10, 0)),  # Friday 09:00-12:00 CEST, start clipped
        (utc(2026, 6, 19, 11, 0), utc(2026, 6, 19, 15, 0)),  # Friday 13:00-17:00 CEST
        (utc(2026, 6, 22, 7, 0), utc(2026, 6, 22, 8, 0)),  # Monday 09:00-12:00 CEST, end clipped
    ]


def test_windows_join_across_midnight() -> None:
    calendar = BusinessCalendar(timezone="UTC", weekly_hours={0: [(time(20), time(0))], 1: [(time(0), time(4))]})
    assert list(calendar.windows(utc(2026, 1, 12), utc(2026, 1, 14))) == [(utc(2026, 1, 12, 20), utc(2026, 1, 13, 4))]


def test_close_at_midnight_means_end_of_day() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", weekly_hours={4: [(time(22), time(0))]})
    start = datetime(2026, 1, 9, 22, 0, tzinfo=NEW_YORK)
    assert calendar.elapsed(start, start + timedelta(days=1)) == 2 * HOUR


def test_a_whole_sunday_is_23_hours_when_clocks_spring_forward() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", weekly_hours={6: [(time(0), time(0))]})
    assert calendar.elapsed(utc(2026, 3, 7), utc(2026, 3, 10)) == 23 * HOUR


def test_a_whole_sunday_is_25_hours_when_clocks_fall_back() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", weekly_hours={6: [(time(0), time(0))]})
    assert calendar.elapsed(utc(2026, 10, 31), utc(2026, 11, 3)) == 25 * HOUR


def test_nonexistent_opening_time_reads_with_the_offset_before_the_change() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; fold=0 reads it as 02:30 EST = 03:30 EDT.
    calendar = BusinessCalendar(timezone="America/New_York", weekly_hours={6: [(time(2, 30), time(4))]})
    assert list(calendar.windows(utc(2026, 3, 8), utc(2026, 3, 9))) == [(utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8))]


def test_ambiguous_opening_time_is_its_first_occurrence() -> None:
    # 01:30 happens twice on 2026-11-01 in New York; fold=0 takes the first (EDT), so 01:30-03:00 is 2.5 h.
    calendar = BusinessCalendar(timezone="America/New_York", weekly_hours={6: [(time(1, 30), time(3))]})
    assert list(calendar.windows(utc(2026, 11, 1), utc(2026, 11, 2))) == [
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 8))
    ]


@pytest.mark.parametrize("timezone", ["UTC", "America/New_York", "Europe/Berlin"])
@pytest.mark.parametrize("seconds", [0, 1.5, 59 * 60, 26 * HOUR, 9 * 24 * HOUR + 17])
def test_always_open_is_plain_timedelta_addition(timezone: str, seconds: float) -> None:
    # The night before New York springs forward. Aware arithmetic in one zone is wall-clock arithmetic
    # in Python, so the comparison is done in UTC, where it is elapsed time.
    start = datetime(2026, 3, 7, 22, 45, 10, tzinfo=NEW_YORK)
    calendar = BusinessCalendar.always_open(timezone)
    assert calendar.add(start, seconds) == start.astimezone(UTC) + timedelta(seconds=seconds)


def test_always_open_elapsed_is_calendar_time_across_fall_back() -> None:
    start, end = utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)
    assert BusinessCalendar.always_open("America/New_York").elapsed(start, end) == (end - start).total_seconds()


def test_long_spans_jump_by_days_not_minutes() -> None:
    calendar, start = BusinessCalendar.always_open("Europe/Berlin"), utc(2026, 1, 1)
    seconds = 10 * 365 * 24 * HOUR  # ten years: millions of minute steps, a few thousand day steps
    began = clock.perf_counter()
    result = calendar.add(start, seconds)
    assert (result, clock.perf_counter() - began < 1.0) == (start + timedelta(seconds=seconds), True)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.is_open(datetime(2026, 1, 13, 9)),
        lambda c: c.next_open(datetime(2026, 1, 13, 9)),
        lambda c: c.add(datetime(2026, 1, 13, 9), 60),
        lambda c: c.subtract(datetime(2026, 1, 13, 9), 60),
        lambda c: c.elapsed(datetime(2026, 1, 13, 9), utc(2026, 1, 14)),
        lambda c: list(c.windows(utc(2026, 1, 13), datetime(2026, 1, 14))),
    ],
    ids=["is_open", "next_open", "add", "subtract", "elapsed", "windows"],
)
def test_naive_datetimes_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="timezone-aware"):
        call(signx())


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_seconds_must_be_finite_and_not_negative(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        signx().add(utc(2026, 1, 13), seconds)


INVALID_CALENDARS = {
    "no hours": ({"timezone": "UTC", "weekly_hours": {}}, "no open hours"),
    "only empty days": ({"timezone": "UTC", "weekly_hours": {0: [], 6: []}}, "no open hours"),
    "open after close": ({"timezone": "UTC", "weekly_hours": {0: [(time(17), time(9))]}}, r"weekly_hours\[0\]\[0\]"),
    "open equals close": ({"timezone": "UTC", "weekly_hours": {2: [(time(9), time(9))]}}, r"weekly_hours\[2\]\[0\]"),
    "overlap": ({"timezone": "UTC", "weekly_hours": {1: [(time(9), time(13)), (time(12), time(17))]}}, "overlaps"),
    "weekday out of range": ({"timezone": "UTC", "weekly_hours": {7: [(time(9), time(17))]}}, "weekday"),
    "unknown time zone": ({"timezone": "Mars/Olympus_Mons", "weekly_hours": weekdays(time(9), time(17))}, "timezone"),
    "unknown country": ({"timezone": "UTC", "weekly_hours": weekdays(time(9), time(17)), "holiday_country": "XX"}, "holiday_country"),
    "unknown subdivision": ({"timezone": "UTC", "weekly_hours": weekdays(time(9), time(17)), "holiday_country": "US", "holiday_subdivision": "ZZ"}, "holiday_country"),
    "subdivision alone": ({"timezone": "UTC", "weekly_hours": weekdays(time(9), time(17)), "holiday_subdivision": "CA"}, "holiday_subdivision"),
}  # fmt: skip


@pytest.mark.parametrize(("kwargs", "message"), INVALID_CALENDARS.values(), ids=INVALID_CALENDARS.keys())
def test_invalid_calendars_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]


def test_touching_intervals_are_allowed() -> None:
    calendar = BusinessCalendar(timezone="UTC", weekly_hours={0: [(time(9), time(12)), (time(12), time(17))]})
    assert calendar.elapsed(utc(2026, 1, 12), utc(2026, 1, 13)) == 8 * HOUR


def test_a_calendar_closed_for_over_ten_years_is_refused_when_used() -> None:
    mondays = [date(2026, 1, 5) + timedelta(weeks=n) for n in range(600)]
    calendar = BusinessCalendar(timezone="UTC", weekly_hours={0: [(time(9), time(17))]}, holidays=mondays)
    with pytest.raises(ValueError, match="no business hours"):
        calendar.add(utc(2026, 1, 1), 60)
