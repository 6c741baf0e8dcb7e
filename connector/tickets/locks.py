"""A ticket's row lock, taken once per transaction.

Processing a delivery locks its ticket when it applies the events, then the SLA refresh and the
escalation engine need the same locked row. Each used to lock it again (`SELECT … FOR UPDATE`), and the
identity map, which holds objects weakly, had often let the clean `Ticket` go between them, so a third
read followed. Here the session keeps each ticket it locked, with the transaction that holds the lock:
while that transaction (a savepoint, or the outer one) is active, the row is locked and the object is
the current one; once it has ended (a savepoint rolled back releases its row locks), the next caller
locks again.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, SessionTransaction

from connector.store.tables import Ticket

#: `Session.info` key: ticket id → (the ticket, the transaction whose lock holds its row)
_LOCKED = "tickets_locked"


def lock(s: Session, ticket_id: int) -> Ticket | None:
    """The ticket, its row locked for the rest of the transaction; None if it does not exist."""
    held: dict[int, tuple[Ticket, SessionTransaction]] = s.info.setdefault(_LOCKED, {})
    known = held.get(ticket_id)
    if known is not None and _active(known[1]):
        return known[0]
    ticket = s.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is not None:
        hold(s, ticket)
    else:
        held.pop(ticket_id, None)
    return ticket


def hold(s: Session, ticket: Ticket) -> None:
    """Note a ticket this transaction has locked or inserted (its id assigned by a flush)."""
    transaction = s.get_nested_transaction() or s.get_transaction()
    if transaction is not None:
        s.info.setdefault(_LOCKED, {})[ticket.id] = (ticket, transaction)


def _active(transaction: SessionTransaction) -> bool:
    """The transaction that took the lock is still open (a savepoint rolled back released it)."""
    t: SessionTransaction | None = transaction
    while t is not None:
        if not t.is_active:
            return False
        t = t.parent
    return True
