"""The composition root: the one place of the core that builds the vendor adapters and the mapping
engine and hands them to a runtime, and that starts a process's background duties. The CLI, the app
factory (`webhooks.app`) and the demo build their runtimes here; no other core module imports
`adapters/` or `mappings/` (the import-rule test says so)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from adapters import JiraSite, ZendeskSite, build_adapters, build_senders
from connector import defaults, sync
from connector.config import Settings
from connector.escalation import Acting, fire_signals, followups, settle_many
from connector.inbox.reconciler import reconcile
from connector.inbox.resync import reconcile_links
from connector.outbound import IntentKind
from connector.outbox.delivery import sweep as outbox_sweep
from connector.policy import Policy
from connector.queue import JobQueue
from connector.runtime import Duty, Runtime
from connector.sla.due import sweep
from connector.sla.live import OnFires, RefreshMany
from connector.store import Database
from connector.store.tables import SlaFire
from mappings import Engine


def build_runtime(settings: Settings, *, db: Database | None = None, queue: JobQueue | None = None) -> Runtime:
    """A runtime with the shipped adapters and mapping engine."""
    rt = Runtime(
        settings,
        adapters=build_adapters(zendesk_timestamp_tolerance=settings.zendesk_timestamp_tolerance),
        mappings=Engine(),
        db=db,
        queue=queue,
        senders=build_senders(
            pagerduty_events_url=settings.pagerduty_events_url,
            pagerduty_routing_keys=settings.pagerduty_routing_keys,
            pagerduty_routing_key=settings.pagerduty_routing_key,
            notify_webhooks=settings.notify_webhooks,
            notify_secret=settings.notify_secret,
            timeout=defaults.OUTBOUND_TIMEOUT_SECONDS,
            pagerduty_events_per_minute=settings.pagerduty_events_per_minute,
            jira_sites={
                a.instance: JiraSite(url=a.url, project=a.project, email=a.email, api_token=a.api_token, pat=a.pat)
                for a in settings.accounts.values()
                if a.vendor == "jira"
            },
            zendesk_sites={
                a.instance: ZendeskSite(url=a.url, email=a.email, api_token=a.api_token, setup=a.missing())
                for a in settings.accounts.values()
                if a.vendor == "zendesk"
            },
            zendesk_updates_per_minute=settings.zendesk_updates_per_minute,
        ),
    )
    linked = partial(sync.linked_issue_sent, syncing=rt.syncing())
    rt.after_sent[IntentKind.CREATE_LINKED_ISSUE.value] = linked
    rt.after_sent[IntentKind.CREATE_POSTMORTEM_TASK.value] = linked
    return rt


def periodic_duties(rt: Runtime) -> list[Duty]:
    """What a process runs beside its work, all reading the database: the reconciler, the SLA sweeper
    (whose fires go to the escalation engine), the follow-up sweep, the outbox sweep and the sync
    reconciliation sweep."""
    return [
        Duty("reconcile", rt.settings.reconcile_interval, lambda: reconcile(rt)),
        Duty("sla sweep", defaults.SLA_TICK_SECONDS, lambda: sweep(rt.db, rt.policies, on_fires=escalate_fires(rt))),
        Duty(
            "followups",
            defaults.SLA_TICK_SECONDS * 4,
            lambda: followups.sweep(rt.db, rt.policies, acting=acting(rt)),
        ),
        Duty("outbox", defaults.OUTBOX_TICK_SECONDS, lambda: outbox_sweep(rt)),
        *(
            [Duty("sync reconcile", float(rt.settings.sync_reconcile_seconds), lambda: resync(rt))]
            if rt.settings.sync_reconcile_seconds > 0
            else []
        ),
    ]


def resync(rt: Runtime) -> int:
    """One sync reconciliation sweep with this process's settings: how many repairs it made."""
    return reconcile_links(rt, stale_after=timedelta(seconds=rt.settings.sync_stale_seconds)).repaired


def escalate_fires(rt: Runtime) -> OnFires:
    """The SLA sweeper's fires → the escalation engine (in the chunk's savepoint); a decision that
    retargets clocks has them refreshed the sweeper's way, for all such tickets of the chunk at once."""

    def on_fires(
        s: Session, policy: Policy, fired: Mapping[int, list[SlaFire]], now: datetime, again: RefreshMany
    ) -> object:
        signals = {ticket_id: fire_signals(fires) for ticket_id, fires in fired.items()}
        return settle_many(s, policy, signals, now, refresh=again, acting=acting(rt))

    return on_fires


def start_embedded(rt: Runtime) -> None:
    """Embedded mode (no Redis): the worker, the dispatcher and the periodic duties in this process,
    after enqueueing what an earlier run stored but did not finish. The worker shares the interpreter
    with the web threads: a shorter switch interval hands it to a request thread back from I/O sooner."""
    sys.setswitchinterval(defaults.EMBEDDED_SWITCH_INTERVAL_SECONDS)
    rt.start_embedded_worker()
    rt.start_dispatcher()
    reconcile(rt, stale_after=0)
    rt.start_ticker(periodic_duties(rt))


def start_worker_duties(rt: Runtime) -> None:
    """`connector worker`: the dispatcher and the periodic duties beside the RQ worker loop."""
    rt.start_dispatcher()
    rt.start_ticker(periodic_duties(rt))


def acting(rt: Runtime) -> Acting:
    """What the escalation engine needs of this process (see `Runtime.acting`)."""
    return rt.acting()
