"""The two ways a fault test reaches the connector, behind one interface:

- `InProcess`: the Flask app and a real RQ worker in burst mode in this process (embedded queue),
  on a SQLite file or a database of the private PostgreSQL — the fast CI variant;
- `Deployed`: the app as production runs it (`AppStack`: gunicorn `webhooks.wsgi:app`, and on
  PostgreSQL a private Redis and a `connector worker`; on SQLite the embedded mode in one gunicorn
  worker) — the full variant.

Both post a signed `Outgoing` and answer a `Reply`, `settle()` until nothing waits to be processed,
and report the errors the app logged.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any, Protocol

from flask import Flask, got_request_exception

from connector.config import Settings
from connector.queue import JobQueue
from connector.runtime import Runtime, install
from connector.store import Database
from connector.wiring import build_runtime
from tests.conftest import SECRETS_ENV, drain
from tests.faults.ledger import Ledger
from tests.faults.services import AppStack, summarize_errors
from tests.faults.traffic import Client, Outgoing, Reply
from webhooks.app import create_app


class Target(Protocol):
    name: str
    ledger: Ledger

    def post(self, out: Outgoing) -> Reply: ...

    def settle(self, timeout: float = 120.0) -> bool: ...

    def errors(self) -> list[str]: ...

    def close(self) -> None: ...


class _Collect(logging.Handler):
    """Error records of this process (the app's, the jobs'), counted by message, error and place."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        extra = " ".join(str(getattr(record, k)) for k in ("error", "where") if getattr(record, k, None))
        exc = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = f"{type(record.exc_info[1]).__name__}: {str(record.exc_info[1])[:120]}"
        self.seen[f"{record.name}: {record.getMessage()[:160]} {extra} {exc}".strip()] += 1


class InProcess:
    def __init__(self, name: str, database_url: str):
        self.name = name
        settings = Settings.from_env({**SECRETS_ENV, "DATABASE_URL": database_url})
        self.db = Database(settings.database_url)
        self.db.upgrade()
        self.rt: Runtime = build_runtime(settings, db=self.db, queue=JobQueue.embedded(settings.queue_name))
        # create_app installs its runtime as the process's current one, which jobs use; this target
        # installs it only while its own jobs run (two targets may live in one test)
        prev = install(self.rt)
        self.app: Flask = create_app(self.rt, start_worker=False)
        install(prev)
        self._collect = _Collect()
        logging.getLogger().addHandler(self._collect)
        got_request_exception.connect(self._on_exception, self.app)
        self.ledger = Ledger(database_url)
        self._local = threading.local()

    def _on_exception(self, sender: Any, exception: BaseException, **_: Any) -> None:
        self._collect.seen[f"unhandled in request: {type(exception).__name__}: {str(exception)[:120]}"] += 1

    def post(self, out: Outgoing) -> Reply:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self.app.test_client()
        r = client.post(out.path, data=out.body, headers=out.headers)
        body = r.get_json(silent=True)
        return Reply(
            r.status_code, {k.lower(): v for k, v in r.headers.items()}, body if body is not None else r.data[:200]
        )

    def settle(self, timeout: float = 120.0) -> bool:
        """Run the queued jobs with a real RQ worker in burst mode until none is left (at most 20
        rounds: `timeout` does not apply in-process)."""
        prev = install(self.rt)
        try:
            for _ in range(20):
                drain(self.rt)
                if self.rt.queue.depth() == 0 and self.ledger.settled(allow_failed=True):
                    return True
            return False
        finally:
            install(prev)

    def errors(self) -> list[str]:
        return [f"{n}× {text}" for text, n in self._collect.seen.most_common(8)]

    def close(self) -> None:
        logging.getLogger().removeHandler(self._collect)
        got_request_exception.disconnect(self._on_exception, self.app)
        self.ledger.close()
        self.rt.close()


class Deployed:
    def __init__(self, name: str, stack: AppStack):
        self.name, self.stack = name, stack
        self.ledger = Ledger(stack.database_url)
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()

    def client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Client(self.stack.port)
            with self._lock:
                self._clients.append(client)
        return client

    def post(self, out: Outgoing) -> Reply:
        return self.client().post(out)

    def settle(self, timeout: float = 120.0) -> bool:
        return self.ledger.wait(lambda led: led.settled(allow_failed=True), timeout)

    def errors(self) -> list[str]:
        out = self.stack.error_summary()
        for w in self.stack.workers:
            out += [f"worker: {line}" for line in summarize_errors(w.log, 4)]
        return out

    def close(self) -> None:
        for c in self._clients:
            c.close()
        self.ledger.close()
