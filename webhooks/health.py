"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from connector import metrics
from connector.queue import QueueUnavailable

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@health.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = current_app.extensions["connector"]
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
    ready = all(v.startswith("ok") for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


@health.get("/metrics")
def prometheus():  # type: ignore[no-untyped-def]
    rt = current_app.extensions["connector"]
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(metrics.StoreCollector(rt))
    return Response(generate_latest(metrics.REGISTRY) + generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)
