"""What a batch of deliveries reads ahead, for the rest of its transaction (`connector.inbox.batch`):
the links of every object its events name, ids for the tickets it may create, and whether each of
its comments is on its ticket's timeline already — one statement each for the whole batch, where
processing one delivery asks as it goes. `apply` and `timeline` consult these first; with nothing read
ahead (one delivery at a time) they ask the database as before. Each memo holds for the transaction
(or savepoint) it was made in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.store.tables import Link, Ticket, TimelineEntry

#: a vendor object's identity: (vendor, instance, object type, external id)
ObjectKey = tuple[str, str, str, str]
#: `Session.info` keys of the memos, each (the transaction, what it holds)
_LINKS = "links_ahead"
_RESERVED = "ticket_ids_reserved"
_KEYS = "timeline_keys_ahead"


def look_ahead_links(s: Session, keys: Iterable[ObjectKey]) -> dict[ObjectKey, Link]:
    """The links of many vendor objects, read with one statement, and remembered for the rest of the
    transaction (a batch of deliveries: `apply_event` then asks for none of them again, and a link it
    makes joins them). Returns the links found."""
    wanted = set(keys)
    found: dict[ObjectKey, Link] = {}
    if wanted:
        columns = (Link.vendor, Link.instance, Link.object_type, Link.external_id)
        # each column IN its values (the unique index serves it), then the exact keys picked out here
        q = select(Link).where(*(c.in_(sorted({k[i] for k in wanted})) for i, c in enumerate(columns)))
        for link in s.scalars(q):
            key = (link.vendor, link.instance, link.object_type, link.external_id)
            if key in wanted:
                found[key] = link
    s.info[_LINKS] = (_innermost(s), {key: found.get(key) for key in wanted})
    return found


def reserve_ticket_ids(s: Session, count: int) -> None:
    """Take `count` ids for tickets this transaction may create (PostgreSQL: from the table's sequence,
    one statement for all), so that creating each learns its id without a flush of its own. Ids left
    unused are skipped, as a sequence allows. A no-op on SQLite, whose inserts are no round trip."""
    if count <= 0 or s.get_bind().dialect.name != "postgresql":
        return
    sequence = func.nextval(func.pg_get_serial_sequence(Ticket.__tablename__, "id"))
    ids = sorted(s.scalars(select(sequence).select_from(func.generate_series(1, count))), reverse=True)
    s.info[_RESERVED] = (_innermost(s), ids)  # popped from the end: tickets numbered in the order they come


def reserved_id(s: Session) -> int | None:
    """An id `reserve_ticket_ids` took, in order; None when there is none left (or none was taken)."""
    memo = s.info.get(_RESERVED)
    if memo is None or memo[0] is not _innermost(s) or not memo[1]:
        return None
    return int(memo[1].pop())


def known_link(s: Session, key: ObjectKey) -> Link | None:
    """The object's link as the look-ahead of this transaction knows it (with the links made since);
    None when it is not linked, or was not looked up."""
    ahead = links_ahead(s)
    return None if ahead is None else ahead.get(key)


def links_ahead(s: Session) -> dict[ObjectKey, Link | None] | None:
    memo = s.info.get(_LINKS)
    return memo[1] if memo is not None and memo[0] is _innermost(s) else None


def _innermost(s: Session) -> Any:
    return s.get_nested_transaction() or s.get_transaction()


def look_ahead_keys(s: Session, wanted: Iterable[tuple[int, str]]) -> None:
    """Whether each (ticket, dedupe key) is on the timeline already, read with one statement for all of
    them and remembered for the rest of the transaction: `seen` then asks the database about none of
    them, nor about a ticket this transaction created, and `write` notes each key it records."""
    asked = {(ticket_id, key[:255]) for ticket_id, key in wanted}
    present: set[tuple[int, str]] = set()
    if asked:
        rows = s.execute(
            select(TimelineEntry.ticket_id, TimelineEntry.dedupe_key).where(
                TimelineEntry.ticket_id.in_(sorted({t for t, _ in asked})),
                TimelineEntry.dedupe_key.in_(sorted({k for _, k in asked})),
            )
        )
        present = {(t, k) for t, k in rows if k is not None and (t, k) in asked}
    s.info[_KEYS] = (_innermost(s), asked, present)  # the pairs asked; those present, with ones recorded since


def keys_ahead(s: Session) -> tuple[set[tuple[int, str]], set[tuple[int, str]]] | None:
    """The (ticket, dedupe key) pairs `look_ahead_keys` asked about, and those on the timeline."""
    memo = s.info.get(_KEYS)
    if memo is None or memo[0] is not _innermost(s):
        return None
    return memo[1], memo[2]
