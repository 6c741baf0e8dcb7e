"""Test 6: 50 identical deliveries at once, per vendor — one row, one 202 (49 duplicates answered
200 with the same id), one ticket, one effect."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import pytest

from tests.faults.results import FaultResult
from tests.faults.targets import Deployed, Target
from tests.faults.traffic import OPENERS, Outgoing, Reply

COPIES = 50


@dataclass
class Outcome:
    answers: dict[str, int]
    delivery_ids: list[int | None]
    rows: int
    row_statuses: list[str]
    links: int
    created_entries: int


def send_copies(target: Target, out: Outgoing, copies: int) -> list[Reply]:
    """`copies` threads, each on its own connection, released together, all posting `out`."""
    replies: list[Reply] = []
    lock = threading.Lock()
    start = threading.Barrier(copies, timeout=60)

    def send() -> None:
        if isinstance(target, Deployed):
            target.client().get("/healthz")  # connected before the start line
        start.wait()
        reply = target.post(out)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return replies


@pytest.mark.faults
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("inprocess-sqlite", marks=pytest.mark.faults_ci),
        pytest.param("inprocess-postgres", marks=pytest.mark.faults_ci),
        "gunicorn-postgres",
    ],
)
def test_fifty_identical_deliveries_in_parallel_store_one_and_apply_once(kind, make_target, fault_result: FaultResult):
    target = make_target(kind)
    fault_result.title = f"{COPIES} identical deliveries in parallel"
    fault_result.scenario = (
        f"For each vendor, one ticket-opening delivery sent {COPIES} times at once (same bytes, same "
        f"signature; {COPIES} threads released together, each on its own connection) to {target.name}."
    )
    sent: dict[str, tuple[Outgoing, str, list[Reply]]] = {}
    for n, (vendor, (make, object_type)) in enumerate(OPENERS.items(), start=1):
        out = make(6000 + n)
        sent[vendor] = (out, object_type, send_copies(target, out, COPIES))

    settled = target.settle(timeout=120)
    rows = target.ledger.deliveries()
    effects = target.ledger.effects()
    outcomes: dict[str, Outcome] = {}
    for vendor, (out, object_type, replies) in sent.items():
        ids = sorted({r.delivery_id for r in replies}, key=str)
        mine = [row for row in rows.values() if row.vendor == vendor]
        only = ids[0] if len(ids) == 1 else None
        outcomes[vendor] = Outcome(
            answers=dict(
                Counter(
                    "202" if r.status == 202 else "200 duplicate" if r.status == 200 and r.duplicate else str(r.status)
                    for r in replies
                )
            ),
            delivery_ids=ids,
            rows=len(mine),
            row_statuses=[row.status for row in mine],
            links=target.ledger.links(vendor, object_type).get(out.object_id, 0),
            created_entries=effects.get((only, "created"), 0) if only is not None else 0,
        )
    tickets = target.ledger.tickets()
    fault_result.figures = {
        "copies_per_vendor": COPIES,
        "settled": settled,
        "tickets": tickets,
        **{v: o.__dict__ for v, o in outcomes.items()},
    }

    def check(name: str, ok: dict[str, bool], shown: dict[str, object]) -> None:
        fault_result.check(name, len(ok), sum(ok.values()), str({v: shown[v] for v, good in ok.items() if not good}))

    check(
        f"one 202 and {COPIES - 1} answers '200 duplicate' per delivery",
        {v: o.answers == {"202": 1, "200 duplicate": COPIES - 1} for v, o in outcomes.items()},
        {v: o.answers for v, o in outcomes.items()},
    )
    check(
        f"all {COPIES} answers carry the same delivery_id",
        {v: len(o.delivery_ids) == 1 and o.delivery_ids[0] is not None for v, o in outcomes.items()},
        {v: o.delivery_ids for v, o in outcomes.items()},
    )
    check("one row stored", {v: o.rows == 1 for v, o in outcomes.items()}, {v: o.rows for v, o in outcomes.items()})
    check(
        "the row is processed",
        {v: o.row_statuses == ["processed"] for v, o in outcomes.items()},
        {v: o.row_statuses for v, o in outcomes.items()},
    )
    check(
        "one effect: one link for the vendor object, one 'created' timeline entry",
        {v: (o.links, o.created_entries) == (1, 1) for v, o in outcomes.items()},
        {v: f"links {o.links}, created entries {o.created_entries}" for v, o in outcomes.items()},
    )
    fault_result.check("one ticket per delivery in all", 1, int(tickets == len(sent)), f"{tickets} tickets")
    fault_result.verify()
