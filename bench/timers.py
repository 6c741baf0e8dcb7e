"""SLA timer benchmark: how late warnings and breaches fire, and what a sweeper tick costs, with
1,000 and with 100,000 open clocks (in one invocation).

    python -m bench.timers [--backend sqlite|postgres] [--sizes 1000,100000] [--window 60] [--tick 0.5]

Per size: a fresh database; tickets bulk-inserted with their "created" timeline entry, each at a
creation time chosen so that its next fire (a warning or a breach) is due at a uniformly random
instant of the next `--spread` seconds; the rows `refresh` would have written at that moment
(clocks, fires already due, the timer) computed with the same engine; a sample checked against
`refresh` itself. Then idle ticks (nothing due), then `live.sweep` every `--tick` seconds for
`--window` seconds. The sweeper's `now` is wall-clock time minus the setup's duration, so the
schedule starts when the window does; nothing else differs from a live run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import json
import pstats
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from bench.timers_data import Built, Burst, build, verify_sample
from connector.config import Settings
from connector.policy import load_policy
from connector.queue import JobQueue
from connector.runtime import Runtime, settle_heap
from connector.sla.due import sweep
from connector.sla.live import OnFires
from connector.store import Database
from connector.store.tables import Escalation, OutboxItem, SlaFire, SlaTimer, TimelineEntry
from connector.wiring import build_runtime, escalate_fires

TARGET_P99_S = 1.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "connector_bench_timers"


# ---- measuring ------------------------------------------------------------------------------


class DbMeter:
    """Statements sent and seconds spent inside cursor.execute (driver + server + round trip)."""

    def __init__(self, engine: Any):
        self.statements = 0
        self.seconds = 0.0
        self._started: list[float] = []
        #: when each transaction committed, in the sweeper's (virtual) time: what a fire waits for to be seen
        self.commits: list[datetime] = []
        self.offset = timedelta(0)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def _commit(self, *_args: Any) -> None:
        self.commits.append(datetime.now(UTC) - self.offset)

    def _before(self, *_args: Any) -> None:
        self.statements += 1
        self._started.append(time.perf_counter())

    def _after(self, *_args: Any) -> None:
        self.seconds += time.perf_counter() - self._started.pop()


@dataclass
class Tick:
    now: datetime  # the sweeper's `now` (virtual); sla_fires.recorded_at = now + time spent in the sweep
    end: datetime  # virtual time when sweep() returned, its transaction committed
    refreshed: int
    wall: float
    cpu: float
    statements: int
    db_seconds: float


def measured_sweep(
    rt: Runtime,
    meter: DbMeter,
    now: datetime,
    offset: timedelta,
    profiler: cProfile.Profile | None = None,
    on_fires: OnFires | None = None,
) -> Tick:
    s0, d0 = meter.statements, meter.seconds
    c0, w0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    refreshed = sweep(rt.db, rt.policies, now=now, on_fires=on_fires)
    if profiler is not None:
        profiler.disable()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return Tick(now, datetime.now(UTC) - offset, refreshed, wall, cpu, meter.statements - s0, meter.seconds - d0)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def spread_of(values: list[float]) -> dict[str, float | None]:
    return {"p50": pct(values, 50), "p99": pct(values, 99), "max": max(values) if values else None, "n": len(values)}


# ---- one size -------------------------------------------------------------------------------


def run_size(url: str, n: int, args: argparse.Namespace, profiler: cProfile.Profile | None) -> dict[str, Any]:
    settings = Settings.from_env({"DATABASE_URL": url, "CONNECTOR_POLICY": args.preset})
    db = Database(settings.database_url)
    db.upgrade()
    queue = (
        JobQueue.from_url(args.redis_url, settings.queue_name)
        if args.redis_url
        else JobQueue.embedded(settings.queue_name)
    )
    rt = build_runtime(settings, db=db, queue=queue)
    try:
        policy = load_policy(args.preset)
        burst = Burst(args.burst, args.burst_at, args.burst_within)
        built = build(
            db,
            policy,
            n,
            spread=args.spread,
            severities=args.severities.split(","),
            seed=args.seed,
            burst=burst,
            history=args.history,
        )
        verified = verify_sample(db, policy, built, args.verify, args.seed)
        # As `connector worker` does once started; the benchmark's own bookkeeping (every fire it expects)
        # is then out of the collector's walks too, as it is no part of a worker's heap.
        settle_heap()
        meter = DbMeter(db.engine)
        zero = timedelta(0)
        # As `connector worker` runs it (wiring.periodic_duties): the fires go to the escalation engine.
        on_fires = escalate_fires(rt) if args.escalation else None
        measured_sweep(rt, meter, built.t0 - timedelta(seconds=1), zero)  # warm: policy cache, pool
        idle = []
        for _ in range(args.idle_ticks):  # spaced like the window's ticks: caches as cold as in service
            time.sleep(args.tick)
            idle.append(measured_sweep(rt, meter, built.t0 - timedelta(seconds=1), zero))
        assert all(t.refreshed == 0 for t in idle)
        ticks = window(rt, meter, built.t0, args, profiler, on_fires)
        return {
            "open_clocks": n,
            "setup_seconds": round(built.seconds, 2),
            "verified_with_refresh": verified,
            "idle_tick": tick_summary(idle),
            "window": window_summary(ticks),
            **fire_summary(rt, built, ticks, meter.commits, on_fires),
        }
    finally:
        rt.close()


def window(
    rt: Runtime,
    meter: DbMeter,
    t0: datetime,
    args: argparse.Namespace,
    profiler: cProfile.Profile | None,
    on_fires: OnFires | None = None,
) -> list[Tick]:
    """Sweep for `args.window` seconds. "fixed": a tick every `args.tick` s, and one that overruns is
    followed at once by the next. "ticker": connector.runtime.Ticker's timing — wake every
    tick/2, sweep when `tick` s have passed since the last sweep started."""
    offset = datetime.now(UTC) - t0  # virtual now = wall clock - offset: t0 when the window opens
    meter.offset = offset
    meter.commits.clear()
    start = next_at = time.monotonic()
    ticks: list[Tick] = []
    if args.schedule == "ticker":
        next_at = 0.0
        while True:
            time.sleep(args.tick / 2)  # Ticker._run: stop.wait(step), then tick()
            now = time.monotonic()
            if now > start + args.window:
                return ticks
            if now >= next_at:
                next_at = now + args.tick
                ticks.append(measured_sweep(rt, meter, datetime.now(UTC) - offset, offset, profiler, on_fires))
    while next_at <= start + args.window:
        time.sleep(max(0.0, next_at - time.monotonic()))
        ticks.append(measured_sweep(rt, meter, datetime.now(UTC) - offset, offset, profiler, on_fires))
        next_at = max(next_at + args.tick, time.monotonic())
    return ticks


def tick_summary(ticks: list[Tick]) -> dict[str, Any]:
    return {
        "ticks": len(ticks),
        "wall_ms_p50": ms(pct([t.wall for t in ticks], 50)),
        "cpu_ms_p50": ms(pct([t.cpu for t in ticks], 50)),
        "statements_p50": pct([float(t.statements) for t in ticks], 50),
        "db_ms_p50": ms(pct([t.db_seconds for t in ticks], 50)),
    }


def window_summary(ticks: list[Tick]) -> dict[str, Any]:
    busy = [t for t in ticks if t.refreshed]
    refreshed = sum(t.refreshed for t in busy)

    def per(attr: str) -> float | None:
        return sum(getattr(t, attr) for t in busy) / refreshed if refreshed else None

    fitted = {
        name: fit(ticks, attr, scale)
        for name, attr, scale in (
            ("wall_ms", "wall", 1000),
            ("cpu_ms", "cpu", 1000),
            ("db_ms", "db_seconds", 1000),
            ("statements", "statements", 1),
        )
    }
    return {
        "ticks": len(ticks),
        "busy_ticks": len(busy),
        "refreshed": refreshed,
        "fit": fitted,
        "refreshed_per_busy_tick_max": max((t.refreshed for t in busy), default=0),
        "wall_ms": {k: ms(v) for k, v in spread_of([t.wall for t in ticks]).items() if k != "n"},
        "cpu_ms_p50": ms(pct([t.cpu for t in ticks], 50)),
        "statements_p50": pct([float(t.statements) for t in ticks], 50),
        "idle_in_window": tick_summary([t for t in ticks if not t.refreshed]),
        "per_refresh": {
            "wall_ms": ms(per("wall")),
            "cpu_ms": ms(per("cpu")),
            "db_ms": ms(per("db_seconds")),
            "statements": round(per("statements") or 0.0, 2),
        },
    }


def fit(ticks: list[Tick], attr: str, scale: float) -> dict[str, float] | None:
    """Least squares of a tick's cost on the tickets it refreshed: cost = per_tick + per_refresh * n."""
    xs = [float(t.refreshed) for t in ticks]
    ys = [getattr(t, attr) * scale for t in ticks]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return {"per_tick": round(my - slope * mx, 3), "per_refresh": round(slope, 3)}


