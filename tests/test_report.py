"""The SLA report over tickets built through the real pipeline: signed Zendesk deliveries, the worker,
then the live clocks refreshed at a chosen instant."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector.demo import payloads as p
from connector.errors import ConnectorError
from connector.sla.live import refresh
from connector.sla.report import build_report, parse_range, percentile, render_text, report_csv
from connector.store.tables import Ticket
from tests.conftest import drain, make_queue, make_settings
from tests.helpers import post

T0 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # a Friday, two business hours before 17:00 UTC closes
AS_OF = T0 + timedelta(hours=12)
SINCE, UNTIL = datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)

POLICY = """\
name: report-test
severity:
  levels:
    - {id: P0, name: Urgent}
    - {id: P1, name: High}
    - {id: P2, name: Normal}
    - {id: P3, name: Low}
  default: P2
customer_tiers:
  tiers:
    - {id: enterprise, name: Enterprise}
    - {id: starter, name: Starter}
  default: starter
calendars:
  business:
    timezone: UTC
    hours: {mon-fri: "09:00-17:00"}
metrics: [first_response, resolution]
sla:
  defaults: {time: business, calendar: business}
  pause:
    first_response: []
    "*": [waiting_on_customer]
  targets:
    - {metric: first_response, severity: P0, target: 1h, time: calendar}
    - {metric: first_response, tier: enterprise, target: 2h}
    - {metric: first_response, tier: starter, target: 8h}
    - {metric: resolution, tier: enterprise, target: 8h, time: calendar}
    - {metric: resolution, tier: starter, target: 3d, time: calendar}
"""


def _event(
    zd_id: int,
    name: str,
    minutes: float,
    *,
    tier: str,
    status: str = "OPEN",
    priority: str = "NORMAL",
    event: dict[str, Any] | None = None,
    created: datetime = T0,
    channel: str = "email",
) -> dict[str, Any]:
    at = created + timedelta(minutes=minutes)
    detail = p.zendesk_ticket(
        ticket_id=zd_id,
        subject=f"Ticket {zd_id}",
        description="Exports fail.",
        status=status,
        priority=priority,
        requester_id="9001",
        organization_id="77",
        tags=[f"tier_{tier}"],
        created=created,
        updated=at,
        channel=channel,
    )
    return p.zendesk_event(name, detail, event or {}, at)


def _reply(zd_id: int, minutes: float, **kw: Any) -> dict[str, Any]:
    comment = {
        "comment": {
            "id": f"{zd_id}{int(minutes)}",
            "body": "Looking into it.",
            "is_public": True,
            "author": {"id": "55", "is_staff": True, "name": "Ana"},
        }
    }
    return _event(zd_id, "comment_added", minutes, event=comment, **kw)


def _status(zd_id: int, minutes: float, status: str, previous: str, **kw: Any) -> dict[str, Any]:
    return _event(
        zd_id, "status_changed", minutes, status=status, event={"current": status, "previous": previous}, **kw
    )


# What each ticket does (times after T0; enterprise: first response 2h business, resolution 8h calendar;
# starter: 8h business / 3d calendar; P0: first response 1h calendar):
#   701 enterprise P2: reply +30m, solved +5h                      → both met
#   702 enterprise P2: reply +2h30m, solved +10h                   → both breached, then met late
#   703 starter P2, chat: reply +3h (18:00, after hours)            → met; resolution still running
#   704 enterprise P2: reply +10m, pending +1h..+1h30m, unresolved → resolution breached at +8h30m
#   705 starter P2 → P0 at +10m, no reply                          → first response breached at +1h
#   699 starter P2, created three days earlier                     → outside the range
SCRIPT: list[dict[str, Any]] = [
    _event(701, "created", 0, tier="enterprise", status="NEW"),
    _reply(701, 30, tier="enterprise"),
    _status(701, 300, "SOLVED", "OPEN", tier="enterprise"),
    _event(702, "created", 0, tier="enterprise", status="NEW"),
    _reply(702, 150, tier="enterprise"),
    _status(702, 600, "SOLVED", "OPEN", tier="enterprise"),
    _event(703, "created", 0, tier="starter", status="NEW", channel="chat"),
    _reply(703, 180, tier="starter", channel="chat"),
    _event(704, "created", 0, tier="enterprise", status="NEW"),
    _reply(704, 10, tier="enterprise"),
    _status(704, 60, "PENDING", "OPEN", tier="enterprise"),
    _status(704, 90, "OPEN", "PENDING", tier="enterprise"),
    _event(705, "created", 0, tier="starter", status="NEW"),
    _event(
        705,
        "priority_changed",
        10,
        tier="starter",
        status="NEW",
        priority="URGENT",
        event={"current": "URGENT", "previous": "NORMAL"},
    ),
    _event(699, "created", 0, tier="starter", status="NEW", created=T0 - timedelta(days=3)),
]


@pytest.fixture
def loaded(rt, database, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The script through signed webhooks and the worker, then every ticket's clocks refreshed at AS_OF."""
    from connector.runtime import install
    from connector.wiring import build_runtime
    from webhooks.app import create_app

    policy_file = tmp_path / "report-test.yaml"
    policy_file.write_text(POLICY, encoding="utf-8")
    settings = make_settings(database, CONNECTOR_POLICY=str(policy_file))
    runtime = build_runtime(settings, db=database, queue=make_queue(settings))
    install(runtime)
    client = create_app(runtime, start_worker=False).test_client()
    for payload in SCRIPT:
        assert post(client, "zendesk", payload).status_code == 202
        drain(runtime)
    with runtime.db.session() as s:
        policy = runtime.policies.active(s).policy
        for ticket_id in s.scalars(select(Ticket.id)):
            refresh(s, policy, ticket_id, AS_OF)
    return runtime, client


