"""Building the open clocks for bench.timers: tickets bulk-inserted with exactly the rows
`connector.sla.live.refresh` would have left at the benchmark's start (clocks, fires already due,
timer), computed with the same engine, and a sample checked against `refresh` itself."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from connector.policy import Policy
from connector.sla.clock import Clock
from connector.sla.engine import evaluate
from connector.sla.events import FireKind, SlaEvent, SlaEventType
from connector.sla.live import RECORDED, TIMELINE_KIND, refresh
from connector.sla.serialize import clock_json
from connector.store import Database
from connector.store.tables import (
    Escalation,
    Followup,
    OutboxItem,
    OutboxStatus,
    SlaClock,
    SlaFire,
    SlaTimer,
    Ticket,
    TimelineEntry,
)
from connector.tickets import timeline
from connector.tickets.timeline import SlaRecorded, TicketCreated

TIMED = (FireKind.WARNING, FireKind.BREACH, FireKind.MAXIMUM_BREACH)


def fields(severity: str) -> dict[str, Any]:
    """A ticket's initial values, as the ticket code records them on its `TicketCreated` entry."""
    return {
        "status": "open",
        "severity": severity,
        "customer_tier": "enterprise",
        "category": None,
        "channel": "email",
        "support_level": None,
    }


def templates(policy: Policy, severities: list[str], probe: datetime) -> dict[str, list[float]]:
    """Per severity: the offsets from creation (seconds) of every warning and breach of a ticket
    nobody touches. They must not depend on the creation time (calendar-time targets)."""
    out: dict[str, list[float]] = {}
    for sev in severities:
        seen = []
        for created in (probe, probe + timedelta(days=2, hours=7, minutes=13)):
            result = evaluate(
                policy,
                ticket=fields(sev),
                until=created + timedelta(days=30),
                events=[SlaEvent(at=created, type=SlaEventType.CREATED, value="open")],
            )
            seen.append(sorted((f.at - created).total_seconds() for f in result.fires if f.kind in TIMED))
        if seen[0] != seen[1] or not seen[0]:
            raise SystemExit(
                f"severity {sev}: fire offsets {seen[0]} vs {seen[1]} — choose severities "
                "whose targets are in calendar time and that warn or breach"
            )
        out[sev] = seen[0]
    return out


@dataclass
class Built:
    t0: datetime
    #: future fires: (ticket, metric, kind, due) — two metrics of a ticket may fire the same kind at once
    expected: list[tuple[int, str, str, datetime]] = field(default_factory=list)
    next_fire: dict[int, datetime] = field(default_factory=dict)
    prerecorded: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Burst:
    """`count` of the tickets have their next fire due within `within` seconds from `at` seconds
    after t0 (Monday's opening: clocks of one business calendar warning and breaching together)."""

    count: int = 0
    at: float = 10.0
    within: float = 60.0


def plan(
    rng: random.Random, offsets: dict[str, list[float]], spread: float, delta: float | None = None
) -> tuple[str, float, float]:
    """(severity, delta, created-before-t0): the ticket's k-th fire is due `delta` s after t0 (default:
    uniformly within `spread`); the fires before it are already due (delta < gap to the previous fire)
    and the ticket exists."""
    delta = rng.uniform(0.0, spread) if delta is None else delta
    choices = [
        (sev, points[k])
        for sev, points in offsets.items()
        for k in range(len(points))
        if delta < points[k] - (points[k - 1] if k else 0.0)
    ]
    if not choices:
        raise SystemExit(f"--spread {spread:g}s exceeds what the chosen severities' targets allow")
    sev, point = rng.choice(choices)
    return sev, delta, point - delta


