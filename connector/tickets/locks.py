"""A ticket's row lock, taken once per transaction.

Processing a delivery locks its ticket when it applies the events, then the SLA refresh and the
escalation engine need the same locked row. Each used to lock it again (`SELECT … FOR UPDATE`), and the
identity map, which holds objects weakly, had often let the clean `Ticket` go between them, so a third
read followed. Here the session keeps each ticket it locked, with the transaction that holds the lock:
while that transaction (a savepoint, or the outer one) is active, the row is locked and the object is
the current one; once it has ended (a savepoint rolled back releases its row locks), the next caller
locks again.

Beside the lock, a locked ticket carries what the transaction has learnt of its rows (`known`: the SLA
refresh's fires and clocks, the escalation engine's decisions), so a second step of the same
transaction needs no query, and whether the transaction inserted the ticket (`created_here`: then it
has no such rows but the ones written here). Both are forgotten when a savepoint begins or ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, SessionTransaction

from connector.store.tables import Ticket

#: `Session.info` key: ticket id → what this transaction holds of it
_LOCKED = "tickets_locked"


@dataclass
class _Held:
    ticket: Ticket
    transaction: SessionTransaction  # the one whose lock holds the row
    new: bool  # inserted by this transaction
    #: what later steps of the same transaction know of the ticket's rows (see `known`), and the
    #: innermost transaction it was learnt in
    known: dict[str, Any] = field(default_factory=dict)
    known_in: SessionTransaction | None = None


def lock(s: Session, ticket_id: int) -> Ticket | None:
    """The ticket, its row locked for the rest of the transaction; None if it does not exist."""
    held = _held(s, ticket_id)
    if held is not None:
        return held.ticket
    ticket = s.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is not None:
        hold(s, ticket)
    return ticket


def lock_many(s: Session, ticket_ids: Iterable[int]) -> dict[int, Ticket]:
    """`lock` for many tickets: the ones not locked here yet with one statement (in id order, as every
    locker here takes them, so two transactions locking overlapping sets do not deadlock). Tickets that
    do not exist are left out."""
    out: dict[int, Ticket] = {}
    wanted: list[int] = []
    for ticket_id in dict.fromkeys(ticket_ids):
        held = _held(s, ticket_id)
        if held is None:
            wanted.append(ticket_id)
        else:
            out[ticket_id] = held.ticket
    if wanted:
        for ticket in s.scalars(select(Ticket).where(Ticket.id.in_(wanted)).order_by(Ticket.id).with_for_update()):
            hold(s, ticket)
            out[ticket.id] = ticket
    return out


def hold(s: Session, ticket: Ticket, *, new: bool = False) -> None:
    """Note a ticket this transaction has locked, or inserted (`new`, its id assigned by a flush)."""
    transaction = _innermost(s)
    if transaction is not None:
        s.info.setdefault(_LOCKED, {})[ticket.id] = _Held(ticket, transaction, new, known_in=transaction)


def known(s: Session, ticket_id: int) -> dict[str, Any] | None:
    """A place for what this transaction has read or written of a locked ticket's rows (its SLA fires
    and clocks, say), so that a second look in the same transaction needs no query: valid while the
    lock is, and forgotten whenever a savepoint begins or ends (what it wrote may be rolled back). None
    when the ticket is not locked here."""
    held = _held(s, ticket_id)
    return None if held is None else held.known


def created_here(s: Session, ticket_id: int) -> bool:
    """Was the ticket inserted by this transaction, with no savepoint begun or ended since? Then it has
    no rows elsewhere but the ones `known` holds."""
    held = _held(s, ticket_id)
    return held is not None and held.new


def forget(s: Session, ticket_id: int, *, keep: dict[str, Any] | None = None) -> None:
    """Rows of a locked ticket were written past what `known` holds (in bulk, as statements): forget what
    is known of them but `keep`, and that the ticket is new here (it has rows elsewhere now). The lock
    stays."""
    held = _held(s, ticket_id)
    if held is not None:
        held.known, held.new = dict(keep or {}), False


def _held(s: Session, ticket_id: int) -> _Held | None:
    registry: dict[int, _Held] = s.info.get(_LOCKED) or {}
    held = registry.get(ticket_id)
    if held is None:
        return None
    if not _active(held.transaction):
        del registry[ticket_id]
        return None
    current = _innermost(s)
    if held.known_in is not current:
        held.known, held.known_in, held.new = {}, current, False
    return held


def _innermost(s: Session) -> SessionTransaction | None:
    return s.get_nested_transaction() or s.get_transaction()


def _active(transaction: SessionTransaction) -> bool:
    """The transaction that took the lock is still open (a savepoint rolled back released it)."""
    t: SessionTransaction | None = transaction
    while t is not None:
        if not t.is_active:
            return False
        t = t.parent
    return True
