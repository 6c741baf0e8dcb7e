"""The SQL schema: the source of truth. Alembic migrations in `connector/store/migrations` create it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from connector.store.types import SafeJSON, SafeText, Str, UTCDateTime

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite so autoincrement works there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DeliveryStatus(StrEnum):
    """Where a stored delivery is: received → processed | ignored | failed → dead; rejected:
    authentic but unreadable (answered 400, kept for inspection and replay)."""

    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"
    DEAD = "dead"
    REJECTED = "rejected"


#: Statuses no job changes any more (only a replay does).
FINAL_STATUSES = frozenset(
    {DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED, DeliveryStatus.REJECTED, DeliveryStatus.DEAD}
)


class Delivery(Base):
    """One webhook delivery as received: the raw inbox. `body` is never modified."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("vendor", "instance", "dedupe_key", name="uq_deliveries_dedupe"),
        UniqueConstraint("vendor", "instance", "content_sha256", name="uq_deliveries_content"),
        Index("ix_deliveries_status_received", "status", "received_at"),
        Index("ix_deliveries_object_status", "object_key", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vendor: Mapped[str] = mapped_column(Str(32))
    instance: Mapped[str] = mapped_column(Str(64))
    dedupe_key: Mapped[str] = mapped_column(Str(255))
    event_type: Mapped[str | None] = mapped_column(Str(128))
    headers: Mapped[dict[str, str]] = mapped_column(SafeJSON, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(Str(64))
    #: the digest of what the vendor's signature covers (`Adapter.signed_content`): a captured body
    #: re-sent with a fresh delivery-id header (not signed) is a duplicate, not a new delivery
    content_sha256: Mapped[str | None] = mapped_column(Str(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(Str(16), default=DeliveryStatus.RECEIVED.value)  # a DeliveryStatus
    outcome: Mapped[str | None] = mapped_column(SafeText)
    error: Mapped[str | None] = mapped_column(SafeText)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tickets.id"))
    #: the vendor object the delivery is about (`object_key()`) and the time of its latest event, read
    #: when it is acknowledged: the SLA sweeper holds a ticket's alarms while such a delivery waits
    object_key: Mapped[str | None] = mapped_column(Str(255))
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def object_key(vendor: str, instance: str, object_type: str, external_id: str) -> str:
    """One vendor object, as deliveries and links name it: `zendesk/default/ticket/48213`."""
    return f"{vendor}/{instance}/{object_type}/{external_id}"[:255]


class Ticket(Base):
    """The canonical ticket. `field_versions` holds, per field, the time of the event that last set it."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_created_at", "created_at"), Index("ix_tickets_problem_ref", "problem_ref"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str | None] = mapped_column(SafeText)
    description: Mapped[str | None] = mapped_column(SafeText)
    status: Mapped[str] = mapped_column(Str(32), default="new")
    severity: Mapped[str | None] = mapped_column(Str(32))
    category: Mapped[str | None] = mapped_column(Str(128))
    customer_id: Mapped[str | None] = mapped_column(Str(255))
    customer_name: Mapped[str | None] = mapped_column(Str(255))
    customer_tier: Mapped[str | None] = mapped_column(Str(64))
    requester_id: Mapped[str | None] = mapped_column(Str(255))
    requester_name: Mapped[str | None] = mapped_column(Str(255))
    requester_email: Mapped[str | None] = mapped_column(Str(320))
    support_level: Mapped[str | None] = mapped_column(Str(16))
    #: the policy owner (a support level or owner group id) the escalation engine routed the ticket to
    owner: Mapped[str | None] = mapped_column(Str(64))
    assignee: Mapped[str | None] = mapped_column(Str(255))
    group_name: Mapped[str | None] = mapped_column(Str(255))
    channel: Mapped[str | None] = mapped_column(Str(32))
    tags: Mapped[list[str]] = mapped_column(SafeJSON, default=list)
    impact_users: Mapped[int | None] = mapped_column(Integer)
    #: see the canonical field: the problem this ticket is an incident of, by its id in the same tool
    problem_ref: Mapped[str | None] = mapped_column(Str(64))
    #: the connector's count of distinct requesters of the incidents linked to this ticket as their problem
    linked_users: Mapped[int | None] = mapped_column(Integer)
    csat: Mapped[float | None] = mapped_column(Float)
    root_cause: Mapped[str | None] = mapped_column(SafeText)
    resolution_summary: Mapped[str | None] = mapped_column(SafeText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    field_versions: Mapped[dict[str, str]] = mapped_column(SafeJSON, default=dict)

    links: Mapped[list[Link]] = relationship(back_populates="ticket", order_by="Link.id")


class Link(Base):
    """A vendor object bound to a ticket. One vendor object belongs to at most one ticket."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("vendor", "instance", "object_type", "external_id", name="uq_links_object"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), index=True)
    vendor: Mapped[str] = mapped_column(Str(32))
    instance: Mapped[str] = mapped_column(Str(64))
    object_type: Mapped[str] = mapped_column(Str(32))
    external_id: Mapped[str] = mapped_column(Str(255))
    key: Mapped[str | None] = mapped_column(Str(255))
    url: Mapped[str | None] = mapped_column(SafeText)
    role: Mapped[str] = mapped_column(Str(32))  # a connector.model.LinkRole
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: a linked (not origin) object: the canonical status its last event reported, that event's time,
    #: and when the reconciliation sweep last fetched it from its tool
    status: Mapped[str | None] = mapped_column(Str(32))
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="links")


class TimelineEntry(Base):
    """The time-stamped trail of a ticket: every change, comment, incident event and decision."""

    __tablename__ = "timeline"
    __table_args__ = (
        Index("ix_timeline_ticket_at", "ticket_id", "at"),
        UniqueConstraint("ticket_id", "dedupe_key", name="uq_timeline_dedupe"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it happened (the vendor's time)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(Str(64))  # see connector.tickets.timeline: written and read there
    source: Mapped[str] = mapped_column(Str(96))  # "zendesk/default", "connector"
    delivery_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("deliveries.id"))
    actor: Mapped[str | None] = mapped_column(Str(255))
    summary: Mapped[str] = mapped_column(SafeText)
    data: Mapped[dict[str, Any]] = mapped_column(SafeJSON, default=dict)
    #: a fact reported more than once (one comment from two kinds of delivery) is recorded once
    dedupe_key: Mapped[str | None] = mapped_column(Str(255))


class MappingVersion(Base):
    """Every version of every field-mapping document; exactly one active per (vendor, instance)."""

    __tablename__ = "mapping_versions"
    __table_args__ = (UniqueConstraint("vendor", "instance", "version", name="uq_mapping_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vendor: Mapped[str] = mapped_column(Str(32))
    instance: Mapped[str] = mapped_column(Str(64))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(SafeJSON)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(Str(255))
    comment: Mapped[str | None] = mapped_column(SafeText)


class SlaClock(Base):
    """The state of one SLA clock as last computed (a cache of the engine's answer, for reports and
    the API). The engine recomputes it from the ticket's history; `sla_fires` holds what fired."""

    __tablename__ = "sla_clocks"
    __table_args__ = (UniqueConstraint("ticket_id", "metric", "cycle", name="uq_sla_clock"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), index=True)
    metric: Mapped[str] = mapped_column(Str(64))
    cycle: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Str(16))
    target_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    data: Mapped[dict[str, Any]] = mapped_column(SafeJSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaFire(Base):
    """A warning, breach or met that fired. The unique key makes each fire at most once."""

    __tablename__ = "sla_fires"
    __table_args__ = (
        UniqueConstraint("ticket_id", "metric", "cycle", "label", name="uq_sla_fire"),
        Index("ix_sla_fires_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), index=True)
    metric: Mapped[str] = mapped_column(Str(64))
    cycle: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Str(96))
    kind: Mapped[str] = mapped_column(Str(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was due to fire
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when it did
    detail: Mapped[str] = mapped_column(SafeText)  # for people; code reads `data`
    data: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON, default=dict)  # connector.sla.engine.Fire.facts()


class SlaTimer(Base):
    """When a ticket's clocks next need the engine. The sweeper reads only rows that are due, so a
    tick costs what is due, not what is open."""

    __tablename__ = "sla_timers"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), primary_key=True)
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PolicyVersion(Base):
    """Every version of the support policy document; exactly one active."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("version", name="uq_policy_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Str(64))
    document: Mapped[dict[str, Any]] = mapped_column(SafeJSON)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(Str(255))
    comment: Mapped[str | None] = mapped_column(SafeText)


class Escalation(Base):
    """One action the escalation engine took (or decided not to) for one trigger on one ticket.

    The unique key makes each action fire at most once per trigger, ticket and occurrence, however
    often a delivery is retried, replayed or duplicated. `data` is `connector.escalation.Decision`'s
    typed facts; `reason` is prose for people."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("ticket_id", "trigger_id", "occurrence", "action_index", name="uq_escalation"),
        Index("ix_escalations_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), index=True)
    trigger_id: Mapped[str] = mapped_column(Str(96))
    occurrence: Mapped[str] = mapped_column(Str(160))
    action_index: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(Str(32))  # a connector.escalation.ActionKind
    target: Mapped[str | None] = mapped_column(Str(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when what fired it happened
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(Str(16))  # a connector.escalation.Outcome
    reason: Mapped[str] = mapped_column(SafeText)
    data: Mapped[dict[str, Any]] = mapped_column(SafeJSON, default=dict)


class OutboxStatus(StrEnum):
    """pending → sending → sent; a failure → failed (retried with backoff) → dead; not_sent: the
    connector may not send it (no credentials, no route, nothing left to do) — with the reason."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    NOT_SENT = "not_sent"


#: outbox statuses no job changes any more (only a replay does)
OUTBOX_FINAL = frozenset({OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.NOT_SENT})


class OutboxItem(Base):
    """One outbound intent (a page, a notification, a linked issue), written in the same transaction as
    the decision that made it and delivered by a job; every attempt and the vendor's answer is kept."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_sequence", "sequence_key", "id"),
        Index("ix_outbox_rate", "rate_key", "sent_at"),
        Index("ix_outbox_echo_of", "echo_of"),
        Index("ix_outbox_ticket_intent", "ticket_id", "intent"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tickets.id"), index=True)
    escalation_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("escalations.id"))
    channel: Mapped[str] = mapped_column(Str(32))  # who carries it: pagerduty, notify, jira, zendesk
    intent: Mapped[str] = mapped_column(Str(32))  # a connector.outbox.IntentKind
    target: Mapped[str | None] = mapped_column(Str(64))
    idempotency_key: Mapped[str] = mapped_column(Str(255))
    #: intents with one sequence key are delivered in id order (a page's trigger, acknowledge, resolve)
    sequence_key: Mapped[str | None] = mapped_column(Str(255))
    payload: Mapped[dict[str, Any]] = mapped_column(SafeJSON, default=dict)
    status: Mapped[str] = mapped_column(Str(16), default=OutboxStatus.PENDING.value)  # an OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: what the vendor's rate limit counts (a digest of the routing key): never the key itself
    rate_key: Mapped[str | None] = mapped_column(Str(64))
    reason: Mapped[str | None] = mapped_column(SafeText)  # the last error, or why it was not sent
    response: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON, default=dict)  # the vendor's last answer
    #: a sync intent not sent because its change was the connector's own write (this outbox item) reported back
    echo_of: Mapped[int | None] = mapped_column(BigId)


class FollowupKind(StrEnum):
    NOTIFY = "notify"  # "CSM calls within 2 h": a notification with a deadline
    POSTMORTEM = "postmortem"  # an owed post-mortem


class Followup(Base):
    """Something a person owes by a due time: a follow-up a notification asked for (`within`), or a
    post-mortem. Overdue when not done by `due_at` (a post-mortem's is set when the ticket resolves)."""

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("escalation_id", name="uq_followup_escalation"),
        Index("ix_followups_due", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), index=True)
    escalation_id: Mapped[int] = mapped_column(BigId, ForeignKey("escalations.id"))
    kind: Mapped[str] = mapped_column(Str(16))  # a FollowupKind
    target: Mapped[str | None] = mapped_column(Str(64))
    owed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    within_seconds: Mapped[float] = mapped_column(Float)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(Str(255))
    note: Mapped[str | None] = mapped_column(SafeText)
    url: Mapped[str | None] = mapped_column(SafeText)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RepeatCluster(Base):
    """The same customer's tickets of one category that made a `repeat_issue` trigger fire: one
    escalation per cluster, not one per ticket. `seq` counts a customer's clusters per trigger."""

    __tablename__ = "repeat_clusters"
    __table_args__ = (UniqueConstraint("trigger_id", "customer", "category", "seq", name="uq_repeat_cluster"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trigger_id: Mapped[str] = mapped_column(Str(96))
    customer: Mapped[str] = mapped_column(Str(255))
    category: Mapped[str] = mapped_column(Str(128))
    seq: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"))  # the ticket that completed it
    ticket_ids: Mapped[list[int]] = mapped_column(SafeJSON, default=list)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One admin change: who (the token's name: admin), when, what (`action` on `target`), the note."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(Str(64))
    action: Mapped[str] = mapped_column(Str(64))  # mapping.save, mapping.rollback, policy.save, delivery.replay, ...
    target: Mapped[str | None] = mapped_column(Str(255))  # zendesk/default, delivery 42, ...
    note: Mapped[str | None] = mapped_column(SafeText)
    data: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON, default=dict)
