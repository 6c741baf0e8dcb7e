"""Where acknowledgement tails come from: a long open-loop run against the connector on PostgreSQL +
Redis, beside two probes that know nothing of the connector.

    python -m bench.tails --rate 260 --duration 60

- the **disk probe** writes 8 KiB and `fdatasync`s it every 10 ms, in a file on the filesystem of
  PostgreSQL's data directory (a commit's WAL flush is the same call), and notes every flush slower
  than `--flush-ms`;
- the **machine probe** sleeps 1 ms in a loop and notes every wake-up more than `--stall-ms` late
  (the process was not scheduled: CPU steal, a frozen VM).

Afterwards: the acks slower than `--slow-ms`, grouped into stalls (slow acks due within 50 ms of each
other), each with the probe events that overlap it. A stall every connection's requests share, with
a slow flush at the same instant, is the disk: every durable acknowledgement waits for its commit's
flush, and nothing on our side can answer sooner without giving up the promise that a 202 is a row
that survives a crash.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.ingest import CONNECTOR_APP, SECRET, build_requests, once
from bench.load import open_loop
from bench.servers import HOST, Gunicorn, GunicornSettings, PostgresBackend

_FLUSH_PROBE = textwrap.dedent(
    """
    import os, sys, time
    path, end, slow = sys.argv[1], time.time() + float(sys.argv[2]), float(sys.argv[3]) / 1000
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while time.time() < end:
            t = time.perf_counter()
            os.pwrite(fd, b"x" * 8192, 0)
            os.fdatasync(fd)
            took = time.perf_counter() - t
            if took > slow:
                print(time.time() - took, took, flush=True)
            time.sleep(0.01)
    finally:
        os.close(fd)
        os.unlink(path)
    """
)
_STALL_PROBE = textwrap.dedent(
    """
    import sys, time
    end, slow = time.time() + float(sys.argv[1]), float(sys.argv[2]) / 1000
    last = time.time()
    while last < end:
        time.sleep(0.001)
        now = time.time()
        if now - last > slow:
            print(last, now - last, flush=True)
        last = now
    """
)


def probe_events(path: Path, offset: float) -> list[tuple[float, float]]:
    """(seconds into the phase, milliseconds) of each event a probe printed."""
    out = []
    for line in path.read_text().splitlines():
        at, took = (float(x) for x in line.split())
        out.append((round(at - offset, 3), round(took * 1000, 1)))
    return out


def stalls(slow: list[tuple[float, float]], gap: float = 0.05) -> list[dict[str, Any]]:
    """Slow acks (due time into the phase, ms) grouped by due time."""
    groups: list[list[tuple[float, float]]] = []
    for at, ms in sorted(slow):
        if groups and at - groups[-1][-1][0] <= gap:
            groups[-1].append((at, ms))
        else:
            groups.append([(at, ms)])
    return [
        {"from_s": round(g[0][0], 3), "to_s": round(g[-1][0], 3), "acks": len(g), "max_ms": max(ms for _, ms in g)}
        for g in groups
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.tails", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=260.0, help="deliveries per second (about half the max)")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--slow-ms", type=float, default=50.0, help="an ack this slow is part of a stall")
    ap.add_argument("--flush-ms", type=float, default=30.0, help="a flush this slow is noted")
    ap.add_argument("--stall-ms", type=float, default=20.0, help="a scheduling delay this long is noted")
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--pg-database", default="connector_bench")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    with psycopg.connect(args.pg_admin_url) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    data_dir = Path(row[0]) if row else Path(tempfile.gettempdir())
    flush_file = data_dir.parent / "bench-tails-flush-probe.bin"  # beside the data directory: same filesystem
    workdir = Path(tempfile.mkdtemp(prefix="bench-tails-"))
    backend = PostgresBackend(args.pg_admin_url, args.pg_database, args.redis_url)
    backend.setup()
    try:
        env = backend.env | {"ZENDESK_WEBHOOK_SECRETS": SECRET, "CONNECTOR_LOG_LEVEL": "WARNING"}
        settings = GunicornSettings(workers=args.workers, threads=args.threads)
        with Gunicorn(CONNECTOR_APP, settings, env, workdir / "connector.log") as server:
            rng = random.Random(11)
            warm = build_requests(300, server.port, rng)
            pool = build_requests(int(args.rate * args.duration) + 1, server.port, rng)
            open_loop(HOST, server.port, once(warm), rate=100, duration=2, connections=args.connections)
            window = str(args.duration + 3)
            flushes_out, stalls_out = workdir / "flush.txt", workdir / "stall.txt"
            with flushes_out.open("w") as f1, stalls_out.open("w") as f2:
                probes = [
                    subprocess.Popen(
                        [sys.executable, "-c", _FLUSH_PROBE, str(flush_file), window, str(args.flush_ms)], stdout=f1
                    ),
                    subprocess.Popen([sys.executable, "-c", _STALL_PROBE, window, str(args.stall_ms)], stdout=f2),
                ]
                wall, perf = time.time(), time.perf_counter()
                phase = open_loop(
                    HOST, server.port, once(pool), rate=args.rate, duration=args.duration, connections=args.connections
                )
                for p in probes:
                    p.wait(timeout=args.duration + 30)
        offset = wall + (phase.window[0] - perf)  # wall-clock time of the phase's start
        acks = sorted((s.due - phase.window[0], 1000 * (s.end - s.due)) for s in phase.samples if s.status == 202)
        flushes, delays = probe_events(flushes_out, offset), probe_events(stalls_out, offset)
        found = stalls([(at, ms) for at, ms in acks if ms > args.slow_ms])
        for stall in found:
            stall["disk_flushes"] = [f for f in flushes if stall["from_s"] - 0.25 <= f[0] <= stall["to_s"] + 0.05]
            stall["machine_delays"] = [d for d in delays if stall["from_s"] - 0.25 <= d[0] <= stall["to_s"] + 0.05]
        latencies = sorted(ms for _, ms in acks)
        report = {
            "rate": args.rate,
            "acks": len(latencies),
            "ack_ms": {
                "p50": latencies[len(latencies) // 2],
                "p99": latencies[int(len(latencies) * 0.99)],
                "max": latencies[-1],
            },
            "stalls": found,
            "stalls_with_a_slow_flush": sum(1 for s in found if s["disk_flushes"]),
            "slow_flushes": flushes,
            "machine_delays": delays,
        }
    finally:
        backend.teardown()
    print(
        f"{report['acks']} acks at {args.rate:g}/s: p50 {report['ack_ms']['p50']:.1f} ms, "
        f"p99 {report['ack_ms']['p99']:.1f} ms, max {report['ack_ms']['max']:.1f} ms"
    )
    print(
        f"stalls (acks > {args.slow_ms:g} ms): {len(found)}, of which with a slow disk flush: "
        f"{report['stalls_with_a_slow_flush']}"
    )
    for s in found:
        print(
            f"  {s['from_s']:7.2f}-{s['to_s']:.2f} s: {s['acks']:3d} acks, max {s['max_ms']:6.1f} ms; "
            f"flushes {s['disk_flushes']}; machine delays {s['machine_delays']}"
        )
    print(f"slow flushes in the run (s, ms): {flushes}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
