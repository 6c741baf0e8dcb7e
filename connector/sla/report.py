"""The SLA report: volume, response and resolution times, compliance and breaches over a date range.

`connector report sla` and `GET /api/reports/sla` render `build_report`'s dict as JSON, text
(`render_text`) or CSV (`report_csv`). The report reads what the live clocks stored (`sla_clocks`,
`sla_fires`) and the tickets' own timestamps; it never replays the engine, so it costs a handful of
queries whatever the range.

Tickets are selected by `Ticket.created_at` in [since, until), optionally by severity and customer
tier as stored on the ticket (its current values, e.g. `P1` and `enterprise`). Compliance and
breaches are grouped by those current values too.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from connector.errors import ConnectorError
from connector.policy import format_duration
from connector.sla.clock import OPEN_STATES, ClockState
from connector.sla.engine import iso_utc
from connector.sla.events import FireKind, Retarget
from connector.sla.serialize import clock_data
from connector.store.tables import Followup, FollowupKind, SlaClock, SlaFire, Ticket

DEFAULT_DAYS = 30
METRIC_ORDER = ("first_response", "next_update", "resolution")
_WHAT_FAILED = {
    "first_response": "no public agent reply",
    "next_update": "no public agent update",
    "resolution": "not resolved",
}
_UNFINISHED = (ClockState.RUNNING.value, ClockState.PAUSED.value)
_ENDED = (ClockState.STOPPED.value, ClockState.CANCELLED.value)
CSV_COLUMNS = (
    "section",
    "since",
    "until",
    "metric",
    "basis",
    "severity",
    "tier",
    "channel",
    "ticket_id",
    "title",
    "tickets",
    "resolved",
    "met",
    "breached",
    "overdue",
    "open",
    "stopped",
    "compliance_percent",
    "count",
    "mean_seconds",
    "median_seconds",
    "p90_seconds",
    "due_at",
    "breached_at",
    "met_at",
    "late_seconds",
    "reason",
    "url",
    "done_at",
)


# ---- date range ---------------------------------------------------------------------------------


def parse_range(since: str | None, until: str | None, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The report's [since, until) from ISO text: a date (`2026-03-01`, midnight UTC; as `until`,
    the end of that day) or a date-time (naive is UTC). Defaults: until now, since 30 days before."""
    now = now or datetime.now(UTC)
    end = _parse_bound(until, "until", end_of_day=True) if until else now
    if since:
        start = _parse_bound(since, "since", end_of_day=False)
    elif end < datetime.min.replace(tzinfo=UTC) + timedelta(days=DEFAULT_DAYS):
        raise ConnectorError(f"until: out of range: no {DEFAULT_DAYS} days before {iso_utc(end)}; give since")
    else:
        start = end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ConnectorError(f"since ({iso_utc(start)}) must be before until ({iso_utc(end)})")
    return start, end


def _parse_bound(text: str, name: str, *, end_of_day: bool) -> datetime:
    value = text.strip()
    shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}…"
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError as exc:
        raise ConnectorError(f"{name}: not an ISO date or date-time: {shown} (e.g. 2026-03-01)") from exc
    except OverflowError as exc:  # the day after 9999-12-31, or a time zone that moves it past year 1 or 9999
        raise ConnectorError(f"{name}: out of range: {shown}") from exc


# ---- the report ---------------------------------------------------------------------------------


