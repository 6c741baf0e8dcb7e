"""The ticket as the escalation engine reads it, and where it stands on its escalation path. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.policy import OwnerGroup, Policy, SupportLevel

#: the ticket columns the state is read from
TICKET_STATE_FIELDS = (
    "severity",
    "customer_tier",
    "category",
    "channel",
    "support_level",
    "owner",
    "status",
    "customer_id",
    "requester_email",
    "impact_users",
    "linked_users",
    "csat",
    "title",
    "description",
)


@dataclass(frozen=True)
class TicketState:
    """What the triggers read of a ticket. Values are the policy's ids (`severity_of`, `tier_of`, ...);
    `level` is the effective support level (the initial level while none was set)."""

    severity: str | None = None
    tier: str | None = None
    category: str | None = None
    level: str | None = None
    owner: str | None = None
    status: str = "new"
    customer: str | None = None
    impact_users: int | None = None  # as the ticket reports it
    linked_users: int | None = None  # distinct requesters of the incidents linked to it as their problem
    csat: float | None = None
    subject: str = ""
    description: str = ""
    category_given: bool = False  # the ticket has a category value, known to the policy or not
    pages: tuple[str, ...] = ()  # targets with an open page (triggered, not resolved)
    acknowledged: tuple[str, ...] = ()  # of those, the ones acknowledged

    @classmethod
    def of(cls, policy: Policy, fields: Mapping[str, Any], **extra: Any) -> TicketState:
        """The state of a ticket whose fields are `fields` (canonical names; aliases resolved here)."""
        impact, linked = fields.get("impact_users"), fields.get("linked_users")
        csat = fields.get("csat")
        return cls(
            severity=policy.severity_of(_text(fields.get("severity"))),
            tier=policy.tier_of(_text(fields.get("customer_tier") or fields.get("tier"))),
            category=policy.category_of(_text(fields.get("category"))),
            category_given=_text(fields.get("category")) is not None,
            level=_text(fields.get("support_level") or fields.get("level")) or policy.initial_level,
            owner=_text(fields.get("owner")),
            status=_text(fields.get("status")) or "new",
            customer=_text(fields.get("customer_id") or fields.get("requester_email") or fields.get("customer")),
            impact_users=impact if isinstance(impact, int) and not isinstance(impact, bool) else None,
            linked_users=linked if isinstance(linked, int) and not isinstance(linked, bool) else None,
            csat=float(csat) if isinstance(csat, int | float) and not isinstance(csat, bool) else None,
            subject=_text(fields.get("title") or fields.get("subject")) or "",
            description=_text(fields.get("description") or fields.get("text")) or "",
            **extra,
        )


def escalation_path(policy: Policy, state: TicketState) -> list[str]:
    """The owners the ticket escalates through: its category's path, else its owner's or level's."""
    if state.category is not None:
        category = next((c for c in policy.categories if c.id == state.category), None)
        if category is not None and category.escalation_path:
            return list(category.escalation_path)
    for owner_id in (state.owner, state.level):
        owner = owner_of(policy, owner_id)
        if isinstance(owner, OwnerGroup) and owner.level is not None:
            owner = owner_of(policy, owner.level)
        if isinstance(owner, SupportLevel) and owner.escalation_path:
            return list(owner.escalation_path)
    return []


def path_position(policy: Policy, state: TicketState) -> int | None:
    """Where the ticket's owner (else its level) stands on its escalation path; None if off it."""
    path = escalation_path(policy, state)
    for here in (state.owner, state.level):
        if here in path:
            return path.index(here)
    return None


def owner_of(policy: Policy, owner_id: str | None) -> SupportLevel | OwnerGroup | None:
    if owner_id is None:
        return None
    try:
        return policy.owner(owner_id)
    except KeyError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