def fire_summary(
    rt: Runtime, built: Built, ticks: list[Tick], commits: list[datetime], on_fires: OnFires | None = None
) -> dict[str, Any]:
    """Lateness of the fires recorded in the window; then whatever was still due at its end is swept
    (a sweeper that fell behind), and every fire due by then must be recorded exactly once."""
    last = ticks[-1].now
    starts = [t.now for t in ticks]
    committed = sorted(commits)

    def end_of(recorded_at: datetime) -> datetime:
        """When the transaction that recorded a fire committed: the first commit after it was recorded
        (the sweeper commits each chunk of due tickets on its own)."""
        i = bisect.bisect_left(committed, recorded_at)
        return committed[i] if i < len(committed) else tick_end(recorded_at)

    def tick_end(recorded_at: datetime) -> datetime:
        """The end of the tick that recorded a fire (the last tick that began before it)."""
        return ticks[max(0, bisect.bisect_right(starts, recorded_at) - 1)].end

    fired = select(SlaFire.ticket_id, SlaFire.metric, SlaFire.kind, SlaFire.at, SlaFire.recorded_at).where(
        SlaFire.recorded_at >= built.t0
    )
    with rt.db.session() as s:
        rows = s.execute(fired).all()
    recorded = [(r.recorded_at - r.at).total_seconds() for r in rows]
    visible = [(end_of(r.recorded_at) - r.at).total_seconds() for r in rows]
    at_tick_end = [(tick_end(r.recorded_at) - r.at).total_seconds() for r in rows]
    # a decision is committed with the fire that caused it (same ticket, same instant)
    seen_at = {(r.ticket_id, r.at): end_of(r.recorded_at) for r in rows}
    backlog = 0
    while (swept := sweep(rt.db, rt.policies, now=last, on_fires=on_fires)) > 0:
        backlog += swept
    with rt.db.session() as s:
        every = s.execute(fired).all()
        earlier = s.scalar(select(func.count()).select_from(SlaFire).where(SlaFire.recorded_at < built.t0))
        on_timeline = s.scalar(
            select(func.count())
            .select_from(TimelineEntry)
            .where(TimelineEntry.kind.like("sla_%"), TimelineEntry.recorded_at >= built.t0)
        )
        left_due = s.scalar(select(func.count()).select_from(SlaTimer).where(SlaTimer.fire_at <= last))

    def key(tid: int, metric: str, kind: str, at: datetime) -> tuple[int, str, str, int]:
        return tid, metric, kind, round(at.timestamp() * 1000)

    got = [key(r.ticket_id, r.metric, r.kind, r.at) for r in every]
    expected = {key(*e) for e in built.expected if e[3] <= last}
    check = {
        "expected": len(expected),
        "recorded": len(got),
        "recorded_after_window": len(every) - len(rows),
        "tickets_still_due_at_window_end": backlog,
        "missing": len(expected - set(got)),
        "unexpected": len(set(got) - expected),
        "duplicates": len(got) - len(set(got)),
        "timeline_entries": on_timeline,
        "prerecorded_before": built.prerecorded,
        "prerecorded_after": earlier,
        "timers_left_due": left_due,
    }
    check["ok"] = (
        check["missing"] == check["unexpected"] == check["duplicates"] == left_due == 0
        and on_timeline == len(got)
        and earlier == built.prerecorded
    )
    kinds = {k: sum(1 for r in rows if r.kind == k) for k in sorted({r.kind for r in rows})}
    escalation = escalation_summary(rt, built, seen_at) if on_fires is not None else None
    if escalation is not None:
        check["ok"] = check["ok"] and escalation["ok"]
    return {
        "fires": kinds,
        **({"escalation": escalation} if escalation is not None else {}),
        "lateness_recorded_s": spread_of(recorded),
        "lateness_visible_s": spread_of(visible),
        "lateness_at_tick_end_s": spread_of(at_tick_end),
        "exactly_once": check,
    }


