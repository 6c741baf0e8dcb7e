"""Ingest benchmark: signed Zendesk deliveries against the connector under gunicorn, and the same
load against a bare Flask app answering 202 under the same gunicorn settings.

    python -m bench.ingest --backend sqlite|postgres --duration 10 --workers 2

Per target: a closed loop at fixed concurrency (the maximum rate; with several concurrencies, one
closed loop at each and the best of them), then an open loop at half the connector's maximum rate
(ack latency under a steady load). Bodies are built and signed before
each timed phase. Afterwards every 202 is checked against the deliveries table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.zendesk import signature
from bench.ingest_table import TARGET_P99_MS, TARGET_RATIO, table
from bench.load import PhaseResult, RequestSource, Sample, closed_loop, http_request, open_loop
from bench.servers import HOST, Backend, Gunicorn, GunicornSettings, PostgresBackend, SqliteBackend, spreader
from connector.demo.payloads import zendesk_event, zendesk_ticket

SECRET = "bench-zendesk-signing-secret"
CONNECTOR_APP = "webhooks.app:create_app()"
BARE_APP = "bench.bare_app:create_app()"
PATH = "/webhooks/zendesk"

_AGENTS = (("42", "Maya Chen"), ("43", "Tomás Ruiz"), ("44", "Aiko Tanaka"))
_SUBJECTS = (
    "Cannot export invoices",
    "SSO login loops back to the sign-in page",
    "Webhook retries flooding our endpoint",
    "Refund not showing on the statement",
)
_STATUSES = ("NEW", "OPEN", "PENDING", "HOLD", "SOLVED")
_PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
#: event type → weight: replies and status changes dominate real ticket traffic
_MIX = {"comment_added": 4, "status_changed": 2, "created": 2, "priority_changed": 1, "tags_changed": 1}


def zendesk_payload(rng: random.Random, at: datetime) -> dict[str, Any]:
    """One ticket event webhook with a fresh envelope id, shaped as Zendesk documents it."""
    name = rng.choices(list(_MIX), weights=list(_MIX.values()))[0]
    ticket_id = rng.randint(10_000, 10_499)
    status, priority = rng.choice(_STATUSES), rng.choice(_PRIORITIES)
    created = at - timedelta(hours=rng.randint(1, 72))
    ticket = zendesk_ticket(
        ticket_id=ticket_id,
        subject=rng.choice(_SUBJECTS),
        description="Steps to reproduce are in the first comment.",
        status=status,
        priority=priority,
        requester_id=str(rng.randint(900_000, 999_999)),
        organization_id=str(rng.randint(70, 90)),
        tags=rng.sample(["billing", "sso", "vip", "webhooks", "refund", "eu"], 2),
        created=created,
        updated=at,
        assignee_id=rng.choice(_AGENTS)[0],
    )
    event: dict[str, Any] = {}
    if name == "comment_added":
        agent = rng.choice(_AGENTS)
        event = {
            "comment": {
                "id": str(rng.randint(10**9, 10**10)),
                "body": "Thanks, we are looking into it.",
                "is_public": rng.random() < 0.7,
                "author": {"id": agent[0], "is_staff": True, "name": agent[1]},
            }
        }
    elif name == "status_changed":
        event = {"current": status, "previous": rng.choice([s for s in _STATUSES if s != status])}
    elif name == "priority_changed":
        event = {"current": priority, "previous": rng.choice([p for p in _PRIORITIES if p != priority])}
    elif name == "tags_changed":
        event = {"tags_added": ["escalated"], "tags_removed": []}
    return zendesk_event(name, ticket, event, at)


def signed_headers(body: bytes) -> dict[str, str]:
    """What Zendesk sends with a webhook body: JSON, the webhook's id, the signature and its time."""
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Id": "01HWBENCH0000000000000000",
        **signature.sign(body=body, secret=SECRET, now=datetime.now(UTC)),
    }


def build_requests(count: int, port: int, rng: random.Random) -> list[bytes]:
    """`count` complete, signed HTTP requests, each a distinct delivery."""
    out = []
    for _ in range(count):
        body = json.dumps(zendesk_payload(rng, datetime.now(UTC))).encode()
        headers = signed_headers(body) | {
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Webhook-Invocation-Id": str(rng.getrandbits(63)),
        }
        out.append(http_request(HOST, port, PATH, body, headers))
    return out


def once(pool: list[bytes]) -> RequestSource:
    return lambda i: pool[i] if i < len(pool) else None


def cycled(pool: list[bytes]) -> RequestSource:
    return lambda i: pool[i % len(pool)]


