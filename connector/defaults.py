"""Every default in one place (the rq habit): configuration reads these when the environment is silent."""

from __future__ import annotations

DATABASE_URL = "sqlite:///connector.db"
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB → 413 above it
ZENDESK_TIMESTAMP_TOLERANCE_SECONDS = 300
QUEUE_NAME = "connector"
JOB_TIMEOUT_SECONDS = 120
JOB_MAX_ATTEMPTS = 5
RECONCILE_INTERVAL_SECONDS = 30
RECONCILE_STALE_AFTER_SECONDS = 10
#: the most stale deliveries one reconciler round puts back in the inbox (after Redis came back empty)
RECONCILE_MOST_PER_ROUND = 20_000
#: the dispatcher keeps this many processing jobs waiting and leaves the rest of a burst in the inbox
#: as ids; when that many wait it looks again after DISPATCH_FULL_WAIT_SECONDS
DISPATCH_AHEAD = 8
#: the most deliveries one processing job takes (`connector.inbox.batch`): a backlog is processed in
#: transactions of this many, a few statements for all of them (SQLite: not while webhooks come in)
PROCESS_BATCH_MAX = 50
DISPATCH_FULL_WAIT_SECONDS = 0.05
#: embedded mode: the interpreter's switch interval (Python's default 5 ms) in a process whose worker
#: thread shares the interpreter with the web threads (bench/README: half-rate p99 65-77 → 57-62 ms)
EMBEDDED_SWITCH_INTERVAL_SECONDS = 0.0005
SLA_TICK_SECONDS = 0.5  # how often the sweeper looks for due SLA timers (p99 lateness < 1 s)
#: a delivery that tells of the past and leaves an alarm already due waits this long for the rest of its burst
SLA_SETTLE_SECONDS = 5
#: group commit on the acknowledgement path (`connector.store.intake`): the most deliveries one commit
#: holds, and how long a leader waits for more before it writes (0: a batch is whatever waited while
#: the previous commit ran)
INGEST_BATCH_MAX = 64
INGEST_WINDOW_MS = 0.0
#: batches of one web process on their way to PostgreSQL at once: while one waits for its commit's
#: flush the next forms and is sent, so the request threads' work overlaps the flush (SQLite: always 1)
INGEST_WRITERS = 2
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8080
POLICY = "signx"
VENDORS = ("zendesk", "jira", "pagerduty")
DEFAULT_INSTANCE = "default"
# Headers kept with a stored delivery for audit. Nothing else (no Authorization, no cookies).
AUDIT_HEADERS = (
    "content-type",
    "user-agent",
    "x-zendesk-webhook-id",
    "x-zendesk-webhook-invocation-id",
    "x-zendesk-webhook-signature-timestamp",
    "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-retry",
    "x-atlassian-webhook-flow",
    "x-webhook-id",
    "x-webhook-subscription",
    "x-pagerduty-signature",
    "x-zendesk-webhook-signature",
    "x-hub-signature",
)
# The outbox (outbound intents: pages, notifications, linked issues)
OUTBOX_MAX_ATTEMPTS = 8  # deliveries of one intent before it is dead-lettered
OUTBOX_BACKOFF_SECONDS = 5.0  # first wait after a failed attempt; doubles each time (with jitter) …
OUTBOX_BACKOFF_MAX_SECONDS = 1800.0  # … up to this
OUTBOX_CALL_ATTEMPTS = 3  # tries within one job (tenacity) before the intent waits for a later job
OUTBOX_CALL_WAIT_MAX_SECONDS = 5.0  # the longest a job waits in place (a longer Retry-After waits in the database)
OUTBOX_SEQUENCE_WAIT_SECONDS = 2.0  # an intent behind an undelivered one of its sequence looks again this much later
OUTBOX_CLAIM_TIMEOUT_SECONDS = 300  # an intent "sending" this long lost its worker: it is sent again
OUTBOX_REENQUEUE_AFTER_SECONDS = 30  # an intent enqueued this long ago and still pending is enqueued again
OUTBOX_TICK_SECONDS = 0.5
OUTBOUND_TIMEOUT_SECONDS = 10.0  # one HTTP call to a vendor
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com"
PAGERDUTY_EVENTS_PER_MINUTE = 120  # per routing key: "about 120 events per minute"
ZENDESK_UPDATES_PER_MINUTE = 100  # per instance: Update Ticket on lower plans (VENDORS.md)
#: what to set for a channel that has no sender (its intents are recorded as not sent, with this)
CHANNEL_SETUP = {
    "jira": "set JIRA_URL and JIRA_EMAIL + JIRA_API_TOKEN (Cloud) or JIRA_PAT (Server/Data Center)",
    "zendesk": "set ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN",
}
#: the sync reconciliation sweep: how often each worker runs it, and how long a linked issue may go
#: unheard of before it is fetched
SYNC_RECONCILE_SECONDS = 600
SYNC_STALE_SECONDS = 3600
