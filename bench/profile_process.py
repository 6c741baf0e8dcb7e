"""Where processing time goes: stored deliveries → `process()`, in one process, no worker, no HTTP.

    python -m bench.profile_process --backend postgres|sqlite --deliveries 300 \
        [--workload new-p0|update] [--profile]

Each mode runs on a fresh database (`connector db upgrade`) with the policy `signx`. The deliveries are
stored through the real sink, then processed one by one as a worker would. Two workloads:

- `new-p0` (the default, the heaviest case): new urgent Zendesk tickets, each a P0 paged at once: a
  ticket, its link, SLA clocks, three escalation decisions and two outbox intents per delivery;
- `update` (the common case): a status change (NEW → OPEN) of a normal-priority ticket already
  processed (created in the set-up, not measured);
- `mix`: the deliveries `bench.ingest` sends (replies, status, priority and tag changes, `created`
  again, at random priorities: some become P0s and page) about 500 tickets opened in the set-up.

On PostgreSQL the queue is the Redis at `--redis-url`, as in production (its database is emptied
before and after); on SQLite, the embedded in-process queue. Nothing runs the jobs enqueued.

Three modes, in the same run:

- `full`: parse, map, ticket upsert, SLA clocks, the escalation engine and its outbox row;
- `no-escalation`: the same without the escalation engine;
- `no-sla`: the same without the SLA refresh and the escalation engine (the floor of the upsert).

For each: wall and CPU milliseconds per delivery (CPU is this process's; the database server's is not
in it), SQL statements and commits per delivery. `--profile` adds a cProfile of the `full` mode: the
parts of the path and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from adapters.zendesk import signature
from bench.e2e import urgent_ticket_body
from bench.ingest import zendesk_payload
from bench.servers import Backend, PostgresBackend, SqliteBackend
from connector.config import Settings
from connector.demo.payloads import zendesk_event, zendesk_ticket

SECRET = "bench-process-zendesk-secret"
MODES = ("full", "no-escalation", "no-sla")

#: (label, file suffix, function name) of the parts worth a line in the profile
PARTS = (
    ("process (one delivery)", "inbox/processing.py", "_process_once"),
    ("  adapter.parse", "zendesk/inbound.py", "parse"),
    ("  mapping apply", "mappings/engine.py", "apply"),
    ("  apply_event (ticket upsert, timeline)", "tickets/apply.py", "apply_event"),
    ("  sla refresh", "sla/live.py", "refresh"),
    ("  escalation settle", "escalation/live.py", "settle"),
    ("  session flush", "sqlalchemy/orm/session.py", "flush"),
    ("  session commit", "sqlalchemy/orm/session.py", "commit"),
    ("  cursor execute (driver)", "sqlalchemy/engine/default.py", "do_execute"),
)


WORKLOADS = ("new-p0", "update", "mix")
#: the `mix` workload's tickets: bench.ingest's generator picks among these
_MIX_TICKETS = range(10_000, 10_500)


def bodies(workload: str, count: int, first_id: int) -> tuple[list[bytes], list[bytes]]:
    """(set-up deliveries, processed and not measured; the deliveries to measure)."""
    now = datetime.now(UTC)
    if workload == "new-p0":
        return [], [urgent_ticket_body(first_id + i, now) for i in range(count)]
    if workload == "mix":
        opened_at = now - timedelta(hours=2)
        setup = [
            json.dumps(
                zendesk_event("created", _normal_ticket(t, "NEW", created=opened_at, updated=opened_at), {}, opened_at)
            ).encode()
            for t in _MIX_TICKETS
        ]
        rng = random.Random(first_id)
        return setup, [json.dumps(zendesk_payload(rng, now)).encode() for _ in range(count)]
    opened_at = now - timedelta(minutes=5)
    setup, measured = [], []
    for ticket_id in range(first_id, first_id + count):
        created = _normal_ticket(ticket_id, "NEW", created=opened_at, updated=opened_at)
        setup.append(json.dumps(zendesk_event("created", created, {}, opened_at)).encode())
        changed = _normal_ticket(ticket_id, "OPEN", created=opened_at, updated=now)
        status = {"current": "OPEN", "previous": "NEW"}
        measured.append(json.dumps(zendesk_event("status_changed", changed, status, now)).encode())
    return setup, measured


def _normal_ticket(ticket_id: int, status: str, *, created: datetime, updated: datetime) -> dict[str, Any]:
    return zendesk_ticket(
        ticket_id=ticket_id,
        subject=f"Invoice export slow #{ticket_id}",
        description="The monthly export takes minutes.",
        status=status,
        priority="NORMAL",
        requester_id="900002",
        organization_id="78",
        tags=["billing"],
        created=created,
        updated=updated,
    )


class Statements:
    """Counts the statements and commits an engine runs."""

    def __init__(self, engine: Any):
        self.executed = self.commits = 0
        event.listen(engine, "before_cursor_execute", self._execute)
        event.listen(engine, "commit", self._commit)

    def _execute(self, *args: Any) -> None:
        self.executed += 1

    def _commit(self, *args: Any) -> None:
        self.commits += 1


@contextmanager
def without(mode: str) -> Iterator[None]:
    """Processing (one by one and in batches) with the SLA refresh and/or the escalation engine replaced
    by no-ops."""
    from connector import escalation
    from connector.inbox import batch, processing

    saved = (processing.sla.refresh, batch.refresh_many, escalation.settle, escalation.settle_many)

    def no_refresh(*args: Any, **kwargs: Any) -> Any:
        return {} if args and isinstance(args[2], dict) else []

    def no_settle(*args: Any, **kwargs: Any) -> Any:
        return {}

    try:
        if mode in ("no-escalation", "no-sla"):
            escalation.settle = no_settle  # type: ignore[assignment]
            escalation.settle_many = no_settle
        if mode == "no-sla":
            processing.sla.refresh = no_refresh  # type: ignore[assignment]
            batch.refresh_many = no_refresh
        yield
    finally:
        processing.sla.refresh, batch.refresh_many, escalation.settle, escalation.settle_many = saved  # type: ignore[assignment]


def run_mode(
    backend: Backend, mode: str, count: int, profile: bool, workload: str = "new-p0", batch: int = 1
) -> dict[str, Any]:
    from connector.inbox.batch import process_many
    from connector.inbox.processing import process
    from connector.inbox.sink import receive
    from connector.runtime import install
    from connector.wiring import build_runtime

    backend.setup()
    try:
        env = {
            **backend.env,
            "CONNECTOR_POLICY": "signx",
            "ZENDESK_WEBHOOK_SECRETS": SECRET,
            "PAGERDUTY_ROUTING_KEY": "R0BENCHPROCESS00000000000000000A",
            "PAGERDUTY_EVENTS_URL": "http://127.0.0.1:9",  # nothing is sent: no worker runs
            "CONNECTOR_PUBLIC_URL": "https://connector.example.com",
        }
        rt = build_runtime(Settings.from_env(env))
        install(rt)

        def store(body: bytes) -> int:
            signed = signature.sign(body=body, secret=SECRET, now=datetime.now(UTC))
            headers = {"Content-Type": "application/json", **signed}
            answer = receive(rt, vendor="zendesk", instance="default", headers=headers, body=body)
            assert answer.status == 202, answer.body
            return int(answer.body["delivery_id"])

        setup, measured_bodies = bodies(workload, count + 10, 31_000_000)
        for delivery_id in [store(body) for body in setup]:
            process(rt, delivery_id)
        ids = [store(body) for body in measured_bodies]
        if rt.db.acknowledging():
            # SQLite processes one at a time while its process acknowledges webhooks (one writer):
            # the backlog is measured as it is processed once the burst is over
            time.sleep(1.05)
        warm, measured = ids[:10], ids[10:]
        with without(mode):
            for outcome in process_many(rt, warm):  # caches: mapping, policy, compiled statements
                assert "rejected" not in outcome, outcome
            stats = Statements(rt.db.engine)
            profiler = cProfile.Profile() if profile else None
            wall0, cpu0 = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            for first in range(0, len(measured), batch):
                for outcome in process_many(rt, measured[first : first + batch]):
                    assert "rejected" not in outcome and "failed" not in outcome, outcome
            if profiler:
                profiler.disable()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rt.release()
        install(None)
        out: dict[str, Any] = {
            "workload": workload,
            "mode": mode,
            "deliveries": count,
            "wall_ms": round(wall / count * 1000, 2),
            "cpu_ms": round(cpu / count * 1000, 2),
            "statements": round(stats.executed / count, 1),
            "commits": round(stats.commits / count, 2),
        }
        if profiler:
            out["profile"] = report(profiler, count)
        return out
    finally:
        backend.teardown()


def report(profiler: cProfile.Profile, count: int) -> str:
    stats = pstats.Stats(profiler)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    lines = ["part                                        ms/delivery (cumulative, under the profiler)"]
    for label, suffix, name in PARTS:
        total = sum(v[3] for k, v in table.items() if k[0].endswith(suffix) and k[2] == name)
        lines.append(f"{label:<44}{total / count * 1000:8.2f}")
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(25)
    return "\n".join(lines) + "\n\n" + buf.getvalue()


def summary(results: list[dict[str, Any]]) -> str:
    """Per batch size and mode: median CPU ms per delivery (min-max), statements, and the ratio to the
    same mode one delivery at a time when that was measured too."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["batch"], r["mode"]), []).append(r)
    medians = {key: statistics.median(r["cpu_ms"] for r in rs) for key, rs in groups.items()}
    lines = ["batch  mode            cpu ms/delivery median (min-max)  statements  vs one at a time"]
    for (batch, mode), rs in groups.items():
        cpu = [r["cpu_ms"] for r in rs]
        single = medians.get((1, mode))
        ratio = f"{medians[(batch, mode)] / single:.2f}x" if single and batch != 1 else ""
        lines.append(
            f"{batch:>5}  {mode:<15} {medians[(batch, mode)]:6.2f} ({min(cpu):.2f}-{max(cpu):.2f})"
            f"{'':14}{rs[0]['statements']:>6}      {ratio}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    ap.add_argument("--deliveries", type=int, default=300)
    ap.add_argument("--workload", choices=WORKLOADS, default="new-p0")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated, of " + ", ".join(MODES))
    ap.add_argument("--profile", action="store_true", help="cProfile the full mode")
    ap.add_argument(
        "--batch",
        default="1",
        help="deliveries per `process_many` call (1: `process`, one at a time); several, comma-separated, "
        "are measured alternately in one run",
    )
    ap.add_argument("--rounds", type=int, default=1, help="repeat every batch size and mode; the summary gives medians")
    ap.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-process-"))
    make: Callable[[], Backend] = (
        (lambda: SqliteBackend(workdir))
        if args.backend == "sqlite"
        else (lambda: PostgresBackend(args.postgres_admin_url, "connector_bench_process", args.redis_url))
    )
    results = []
    sizes = [int(b) for b in str(args.batch).split(",")]
    try:
        for _ in range(args.rounds):  # rounds alternate every batch size and mode: a noisy machine moves all alike
            for batch in sizes:
                for mode in args.modes.split(","):
                    if args.backend == "sqlite":
                        shutil.rmtree(workdir, ignore_errors=True)
                        workdir.mkdir()
                    profiled = args.profile and mode == "full"
                    result = run_mode(make(), mode, args.deliveries, profiled, args.workload, batch)
                    profile = result.pop("profile", None)
                    print(json.dumps({"backend": args.backend, "batch": batch, **result}), flush=True)
                    if profile:
                        print(profile)
                    results.append({"batch": batch, **result})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.rounds > 1 or len(sizes) > 1:
        print(summary(results))
    if args.json:
        args.json.write_text(json.dumps({"backend": args.backend, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
