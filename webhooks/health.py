"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from connector import metrics, outbox
from connector.inbox import deliveries
from connector.queue import QueueUnavailable
from connector.runtime import Runtime

health = Blueprint("health", __name__)
#: processing latency is summarised over deliveries processed this long ago or less
LATENCY_WINDOW = timedelta(minutes=15)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the database and the queue answer and every background loop of this process is
    running (embedded mode runs the worker, the dispatcher and the ticker here; `connector worker`
    processes run theirs). A loop that is failing but alive is reported, and still ready: it is
    backing off and will go on."""
    rt: Runtime = current_app.extensions["connector"]
    checks: dict[str, str] = {}
    try:
        rt.db.ping()
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        rt.queue.ping()
        checks["queue"] = "ok" if not rt.settings.embedded else "ok (embedded)"
    except QueueUnavailable as exc:
        checks["queue"] = f"unreachable: {type(exc).__name__}"
    loops = {}
    for loop in rt.loops():
        st = loop.status()
        if not st.running:
            checks[f"loop {st.name}"] = "not running"
        loops[st.name] = {
            "running": st.running,
            "failing": st.failing,
            "last_error": st.last_error,
            "last_ok_seconds_ago": st.last_ok_age,
        }
    ready = all(v.startswith("ok") for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks, loops=loops), 200 if ready else 503


@health.get("/metrics")
def prometheus() -> Response:
    rt: Runtime = current_app.extensions["connector"]
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(StoreCollector(rt))
    return Response(generate_latest(metrics.REGISTRY) + generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)


class StoreCollector(Collector):
    """Deliveries by vendor and status, processing latency and queue depth, read when scraped."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily | SummaryMetricFamily]:
        stored = GaugeMetricFamily(
            "connector_deliveries", "Stored deliveries by vendor and status.", labels=["vendor", "status"]
        )
        latency = SummaryMetricFamily(
            "connector_processing_latency_seconds",
            "Received → processed, over deliveries processed in the last 15 minutes.",
            labels=["vendor"],
        )
        store_up = GaugeMetricFamily("connector_store_up", "1 if the database answered the scrape, else 0.")
        intents = GaugeMetricFamily(
            "connector_outbox",
            "Outbound intents (pages, notifications, linked issues) by channel and status.",
            labels=["channel", "status"],
        )
        try:
            with self.rt.db.session() as s:
                counts = deliveries.counts_by_status(s)
                processed = deliveries.processed_since(s, datetime.now(UTC) - LATENCY_WINDOW)
                outbound = outbox.counts_by_status(s)
        except SQLAlchemyError:  # a scrape must still answer while the database is down
            store_up.add_metric([], 0)
        else:
            store_up.add_metric([], 1)
            for vendor, status, n in counts:
                stored.add_metric([vendor, status], n)
            for channel, status, n in outbound:
                intents.add_metric([channel, status], n)
            per_vendor: dict[str, list[float]] = {}
            for p in processed:
                per_vendor.setdefault(p.vendor, []).append(p.seconds)
            for vendor, values in sorted(per_vendor.items()):
                latency.add_metric([vendor], count_value=len(values), sum_value=sum(values))
            yield stored
            yield latency
            yield intents
        yield store_up
        running = GaugeMetricFamily("connector_loop_running", "1 if the background loop is running.", labels=["loop"])
        failing = GaugeMetricFamily("connector_loop_failing", "Consecutive failures of the loop.", labels=["loop"])
        for loop in self.rt.loops():
            st = loop.status()
            running.add_metric([st.name], 1 if st.running else 0)
            failing.add_metric([st.name], st.failing)
        yield running
        yield failing
        depth = GaugeMetricFamily("connector_queue_depth", "Jobs waiting in the queue.")
        up = GaugeMetricFamily("connector_queue_up", "1 if the queue answered the scrape, else 0.")
        try:
            depth.add_metric([], self.rt.queue.depth())
            up.add_metric([], 1)
            yield depth
        except QueueUnavailable:  # a scrape must still answer while Redis is down
            up.add_metric([], 0)
        yield up
