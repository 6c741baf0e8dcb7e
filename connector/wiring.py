"""The composition root: the one place of the core that builds the vendor adapters and the mapping
engine and hands them to a runtime, and that starts a process's background duties. The CLI, the app
factory (`webhooks.app`) and the demo build their runtimes here; no other core module imports
`adapters/` or `mappings/` (the import-rule test says so)."""

from __future__ import annotations

from adapters import build_adapters
from connector import defaults
from connector.config import Settings
from connector.inbox.reconciler import reconcile
from connector.queue import JobQueue
from connector.runtime import Duty, Runtime
from connector.sla.live import sweep
from connector.store import Database
from mappings import Engine


def build_runtime(settings: Settings, *, db: Database | None = None, queue: JobQueue | None = None) -> Runtime:
    """A runtime with the shipped adapters and mapping engine."""
    return Runtime(
        settings,
        adapters=build_adapters(zendesk_timestamp_tolerance=settings.zendesk_timestamp_tolerance),
        mappings=Engine(),
        db=db,
        queue=queue,
    )


def periodic_duties(rt: Runtime) -> list[Duty]:
    """What a process runs beside its work: the reconciler and the SLA sweeper (both read the database)."""
    return [
        Duty("reconcile", rt.settings.reconcile_interval, lambda: reconcile(rt)),
        Duty("sla sweep", defaults.SLA_TICK_SECONDS, lambda: sweep(rt.db, rt.policies)),
    ]


def start_embedded(rt: Runtime) -> None:
    """Embedded mode (no Redis): the worker, the dispatcher and the periodic duties in this process,
    after enqueueing what an earlier run stored but did not finish."""
    rt.start_embedded_worker()
    rt.start_dispatcher()
    reconcile(rt, stale_after=0)
    rt.start_ticker(periodic_duties(rt))


def start_worker_duties(rt: Runtime) -> None:
    """`connector worker`: the dispatcher and the periodic duties beside the RQ worker loop."""
    rt.start_dispatcher()
    rt.start_ticker(periodic_duties(rt))