def _ids(rt) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Zendesk ticket id → connector ticket id."""
    from connector.store.tables import Link

    with rt.db.session() as s:
        return {ext: tid for ext, tid in s.execute(select(Link.external_id, Link.ticket_id))}


def _report(rt, **kw: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return build_report(
            s, since=kw.pop("since", SINCE), until=kw.pop("until", UNTIL), now=kw.pop("now", AS_OF), **kw
        )


def test_volume_counts_tickets_in_range_by_severity_tier_and_channel(loaded):  # type: ignore[no-untyped-def]
    report = _report(loaded[0])
    assert report["tickets"] == 5
    assert report["volume"]["by_severity"] == [
        {"severity": "P2", "tickets": 4, "resolved": 2},
        {"severity": "P0", "tickets": 1, "resolved": 0},
    ]
    assert report["volume"]["by_tier"] == [
        {"tier": "enterprise", "tickets": 3, "resolved": 2},
        {"tier": "starter", "tickets": 2, "resolved": 0},
    ]
    assert report["volume"]["by_channel"] == [
        {"channel": "email", "tickets": 4, "resolved": 2},
        {"channel": "chat", "tickets": 1, "resolved": 0},
    ]


def test_times_in_calendar_and_sla_counted_time(loaded):  # type: ignore[no-untyped-def]
    times = _report(loaded[0])["times"]
    # calendar: 600, 1800, 9000, 10800 s; median (1800+9000)/2, p90 9000 + 0.7 × 1800
    fr = times["first_response"]["calendar"]
    assert (fr["count"], fr["median_seconds"], fr["p90_seconds"], fr["mean_seconds"]) == (4, 5400, 10260, 5550)
    assert (fr["median"], fr["p90"]) == ("1 h 30 min", "2 h 51 min")
    # business hours close at 17:00: 702's reply at 17:30 and 703's at 18:00 both counted 2h
    counted = times["first_response"]["sla_counted"]
    assert (counted["count"], counted["median_seconds"], counted["p90_seconds"]) == (4, 4500, 7200)
    res = times["resolution"]["calendar"]
    assert (res["count"], res["median_seconds"], res["p90_seconds"]) == (2, 27000, 34200)
    assert times["resolution"]["sla_counted"]["median_seconds"] == 27000  # calendar-time target: 24x7


def test_compliance_per_metric_severity_and_tier(loaded):  # type: ignore[no-untyped-def]
    rows = [
        (
            c["metric"],
            c["severity"],
            c["tier"],
            c["met"],
            c["breached"],
            c["overdue"],
            c["open"],
            c["compliance_percent"],
        )
        for c in _report(loaded[0])["compliance"]
    ]
    assert rows == [
        ("first_response", "P0", "starter", 0, 1, 0, 0, 0.0),
        ("first_response", "P2", "enterprise", 2, 1, 0, 0, 66.67),
        ("first_response", "P2", "starter", 1, 0, 0, 0, 100.0),
        ("resolution", "P0", "starter", 0, 0, 0, 1, None),
        ("resolution", "P2", "enterprise", 1, 2, 0, 0, 33.33),
        ("resolution", "P2", "starter", 0, 0, 0, 1, None),
    ]


def test_running_clocks_past_due_count_as_overdue_breaches(loaded):  # type: ignore[no-untyped-def]
    # Three days on, the starter resolution clocks (due T0 + 3d) are past due though no sweep recorded it.
    report = _report(loaded[0], now=T0 + timedelta(days=4))
    starter = [c for c in report["compliance"] if c["metric"] == "resolution" and c["tier"] == "starter"]
    assert [(c["overdue"], c["open"], c["compliance_percent"]) for c in starter] == [(1, 0, 0.0), (1, 0, 0.0)]
    overdue = [b for b in report["breaches"] if not b["recorded"]]
    assert [(b["metric"], b["late"]) for b in overdue] == [("resolution", "1 d"), ("resolution", "1 d")]
    assert overdue[0]["reason"].endswith("still open past due, breach not yet recorded")


def test_breaches_with_how_late_and_why(loaded):  # type: ignore[no-untyped-def]
    rt, _ = loaded
    ids = _ids(rt)
    got = [(b["ticket_id"], b["metric"], b["due_at"], b["late"], b["reason"]) for b in _report(rt)["breaches"]]
    assert got == [
        (
            ids["705"],
            "first_response",
            "2026-03-06T16:00:00Z",
            "11 h",
            "no public agent reply within 1h calendar time (P0, starter); target lowered from 8h to 1h by severity change",
        ),
        (
            ids["702"],
            "first_response",
            "2026-03-06T17:00:00Z",
            "30 min",
            "no public agent reply within 2h business time (P2, enterprise); met 30 min after due",
        ),
        (
            ids["702"],
            "resolution",
            "2026-03-06T23:00:00Z",
            "2 h",
            "not resolved within 8h calendar time (P2, enterprise); met 2 h after due",
        ),
        (
            ids["704"],
            "resolution",
            "2026-03-06T23:30:00Z",
            "3 h 30 min",
            "not resolved within 8h calendar time (P2, enterprise); paused 30 min",
        ),
    ]


def test_filters_by_date_range_severity_and_tier(loaded):  # type: ignore[no-untyped-def]
    rt, _ = loaded
    earlier = _report(rt, since=T0 - timedelta(days=4), until=T0 - timedelta(days=1))
    assert earlier["tickets"] == 1
    # 699 (Tue 15:00, never answered): 8 business hours end Wed 15:00; 3 calendar days end at T0
    assert [(b["metric"], b["due_at"]) for b in earlier["breaches"]] == [
        ("first_response", "2026-03-04T15:00:00Z"),
        ("resolution", "2026-03-06T15:00:00Z"),
    ]
    assert _report(rt, until=T0)["tickets"] == 0  # until is exclusive: created at T0 is left out
    assert _report(rt, severity="P0")["tickets"] == 1
    enterprise = _report(rt, tier="enterprise")
    assert enterprise["tickets"] == 3
    assert {c["tier"] for c in enterprise["compliance"]} == {"enterprise"}


def test_csv_is_one_flat_table_with_a_section_column(loaded):  # type: ignore[no-untyped-def]
    text = report_csv(_report(loaded[0]))
    rows = list(csv.DictReader(io.StringIO(text)))
    sections = [r["section"] for r in rows]
    assert sections == (
        ["volume_by_severity"] * 2
        + ["volume_by_tier"] * 2
        + ["volume_by_channel"] * 2
        + ["times"] * 4
        + ["compliance"] * 6
        + ["breach"] * 4
    )
    assert {r["since"] for r in rows} == {"2026-03-05T00:00:00Z"}
    compliance = next(
        r
        for r in rows
        if r["section"] == "compliance" and r["tier"] == "enterprise" and r["metric"] == "first_response"
    )
    assert (compliance["met"], compliance["breached"], compliance["compliance_percent"]) == ("2", "1", "66.67")
    assert rows[-1]["reason"].endswith("paused 30 min")


def test_text_rendering_names_each_section(loaded):  # type: ignore[no-untyped-def]
    text = render_text(_report(loaded[0]))
    assert text.startswith("SLA report: tickets created 2026-03-05T00:00:00Z to 2026-03-07T00:00:00Z")
    for heading in ("Volume by severity", "Times", "Compliance", "Breaches (4)"):
        assert heading in text
    assert "66.67%" in text


def test_an_empty_range_reports_zeroes_not_errors(rt):  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        report = build_report(s, since=SINCE, until=UNTIL, now=AS_OF)
    assert report["tickets"] == 0 and report["compliance"] == [] and report["breaches"] == []
    assert report["times"]["first_response"]["calendar"]["median_seconds"] is None
    assert "(none)" in render_text(report)


def test_parse_range_reads_dates_and_defaults_to_the_last_30_days():
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_range(None, None, now=now) == (now - timedelta(days=30), now)
    assert parse_range("2026-03-01", "2026-03-05", now=now) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 6, tzinfo=UTC),
    )
    assert parse_range("2026-03-01T08:00:00-05:00", None, now=now)[0] == datetime(2026, 3, 1, 13, tzinfo=UTC)
    with pytest.raises(ConnectorError, match="since: not an ISO date"):
        parse_range("last week", None, now=now)
    with pytest.raises(ConnectorError, match="must be before"):
        parse_range("2026-03-05", "2026-03-01", now=now)


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([10.0], 0.9) == 10.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9) == pytest.approx(9.1)