def build_report(
    s: Session,
    *,
    since: datetime,
    until: datetime,
    severity: str | None = None,
    tier: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The SLA report of the tickets created in [since, until).

    times — per metric (first_response, resolution), two bases:
      * `calendar`: wall-clock seconds from `Ticket.created_at` to `first_response_at` / `resolved_at`,
        over the tickets that have that timestamp;
      * `sla_counted`: `counted_seconds` of the ticket's first clock of that metric once met — the
        time the SLA clock counted: business hours of its calendar for business-time targets, 24x7
        for calendar-time targets, paused time excluded.
      Each gives count, mean, median and p90 (linear interpolation between closest ranks, as
      PostgreSQL's percentile_cont and numpy's default), in seconds and in human form.

    compliance — per metric × severity × tier, over every clock (all cycles) of those tickets:
      * met: `met_at` set, `breached_at` not set, and met no later than `due_at`;
      * breached: `breached_at` set, whatever the state (breached, met after its breach, or stopped or
        cancelled after it), or met after `due_at` without a recorded breach;
      * overdue: running or paused, neither met nor breached, `due_at` <= `now` (the breach is due but
        the sweeper has not recorded it yet) — counted as a breach;
      * open: running or paused and not yet due (or paused with no due time) — excluded;
      * stopped: stopped (ticket resolved first, e.g. an update cadence) or cancelled (no target after
        a change) without a breach — excluded.
      compliance_percent = 100 × met / (met + breached + overdue), rounded to 2 places; null when
      that is 0.

    breaches — every clock counted as breached or overdue above, by due time, with how late it was
    (met late: met_at − due_at; still open: now − due_at; stopped or cancelled after it: null;
    calendar time) and a reason.

    postmortems — the post-mortems those tickets owe: owed, done, due, waiting (the ticket has not
    resolved), overdue (not done by their due time), and each overdue one with its Jira task's link.

    `now` (default: the current time) decides what is overdue and how late open breaches are.
    """
    now = now or datetime.now(UTC)
    chosen = _ticket_filter(since, until, severity, tier)
    return {
        "range": {"since": iso_utc(since), "until": iso_utc(until), "as_of": iso_utc(now)},
        "filters": {"severity": severity, "tier": tier},
        "tickets": s.scalar(select(func.count()).select_from(Ticket).where(chosen)) or 0,
        "volume": {
            "by_severity": _volume(s, chosen, Ticket.severity, "severity"),
            "by_tier": _volume(s, chosen, Ticket.customer_tier, "tier"),
            "by_channel": _volume(s, chosen, Ticket.channel, "channel"),
        },
        "times": _times(s, chosen),
        "compliance": _compliance(s, chosen, now),
        "breaches": _breaches(s, chosen, now),
        "postmortems": _postmortems(s, chosen, now),
    }


def _postmortems(s: Session, chosen: ColumnElement[bool], now: datetime) -> dict[str, Any]:
    """The post-mortems owed by the chosen tickets: how many are done, due, waiting for the ticket to
    resolve and overdue, and every one not done whose due time has passed (with its task's link)."""
    rows = s.execute(
        select(Followup, Ticket.title, Ticket.severity, Ticket.customer_tier)
        .join(Ticket, Ticket.id == Followup.ticket_id)
        .where(chosen, Followup.kind == FollowupKind.POSTMORTEM.value)
        .order_by(Followup.due_at, Followup.id)
    ).all()
    counts = {"owed": 0, "done": 0, "due": 0, "waiting": 0, "overdue": 0}
    overdue = []
    for f, title, severity, tier in rows:
        counts["owed"] += 1
        if f.done_at is not None:
            counts["done"] += 1
        elif f.due_at is None:
            counts["waiting"] += 1  # its ticket has not resolved yet
        elif f.due_at <= now:
            counts["overdue"] += 1
            late = (now - f.due_at).total_seconds()
            overdue.append(
                {
                    "ticket_id": f.ticket_id,
                    "title": title,
                    "severity": severity,
                    "tier": tier,
                    "due_at": iso_utc(f.due_at),
                    "late_seconds": late,
                    "late": human(late),
                    "owner": f.target,
                    "url": f.url,
                }
            )
        else:
            counts["due"] += 1
    return {**counts, "overdue_items": overdue}


def _ticket_filter(since: datetime, until: datetime, severity: str | None, tier: str | None) -> ColumnElement[bool]:
    conds = [Ticket.created_at >= since, Ticket.created_at < until]
    if severity:
        conds.append(Ticket.severity == severity)
    if tier:
        conds.append(Ticket.customer_tier == tier)
    return and_(*conds)


def _volume(s: Session, chosen: ColumnElement[bool], column: Any, name: str) -> list[dict[str, Any]]:
    resolved = func.sum(case((Ticket.resolved_at.is_not(None), 1), else_=0))
    rows = s.execute(select(column, func.count(), resolved).where(chosen).group_by(column)).all()
    out = [{name: value, "tickets": int(n), "resolved": int(r or 0)} for value, n, r in rows]
    return sorted(out, key=lambda row: (-row["tickets"], _sort_key(row[name])))


# ---- times --------------------------------------------------------------------------------------


def _times(s: Session, chosen: ColumnElement[bool]) -> dict[str, Any]:
    first: list[float] = []
    resolution: list[float] = []
    q = select(Ticket.created_at, Ticket.first_response_at, Ticket.resolved_at).where(
        chosen, or_(Ticket.first_response_at.is_not(None), Ticket.resolved_at.is_not(None))
    )
    for created, responded, resolved in s.execute(q):
        if responded is not None:
            first.append(max(0.0, (responded - created).total_seconds()))
        if resolved is not None:
            resolution.append(max(0.0, (resolved - created).total_seconds()))
    counted: dict[str, list[float]] = {"first_response": [], "resolution": []}
    q2 = (
        select(SlaClock.metric, SlaClock.data)
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(chosen, SlaClock.metric.in_(list(counted)), SlaClock.cycle == 1, SlaClock.met_at.is_not(None))
    )
    for metric, data in s.execute(q2):
        stored = clock_data(data)
        value = stored["counted_seconds"] if stored else None
        if isinstance(value, int | float):
            counted[metric].append(float(value))
    return {
        "first_response": {
            "calendar": {"label": "calendar time, created → first public agent reply", **_stats(first)},
            "sla_counted": {
                "label": "SLA-counted time of met first-response clocks (business hours for "
                "business-time targets, pauses excluded)",
                **_stats(counted["first_response"]),
            },
        },
        "resolution": {
            "calendar": {"label": "calendar time, created → resolved", **_stats(resolution)},
            "sla_counted": {
                "label": "SLA-counted time of met resolution clocks (business hours for "
                "business-time targets, pauses excluded)",
                **_stats(counted["resolution"]),
            },
        },
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (percentile_cont); `values` need not be sorted."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    pos = (len(ordered) - 1) * fraction
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _stats(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {
            "count": 0,
            "mean_seconds": None,
            "median_seconds": None,
            "p90_seconds": None,
            "mean": None,
            "median": None,
            "p90": None,
        }
    mean, median, p90 = statistics.fmean(values), percentile(values, 0.5), percentile(values, 0.9)
    return {
        "count": len(values),
        "mean_seconds": round(mean, 3),
        "median_seconds": round(median, 3),
        "p90_seconds": round(p90, 3),
        "mean": human(mean),
        "median": human(median),
        "p90": human(p90),
    }


# ---- compliance ---------------------------------------------------------------------------------


def _classes(now: datetime) -> dict[str, ColumnElement[bool]]:
    c = SlaClock
    met_late = and_(c.met_at.is_not(None), c.due_at.is_not(None), c.met_at > c.due_at)
    unfinished = and_(c.breached_at.is_(None), c.met_at.is_(None), c.state.in_(_UNFINISHED))
    return {
        "met": and_(c.breached_at.is_(None), c.met_at.is_not(None), or_(c.due_at.is_(None), c.met_at <= c.due_at)),
        "breached": or_(c.breached_at.is_not(None), met_late),
        "overdue": and_(unfinished, c.due_at.is_not(None), c.due_at <= now),
        "open": and_(unfinished, or_(c.due_at.is_(None), c.due_at > now)),
        "stopped": and_(c.breached_at.is_(None), c.met_at.is_(None), c.state.in_(_ENDED)),
    }


def _compliance(s: Session, chosen: ColumnElement[bool], now: datetime) -> list[dict[str, Any]]:
    classes = _classes(now)
    sums = [func.sum(case((cond, 1), else_=0)) for cond in classes.values()]
    q = (
        select(SlaClock.metric, Ticket.severity, Ticket.customer_tier, *sums)
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(chosen)
        .group_by(SlaClock.metric, Ticket.severity, Ticket.customer_tier)
    )
    out = []
    for metric, sev, tier, *counts in s.execute(q):
        row: dict[str, Any] = {
            "metric": metric,
            "severity": sev,
            "tier": tier,
            **{name: int(n or 0) for name, n in zip(classes, counts, strict=True)},
        }
        judged = row["met"] + row["breached"] + row["overdue"]
        row["compliance_percent"] = round(100.0 * row["met"] / judged, 2) if judged else None
        out.append(row)
    return sorted(out, key=lambda r: (_metric_key(r["metric"]), _sort_key(r["severity"]), _sort_key(r["tier"])))


# ---- breaches -----------------------------------------------------------------------------------


def _breaches(s: Session, chosen: ColumnElement[bool], now: datetime) -> list[dict[str, Any]]:
    classes = _classes(now)
    q = (
        select(SlaClock, Ticket.title, Ticket.severity, Ticket.customer_tier)
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(chosen, or_(classes["breached"], classes["overdue"]))
        .order_by(SlaClock.due_at, SlaClock.ticket_id, SlaClock.metric, SlaClock.cycle)
    )
    rows = s.execute(q).all()
    retargets = _retargets(s, chosen)
    out = []
    for clock, title, sev, tier in rows:
        due = clock.due_at or clock.breached_at
        end = clock.met_at or (now if clock.state in OPEN_STATES else None)
        late = max(0.0, (end - due).total_seconds()) if due and end else None
        out.append(
            {
                "ticket_id": clock.ticket_id,
                "title": title,
                "metric": clock.metric,
                "cycle": clock.cycle,
                "severity": sev,
                "tier": tier,
                "state": clock.state,
                "due_at": iso_utc(clock.due_at),
                "breached_at": iso_utc(clock.breached_at),
                "met_at": iso_utc(clock.met_at),
                "recorded": clock.breached_at is not None,
                "late_seconds": round(late, 3) if late is not None else None,
                "late": human(late) if late is not None else None,
                "reason": breach_reason(
                    clock, sev, tier, retargets.get((clock.ticket_id, clock.metric, clock.cycle), [])
                ),
            }
        )
    return out


def _retargets(s: Session, chosen: ColumnElement[bool]) -> dict[tuple[int, str, int], list[Retarget]]:
    q = (
        select(SlaFire.ticket_id, SlaFire.metric, SlaFire.cycle, SlaFire.data)
        .join(Ticket, Ticket.id == SlaFire.ticket_id)
        .where(chosen, SlaFire.kind == FireKind.RETARGETED.value)
        .order_by(SlaFire.at, SlaFire.id)
    )
    out: dict[tuple[int, str, int], list[Retarget]] = {}
    for ticket_id, metric, cycle, data in s.execute(q):
        if data and data.get("retarget"):
            out.setdefault((ticket_id, metric, cycle), []).append(Retarget.from_json(data["retarget"]))
    return out


def breach_reason(clock: SlaClock, severity: str | None, tier: str | None, retargets: Iterable[Retarget] = ()) -> str:
    """E.g. "no public agent reply within 4h business time (P1, enterprise); paused 25 min"."""
    stored = clock_data(clock.data)
    target = stored["target"] if stored else human(clock.target_seconds)
    basis = stored["time"] if stored else None
    what = _WHAT_FAILED.get(clock.metric, f"{clock.metric} not met")
    who = ", ".join(v for v in (severity, tier) if v)
    parts = [f"{what} within {target}" + (f" {basis} time" if basis else "") + (f" ({who})" if who else "")]
    if clock.met_at is not None:
        due = clock.due_at or clock.breached_at or clock.met_at
        parts.append(f"met {human((clock.met_at - due).total_seconds())} after due")
    elif clock.breached_at is None:
        parts.append("still open past due, breach not yet recorded")
    elif clock.state in _ENDED:
        parts.append(f"{clock.state} after the breach")
    if stored and stored["maximum_breached_at"] and stored["maximum"]:
        parts.append(f"also passed its {stored['maximum']} maximum")
    if (clock.paused_seconds or 0) > 0:
        parts.append(f"paused {human(clock.paused_seconds)}")
    for change in retargets:
        if change.old_seconds is None:
            parts.append(f"target {_duration(change.new_seconds)} set by {change.cause} change")
        else:
            parts.append(
                f"target {'lowered' if change.lowered else 'raised'} from {_duration(change.old_seconds)} "
                f"to {_duration(change.new_seconds)} by {change.cause} change"
            )
    return "; ".join(parts)


def _duration(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds)))


# ---- rendering ----------------------------------------------------------------------------------


def human(seconds: float | None) -> str:
    """45 → "45 s", 1500 → "25 min", 3900 → "1 h 5 min", 183600 → "2 d 3 h"."""
    if seconds is None:
        return "-"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    if h < 24:
        return f"{h} h" + (f" {m} min" if m else "")
    d, h = divmod(h, 24)
    return f"{d} d" + (f" {h} h" if h else "")


def report_csv(report: dict[str, Any]) -> str:
    """One flat table with a `section` column (columns: `CSV_COLUMNS`); each section fills its own:

    volume_by_severity | volume_by_tier | volume_by_channel — severity/tier/channel, tickets, resolved;
    times — metric, basis (calendar | sla_counted), count, mean/median/p90_seconds;
    compliance — metric, severity, tier, met, breached, overdue, open, stopped, compliance_percent;
    breach — ticket_id, title, metric, severity, tier, due_at, breached_at, met_at, late_seconds, reason;
    postmortem_overdue — ticket_id, title, severity, tier, due_at, late_seconds, url (its Jira task).
    Every row carries the report's since and until; empty cells are absent values.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    common = {"since": report["range"]["since"], "until": report["range"]["until"]}
    for key, name in (("by_severity", "severity"), ("by_tier", "tier"), ("by_channel", "channel")):
        for row in report["volume"][key]:
            writer.writerow(
                {
                    **common,
                    "section": f"volume_{key}",
                    name: row[name],
                    "tickets": row["tickets"],
                    "resolved": row["resolved"],
                }
            )
    for metric, bases in report["times"].items():
        for basis, st in bases.items():
            writer.writerow(
                {
                    **common,
                    "section": "times",
                    "metric": metric,
                    "basis": basis,
                    "count": st["count"],
                    "mean_seconds": st["mean_seconds"],
                    "median_seconds": st["median_seconds"],
                    "p90_seconds": st["p90_seconds"],
                }
            )
    for row in report["compliance"]:
        writer.writerow(
            {
                **common,
                "section": "compliance",
                **{
                    k: row[k]
                    for k in (
                        "metric",
                        "severity",
                        "tier",
                        "met",
                        "breached",
                        "overdue",
                        "open",
                        "stopped",
                        "compliance_percent",
                    )
                },
            }
        )
    for row in report["breaches"]:
        writer.writerow(
            {
                **common,
                "section": "breach",
                **{
                    k: row[k]
                    for k in (
                        "ticket_id",
                        "title",
                        "metric",
                        "severity",
                        "tier",
                        "due_at",
                        "breached_at",
                        "met_at",
                        "late_seconds",
                        "reason",
                    )
                },
            }
        )
    for row in report.get("postmortems", {}).get("overdue_items", ()):
        writer.writerow(
            {
                **common,
                "section": "postmortem_overdue",
                **{k: row[k] for k in ("ticket_id", "title", "severity", "tier", "due_at", "late_seconds", "url")},
            }
        )
    return buf.getvalue()


def render_text(report: dict[str, Any]) -> str:
    r = report["range"]
    filters = ", ".join(f"{k} {v}" for k, v in report["filters"].items() if v)
    lines = [
        f"SLA report: tickets created {r['since']} to {r['until']} (as of {r['as_of']})"
        + (f", {filters}" if filters else ""),
        f"Tickets: {report['tickets']}",
        "",
    ]
    for key, name in (("by_severity", "severity"), ("by_tier", "tier"), ("by_channel", "channel")):
        lines += _table(
            f"Volume by {name}",
            [name, "tickets", "resolved"],
            [[_cell(v[name]), v["tickets"], v["resolved"]] for v in report["volume"][key]],
        )
    rows = []
    for metric, bases in report["times"].items():
        for basis, st in bases.items():
            rows.append([metric, basis, st["count"], st["median"] or "-", st["p90"] or "-", st["mean"] or "-"])
    lines += _table(
        "Times (calendar: wall clock; sla_counted: what the SLA clock counted)",
        ["metric", "basis", "count", "median", "p90", "mean"],
        rows,
    )
    lines += _table(
        "Compliance (met / (met + breached + overdue))",
        ["metric", "severity", "tier", "met", "breached", "overdue", "open", "stopped", "compliance"],
        [
            [
                c["metric"],
                _cell(c["severity"]),
                _cell(c["tier"]),
                c["met"],
                c["breached"],
                c["overdue"],
                c["open"],
                c["stopped"],
                "-" if c["compliance_percent"] is None else f"{c['compliance_percent']:g}%",
            ]
            for c in report["compliance"]
        ],
    )
    lines.append(f"Breaches ({len(report['breaches'])})")
    for b in report["breaches"]:
        lines.append(
            f"  #{b['ticket_id']} {b['title'] or ''} — {b['metric']}, due {b['due_at']}, "
            f"{b['late']} late: {b['reason']}"
        )
    if not report["breaches"]:
        lines.append("  (none)")
    pm = report.get("postmortems")
    if pm is not None:
        lines.append("")
        lines.append(
            f"Post-mortems: {pm['owed']} owed · {pm['done']} done · {pm['due']} due · "
            f"{pm['waiting']} waiting for the ticket to resolve · {pm['overdue']} overdue"
        )
        for o in pm["overdue_items"]:
            where = f" {o['url']}" if o["url"] else ""
            lines.append(f"  #{o['ticket_id']} {o['title'] or ''} — due {o['due_at']}, {o['late']} overdue{where}")
    return "\n".join(lines) + "\n"


def _table(title: str, header: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return [title, "  (none)", ""]
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        title,
        *("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells),
        "",
    ]


def _cell(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _sort_key(value: str | None) -> tuple[int, str]:
    return (1, "") if value is None else (0, value)


def _metric_key(metric: str) -> tuple[int, str]:
    return (METRIC_ORDER.index(metric), "") if metric in METRIC_ORDER else (len(METRIC_ORDER), metric)


def weekly_trend(s: Session, *, until: datetime, weeks: int = 8, now: datetime | None = None) -> list[dict[str, Any]]:
    """SLA compliance of the tickets created in each of the `weeks` weeks before `until` (Monday to
    Monday, UTC), every metric together: met / (met + breached + overdue), as in the report."""
    now = now or datetime.now(UTC)
    end = datetime.combine((until - timedelta(days=until.weekday())).date(), time(0), tzinfo=UTC) + timedelta(days=7)
    out = []
    for n in range(weeks, 0, -1):
        start = end - timedelta(days=7 * n)
        rows = _compliance(s, _ticket_filter(start, start + timedelta(days=7), None, None), now)
        met = sum(r["met"] for r in rows)
        judged = met + sum(r["breached"] + r["overdue"] for r in rows)
        out.append(
            {
                "week": f"{start:%Y-%m-%d}",
                "met": met,
                "judged": judged,
                "compliance_percent": round(100.0 * met / judged, 2) if judged else None,
            }
        )
    return out