def build(
    db: Database,
    policy: Policy,
    n: int,
    *,
    spread: float,
    severities: list[str],
    seed: int,
    burst: Burst = Burst(),
    history: int = 0,
    chunk: int = 5000,
) -> Built:
    """Insert `n` tickets with the rows `refresh(now=t0)` would leave: clocks, fires, timer; `burst`
    of them (chosen at random) due within the burst's minute, the rest spread; and `history` closed
    tickets with the decisions, pages and post-mortems of their past (see `closed_history`)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    t0 = datetime.now(UTC).replace(microsecond=0)
    offsets = templates(policy, severities, t0)
    built = Built(t0)
    bursting = set(rng.sample(range(1, n + 1), min(burst.count, n)))
    for first in range(1, n + 1, chunk):
        rows: dict[str, list[dict[str, Any]]] = {
            "tickets": [],
            "timeline": [],
            "sla_fires": [],
            "sla_clocks": [],
            "sla_timers": [],
        }
        for tid in range(first, min(first + chunk, n + 1)):
            at = burst.at + rng.uniform(0.0, burst.within) if tid in bursting else None
            sev, delta, before = plan(rng, offsets, spread, at)
            created = t0 - timedelta(seconds=before)
            initial = fields(sev)
            rows["tickets"].append(
                {
                    "id": tid,
                    "title": f"Platform down for tenant {tid}",
                    "status": "open",
                    "severity": sev,
                    "customer_tier": "enterprise",
                    "channel": "email",
                    "created_at": created,
                    "updated_at": created,
                    "tags": [],
                    "field_versions": {},
                }
            )
            opened = TicketCreated(fields=initial)
            rows["timeline"].append(
                {
                    "ticket_id": tid,
                    "at": created,
                    "recorded_at": created,
                    "kind": timeline.kind_of(opened),
                    "source": "zendesk/default",
                    "actor": None,
                    "summary": f"ticket created from zendesk ticket {tid}",
                    "data": timeline.encode(opened),
                }
            )
            result = evaluate(
                policy, ticket=initial, until=t0, events=[SlaEvent(at=created, type=SlaEventType.CREATED, value="open")]
            )
            for fire in result.fires:
                if fire.kind not in RECORDED:
                    continue
                assert fire.kind not in (FireKind.RETARGETED, FireKind.CANCELLED)  # their key carries the time
                built.prerecorded += 1
                rows["sla_fires"].append(
                    {
                        "ticket_id": tid,
                        "metric": fire.metric,
                        "cycle": fire.cycle,
                        "label": fire.label[:96],
                        "kind": fire.kind.value,
                        "at": fire.at,
                        "recorded_at": fire.at,
                        "detail": fire.detail,
                        "data": fire.facts(),
                    }
                )
                record = SlaRecorded(
                    kind=TIMELINE_KIND[fire.kind], metric=fire.metric, cycle=fire.cycle, label=fire.label
                )
                rows["timeline"].append(
                    {
                        "ticket_id": tid,
                        "at": fire.at,
                        "recorded_at": fire.at,
                        "kind": timeline.kind_of(record),
                        "source": "connector/sla",
                        "actor": None,
                        "summary": fire.detail,
                        "data": timeline.encode(record),
                    }
                )
            for clock in result.clocks:
                rows["sla_clocks"].append(clock_row(tid, clock, policy, t0))
                built.expected.extend((tid, clock.metric, kind, at) for kind, at in future_fires(clock, policy))
            fire_at = result.next_fire_at(policy)
            assert fire_at is not None and abs((fire_at - t0).total_seconds() - delta) < 1e-3, (tid, fire_at)
            built.next_fire[tid] = fire_at
            rows["sla_timers"].append({"ticket_id": tid, "fire_at": fire_at})
        with db.engine.begin() as conn:
            for table in (Ticket, TimelineEntry, SlaFire, SlaClock, SlaTimer):
                if rows[table.__tablename__]:
                    conn.execute(insert(table.__table__), rows[table.__tablename__])
    ids = {"tickets": n}
    if history:
        ids.update(closed_history(db, first=n + 1, count=history, t0=t0, chunk=chunk))
    with db.engine.begin() as conn:
        if not db.is_sqlite:  # explicit ids: move the sequences past them
            for name, last in ids.items():
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :n)"), {"n": last})
        conn.execute(text("ANALYZE"))  # a database in service has statistics
    built.seconds = time.perf_counter() - started
    return built


def closed_history(db: Database, *, first: int, count: int, t0: datetime, chunk: int) -> dict[str, int]:
    """`count` solved tickets of the past weeks, each with what a skillancer P0 leaves: the level raised,
    a page sent, a post-mortem owed and done. A database in service has such a history (and its
    statistics); an empty `escalations` table makes PostgreSQL check every new page's and follow-up's
    foreign key with a scan of the table, which no installation in service pays. Returns each table's
    last id."""
    escalation_id = outbox_id = followup_id = 0
    for start in range(first, first + count, chunk):
        rows: dict[str, list[dict[str, Any]]] = {"tickets": [], "escalations": [], "outbox": [], "followups": []}
        for tid in range(start, min(start + chunk, first + count)):
            created = t0 - timedelta(days=3 + tid % 40, hours=tid % 24)
            breached, solved = created + timedelta(hours=4), created + timedelta(hours=9)
            rows["tickets"].append(
                {
                    "id": tid,
                    "title": f"Checkout failing for tenant {tid}",
                    "status": "solved",
                    "severity": "P0",
                    "customer_tier": "enterprise",
                    "channel": "email",
                    "support_level": "L2",
                    "created_at": created,
                    "updated_at": solved,
                    "resolved_at": solved,
                    "tags": [],
                    "field_versions": {},
                }
            )
            decided = []
            for index, (action, target, outcome) in enumerate(
                (
                    ("raise_level", "L2", "applied"),
                    ("page", "sre-on-call", "queued"),
                    ("require_postmortem", None, "owed"),
                )
            ):
                escalation_id += 1
                decided.append(escalation_id)
                rows["escalations"].append(
                    {
                        "id": escalation_id,
                        "ticket_id": tid,
                        "trigger_id": "history",
                        "occurrence": f"resolution#0/{action}",
                        "action_index": index,
                        "action": action,
                        "target": target,
                        "at": breached,
                        "recorded_at": breached,
                        "outcome": outcome,
                        "reason": "resolution passed its maximum",
                        "data": {},
                    }
                )
            outbox_id += 1
            rows["outbox"].append(
                {
                    "id": outbox_id,
                    "ticket_id": tid,
                    "escalation_id": decided[1],
                    "channel": "pagerduty",
                    "intent": "page_trigger",
                    "target": "sre-on-call",
                    "idempotency_key": f"escalation-{decided[1]}",
                    "sequence_key": f"hdc-ticket-{tid}/sre-on-call",
                    "payload": {},
                    "status": OutboxStatus.SENT.value,
                    "attempts": 1,
                    "created_at": breached,
                    "updated_at": breached,
                    "sent_at": breached,
                }
            )
            followup_id += 1
            rows["followups"].append(
                {
                    "id": followup_id,
                    "ticket_id": tid,
                    "escalation_id": decided[2],
                    "kind": "postmortem",
                    "owed_at": breached,
                    "within_seconds": 5 * 86400.0,
                    "due_at": solved + timedelta(days=5),
                    "done_at": solved + timedelta(days=2),
                    "done_by": "lead@example.com",
                }
            )
        with db.engine.begin() as conn:
            for table in (Ticket, Escalation, OutboxItem, Followup):
                conn.execute(insert(table.__table__), rows[table.__tablename__])
    return {"escalations": escalation_id, "outbox": outbox_id, "followups": followup_id}


def clock_row(ticket_id: int, clock: Clock, policy: Policy, at: datetime) -> dict[str, Any]:
    data = clock_json(clock, policy, at=at)
    return {
        "ticket_id": ticket_id,
        "metric": clock.metric,
        "cycle": clock.cycle,
        "state": clock.state,
        "target_seconds": clock.target.target.total_seconds(),
        "started_at": clock.started_at,
        "due_at": clock.due_at(),
        "met_at": clock.met_at,
        "breached_at": clock.breached_at,
        "paused_seconds": data["paused_seconds"],
        "data": data,
        "updated_at": at,
    }


def future_fires(clock: Clock, policy: Policy) -> list[tuple[str, datetime]]:
    """The warnings and breaches this untouched clock has still to fire, and when."""
    out = []
    for label, kind, amount in clock.points(policy.sla.defaults):
        at = clock.crossing(amount)
        if label not in clock.fired and label not in clock.skipped and at is not None:
            out.append((kind, at))
    return out


def verify_sample(db: Database, policy: Policy, built: Built, k: int, seed: int) -> int:
    """`refresh` at t0 on a sample: it must record nothing new and arm the timer we computed.
    Rolled back, so the measured run starts from the bulk-built rows."""
    ids = random.Random(seed + 1).sample(sorted(built.next_fire), min(k, len(built.next_fire)))
    with db.sessions() as s:
        for tid in ids:
            new = refresh(s, policy, tid, built.t0)
            armed = s.get(SlaTimer, tid)
            if new or armed is None or armed.fire_at != built.next_fire[tid]:
                raise SystemExit(
                    f"ticket {tid}: refresh at t0 disagrees with the bulk build "
                    f"(new fires {[(f.kind, f.at) for f in new]}, timer "
                    f"{armed.fire_at if armed else None} vs {built.next_fire[tid]})"
                )
        s.rollback()
    return len(ids)