def escalation_summary(rt: Runtime, built: Built, seen_at: dict[tuple[int, datetime], datetime]) -> dict[str, Any]:
    """What the escalation engine decided on the window's fires: decisions by action and outcome, the
    outbox intents they wrote (one per decision carried out, never two), and how late a decision was
    committed after what fired it was due."""
    with rt.db.session() as s:
        decisions = s.execute(
            select(Escalation.id, Escalation.ticket_id, Escalation.action, Escalation.outcome, Escalation.at).where(
                Escalation.recorded_at >= built.t0
            )
        ).all()
        intents = s.execute(
            select(OutboxItem.escalation_id, OutboxItem.intent).where(OutboxItem.created_at >= built.t0)
        ).all()
    per_decision: dict[int, int] = {}
    for escalation_id, _ in intents:
        if escalation_id is not None:
            per_decision[escalation_id] = per_decision.get(escalation_id, 0) + 1
    by: dict[str, int] = {}
    for d in decisions:
        by[f"{d.action}/{d.outcome}"] = by.get(f"{d.action}/{d.outcome}", 0) + 1
    late = [(seen_at[d.ticket_id, d.at] - d.at).total_seconds() for d in decisions if (d.ticket_id, d.at) in seen_at]
    twice = sum(1 for n in per_decision.values() if n > 1)
    return {
        "decisions": by,
        "intents": {k: sum(1 for _, i in intents if i == k) for k in sorted({i for _, i in intents})},
        "decision_lateness_visible_s": spread_of(late),
        "decisions_with_two_intents": twice,
        "ok": twice == 0,
    }


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