def with_cpu(server: Gunicorn, run: Callable[[], PhaseResult]) -> PhaseResult:
    """Run a phase and attach the CPU used meanwhile: server processes and this generator, in % of a
    core; and per gunicorn worker, the client connections it held (sampled 1 s in) and its CPU."""
    wall, gen, srv = time.perf_counter(), time.process_time(), server.cpu_seconds()
    workers = server.worker_cpu_seconds()
    held: list[int] = []
    sampler = threading.Timer(1.0, lambda: held.extend(server.connections_by_worker()))
    sampler.start()
    phase = run()
    sampler.cancel()
    wall = time.perf_counter() - wall
    phase.cpu = {
        "server": 100 * (server.cpu_seconds() - srv) / wall,
        "generator": 100 * (time.process_time() - gen) / wall,
    }
    after = server.worker_cpu_seconds()
    phase.spread = {
        "connections": [float(n) for n in held],
        "cpu_percent": [round(100 * (after.get(pid, 0.0) - used) / wall, 1) for pid, used in sorted(workers.items())],
    }
    return phase


def bench_target(
    server: Gunicorn, args: argparse.Namespace, rng: random.Random, *, unique: bool, half_rate: float | None
) -> tuple[dict[int, PhaseResult], PhaseResult, list[Sample]]:
    """Max phases (one per concurrency) then the half phase against one server; returns the max phases
    by concurrency, the half phase and every sample (for the store check).

    `unique`: each request is a new delivery (the connector dedupes); else a small pool is cycled.
    `half_rate`: the open loop's rate; None → half of this target's own maximum (the best max phase).
    """
    warm: list[Sample] = []
    moves: list[int] = []
    prepare = spreader(server, moves) if args.spread else None
    tops: dict[int, PhaseResult] = {}
    for concurrency in args.concurrency:
        if unique:
            source = once(build_requests(int(args.pool_rate * (args.warmup + args.duration)), server.port, rng))
        else:
            source = cycled(build_requests(500, server.port, rng))

        def max_phase(source: RequestSource = source, concurrency: int = concurrency) -> PhaseResult:
            w, phase = closed_loop(
                HOST,
                server.port,
                source,
                concurrency=concurrency,
                warmup=args.warmup,
                duration=args.duration,
                prepare=prepare,
            )
            warm.extend(w)
            return phase

        tops[concurrency] = with_cpu(server, max_phase)
        if moves:
            tops[concurrency].spread["reconnected"] = [float(moves[-1])]
    top = best(tops)
    rate = half_rate if half_rate is not None else top.summary()["accepted_per_s"] / 2
    if rate <= 0:
        raise RuntimeError(f"no delivery accepted in the max phase: {top.summary()}\n{server.log_tail()}")
    if unique:
        source = once(build_requests(int(rate * args.duration) + 1, server.port, rng))
    half = with_cpu(
        server,
        lambda: open_loop(
            HOST,
            server.port,
            source,
            rate=rate,
            duration=args.duration,
            connections=args.open_connections,
            prepare=prepare,
        ),
    )
    if moves:
        half.spread["reconnected"] = [float(moves[-1])]
    return tops, half, warm + [s for t in tops.values() for s in t.samples] + half.samples


def best(tops: dict[int, PhaseResult]) -> PhaseResult:
    """The max phase with the most deliveries accepted per second."""
    return max(tops.values(), key=lambda t: t.summary()["accepted_per_s"])


def phases(tops: dict[int, PhaseResult], half: PhaseResult) -> dict[str, Any]:
    """A target's phases as reported: `max` is the best closed loop (with its concurrency); with
    several concurrencies each is also reported as `max@N`."""
    out: dict[str, Any] = {}
    if len(tops) > 1:
        out |= {f"max@{n}": t.summary() | {"concurrency": n} for n, t in tops.items()}
    top = best(tops)
    out["max"] = top.summary() | {"concurrency": next(n for n, t in tops.items() if t is top)}
    out["half"] = half.summary()
    return out


