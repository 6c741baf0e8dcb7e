"""Prometheus metrics counted by this process. The gauges read from the database and the queue at
scrape time (right however many processes run) are collected by the web layer's `/metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

DELIVERIES = Counter(
    "connector_webhook_requests_total",
    "Webhook requests answered by this process, by vendor and outcome "
    "(accepted, duplicate, ignored, bad_request, unauthorized, too_large, unsupported_media_type).",
    ["vendor", "outcome"],
    registry=REGISTRY,
)
ENQUEUE_FAILURES = Counter(
    "connector_enqueue_failures_total",
    "Deliveries stored but not enqueued because the queue was unreachable (the reconciler catches up).",
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "connector_webhook_ack_seconds",
    "Time from request start to acknowledgement, by vendor.",
    ["vendor"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
INGEST_BATCH_SIZE = Histogram(
    "connector_ingest_batch_size",
    "Deliveries stored by one commit of the acknowledgement path (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
    registry=REGISTRY,
)
JOBS = Counter(
    "connector_jobs_total", "Jobs run by this process, by job and outcome.", ["job", "outcome"], registry=REGISTRY
)
