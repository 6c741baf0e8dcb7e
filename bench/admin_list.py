"""The admin ticket list at a million tickets: keyset paging against offset paging, with and without
a count, on PostgreSQL.

    python -m bench.admin_list [--tickets 1000000] [--repeat 5]

Fills a fresh database (`connector_bench_list`) with N tickets in one `INSERT … SELECT generate_series`
(statuses, severities and tiers cycling; every ticket's origin link in Zendesk; one in ten with a
breached clock), then times `list_tickets` — what `GET /api/tickets` and `/admin/tickets` run — for
each case (the median of `--repeat` runs, a warm cache) and reports each as a ratio to the first page
of the same filter measured in the same run."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from sqlalchemy import text

from bench.servers import PostgresBackend
from connector.store import Database
from connector.tickets import list_tickets

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

FILL = [
    """
    INSERT INTO tickets (id, title, status, severity, customer_tier, channel, support_level, created_at, updated_at,
                         tags, field_versions)
    SELECT n, 'Ticket ' || n || CASE WHEN n % 1000 = 7 THEN ' checkout outage' ELSE ' export question' END,
           (ARRAY['new','open','in_progress','waiting_on_customer','resolved','closed'])[1 + n % 6],
           (ARRAY['P0','P1','P2','P3'])[1 + n % 4],
           (ARRAY['enterprise','premium','standard','free'])[1 + (n / 7) % 4],
           'email', (ARRAY['L1','L2','L3'])[1 + n % 3],
           TIMESTAMPTZ '2026-01-01' + n * INTERVAL '10 seconds', TIMESTAMPTZ '2026-01-01' + n * INTERVAL '10 seconds',
           '[]', '{}'
    FROM generate_series(1, :n) AS n
    """,
    """
    INSERT INTO links (ticket_id, vendor, instance, object_type, external_id, role, created_at)
    SELECT n, 'zendesk', 'default', 'ticket', n::text, 'origin', now() FROM generate_series(1, :n) AS n
    """,
    """
    INSERT INTO sla_clocks (ticket_id, metric, cycle, state, target_seconds, started_at, due_at, breached_at,
                            paused_seconds, data, updated_at)
    SELECT n, 'first_response', 1, 'breached', 3600, now(), now(), now(), 0, '{}', now()
    FROM generate_series(10, :n, 10) AS n
    """,
    "SELECT setval('tickets_id_seq', :n)",
    "ANALYZE",
]


def timed(fn: Any, repeat: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres-admin-url", default=ADMIN_URL)
    args = parser.parse_args(argv)
    backend = PostgresBackend(args.postgres_admin_url, "connector_bench_list", "redis://127.0.0.1:6379/14")
    backend.setup()
    db = Database(backend.env["DATABASE_URL"])
    try:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for statement in FILL:
                conn.execute(text(statement), {"n": args.tickets})
        fill_s = round(time.perf_counter() - started, 1)
        n = args.tickets
        results = []
        for name, filters in (
            ("all", {}),
            ("status=open", {"status": "open"}),
            ("vendor=zendesk", {"vendor": "zendesk"}),
            ("sla=breached", {"sla": "breached"}),
            ("q=outage", {"q": "outage"}),
        ):
            with db.session() as s:

                def page(**kw: Any) -> Any:
                    return list_tickets(s, filters=filters, limit=50, **kw)  # noqa: B023  (called at once)

                first = timed(lambda: page(count=False), args.repeat)
                row = {
                    "filter": name,
                    "first_page_ms": first,
                    "keyset_last_pages_ms": timed(lambda: page(before=max(1, n // 100), count=False), args.repeat),
                    "offset_last_pages_ms": timed(lambda: page(offset=n - n // 100, count=False), args.repeat),
                    "first_page_with_count_ms": timed(lambda: page(count=True), args.repeat),
                }
                row["keyset_ratio"] = round(row["keyset_last_pages_ms"] / first, 2) if first else None
                row["offset_ratio"] = round(row["offset_last_pages_ms"] / first, 2) if first else None
                row["count_ratio"] = round(row["first_page_with_count_ms"] / first, 2) if first else None
                results.append(row)
                print(json.dumps(row), flush=True)
        print(json.dumps({"tickets": n, "fill_seconds": fill_s, "repeat": args.repeat}))
    finally:
        db.dispose()
        backend.teardown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
