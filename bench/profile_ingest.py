"""Where the connector's acknowledgement time goes: cProfile over the WSGI app, in one process.

    python -m bench.profile_ingest --backend sqlite|postgres --requests 2000

Signed environs are built first; the profiled loop only calls the WSGI app, so the figures are the
request path itself (no HTTP server, no client, no embedded worker). The same loop over the bare
app gives the floor Flask itself costs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.bare_app import create_app as create_bare_app
from bench.ingest import PATH, SECRET, signed_headers, zendesk_payload
from bench.servers import Backend, PostgresBackend, SqliteBackend

#: (label, file suffix, function name): the parts of the request path worth a line of their own
PARTS = (
    ("whole request (Flask.wsgi_app)", "flask/app.py", "wsgi_app"),
    ("connector.inbox.sink.receive", "connector/inbox/sink.py", "receive"),
    ("  signature verify", "zendesk/signature.py", "verify"),
    ("  adapter.parse (pydantic)", "zendesk/inbound.py", "parse"),
    ("  adapter.event_type + delivery_key", "zendesk/inbound.py", "delivery_key"),
    ("  _store (INSERT + COMMIT)", "connector/inbox/sink.py", "_store"),
    ("    session commit", "sqlalchemy/orm/session.py", "commit"),
    ("    session flush", "sqlalchemy/orm/session.py", "flush"),
    ("  notify_deliveries (inbox LPUSH)", "connector/queue/jobqueue.py", "notify_deliveries"),
    ("  logging (Logger.info)", "logging/__init__.py", "info"),
    ("  metrics (prometheus inc)", "prometheus_client/metrics.py", "inc"),
    ("jsonify", "flask/json/__init__.py", "jsonify"),
)


def environs(count: int, rng: random.Random) -> list[dict[str, Any]]:
    import json
    from datetime import UTC, datetime

    out = []
    for _ in range(count):
        body = json.dumps(zendesk_payload(rng, datetime.now(UTC))).encode()
        builder = EnvironBuilder(path=PATH, method="POST", data=body, headers=signed_headers(body))
        out.append(builder.get_environ())
    return out


def drive(app: Callable[..., Iterable[bytes]], envs: list[dict[str, Any]]) -> int:
    accepted = 0

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        nonlocal accepted
        accepted += status.startswith("202")

    for env in envs:
        for _ in app(env, start_response):
            pass
    return accepted


def profile(
    name: str,
    app: Callable[..., Iterable[bytes]],
    envs: list[dict[str, Any]],
    top: int,
    sort: str,
    *,
    cpu_timer: bool = False,
) -> None:
    drive(app, envs[:50])  # warm caches and connections
    plain, envs = envs[50 : 50 + len(envs) // 3], envs[50 + len(envs) // 3 :]
    wall, cpu = time.perf_counter(), time.process_time()
    drive(app, plain)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"\n== {name}: {1e6 * wall / len(plain):.0f} us/request without profiler, {1e6 * cpu / len(plain):.0f} us "
        f"of this process's CPU ({len(plain)} requests)"
    )
    # --cpu: the profiler's clock is this process's CPU time, so waiting for the database is not counted
    prof = cProfile.Profile(time.process_time) if cpu_timer else cProfile.Profile()
    wall = time.perf_counter()
    prof.enable()
    accepted = drive(app, envs)
    prof.disable()
    wall = time.perf_counter() - wall
    stats = pstats.Stats(prof)
    n = len(envs)
    print(f"   {n} requests under cProfile, {accepted} answered 202, {1e6 * wall / n:.0f} us/request")
    for label, suffix, func in PARTS:
        cum = sum(v[3] for k, v in stats.stats.items() if k[0].endswith(suffix) and k[2] == func)  # type: ignore[attr-defined]
        if cum:
            print(f"  {label:<40} {1e6 * cum / n:8.0f} us/request")
    if not top:
        return
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats(sort).print_stats(top)
    print("\n".join(out.getvalue().splitlines()[6:]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--top", type=int, default=25, help="functions listed")
    p.add_argument("--sort", default="tottime", help="pstats order of the listing: tottime, cumulative...")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--cpu", action="store_true", help="profile CPU time (time.process_time), not wall time")
    p.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--pg-database", default="connector_bench")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = p.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="connector-profile-"))
    backend: Backend = (
        SqliteBackend(workdir)
        if args.backend == "sqlite"
        else PostgresBackend(args.pg_admin_url, args.pg_database, args.redis_url)
    )
    backend.setup()
    try:
        os.environ.update(backend.env | {"ZENDESK_WEBHOOK_SECRETS": SECRET, "CONNECTOR_LOG_LEVEL": args.log_level})
        if args.backend == "sqlite":
            os.environ.pop("REDIS_URL", None)
        from webhooks.app import create_app

        envs = environs(args.requests * 3 // 2 + 50, random.Random(7))
        bare_envs = environs(args.requests * 3 // 2 + 50, random.Random(8))
        # The JSON log handler binds sys.stderr when the app is built: the lines cost, but are not shown.
        with open(os.devnull, "w") as devnull:
            sys.stderr = devnull
            try:
                app = create_app(start_worker=False)
                profile(f"connector ({args.backend})", app, envs, args.top, args.sort, cpu_timer=args.cpu)
                profile("bare Flask app", create_bare_app(), bare_envs, 0, args.sort, cpu_timer=args.cpu)
            finally:
                sys.stderr = sys.__stderr__
                logging.getLogger().handlers.clear()
        app.extensions["connector"].close()
    finally:
        backend.teardown()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