def make_backend(args: argparse.Namespace, workdir: Path) -> Backend:
    if args.backend == "sqlite":
        return SqliteBackend(workdir)
    return PostgresBackend(args.pg_admin_url, args.pg_database, args.redis_url, keep=args.keep)


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = GunicornSettings(workers=args.workers, worker_class=args.worker_class, threads=args.threads)
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="connector-bench-"))
    backend = make_backend(args, workdir)
    load_before = os.getloadavg()
    backend.setup()
    try:
        env = backend.env | {
            "ZENDESK_WEBHOOK_SECRETS": SECRET,
            "CONNECTOR_LOG_LEVEL": args.log_level,
            "CONNECTOR_ADMIN_TOKEN": secrets.token_urlsafe(24),
            **({"CONNECTOR_INGEST_WINDOW_MS": str(args.window_ms)} if args.window_ms is not None else {}),
            **({"CONNECTOR_INGEST_BATCH_MAX": str(args.batch_max)} if args.batch_max is not None else {}),
            **({"CONNECTOR_INGEST_WRITERS": str(args.writers)} if args.writers is not None else {}),
            **({"CONNECTOR_PROCESS_BATCH_MAX": str(args.process_batch)} if args.process_batch is not None else {}),
        }
        with Gunicorn(args.connector_app, settings, env, workdir / "connector.log") as server:
            c_tops, c_half, c_samples = bench_target(server, args, rng, unique=True, half_rate=None)
        stored = backend.stored()
        half_rate = c_half.offered_rate
        with Gunicorn(BARE_APP, settings, {}, workdir / "bare.log") as server:
            b_tops, b_half, _ = bench_target(server, args, rng, unique=False, half_rate=half_rate)
    finally:
        backend.teardown()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    accepted = sum(1 for s in c_samples if s.status == 202)
    targets = {
        "connector": phases(c_tops, c_half),
        "bare": phases(b_tops, b_half),
    }
    ratio = targets["connector"]["max"]["accepted_per_s"] / max(targets["bare"]["max"]["accepted_per_s"], 1e-9)
    p99_half = targets["connector"]["half"]["ack_ms"]["p99"]
    return {
        "backend": backend.name,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "python": sys.version.split()[0],
            "note": "the load generator runs on the same cores as the servers (see cpu_percent)",
        },
        "gunicorn": settings.__dict__ | {"connector_app": args.connector_app},
        "load": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "open_connections": args.open_connections,
            "half_rate_per_s": round(half_rate or 0, 1),
            "log_level": args.log_level,
            "spread": args.spread,
            "ingest_window_ms": args.window_ms,
            "ingest_batch_max": args.batch_max,
            "ingest_writers": args.writers,
            "process_batch_max": args.process_batch,
        },
        "targets": targets,
        "ratio": round(ratio, 3),
        "storage": {
            "accepted_202": accepted,
            **stored,
            "all_stored": stored["rows"] == accepted and stored["distinct_keys"] == accepted,
        },
        "goals": {
            f"ratio >= {TARGET_RATIO}": ratio >= TARGET_RATIO,
            f"p99 at half max < {TARGET_P99_MS:g} ms": p99_half is not None and p99_half < TARGET_P99_MS,
        },
        "logs": str(workdir) if args.keep else None,
    }


def _levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"connections must be positive integers, got {text!r}")
    return levels


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured load before the max phase")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument(
        "--concurrency",
        type=_levels,
        default=[8],
        help="connections in the max (closed-loop) phase; several (8,16,32): one max phase at each, the best "
        "of them is the target's maximum",
    )
    p.add_argument("--open-connections", type=int, default=16, help="connections in the half (open-loop) phase")
    p.add_argument(
        "--pool-rate",
        type=float,
        default=1500.0,
        help="deliveries pre-signed per second of max phase (the phase ends early if used up)",
    )
    p.add_argument(
        "--connector-app",
        default=CONNECTOR_APP,
        help="gunicorn target of the connector; 'webhooks.app:create_app(start_worker=False)' "
        "measures SQLite acks without the embedded worker (a diagnosis, not a deployment)",
    )
    p.add_argument(
        "--spread",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="spread each phase's connections evenly over the gunicorn workers before it starts (default);"
        " --no-spread leaves them where the kernel put them, as runs before 2026-12-04 did",
    )
    p.add_argument("--log-level", default="INFO", help="CONNECTOR_LOG_LEVEL of the connector")
    p.add_argument("--window-ms", type=float, help="CONNECTOR_INGEST_WINDOW_MS of the connector (group commit)")
    p.add_argument("--batch-max", type=int, help="CONNECTOR_INGEST_BATCH_MAX of the connector (group commit)")
    p.add_argument("--writers", type=int, help="CONNECTOR_INGEST_WRITERS of the connector (batches stored at once)")
    p.add_argument(
        "--process-batch", type=int, help="CONNECTOR_PROCESS_BATCH_MAX of the connector (embedded: deliveries per job)"
    )
    p.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--pg-database", default="connector_bench", help="dropped and recreated for each run")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="flushed before and after")
    p.add_argument("--seed", type=int, default=20260306)
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the database and the server logs")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    report = run(args)
    print(table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["storage"]["all_stored"] else 1


if __name__ == "__main__":
    sys.exit(main())
