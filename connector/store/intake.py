"""Group commit for the acknowledgement path: the deliveries of one process that wait to be stored at
the same moment share one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` and one COMMIT.

A commit costs a WAL flush (PostgreSQL) or a write-lock round (SQLite) whatever it holds, so paying
it once per request caps a web process at one flush per request. Here the first request that finds
no write in progress leads: it takes every delivery waiting (up to `max_batch`), stores them in one
transaction, answers each with its own id or duplicate, and hands the lead to the first delivery
that arrived meanwhile. Under light load a batch is one delivery and nothing waits; under load the
batch grows with the time a commit takes (leader/follower group commit, as databases do it for
their own log). `window` adds a deliberate wait before a leader takes its batch (default 0). On
PostgreSQL up to `writers` batches (default 2) are on their way at once: while one waits for its
commit's flush the next forms and is sent, so the request threads' work overlaps the flush; a
delivery waits only while all of them are.

The promises stay those of one insert per request:
- a delivery is answered only after the COMMIT that holds it returned: every 202 is a durable row;
- a failure the database reports for the whole batch (down, dropped connection, timeout) reaches
  every delivery in it as `StoreUnavailable` (a 503: the vendor sends again); any other error of a
  batch is retried row by row, so one row the database refuses fails only its own request;
- duplicates are found as before: a row not inserted (its delivery id or signed content is
  stored, possibly by a delivery earlier in the same batch) is answered with the stored row's id.

After the commit, and after the batch is answered, its leader announces the ids of the new rows to
process with one call (`announce`: the runtime's inbox push to Redis); an announcement that fails
loses nothing — the rows are stored, and the reconciler enqueues every stored, unprocessed delivery.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import RawCursor
from sqlalchemy import Dialect, PoolProxiedConnection, Table
from sqlalchemy.dialects.postgresql.psycopg import dialect as pg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as sqlite_dialect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from connector import metrics
from connector.errors import StoreUnavailable
from connector.logs import where
from connector.store.database import Database, unavailable
from connector.store.tables import Delivery, DeliveryStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    """One delivery row to insert."""

    vendor: str
    instance: str
    key: str
    event_type: str | None
    headers: dict[str, str]
    body: bytes
    digest: str
    content: str
    status: DeliveryStatus
    outcome: str | None = None
    about: tuple[str | None, datetime | None] = (None, None)

    def params(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "instance": self.instance,
            "dedupe_key": self.key,
            "event_type": self.event_type,
            "headers": self.headers,
            "body": self.body,
            "body_sha256": self.digest,
            "content_sha256": self.content,
            "status": self.status.value,
            "outcome": self.outcome,
            "received_at": datetime.now(UTC),
            "attempts": 0,
            "object_key": self.about[0],
            "event_at": self.about[1],
        }


@dataclass(frozen=True)
class Stored:
    delivery_id: int
    created: bool
    same_body: bool  # the stored row (new or earlier) holds this very body
    rejected: bool = False  # the earlier row was kept as rejected (unreadable)


@dataclass(eq=False)
class _Waiting:
    """One delivery waiting for its batch's commit (or for the lead)."""

    row: Row
    params: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    stored: Stored | None = None
    error: BaseException | None = None
    lead: bool = False


_TABLE = Delivery.__table__
assert isinstance(_TABLE, Table)
_NAME = Delivery.__tablename__
_COLUMNS = tuple(Row("", "", "", None, {}, b"", "", "", DeliveryStatus.RECEIVED).params())


class _Statements:
    """The acknowledgement path's SQL for one dialect, run on the driver's own cursor: the batch's
    rows in one `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING`, and the lookup of the
    stored row a conflicting one matched. The text for n rows is built once and the database
    prepares it once per connection; values are cleaned by the columns' own types
    (`connector.store.types`), so a row holds what the ORM would have written."""

    def __init__(self, dialect: Dialect, placeholder: Callable[[int], str]):
        self.dialect = dialect
        self.placeholder = placeholder
        self.cleaners = [_TABLE.c[name].type._cached_bind_processor(dialect) for name in _COLUMNS]
        p = placeholder
        self.lookup = (
            f"SELECT id, body_sha256, status FROM {_NAME} WHERE vendor = {p(1)} AND instance = {p(2)} "
            f"AND (dedupe_key = {p(3)} OR content_sha256 = {p(4)}) ORDER BY id LIMIT 1"
        )

    @functools.lru_cache(maxsize=256)  # noqa: B019 — two instances, one per dialect, for the process's life
    def insert(self, rows: int) -> str:
        width, p = len(_COLUMNS), self.placeholder
        values = ", ".join("(" + ", ".join(p(r * width + c + 1) for c in range(width)) + ")" for r in range(rows))
        return (
            f"INSERT INTO {_NAME} ({', '.join(_COLUMNS)}) VALUES {values} "
            "ON CONFLICT DO NOTHING RETURNING id, vendor, instance, dedupe_key, content_sha256"
        )

    def values(self, params: dict[str, Any]) -> list[Any]:
        return [
            value if clean is None or value is None else clean(value)
            for clean, value in zip(self.cleaners, (params[name] for name in _COLUMNS), strict=True)
        ]


