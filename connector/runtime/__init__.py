"""The runtime: what one process shares — settings, the database, the queue, the adapters and the
mapping engine it was handed, the versioned documents with their caches — and its background threads.
Imports the configuration, the contracts, the store and the queue.

The composition roots (`connector.wiring`, used by the CLI, the app factory and the demo) build the
adapters, the outbound senders and the mapping engine and hand them in; nothing here imports `adapters/`, `mappings/` or
`webhooks/`. Queued jobs take ids and find the runtime with `current()`, so the same job code runs in
the embedded worker thread, in `connector worker` processes and in tests.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from connector import metrics
from connector.config import Settings
from connector.escalation import Acting
from connector.inbound import Adapter
from connector.loops import Loop
from connector.model import MappingEngine, SyncRules
from connector.outbound import Sender, Sent
from connector.outbox import take_new_ids
from connector.queue import Dispatcher, EmbeddedWorker, JobQueue, QueueUnavailable
from connector.runtime.ticker import Duty, Ticker
from connector.store import Database, MappingVersions, PolicyVersions
from connector.store.intake import DeliveryWriter
from connector.store.tables import OutboxItem
from connector.sync import Syncing

#: called with the session, the outbox row just recorded as sent and the vendor's answer
AfterSent = Callable[[Session, OutboxItem, Sent], None]


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        adapters: Mapping[str, Adapter],
        mappings: MappingEngine,
        db: Database | None = None,
        queue: JobQueue | None = None,
        senders: Mapping[str, Sender] | None = None,
        after_sent: Mapping[str, AfterSent] | None = None,
    ):
        self.settings = settings
        self.db = db or Database(settings.database_url)
        if queue is None:
            queue = (
                JobQueue.embedded(settings.queue_name)
                if settings.embedded
                else JobQueue.from_url(settings.redis_url or "", settings.queue_name)
            )
        self.queue = queue
        self.adapters: dict[str, Adapter] = dict(adapters)
        #: outbound senders by channel (pagerduty, notify, jira, ...): a channel without one records
        #: its intents as not sent, with the reason
        self.senders: dict[str, Sender] = dict(senders or {})
        #: by intent kind: what follows in the transaction that records an intent as sent (the linked
        #: Jira issue joins its ticket, and its key goes to the helpdesk)
        self.after_sent: dict[str, AfterSent] = dict(after_sent or {})
        self.db.on_commit(self._enqueue_outbox)
        #: the acknowledgement path's writer: the deliveries waiting at one moment share one commit
        self.intake = DeliveryWriter(
            self.db,
            announce=self._announce_deliveries,
            window=settings.ingest_window_ms / 1000,
            max_batch=settings.ingest_batch_max,
            writers=settings.ingest_writers,
        )
        self.mappings = MappingVersions(mappings)
        self.policies = PolicyVersions(fallback=settings.policy)
        self.embedded_worker: EmbeddedWorker | None = None
        self.ticker: Ticker | None = None
        self.dispatcher: Dispatcher | None = None

    def adapter(self, vendor: str) -> Adapter:
        return self.adapters[vendor]

    def sync_rules(self, s: Session, vendor: str, instance: str = "default") -> SyncRules:
        """How the connector writes to a vendor's instance: its active mapping's `sync` section."""
        return self.mappings.active(s, vendor=vendor, instance=instance).document.sync_rules()

    def acting(self) -> Acting:
        """What the escalation engine needs of this process: the public URL, the channels it can send on
        and the fields the Jira mapping gives a linked issue."""
        return Acting(
            public_url=self.settings.public_url,
            channels=frozenset(self.senders),
            issue_fields=lambda s: self.sync_rules(s, "jira").issue_fields,
            sites={f"{a.vendor}/{a.instance}": a.url for a in self.settings.accounts.values()},
        )

    def syncing(self) -> Syncing:
        """What sync needs of this process: each mapping's sync rules and the channels with a sender."""
        return Syncing(rules=self.sync_rules, channels=frozenset(self.senders))

    def _announce_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """After a commit of the acknowledgement path: the new deliveries' ids into the inbox, one
        command. Stored is enough: when the queue cannot take them, the reconciler enqueues every
        stored, unprocessed delivery once it can."""
        try:
            self.queue.notify_deliveries(delivery_ids)
        except QueueUnavailable as exc:
            metrics.ENQUEUE_FAILURES.inc(len(delivery_ids))
            log.warning(
                "queue unavailable; deliveries stored for the reconciler",
                extra={"deliveries": len(delivery_ids), "error": type(exc).__name__},
            )

    def _enqueue_outbox(self, info: dict[Any, Any]) -> None:
        """After a commit: enqueue the delivery of the outbox rows it added (the sweep finds any missed)."""
        ids = take_new_ids(info)
        try:
            self.queue.enqueue_outbox_many(ids)
        except QueueUnavailable as exc:
            log.warning(
                "outbox items not enqueued; the outbox sweep will",
                extra={"outbox_ids": ids[:20], "count": len(ids), "error": type(exc).__name__},
            )

    def start_embedded_worker(self) -> None:
        """Embedded mode: process jobs in this process, in a thread."""
        if self.embedded_worker is None:
            self.embedded_worker = EmbeddedWorker(self.queue)
            self.embedded_worker.start()

    def start_dispatcher(self) -> None:
        """Turn acknowledged deliveries' inbox ids into RQ jobs, in this process."""
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(self.queue, batch=self.settings.process_batch)
            self.dispatcher.start()

    def start_ticker(self, duties: Sequence[Duty]) -> None:
        """Run periodic duties (the reconciler, the SLA sweeper) in this process."""
        if self.ticker is None:
            self.ticker = Ticker(duties)
            self.ticker.start()

    def loops(self) -> list[Loop]:
        """The background loops this process runs (for `/readyz`)."""
        return [loop for loop in (self.embedded_worker, self.dispatcher, self.ticker) if loop is not None]

    def close_loops(self) -> None:
        """Stop this process's background loops (the database stays open)."""
        for loop in self.loops():
            loop.stop()
        self.dispatcher = self.ticker = self.embedded_worker = None

    def release(self) -> None:
        """Stop this runtime's loops, close its senders and unhook it from the database, which stays
        open (a database shared with other runtimes, as in tests)."""
        self.close_loops()
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if callable(close):
                close()
        self.db.off_commit(self._enqueue_outbox)

    def close(self) -> None:
        self.release()
        self.db.dispose()


log = logging.getLogger(__name__)
_lock = threading.Lock()
_current: Runtime | None = None


def install(rt: Runtime | None) -> Runtime | None:
    """Make `rt` the runtime jobs in this process use; returns the previous one."""
    global _current
    with _lock:
        prev, _current = _current, rt
    return prev


def current() -> Runtime:
    """The runtime installed in this process (by `connector worker`, `connector serve`, the app
    factory or a test). A job cannot build one: only a composition root knows the adapters."""
    with _lock:
        if _current is None:
            raise RuntimeError("no connector runtime in this process: run jobs with `connector worker`")
        return _current


__all__ = ["AfterSent", "Duty", "Runtime", "Ticker", "current", "install"]


def settle_heap() -> None:
    """Once a process has started (modules imported, the runtime built, the policy read): collect, then
    move every object alive now out of the garbage collector's sight. They live as long as the process,
    and a full collection walks every object it tracks: on this machine kind a bare worker's 160,000
    startup objects cost 0.13 s a collection, and under a Monday burst such pauses land inside the SLA
    sweeper's transactions (bench/README.md). What is allocated afterwards is collected as before."""
    gc.collect()
    gc.freeze()
