"""A ticket's row lock is taken once per transaction, and again after a savepoint that took it rolled back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from connector.store import Database
from connector.store.tables import Ticket
from connector.tickets import locks
from tests.conftest import _clean
from tests.helpers import T0


class Selects:
    def __init__(self, db: Database):
        self.engine = db.engine
        self.statements: list[str] = []
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "tickets" in statement:
            self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def _ticket(db: Database) -> int:
    with db.session() as s:
        t = Ticket(status="open", created_at=T0, updated_at=T0, tags=[], field_versions={}, title="Checkout down")
        s.add(t)
        s.flush()
        return t.id


def test_one_lock_per_transaction_and_the_same_object(database: Database) -> None:
    _clean(database)
    ticket_id = _ticket(database)
    seen = Selects(database)
    try:
        with database.session() as s:
            first = locks.lock(s, ticket_id)
            again = locks.lock(s, ticket_id)
            assert first is not None and first is again
            assert len(seen.statements) == 1
            assert database.is_sqlite or "FOR UPDATE" in seen.statements[0].upper()  # SQLite locks the file
        with database.session() as s:  # a new transaction locks again
            assert locks.lock(s, ticket_id) is not None
        assert len(seen.statements) == 2
    finally:
        seen.close()


def test_a_rolled_back_savepoint_gives_its_lock_back(database: Database) -> None:
    _clean(database)
    ticket_id = _ticket(database)
    seen = Selects(database)
    try:
        with database.session() as s:
            nested = s.begin_nested()
            assert locks.lock(s, ticket_id) is not None
            nested.rollback()
            assert locks.lock(s, ticket_id) is not None  # locked again: the savepoint's lock is gone
            assert len(seen.statements) == 2
            assert locks.lock(s, ticket_id) is not None  # held by the outer transaction now
            assert len(seen.statements) == 2
    finally:
        seen.close()


def test_a_missing_ticket_is_none(database: Database) -> None:
    _clean(database)
    with database.session() as s:
        assert locks.lock(s, 987654) is None


def test_what_a_transaction_knows_is_forgotten_at_a_savepoint(database: Database) -> None:
    _clean(database)
    with database.session() as s:
        t = Ticket(status="new", created_at=T0, updated_at=T0, tags=[], field_versions={}, title="New")
        s.add(t)
        s.flush()
        locks.hold(s, t, new=True)
        assert locks.created_here(s, t.id)
        memo = locks.known(s, t.id)
        assert memo == {}
        memo["sla_fires"] = {("first_response", 0, "breach")}
        assert locks.known(s, t.id) == memo
        with s.begin_nested():  # what the savepoint writes may be rolled back: nothing is taken on trust
            assert locks.known(s, t.id) == {}
            assert not locks.created_here(s, t.id)
        assert locks.known(s, t.id) == {}
    with database.session() as s:  # a ticket locked by a later transaction was not created there
        assert locks.lock(s, t.id) is not None
        assert not locks.created_here(s, t.id)
        assert locks.known(s, t.id) == {}
