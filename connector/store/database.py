"""Engine, sessions and the schema's version. SQLite (WAL) by default, PostgreSQL via DATABASE_URL.

The schema changes only on purpose: `upgrade()` (run by `connector db upgrade`, and by the embedded
SQLite mode at start) migrates; everything else calls `require_current()`, which stops with one line
telling the user to run `connector db upgrade`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from connector.errors import SchemaError, StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """One engine and its session factory, shared by the web app, the jobs and the CLI."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._gate = WriterGate() if self.engine.dialect.name == "sqlite" else None
        # called with a session's `info` after it committed (e.g. to enqueue the outbox rows it added);
        # held weakly, so a runtime that is gone leaves no hook behind; a hook must not raise: what it
        # misses, a sweep finds in the database
        self._after_commit: list[weakref.WeakMethod[Callable[[dict[Any, Any]], None]]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error; the after-commit
        hooks run once it committed (outside the SQLite writer gate)."""
        with self._serialized(urgent=False), self.sessions.begin() as s:
            yield s
        if s.info and self._after_commit:
            for ref in list(self._after_commit):
                hook = ref()
                if hook is None:
                    self._after_commit.remove(ref)
                else:
                    hook(s.info)

    def on_commit(self, hook: Callable[[dict[Any, Any]], None]) -> None:
        """Call the bound method `hook` with each committed session's `info` (while its object lives)."""
        self._after_commit.append(weakref.WeakMethod(hook))

    def off_commit(self, hook: Callable[[dict[Any, Any]], None]) -> None:
        self._after_commit = [ref for ref in self._after_commit if ref() not in (None, hook)]

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in a transaction: the webhook path's single insert, which goes first."""
        with self._serialized(urgent=True), self.engine.begin() as conn:
            yield conn

    def acknowledging(self, within: float = 1.0) -> bool:
        """Has an acknowledgement of this process taken the SQLite writer in the last `within` seconds?
        Then work that would hold the writer long (a batch of deliveries) goes in short transactions.
        False elsewhere: PostgreSQL has no single writer."""
        return self._gate is not None and self._gate.urgent_within(within)

    def expect(self, acknowledgements: int) -> None:
        """Note acknowledgements on their way to the SQLite writer (negative: answered): background
        work does not take the writer while any is expected (see `WriterGate`). No-op elsewhere."""
        if self._gate is not None:
            self._gate.expect(acknowledgements)

    @contextmanager
    def _serialized(self, *, urgent: bool) -> Iterator[None]:
        # SQLite has one writer at a time. Threads of one process queue on a gate (a fast hand-off)
        # rather than in SQLite's busy handler, which sleeps in steps of up to 100 ms.
        if self._gate is None:
            yield
        else:
            with self._gate.hold(urgent=urgent):
                yield

    def upgrade(self, revision: str = "head") -> None:
        upgrade(self.engine, revision)

    def schema_revisions(self) -> tuple[frozenset[str], frozenset[str]]:
        """(the revisions the database is at, the revisions this code needs)."""
        needed = frozenset(ScriptDirectory.from_config(alembic_config(self.engine)).get_heads())
        with self.engine.connect() as conn:
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
        return current, needed

    def require_current(self) -> None:
        """Raise SchemaError unless the schema is exactly what this code needs. Changes nothing."""
        current, needed = self.schema_revisions()
        if current != needed:
            at = ", ".join(sorted(current)) or "no schema"
            raise SchemaError(
                f"the database ({self.engine.dialect.name}) is at {at}, this version needs "
                f"{', '.join(sorted(needed))}: run `connector db upgrade`"
            )

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


class WriterGate:
    """One SQLite writer per process at a time, and webhook acknowledgements first: background work
    (the embedded worker, the sweeper, the API) does not take the gate while an acknowledgement is
    waiting for it, so a burst of deliveries is stored and answered before it is processed.
    Re-entrant per thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent = 0
        self._urgent_at = float("-inf")  # when an urgent holder (an acknowledgement) last took the gate

    def expect(self, count: int) -> None:
        """`count` more (or, negative, fewer) acknowledgements coming: they count as waiting for the
        gate from now on (group commit: the deliveries queued behind the writer's current batch)."""
        with self._cond:
            self._urgent += count
            if count < 0:
                self._cond.notify_all()

    def urgent_within(self, seconds: float) -> bool:
        """Did an urgent holder take the gate in the last `seconds`, or is one waiting or expected now?"""
        with self._cond:
            return self._urgent > 0 or time.monotonic() - self._urgent_at < seconds

    @contextmanager
    def hold(self, *, urgent: bool) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                if urgent:
                    self._urgent += 1
                    try:
                        while self._owner is not None:
                            self._cond.wait()
                    finally:
                        self._urgent -= 1
                    self._urgent_at = time.monotonic()
                else:
                    while self._owner is not None or self._urgent:
                        self._cond.wait()
                self._owner = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()


def unavailable(exc: DBAPIError) -> bool:
    """The database cannot be reached, dropped the connection, or is starting or stopping — as opposed
    to refusing what was written."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError | InterfaceError)


def transient(exc: BaseException) -> bool:
    """A failure a later retry can fix: the database unreachable or restarting, a lock wait, a deadlock,
    a serialization failure (all OperationalError), a network error. Anything else — a value the database
    refuses, a bug, a shape no code reads — fails the same way every time."""
    if isinstance(exc, DBAPIError):
        return unavailable(exc)
    return isinstance(exc, StoreUnavailable | ConnectionError | TimeoutError)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # pysqlite's own transaction handling defers BEGIN; take the write lock up front so two
        # writers never deadlock upgrading a read lock (the documented SQLAlchemy recipe).
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip per checkout on the webhook path. A connection that died
    # with a server restart fails its request once (the vendor retries) and the pool replaces it.
    # Bound parameters are payload values (a customer's email): errors never print them.
    return create_engine(
        url,
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_size=10,
        max_overflow=20,
        hide_parameters=True,
        connect_args={"connect_timeout": 5},
    )


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)