# ---- backends, report -----------------------------------------------------------------------


def fresh_database(backend: str, args: argparse.Namespace) -> tuple[str, Any]:
    """A URL for an empty database, and a function that removes it."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bench-timers-"))
        return f"sqlite:///{folder / 'timers.db'}", lambda: shutil.rmtree(folder, ignore_errors=True)
    import psycopg

    def admin(sql: str) -> None:
        with psycopg.connect(args.pg_admin, autocommit=True) as conn:
            conn.execute(sql.encode())

    admin(f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{args.pg_database}"')
    url = make_url(args.pg_admin).set(database=args.pg_database).render_as_string(hide_password=False)
    return url, (lambda: None) if args.keep else (lambda: admin(f'DROP DATABASE IF EXISTS "{args.pg_database}"'))


def ratios(small: dict[str, Any], big: dict[str, Any]) -> dict[str, float | None]:
    def r(*path: str) -> float | None:
        a: Any = small
        b: Any = big
        for part in path:
            a, b = (a or {}).get(part), (b or {}).get(part)
        return round(b / a, 2) if a and b is not None else None

    return {
        "idle_tick_wall": r("idle_tick", "wall_ms_p50"),
        "idle_tick_cpu": r("idle_tick", "cpu_ms_p50"),
        "idle_tick_statements": r("idle_tick", "statements_p50"),
        "per_refresh_wall": r("window", "fit", "wall_ms", "per_refresh"),
        "per_refresh_cpu": r("window", "fit", "cpu_ms", "per_refresh"),
        "per_refresh_db": r("window", "fit", "db_ms", "per_refresh"),
        "per_refresh_statements": r("window", "fit", "statements", "per_refresh"),
    }


def table(report: dict[str, Any]) -> str:
    head = (
        "open clocks",
        "fires",
        "late s p50/p99/max (recorded_at)",
        "late s p50/p99/max (committed)",
        "busy/all ticks",
        "tick ms p50/p99",
        "per refresh ms wall/cpu/db (fit)",
        "stmts/refresh (fit)",
        "idle tick ms wall/cpu",
        "stmts/idle tick",
    )
    lines = [" | ".join(head), " | ".join("---" for _ in head)]

    def f3(d: dict[str, Any]) -> str:
        return "/".join("-" if d[k] is None else f"{d[k]:.3f}" for k in ("p50", "p99", "max"))

    def slope(name: str) -> Any:
        found = w["fit"][name]
        return "-" if found is None else found["per_refresh"]

    for size in report["sizes"].values():
        w, i = size["window"], size["idle_tick"]
        lines.append(
            " | ".join(
                str(x)
                for x in (
                    f"{size['open_clocks']:,}",
                    sum(size["fires"].values()),
                    f3(size["lateness_recorded_s"]),
                    f3(size["lateness_visible_s"]),
                    f"{w['busy_ticks']}/{w['ticks']}",
                    f"{w['wall_ms']['p50']}/{w['wall_ms']['p99']}",
                    f"{slope('wall_ms')}/{slope('cpu_ms')}/{slope('db_ms')}",
                    slope("statements"),
                    f"{i['wall_ms_p50']}/{i['cpu_ms_p50']}",
                    i["statements_p50"],
                )
            )
        )
    if "ratios_largest_to_smallest" in report:
        lines.append(
            "ratios largest/smallest: " + ", ".join(f"{k} {v}" for k, v in report["ratios_largest_to_smallest"].items())
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--sizes", default="1000,100000", help="open clocks per run, comma-separated")
    ap.add_argument("--window", type=float, default=60.0, help="measured seconds of sweeping per size")
    ap.add_argument("--tick", type=float, default=0.5, help="seconds between sweeper ticks")
    ap.add_argument(
        "--schedule",
        choices=("fixed", "ticker"),
        default="fixed",
        help="fixed-rate ticks, or the deployed Ticker's timing (see window())",
    )
    ap.add_argument("--spread", type=float, default=3600.0, help="next fires are spread over this many seconds")
    ap.add_argument("--burst", type=int, default=0, help="of each size, this many clocks due within one minute")
    ap.add_argument("--burst-at", type=float, default=10.0, help="the burst starts this many seconds into the window")
    ap.add_argument("--burst-within", type=float, default=60.0, help="the burst's clocks fall due within this")
    ap.add_argument("--preset", default="localizevideos")
    ap.add_argument(
        "--escalation",
        action="store_true",
        help="pass the fires to the escalation engine, as `connector worker` does (decisions, pages, outbox)",
    )
    ap.add_argument("--redis-url", help="the queue outbox jobs go to (default: the embedded one)")
    ap.add_argument(
        "--history",
        type=int,
        help="solved tickets with past decisions, pages and post-mortems (default: 20000 with --escalation, else 0)",
    )
    ap.add_argument("--severities", default="Sev1,Sev2", help="calendar-time severities of the preset")
    ap.add_argument("--idle-ticks", type=int, default=12)
    ap.add_argument("--verify", type=int, default=25, help="tickets checked against refresh() before the window")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile the last size's window ticks")
    ap.add_argument("--json", type=Path, help="write the report here")
    ap.add_argument("--pg-admin", default=PG_ADMIN)
    ap.add_argument("--pg-database", default=PG_DATABASE)
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.history is None:
        args.history = 20000 if args.escalation else 0
    if args.burst and args.window < args.burst_at + args.burst_within:
        ap.error("--window must cover the burst: at least --burst-at + --burst-within seconds")
    report: dict[str, Any] = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "sizes": {},
    }
    profiler = cProfile.Profile() if args.profile else None
    for i, n in enumerate(sizes):
        url, remove = fresh_database(args.backend, args)
        try:
            prof = profiler if i == len(sizes) - 1 else None
            report["sizes"][str(n)] = run_size(url, n, args, prof)
        finally:
            remove()
        print(f"{n:,} open clocks done", file=sys.stderr)
    if len(sizes) > 1:
        report["ratios_largest_to_smallest"] = ratios(report["sizes"][str(sizes[0])], report["sizes"][str(sizes[-1])])
    p99s = [s["lateness_visible_s"]["p99"] for s in report["sizes"].values()]
    report["target"] = {"p99_lateness_s": TARGET_P99_S, "met": all(p is not None and p < TARGET_P99_S for p in p99s)}
    report["ok"] = all(s["exactly_once"]["ok"] for s in report["sizes"].values())
    print(table(report))
    print(json.dumps(report, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
