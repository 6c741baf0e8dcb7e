"""Several sweepers at once — every `connector worker` runs one — fire each warning and breach once:
on PostgreSQL each takes the due timers and tickets the others have not locked (SKIP LOCKED); on
SQLite they take turns at the one writer."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from connector.sla import live
from connector.sla.due import sweep
from connector.store.tables import SlaFire, SlaTimer, TimelineEntry
from connector.wiring import escalate_fires
from tests.conftest import drain
from tests.helpers import post
from tests.test_sla_live import _client, _created, _runtime

TICKETS = 24
SWEEPERS = 3


def _sweep_together(rt: Any, now: datetime) -> list[int]:
    """`SWEEPERS` threads sweep at the same instant in small chunks (so that they interleave), each
    again until no timer is due (a sweeper that met only locked rows stops, and its next tick takes
    what is left); returns how many tickets each refreshed."""
    start = threading.Barrier(SWEEPERS)
    counts: list[int] = [0] * SWEEPERS
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            for _ in range(100):  # as the ticker calls it: again until nothing is due
                n = sweep(rt.db, rt.policies, now=now, chunk=3, on_fires=escalate_fires(rt))
                counts[i] += n
                if n == 0 and not _due(rt, now):
                    return
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(SWEEPERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return counts


def _due(rt: Any, now: datetime) -> int:
    with rt.db.session() as s:
        return len(list(s.scalars(select(SlaTimer.ticket_id).where(SlaTimer.fire_at <= now))))


def _fired(rt: Any, kind: str) -> Counter[int]:
    with rt.db.session() as s:
        return Counter(s.scalars(select(SlaFire.ticket_id).where(SlaFire.kind == kind)))


def _timeline(rt: Any, kind: str) -> Counter[int]:
    with rt.db.session() as s:
        return Counter(s.scalars(select(TimelineEntry.ticket_id).where(TimelineEntry.kind == kind)))


def test_sweepers_running_at_once_fire_each_warning_and_breach_once(database: Any) -> None:
    rt = _runtime(database)
    client = _client(rt)
    now = datetime.now(UTC)
    created = now - timedelta(minutes=50)  # first response 1 h: the warning (75 %) is due, the breach in 10 min
    for i in range(TICKETS):
        assert post(client, "zendesk", _created(4100 + i, created)).status_code == 202
    drain(rt)
    assert _fired(rt, "warning") == Counter()

    # processing a delivery that told of the past leaves its alarm to the sweeper after a settle time
    warned = _sweep_together(rt, datetime.now(UTC) + live.SETTLE + timedelta(seconds=1))
    assert sum(warned) == TICKETS, warned  # each due ticket refreshed by one sweeper
    assert set(_fired(rt, "warning").values()) == {1} and len(_fired(rt, "warning")) == TICKETS
    assert set(_timeline(rt, "sla_warning").values()) == {1} and len(_timeline(rt, "sla_warning")) == TICKETS

    breached = _sweep_together(rt, now + timedelta(minutes=11))
    assert sum(breached) == TICKETS, breached
    assert set(_fired(rt, "breach").values()) == {1} and len(_fired(rt, "breach")) == TICKETS
    assert set(_timeline(rt, "sla_breach").values()) == {1} and len(_timeline(rt, "sla_breach")) == TICKETS
    assert sum(_fired(rt, "warning").values()) == TICKETS  # and no warning again
