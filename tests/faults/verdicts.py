"""The judgement shared by the tests that kill a service under load: what was acknowledged is stored,
and every stored delivery took effect exactly once.

The load is Zendesk `ticket.created` deliveries, each for a ticket of its own, so the effect of a
delivery is countable: one link for its Zendesk ticket, one `created` timeline entry written by it,
one canonical ticket.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from tests.faults.ledger import Ledger, examples
from tests.faults.results import FaultResult
from tests.faults.services import processed_log_counts
from tests.faults.traffic import Sent


def answers_by_phase(sent: list[Sent]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for s in sent:
        label = str(s.reply.status) if s.reply.status else f"no answer ({s.reply.error})"
        out.setdefault(s.phase, Counter())[label] += 1
    return {phase: dict(sorted(c.items())) for phase, c in out.items()}


def judge_acknowledged_and_once(
    result: FaultResult, ledger: Ledger, sent: list[Sent], worker_logs: list[Path]
) -> dict[str, Any]:
    """Checks: every 202 is a stored row of that delivery; every stored delivery is processed; each
    took effect once. Returns figures for the record."""
    rows = ledger.deliveries()
    by_key = {row.dedupe_key: row for row in rows.values()}
    sent_by_key = {s.out.key: s for s in sent}
    accepted = [s for s in sent if s.reply.status == 202]

    missing = [
        f"seq {s.seq} (delivery_id {s.reply.delivery_id}, phase {s.phase})"
        for s in accepted
        if s.reply.delivery_id not in rows or rows[s.reply.delivery_id].dedupe_key != s.out.key
    ]
    result.check(
        "every 202 is a stored row of that delivery", len(accepted), len(accepted) - len(missing), examples(missing)
    )

    statuses = Counter(row.status for row in rows.values())
    not_done = [row for row in rows.values() if row.status != "processed"]
    errors = Counter(f"{row.status}: {(row.error or '')[:120]}" for row in not_done).most_common(4)
    result.check(
        "every stored delivery processed",
        len(rows),
        len(rows) - len(not_done),
        f"statuses {dict(statuses)}; {errors}",
    )

    effects = ledger.effects()
    links = ledger.links("zendesk", "ticket")
    wrong: list[str] = []
    for row in rows.values():
        s = sent_by_key.get(row.dedupe_key)
        if s is None:
            wrong.append(f"row {row.id}: a delivery this test never sent ({row.dedupe_key})")
            continue
        created, linked = effects.get((row.id, "created"), 0), links.get(s.out.object_id, 0)
        if (created, linked) != (1, 1):
            wrong.append(f"delivery {row.id} (ticket {s.out.object_id}): {created} 'created' entries, {linked} links")
    result.check(
        "each stored delivery took effect exactly once (one link, one 'created' entry)",
        len(rows),
        len(rows) - len(wrong),
        examples(wrong),
    )
    tickets = ledger.tickets()
    result.expect(
        "one ticket per stored delivery", tickets == len(rows), f"{tickets} tickets for {len(rows)} deliveries"
    )

    logged = processed_log_counts(worker_logs)
    once = sum(1 for r in rows if logged.get(r) == 1)
    twice = sorted(r for r in rows if logged.get(r, 0) > 1)
    return {
        "requests": len(sent),
        "answers_by_phase": answers_by_phase(sent),
        "accepted_202": len(accepted),
        "rows": len(rows),
        "row_statuses": dict(statuses),
        "stored_without_a_202": len([k for k in by_key if k in sent_by_key and sent_by_key[k].reply.status != 202]),
        "tickets": tickets,
        "processing_logged_once": once,
        "processing_logged_more_than_once": len(twice),
        "processing_logged_more_than_once_ids": twice[:20],
    }


def shutdown_note(ended: dict[str, str]) -> str:
    """How the processes took the end of the test (SIGTERM, as `docker stop` sends): an observation,
    not one of issue 8's promises."""
    return "at the end, SIGTERM to every process: " + "; ".join(f"{k} {v}" for k, v in ended.items())
