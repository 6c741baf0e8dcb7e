"""Prometheus metrics. Counters of this process, plus gauges read from the database and the queue
at scrape time, so they are right however many web and worker processes run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from connector.queue import QueueUnavailable
from connector.tables import Delivery

if TYPE_CHECKING:
    from connector.runtime import Runtime

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
JOBS = Counter(
    "connector_jobs_total", "Jobs run by this process, by job and outcome.", ["job", "outcome"], registry=REGISTRY
)


class StoreCollector(Collector):
    """Deliveries by vendor and status, processing latency and queue depth, read when scraped."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily | SummaryMetricFamily]:
        stored = GaugeMetricFamily("connector_deliveries", "Stored deliveries by vendor and status.",
                                   labels=["vendor", "status"])
        latency = SummaryMetricFamily(
            "connector_processing_latency_seconds",
            "Received → processed, over deliveries processed in the last 15 minutes.",
            labels=["vendor"],
        )
        since = datetime.now(UTC) - timedelta(minutes=15)
        with self.rt.db.session() as s:
            for vendor, status, n in s.execute(
                select(Delivery.vendor, Delivery.status, func.count()).group_by(Delivery.vendor, Delivery.status)
            ):
                stored.add_metric([vendor, status], n)
            rows = s.execute(
                select(Delivery.vendor, Delivery.received_at, Delivery.processed_at).where(
                    Delivery.status == "processed", Delivery.processed_at >= since)
            ).all()
        per_vendor: dict[str, list[float]] = {}
        for vendor, received, processed in rows:
            per_vendor.setdefault(vendor, []).append((processed - received).total_seconds())
        for vendor, values in sorted(per_vendor.items()):
            latency.add_metric([vendor], count_value=len(values), sum_value=sum(values))
        yield stored
        yield latency
        depth = GaugeMetricFamily("connector_queue_depth", "Jobs waiting in the queue.")
        up = GaugeMetricFamily("connector_queue_up", "1 if the queue answered the scrape, else 0.")
        try:
            depth.add_metric([], self.rt.queue.depth())
            up.add_metric([], 1)
            yield depth
        except QueueUnavailable:  # a scrape must still answer while Redis is down
            up.add_metric([], 0)
        yield up
