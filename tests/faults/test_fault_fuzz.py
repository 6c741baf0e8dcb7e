"""Test 4: every fixture of tests/fixtures/<vendor>/, mutated and signed correctly (the operators are
in tests/faults/mutations.py).

The promises: no 5xx ever; every signed body is stored — a row of its own, byte for byte, for each
one (a 400 answer carries its delivery_id); after processing nothing is `failed`, `dead` or still
`received`: a body no retry can fix is `rejected` at once. On SQLite (embedded) and on a private
PostgreSQL; in-process with a burst worker for the CI variant, through gunicorn and `connector
worker` for the full one.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.ledger import SETTLED, examples
from tests.faults.mutations import Mutation, Mutator
from tests.faults.results import FaultResult
from tests.faults.traffic import Reply

#: fast (CI): two operators per fixture, in turn; full: every operator at 3 paths of every fixture
MUTATORS = {
    "fast": (lambda: Mutator(per_op=1, ops_per_case=2), "2 operators per fixture, in turn"),
    "full": (lambda: Mutator(per_op=3), "every operator at 3 paths of each fixture"),
}


@pytest.mark.faults
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("inprocess-sqlite", marks=pytest.mark.faults_ci),
        pytest.param("inprocess-postgres", marks=pytest.mark.faults_ci),
        "gunicorn-sqlite",
        "gunicorn-postgres",
    ],
)
def test_mutated_fixtures_never_5xx_and_are_all_stored(kind, make_target, fault_result: FaultResult):
    target = make_target(kind)
    build, how = MUTATORS[fault_result.variant]
    mutator = build()
    mutations = mutator.all()
    fixtures = len({m.case for m in mutations if not m.case.endswith("/<body>")})
    fault_result.title = "Mutation fuzzing of every fixture"
    fault_result.scenario = (
        f"{len(mutations)} signed mutations of the {fixtures} fixtures ("
        f"{how}, the event type of each, and 5 whole-body replacements per vendor) against {target.name}."
    )

    # sequentially in-process (one SQLite writer anyway); 4 connections against gunicorn
    threads = 1 if kind.startswith("inprocess") else 4
    with ThreadPoolExecutor(threads) as pool:
        replies: list[Reply] = list(pool.map(lambda m: target.post(m.out), mutations))
    settled = target.settle(timeout=300)
    rows = target.ledger.deliveries()

    pairs = list(zip(mutations, replies, strict=True))
    statuses = Counter(r.status for r in replies)
    by_op: dict[str, Counter[int]] = defaultdict(Counter)
    for m, r in pairs:
        by_op[m.op][r.status] += 1
    fault_result.figures = {
        "requests": len(mutations),
        "fixtures": fixtures,
        "operators": sorted(by_op),
        "identical_bodies_skipped": mutator.skipped_duplicates,
        "answers": {str(k): v for k, v in sorted(statuses.items())},
        "answers_by_operator": {op: {str(k): v for k, v in sorted(c.items())} for op, c in sorted(by_op.items())},
        "rows": len(rows),
        "row_statuses": dict(Counter(r.status for r in rows.values())),
        "settled": settled,
        "app_errors": target.errors(),
    }

    def where(items: list[tuple[Mutation, Reply]]) -> str:
        return examples(f"{m.describe()} → {r.status} {str(r.body)[:90]}" for m, r in items)

    five = [(m, r) for m, r in pairs if r.status >= 500 or r.status == 0]
    fault_result.check(
        "no 5xx (nor a dropped connection) for a signed body",
        len(pairs),
        len(pairs) - len(five),
        f"{dict(Counter(f'{m.op}→{r.status}' for m, r in five))}; e.g. {where(five)}; the app logged: {target.errors()}",
    )
    odd = [(m, r) for m, r in pairs if r.status not in (200, 202, 400) and r.status < 500 and r.status != 0]
    fault_result.check(
        "every answer is 202, 200 (ignored) or 400",
        len(pairs) - len(five),
        len(pairs) - len(five) - len(odd),
        where(odd),
    )
    no_id = [(m, r) for m, r in pairs if r.status == 400 and r.delivery_id is None]
    n400 = statuses[400]
    fault_result.check("every 400 answer carries a delivery_id", n400, n400 - len(no_id), where(no_id))

    # stored: a row of its own for every body, holding exactly the bytes sent
    stored_ok, not_stored = 0, []
    claimed: Counter[int] = Counter(r.delivery_id for _, r in pairs if r.delivery_id is not None)
    for m, r in pairs:
        row = rows.get(r.delivery_id) if r.delivery_id is not None else None
        if row is not None and row.body_sha256 == hashlib.sha256(m.out.body).hexdigest() and claimed[row.id] == 1:
            stored_ok += 1
        else:
            why = (
                "no delivery_id"
                if r.delivery_id is None
                else "no such row"
                if row is None
                else (
                    "answered as a duplicate of another body"
                    if claimed[row.id] > 1 or r.duplicate
                    else "stored bytes differ"
                )
            )
            not_stored.append(f"{m.describe()} → {r.status}: {why}")
    fault_result.check(
        "every signed body stored as a row of its own, byte for byte", len(pairs), stored_ok, examples(not_stored)
    )
    fault_result.check("rows = signed requests", len(pairs), min(len(rows), len(pairs)), f"{len(rows)} rows")

    rejected_400 = [(m, r) for m, r in pairs if r.status == 400]
    bad_400 = [(m, r) for m, r in rejected_400 if r.delivery_id in rows and rows[r.delivery_id].status != "rejected"]
    fault_result.check(
        "every 400 is stored as rejected",
        len(rejected_400),
        len(rejected_400) - len(bad_400),
        examples(f"{m.describe()}: {rows[r.delivery_id].status}" for m, r in bad_400 if r.delivery_id is not None),
    )

    by_id = {r.delivery_id: m for m, r in pairs if r.delivery_id is not None}
    unsettled = [row for row in rows.values() if row.status not in SETTLED]
    causes = Counter(f"{row.status}: {(row.error or '')[:100]}" for row in unsettled).most_common(6)
    fault_result.figures["unsettled_causes"] = [f"{n}× {c}" for c, n in causes]
    fault_result.check(
        "after processing nothing is failed, dead or still received (poison → rejected)",
        len(rows),
        len(rows) - len(unsettled),
        f"{dict(Counter(row.status for row in unsettled))}; by cause: {causes}; e.g. "
        + examples(f"{by_id[row.id].describe() if row.id in by_id else row.id}: {row.status}" for row in unsettled),
    )
    fault_result.verify()
