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
SLA_TICK_SECONDS = 0.5  # how often the sweeper looks for due SLA timers (p99 lateness < 1 s)
#: a delivery that tells of the past and leaves an alarm already due waits this long for the rest of its burst
SLA_SETTLE_SECONDS = 5
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
