"""Test 3: PostgreSQL stopped and started under load, twice.

Private PostgreSQL cluster and Redis, gunicorn (2 workers × 4 threads, an access log naming the
worker pid of each request), one `connector worker`. A background sender posts signed Zendesk
deliveries, each tagged with the test's phase. Cycle 1: `pg_ctl stop -m fast` under traffic, a few
seconds down, start. Cycle 2: the traffic pauses, PostgreSQL stops and starts with no request in
between (every pooled connection of every gunicorn worker is then dead), traffic resumes.

Promises: never a 202 for something not stored; while the database is down every answer is 503 with
Retry-After, never 500; after each restart every request is accepted — the first request each
gunicorn worker serves included — and everything stored is processed exactly once; the worker
process survives the outage.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.ledger import Ledger, examples
from tests.faults.results import FaultResult
from tests.faults.services import AppStack, PrivateRedis, private_postgres
from tests.faults.traffic import Client, Sender, Sent, zendesk_created
from tests.faults.verdicts import judge_acknowledged_and_once, shutdown_note

RATE = 30.0
BEFORE, DOWN, AFTER = 3.0, 4.0, 5.0
SETTLE = 120.0
_EXTRA = itertools.count(900_000)  # ticket ids of the requests that make sure every worker is reached


@pytest.mark.faults
@pytest.mark.timeout(480)
def test_postgres_stopped_and_started_under_load(workdir: Path, fault_result: FaultResult):
    fault_result.title = "PostgreSQL stopped and started under load"
    fault_result.target = "gunicorn-postgres"
    with private_postgres("pg-restart") as pg:
        redis_server = PrivateRedis(workdir)
        redis_server.start()
        stack = AppStack(workdir, database_url=pg.create_database("faults"), redis_url=redis_server.url)
        ledger = Ledger(stack.database_url)
        try:
            stack.upgrade()
            stack.start_web()
            worker = stack.start_worker()
            pids = stack.web_pids()
            sender = Sender(stack.port, lambda i: zendesk_created(300_000 + i), threads=6, rate=RATE).start()
            sender.phase = "before"
            time.sleep(BEFORE)

            # cycle 1: under traffic
            sender.phase = "down-1"
            pg.stop("fast")
            down_1 = time.perf_counter()
            time.sleep(DOWN / 2)
            probe = Client(stack.port)
            readyz_down = probe.get("/readyz").status
            probe.close()
            time.sleep(DOWN / 2)
            up_1 = time.perf_counter()
            sender.phase = "restarting-1"
            pg.start()
            sender.phase = "after-1"
            time.sleep(AFTER)
            extra = _every_worker_served(stack, pids, "after-1")

            # cycle 2: no request while down, so every pooled connection is dead when traffic resumes
            sender.pause()
            sender.phase = "down-2"
            pg.stop("fast")
            time.sleep(DOWN / 2)
            pg.start()
            sender.phase = "after-2"
            sender.resume()
            time.sleep(AFTER)
            extra += _every_worker_served(stack, pids, "after-2")
            sent = sender.stop() + extra

            settled = ledger.wait(lambda led: led.settled(), SETTLE)
            fault_result.scenario = (
                f"{len(sent)} signed Zendesk deliveries at ~{RATE:.0f}/s over 6 connections. Cycle 1: "
                f"`pg_ctl stop -m fast` under traffic, {DOWN:.0f} s down, start. Cycle 2: traffic paused, "
                f"stop, {DOWN / 2:.0f} s, start, traffic resumed. gunicorn 2 workers × 4 threads, one `connector worker`."
            )

            replies = [s.reply.status for s in sent]
            bad = [s for s in sent if s.reply.status == 0 or (s.reply.status >= 500 and s.reply.status != 503)]
            fault_result.check(
                "never a 500 (nor another 5xx than 503, nor a dropped connection)",
                len(sent),
                len(sent) - len(bad),
                f"{dict(Counter(f'{s.phase}: {s.reply.status or s.reply.error}' for s in bad))}; "
                f"the app logged: {stack.error_summary(6)}",
            )
            unavailable = [s for s in sent if s.reply.status == 503]
            fault_result.check(
                "every 503 carries Retry-After",
                len(unavailable),
                sum(1 for s in unavailable if s.reply.headers.get("retry-after")),
                examples(s.reply.headers for s in unavailable if not s.reply.headers.get("retry-after")),
            )
            while_down = [s for s in sent if s.started >= down_1 and s.ended <= up_1]
            fault_result.check(
                "while PostgreSQL was down (cycle 1), every answer was 503",
                len(while_down),
                sum(1 for s in while_down if s.reply.status == 503),
                str(dict(Counter(s.reply.status or s.reply.error for s in while_down))),
            )
            after = [s for s in sent if s.phase.startswith("after")]
            fault_result.check(
                "after each restart every delivery was accepted (202, or 200 for a client-side resend)",
                len(after),
                sum(1 for s in after if s.reply.status == 202 or (s.reply.status == 200 and s.reply.duplicate)),
                str({p: dict(Counter(s.reply.status for s in after if s.phase == p)) for p in ("after-1", "after-2")}),
            )
            firsts = _first_per_worker(stack, pids)
            fault_result.check(
                "the first request each gunicorn worker served after each restart succeeded",
                len(firsts),
                sum(1 for status in firsts.values() if status in (200, 202)),
                str({f"{phase} worker {pid}": status for (phase, pid), status in firsts.items()}),
            )
            figures = judge_acknowledged_and_once(fault_result, ledger, sent, stack.worker_logs())
            fault_result.expect(
                "the connector worker is still running",
                worker.alive(),
                worker.exit_summary(),
            )
            fault_result.figures = figures | {
                "answers": dict(Counter(str(r) for r in replies)),
                "answers_while_down": dict(Counter(str(s.reply.status) for s in while_down)),
                "readyz_while_down": readyz_down,
                "first_request_per_worker_after_restart": {f"{p} pid {pid}": s for (p, pid), s in firsts.items()},
                "gunicorn_workers": pids,
                "gunicorn_workers_at_end": stack.web_pids(),
                "settled": settled,
                "app_errors": stack.error_summary(6),
            }
        finally:
            shutdown = stack.stop()
            redis_server.close()
            ledger.close()
    fault_result.figures["shutdown"] = shutdown
    fault_result.note(shutdown_note(shutdown))
    fault_result.verify()


def _every_worker_served(stack: AppStack, pids: list[int], phase: str, attempts: int = 60) -> list[Sent]:
    """Make sure each gunicorn worker answered at least one request of `phase`: send more, each on a
    fresh connection (the kernel hands it to some worker), until the access log shows every pid."""
    extra: list[Sent] = []
    for _ in range(attempts):
        served = {pid for pid, _, _, _, q in stack.access_entries() if q == f"phase={phase}"}
        if set(pids) <= served:
            break
        client = Client(stack.port)
        out = zendesk_created(next(_EXTRA))
        began = time.perf_counter()
        reply = client.post(out, f"phase={phase}")
        extra.append(Sent(-len(extra) - 1, out, phase, reply, began, time.perf_counter()))
        client.close()
        time.sleep(0.05)
    return extra


def _first_per_worker(stack: AppStack, pids: list[int]) -> dict[tuple[str, int], int | None]:
    """(phase, worker pid) → the status of the first request that worker answered after the restart
    (None: it answered none)."""
    out: dict[tuple[str, int], int | None] = {(phase, pid): None for phase in ("after-1", "after-2") for pid in pids}
    for pid, status, method, _path, query in stack.access_entries():
        phase = query.removeprefix("phase=")
        if method == "POST" and (phase, pid) in out and out[(phase, pid)] is None:
            out[(phase, pid)] = status
    return out
