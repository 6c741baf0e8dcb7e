"""Test 2: a `connector worker` SIGKILLed in the middle of a job, while a burst is being processed.

Private PostgreSQL and Redis, gunicorn, one worker. A burst of signed Zendesk deliveries is sent;
once the worker has processed part of it, the test freezes it (SIGSTOP) at a moment when RQ's
started-job registry names a running job whose delivery is not yet processed (thawing and trying
again a few milliseconds later otherwise), and SIGKILLs it frozen: it dies mid-job for certain. Then
a new worker is started. Promises: every 202 is a stored row; everything — the job that was cut off
included — is processed, each delivery taking effect exactly once.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from rq.registry import StartedJobRegistry

from connector import defaults
from connector.queue.jobqueue import delivery_ids_of
from tests.faults.ledger import Ledger
from tests.faults.results import FaultResult
from tests.faults.services import AppStack, PrivateRedis, WorkerProcess, private_postgres, wait_until
from tests.faults.traffic import Sender, zendesk_created
from tests.faults.verdicts import judge_acknowledged_and_once, shutdown_note

BURST = 300
KILL_AFTER = 30  # processed deliveries before the kill
SETTLE = 120.0


@pytest.mark.faults
@pytest.mark.timeout(420)
def test_worker_killed_mid_job_then_replaced_processes_everything_once(workdir: Path, fault_result: FaultResult):
    fault_result.title = "Worker SIGKILLed mid-job"
    fault_result.target = "gunicorn-postgres"
    with private_postgres("worker-kill") as pg:
        redis_server = PrivateRedis(workdir)
        redis_server.start()
        stack = AppStack(workdir, database_url=pg.create_database("faults"), redis_url=redis_server.url)
        ledger = Ledger(stack.database_url)
        try:
            stack.upgrade()
            stack.start_web()
            first = stack.start_worker()
            sender = Sender(stack.port, lambda i: zendesk_created(200_000 + i), threads=4, rate=400, limit=BURST)
            sender.phase = "burst"
            sender.start()
            reached = ledger.wait(lambda led: led.statuses().get("processed", 0) >= KILL_AFTER, 90, 0.05)
            started = StartedJobRegistry(defaults.QUEUE_NAME, connection=redis_server.client())
            in_flight, cut_off, cut_off_status, tries = _freeze_mid_job(first, started, ledger)
            first.kill(signal.SIGKILL)  # frozen, so it dies exactly where it was stopped
            processed_at_kill = ledger.statuses().get("processed", 0)
            after_kill = ledger.status_of(cut_off)
            mid_job = bool(cut_off) and all(s == "received" for s in after_kill.values())

            wait_until(lambda: len(sender.sent) >= BURST, 60)
            sent = sender.stop()
            time.sleep(1)
            second = stack.start_worker()
            settled = ledger.wait(lambda led: led.settled(), SETTLE)
            fault_result.scenario = (
                f"A burst of {len(sent)} signed Zendesk deliveries; after {processed_at_kill} were processed the "
                f"worker was SIGKILLed while running {', '.join(in_flight) or 'no job'}; then a new worker started "
                f"({SETTLE:.0f} s allowed)."
            )
            fault_result.expect(
                "the kill landed while a job was running, before its delivery was processed",
                mid_job,
                f"preconditions: {KILL_AFTER} processed first: {reached}; running when frozen ({tries} tries): "
                f"{in_flight}, status {cut_off_status}; after the kill: {after_kill} (the test did not test what it claims)",
            )
            figures = judge_acknowledged_and_once(fault_result, ledger, sent, stack.worker_logs())
            final = ledger.status_of(cut_off)
            fault_result.check(
                "the job cut off by the kill was processed later",
                len(cut_off),
                sum(1 for s in final.values() if s == "processed"),
                str(final),
            )
            fault_result.expect("the new worker is running", second.alive(), second.exit_summary())
            fault_result.figures = figures | {
                "processed_before_kill": processed_at_kill,
                "running_at_kill": in_flight,
                "freeze_attempts": tries,
                "status_after_kill": {str(k): v for k, v in after_kill.items()},
                "settled": settled,
            }
        finally:
            shutdown = stack.stop()
            redis_server.close()
            ledger.close()
    fault_result.figures["shutdown"] = shutdown
    fault_result.note(shutdown_note(shutdown))
    fault_result.verify()


def _freeze_mid_job(
    worker: WorkerProcess, started: StartedJobRegistry, ledger: Ledger, attempts: int = 500
) -> tuple[list[str], list[int], dict[int, str], int]:
    """SIGSTOP the worker at a moment when RQ says a job runs and that job's delivery is not yet
    processed (its transaction not committed): killed while frozen, it dies mid-job for certain.
    Otherwise SIGCONT and look again a few milliseconds later. Returns the running job ids, their
    delivery ids and statuses, and the number of tries (the worker is left frozen, or running if no
    try succeeded)."""
    for n in range(1, attempts + 1):
        worker.freeze()
        running = started.get_job_ids(cleanup=False)
        ids = [i for j in running for i in delivery_ids_of(j)]
        status = ledger.status_of(ids)
        if ids and all(s == "received" for s in status.values()):
            return running, ids, status, n
        worker.thaw()
        time.sleep(0.002 + 0.003 * (n % 4))
    return [], [], {}, attempts
