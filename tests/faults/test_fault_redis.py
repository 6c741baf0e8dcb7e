"""Test 1: Redis SIGKILLed under load and restarted empty on the same port.

Production shape on private services: PostgreSQL cluster and redis-server of the test's own,
`connector db upgrade`, gunicorn (2 workers × 4 threads), two `connector worker` processes. A background
sender posts signed Zendesk `ticket.created` deliveries (a ticket each) throughout. Redis is
SIGKILLed, stays down a few seconds, and comes back empty. Promises: every 202 is a stored row;
every stored delivery is processed, each taking effect exactly once; the workers recover by
themselves (still running, and processing what arrived during and after the outage).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.ledger import Ledger
from tests.faults.results import FaultResult
from tests.faults.services import AppStack, PrivateRedis, private_postgres, summarize_errors
from tests.faults.traffic import Sender, zendesk_created
from tests.faults.verdicts import judge_acknowledged_and_once, shutdown_note

BEFORE, DOWN, AFTER = 4.0, 4.0, 6.0  # seconds of load before the kill, while down, after the restart
RATE = 30.0  # deliveries per second offered, in all (about what two workers process on 2 shared cores)
SETTLE = 120.0  # seconds allowed to process everything afterwards (a delivery Redis lost waits 10 s for the reconciler)


@pytest.mark.faults
@pytest.mark.timeout(420)
def test_redis_killed_and_restarted_empty_under_load(workdir: Path, fault_result: FaultResult):
    fault_result.title = "Redis SIGKILLed and restarted empty under load"
    fault_result.target = "gunicorn-postgres"
    with private_postgres("redis-kill") as pg:
        redis_server = PrivateRedis(workdir)
        redis_server.start()
        stack = AppStack(workdir, database_url=pg.create_database("faults"), redis_url=redis_server.url)
        ledger = Ledger(stack.database_url)
        try:
            stack.upgrade()
            stack.start_web()
            workers = [stack.start_worker(), stack.start_worker()]
            sender = Sender(stack.port, lambda i: zendesk_created(100_000 + i), threads=4, rate=RATE).start()
            sender.phase = "before"
            time.sleep(BEFORE)
            sender.phase = "redis-down"
            redis_server.kill()
            time.sleep(DOWN)
            redis_server.start()  # same port, nothing in it
            sender.phase = "after"
            time.sleep(AFTER)
            sent = sender.stop()
            alive_after_load = [w.alive() for w in workers]

            # (no use waiting once no worker is left to do the work)
            ledger.wait(lambda led: led.settled() or not any(w.alive() for w in workers), SETTLE)
            settled = ledger.settled()
            alive = [w.alive() for w in workers]
            fault_result.scenario = (
                f"{len(sent)} signed Zendesk deliveries at ~{RATE:.0f}/s: {BEFORE:.0f} s before, Redis SIGKILLed, "
                f"{DOWN:.0f} s down, restarted empty on the same port, {AFTER:.0f} s after; two `connector worker` "
                f"processes; {SETTLE:.0f} s allowed to catch up."
            )
            figures = judge_acknowledged_and_once(fault_result, ledger, sent, stack.worker_logs())
            fault_result.check(
                "the workers are still running (they recovered by themselves)",
                len(workers),
                sum(alive),
                "; ".join(f"worker {i + 1}: {w.exit_summary()}" for i, w in enumerate(workers) if not w.alive()),
            )
            figures |= {
                "settled": settled,
                "workers_alive_after_load": alive_after_load,
                "workers_alive_at_end": alive,
                "worker_exits": [w.exit_summary() for w in workers if not w.alive()],
                "worker_errors": [line for w in workers for line in summarize_errors(w.log, 4)],
            }
            if not all(alive) or not settled:
                # Is the data recoverable? A fresh worker shows whether only the process was lost.
                stack.start_worker()
                ledger.wait(lambda led: led.settled(), SETTLE)
                again = FaultResult(test="recovery", variant="full")
                judge_acknowledged_and_once(again, ledger, sent, stack.worker_logs())
                fault_result.note(
                    "after the checks, a fresh `connector worker` was started: "
                    + "; ".join(f"{c.name}: {c.held} of {c.tried}" for c in again.checks)
                )
            fault_result.figures = figures
        finally:
            shutdown = stack.stop()
            redis_server.close()
            ledger.close()
    fault_result.figures["shutdown"] = shutdown
    fault_result.note(shutdown_note(shutdown))
    fault_result.verify()
