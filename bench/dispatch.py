"""The inbox → RQ hop: CPU of this process (the dispatcher's side) per delivery id moved, for the
dispatcher as it is (`JobQueue.dispatch`: a batch of ids popped, their jobs made with one pipeline)
beside the same jobs made one `enqueue_call` at a time (RQ's plain API, how the dispatcher made them
until 2026-12-04), on the same Redis in the same run, rounds alternated.

    python -m bench.dispatch [--redis-url redis://127.0.0.1:6379/12] [--ids 5000] [--rounds 3]
    python -m bench.dispatch --embedded        # the in-process fakeredis of the embedded default

The Redis database is flushed before and after. Redis's own CPU is not in the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from connector import defaults
from connector.queue import JobQueue


def one_by_one(queue: JobQueue, ids: list[int]) -> None:
    """The baseline: one RQ enqueue (its own round trips) per id."""
    for delivery_id in ids:
        queue.rq.enqueue_call(
            "connector.inbox.jobs.process_delivery",
            args=(delivery_id,),
            job_id=f"delivery-{delivery_id}",
            timeout=defaults.JOB_TIMEOUT_SECONDS,
            result_ttl=0,
            failure_ttl=7 * 24 * 3600,
            description=f"process delivery {delivery_id}",
        )


def batched(queue: JobQueue, ids: list[int]) -> None:
    """What the dispatcher does: pop up to 500 ids from the inbox, one pipeline of jobs for them."""
    queue.notify_deliveries(ids)
    while queue.dispatch():
        pass


def measure(queue: JobQueue, how: Any, ids: list[int]) -> float:
    queue.connection.flushdb()
    cpu = time.process_time()
    how(queue, ids)
    spent = time.process_time() - cpu
    assert queue.rq.count == len(ids), (queue.rq.count, len(ids))
    return 1e6 * spent / len(ids)


def run(args: argparse.Namespace) -> dict[str, Any]:
    queue = JobQueue.embedded() if args.embedded else JobQueue.from_url(args.redis_url)
    ids = list(range(1, args.ids + 1))
    figures: dict[str, list[float]] = {"one_by_one": [], "batched": []}
    try:
        for _ in range(args.rounds):
            figures["one_by_one"].append(measure(queue, one_by_one, ids))
            figures["batched"].append(measure(queue, batched, ids))
    finally:
        queue.connection.flushdb()
    med = {name: statistics.median(values) for name, values in figures.items()}
    return {
        "redis": "embedded fakeredis" if args.embedded else args.redis_url,
        "ids": args.ids,
        "rounds": args.rounds,
        "cpu_us_per_id": {name: [round(v, 1) for v in values] for name, values in figures.items()},
        "median_us_per_id": {name: round(v, 1) for name, v in med.items()},
        "batched_over_one_by_one": round(med["batched"] / med["one_by_one"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="flushed before and after")
    p.add_argument("--embedded", action="store_true", help="the in-process fakeredis instead of --redis-url")
    p.add_argument("--ids", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=3)
    print(json.dumps(run(p.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