# No conflict target: a row matching a stored one by delivery id or by signed content is not inserted.
# PostgreSQL's placeholders are $n (psycopg's RawCursor passes the text as it is: no parsing of a long
# statement per batch); SQLite's are ?.
_STATEMENTS = {
    "postgresql": _Statements(pg_dialect(), lambda n: f"${n}"),
    "sqlite": _Statements(sqlite_dialect(), lambda n: "?"),
}
_KEY = tuple(_COLUMNS.index(c) for c in ("vendor", "instance", "dedupe_key", "content_sha256"))
#: the most pooled connections a batch tries after a dropped one (the pool's size and overflow: 30)
_MOST_RETRIES = 30


class DeliveryWriter:
    """Stores deliveries for the threads of one process, a batch per commit. Thread-safe; one per
    database per process (the runtime holds it)."""

    def __init__(
        self,
        db: Database,
        *,
        announce: Callable[[Sequence[int]], None] | None = None,
        window: float = 0.0,
        max_batch: int = 64,
        writers: int = 1,
    ):
        self.db = db
        self.announce = announce
        self.window = window
        self.max_batch = max(1, max_batch)
        # SQLite has one writer whatever we do: a second batch would only wait for the first's lock.
        self.writers = 1 if db.is_sqlite else max(1, writers)
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []  # not leaders: a leader's own delivery heads its batch
        self._leaders = 0  # invariant: deliveries wait only while `writers` batches are on their way

    def store(self, row: Row) -> Stored:
        """Insert the delivery (in the next batch); on a duplicate return the stored one. Returns once
        the row is committed. Raises StoreUnavailable when the database cannot take it."""
        me = _Waiting(row, row.params())
        self.db.expect(1)  # SQLite: background work lets the acknowledgements on their way go first
        with self._lock:
            lead = self._leaders < self.writers
            if lead:
                self._leaders += 1
            else:
                self._waiting.append(me)
        if not lead:
            me.done.wait()  # a leader always answers its batch and hands the lead on (see _lead)
            lead = me.lead
        if lead:
            self._lead(me)
        if me.error is not None:
            raise me.error
        assert me.stored is not None
        return me.stored

    def _lead(self, me: _Waiting) -> None:
        """Store one batch (this thread's delivery first, then those waiting), answer it, pass the
        lead on to the first delivery still waiting."""
        if self.window > 0:
            deadline = time.monotonic() + self.window
            while len(self._waiting) < self.max_batch - 1 and time.monotonic() < deadline:
                time.sleep(min(0.0005, self.window))
        with self._lock:
            batch = [me, *self._waiting[: self.max_batch - 1]]
            del self._waiting[: self.max_batch - 1]
        try:
            self._write(batch)
        except BaseException as exc:  # nothing a batch holds may leave its requests waiting forever
            log.error("storing a batch of deliveries failed", extra={"error": type(exc).__name__, "where": where(exc)})
            for w in batch:
                if w.stored is None and w.error is None:
                    w.error = exc if isinstance(exc, StoreUnavailable) else _unavailable(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self.db.expect(-len(batch))
            with self._lock:
                successor = self._waiting.pop(0) if self._waiting else None
                if successor is not None:
                    successor.lead = True  # the number of leaders stays: this one hands its place on
                else:
                    self._leaders -= 1
            for w in batch:
                w.done.set()
            if successor is not None:
                successor.done.set()
        # Once the batch is answered (stored is enough: the reconciler enqueues what an announcement
        # missed), so only the leader's own request waits for the inbox push — and its answer stands
        # whatever the push does: its row is committed.
        try:
            self._announce(batch)
        except Exception as exc:
            log.error(
                "announcing stored deliveries failed; the reconciler enqueues them",
                extra={"deliveries": len(batch), "error": type(exc).__name__, "where": where(exc)},
            )

    def _write(self, batch: list[_Waiting]) -> None:
        metrics.INGEST_BATCH_SIZE.observe(len(batch))
        try:
            answers = self._transaction(batch)
        except StoreUnavailable as exc:
            for w in batch:
                w.error = StoreUnavailable(exc.message)
            return
        except DBAPIError as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            # An error of the batch that is not the database being unavailable (a value one row holds
            # that the database refuses): each row on its own, so only that row's request fails.
            log.warning("batch insert failed; storing its rows one by one", extra={"error": type(exc).__name__})
            for w in batch:
                try:
                    w.stored = self._transaction([w])[0]
                except (StoreUnavailable, DBAPIError) as one:
                    w.error = one
            return
        for w, stored in zip(batch, answers, strict=True):
            w.stored = stored

    def _transaction(self, batch: list[_Waiting]) -> list[Stored]:
        """The batch stored and committed; again on a connection the database dropped (a restart).
        StoreUnavailable when the database cannot take it; other database errors as they are.

        After a restart every connection the pool holds was dropped (with two writers, and the pool's
        other users, that is more than one): each fails at once and is invalidated, so the batch is
        tried again while the pool may still hold one, and once more on a new connection."""
        attempt = 0
        while True:
            attempt += 1
            try:
                if self.db.is_sqlite:
                    with self.db.transaction() as conn:  # BEGIN IMMEDIATE, behind the process's writer gate
                        return self._insert(_Driver(conn.connection, conn.dialect), batch)
                # PostgreSQL: one statement in autocommit is its own transaction — one round trip for
                # the batch (no BEGIN, no COMMIT), durable when it returns (synchronous_commit stays on).
                pooled = self.db.engine.raw_connection()
                try:
                    with _autocommit(pooled, self.db.engine.dialect):
                        return self._insert(_Driver(pooled, self.db.engine.dialect), batch)
                finally:
                    pooled.close()  # back to the pool (or discarded, if invalidated)
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt <= self._pooled() + 1:
                    continue
                if unavailable(exc):
                    raise StoreUnavailable(f"database unavailable ({type(exc.orig).__name__})") from exc
                raise
            except SQLAlchemyError as exc:  # e.g. no pooled connection free in time
                raise StoreUnavailable(f"database error ({type(exc).__name__})") from exc

    def _pooled(self) -> int:
        """How many connections wait in the pool (each may have been dropped with the rest)."""
        checkedin = getattr(self.db.engine.pool, "checkedin", None)
        return min(int(checkedin()), _MOST_RETRIES) if callable(checkedin) else 0

    def _insert(self, conn: _Driver, batch: list[_Waiting]) -> list[Stored]:
        """The batch's rows in one statement, then the stored row of each one not inserted."""
        sql = _STATEMENTS[conn.dialect.name]
        values = [sql.values(w.params) for w in batch]
        rows = conn.run(sql.insert(len(batch)), [v for row in values for v in row])
        # The order of RETURNING rows is not the order of the rows sent: match them by what identifies a row.
        created = {(v, i, k, c): id_ for id_, v, i, k, c in rows}
        answers: list[Stored] = []
        for w, row in zip(batch, values, strict=True):
            key = tuple(row[i] for i in _KEY)
            new_id = created.pop(key, None)
            if new_id is not None:
                answers.append(Stored(new_id, True, True))
                continue
            found = conn.run(sql.lookup, list(key))
            if not found:
                raise StoreUnavailable(f"delivery {w.row.vendor}/{w.row.instance}/{w.row.key} conflicted but is gone")
            id_, digest, status = found[0]
            answers.append(Stored(id_, False, digest == w.row.digest, status == DeliveryStatus.REJECTED.value))
        return answers

    def _announce(self, batch: list[_Waiting]) -> None:
        ids = [
            w.stored.delivery_id
            for w in batch
            if w.stored is not None and w.stored.created and w.row.status is DeliveryStatus.RECEIVED
        ]
        if ids and self.announce is not None:
            self.announce(ids)


@dataclass(frozen=True)
class _Driver:
    """A pooled connection used through the driver's own cursor (no SQLAlchemy statement layer)."""

    pooled: PoolProxiedConnection
    dialect: Dialect

    def run(self, sql: str, params: list[Any]) -> list[Any]:
        """`sql` with `params`; the driver's errors raised as SQLAlchemy's (`DBAPIError` and its kinds,
        the connection invalidated when it is gone), as a statement run by SQLAlchemy would be."""
        driver: Any = self.pooled.driver_connection
        dbapi = self.dialect.loaded_dbapi
        cursor: Any = RawCursor(driver) if self.dialect.name == "postgresql" else driver.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        except dbapi.Error as exc:
            gone = self.dialect.is_disconnect(exc, self.pooled.dbapi_connection, cursor)
            if gone:
                self.pooled.invalidate(exc)
            raise DBAPIError.instance(
                sql, None, exc, dbapi.Error, hide_parameters=True, connection_invalidated=gone, dialect=self.dialect
            ) from exc
        finally:
            cursor.close()


@contextmanager
def _autocommit(pooled: PoolProxiedConnection, dialect: Dialect) -> Iterator[None]:
    """The psycopg connection in autocommit for the block, then as the pool expects it back. A
    connection that cannot even be switched (closed under us) is invalidated, and the error raised as
    SQLAlchemy's, like a failed statement's."""
    driver: Any = pooled.driver_connection
    try:
        driver.autocommit = True
    except dialect.loaded_dbapi.Error as exc:
        pooled.invalidate(exc)
        raise DBAPIError.instance(
            "SET autocommit", None, exc, dialect.loaded_dbapi.Error, connection_invalidated=True, dialect=dialect
        ) from exc
    try:
        yield
    finally:
        if not driver.closed:
            driver.autocommit = False


def _unavailable(exc: BaseException) -> StoreUnavailable:
    error = StoreUnavailable(f"delivery not stored ({type(exc).__name__})")
    error.__cause__ = exc
    return error
